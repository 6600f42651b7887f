//! Helper for the `build.rs` of every package that links libtorch through tch.
//!
//! Why: torch-sys links libtorch dynamically but embeds no search path, so binaries would need
//! `LD_LIBRARY_PATH`. Cargo does not propagate `rustc-link-arg` from a library to its dependents,
//! so each linking package calls [`link_torch`] from its own build script.

use std::path::Path;

mod libtorch;
pub use libtorch::{libtorch_dir, SETUP_HINT};

/// Emit the rpath to libtorch's `lib/` for this package's binaries, tests and examples.
/// Panics (failing the build) with a sentence saying what to do when libtorch is missing.
pub fn link_torch() {
    let dir = match libtorch_dir() {
        Ok(dir) => dir,
        Err(msg) => {
            // A panic message is what cargo shows first for a failed build script.
            eprintln!("error: {msg}");
            panic!("{msg}");
        }
    };
    let lib = dir.join("lib");
    emit_rpath(&lib);
    println!("cargo:rustc-env=LEXALIGN_LIBTORCH_LIB={}", lib.display());
}

fn emit_rpath(lib: &Path) {
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    // Newer linkers default to RUNPATH, which is not used for the dependencies of libtorch itself
    // (libc10.so, libgomp); DT_RPATH is, so ask for the old tag.
    println!("cargo:rustc-link-arg=-Wl,--disable-new-dtags");
}
