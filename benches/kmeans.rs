fn main() {
    eprintln!("bench kmeans: not written yet");
}
