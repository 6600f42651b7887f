//! Small helpers: running commands with clear errors, paths. Hashing, atomic writes
//! and time come from lexalign-run (pure Rust, no tch), shared with the binaries.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Result};

/// Whether `program` can be started (`program --version` runs).
pub fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Run a command to completion (output inherited); `what` describes it and `hint` says what to do on failure.
pub fn run_status(cmd: &mut Command, what: &str, hint: &str) -> Result<()> {
    let status = cmd.status().map_err(|e| {
        anyhow!(
            "{what}: could not start {:?} ({e}); {hint}",
            cmd.get_program()
        )
    })?;
    if !status.success() {
        bail!("{what} failed ({status}); {hint}");
    }
    Ok(())
}

/// Run a command and return its stdout (stderr passed through on failure).
pub fn run_output(cmd: &mut Command, what: &str, hint: &str) -> Result<String> {
    let out = cmd.stderr(Stdio::piped()).output().map_err(|e| {
        anyhow!(
            "{what}: could not start {:?} ({e}); {hint}",
            cmd.get_program()
        )
    })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim();
        bail!("{what} failed ({}): {last}; {hint}", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A path as a display string.
pub fn disp(p: &Path) -> String {
    p.display().to_string()
}

/// `p` made absolute against the current folder (without resolving symlinks).
pub fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|c| c.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_paths() {
        assert_eq!(absolute(Path::new("/a/b")), PathBuf::from("/a/b"));
        assert!(absolute(Path::new("a")).is_absolute());
    }
}
