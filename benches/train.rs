fn main() {
    eprintln!("bench train: not written yet");
}
