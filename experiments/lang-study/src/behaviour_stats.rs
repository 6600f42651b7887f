//! The summaries of `lang-study behaviour`: per (model, language) LM loss and per (model,
//! direction, shots) translation scores, each with a 95 % paired percentile bootstrap interval of
//! model − base over the same sentences or prompts (lexalign-metrics' `ratio_cis`, seeded), and
//! the logit lens per hidden state (median gold rank, mean script masses).

use anyhow::{bail, Result};
use lexalign_data::behaviour_rows::{
    BehaviourLmRow, LensRow, LmSummaryRow, TranslationRow, TranslationSummaryRow,
};
use lexalign_metrics::bootstrap::ratio_cis;
use std::f64::consts::LN_2;

/// The label of the model without an adapter.
pub const BASE: &str = "base";

fn of<T>(rows: &[T], keep: impl Fn(&T) -> bool) -> Vec<&T> {
    rows.iter().filter(|r| keep(r)).collect()
}

/// One row per (model, language) in the order of `models` then `langs`.
pub fn lm_summaries(
    rows: &[BehaviourLmRow],
    models: &[String],
    langs: &[&str],
    b: usize,
    seed: u64,
) -> Result<Vec<LmSummaryRow>> {
    let mut out = Vec::new();
    for m in models {
        for &lang in langs {
            let base = of(rows, |r| r.model == BASE && r.lang == lang);
            let mine = of(rows, |r| &r.model == m && r.lang == lang);
            if mine.is_empty()
                || mine.len() != base.len()
                || mine
                    .iter()
                    .zip(&base)
                    .any(|(a, b)| a.index != b.index || a.bytes != b.bytes)
            {
                bail!("lm_loss rows of `{m}` ({lang}) do not pair with the base's: {} vs {} sentences", mine.len(), base.len());
            }
            let bytes: Vec<f64> = mine.iter().map(|r| r.bytes as f64).collect();
            let diff: Vec<f64> = mine
                .iter()
                .zip(&base)
                .map(|(a, b)| (a.nll_sum - b.nll_sum) / LN_2)
                .collect();
            let nll: f64 = mine.iter().map(|r| r.nll_sum).sum();
            let tokens: usize = mine.iter().map(|r| r.tokens).sum();
            let total_bytes: f64 = bytes.iter().sum();
            let delta = diff.iter().sum::<f64>() / total_bytes;
            let (lo, hi) = if m == BASE {
                (0.0, 0.0)
            } else {
                ratio_cis(&[(&diff, &bytes)], b, seed)[0]
            };
            out.push(LmSummaryRow {
                model: m.clone(),
                lang: lang.to_string(),
                sentences: mine.len(),
                bits_per_byte: nll / LN_2 / total_bytes,
                nats_per_token: nll / tokens.max(1) as f64,
                delta_bpb: delta,
                delta_bpb_low: lo,
                delta_bpb_high: hi,
            });
        }
    }
    Ok(out)
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len().max(1) as f64
}

/// One row per (model, direction, shots) present, in first-seen order of the rows.
pub fn translation_summaries(
    rows: &[TranslationRow],
    models: &[String],
    b: usize,
    seed: u64,
) -> Result<Vec<TranslationSummaryRow>> {
    let mut keys: Vec<(String, usize)> = Vec::new();
    for r in rows {
        if !keys.contains(&(r.direction.clone(), r.shots)) {
            keys.push((r.direction.clone(), r.shots));
        }
    }
    let mut out = Vec::new();
    for m in models {
        for (dir, shots) in &keys {
            let pick = |name: &str| {
                of(rows, |r| {
                    r.model == name && &r.direction == dir && r.shots == *shots
                })
            };
            let (base, mine) = (pick(BASE), pick(m));
            if mine.is_empty()
                || mine.len() != base.len()
                || mine.iter().zip(&base).any(|(a, b)| a.source != b.source)
            {
                bail!(
                    "translation rows of `{m}` ({dir}, {shots}-shot) do not pair with the base's"
                );
            }
            let greedy = |v: &[&TranslationRow]| {
                v.iter()
                    .map(|r| f64::from(u8::from(r.greedy_correct)))
                    .collect::<Vec<_>>()
            };
            let top = |v: &[&TranslationRow], k: usize| {
                v.iter()
                    .map(|r| f64::from(u8::from(r.gold_rank <= k)))
                    .collect::<Vec<_>>()
            };
            let (g, gb, p1, p1b) = (greedy(&mine), greedy(&base), top(&mine, 1), top(&base, 1));
            let dg: Vec<f64> = g.iter().zip(&gb).map(|(a, b)| a - b).collect();
            let dp: Vec<f64> = p1.iter().zip(&p1b).map(|(a, b)| a - b).collect();
            let ones = vec![1.0; mine.len()];
            let cis = if m == BASE {
                vec![(0.0, 0.0); 2]
            } else {
                ratio_cis(&[(&dg, &ones), (&dp, &ones)], b, seed)
            };
            out.push(TranslationSummaryRow {
                model: m.clone(),
                direction: dir.clone(),
                shots: *shots,
                n: mine.len(),
                pool: mine[0].pool,
                greedy_accuracy: mean(&g),
                p1: mean(&p1),
                p5: mean(&top(&mine, 5)),
                delta_greedy: mean(&dg),
                delta_greedy_low: cis[0].0,
                delta_greedy_high: cis[0].1,
                delta_p1: mean(&dp),
                delta_p1_low: cis[1].0,
                delta_p1_high: cis[1].1,
            });
        }
    }
    Ok(out)
}

