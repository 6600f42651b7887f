//! What every model stage (scan, train, eval) writes the same way: `summary.json` opens with the
//! model it ran on and how that model was loaded, followed by the stage's own fields.

use crate::model_args::LoadedRun;
use anyhow::{bail, Context, Result};
use lexalign_run::Provenance;
use std::path::Path;

/// Write `out/summary.json`: the model fields shared by all stages, then `stage_fields` (a JSON
/// object). A stage field with the same name as a model field is a bug, so it is an error.
pub fn write_summary(
    out: &Path,
    run: &LoadedRun,
    prov: &Provenance,
    stage_fields: serde_json::Value,
) -> Result<()> {
    let model_sha = prov
        .model
        .as_ref()
        .map(|m| m.sha256.clone())
        .unwrap_or_default();
    let summary = serde_json::json!({
        "model": run.model.info.name,
        "model_path": run.model_path.display().to_string(),
        "model_sha256": model_sha,
        "demo_model": run.is_demo_model(),
        "quant": run.quant.name(),
        "double_quant": run.double_quant,
        "dtype": run.dtype,
        "device": run.device,
    });
    let serde_json::Value::Object(mut summary) = summary else {
        unreachable!("json! of an object literal")
    };
    let serde_json::Value::Object(stage_fields) = stage_fields else {
        bail!("summary.json stage fields must be a JSON object");
    };
    for (k, v) in stage_fields {
        if summary.insert(k.clone(), v).is_some() {
            bail!("summary.json field {k:?} is set twice");
        }
    }
    lexalign_run::write_atomic(
        out.join("summary.json"),
        serde_json::to_vec_pretty(&serde_json::Value::Object(summary))?,
    )?;
    Ok(())
}

/// Checks `--out` before any slow work and creates it: an existing file, or a folder that cannot
/// be created (a missing permission, a file in the path), is refused by name.
pub fn prepare_out_dir(out: &Path) -> Result<()> {
    if out.exists() && !out.is_dir() {
        bail!(
            "--out {} is an existing file, not a folder: choose a folder path",
            out.display()
        );
    }
    std::fs::create_dir_all(out)
        .with_context(|| format!("--out {}: cannot create the output folder", out.display()))?;
    Ok(())
}
