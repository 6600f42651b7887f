//! The authors' released data (`tli_project/` at commit e158b76): checked against the committed
//! SHA-256 sums, then summarised. No model is needed for anything here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{bail, Context, Result};
use lexalign_data::{parse_sums, read_layer_alignment, read_pairs, Group, Pair};
use lexalign_lora_config::LoraConfig;
use lexalign_run::sha256_file;
use serde::{Deserialize, Serialize};

use crate::eval::{read_quantitative, EvalRow, EvalStats};

/// Where the data comes from (the paper-data README).
pub const SOURCE: &str = "StanNgugi/tli_project @ e158b764740d27effd1250b00bbf543690c0fe56";

/// The committed sums (`paper/paper-data.sha256`, `sha256sum` format, paths relative to `tli_project/`).
pub use lexalign_data::PAPER_SUMS as DEFAULT_SUMS;
/// The authors' files, relative to `tli_project/` (defined once, in `lexalign-data`).
pub use lexalign_data::{
    ADAPTER_CONFIG, CONTROL_PAIRS, LAYER_ALIGNMENT as PILOT_CSV, QUANTITATIVE_RESULTS as EVAL_CSV,
    TRAINING_PAIRS as TRAIN_PAIRS,
};

/// A file and its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSum {
    pub path: String,
    pub sha256: String,
}

/// Hash `dir/rel` and compare with the expected sum; errors say what to do.
fn verified(dir: &Path, rel: &str, sums: &BTreeMap<String, String>) -> Result<FileSum> {
    let path = dir.join(rel);
    let want = sums
        .get(rel)
        .with_context(|| format!("no SHA-256 for {rel} in the sums file"))?;
    if !path.is_file() {
        bail!(
            "missing {}: point --paper-data at the `tli_project` folder of the authors' data \
             (StanNgugi/tli_project at commit e158b76; `cargo xtask setup` fetches and checks it)",
            path.display()
        );
    }
    let got = sha256_file(&path)?;
    if &got != want {
        bail!(
            "SHA-256 mismatch for {}: got {got}, expected {want}; the file is not the authors' \
             released version (re-fetch it from {SOURCE})",
            path.display()
        );
    }
    Ok(FileSum {
        path: rel.to_string(),
        sha256: got,
    })
}

/// One row of the authors' pilot table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerRow {
    pub layer: usize,
    pub avg_cosine: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pilot {
    pub layers: Vec<LayerRow>,
    pub peak_layer: usize,
    pub peak: f64,
}

/// Facts about the two pair lists (is the control set really unseen?).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairSets {
    pub n_trained: usize,
    pub n_control: usize,
    pub unique_swahili_trained: usize,
    pub unique_english_trained: usize,
    /// Pairs (`swahili -> english`) present in both lists.
    pub shared_pairs: Vec<String>,
    /// Swahili / English strings present in both lists.
    pub shared_swahili: Vec<String>,
    pub shared_english: Vec<String>,
    /// The results CSV lists exactly the JSON pairs, in order, per group.
    pub csv_matches_json: bool,
}

/// The released LoRA adapter configuration (weights were not released).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adapter {
    pub base_model: String,
    pub r: u64,
    pub lora_alpha: f64,
    pub lora_dropout: f64,
    pub target_modules: Vec<String>,
    pub bias: String,
}

/// `published-data/summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishedSummary {
    pub source: String,
    pub files: Vec<FileSum>,
    pub pilot: Pilot,
    pub eval: EvalStats,
    pub pairs: PairSets,
    pub adapter: Adapter,
    /// The audit of the released probe (script 05); absent when the lexicons or corpora it
    /// needs for its vocabulary were not found, or in a summary written before it existed.
    #[serde(default)]
    pub probe: Option<crate::probe::ProbeAudit>,
}

/// The summary plus the per-pair rows (the rows go to the git-ignored run folder only).
pub struct PaperData {
    pub summary: PublishedSummary,
    pub rows: Vec<EvalRow>,
}

fn read_pilot(path: &Path) -> Result<Pilot> {
    let layers: Vec<LayerRow> = read_layer_alignment(path)?
        .into_iter()
        .map(|l| LayerRow {
            layer: l.layer,
            avg_cosine: l.avg_cosine_similarity,
        })
        .collect();
    let peak = layers
        .iter()
        .max_by(|a, b| a.avg_cosine.total_cmp(&b.avg_cosine))
        .with_context(|| format!("{}: no layers", path.display()))?;
    Ok(Pilot {
        peak_layer: peak.layer,
        peak: peak.avg_cosine,
        layers,
    })
}

