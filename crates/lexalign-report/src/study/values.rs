//! Flat value keys of the study (`koen.*`, `swen.*`), the same way `values.rs` flattens the
//! paper's numbers: findings, templates and `paper/generated/study_numbers.tex` read these.
//!
//! Keys (`<p>` = koen | swen, `<a>` = l2 | best, `<tag>` = t (the adapter's target layer) | b
//! (the scan's best layer), `<set>` = trained | held_out | cldr | control):
//! - `<p>.scan.{n_layers, chance, best_layer}`, `<p>.scan.{best,l2}.<m>` (mean-content rows),
//!   `<p>.scan.pilot.l<N>.<m>` and `<p>.scan.pilot.{peak_layer, peak, peak_shuffled}` (mean pooling, BOS in);
//!   `<m>` = p1, p1_ci_low, p1_ci_high, raw, shuffled, raw_gap, centered, centered_shuffled,
//!   centered_gap, p1_uncentered, t2s_p1, n_sources, n_candidates.
//! - `<p>.negctl.{best_layer, n_layers, layers_above_chance, max_centered_gap, max_raw_gap, p1_ratio, chance}`, `<p>.negctl.best.<m>`.
//! - `<p>.laser.{p1, raw, shuffled}` when a LASER-2 measurement is in the run.
//! - `<p>.<a>.{target_layer, steps, first_loss, final_loss, n_train_pairs}`,
//!   `<p>.<a>.<tag>.layer`, `<p>.<a>.<tag>.<set>.<f>` (f = n, raw_before, raw_after, raw_gain, raw_p,
//!   centered_before, centered_after, shuffled_before, shuffled_after, shuffled_gain, p1_before,
//!   p1_after, delta_p1, delta_ci_low, delta_ci_high, direction: +1 / 0 / -1 by the CI),
//!   `<p>.<a>.<tag>.welch.<set>.{t, p, trained_gain, other_gain}`,
//!   `<p>.<a>.above.{n_layers, n_up, n_down, max_delta, max_layer}` (held-out pairs, hidden states above the target).
//! - The baselines' keys: [`super::baselines`]; the keys of issue 31's findings (`spec`, `tost`,
//!   `shuffled_share`, `negctl.vs_model`): [`super::verdict_values`]; the arms with seeds: [`super::arms`].

use crate::values::{Val, Values};

use super::load::{Adapter, ChangeRow, PairStudy, Scan, ScanRow, EVAL_POOLING, PILOT_POOLING};

fn num(v: &mut Values, k: String, x: f64) {
    v.insert(k, Val::Num(x));
}

/// Set name as a key part (`held-out` -> `held_out`).
pub fn set_key(set: &str) -> String {
    set.replace('-', "_")
}

fn row_values(v: &mut Values, p: &str, r: &ScanRow) {
    let g = |c: &str| r.get(c);
    for (k, x) in [
        ("p1", g("centered_p1_csls")),
        ("p1_ci_low", g("centered_p1_csls_ci_low")),
        ("p1_ci_high", g("centered_p1_csls_ci_high")),
        ("raw", g("pairs_mean")),
        ("shuffled", g("shuffled_mean")),
        ("raw_gap", g("pairs_mean") - g("shuffled_mean")),
        ("centered", g("centered_mean")),
        ("centered_shuffled", g("centered_shuffled_mean")),
        (
            "centered_gap",
            g("centered_mean") - g("centered_shuffled_mean"),
        ),
        ("p1_uncentered", g("p1_csls")),
        ("t2s_p1", g("t2s_centered_p1_csls")),
        ("n_sources", g("n_sources")),
        ("n_candidates", g("n_candidates")),
    ] {
        num(v, format!("{p}.{k}"), x);
    }
}

/// Chance level of P@1: one candidate out of n.
pub fn chance(r: &ScanRow) -> f64 {
    1.0 / r.get("n_candidates")
}

