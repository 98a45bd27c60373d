fn main() {
    eprintln!("slabd: server not wired yet");
    std::process::exit(1);
}