/// Median of `x` (the mean of the middle two for an even count).
pub fn median(x: &mut [f64]) -> f64 {
    x.sort_by(f64::total_cmp);
    let n = x.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        x[n / 2]
    } else {
        (x[n / 2 - 1] + x[n / 2]) / 2.0
    }
}

/// Per hidden state over the prompts: `points[prompt][layer] = (rank, p_hangul, p_latin)`.
pub fn lens_rows(model: &str, direction: &str, points: &[Vec<(usize, f64, f64)>]) -> Vec<LensRow> {
    let layers = points.first().map_or(0, Vec::len);
    (0..layers)
        .map(|l| {
            let mut ranks: Vec<f64> = points.iter().map(|p| p[l].0 as f64).collect();
            LensRow {
                model: model.to_string(),
                direction: direction.to_string(),
                layer: l,
                n: points.len(),
                median_rank: median(&mut ranks),
                mean_p_hangul: mean(&points.iter().map(|p| p[l].1).collect::<Vec<_>>()),
                mean_p_latin: mean(&points.iter().map(|p| p[l].2).collect::<Vec<_>>()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lm(model: &str, index: usize, nll: f64, bytes: usize) -> BehaviourLmRow {
        BehaviourLmRow {
            model: model.into(),
            lang: "ko".into(),
            index,
            tokens: 2,
            nll_sum: nll,
            bytes,
        }
    }

    #[test]
    fn lm_summary_is_paired_per_byte() {
        let rows = vec![
            lm("base", 0, 2.0, 4),
            lm("base", 1, 4.0, 4),
            lm("a", 0, 3.0, 4),
            lm("a", 1, 5.0, 4),
        ];
        let s = lm_summaries(&rows, &["base".into(), "a".into()], &["ko"], 200, 1).unwrap();
        assert!((s[0].bits_per_byte - 6.0 / LN_2 / 8.0).abs() < 1e-12);
        assert_eq!(s[0].delta_bpb, 0.0);
        let want = 2.0 / LN_2 / 8.0;
        assert!((s[1].delta_bpb - want).abs() < 1e-12);
        // Every sentence rose by the same nats per byte: the interval is that value.
        assert!(
            (s[1].delta_bpb_low - want).abs() < 1e-12 && (s[1].delta_bpb_high - want).abs() < 1e-12
        );
        let bad = vec![lm("base", 0, 2.0, 4), lm("a", 1, 3.0, 4)];
        assert!(lm_summaries(&bad, &["a".into()], &["ko"], 10, 1).is_err());
    }

    fn tr(model: &str, source: &str, correct: bool, rank: usize) -> TranslationRow {
        TranslationRow {
            model: model.into(),
            direction: "ko-en".into(),
            shots: 0,
            source: source.into(),
            gold: "g".into(),
            greedy_word: "w".into(),
            greedy_correct: correct,
            gold_rank: rank,
            pool: 4,
        }
    }

    #[test]
    fn translation_summary_scores_and_deltas() {
        let rows = vec![
            tr("base", "a", false, 3),
            tr("base", "b", true, 1),
            tr("x", "a", true, 1),
            tr("x", "b", true, 1),
        ];
        let s = translation_summaries(&rows, &["base".into(), "x".into()], 500, 2).unwrap();
        assert_eq!((s[0].greedy_accuracy, s[0].p1, s[0].p5), (0.5, 0.5, 1.0));
        assert_eq!(
            (s[1].greedy_accuracy, s[1].p1, s[1].delta_p1),
            (1.0, 1.0, 0.5)
        );
        assert!(
            s[1].delta_p1_low >= 0.0
                && s[1].delta_p1_high <= 1.0
                && s[1].delta_p1_low <= s[1].delta_p1_high
        );
        assert!(translation_summaries(&rows[..3], &["x".into()], 10, 1).is_err());
    }

    #[test]
    fn lens_medians() {
        let pts = vec![
            vec![(100, 0.1, 0.5), (3, 0.2, 0.6)],
            vec![(50, 0.3, 0.1), (1, 0.0, 0.9)],
            vec![(7, 0.2, 0.3), (20, 0.1, 0.0)],
        ];
        let r = lens_rows("base", "ko-en", &pts);
        assert_eq!((r[0].median_rank, r[1].median_rank), (50.0, 3.0));
        assert!((r[1].mean_p_latin - 0.5).abs() < 1e-12);
        assert_eq!(median(&mut [1.0, 4.0]), 2.5);
    }
}
