//! Per-epoch checkpoints that a resumed run continues from bit for bit: the adapter in peft
//! format, the optimizer moments and step counts, and the trainer state (epoch, global step,
//! config, data fingerprint, loss log). Each is written into a hidden temp folder that is
//! renamed into place once complete, so an interrupted write never leaves a half checkpoint.

use crate::adamw::AdamW;
use crate::config::TrainConfig;
use crate::train::LossRow;
use anyhow::{bail, Context, Result};
use lexalign_model::lora::{save_peft, LoraConfig};
use lexalign_model::Decoder;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const CHECKPOINTS: &str = "checkpoints";
pub const STATE_FILE: &str = "trainer_state.json";
pub const LOSS_FILE: &str = "loss.csv";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainerState {
    /// Epochs completed.
    pub epoch: usize,
    /// Optimizer steps completed.
    pub global_step: usize,
    pub steps_per_epoch: usize,
    pub total_steps: usize,
    pub n_pairs: usize,
    /// FNV-1a of the pair list in order, so a resume with other data is refused.
    pub pairs_fingerprint: String,
    pub config: TrainConfig,
    /// The loss log so far; stored as `loss.csv` next to the state (CSV floats round-trip
    /// exactly, serde_json's default parser does not always).
    #[serde(skip)]
    pub loss: Vec<LossRow>,
}

pub fn checkpoint_dir(out: &Path, epoch: usize) -> PathBuf {
    out.join(CHECKPOINTS).join(format!("epoch-{epoch}"))
}

/// Writes `checkpoints/epoch-N/` atomically (temp folder, fsync, swap: `lexalign_run::swap_dir`).
pub fn write_checkpoint(
    out: &Path,
    model: &Decoder,
    lora: &LoraConfig,
    adamw: &AdamW,
    state: &TrainerState,
) -> Result<PathBuf> {
    let dest = checkpoint_dir(out, state.epoch);
    let tmp = lexalign_run::temp_dir_beside(&dest)?;
    save_peft(model, lora, &tmp, Some(state.config.seed))?;
    adamw.save(&tmp)?;
    crate::train::write_loss_csv(&tmp.join(LOSS_FILE), &state.loss)?;
    lexalign_run::write_atomic(
        tmp.join(STATE_FILE),
        serde_json::to_string_pretty(state)?.as_bytes(),
    )?;
    lexalign_run::swap_dir(&tmp, &dest)?;
    Ok(dest)
}

/// The highest complete `checkpoints/epoch-N/` of a run folder, if any (partial temp folders
/// left by a killed process are ignored).
pub fn latest_checkpoint(out: &Path) -> Result<Option<(usize, PathBuf)>> {
    let root = out.join(CHECKPOINTS);
    if !root.exists() {
        return Ok(None);
    }
    let mut best: Option<(usize, PathBuf)> = None;
    for entry in
        std::fs::read_dir(&root).with_context(|| format!("cannot list {}", root.display()))?
    {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(n) = name
            .strip_prefix("epoch-")
            .and_then(|n| n.parse::<usize>().ok())
        else {
            continue;
        };
        if !entry.path().join(STATE_FILE).exists() {
            continue;
        }
        if best.as_ref().is_none_or(|(b, _)| n > *b) {
            best = Some((n, entry.path()));
        }
    }
    Ok(best)
}

pub fn read_state(dir: &Path) -> Result<TrainerState> {
    let path = dir.join(STATE_FILE);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut state: TrainerState = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a trainer state", path.display()))?;
    state.loss = read_loss_csv(&dir.join(LOSS_FILE))?;
    Ok(state)
}

pub fn read_loss_csv(path: &Path) -> Result<Vec<LossRow>> {
    let mut rdr =
        csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    rdr.deserialize()
        .enumerate()
        .map(|(i, r)| {
            r.with_context(|| format!("{}: bad row at data line {}", path.display(), i + 1))
        })
        .collect()
}

/// Refuses to resume when the settings or data differ from the checkpoint's, naming the field.
pub fn check_resumable(
    state: &TrainerState,
    cfg: &TrainConfig,
    n_pairs: usize,
    fingerprint: &str,
    dir: &Path,
) -> Result<()> {
    let (a, b) = (
        serde_json::to_value(&state.config)?,
        serde_json::to_value(cfg)?,
    );
    if let (Some(a), Some(b)) = (a.as_object(), b.as_object()) {
        for (k, va) in a {
            let vb = b.get(k).cloned().unwrap_or(serde_json::Value::Null);
            if *va != vb {
                bail!(
                    "cannot resume from {}: `{k}` was {va} there but is {vb} now; use the same settings or a new --out",
                    dir.display()
                );
            }
        }
    }
    if state.n_pairs != n_pairs || state.pairs_fingerprint != fingerprint {
        bail!(
            "cannot resume from {}: it was trained on {} other pairs (fingerprint {}), not these {n_pairs} ({fingerprint})",
            dir.display(),
            state.n_pairs,
            state.pairs_fingerprint
        );
    }
    Ok(())
}

/// FNV-1a over the pairs (stable across Rust versions, unlike `DefaultHasher`).
pub fn fingerprint(pairs: &[crate::Pair]) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for p in pairs {
        for b in p
            .source
            .bytes()
            .chain([0u8])
            .chain(p.target.bytes())
            .chain([1u8])
        {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
    }
    format!("{h:016x}")
}
