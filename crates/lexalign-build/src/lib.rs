//! Helper for the `build.rs` of every package that links libtorch through tch.
//!
//! Why: torch-sys links libtorch dynamically but embeds no search path, so binaries would need
//! `LD_LIBRARY_PATH`. Cargo does not propagate `rustc-link-arg` from a library to its dependents,
//! so each linking package calls [`link_torch`] from its own build script.

use std::path::{Path, PathBuf};

const SETUP_HINT: &str = "run `cargo xtask setup` first (it installs libtorch from the PyPI torch wheel \
into the cache and points LIBTORCH at it), or set LIBTORCH to a libtorch/torch folder";

/// The libtorch folder (the wheel's `torch/` folder, holding `lib/` and `include/`).
pub fn libtorch_dir() -> Result<PathBuf, String> {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    let raw = std::env::var_os("LIBTORCH")
        .ok_or_else(|| format!("LIBTORCH is not set: {SETUP_HINT}"))?;
    let dir = PathBuf::from(raw);
    let lib = dir.join("lib");
    if !lib.join("libtorch_cpu.so").exists() && !lib.join("libtorch_cpu.dylib").exists() {
        return Err(format!(
            "libtorch was not found at LIBTORCH={} (no lib/libtorch_cpu.so there): {SETUP_HINT}",
            dir.display()
        ));
    }
    // Resolve the `.libtorch` symlink so the rpath survives a moved or deleted link.
    Ok(dir.canonicalize().unwrap_or(dir))
}

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
