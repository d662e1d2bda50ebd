fn main() {
    eprintln!("bench gemm: not written yet");
}