fn scan_values(v: &mut Values, p: &str, s: &Scan) {
    let rows = s.pooling(EVAL_POOLING);
    num(v, format!("{p}.n_layers"), rows.len() as f64);
    if let Some(b) = s.best() {
        num(v, format!("{p}.best_layer"), b.layer as f64);
        num(v, format!("{p}.chance"), chance(b));
        row_values(v, &format!("{p}.best"), b);
    }
    if let Some(r) = s.row(EVAL_POOLING, 2) {
        row_values(v, &format!("{p}.l2"), r);
    }
}

fn pilot_pooling_values(v: &mut Values, p: &str, s: &Scan) {
    let rows = s.pooling(PILOT_POOLING);
    for r in &rows {
        row_values(v, &format!("{p}.pilot.l{}", r.layer), r);
    }
    if let Some(r) = rows
        .iter()
        .max_by(|a, b| a.get("pairs_mean").total_cmp(&b.get("pairs_mean")))
    {
        num(v, format!("{p}.pilot.peak_layer"), r.layer as f64);
        num(v, format!("{p}.pilot.peak"), r.get("pairs_mean"));
        num(
            v,
            format!("{p}.pilot.peak_shuffled"),
            r.get("shuffled_mean"),
        );
    }
}

/// -1, 0 or +1: whether the 95 % CI of a change lies below 0, contains it, or lies above.
pub fn direction(lo: f64, hi: f64) -> f64 {
    if lo > 0.0 {
        1.0
    } else if hi < 0.0 {
        -1.0
    } else {
        0.0
    }
}

fn change_values(v: &mut Values, p: &str, c: &ChangeRow) {
    for (k, x) in [
        ("n", c.n_pairs as f64),
        ("raw_before", c.raw_before),
        ("raw_after", c.raw_after),
        ("raw_gain", c.raw_after - c.raw_before),
        ("raw_p", c.raw_p.unwrap_or(f64::NAN)),
        ("centered_before", c.centered_before),
        ("centered_after", c.centered_after),
        ("shuffled_before", c.shuffled_before),
        ("shuffled_after", c.shuffled_after),
        ("shuffled_gain", c.shuffled_after - c.shuffled_before),
        ("p1_before", c.p1_before),
        ("p1_after", c.p1_after),
        ("delta_p1", c.delta_p1),
        ("delta_ci_low", c.delta_p1_ci_low),
        ("delta_ci_high", c.delta_p1_ci_high),
        (
            "direction",
            direction(c.delta_p1_ci_low, c.delta_p1_ci_high),
        ),
    ] {
        num(v, format!("{p}.{k}"), x);
    }
}

/// Held-out changes at the hidden states above the target layer (blocks TLI's loss never
/// reached; only their input changed).
pub struct Above {
    pub n_layers: usize,
    pub n_up: usize,
    pub n_down: usize,
    /// (layer, signed change) of the largest |change|.
    pub max: Option<(usize, f64)>,
}

pub fn above(a: &Adapter, set: &str) -> Option<Above> {
    let (t, e) = (a.target_layer()?, a.eval.as_ref()?);
    let rows: Vec<&ChangeRow> = e
        .changes
        .iter()
        .filter(|c| c.set == set && c.layer > t)
        .collect();
    Some(Above {
        n_layers: rows.len(),
        n_up: rows.iter().filter(|c| c.delta_p1_ci_low > 0.0).count(),
        n_down: rows.iter().filter(|c| c.delta_p1_ci_high < 0.0).count(),
        max: rows
            .iter()
            .max_by(|a, b| a.delta_p1.abs().total_cmp(&b.delta_p1.abs()))
            .map(|c| (c.layer, c.delta_p1)),
    })
}

