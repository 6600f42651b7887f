//! Atomic file writes and folder swaps, with fsync: readers see the old content or the complete
//! new one, never half of it, and a crash right after cannot undo the write.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{anyhow, bail, Context, Result};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Write `bytes` to `path` atomically: readers see the old file or the complete new one,
/// never a half-written one (temp file in the same folder, write, fsync the file, rename, fsync
/// the folder).
pub fn write_atomic(path: impl AsRef<Path>, bytes: impl AsRef<[u8]>) -> Result<()> {
    let bytes = bytes.as_ref();
    write_atomic_with(path, |w| {
        w.write_all(bytes)?;
        Ok(())
    })
}

/// Like [`write_atomic`], but `fill` writes the content. If `fill` fails, the target file is
/// untouched and the temp file removed.
pub fn write_atomic_with<F>(path: impl AsRef<Path>, fill: F) -> Result<()>
where
    F: FnOnce(&mut BufWriter<File>) -> Result<()>,
{
    let path = path.as_ref();
    let (dir, name) = split(path)?;
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| -> Result<()> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .with_context(|| {
                format!(
                    "cannot create temp file {} for {}",
                    tmp.display(),
                    path.display()
                )
            })?;
        let mut w = BufWriter::new(file);
        fill(&mut w).with_context(|| format!("writing {}", path.display()))?;
        let file = w
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("writing {}", path.display()))?;
        file.sync_all()
            .with_context(|| format!("fsync of {}", tmp.display()))?;
        drop(file);
        fs::rename(&tmp, path)
            .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
        return result;
    }
    sync_dir(&dir);
    Ok(())
}

/// A fresh, empty hidden folder next to `dest` (`.<name>.tmp-<pid>-<n>`, its parent created if
/// needed), to fill and then move into place with [`swap_dir`]. A stale one is removed first.
pub fn temp_dir_beside(dest: impl AsRef<Path>) -> Result<PathBuf> {
    let dest = dest.as_ref();
    let (dir, name) = split(dest)?;
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    if tmp.exists() {
        fs::remove_dir_all(&tmp)
            .with_context(|| format!("cannot remove stale {}", tmp.display()))?;
    }
    fs::create_dir(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    Ok(tmp)
}

/// Move the complete folder `tmp` to `dest`, replacing an older `dest`: everything in `tmp` is
/// fsynced first, the old folder is moved aside so the new one appears in one rename, and the
/// parent folder is fsynced so the swap survives a crash. `tmp` and `dest` must be siblings.
pub fn swap_dir(tmp: impl AsRef<Path>, dest: impl AsRef<Path>) -> Result<()> {
    let (tmp, dest) = (tmp.as_ref(), dest.as_ref());
    let (dir, name) = split(dest)?;
    sync_tree(tmp)?;
    let old = dir.join(format!(
        ".{name}.old-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let had_old = dest.exists();
    if had_old {
        fs::rename(dest, &old)
            .with_context(|| format!("cannot move the old {} aside", dest.display()))?;
    }
    if let Err(e) = fs::rename(tmp, dest) {
        if had_old {
            let _ = fs::rename(&old, dest);
        }
        return Err(e)
            .with_context(|| format!("cannot rename {} to {}", tmp.display(), dest.display()));
    }
    sync_dir(&dir);
    if had_old {
        fs::remove_dir_all(&old).with_context(|| format!("cannot remove {}", old.display()))?;
    }
    Ok(())
}

/// (parent folder, file name) of `path`; the parent of a bare name is `.`.
/// Points the symlink `link` at `target`: a temporary link beside it, renamed over it, so
/// `link` is never missing. A `link` that exists and is not a symlink is left alone, with an error.
pub fn replace_symlink(target: &Path, link: &Path) -> Result<()> {
    if fs::read_link(link).ok().as_deref() == Some(target) {
        return Ok(());
    }
    if fs::symlink_metadata(link).is_ok_and(|m| !m.file_type().is_symlink()) {
        bail!(
            "{} exists and is not a symlink; move it away",
            link.display()
        );
    }
    let name = link
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "link".into());
    let tmp = link.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    #[cfg(unix)]
    std::os::unix::fs::symlink(target, &tmp)
        .with_context(|| format!("cannot create symlink {}", tmp.display()))?;
    #[cfg(not(unix))]
    bail!(
        "cannot create the symlink {}: symlinks need a unix system",
        tmp.display()
    );
    #[cfg(unix)]
    {
        fs::rename(&tmp, link).with_context(|| format!("cannot replace {}", link.display()))?;
        Ok(())
    }
}

fn split(path: &Path) -> Result<(PathBuf, String)> {
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("cannot write {}: the path has no file name", path.display()))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((dir, name.to_string_lossy().into_owned()))
}

/// fsync every file and folder below `dir`, then `dir` itself.
fn sync_tree(dir: &Path) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let p = entry
            .with_context(|| format!("cannot list {}", dir.display()))?
            .path();
        let meta =
            fs::symlink_metadata(&p).with_context(|| format!("cannot read {}", p.display()))?;
        if meta.is_dir() {
            sync_tree(&p)?;
        } else if meta.is_file() {
            File::open(&p)
                .and_then(|f| f.sync_all())
                .with_context(|| format!("fsync of {}", p.display()))?;
        }
    }
    sync_dir(dir);
    Ok(())
}

/// Make renames in `dir` durable (best effort: not every platform can open folders).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.txt");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, "two").unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out.txt")]);
    }

    #[test]
    fn failed_fill_keeps_old_content() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.txt");
        write_atomic(&p, "old").unwrap();
        let err = write_atomic_with(&p, |w| {
            w.write_all(b"partial")?;
            anyhow::bail!("boom")
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("out.txt"), "{err:#}");
        assert_eq!(fs::read_to_string(&p).unwrap(), "old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn missing_folder_error_names_path() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("nope/out.txt");
        let err = write_atomic(&p, "x").unwrap_err();
        assert!(format!("{err:#}").contains("nope"), "{err:#}");
    }

    #[test]
    fn swap_dir_replaces_a_folder_whole() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("adapter");
        for content in ["one", "two"] {
            let tmp = temp_dir_beside(&dest).unwrap();
            assert!(tmp.is_dir() && tmp.parent() == Some(dir.path()));
            fs::create_dir(tmp.join("sub")).unwrap();
            write_atomic(tmp.join("sub/f.txt"), content).unwrap();
            swap_dir(&tmp, &dest).unwrap();
            assert_eq!(fs::read_to_string(dest.join("sub/f.txt")).unwrap(), content);
        }
        // Nothing but the folder itself is left behind.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("adapter")]);
        let e = swap_dir(dir.path().join("nope"), &dest).unwrap_err();
        assert!(format!("{e:#}").contains("nope"), "{e:#}");
        assert!(
            dest.join("sub/f.txt").is_file(),
            "a failed swap keeps the old folder"
        );
    }
}
