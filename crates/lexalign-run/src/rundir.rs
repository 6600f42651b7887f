//! Run folders: `runs/<id>/<stage>/`, one stage folder per experiment.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::time::utc_compact_stamp;

/// A run folder (`runs/<id>/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// Use (and create if needed) an existing run folder, e.g. one passed with `--run`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(&root)
            .with_context(|| format!("cannot create run folder {}", root.display()))?;
        Ok(Self { root })
    }

    /// Create `<runs>/<UTC yyyymmdd-hhmmss>/` (with a numeric suffix if taken) and point
    /// `<runs>/latest` at it (best effort on platforms without symlinks).
    pub fn create_timestamped(runs: impl AsRef<Path>) -> Result<Self> {
        let runs = runs.as_ref();
        std::fs::create_dir_all(runs)
            .with_context(|| format!("cannot create {}", runs.display()))?;
        let stamp = utc_compact_stamp();
        let mut id = stamp.clone();
        let mut n = 1;
        let root = loop {
            let candidate = runs.join(&id);
            match std::fs::create_dir(&candidate) {
                Ok(()) => break candidate,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    n += 1;
                    id = format!("{stamp}-{n}");
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot create {}", candidate.display()))
                }
            }
        };
        #[cfg(unix)]
        {
            let latest = runs.join("latest");
            let tmp = runs.join(format!(".latest.tmp-{}", std::process::id()));
            let _ = std::fs::remove_file(&tmp);
            std::os::unix::fs::symlink(&id, &tmp)
                .with_context(|| format!("cannot create {}", tmp.display()))?;
            std::fs::rename(&tmp, &latest)
                .with_context(|| format!("cannot update {}", latest.display()))?;
        }
        Ok(Self { root })
    }

    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Folder name of the run (its id).
    pub fn id(&self) -> String {
        self.root
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Path of a stage folder, without creating it.
    pub fn stage_path(&self, stage: &str) -> PathBuf {
        self.root.join(stage)
    }

    /// Create (if needed) and return the stage folder `<run>/<stage>/`.
    pub fn stage(&self, stage: &str) -> Result<PathBuf> {
        let p = self.stage_path(stage);
        std::fs::create_dir_all(&p)
            .with_context(|| format!("cannot create stage folder {}", p.display()))?;
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamped_runs_are_unique_and_latest_points_at_newest() {
        let dir = tempfile::tempdir().unwrap();
        let a = RunDir::create_timestamped(dir.path()).unwrap();
        let b = RunDir::create_timestamped(dir.path()).unwrap();
        assert_ne!(a.path(), b.path());
        let stage = b.stage("pilot-scan").unwrap();
        assert!(stage.is_dir());
        #[cfg(unix)]
        assert_eq!(
            std::fs::read_link(dir.path().join("latest")).unwrap(),
            PathBuf::from(b.id())
        );
        let c = RunDir::open(dir.path().join("explicit")).unwrap();
        assert!(c.path().is_dir());
        assert_eq!(c.id(), "explicit");
    }
}
