//! `--check`: regenerate into a temporary folder and compare with the committed tree, so CI
//! notices a hand-edited figure, number or report, or a stale one. Published-data outputs are
//! compared byte for byte; model-based numbers within the tolerances of [`crate::tolerance`].
//! A run on another model than the default configuration checks only the published-data outputs.

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
    /// Why some outputs were not compared (a run on another model than the default configuration).
    pub note: Option<String>,
    /// Generated files left out of the comparison (see `note`).
    pub skipped: Vec<String>,
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.differing.is_empty() && self.missing.is_empty() && self.failures.is_empty()
    }

    /// Human-readable listing.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        if let Some(n) = &self.note {
            s.push_str(&format!("note: {n}\n"));
        }
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
            s.push_str(if self.skipped.is_empty() {
                "check passed: the committed figures, tables and report match a fresh build \
                 (model-based numbers within the stated tolerances)\n"
            } else {
                "check passed for the published-data outputs (the model-based ones were not compared)\n"
            });
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
            Ok(old) => {
                match crate::tolerance::compare(crate::tolerance::mode_of(rel), &new, &old) {
                    Ok(()) => {}
                    Err(why) => {
                        log::info!("{rel}: {why}");
                        r.differing.push(rel.clone())
                    }
                }
            }
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
            .filter(|rel| !files.contains(rel) && !OTHER_GENERATORS.iter().any(|(f, _)| f == rel))
            .collect();
        names.sort();
        r.extra.extend(names);
    }
    Ok(r)
}

/// Committed outputs that another command writes, not the report (so `--check` neither
/// regenerates them nor calls them stale).
pub const OTHER_GENERATORS: &[(&str, &str)] = &[
    ("paper/generated/bench.md", "cargo xtask bench"),
    ("paper/generated/bench.provenance.json", "cargo xtask bench"),
];

/// Regenerate into a temporary folder and compare with `root`.
pub fn check_tree(claims: &ClaimsFile, run: &RunFolder, root: &Path) -> Result<CheckReport> {
    let tmp = tempfile::tempdir().context("cannot create a temporary folder")?;
    let g = generate(claims, run, tmp.path())?;
    let (files, skipped): (Vec<String>, Vec<String>) = match non_default_models(run) {
        None => (g.files.clone(), Vec::new()),
        Some(_) => g
            .files
            .iter()
            .cloned()
            .partition(|f| crate::tolerance::mode_of(f) == crate::tolerance::Mode::Exact),
    };
    let mut r = compare(tmp.path(), &files, root)?;
    r.extra.retain(|f| !skipped.contains(f));
    r.note = non_default_models(run).map(|m| {
        format!(
            "this run used {m}; the committed outputs are built from the default configuration (pilot stages on the \
             embedded {}, study stages on gemma3-270m), and --check only checks the default configuration: the \
             published-data outputs were compared, the model-based ones ({} files) were not",
            lexalign_run::DEFAULT_MODEL.name,
            skipped.len()
        )
    });
    r.skipped = skipped;
    r.failures = g.failures;
    Ok(r)
}

/// The models of a run that differ from the default configuration, described; None when it is
/// the default (the pilot stages and the negative controls on the embedded default model, the
/// study's main stages on gemma3-270m), judged by each stage summary's `model_sha256`.
pub fn non_default_models(run: &RunFolder) -> Option<String> {
    let study_default = lexalign_run::embedded_model("gemma3-270m")
        .map(|m| m.sha256)
        .unwrap_or_default();
    let mut stages: Vec<(String, &serde_json::Value, &str)> = Vec::new();
    for s in &run.pilot_scans {
        stages.push((
            s.folder.clone(),
            &s.summary,
            lexalign_run::DEFAULT_MODEL.sha256,
        ));
    }
    if let Some(t) = &run.train {
        stages.push((
            "tli-train".into(),
            &t.summary,
            lexalign_run::DEFAULT_MODEL.sha256,
        ));
    }
    if let Some(e) = &run.eval {
        stages.push((
            "tli-eval".into(),
            &e.summary,
            lexalign_run::DEFAULT_MODEL.sha256,
        ));
    }
    for p in run.study.pairs() {
        for (name, sm) in p.summaries() {
            let want = if name.ends_with("negative-control") {
                lexalign_run::DEFAULT_MODEL.sha256
            } else {
                study_default
            };
            stages.push((name, sm, want));
        }
    }
    let odd: Vec<String> = stages
        .iter()
        .filter_map(|(name, sm, want)| {
            let sha = sm
                .get("model_sha256")
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty())?;
            (sha != *want).then(|| {
                let model = sm
                    .get("model")
                    .and_then(|v| v.as_str())
                    .unwrap_or("another model");
                format!("{model} in `{name}`")
            })
        })
        .collect();
    (!odd.is_empty()).then(|| odd.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A committed file no generator writes is flagged; the bench's page is not.
    #[test]
    fn bench_outputs_are_not_stale_report_outputs() {
        let (fresh, committed) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let gen = committed.path().join(GENERATED_DIR);
        std::fs::create_dir_all(&gen).unwrap();
        for (f, _) in OTHER_GENERATORS {
            std::fs::write(committed.path().join(f), "x").unwrap();
        }
        std::fs::write(gen.join("old_table.tex"), "x").unwrap();
        let r = compare(fresh.path(), &[], committed.path()).unwrap();
        assert_eq!(r.extra, [format!("{GENERATED_DIR}/old_table.tex")]);
    }
}
