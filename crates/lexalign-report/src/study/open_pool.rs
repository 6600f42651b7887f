//! The open-pool stage of a language pair (`<koen|swen>-open-pool/`, `lang-study open-pool`,
//! issue 31): reading `open_pool.csv`, `<adapter>/breakdown.csv` and `summary.json`, the values
//! (`<pair>.open.*` keys), the layer-wise count against chance with Holm's correction across
//! hidden states, and the report's tables (open-pool P@1 both directions, the closed pool as a
//! secondary column; the held-out breakdowns).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use lexalign_data::open_pool_rows::{BreakdownRow, OpenPoolRow};

use super::render::{f3, pv};
use crate::values::Values;

/// One pair's open-pool stage.
#[derive(Debug, Clone, Default)]
pub struct OpenPool {
    pub rows: Vec<OpenPoolRow>,
    /// (adapter label, its breakdown rows).
    pub breakdowns: Vec<(String, Vec<BreakdownRow>)>,
    pub summary: serde_json::Value,
}

fn read_csv<T: for<'de> serde::Deserialize<'de>>(path: &Path) -> Result<Vec<T>> {
    let mut rdr =
        csv::Reader::from_path(path).with_context(|| format!("cannot open {}", path.display()))?;
    rdr.deserialize()
        .enumerate()
        .map(|(i, r)| {
            r.with_context(|| format!("{}: bad row at data line {}", path.display(), i + 1))
        })
        .collect()
}

impl OpenPool {
    /// `None` when the stage did not run (`open_pool.csv` absent).
    pub fn read(dir: &Path) -> Result<Option<Self>> {
        if !dir.join("open_pool.csv").is_file() {
            return Ok(None);
        }
        let rows: Vec<OpenPoolRow> = read_csv(&dir.join("open_pool.csv"))?;
        let mut labels: Vec<&str> = rows
            .iter()
            .map(|r| r.model.as_str())
            .filter(|m| *m != "frozen")
            .collect();
        labels.dedup();
        let mut breakdowns = Vec::new();
        for l in labels {
            let f = dir.join(l).join("breakdown.csv");
            if f.is_file() {
                breakdowns.push((l.to_string(), read_csv(&f)?));
            }
        }
        let sf = dir.join("summary.json");
        let summary = if sf.is_file() {
            let t = std::fs::read_to_string(&sf)
                .with_context(|| format!("cannot read {}", sf.display()))?;
            serde_json::from_str(&t)
                .with_context(|| format!("{} is not valid JSON", sf.display()))?
        } else {
            serde_json::Value::Null
        };
        Ok(Some(Self {
            rows,
            breakdowns,
            summary,
        }))
    }

    pub fn row(
        &self,
        model: &str,
        set: &str,
        direction: &str,
        layer: usize,
    ) -> Option<&OpenPoolRow> {
        self.rows.iter().find(|r| {
            r.model == model && r.set == set && r.direction == direction && r.layer == layer
        })
    }

    /// The adapters with their trained hidden state.
    pub fn adapters(&self) -> Vec<(&str, usize)> {
        let mut v: Vec<(&str, usize)> = self
            .rows
            .iter()
            .filter(|r| r.model != "frozen")
            .map(|r| (r.model.as_str(), r.layer))
            .collect();
        v.dedup();
        v
    }

    /// The two directions, query language first (`ko-en`, `en-ko`).
    pub fn directions(&self) -> Vec<&str> {
        let mut v: Vec<&str> = Vec::new();
        for r in &self.rows {
            if !v.contains(&r.direction.as_str()) {
                v.push(&r.direction);
            }
        }
        v
    }
}

