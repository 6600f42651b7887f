//! The tch targets (`--features tch`) link libtorch: give their binary the run-path to it.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_TCH").is_some() {
        lexalign_build::link_torch();
    }
}
