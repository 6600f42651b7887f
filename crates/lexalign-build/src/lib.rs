//! Helper for the `build.rs` of every package that links libtorch through tch.
//!
//! Why: torch-sys links libtorch dynamically but embeds no search path, so binaries would need
//! `LD_LIBRARY_PATH`. Cargo does not propagate `rustc-link-arg` from a library to its dependents,
//! so each linking package calls [`link_torch`] from its own build script.

use std::path::Path;

mod git;
mod libtorch;
pub use git::emit_git_commit;
pub use libtorch::{libtorch_dir, SETUP_HINT};

/// Emit the run-path (DT_RUNPATH) to libtorch's `lib/` for this package's binaries, tests and examples.
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
    for arg in rpath_link_args(lib) {
        println!("cargo:rustc-link-arg={arg}");
    }
}

/// The linker arguments that embed libtorch's `lib/` as the binary's search path.
///
/// Why RUNPATH (`--enable-new-dtags`) and not DT_RPATH: the loader searches DT_RPATH *before*
/// `LD_LIBRARY_PATH`, so a binary built against the set-up venv could never be pointed at another
/// machine's full torch (with cuBLAS, cuDNN, ...). DT_RUNPATH is searched *after*
/// `LD_LIBRARY_PATH`. RUNPATH is not inherited by the libraries a library needs, but the torch
/// wheel's own libraries carry `DT_RPATH=$ORIGIN:$ORIGIN/../../nvidia/...`, so libc10.so, libgomp
/// and the CUDA libraries are still found next to libtorch; and the `dlopen("libtorch_cuda.so")`
/// in lexalign-model runs from the executable, whose RUNPATH dlopen honours.
pub fn rpath_link_args(lib: &Path) -> Vec<String> {
    vec![
        format!("-Wl,-rpath,{}", lib.display()),
        "-Wl,--enable-new-dtags".to_string(),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn runpath_not_rpath() {
        let args = super::rpath_link_args(std::path::Path::new("/opt/torch/lib"));
        assert_eq!(args[0], "-Wl,-rpath,/opt/torch/lib");
        assert!(args.contains(&"-Wl,--enable-new-dtags".to_string()));
        assert!(!args.iter().any(|a| a.contains("disable-new-dtags")));
    }
}