fn adapter_values(v: &mut Values, p: &str, a: &Adapter, best: Option<usize>, sets: &[&str]) {
    let pa = format!("{p}.{}", a.key);
    if let Some(t) = &a.train {
        let f = |k: &str| t.summary.get(k).and_then(|x| x.as_f64());
        if let Some(l) = t.target_layer() {
            num(v, format!("{pa}.target_layer"), l as f64);
        }
        for (k, src) in [
            ("steps", "steps_done"),
            ("first_loss", "first_loss"),
            ("final_loss", "final_epoch_mean_loss"),
            ("n_train_pairs", "n_pairs"),
        ] {
            if let Some(x) = f(src) {
                num(v, format!("{pa}.{k}"), x);
            }
        }
    }
    let Some(e) = &a.eval else { return };
    for (tag, layer) in [("t", a.target_layer()), ("b", best)] {
        let Some(layer) = layer else { continue };
        num(v, format!("{pa}.{tag}.layer"), layer as f64);
        for s in sets {
            if let Some(c) = e.change(s, layer) {
                change_values(v, &format!("{pa}.{tag}.{}", set_key(s)), c);
            }
            if let Some(g) = e.gain(s, layer) {
                let w = format!("{pa}.{tag}.welch.{}", set_key(s));
                num(v, format!("{w}.t"), g.welch_t.unwrap_or(f64::NAN));
                num(v, format!("{w}.p"), g.welch_p.unwrap_or(f64::NAN));
                num(v, format!("{w}.trained_gain"), g.trained_gain);
                num(v, format!("{w}.other_gain"), g.other_gain);
            }
        }
    }
    if let Some(ab) = above(a, "held-out") {
        num(v, format!("{pa}.above.n_layers"), ab.n_layers as f64);
        num(v, format!("{pa}.above.n_up"), ab.n_up as f64);
        num(v, format!("{pa}.above.n_down"), ab.n_down as f64);
        if let Some((l, d)) = ab.max {
            num(v, format!("{pa}.above.max_layer"), l as f64);
            num(v, format!("{pa}.above.max_delta"), d);
        }
    }
}

/// Every key of one language pair that ran.
pub fn pair_values(v: &mut Values, s: &PairStudy) {
    if let Some(b) = &s.behaviour {
        super::behaviour::behaviour_values(v, s.pair, b);
    }
    let p = s.pair.key();
    if let Some(a) = &s.arms {
        super::arms::arm_values(v, p, a);
    }
    if let Some(m) = s.model() {
        v.insert(format!("{p}.model"), Val::Text(m));
    }
    if let Some(op) = &s.open_pool {
        super::open_pool::values(v, p, op);
    }
    if let Some(sc) = &s.scan {
        super::holm_layers::holm_values(v, &format!("{p}.scan"), &sc.main);
        if let Some(c) = &sc.control {
            super::holm_layers::holm_values(v, &format!("{p}.negctl"), c);
        }
        scan_values(v, &format!("{p}.scan"), &sc.main);
        pilot_pooling_values(v, &format!("{p}.scan"), &sc.main);
        if let Some(c) = &sc.control {
            let n = format!("{p}.negctl");
            scan_values(v, &n, c);
            let rows = c.pooling(EVAL_POOLING);
            let above = rows
                .iter()
                .filter(|r| r.get("centered_p1_csls_ci_low") > chance(r))
                .count();
            num(v, format!("{n}.layers_above_chance"), above as f64);
            let max_gap = |col_a: &str, col_b: &str| {
                rows.iter()
                    .map(|r| r.get(col_a) - r.get(col_b))
                    .fold(f64::NEG_INFINITY, f64::max)
            };
            num(
                v,
                format!("{n}.max_centered_gap"),
                max_gap("centered_mean", "centered_shuffled_mean"),
            );
            num(
                v,
                format!("{n}.max_raw_gap"),
                max_gap("pairs_mean", "shuffled_mean"),
            );
            if let (Some(cb), Some(mb)) = (c.best(), sc.main.best()) {
                num(
                    v,
                    format!("{n}.p1_ratio"),
                    cb.get("centered_p1_csls") / mb.get("centered_p1_csls"),
                );
            }
        }
        if let Some(l) = &sc.laser {
            let m = l.get("metrics").unwrap_or(l);
            for (k, c) in [
                ("p1", "centered_p1_csls"),
                ("raw", "pairs_mean"),
                ("shuffled", "shuffled_mean"),
            ] {
                if let Some(x) = m.get(c).and_then(|x| x.as_f64()) {
                    num(v, format!("{p}.laser.{k}"), x);
                }
            }
        }
    }
    let best = s.best_layer();
    for a in &s.adapters {
        adapter_values(v, p, a, best, s.pair.sets());
    }
    super::baselines::baseline_values(v, s);
    super::verdict_values::verdict_values(v, s);
}
