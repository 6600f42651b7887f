//! Finding a data folder that lives outside the repository (the paper's data, the lexicons) and
//! checking its files against committed SHA-256 sums. One rule for every such folder, so the
//! paper data and the lexicons are found the same way.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// How to look for one data folder.
pub(crate) struct Search<'a> {
    /// What the folder holds, for messages ("the paper's data").
    pub what: &'a str,
    /// Environment variable naming the folder outright.
    pub env: &'a str,
    /// Path of the folder below `shared/` (next to the repository or to the current folder).
    pub shared: &'a [&'a str],
    /// Path of the folder below the cache folder.
    pub cache: &'a [&'a str],
    /// What to do when it is missing or unusable.
    pub what_to_do: &'a str,
}

/// Find the folder: `explicit`, else `$env`, else `../shared/<shared>` from the current folder
/// or its nearest parent that has one, else `<cache>/<cache>` (`lexalign_run::cache_dir`). An explicit or env path
/// that is not a folder is an error (no silent fallback).
pub(crate) fn locate_dir(explicit: Option<&Path>, s: &Search) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return existing(p, s).with_context(|| {
            format!(
                "the folder given for {} ({}) is not usable",
                s.what,
                p.display()
            )
        });
    }
    if let Some(p) = std::env::var_os(s.env).filter(|v| !v.is_empty()) {
        let p = PathBuf::from(p);
        return existing(&p, s).with_context(|| format!("{}={} is not usable", s.env, p.display()));
    }
    let candidates = candidates(s);
    if let Some(c) = candidates.iter().find(|c| c.is_dir()) {
        return Ok(c.clone());
    }
    bail!(
        "{} was not found; looked in {}: {}",
        s.what,
        candidates
            .iter()
            .map(|c| c.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        s.what_to_do
    )
}

/// `root` if it is a folder.
pub(crate) fn existing(root: &Path, s: &Search) -> Result<PathBuf> {
    if !root.is_dir() {
        bail!("{} is not a folder: {}", root.display(), s.what_to_do);
    }
    Ok(root.to_path_buf())
}

fn candidates(s: &Search) -> Vec<PathBuf> {
    let below = |base: PathBuf, rel: &[&str]| rel.iter().fold(base, |p, c| p.join(c));
    let mut v = Vec::new();
    // `../shared/<shared>` from the current folder, or from the nearest parent folder that has
    // one (so it is found from anywhere inside a checkout). Never the folder the binary was
    // built in: an installed binary must not search its build checkout.
    if let Ok(cwd) = std::env::current_dir() {
        let from = |a: &Path| below(a.join("..").join("shared"), s.shared);
        let found = cwd.ancestors().map(from).find(|c| c.is_dir());
        v.push(found.unwrap_or_else(|| from(&cwd)));
    }
    if let Ok(c) = lexalign_run::cache_dir() {
        v.push(below(c, s.cache));
    }
    v
}

/// Check the files `only` (all listed files when `None`) of `root` against `sums` (from
/// [`crate::parse_sums`]; `origin` names the sums file). Returns one sentence per problem:
/// a missing file, or a file whose SHA-256 differs (naming the file and both sums; `note` is
/// appended, e.g. where the right file comes from).
pub(crate) fn sum_problems(
    root: &Path,
    sums: &BTreeMap<String, String>,
    origin: &str,
    only: Option<&[&str]>,
    note: &str,
) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    for (rel, expected) in sums {
        if only.is_some_and(|o| !o.contains(&rel.as_str())) {
            continue;
        }
        let path = root.join(rel);
        if !path.is_file() {
            problems.push(format!("{} is missing", path.display()));
            continue;
        }
        let actual = lexalign_run::sha256_file(&path)?;
        if &actual != expected {
            problems.push(format!(
                "{} has SHA-256 {actual} but {origin} expects {expected}{note}",
                path.display()
            ));
        }
    }
    if let Some(o) = only {
        for rel in o {
            if !sums.contains_key(*rel) {
                bail!("{origin} lists no SHA-256 for {rel}: add its sum before reading it");
            }
        }
    }
    Ok(problems)
}