/// The adapter's settings as peft wrote them (read with lexalign-lora-config's `LoraConfig`).
fn read_adapter(path: &Path) -> Result<Adapter> {
    let cfg = LoraConfig::from_file(path)?;
    let mut target_modules = cfg.target_modules;
    target_modules.sort();
    Ok(Adapter {
        base_model: cfg.base_model_name_or_path.unwrap_or_default(),
        r: cfg.r as u64,
        lora_alpha: cfg.lora_alpha,
        lora_dropout: cfg.lora_dropout,
        target_modules,
        bias: cfg.bias,
    })
}

/// The probe audit over the vocabulary of the lexicons, the corpora and the paper's pairs.
fn probe_audit(
    dir: &Path,
    trained: &[Pair],
    control: &[Pair],
) -> Result<Option<crate::probe::ProbeAudit>> {
    let rows = lexalign_data::read_probe(dir.join(lexalign_data::PROBE_RESULTS))?;
    let pairs: Vec<Pair> = trained.iter().chain(control).cloned().collect();
    match crate::probe::Vocabulary::locate(&pairs)? {
        Some(v) => Ok(Some(crate::probe::audit(&rows, &v)?)),
        None => Ok(None),
    }
}

/// Verify and summarise the authors' data in `dir` (the `tli_project` folder).
pub fn analyse_paper_data(dir: &Path, sums_text: &str) -> Result<PaperData> {
    let sums = parse_sums(sums_text, "paper-data sums")?;
    let files = lexalign_data::RELEASED_FILES
        .iter()
        .map(|rel| verified(dir, rel, &sums))
        .collect::<Result<Vec<_>>>()?;

    let pilot = read_pilot(&dir.join(PILOT_CSV))?;
    let rows = read_quantitative(dir.join(EVAL_CSV))?;
    let eval = EvalStats::compute(&rows)?;
    let trained = read_pairs(dir.join(TRAIN_PAIRS))?.pairs;
    let control = read_pairs(dir.join(CONTROL_PAIRS))?.pairs;
    let adapter = read_adapter(&dir.join(ADAPTER_CONFIG))?;
    let probe = probe_audit(dir, &trained, &control)?;

    let set = |v: &[Pair], f: fn(&Pair) -> String| v.iter().map(f).collect::<BTreeSet<String>>();
    let (ts, cs) = (
        set(&trained, |p| p.source.clone()),
        set(&control, |p| p.source.clone()),
    );
    let (te, ce) = (
        set(&trained, |p| p.target.clone()),
        set(&control, |p| p.target.clone()),
    );
    let pair = |p: &Pair| format!("{} -> {}", p.source, p.target);
    let tp: BTreeSet<String> = trained.iter().map(pair).collect();
    let cp: BTreeSet<String> = control.iter().map(pair).collect();
    let same = |g: Group, list: &[Pair]| {
        let csv: Vec<(&str, &str)> = rows
            .iter()
            .filter(|r| r.group == g)
            .map(|r| (r.swahili.as_str(), r.english.as_str()))
            .collect();
        let json: Vec<(&str, &str)> = list
            .iter()
            .map(|p| (p.source.as_str(), p.target.as_str()))
            .collect();
        csv == json
    };
    let pairs = PairSets {
        n_trained: trained.len(),
        n_control: control.len(),
        unique_swahili_trained: ts.len(),
        unique_english_trained: te.len(),
        shared_pairs: tp.intersection(&cp).cloned().collect(),
        shared_swahili: ts.intersection(&cs).cloned().collect(),
        shared_english: te.intersection(&ce).cloned().collect(),
        csv_matches_json: same(Group::Trained, &trained) && same(Group::Control, &control),
    };
    Ok(PaperData {
        summary: PublishedSummary {
            source: SOURCE.to_string(),
            files,
            pilot,
            eval,
            pairs,
            adapter,
            probe,
        },
        rows,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn source_names_the_commit_lexalign_data_checks() {
        let want = format!(
            "{} @ {}",
            lexalign_data::PAPER_REPO,
            lexalign_data::PAPER_COMMIT
        );
        assert_eq!(super::SOURCE, want);
    }
}
