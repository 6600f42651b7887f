//! Run folders: `runs/<id>/<stage>/`, one stage folder per experiment. A run is built in
//! `<run>.partial/` and renamed into place when every stage succeeded, so `runs/<id>/` is always
//! complete; a failed run is kept as `<run>.failed/`. `cargo xtask reproduce` builds its runs here.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::time::utc_compact_stamp;

/// A run folder being built: where it will be (`<run>`), and its `.partial` / `.failed` siblings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    final_dir: PathBuf,
    partial: PathBuf,
    failed: PathBuf,
}

impl RunDir {
    /// Starts a run at `dir` (e.g. `--run-dir`), else at a fresh `<runs>/<UTC stamp>`; the run
    /// folder must not hold anything yet. Creates an empty `<run>.partial` (removing a stale one).
    pub fn begin(runs: &Path, dir: Option<&Path>) -> Result<Self> {
        let final_dir = match dir {
            Some(d) => d.to_path_buf(),
            None => unique_run_dir(runs)?,
        };
        if final_dir.exists()
            && std::fs::read_dir(&final_dir)
                .map(|mut d| d.next().is_some())
                .unwrap_or(true)
        {
            bail!(
                "the run folder {} already exists and is not empty: choose another --run-dir or delete it",
                final_dir.display()
            );
        }
        let run = Self {
            partial: sibling(&final_dir, "partial"),
            failed: sibling(&final_dir, "failed"),
            final_dir,
        };
        if run.partial.exists() {
            std::fs::remove_dir_all(&run.partial)
                .with_context(|| format!("cannot remove the stale {}", run.partial.display()))?;
        }
        std::fs::create_dir_all(&run.partial)
            .with_context(|| format!("cannot create {}", run.partial.display()))?;
        Ok(run)
    }

    /// Where the complete run will be.
    pub fn path(&self) -> &Path {
        &self.final_dir
    }

    /// The folder the stages write into until the run is complete.
    pub fn partial(&self) -> &Path {
        &self.partial
    }

    /// A stage folder of the run being built (`<run>.partial/<stage>`), not created.
    pub fn stage_path(&self, stage: &str) -> PathBuf {
        self.partial.join(stage)
    }

    /// Drops the partial run (nothing was run yet).
    pub fn abandon(&self) {
        let _ = std::fs::remove_dir_all(&self.partial);
    }

    /// Moves the partial run to `<run>.failed` (replacing an older one); where it went, if it could.
    pub fn keep_failed(&self) -> Option<PathBuf> {
        let _ = std::fs::remove_dir_all(&self.failed);
        std::fs::rename(&self.partial, &self.failed)
            .is_ok()
            .then(|| self.failed.clone())
    }

    /// Renames the complete run into place and, when it sits in `runs`, points `runs/latest` at it.
    pub fn complete(&self, runs: &Path) -> Result<()> {
        std::fs::rename(&self.partial, &self.final_dir).with_context(|| {
            format!(
                "cannot rename {} to {}",
                self.partial.display(),
                self.final_dir.display()
            )
        })?;
        if self.final_dir.parent() == Some(runs) {
            if let Some(name) = self.final_dir.file_name() {
                crate::fsutil::replace_symlink(Path::new(name), &runs.join("latest"))?;
            }
        }
        Ok(())
    }
}

/// `<runs>/<UTC yyyymmdd-hhmmss>` (with `-2`, `-3`... when it, or its `.partial` / `.failed`, is taken).
pub fn unique_run_dir(runs: &Path) -> Result<PathBuf> {
    let stamp = utc_compact_stamp();
    let mut n = 1;
    loop {
        let name = if n == 1 {
            stamp.clone()
        } else {
            format!("{stamp}-{n}")
        };
        let p = runs.join(&name);
        if !p.exists() && !sibling(&p, "partial").exists() && !sibling(&p, "failed").exists() {
            return Ok(p);
        }
        n += 1;
    }
}

/// `<dir>.<suffix>` next to `dir`.
fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    dir.with_file_name(format!("{name}.{suffix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_dir_names() {
        assert_eq!(
            sibling(Path::new("/x/runs/20250101-000000"), "partial"),
            PathBuf::from("/x/runs/20250101-000000.partial")
        );
        let tmp = tempfile::tempdir().unwrap();
        let a = unique_run_dir(tmp.path()).unwrap();
        std::fs::create_dir_all(sibling(&a, "failed")).unwrap();
        let b = unique_run_dir(tmp.path()).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn a_run_is_built_partial_then_renamed_and_latest_points_at_it() {
        let tmp = tempfile::tempdir().unwrap();
        let runs = tmp.path().join("runs");
        let run = RunDir::begin(&runs, None).unwrap();
        assert!(run.partial().is_dir() && !run.path().exists());
        std::fs::create_dir_all(run.stage_path("pilot-scan")).unwrap();
        run.complete(&runs).unwrap();
        assert!(run.path().join("pilot-scan").is_dir() && !run.partial().exists());
        #[cfg(unix)]
        assert_eq!(
            std::fs::read_link(runs.join("latest")).unwrap(),
            PathBuf::from(run.path().file_name().unwrap())
        );
        // The same folder again: not empty, refused.
        let e = format!("{:#}", RunDir::begin(&runs, Some(run.path())).unwrap_err());
        assert!(e.contains("already exists and is not empty"), "{e}");
    }

    #[test]
    fn a_failed_run_is_kept_beside() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("explicit");
        let run = RunDir::begin(tmp.path(), Some(&dir)).unwrap();
        std::fs::write(run.stage_path("x"), "half").unwrap();
        let kept = run.keep_failed().unwrap();
        assert_eq!(kept, tmp.path().join("explicit.failed"));
        assert!(kept.join("x").is_file() && !dir.exists());
    }
}
