//! LASER-2 in a language pair's section: what is missing without Meta's weights, and the linear
//! CKA table (`cka.csv` of the scan and of each adapter's evaluation) when they were given.

use std::fmt::Write as _;

use super::{f3, s3};
use crate::study::load::{PairStudy, EVAL_POOLING};

/// Hidden states of the CKA table: the highest-CKA ones, then each adapter's target layer.
const TOP_LAYERS: usize = 3;

pub(super) fn laser_md(s: &mut String, p: &PairStudy) {
    let has = p.scan.as_ref().is_some_and(|sc| sc.laser.is_some());
    if !has {
        let _ = writeln!(
            s,
            "LASER-2, the reference sentence encoder, is not measured in this run: it needs Meta's LASER-2 weights, which \
             `cargo xtask setup` never downloads. Get the three files as the README's \"LASER-2 reference encoder\" section \
             says and set `$LEXALIGN_LASER` to their folder: `cargo xtask reproduce` then passes `--laser` to `{}` and \
             `{}`, which add LASER-2's own alignment of the held-out pairs and the linear CKA of every hidden state against \
             LASER-2, before and after each adapter, and the report adds those rows and tables.\n",
            p.pair.scan_stage(),
            p.pair.eval_stage()
        );
    }
    let table = cka_table_md(p);
    if !table.is_empty() {
        let model = p.model().unwrap_or_else(|| "the model".into());
        let _ = writeln!(
            s,
            "Linear CKA (Kornblith et al. 2019) between {model}'s `{EVAL_POOLING}` word vectors and LASER-2's vectors of the same \
             words: 1 is the same geometry up to rotation and scale. `both` stacks the {} and English words; the adapter \
             columns are the held-out pairs (both sides) before → after TLI.\n",
            p.pair.source_language()
        );
        for a in &p.adapters {
            let (Some(e), Some(t)) = (&a.eval, a.target_layer()) else {
                continue;
            };
            if let Some(c) = e.cka("held-out", "both", t) {
                let way = if c.delta > 0.0 {
                    "toward"
                } else if c.delta < 0.0 {
                    "away from"
                } else {
                    "neither toward nor away from"
                };
                let _ = writeln!(
                    s,
                    "TLI at hidden state {t} (`{}`) moved the held-out words' geometry there {way} LASER-2's: CKA {} → {} ({}).\n",
                    a.stage, f3(c.cka_before), f3(c.cka_after), s3(c.delta)
                );
            }
        }
        s.push_str(&table);
        s.push('\n');
    }
}

/// (layer, why) rows of the CKA table: the [`TOP_LAYERS`] highest scan CKA (both sides; ties:
/// the lowest layer), else the highest before-TLI held-out CKA, then the adapters' target layers.
fn cka_layers(p: &PairStudy) -> Vec<(usize, String)> {
    let mut ranked: Vec<(usize, f64)> = match p.scan.as_ref().and_then(|s| s.cka.as_ref()) {
        Some(rows) => rows
            .iter()
            .filter(|r| r.pooling == EVAL_POOLING && r.side == "both")
            .map(|r| (r.layer, r.cka))
            .collect(),
        None => p
            .adapters
            .iter()
            .find_map(|a| a.eval.as_ref()?.cka.as_ref())
            .map(|rows| {
                rows.iter()
                    .filter(|r| r.set == "held-out" && r.side == "both")
                    .map(|r| (r.layer, r.cka_before))
                    .collect()
            })
            .unwrap_or_default(),
    };
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut out: Vec<(usize, String)> = ranked
        .iter()
        .take(TOP_LAYERS)
        .map(|(l, _)| (*l, "high CKA".to_string()))
        .collect();
    for a in &p.adapters {
        if let Some(t) = a.target_layer() {
            match out.iter_mut().find(|(l, _)| *l == t) {
                Some((_, why)) if !why.contains(&a.stage) => {
                    why.push_str(&format!("; `{}` target", a.stage))
                }
                Some(_) => {}
                None => out.push((t, format!("`{}` target", a.stage))),
            }
        }
    }
    out.sort_by_key(|(l, _)| *l);
    out
}

/// The CKA table; empty when no stage wrote `cka.csv`. Every number is read from the files.
pub fn cka_table_md(p: &PairStudy) -> String {
    let mut s = String::new();
    if !p.has_cka() {
        return s;
    }
    let evals: Vec<_> = p
        .adapters
        .iter()
        .filter_map(|a| a.eval.as_ref().filter(|e| e.cka.is_some()).map(|e| (a, e)))
        .collect();
    s.push_str("| hidden state | CKA source | CKA target | CKA both |");
    for (a, _) in &evals {
        let _ = write!(s, " `{}`: held-out before → after (change) |", a.stage);
    }
    s.push_str(&format!(
        "\n|---|---|---|---|{}\n",
        "---|".repeat(evals.len())
    ));
    let scan = p.scan.as_ref().and_then(|sc| sc.cka.as_ref());
    for (layer, why) in cka_layers(p) {
        let get = |side: &str| {
            scan.and_then(|rows| {
                rows.iter()
                    .find(|r| r.pooling == EVAL_POOLING && r.layer == layer && r.side == side)
            })
            .map_or(f64::NAN, |r| r.cka)
        };
        let _ = write!(
            s,
            "| {layer} ({why}) | {} | {} | {} |",
            f3(get("source")),
            f3(get("target")),
            f3(get("both"))
        );
        for (_, e) in &evals {
            match e.cka("held-out", "both", layer) {
                Some(c) => {
                    let _ = write!(
                        s,
                        " {} → {} ({}) |",
                        f3(c.cka_before),
                        f3(c.cka_after),
                        s3(c.delta)
                    );
                }
                None => s.push_str(" — |"),
            }
        }
        s.push('\n');
    }
    s
}
