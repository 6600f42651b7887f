//! The scan part of a language pair's section: where alignment peaks before fine-tuning, the
//! English-only control, LASER-2, and the scan table.

use std::fmt::Write as _;

use super::{f3, figure_paths, s3};
use crate::fmt::md_cell;
use crate::study::load::{PairStudy, ScanRow, ScanStage, EVAL_POOLING, PILOT_POOLING};
use crate::study::values::chance;

pub(super) fn sizes_md(p: &PairStudy) -> String {
    let Some(sc) = &p.scan else { return String::new() };
    let z = &sc.sizes;
    let g = |k: &str| z.get(k).and_then(|v| v.as_u64());
    let mut parts = Vec::new();
    for (k, label) in [("train", "training"), ("test", "held-out (no string shared with training)"), ("independent", "CLDR"), ("control", "the paper's control")] {
        if let Some(n) = g(k).filter(|n| *n > 0) {
            parts.push(format!("{n} {label}"));
        }
    }
    if parts.is_empty() {
        return String::new();
    }
    let dropped = g("independent_dropped").map(|d| format!(" ({d} CLDR pairs sharing a training string left out)")).unwrap_or_default();
    format!(" Pairs: {}{dropped}.", parts.join(", "))
}

pub(super) fn scan_md(s: &mut String, p: &PairStudy) {
    let Some(sc) = &p.scan else { return };
    let lang = p.pair.source_language();
    let model = sc.main.model();
    let _ = writeln!(s, "### Before fine-tuning: the scan\n");
    let Some(b) = sc.main.best() else {
        let _ = writeln!(s, "The scan has no `{EVAL_POOLING}` rows with centred CSLS P@1.\n");
        return;
    };
    let n_layers = sc.main.pooling(EVAL_POOLING).len();
    let g = |r: &ScanRow, c: &str| r.get(c);
    let mut para = format!(
        "On {model}, {lang}-English alignment peaks at hidden state {} (of {n_layers} scanned): centred CSLS P@1 {} (95 % CI {}..{}) for {} {lang} words among {} English candidates, against chance {}; without centring, CSLS P@1 is {}.",
        b.layer,
        f3(g(b, "centered_p1_csls")),
        f3(g(b, "centered_p1_csls_ci_low")),
        f3(g(b, "centered_p1_csls_ci_high")),
        g(b, "n_sources"),
        g(b, "n_candidates"),
        f3(chance(b)),
        f3(g(b, "p1_csls"))
    );
    let (raw, shuf) = (g(b, "pairs_mean"), g(b, "shuffled_mean"));
    let _ = write!(para, " Raw cosine there is {} for translations and {} for shuffled pairs (gap {})", f3(raw), f3(shuf), s3(raw - shuf));
    if shuf > 0.5 && raw - shuf < 0.05 {
        let _ = write!(
            para,
            ": unrelated words share nearly all of it (anisotropy), so raw cosine cannot show the alignment; after centring, translations score {} and shuffled pairs {}.",
            f3(g(b, "centered_mean")),
            f3(g(b, "centered_shuffled_mean"))
        );
    } else {
        let _ = write!(para, ": raw cosine separates translations from shuffled pairs; centred, {} vs {}.", f3(g(b, "centered_mean")), f3(g(b, "centered_shuffled_mean")));
    }
    if let Some(r) = sc.main.row(PILOT_POOLING, 2) {
        let (raw, shuf) = (g(r, "pairs_mean"), g(r, "shuffled_mean"));
        let _ = write!(para, " With the pilot's pooling (mean with BOS) at hidden state 2, translations score {} and shuffled pairs {}", f3(raw), f3(shuf));
        if shuf > 0.9 && raw - shuf < 0.01 {
            para.push_str(": the shuffled baseline alone accounts for a near-1 cosine like the one the paper's pilot reports at this layer.");
        } else {
            para.push('.');
        }
    }
    if let Some(r) = sc.main.row(EVAL_POOLING, 2) {
        let ratio = g(b, "centered_p1_csls") / g(r, "centered_p1_csls");
        let _ = write!(
            para,
            " At hidden state 2, the paper's target layer, centred CSLS P@1 is {} (CI {}..{}){}.",
            f3(g(r, "centered_p1_csls")),
            f3(g(r, "centered_p1_csls_ci_low")),
            f3(g(r, "centered_p1_csls_ci_high")),
            if r.layer != b.layer && ratio.is_finite() && ratio > 1.0 { format!(", {ratio:.1} times below the best layer") } else { String::new() }
        );
    }
    let _ = writeln!(s, "{para}\n");

    control_md(s, p, sc, b, &model);
    super::laser::laser_md(s, p);
    super::e5::e5_md(s, p);
    s.push_str(&scan_table_md(p));
    let [scan_fig, _] = figure_paths(p.pair);
    let _ = writeln!(s, "\n![{scan_fig}](../{scan_fig})\n");
    let _ = writeln!(
        s,
        "Per hidden state: raw pair cosine, shuffled-pair cosine and centred pair cosine (`{EVAL_POOLING}`), with centred CSLS P@1; left {model}, right the English-only control.\n"
    );
}

