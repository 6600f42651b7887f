//! `--model ORG/NAME`: a model already in the local Hugging Face cache, found by its repository
//! id, never downloaded. The cache layout is huggingface_hub's: `models--ORG--NAME/refs/main`
//! holds a commit hash, `models--ORG--NAME/snapshots/<hash>/` the files (links into `blobs/`).
//! Cache folders, in order (every one is searched, the first holding the repository wins):
//! `$HF_HUB_CACHE`, `$HF_HOME/hub`, `$XDG_CACHE_HOME/huggingface/hub`, `~/.cache/huggingface/hub`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// True when `spec` reads as a repository id (`ORG/NAME`: two non-empty parts of letters,
/// digits, `-`, `_`, `.`), so that a path-like argument is never mistaken for one.
pub fn is_repo_id(spec: &str) -> bool {
    let mut parts = spec.split('/');
    let (Some(org), Some(name), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let ok = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    ok(org) && ok(name)
}

/// The cache folders to search, in order, without repeats (`env` reads a variable).
pub fn hub_dirs_with(env: impl Fn(&str) -> Option<OsString>) -> Vec<PathBuf> {
    let get = |k: &str| env(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    let mut dirs = Vec::new();
    dirs.extend(get("HF_HUB_CACHE"));
    dirs.extend(get("HF_HOME").map(|h| h.join("hub")));
    dirs.extend(get("XDG_CACHE_HOME").map(|x| x.join("huggingface").join("hub")));
    dirs.extend(get("HOME").map(|h| h.join(".cache").join("huggingface").join("hub")));
    let mut seen = Vec::new();
    dirs.retain(|d| {
        let new = !seen.contains(d);
        seen.push(d.clone());
        new
    });
    dirs
}

/// [`resolve_repo_in`] over the process environment's cache folders.
pub fn resolve_repo(repo: &str) -> Result<PathBuf> {
    resolve_repo_in(repo, &hub_dirs_with(|k| std::env::var_os(k)))
}

/// The model of `repo` (`ORG/NAME`) in the first of `hub_dirs` that holds it: the snapshot
/// folder (config.json + safetensors), or its `.gguf` file when it holds exactly one and no
/// safetensors. A repository with no complete snapshot is an error naming its folder; a
/// repository in none of the folders is an error listing every folder looked in.
pub fn resolve_repo_in(repo: &str, hub_dirs: &[PathBuf]) -> Result<PathBuf> {
    let folder = format!("models--{}", repo.replace('/', "--"));
    for hub in hub_dirs {
        let dir = hub.join(&folder);
        if dir.is_dir() {
            return snapshot_of(repo, &dir);
        }
    }
    let looked: Vec<String> = hub_dirs
        .iter()
        .map(|d| d.join(&folder).display().to_string())
        .collect();
    bail!(
        "--model {repo}: not a file or folder, not an embedded model name, and not in the local \
         Hugging Face cache (looked for {}); lexalign never downloads: fetch it first (e.g. \
         `huggingface-cli download {repo}`), set HF_HUB_CACHE or HF_HOME to the cache that holds \
         it, or give the model's folder or .gguf file",
        if looked.is_empty() {
            "no cache folder: HF_HUB_CACHE, HF_HOME and HOME are unset".to_string()
        } else {
            looked.join(", ")
        }
    )
}

/// The complete snapshot of one cached repository: `refs/main`'s, else the only complete one.
fn snapshot_of(repo: &str, dir: &Path) -> Result<PathBuf> {
    let snapshots = dir.join("snapshots");
    let main = dir.join("refs").join("main");
    if main.is_file() {
        let hash = std::fs::read_to_string(&main)
            .with_context(|| format!("cannot read {}", main.display()))?;
        let snap = snapshots.join(hash.trim());
        return complete_model(&snap).with_context(|| {
            format!(
                "--model {repo}: refs/main names snapshot {} ({}), which is not a complete model",
                hash.trim(),
                snap.display()
            )
        });
    }
    let mut complete = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&snapshots) {
        for e in entries.flatten() {
            if let Ok(m) = complete_model(&e.path()) {
                complete.push(m);
            }
        }
    }
    complete.sort();
    match complete.len() {
        1 => Ok(complete.remove(0)),
        0 => bail!(
            "--model {repo}: the Hugging Face cache folder {} has no complete snapshot (none with \
             config.json and .safetensors weights, or a .gguf file; a download may have been cut \
             short); download it again or give the model's folder",
            dir.display()
        ),
        n => bail!(
            "--model {repo}: {} has no refs/main and {n} complete snapshots ({}); give the snapshot \
             folder you mean",
            dir.display(),
            complete.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// The model in one snapshot folder, or why it is incomplete.
fn complete_model(snap: &Path) -> Result<PathBuf> {
    if !snap.is_dir() {
        bail!("{} does not exist", snap.display());
    }
    // Files are links into blobs/: `is_file` follows them, so a missing blob counts as absent.
    let mut safetensors = 0;
    let mut ggufs = Vec::new();
    for e in std::fs::read_dir(snap)
        .with_context(|| format!("cannot list {}", snap.display()))?
        .flatten()
    {
        let p = e.path();
        let name = e.file_name().to_string_lossy().to_ascii_lowercase();
        if p.is_file() && name.ends_with(".safetensors") {
            safetensors += 1;
        } else if p.is_file() && name.ends_with(".gguf") {
            ggufs.push(p);
        }
    }
    if snap.join("config.json").is_file() && safetensors > 0 {
        return Ok(snap.to_path_buf());
    }
    match ggufs.len() {
        1 => Ok(ggufs.remove(0)),
        0 => bail!(
            "{} has {} config.json and {safetensors} .safetensors file(s), and no .gguf",
            snap.display(),
            if snap.join("config.json").is_file() {
                "a"
            } else {
                "no"
            }
        ),
        n => bail!(
            "{} holds {n} .gguf files; give the one you mean as --model FILE",
            snap.display()
        ),
    }
}

#[cfg(test)]
#[path = "hf_cache_tests.rs"]
mod tests;
