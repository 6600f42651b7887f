//! The files of the published-data stage (`runs/<id>/published-data/`), as bytes: what the
//! `published-data` experiment writes and the report reads back ([`crate::PublishedSummary`]
//! from `summary.json`, the per-pair rows from `pairs.csv`).

use anyhow::{Context, Result};
use lexalign_stats::PairedSummary;

use crate::analysis::PaperData;

/// The stage's folder in a run.
pub const PUBLISHED_DIR: &str = "published-data";
pub const SUMMARY_FILE: &str = "summary.json";
/// Per-pair rows of the authors' results, in the evaluation CSV format (run folder only, never committed).
pub const PAIRS_FILE: &str = "pairs.csv";

fn csv_bytes(header: &[&str], rows: Vec<Vec<String>>) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header)?;
    for r in rows {
        w.write_record(&r)?;
    }
    w.into_inner().context("csv buffer")
}

/// `summary.json`, `pairs.csv` (run folder only), `layers.csv`, `groups.csv`, `gain_welch.csv` and
/// `shared_strings.csv`: (file name, bytes), in that order. (`provenance.json` is the writer's.)
pub fn stage_files(data: &PaperData) -> Result<Vec<(&'static str, Vec<u8>)>> {
    let mut files = Vec::new();
    let s = &data.summary;
    let mut json = serde_json::to_string_pretty(s).context("serialising summary")?;
    json.push('\n');
    files.push((SUMMARY_FILE, json.into_bytes()));

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
    files.push((
        PAIRS_FILE,
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
    ));

    let layers = s
        .pilot
        .layers
        .iter()
        .map(|l| vec![l.layer.to_string(), num(l.avg_cosine)])
        .collect();
    files.push(("layers.csv", csv_bytes(&["layer", "avg_cosine"], layers)?));

    let groups = vec![
        group_row("trained", &s.eval.trained),
        group_row("control", &s.eval.control),
    ];
    files.push(("groups.csv", csv_bytes(GROUP_HEADER, groups)?));

    let w = &s.eval.gain_welch;
    files.push((
        "gain_welch.csv",
        csv_bytes(
            &["test", "t", "df", "p"],
            vec![vec![
                "welch_gain_trained_vs_control".into(),
                num(w.t),
                num(w.df),
                num(w.p),
            ]],
        )?,
    ));

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
    files.push((
        "shared_strings.csv",
        csv_bytes(&["side", "string"], shared)?,
    ));
    Ok(files)
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
