//! The scan part of a language pair's section: where alignment peaks before fine-tuning, the
//! English-only control, LASER-2, and the scan table.

use std::fmt::Write as _;

use super::wording::{cite, cites, times_than};
use super::{f3, figure_paths, s3};
use crate::fmt::md_cell;
use crate::study::findings::FindingResult;
use crate::study::load::{PairStudy, ScanRow, ScanStage, EVAL_POOLING, PILOT_POOLING};
use crate::study::values::chance;

pub(super) fn sizes_md(p: &PairStudy) -> String {
    let Some(sc) = &p.scan else {
        return String::new();
    };
    let z = &sc.sizes;
    let g = |k: &str| z.get(k).and_then(|v| v.as_u64());
    let mut parts = Vec::new();
    for (k, label) in [
        ("train", "training"),
        ("test", "held-out (no string shared with training)"),
        ("independent", "CLDR"),
        ("control", "the paper's control"),
    ] {
        if let Some(n) = g(k).filter(|n| *n > 0) {
            parts.push(format!("{n} {label}"));
        }
    }
    if parts.is_empty() {
        return String::new();
    }
    let dropped = g("independent_dropped")
        .map(|d| format!(" ({d} CLDR pairs sharing a training string left out)"))
        .unwrap_or_default();
    format!(" Pairs: {}{dropped}.", parts.join(", "))
}

pub(super) fn scan_md(s: &mut String, p: &PairStudy, findings: &[FindingResult]) {
    let cites = cites(p.pair);
    let Some(sc) = &p.scan else { return };
    let lang = p.pair.source_language();
    let model = sc.main.model();
    let _ = writeln!(s, "### Before fine-tuning: the scan\n");
    let Some(b) = sc.main.best() else {
        let _ = writeln!(
            s,
            "The scan has no `{EVAL_POOLING}` rows with centred CSLS P@1.\n"
        );
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
    let _ = write!(
        para,
        " Raw cosine there is {} for translations and {} for shuffled pairs (gap {}); centred, {} vs {}{}.",
        f3(raw),
        f3(shuf),
        s3(raw - shuf),
        f3(g(b, "centered_mean")),
        f3(g(b, "centered_shuffled_mean")),
        cite(findings, cites.anisotropy)
    );
    if let Some(r) = sc.main.row(PILOT_POOLING, 2) {
        let (raw, shuf) = (g(r, "pairs_mean"), g(r, "shuffled_mean"));
        let _ = write!(para, " With the pilot's pooling (mean with BOS) at hidden state 2, translations score {} and shuffled pairs {}{}.", f3(raw), f3(shuf), cite(findings, cites.pilot));
    }
    if let Some(r) = sc.main.row(EVAL_POOLING, 2) {
        let _ = write!(
            para,
            " At hidden state 2, the paper's target layer, centred CSLS P@1 is {} (CI {}..{}){}.",
            f3(g(r, "centered_p1_csls")),
            f3(g(r, "centered_p1_csls_ci_low")),
            f3(g(r, "centered_p1_csls_ci_high")),
            if r.layer != b.layer {
                format!(
                    ", {} at the best layer",
                    times_than(g(r, "centered_p1_csls"), g(b, "centered_p1_csls"))
                )
            } else {
                String::new()
            }
        );
    }
    let _ = writeln!(s, "{para}\n");

    control_md(s, p, sc, b, &model, cite(findings, cites.control));
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
fn control_md(
    s: &mut String,
    p: &PairStudy,
    sc: &ScanStage,
    b: &ScanRow,
    model: &str,
    cited: String,
) {
    let lang = p.pair.source_language();
    let g = |r: &ScanRow, c: &str| r.get(c);
    match &sc.control {
        None => {
            let _ = writeln!(
                s,
                "The English-only negative control is not in this run (`{}/negative-control/`).\n",
                p.pair.scan_stage()
            );
        }
        Some(c) => {
            if let Some(cb) = c.best() {
                let rows = c.pooling(EVAL_POOLING);
                let above: Vec<usize> = rows
                    .iter()
                    .filter(|r| g(r, "centered_p1_csls_ci_low") > chance(r))
                    .map(|r| r.layer)
                    .collect();
                let gap = rows
                    .iter()
                    .map(|r| g(r, "centered_mean") - g(r, "centered_shuffled_mean"))
                    .fold(f64::NEG_INFINITY, f64::max);
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
                if above.is_empty() {
                    let _ = write!(
                        para,
                        " At none of its {} hidden states does P@1's CI lie above chance.",
                        rows.len()
                    );
                } else {
                    let _ = write!(
                        para,
                        " At {} of its {} hidden states P@1's CI lies above chance (hidden state{} {}).",
                        above.len(),
                        rows.len(),
                        if above.len() == 1 { "" } else { "s" },
                        above.iter().map(|l| l.to_string()).collect::<Vec<_>>().join(", ")
                    );
                }
                let (cp, mp) = (g(cb, "centered_p1_csls"), g(b, "centered_p1_csls"));
                let _ = write!(para, " Its best P@1, {}, is {} {model}'s best, {}; {model} aligns {lang} and English beyond an English-only model only where the 95 % CI of that difference lies above 0{cited}.", f3(cp), times_than(cp, mp), f3(mp));
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
            row(
                &mut s,
                &format!("{} (English-only control)", c.model()),
                "best",
                b,
            );
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
