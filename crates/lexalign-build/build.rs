//! Fails the build in its first seconds, with one sentence saying what to do, when libtorch is
//! missing. Every tch-linking package depends on this crate, and this script runs long before
//! torch-sys would fail with a wall of C++ compiler errors.

#[path = "src/libtorch.rs"]
mod libtorch;

fn main() {
    match libtorch::libtorch_dir() {
        Ok(dir) => println!("cargo:rerun-if-changed={}", dir.join("lib").display()),
        Err(msg) => {
            eprintln!("\nerror: {msg}\n");
            std::process::exit(1);
        }
    }
}
