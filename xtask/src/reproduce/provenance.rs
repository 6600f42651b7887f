//! The run's top-level `provenance.json`, written with lexalign-run's `Provenance` (the schema
//! every stage uses), hashing the model once per reproduce.

use std::path::Path;

use anyhow::Result;
use lexalign_run::Provenance;

use super::cache::StageRecord;
use super::ReproduceArgs;
use crate::paths;
use crate::setup::Assets;
use crate::util::disp;

/// What the record says about the run's inputs, computed once per reproduce.
pub struct Inputs<'a> {
    pub model: &'a Path,
    /// The model's SHA-256 (a folder: of its sorted manifest).
    pub model_sha256: String,
    pub paper_data: &'a Path,
    /// (path relative to `tli_project/`, SHA-256) from the committed sums.
    pub data_sums: Vec<(String, String)>,
}

impl<'a> Inputs<'a> {
    pub fn new(assets: &Assets, model: &'a Path, paper_data: &'a Path) -> Result<Self> {
        // The default model was just checked against its pinned sum: no need to hash it again.
        let model_sha256 = if Some(model) == assets.model.as_deref() {
            lexalign_run::DEFAULT_MODEL.sha256.to_string()
        } else {
            lexalign_run::hash_path(model)?.sha256
        };
        let sums_path = assets.paths.paper_sums();
        let text = std::fs::read_to_string(&sums_path)?;
        let data_sums = lexalign_run::parse_sums(&text, &disp(&sums_path))?
            .into_iter()
            .collect();
        Ok(Self {
            model,
            model_sha256,
            paper_data,
            data_sums,
        })
    }
}

/// Write `<dir>/provenance.json` for the stages completed so far (name, cache key, hit or
/// computed, seconds).
pub fn write(
    dir: &Path,
    args: &ReproduceArgs,
    assets: &Assets,
    inputs: &Inputs,
    stages: &[StageRecord],
) -> Result<()> {
    let mut p = Provenance::collect()
        .stage("reproduce")
        .model_hashed(inputs.model, &inputs.model_sha256)
        .device(args.device.clone())
        .threads(args.threads);
    if let Some(t) = assets.torch_dir.as_deref().and_then(paths::torch_version) {
        p = p.torch_version(t);
    }
    if let Some(t) = tch_version(&assets.paths.repo) {
        p = p.tch_version(t);
    }
    for (rel, sha) in &inputs.data_sums {
        p = p.data_file_hashed(inputs.paper_data.join(rel), sha);
    }
    let stages: Vec<_> = stages.iter().map(StageRecord::to_json).collect();
    p = p
        .setting("check", args.check)?
        .setting("quick", args.quick)?
        .setting("extended", args.extended)?
        .setting("fresh", args.fresh)?
        .setting("stages_completed", stages)?;
    p.write(dir)?;
    Ok(())
}

/// tch's pinned version from the root Cargo.toml (`tch = "=0.24.0"`).
fn tch_version(repo: &Path) -> Option<String> {
    let text = std::fs::read_to_string(repo.join("Cargo.toml")).ok()?;
    let line = text.lines().find(|l| l.trim_start().starts_with("tch ="))?;
    let v = line.split('"').nth(1)?;
    Some(v.trim_start_matches('=').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tch_version_from_manifest() {
        assert_eq!(tch_version(&paths::repo_root()).as_deref(), Some("0.24.0"));
    }
}
