//! The baseline table (issue 26): at an adapter's target layer and at the layer the development
//! split picks, the frozen model's retrieval as it is, after the best post-processing (chosen on
//! the dev split), after linear maps fitted on the training pairs (Procrustes, ridge toward the
//! identity), then TLI and TLI + Procrustes; on held-out and CLDR pairs. Rows come from
//! `<scan>/baselines.csv` and `<eval>/<label>/baselines.csv` (`lexalign_data::study_rows::BaselineRow`).
//!
//! Value keys (`<p>` = koen | swen, `<a>` = l2 | best, `<tag>` = t (target layer) | d (dev-best
//! layer), `<set>` = held_out | cldr): `<p>.bl.dev_best_layer`, `<p>.<a>.bl.<tag>.layer`,
//! `<p>.<a>.bl.<tag>.<set>.<m>` with `<m>` = base, post, procrustes, refined, lstsq, ridge, tli,
//! tli_procrustes, base_hub, tli_hub (hub: k-occurrence skew, k = 10), `ridge_lambda`; and
//! `<p>.<a>.bl.<tag>.<set>.{tli,tli_procrustes}_vs_procrustes.{delta, ci_low, ci_high}`: the
//! paired bootstrap 95 % CI of the change in P@1 against the frozen model's Procrustes map.

use std::fmt::Write as _;

use super::load::{BaselineRow, BaselineTestRow, PairStudy};
use super::render::{f3, s3};
use super::values::set_key;
use crate::values::{Val, Values};

/// The post-processing methods (one is "the best post-processing" of a layer).
pub const POST_METHODS: [&str; 5] = ["zscore", "whiten", "remove-pc1", "remove-pc2", "remove-pc3"];

fn find<'a>(
    rows: &'a [BaselineRow],
    set: &str,
    layer: usize,
    method: &str,
) -> Option<&'a BaselineRow> {
    rows.iter()
        .find(|r| r.set == set && r.layer == layer && r.method == method)
}

/// The layer (above hidden state 0) with the best dev centred CSLS P@1 of the frozen model
/// (ties: the lowest): the layer choice that never looks at held-out pairs.
pub fn dev_best_layer(rows: &[BaselineRow]) -> Option<usize> {
    rows.iter()
        .filter(|r| r.set == "dev" && r.method == "base" && r.layer >= 1 && r.p1_csls.is_finite())
        .fold(None::<&BaselineRow>, |b, r| match b {
            Some(b) if b.p1_csls >= r.p1_csls => Some(b),
            _ => Some(r),
        })
        .map(|r| r.layer)
}

/// The post-processing with the best dev P@1 at `layer` (ties: the first in [`POST_METHODS`]).
pub fn best_post(rows: &[BaselineRow], layer: usize) -> Option<&'static str> {
    POST_METHODS
        .iter()
        .filter_map(|m| find(rows, "dev", layer, m).map(|r| (*m, r.p1_csls)))
        .fold(None::<(&str, f64)>, |b, (m, p)| match b {
            Some(b) if b.1 >= p => Some(b),
            _ => Some((m, p)),
        })
        .map(|b| b.0)
}

/// One cell row of the table: (set, layer) of one adapter.
pub struct Cells {
    pub base: Option<f64>,
    pub post: Option<(&'static str, f64)>,
    pub procrustes: Option<f64>,
    pub refined: Option<f64>,
    pub lstsq: Option<f64>,
    pub ridge: Option<(f64, Option<f64>)>,
    pub tli: Option<f64>,
    pub tli_procrustes: Option<f64>,
    pub base_hub: Option<f64>,
    pub tli_hub: Option<f64>,
}

pub fn cells(
    frozen: &[BaselineRow],
    adapted: Option<&[BaselineRow]>,
    set: &str,
    layer: usize,
) -> Cells {
    let p = |m: &str| find(frozen, set, layer, m).map(|r| r.p1_csls);
    let a = |m: &str| adapted.and_then(|rows| find(rows, set, layer, m));
    Cells {
        base: p("base"),
        post: best_post(frozen, layer).and_then(|m| p(m).map(|x| (m, x))),
        procrustes: p("procrustes"),
        refined: p("procrustes-refined"),
        lstsq: p("lstsq"),
        ridge: find(frozen, set, layer, "ridge").map(|r| (r.p1_csls, r.lambda)),
        tli: a("tli").map(|r| r.p1_csls),
        tli_procrustes: a("tli+procrustes").map(|r| r.p1_csls),
        base_hub: find(frozen, set, layer, "base").map(|r| r.hub_skew),
        tli_hub: a("tli").map(|r| r.hub_skew),
    }
}

/// One adapter's part of the table.
struct Part<'a> {
    stage: &'a str,
    key: &'a str,
    target: usize,
    rows: Option<&'a [BaselineRow]>,
    tests: Option<&'a [BaselineTestRow]>,
}

