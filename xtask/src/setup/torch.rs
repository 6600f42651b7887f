//! libtorch: the pinned PyPI torch 2.11.0 wheel (and the CUDA runtime wheels) installed
//! `--no-deps --require-hashes` into the cache venv, `.libtorch` pointed at it.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use super::python::pip;
use crate::paths::{self, Paths};
use crate::util::{self, disp};

const TORCH_STAMP: &str = ".lexalign-libtorch.sha256";

pub(super) fn ensure_torch(paths: &Paths, vpy: &Path) -> Result<PathBuf> {
    let req = paths.libtorch_requirements();
    let req_text = std::fs::read(&req).with_context(|| format!("cannot read {}", disp(&req)))?;
    let want_stamp = lexalign_run::sha256_bytes(&req_text);
    let stamp = paths.venv().join(TORCH_STAMP);
    let installed = paths::find_torch_dir(&paths.venv());
    let stamp_ok = std::fs::read_to_string(&stamp)
        .map(|s| s.trim() == want_stamp)
        .unwrap_or(false);
    let torch = match installed {
        Some(t) if stamp_ok => t,
        _ => {
            install_torch(paths, vpy, &req)?;
            paths::find_torch_dir(&paths.venv()).ok_or_else(|| {
                anyhow!(
                    "pip finished but no torch/lib/libtorch_cpu.so is in {}: delete that folder and run `cargo xtask setup` again",
                    disp(&paths.venv())
                )
            })?
        }
    };
    let version = paths::torch_version(&torch).unwrap_or_default();
    if !version.starts_with("2.11.0") {
        bail!(
            "the venv {} holds torch {version:?}, not the pinned 2.11.0: delete it and run `cargo xtask setup` again",
            disp(&paths.venv())
        );
    }
    lexalign_run::write_atomic(&stamp, want_stamp.as_bytes())?;
    lexalign_run::replace_symlink(&torch, &paths.libtorch_link())
        .with_context(|| format!("cannot point {} at libtorch", disp(&paths.libtorch_link())))?;
    println!(
        "setup: libtorch: torch {version} at {} (linked from {})",
        disp(&torch),
        disp(&paths.libtorch_link())
    );
    Ok(torch)
}

fn install_torch(paths: &Paths, vpy: &Path, req: &Path) -> Result<()> {
    let wheels = paths.wheels();
    let offline = |quiet: bool| {
        let mut c = pip(vpy);
        c.args([
            "install",
            "--no-deps",
            "--require-hashes",
            "--no-index",
            "--no-cache-dir",
            "--find-links",
        ])
        .arg(&wheels)
        .arg("-r")
        .arg(req);
        if quiet {
            c.stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
        }
        c.status().map(|s| s.success()).unwrap_or(false)
    };
    if wheels.is_dir() && offline(true) {
        return Ok(());
    }
    println!(
        "setup: downloading the pinned torch 2.11.0 and CUDA runtime wheels (about 550 MB) into {}",
        disp(&wheels)
    );
    std::fs::create_dir_all(&wheels).with_context(|| format!("cannot create {}", disp(&wheels)))?;
    util::run_status(
        pip(vpy)
            .args(["download", "--no-deps", "--require-hashes", "--only-binary=:all:", "--no-cache-dir", "-d"])
            .arg(&wheels)
            .arg("-r")
            .arg(req),
        "downloading the pinned libtorch wheels with pip",
        &format!(
            "check the network or pip's proxy/index settings (or put the wheels listed in {} into {}) and run `cargo xtask setup` again",
            disp(req),
            disp(&wheels)
        ),
    )?;
    if !offline(false) {
        bail!(
            "pip could not install the wheels in {} with the hashes in {}: delete {} and run `cargo xtask setup` again",
            disp(&wheels),
            disp(req),
            disp(&paths.venv())
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn requirements_pin_every_python() {
        let text = std::fs::read_to_string(
            crate::paths::repo_root().join("xtask/requirements-libtorch.txt"),
        )
        .unwrap();
        assert!(text.contains("torch==2.11.0") && text.contains("nvidia-cuda-runtime==13.0.96"));
        assert_eq!(
            text.matches("--hash=sha256:").count(),
            7,
            "5 torch wheels (cp310-cp314) + 2 CUDA wheels"
        );
    }
}
