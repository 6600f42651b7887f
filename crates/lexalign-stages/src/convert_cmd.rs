//! `lexalign convert`: a GGUF model written out as an HF safetensors folder, with `--out`
//! checked before the GGUF is read.

use anyhow::{bail, Context, Result};
use std::path::Path;

/// Checks `--out`, converts, and says where it wrote.
pub fn run_convert(gguf: &Path, out: &Path, force: bool) -> Result<()> {
    check_convert_out(out, force)?;
    lexalign_gguf::convert_to_hf_dir(gguf, out)?;
    println!("wrote {}", out.display());
    Ok(())
}

/// `convert --out`: never an existing file; an existing folder only with `--force`; otherwise
/// its parent folder must exist or be creatable. Checked before the GGUF is read.
fn check_convert_out(out: &Path, force: bool) -> Result<()> {
    if out.exists() {
        if !out.is_dir() {
            bail!(
                "--out {} is an existing file, not a folder: choose a new folder path",
                out.display()
            );
        }
        if !force {
            bail!(
                "--out {} already exists: choose a new folder, or pass --force to replace it",
                out.display()
            );
        }
        return Ok(());
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| {
            format!(
                "--out {}: cannot create its parent folder {}",
                out.display(),
                parent.display()
            )
        })?;
    }
    Ok(())
}
