fn main() {
    eprintln!("bench load: not written yet");
}
