//! `--check`: regenerate into a temporary folder and compare with the committed tree byte for
//! byte, so CI notices a hand-edited figure, number or report, or a stale one.

use std::path::Path;

use anyhow::{Context, Result};

use crate::claims::ClaimsFile;
use crate::render::{generate, FIGURES_DIR, GENERATED_DIR};
use crate::run::RunFolder;

/// Outcome of a check.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Generated files whose committed copy differs.
    pub differing: Vec<String>,
    /// Generated files with no committed copy.
    pub missing: Vec<String>,
    /// Committed files under figures/ or paper/generated/ that are no longer generated (warning only).
    pub extra: Vec<String>,
    /// Published-data claim checks outside tolerance.
    pub failures: Vec<String>,
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.differing.is_empty() && self.missing.is_empty() && self.failures.is_empty()
    }

    /// Human-readable listing.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for f in &self.differing {
            s.push_str(&format!("differs from a fresh build: {f}\n"));
        }
        for f in &self.missing {
            s.push_str(&format!(
                "not committed (run `cargo xtask reproduce`): {f}\n"
            ));
        }
        for f in &self.extra {
            s.push_str(&format!(
                "warning: committed but no longer generated: {f}\n"
            ));
        }
        for f in &self.failures {
            s.push_str(&format!("claim out of tolerance: {f}\n"));
        }
        if self.ok() {
            s.push_str(
                "check passed: the committed figures, tables and report match a fresh build\n",
            );
        }
        s
    }
}

/// Compare two trees over the files `generate` wrote into `fresh`.
pub fn compare(fresh: &Path, files: &[String], committed: &Path) -> Result<CheckReport> {
    let mut r = CheckReport::default();
    for rel in files {
        let new = std::fs::read(fresh.join(rel))
            .with_context(|| format!("cannot read generated {rel}"))?;
        match std::fs::read(committed.join(rel)) {
            Ok(old) if old == new => {}
            Ok(_) => r.differing.push(rel.clone()),
            Err(_) => r.missing.push(rel.clone()),
        }
    }
    for dir in [FIGURES_DIR, GENERATED_DIR] {
        let Ok(entries) = std::fs::read_dir(committed.join(dir)) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_file())
            .filter_map(|e| e.file_name().to_str().map(|n| format!("{dir}/{n}")))
            .filter(|rel| !files.contains(rel))
            .collect();
        names.sort();
        r.extra.extend(names);
    }
    Ok(r)
}

/// Regenerate into a temporary folder and compare with `root`.
pub fn check_tree(claims: &ClaimsFile, run: &RunFolder, root: &Path) -> Result<CheckReport> {
    let tmp = tempfile::tempdir().context("cannot create a temporary folder")?;
    let g = generate(claims, run, tmp.path())?;
    let mut r = compare(tmp.path(), &g.files, root)?;
    r.failures = g.failures;
    Ok(r)
}