/// Holm-corrected count of the frozen model's hidden states whose held-out open-pool CSLS P@1
/// beats chance (1 / pool size; one-sided exact binomial test per hidden state): (significant
/// at alpha 0.05, tested, the largest adjusted p among the significant ones).
pub fn layers_above_chance(op: &OpenPool, direction: &str) -> Result<(usize, usize, Option<f64>)> {
    let rows: Vec<&OpenPoolRow> = op
        .rows
        .iter()
        .filter(|r| r.model == "frozen" && r.set == "held-out" && r.direction == direction)
        .collect();
    let p = rows
        .iter()
        .map(|r| {
            lexalign_stats::binom_greater_p(
                (r.p1_csls * r.n_queries as f64).round() as u64,
                r.n_queries as u64,
                1.0 / r.n_pool as f64,
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let adj = lexalign_stats::holm(&p)?;
    let sig: Vec<f64> = adj.iter().copied().filter(|&a| a < 0.05).collect();
    Ok((sig.len(), rows.len(), sig.iter().copied().reduce(f64::max)))
}

/// `<key>.open.<model>.<set>.<direction>.{p1,p1_closed,p10}` at the adapters' hidden states, and
/// `<key>.open.chance_layers.<direction>` / `.layers_tested`.
pub fn values(v: &mut Values, key: &str, op: &OpenPool) {
    for (label, layer) in op.adapters() {
        let short = if label.ends_with("-best") {
            "best"
        } else {
            "l2"
        };
        for r in op
            .rows
            .iter()
            .filter(|r| r.layer == layer && (r.model == label || r.model == "frozen"))
        {
            let who = if r.model == "frozen" {
                format!("{short}.before")
            } else {
                format!("{short}.after")
            };
            let k = format!(
                "{key}.open.{who}.{}.{}",
                r.set.replace('-', "_"),
                r.direction.replace('-', "_")
            );
            v.insert(format!("{k}.p1"), crate::values::Val::Num(r.p1_csls));
            v.insert(format!("{k}.p10"), crate::values::Val::Num(r.p10_csls));
            v.insert(
                format!("{k}.p1_closed"),
                crate::values::Val::Num(r.closed_p1_csls),
            );
            if r.model != "frozen" {
                v.insert(
                    format!("{k}.gained"),
                    crate::values::Val::Num(r.gained as f64),
                );
                v.insert(format!("{k}.lost"), crate::values::Val::Num(r.lost as f64));
                v.insert(
                    format!("{k}.mcnemar_p"),
                    crate::values::Val::Num(lexalign_stats::mcnemar_exact_p(
                        r.gained as u64,
                        r.lost as u64,
                    )),
                );
            }
        }
    }
    for d in op.directions() {
        if let Ok((n, m, _)) = layers_above_chance(op, d) {
            v.insert(
                format!("{key}.open.chance_layers.{}", d.replace('-', "_")),
                crate::values::Val::Num(n as f64),
            );
            v.insert(
                format!("{key}.open.layers_tested.{}", d.replace('-', "_")),
                crate::values::Val::Num(m as f64),
            );
        }
    }
}

/// The section: pool sizes, the Holm sentence, the before/after table and the breakdowns.
pub fn open_pool_md(op: &OpenPool) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "### Open-pool retrieval\n");
    let first = op.rows.first();
    let _ = writeln!(
        s,
        "Every set ranks one candidate pool per direction (the words of every set on that side plus other words of the language from the lexicons and corpora; {} candidates on the first direction's pool), and the centring mean and CSLS's neighbourhood terms come from a reference vocabulary of {} words per language that holds no test word (`lang-study open-pool`). The closed pool (the set's own targets, statistics from the set, as above) is the secondary column.\n",
        first.map_or(0, |r| r.n_pool),
        first.map_or(0, |r| r.n_reference)
    );
    for d in op.directions() {
        if let Ok((n, m, worst)) = layers_above_chance(op, d) {
            let _ = writeln!(s, "- {d}: the frozen model's held-out open-pool CSLS P@1 beats chance (1 / pool size, one-sided exact binomial test) at {n} of {m} hidden states after Holm's correction across hidden states (alpha 0.05{}).", worst.map(|w| format!("; largest adjusted p {}", pv(Some(w)))).unwrap_or_default());
        }
    }
    s.push('\n');
    s.push_str(&table_md(op));
    s.push_str(&breakdown_md(op));
    s
}

fn table_md(op: &OpenPool) -> String {
    let mut s = String::from("| adapter | hidden state | set | direction | open P@1 before | open P@1 after | open P@10 before | open P@10 after | closed P@1 before | closed P@1 after | right only after / only before | McNemar p |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (label, layer) in op.adapters() {
        for r in op
            .rows
            .iter()
            .filter(|r| r.model == label && r.layer == layer)
        {
            let Some(b) = op.row("frozen", &r.set, &r.direction, layer) else {
                continue;
            };
            let p = lexalign_stats::mcnemar_exact_p(r.gained as u64, r.lost as u64);
            let _ = writeln!(
                s,
                "| {label} | {layer} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} | {} |",
                r.set,
                r.direction,
                f3(b.p1_csls),
                f3(r.p1_csls),
                f3(b.p10_csls),
                f3(r.p10_csls),
                f3(b.closed_p1_csls),
                f3(r.closed_p1_csls),
                r.gained,
                r.lost,
                pv(Some(p))
            );
        }
    }
    s.push('\n');
    s
}

fn breakdown_md(op: &OpenPool) -> String {
    let mut s = String::new();
    for (label, rows) in &op.breakdowns {
        let _ = writeln!(s, "Held-out open-pool CSLS P@1 (source to English) before and after `{label}`, by kengdic frequency level (A-D) and part-of-speech code (ko-en only), the source word's token count, loanword status (consonant skeletons of the Revised-Romanized word and its English gold within edit distance 1) and how many of its tokens occur in the training pairs' words:\n");
        s.push_str("| factor | level | n | P@1 before | P@1 after |\n|---|---|---|---|---|\n");
        for r in rows {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                r.factor,
                r.level,
                r.n,
                f3(r.p1_before),
                f3(r.p1_after)
            );
        }
        s.push('\n');
    }
    if let Some(share) = op
        .summary
        .get("held_out_token_share_seen_in_training")
        .and_then(|x| x.as_f64())
    {
        let _ = writeln!(
            s,
            "Of the held-out source words' tokens, {} occur in the training pairs' words.\n",
            f3(share)
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(model: &str, layer: usize, hits: f64) -> OpenPoolRow {
        OpenPoolRow {
            model: model.into(),
            set: "held-out".into(),
            direction: "ko-en".into(),
            layer,
            n_queries: 100,
            n_pool: 5000,
            n_reference: 1000,
            p1_nn: 0.0,
            p5_nn: 0.0,
            p10_nn: 0.0,
            p1_csls: hits / 100.0,
            p5_csls: 0.0,
            p10_csls: 0.0,
            closed_p1_csls: 0.5,
            closed_n_pool: 100,
            gained: 0,
            lost: 0,
        }
    }

    #[test]
    fn holm_count_drops_a_layer_an_uncorrected_test_would_keep() {
        // 1 hit of 100 at chance 1/5000: p = 0.0198, below 0.05 alone but not after Holm over 4
        // (0.0198 x 3 = 0.059).
        let op = OpenPool {
            rows: vec![
                row("frozen", 0, 0.0),
                row("frozen", 1, 1.0),
                row("frozen", 2, 10.0),
                row("frozen", 3, 0.0),
            ],
            ..Default::default()
        };
        let (n, m, worst) = layers_above_chance(&op, "ko-en").unwrap();
        assert_eq!((n, m), (1, 4));
        assert!(worst.unwrap() < 1e-20);
        let md = open_pool_md(&op);
        assert!(
            md.contains("at 1 of 4 hidden states after Holm's correction"),
            "{md}"
        );
    }
}
