//! The authors' released data (`tli_project/` at commit e158b76): checked against the committed
//! SHA-256 sums, then summarised. No model is needed for anything here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{bail, Context, Result};
use lexalign_data::{parse_sums, read_layer_alignment, Group};
use lexalign_run::{sha256_file, write_atomic};
use lexalign_stats::PairedSummary;
use serde::{Deserialize, Serialize};

use crate::eval::{read_quantitative, EvalRow, EvalStats};
use crate::run::{PAIRS_FILE, SUMMARY_FILE};

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
}

/// The summary plus the per-pair rows (the rows go to the git-ignored run folder only).
pub struct PaperData {
    pub summary: PublishedSummary,
    pub rows: Vec<EvalRow>,
}

#[derive(Deserialize)]
struct Pair {
    swahili: String,
    english: String,
}

fn read_pairs(path: &Path) -> Result<Vec<Pair>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: expected a JSON list of {{\"swahili\": .., \"english\": ..}}",
            path.display()
        )
    })
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

fn read_adapter(path: &Path) -> Result<Adapter> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    let field = |k: &str| {
        v.get(k)
            .with_context(|| format!("{}: no field {k}", path.display()))
    };
    let mut target_modules: Vec<String> = field("target_modules")?
        .as_array()
        .with_context(|| format!("{}: target_modules is not a list", path.display()))?
        .iter()
        .filter_map(|m| m.as_str().map(str::to_string))
        .collect();
    target_modules.sort();
    Ok(Adapter {
        base_model: field("base_model_name_or_path")?
            .as_str()
            .unwrap_or_default()
            .to_string(),
        r: field("r")?
            .as_u64()
            .with_context(|| format!("{}: r is not an integer", path.display()))?,
        lora_alpha: field("lora_alpha")?.as_f64().unwrap_or(f64::NAN),
        lora_dropout: field("lora_dropout")?.as_f64().unwrap_or(f64::NAN),
        target_modules,
        bias: field("bias")?.as_str().unwrap_or_default().to_string(),
    })
}

/// Verify and summarise the authors' data in `dir` (the `tli_project` folder).
pub fn analyse_paper_data(dir: &Path, sums_text: &str) -> Result<PaperData> {
    let sums = parse_sums(sums_text, "paper-data sums")?;
    let files = [
        TRAIN_PAIRS,
        CONTROL_PAIRS,
        PILOT_CSV,
        EVAL_CSV,
        ADAPTER_CONFIG,
    ]
    .iter()
    .map(|rel| verified(dir, rel, &sums))
    .collect::<Result<Vec<_>>>()?;

    let pilot = read_pilot(&dir.join(PILOT_CSV))?;
    let rows = read_quantitative(dir.join(EVAL_CSV))?;
    let eval = EvalStats::compute(&rows)?;
    let trained = read_pairs(&dir.join(TRAIN_PAIRS))?;
    let control = read_pairs(&dir.join(CONTROL_PAIRS))?;
    let adapter = read_adapter(&dir.join(ADAPTER_CONFIG))?;

    let set = |v: &[Pair], f: fn(&Pair) -> String| v.iter().map(f).collect::<BTreeSet<String>>();
    let (ts, cs) = (
        set(&trained, |p| p.swahili.clone()),
        set(&control, |p| p.swahili.clone()),
    );
    let (te, ce) = (
        set(&trained, |p| p.english.clone()),
        set(&control, |p| p.english.clone()),
    );
    let pair = |p: &Pair| format!("{} -> {}", p.swahili, p.english);
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
            .map(|p| (p.swahili.as_str(), p.english.as_str()))
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
        },
        rows,
    })
}

fn csv_bytes(header: &[&str], rows: Vec<Vec<String>>) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header)?;
    for r in rows {
        w.write_record(&r)?;
    }
    w.into_inner().context("csv buffer")
}

