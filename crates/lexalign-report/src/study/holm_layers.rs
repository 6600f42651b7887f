//! Layer-wise claims with a correction across hidden states (issue 31): per hidden state of a
//! scan (`mean-content` rows), a one-sided exact binomial test of centred CSLS P@1 against
//! chance (1 / candidates, the report's chance line), Holm-adjusted over the hidden states
//! (`lexalign_stats::holm`). Keys `<p>.holm.layers_above_chance` and `<p>.holm.layers_tested`,
//! for every sentence of the form "at N of M hidden states".

use super::load::{Scan, EVAL_POOLING};
use super::values::chance;
use crate::values::{Val, Values};

/// (hidden states whose Holm-adjusted p < 0.05, hidden states tested); `None` when a row lacks
/// the counts the test needs.
pub fn holm_above_chance(s: &Scan) -> Option<(usize, usize)> {
    let rows = s.pooling(EVAL_POOLING);
    let p = rows
        .iter()
        .map(|r| {
            let n = r.get("n_sources");
            let k = (r.get("centered_p1_csls") * n).round();
            if !(n.is_finite() && k.is_finite() && n >= 1.0) {
                return None;
            }
            lexalign_stats::binom_greater_p(k as u64, n as u64, chance(r)).ok()
        })
        .collect::<Option<Vec<f64>>>()?;
    let adj = lexalign_stats::holm(&p).ok()?;
    Some((adj.iter().filter(|&&a| a < 0.05).count(), rows.len()))
}

/// The two keys under prefix `p` (e.g. `koen.scan`, `koen.negctl`).
pub fn holm_values(v: &mut Values, p: &str, s: &Scan) {
    if let Some((n, m)) = holm_above_chance(s) {
        v.insert(format!("{p}.holm.layers_above_chance"), Val::Num(n as f64));
        v.insert(format!("{p}.holm.layers_tested"), Val::Num(m as f64));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::study::load::ScanRow;

    fn row(layer: usize, p1: f64) -> ScanRow {
        let cols = [
            ("centered_p1_csls", p1),
            ("n_sources", 100.0),
            ("n_candidates", 5000.0),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        ScanRow {
            layer,
            pooling: EVAL_POOLING.into(),
            cols,
        }
    }

    #[test]
    fn holm_drops_a_layer_that_passes_uncorrected() {
        // 1 hit of 100 at chance 1/5000: p = 0.0198 alone, 0.059 after Holm over 4 hidden states.
        let s = Scan {
            summary: serde_json::Value::Null,
            rows: vec![row(0, 0.0), row(1, 0.01), row(2, 0.1), row(3, 0.0)],
        };
        assert_eq!(holm_above_chance(&s), Some((1, 4)));
        let one = Scan {
            summary: serde_json::Value::Null,
            rows: vec![row(1, 0.01)],
        };
        assert_eq!(holm_above_chance(&one), Some((1, 1)));
    }
}
