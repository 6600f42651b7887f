//! Derived value keys that the findings of issue 31 decide on, so no verdict rests on a
//! renderer's comparison or on raw cosine alone:
//! - `<p>.<a>.<tag>.spec.<set>.{diff, ci_low, ci_high}`: the trained pairs' change of centred
//!   CSLS P@1 minus `<set>`'s, with the 95 % CI of that difference (the two bootstrap CIs
//!   combined as independent normal estimates: different words).
//! - `<p>.<a>.<tag>.tost.<set>.{diff, margin, p}`: a Welch TOST that `<set>`'s raw-cosine gain
//!   equals the trained pairs' within ± [`EQUIV_MARGIN`] of the trained gain. Each set's SD of
//!   the gains is recovered from its paired t in `changes.csv` (SD = gain × sqrt(n) / t), which
//!   reproduces `gain_tests.csv`'s Welch t exactly.
//! - `<p>.<a>.<tag>.held_out.shuffled_share`: the shuffled held-out pairs' raw-cosine gain as a
//!   share of the held-out translations' gain.
//! - `<p>.negctl.vs_model.{diff, ci_low, ci_high}`: the multilingual model's best centred CSLS
//!   P@1 minus the English-only control's best, with a 95 % CI as above (the same words, so
//!   treating them as independent overstates the variance: conservative).

use lexalign_stats::{diff_ci_independent, tost_welch_summary};

use super::load::{ChangeRow, PairStudy};
use super::values::set_key;
use crate::values::{Val, Values};

/// The equivalence margin as a share of the trained pairs' gain: the bioequivalence
/// convention's 80-125 % (its ±20 % on the reference), fixed before seeing any run.
pub const EQUIV_MARGIN: f64 = 0.2;

fn put(v: &mut Values, k: String, x: f64) {
    v.insert(k, Val::Num(x));
}

/// SD of the per-pair raw-cosine gains, from the paired t of `changes.csv`.
fn gain_sd(c: &ChangeRow) -> Option<f64> {
    let t = c.raw_t.filter(|t| t.is_finite() && *t != 0.0)?;
    let gain = c.raw_after - c.raw_before;
    Some((gain * (c.n_pairs as f64).sqrt() / t).abs())
}

/// Welch TOST that `other`'s raw-cosine gain equals `trained`'s within ± margin.
pub fn gain_tost(trained: &ChangeRow, other: &ChangeRow) -> Option<(f64, f64, f64)> {
    let (g1, g2) = (
        trained.raw_after - trained.raw_before,
        other.raw_after - other.raw_before,
    );
    let margin = EQUIV_MARGIN * g1.abs();
    let t = tost_welch_summary(
        g2,
        gain_sd(other)?,
        other.n_pairs as f64,
        g1,
        gain_sd(trained)?,
        trained.n_pairs as f64,
        -margin,
        margin,
    )
    .ok()?;
    Some((t.diff, margin, t.p))
}

fn change_pair_values(v: &mut Values, pre: &str, set: &str, tr: &ChangeRow, o: &ChangeRow) {
    let k = set_key(set);
    let (d, lo, hi) = diff_ci_independent(
        tr.delta_p1,
        (tr.delta_p1_ci_low, tr.delta_p1_ci_high),
        o.delta_p1,
        (o.delta_p1_ci_low, o.delta_p1_ci_high),
    );
    for (n, x) in [("diff", d), ("ci_low", lo), ("ci_high", hi)] {
        put(v, format!("{pre}.spec.{k}.{n}"), x);
    }
    if let Some((diff, margin, p)) = gain_tost(tr, o) {
        for (n, x) in [("diff", diff), ("margin", margin), ("p", p)] {
            put(v, format!("{pre}.tost.{k}.{n}"), x);
        }
    }
}

/// Every key above for one language pair.
pub fn verdict_values(v: &mut Values, s: &PairStudy) {
    let p = s.pair.key();
    let best = s.best_layer();
    for a in &s.adapters {
        let Some(e) = &a.eval else { continue };
        for (tag, layer) in [("t", a.target_layer()), ("b", best)] {
            let Some(layer) = layer else { continue };
            let pre = format!("{p}.{}.{tag}", a.key);
            let Some(tr) = e.change("trained", layer) else {
                continue;
            };
            for set in s.pair.sets().iter().filter(|x| **x != "trained") {
                if let Some(o) = e.change(set, layer) {
                    change_pair_values(v, &pre, set, tr, o);
                }
            }
            if let Some(h) = e.change("held-out", layer) {
                let share = (h.shuffled_after - h.shuffled_before) / (h.raw_after - h.raw_before);
                put(v, format!("{pre}.held_out.shuffled_share"), share);
            }
        }
    }
    if let Some(sc) = &s.scan {
        if let (Some(m), Some(c)) = (sc.main.best(), sc.control.as_ref().and_then(|c| c.best())) {
            let g = |r: &super::load::ScanRow| {
                (
                    r.get("centered_p1_csls"),
                    (
                        r.get("centered_p1_csls_ci_low"),
                        r.get("centered_p1_csls_ci_high"),
                    ),
                )
            };
            let ((dm, cm), (dc, cc)) = (g(m), g(c));
            let (d, lo, hi) = diff_ci_independent(dm, cm, dc, cc);
            for (n, x) in [("diff", d), ("ci_low", lo), ("ci_high", hi)] {
                put(v, format!("{p}.negctl.vs_model.{n}"), x);
            }
        }
    }
}