/// The frozen rows, where the scan wrote them, and each adapter's part.
fn parts(p: &PairStudy) -> Option<(&[BaselineRow], Vec<Part<'_>>)> {
    let frozen = p.scan.as_ref()?.baselines.as_deref()?;
    let adapters = p
        .adapters
        .iter()
        .filter_map(|a| {
            let e = a.eval.as_ref();
            Some(Part {
                stage: a.stage.as_str(),
                key: a.key.as_str(),
                target: a.target_layer()?,
                rows: e.and_then(|e| e.baselines.as_deref()),
                tests: e.and_then(|e| e.baseline_tests.as_deref()),
            })
        })
        .collect();
    Some((frozen, adapters))
}

fn test<'a>(
    tests: Option<&'a [BaselineTestRow]>,
    set: &str,
    layer: usize,
    method: &str,
) -> Option<&'a BaselineTestRow> {
    tests?.iter().find(|t| {
        t.set == set && t.layer == layer && t.method == method && t.versus == "procrustes"
    })
}

/// The layers of an adapter's rows: its target (`t`) and the dev-best layer (`d`) when they
/// differ (the `d` value keys exist either way).
fn layers(frozen: &[BaselineRow], target: usize) -> Vec<(&'static str, usize)> {
    let mut l = vec![("t", target)];
    if let Some(d) = dev_best_layer(frozen) {
        l.push(("d", d));
    }
    l
}

pub fn baseline_values(v: &mut Values, p: &PairStudy) {
    let Some((frozen, adapters)) = parts(p) else {
        return;
    };
    let k = p.pair.key();
    if let Some(d) = dev_best_layer(frozen) {
        v.insert(format!("{k}.bl.dev_best_layer"), Val::Num(d as f64));
    }
    for a in adapters {
        let (key, adapted) = (a.key, a.rows);
        for (tag, layer) in layers(frozen, a.target) {
            let pre = format!("{k}.{key}.bl.{tag}");
            v.insert(format!("{pre}.layer"), Val::Num(layer as f64));
            for set in ["held-out", "cldr"] {
                let c = cells(frozen, adapted, set, layer);
                let ps = format!("{pre}.{}", set_key(set));
                for (m, x) in [
                    ("base", c.base),
                    ("post", c.post.map(|x| x.1)),
                    ("procrustes", c.procrustes),
                    ("refined", c.refined),
                    ("lstsq", c.lstsq),
                    ("ridge", c.ridge.map(|x| x.0)),
                    ("ridge_lambda", c.ridge.and_then(|x| x.1)),
                    ("tli", c.tli),
                    ("tli_procrustes", c.tli_procrustes),
                    ("base_hub", c.base_hub),
                    ("tli_hub", c.tli_hub),
                ] {
                    if let Some(x) = x {
                        v.insert(format!("{ps}.{m}"), Val::Num(x));
                    }
                }
                for (m, mk) in [
                    ("tli", "tli_vs_procrustes"),
                    ("tli+procrustes", "tli_procrustes_vs_procrustes"),
                ] {
                    if let Some(t) = test(a.tests, set, layer, m) {
                        for (f, x) in [
                            ("delta", t.delta_p1),
                            ("ci_low", t.ci_low),
                            ("ci_high", t.ci_high),
                        ] {
                            v.insert(format!("{ps}.{mk}.{f}"), Val::Num(x));
                        }
                    }
                }
            }
        }
    }
}

