//! The paper's data: an existing folder checked in place, or the authors' files downloaded into
//! the cache, always against the committed `paper/paper-data.sha256`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Context, Result};
use lexalign_run::{check_hash, HashCheck};

use super::python::system_python;
use super::SetupArgs;
use crate::paths::{self, Paths, ENV_PAPER_DATA, ENV_PAPER_URL};
use crate::util::{self, disp};

/// Where the paper's data is taken from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaperSource {
    /// An existing folder (from the flag, the env var, or the shared copy), checked in place.
    Folder { dir: PathBuf, origin: &'static str },
    /// Downloaded from `base` into the cache.
    Download { base: String, dest: PathBuf },
}

/// Precedence: --paper-data, $LEXALIGN_PAPER_DATA, an explicitly given URL (flag, then env),
/// ../shared/paper-data/tli_project where it exists, else the authors' repository.
pub fn resolve_paper_source(
    flag_dir: Option<&Path>,
    env_dir: Option<PathBuf>,
    flag_url: Option<&str>,
    env_url: Option<String>,
    paths: &Paths,
) -> PaperSource {
    if let Some(d) = flag_dir {
        return PaperSource::Folder {
            dir: d.to_path_buf(),
            origin: "--paper-data",
        };
    }
    if let Some(d) = env_dir {
        return PaperSource::Folder {
            dir: d,
            origin: ENV_PAPER_DATA,
        };
    }
    if let Some(u) = flag_url.map(str::to_string).or(env_url) {
        return PaperSource::Download {
            base: u,
            dest: paths.paper_cache(),
        };
    }
    let shared = paths.paper_shared();
    if shared.is_dir() {
        return PaperSource::Folder {
            dir: shared,
            origin: "../shared/paper-data",
        };
    }
    PaperSource::Download {
        base: paths::default_paper_url(),
        dest: paths.paper_cache(),
    }
}

pub(super) fn ensure_paper_data(paths: &Paths, args: &SetupArgs) -> Result<PathBuf> {
    let (sums_path, sums_text) = match &args.paper_sums {
        Some(p) => (
            p.clone(),
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", disp(p)))?,
        ),
        None => {
            let p = paths.paper_sums();
            let t = std::fs::read_to_string(&p)
                .with_context(|| format!("cannot read the committed sums {}", disp(&p)))?;
            (p, t)
        }
    };
    let sums_name = disp(&sums_path);
    let sums = lexalign_run::parse_sums(&sums_text, &sums_name)?;
    let nonempty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    let source = resolve_paper_source(
        args.paper_data.as_deref(),
        nonempty(ENV_PAPER_DATA).map(PathBuf::from),
        args.paper_data_url.as_deref(),
        nonempty(ENV_PAPER_URL).map(|v| v.to_string_lossy().into_owned()),
        paths,
    );
    match source {
        PaperSource::Folder { dir, origin } => {
            let dir = dir.canonicalize().unwrap_or_else(|_| util::absolute(&dir));
            if !dir.is_dir() {
                bail!(
                    "the paper-data folder {} (from {origin}) does not exist: point it at the authors' tli_project folder, or unset it to download the files",
                    disp(&dir)
                );
            }
            for (rel, expected) in &sums {
                let p = dir.join(rel);
                match check_hash(&p, expected)? {
                    HashCheck::Ok => {}
                    HashCheck::Missing => bail!(
                        "{} is missing from the paper-data folder {} (from {origin}): restore the authors' files ({} at commit {})",
                        rel,
                        disp(&dir),
                        paths::PAPER_REPO,
                        paths::PAPER_COMMIT
                    ),
                    HashCheck::Mismatch { actual } => bail!(
                        "the paper-data file {} has SHA-256 {actual}, but {sums_name} expects {expected}: it is not the authors' file \
                         ({} at commit {}); restore the original and run the command again",
                        disp(&p),
                        paths::PAPER_REPO,
                        &paths::PAPER_COMMIT[..7]
                    ),
                }
            }
            println!(
                "setup: paper data: {} ({} files, SHA-256 ok)",
                disp(&dir),
                sums.len()
            );
            Ok(dir)
        }
        PaperSource::Download { base, dest } => {
            download_hashed(&base, &dest, &sums, &sums_name, &paper_download_hint())?;
            println!(
                "setup: paper data: {} ({} files, SHA-256 ok)",
                disp(&dest),
                sums.len()
            );
            Ok(dest)
        }
    }
}

const FETCH_PY: &str = "import shutil, sys, urllib.request\n\
try:\n    with urllib.request.urlopen(sys.argv[1], timeout=60) as r, open(sys.argv[2], 'wb') as f:\n        shutil.copyfileobj(r, f)\n\
except Exception as e:\n    print(e, file=sys.stderr)\n    sys.exit(1)\n";

