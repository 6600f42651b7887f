//! The interpreter setup uses: the system Python (to create the venv and fetch the paper's data)
//! and the cache venv's pip (to download and install the pinned wheels).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Result};

use crate::paths::{Paths, ENV_PYTHON};
use crate::util::{self, disp};

/// The system interpreter used to create the venv and to download the paper's data.
pub fn system_python() -> Result<String> {
    let py = std::env::var(ENV_PYTHON)
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "python3".into());
    let out = Command::new(&py)
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .output()
        .map_err(|_| anyhow!("`{py}` was not found: install Python 3.10-3.14 with its venv module (e.g. `apt-get install python3 python3-venv`) or set {ENV_PYTHON} to one, then run `cargo xtask setup` again"))?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let minor: Option<u32> = version.strip_prefix("3.").and_then(|m| m.parse().ok());
    match minor {
        Some(m) if (10..=14).contains(&m) => Ok(py),
        _ => bail!(
            "`{py}` is Python {version:?}, but the pinned torch 2.11.0 wheels need Python 3.10-3.14: install one and set {ENV_PYTHON} to it, then run `cargo xtask setup` again"
        ),
    }
}

/// Create `<cache>/torch-venv` if needed and return its python.
pub(super) fn ensure_venv(paths: &Paths) -> Result<PathBuf> {
    let vpy = paths.venv_python();
    if !vpy.exists() {
        let py = system_python()?;
        println!("setup: creating the venv {}", disp(&paths.venv()));
        util::run_status(
            Command::new(&py).args(["-m", "venv", "--clear"]).arg(paths.venv()),
            &format!("`{py} -m venv {}`", disp(&paths.venv())),
            "install Python's venv module (e.g. `apt-get install python3-venv`) and run `cargo xtask setup` again",
        )?;
    }
    util::run_output(
        Command::new(&vpy).args(["-m", "pip", "--version"]),
        &format!("pip in the venv {}", disp(&paths.venv())),
        &format!(
            "the venv has no working pip: install python3-venv/python3-pip, delete {} and run `cargo xtask setup` again",
            disp(&paths.venv())
        ),
    )?;
    Ok(vpy)
}

pub(super) fn pip(vpy: &Path) -> Command {
    let mut c = Command::new(vpy);
    c.args(["-m", "pip"])
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1");
    c
}