/// The English-only negative control's paragraph, against the main model's best row `b`.
fn control_md(s: &mut String, p: &PairStudy, sc: &ScanStage, b: &ScanRow, model: &str) {
    let lang = p.pair.source_language();
    let g = |r: &ScanRow, c: &str| r.get(c);
    match &sc.control {
        None => {
            let _ = writeln!(s, "The English-only negative control is not in this run (`{}/negative-control/`).\n", p.pair.scan_stage());
        }
        Some(c) => {
            if let Some(cb) = c.best() {
                let rows = c.pooling(EVAL_POOLING);
                let above: Vec<usize> = rows.iter().filter(|r| g(r, "centered_p1_csls_ci_low") > chance(r)).map(|r| r.layer).collect();
                let gap = rows.iter().map(|r| g(r, "centered_mean") - g(r, "centered_shuffled_mean")).fold(f64::NEG_INFINITY, f64::max);
                let mut para = format!(
                    "The English-only negative control, {}, reaches at most {} centred CSLS P@1 (hidden state {}, CI {}..{}; chance {}), and its centred pair cosine exceeds its shuffled baseline by at most {}.",
                    c.model(),
                    f3(g(cb, "centered_p1_csls")),
                    cb.layer,
                    f3(g(cb, "centered_p1_csls_ci_low")),
                    f3(g(cb, "centered_p1_csls_ci_high")),
                    f3(chance(cb)),
                    f3(gap)
                );
                let ratio = g(b, "centered_p1_csls") / g(cb, "centered_p1_csls");
                if above.is_empty() {
                    let _ = write!(para, " It shows no {lang}-English alignment above the shuffled baseline: at none of its {} hidden states is P@1's CI above chance.", rows.len());
                } else {
                    let _ = write!(
                        para,
                        " So it is not quite at the shuffled baseline: at {} of its {} hidden states P@1's CI lies above chance (hidden state{} {}), but its best P@1 is {} times below {model}'s.",
                        above.len(),
                        rows.len(),
                        if above.len() == 1 { "" } else { "s" },
                        above.iter().map(|l| l.to_string()).collect::<Vec<_>>().join(", "),
                        if ratio.is_finite() { format!("{ratio:.0}") } else { "n/a".into() }
                    );
                }
                let _ = writeln!(s, "{para}\n");
            }
        }
    }
}

/// The scan table: the multilingual model at its best layer and at hidden state 2, the
/// English-only control at its best layer, and LASER-2.
pub fn scan_table_md(p: &PairStudy) -> String {
    let mut s = String::new();
    let Some(sc) = &p.scan else { return s };
    s.push_str("| encoder | hidden state | raw cosine | shuffled | centred cosine | centred shuffled | centred CSLS P@1 [95 % CI] |\n|---|---|---|---|---|---|---|\n");
    let row = |s: &mut String, who: &str, what: &str, r: &ScanRow| {
        let _ = writeln!(
            s,
            "| {} | {} ({what}) | {} | {} | {} | {} | {} [{}, {}] |",
            md_cell(who),
            r.layer,
            f3(r.get("pairs_mean")),
            f3(r.get("shuffled_mean")),
            f3(r.get("centered_mean")),
            f3(r.get("centered_shuffled_mean")),
            f3(r.get("centered_p1_csls")),
            f3(r.get("centered_p1_csls_ci_low")),
            f3(r.get("centered_p1_csls_ci_high"))
        );
    };
    let model = sc.main.model();
    if let Some(b) = sc.main.best() {
        row(&mut s, &model, "best", b);
    }
    if let Some(r) = sc.main.row(EVAL_POOLING, 2) {
        row(&mut s, &model, "the paper's", r);
    }
    if let Some(c) = &sc.control {
        if let Some(b) = c.best() {
            row(&mut s, &format!("{} (English-only control)", c.model()), "best", b);
        }
    }
    match sc.laser.as_ref().map(|l| l.get("metrics").unwrap_or(l)) {
        Some(m) => {
            let g = |k: &str| m.get(k).and_then(|x| x.as_f64()).unwrap_or(f64::NAN);
            let _ = writeln!(
                s,
                "| LASER-2 (reference encoder) | — | {} | {} | {} | {} | {} [{}, {}] |",
                f3(g("pairs_mean")),
                f3(g("shuffled_mean")),
                f3(g("centered_mean")),
                f3(g("centered_shuffled_mean")),
                f3(g("centered_p1_csls")),
                f3(g("centered_p1_csls_ci_low")),
                f3(g("centered_p1_csls_ci_high"))
            );
        }
        None => s.push_str("| LASER-2 (reference encoder) | — | needs the LASER-2 weights (`$LEXALIGN_LASER`) | | | | |\n"),
    }
    s
}
