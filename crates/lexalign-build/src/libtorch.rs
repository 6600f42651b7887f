//! Where libtorch is (shared by this crate's own build script and its library).

use std::path::PathBuf;

pub const SETUP_HINT: &str =
    "run `cargo xtask setup` first (it installs libtorch from the PyPI torch wheel \
into the cache and points LIBTORCH at it), or set LIBTORCH to a libtorch/torch folder";

/// The libtorch folder (the wheel's `torch/` folder, holding `lib/` and `include/`).
pub fn libtorch_dir() -> Result<PathBuf, String> {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    let raw =
        std::env::var_os("LIBTORCH").ok_or_else(|| format!("LIBTORCH is not set: {SETUP_HINT}"))?;
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