/// Write `summary.json`, `pairs.csv` (run folder only), `layers.csv`, `groups.csv`, `gain_welch.csv` and
/// `shared_strings.csv` into a published-data stage folder. (`provenance.json` is the caller's.)
pub fn write_stage(data: &PaperData, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let s = &data.summary;
    let mut json = serde_json::to_string_pretty(s).context("serialising summary")?;
    json.push('\n');
    write_atomic(out.join(SUMMARY_FILE), json)?;

    // Per-pair rows in the evaluation format (run folder only; git-ignored, never committed).
    let rows = data
        .rows
        .iter()
        .map(|r| {
            vec![
                r.swahili.clone(),
                r.english.clone(),
                num(r.sim_pre_tli),
                num(r.sim_post_tli),
                r.group.as_str().to_string(),
                num(r.improvement),
            ]
        })
        .collect();
    write_atomic(
        out.join(PAIRS_FILE),
        csv_bytes(
            &[
                "swahili",
                "english",
                "sim_pre_tli",
                "sim_post_tli",
                "group",
                "improvement",
            ],
            rows,
        )?,
    )?;

    let layers = s
        .pilot
        .layers
        .iter()
        .map(|l| vec![l.layer.to_string(), num(l.avg_cosine)])
        .collect();
    write_atomic(
        out.join("layers.csv"),
        csv_bytes(&["layer", "avg_cosine"], layers)?,
    )?;

    let groups = vec![
        group_row("trained", &s.eval.trained),
        group_row("control", &s.eval.control),
    ];
    write_atomic(out.join("groups.csv"), csv_bytes(GROUP_HEADER, groups)?)?;

    let w = &s.eval.gain_welch;
    write_atomic(
        out.join("gain_welch.csv"),
        csv_bytes(
            &["test", "t", "df", "p"],
            vec![vec![
                "welch_gain_trained_vs_control".into(),
                num(w.t),
                num(w.df),
                num(w.p),
            ]],
        )?,
    )?;

    let mut shared = Vec::new();
    for x in &s.pairs.shared_swahili {
        shared.push(vec!["swahili".to_string(), x.clone()]);
    }
    for x in &s.pairs.shared_english {
        shared.push(vec!["english".to_string(), x.clone()]);
    }
    for x in &s.pairs.shared_pairs {
        shared.push(vec!["pair".to_string(), x.clone()]);
    }
    write_atomic(
        out.join("shared_strings.csv"),
        csv_bytes(&["side", "string"], shared)?,
    )?;
    Ok(())
}

const GROUP_HEADER: &[&str] = &[
    "set",
    "n",
    "pre_mean",
    "pre_sd",
    "post_mean",
    "post_sd",
    "diff_mean",
    "diff_sd",
    "percent_change",
    "t",
    "df",
    "p",
    "wilcoxon_w",
    "wilcoxon_p",
    "wilcoxon_method",
    "cohens_dz",
    "ci95_low",
    "ci95_high",
    "n_improved",
];

/// One set's statistics as a CSV row (full precision; the report rounds).
fn group_row(name: &str, g: &PairedSummary) -> Vec<String> {
    let method = format!("{:?}", g.wilcoxon.method).to_lowercase();
    vec![
        name.to_string(),
        g.n.to_string(),
        num(g.mean_pre),
        num(g.sd_pre),
        num(g.mean_post),
        num(g.sd_post),
        num(g.mean_diff),
        num(g.sd_diff),
        num(g.percent_change),
        num(g.ttest.t),
        num(g.ttest.df),
        num(g.ttest.p),
        num(g.wilcoxon.statistic),
        num(g.wilcoxon.p),
        method,
        num(g.cohens_dz),
        num(g.ci95_low),
        num(g.ci95_high),
        g.n_improved.to_string(),
    ]
}

/// Shortest round-trip text of a float, in scientific notation when tiny (`1.332e-240`, not 240 zeros).
fn num(x: f64) -> String {
    serde_json::to_string(&x).unwrap_or_else(|_| "NaN".into())
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