fn cell(x: Option<f64>) -> String {
    x.map(f3).unwrap_or_else(|| "—".into())
}

/// The table that answers the question, or "" when the scan wrote no baselines.
pub fn baseline_table_md(p: &PairStudy) -> String {
    let mut s = String::new();
    let Some((frozen, adapters)) = parts(p) else {
        return s;
    };
    // MUSE's refinement is an option of the scan: its column only when it ran.
    let refined = frozen.iter().any(|r| r.method == "procrustes-refined");
    let (rh, rs) = if refined {
        (" Procrustes + refinement |", "---|")
    } else {
        ("", "")
    };
    let _ = writeln!(s, "| adapter | hidden state | set | base | best post-processing | Procrustes |{rh} least squares | ridge (λ) | TLI | TLI + Procrustes | TLI − Procrustes [95 % CI] | hubness base → TLI |\n|---|---|---|---|---|---|{rs}---|---|---|---|---|---|");
    for a in adapters {
        let (stage, adapted) = (a.stage, a.rows);
        for (tag, layer) in layers(frozen, a.target) {
            if tag == "d" && layer == a.target {
                continue;
            }
            let what = if tag == "t" { "target" } else { "dev-best" };
            for set in ["held-out", "cldr"] {
                let c = cells(frozen, adapted, set, layer);
                let post = c
                    .post
                    .map(|(m, x)| format!("{} ({m})", f3(x)))
                    .unwrap_or_else(|| "—".into());
                let ridge = c
                    .ridge
                    .map(|(x, l)| {
                        format!(
                            "{} ({})",
                            f3(x),
                            l.map(|l| format!("{l}")).unwrap_or_default()
                        )
                    })
                    .unwrap_or_else(|| "—".into());
                let hub = format!("{} → {}", cell(c.base_hub), cell(c.tli_hub));
                let vs = test(a.tests, set, layer, "tli")
                    .map(|t| format!("{} [{}, {}]", s3(t.delta_p1), s3(t.ci_low), s3(t.ci_high)))
                    .unwrap_or_else(|| "—".into());
                let _ = writeln!(
                    s,
                    "| {stage} | {layer} ({what}) | {set} | {} | {post} | {} |{} {} | {ridge} | {} | {} | {vs} | {hub} |",
                    cell(c.base),
                    cell(c.procrustes),
                    if refined { format!(" {} |", cell(c.refined)) } else { String::new() },
                    cell(c.lstsq),
                    cell(c.tli),
                    cell(c.tli_procrustes)
                );
            }
        }
    }
    s
}

/// The paragraph before the table: what the baselines are and how they were fitted.
pub fn baseline_intro_md(p: &PairStudy) -> String {
    let Some((frozen, _)) = parts(p) else {
        return String::new();
    };
    let mut computed: Vec<usize> = frozen.iter().map(|r| r.layer).collect();
    computed.sort_unstable();
    computed.dedup();
    let computed: Vec<String> = computed.iter().map(usize::to_string).collect();
    format!(
        "Baselines (issue 26), same retrieval protocol (centred CSLS P@1, `mean-content`): the frozen vectors as they are; \
     the best of z-scoring, PCA whitening and removing the top 1-3 principal components (each fitted on the training words of each language, \
     the best chosen on the development split); linear maps fitted on every training pair with the model frozen (orthogonal Procrustes; MUSE's \
     refinement of it on mutual CSLS neighbours where the scan ran it; least squares; ridge toward the identity map, λ chosen on the development split); then TLI, and a \
     Procrustes map fitted on the adapted training vectors. The development split is a seeded string-disjoint 12 % of the training pairs; the \
     dev-best hidden state is the frozen model's best on it among the computed hidden states (never on held-out pairs). Hubness is the skew of the k-occurrence distribution (k = 10). \
     The baselines were computed at hidden states {}.\n\n",
        computed.join(", ")
    )
}