/// What to do when the paper data cannot be downloaded.
pub fn paper_download_hint() -> String {
    format!("check the network (or {ENV_PAPER_URL}), or set {ENV_PAPER_DATA} to a folder holding the authors' tli_project files")
}

/// Downloads every `rel` of `sums` from `base/rel` into `dest/rel`, each checked against its
/// SHA-256 (files already there and intact are kept). `hint` says what to do when a download
/// fails or returns other bytes (it names the variables of the data being fetched).
pub fn download_hashed(
    base: &str,
    dest: &Path,
    sums: &std::collections::BTreeMap<String, String>,
    sums_name: &str,
    hint: &str,
) -> Result<()> {
    let mut python: Option<String> = None;
    for (rel, expected) in sums {
        let target = dest.join(rel);
        match check_hash(&target, expected)? {
            HashCheck::Ok => continue,
            HashCheck::Mismatch { actual } => bail!(
                "the cached file {} has SHA-256 {actual}, but {sums_name} expects {expected}: it was changed or damaged; \
                 delete it and run `cargo xtask setup` again to download a fresh copy",
                disp(&target)
            ),
            HashCheck::Missing => {}
        }
        let py = match &python {
            Some(p) => p.clone(),
            None => {
                let p = system_python()?;
                python = Some(p.clone());
                p
            }
        };
        let folder = target.parent().expect("file has a folder");
        std::fs::create_dir_all(folder)
            .with_context(|| format!("cannot create {}", disp(folder)))?;
        let url = format!("{}/{}", base.trim_end_matches('/'), rel);
        let part = folder.join(format!(
            ".{}.part",
            target.file_name().unwrap_or_default().to_string_lossy()
        ));
        println!("setup: downloading {url}");
        let out = Command::new(&py)
            .args(["-c", FETCH_PY, &url])
            .arg(&part)
            .output()
            .map_err(|e| anyhow!("could not start `{py}` to download {url}: {e}"))?;
        if !out.status.success() {
            let _ = std::fs::remove_file(&part);
            let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
            bail!("could not download {url} ({why}): {hint}, then run `cargo xtask setup` again");
        }
        if let HashCheck::Mismatch { actual } = check_hash(&part, expected)? {
            let _ = std::fs::remove_file(&part);
            bail!(
                "the file downloaded from {url} has SHA-256 {actual}, but {sums_name} expects {expected}: the server did not return \
                 the original file; {hint}"
            );
        }
        std::fs::rename(&part, &target)
            .with_context(|| format!("cannot move {} to {}", disp(&part), disp(&target)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_source_precedence() {
        let tmp = std::env::temp_dir().join(format!("xtask-src-{}", std::process::id()));
        let repo = tmp.join("repo");
        std::fs::create_dir_all(&repo).unwrap();
        let paths = Paths {
            repo: repo.clone(),
            cache: tmp.join("cache"),
        };
        let dl_default = PaperSource::Download {
            base: paths::default_paper_url(),
            dest: paths.paper_cache(),
        };
        // Nothing given, no shared folder: the authors' repository.
        assert_eq!(
            resolve_paper_source(None, None, None, None, &paths),
            dl_default
        );
        // The shared folder where it exists.
        let shared = paths.paper_shared();
        std::fs::create_dir_all(&shared).unwrap();
        assert_eq!(
            resolve_paper_source(None, None, None, None, &paths),
            PaperSource::Folder {
                dir: shared.clone(),
                origin: "../shared/paper-data"
            }
        );
        // An explicit URL beats the shared folder; flag beats env.
        assert_eq!(
            resolve_paper_source(
                None,
                None,
                Some("http://a"),
                Some("http://b".into()),
                &paths
            ),
            PaperSource::Download {
                base: "http://a".into(),
                dest: paths.paper_cache()
            }
        );
        assert_eq!(
            resolve_paper_source(None, None, None, Some("http://b".into()), &paths),
            PaperSource::Download {
                base: "http://b".into(),
                dest: paths.paper_cache()
            }
        );
        // Folders beat URLs; the flag beats the env var.
        assert_eq!(
            resolve_paper_source(
                Some(Path::new("/f")),
                Some("/e".into()),
                Some("http://a"),
                None,
                &paths
            ),
            PaperSource::Folder {
                dir: "/f".into(),
                origin: "--paper-data"
            }
        );
        assert_eq!(
            resolve_paper_source(None, Some("/e".into()), Some("http://a"), None, &paths),
            PaperSource::Folder {
                dir: "/e".into(),
                origin: ENV_PAPER_DATA
            }
        );
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
