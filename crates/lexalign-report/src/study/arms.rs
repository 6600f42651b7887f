//! The training arms with seeds (issue 26): "the table that answers the question". Per arm
//! (a: the paper's recipe at hidden state 2, `mean` pooling with BOS; b: hidden state 2,
//! `mean-content`; c: the dev-chosen best layer, `mean-content`; d: arm c on deranged pairs) and
//! hidden state (its target, and the dev-chosen best layer): the frozen model's retrieval, the
//! best post-processing (chosen on dev), Procrustes, TLI over seeds (mean ± SD), TLI +
//! Procrustes; on held-out and CLDR pairs. Rows come from `<run>/<p>-arms-eval/arms.csv`
//! (`lexalign_data::arm_rows::ArmRow`) and `<run>/<p>-arm-<x>/seeds.csv` (`SeedTrainRow`).
//!
//! Value keys (`<p>` = koen, `<x>` = a..d, `<tag>` = t (the arm's target layer) | b (the
//! dev-best layer; for c and d the same row), `<set>` = held_out | cldr):
//! `<p>.arms.<x>.{layer, seeds, epochs, final_loss, final_loss_max, margin, grad_norm_first,
//! grad_norm_final}`, `<p>.arms.<x>.<tag>.layer`, `<p>.arms.<x>.<tag>.<set>.<m>` with `<m>` =
//! base, post, procrustes, tli, tli_sd, tli_min, tli_max, tli_procrustes, tli_procrustes_sd,
//! and `{delta, vs_procrustes, tlip_vs_procrustes}.{mean, ci_low, ci_high}`: hierarchical
//! bootstrap 95 % CIs (seeds, then the shared source words).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use lexalign_data::arm_rows::{read_rows, ArmRow, SeedTrainRow};

use super::render::{f3, s3};
use super::values::set_key;
use crate::values::{Val, Values};

/// The arms' names, in table order.
pub const ARMS: [&str; 4] = ["a", "b", "c", "d"];

/// One pair's arms as far as they ran.
#[derive(Debug, Clone, Default)]
pub struct Arms {
    pub rows: Vec<ArmRow>,
    pub seeds: Vec<SeedTrainRow>,
}

impl Arms {
    /// `None` when neither the arms nor their evaluation are in the run.
    pub fn load(run: &Path, prefix: &str) -> Result<Option<Self>> {
        let mut a = Arms::default();
        let eval = run.join(format!("{prefix}-arms-eval")).join("arms.csv");
        if eval.is_file() {
            a.rows = read_rows(&eval)?;
        }
        for x in ARMS {
            let p = run.join(format!("{prefix}-arm-{x}")).join("seeds.csv");
            if p.is_file() {
                a.seeds.extend(read_rows::<SeedTrainRow>(&p)?);
            }
        }
        Ok((!a.rows.is_empty() || !a.seeds.is_empty()).then_some(a))
    }

    fn seeds_of(&self, arm: &str) -> Vec<&SeedTrainRow> {
        self.seeds.iter().filter(|r| r.arm == arm).collect()
    }

    fn row(&self, arm: &str, set: &str, tag: &str) -> Option<&ArmRow> {
        self.rows.iter().find(|r| {
            r.arm == arm
                && r.set == set
                && match tag {
                    "t" => r.role.starts_with("target"),
                    _ => r.role.ends_with("best"),
                }
        })
    }
}

fn num(v: &mut Values, k: String, x: f64) {
    v.insert(k, Val::Num(x));
}

/// The keys of the module doc.
pub fn arm_values(v: &mut Values, p: &str, a: &Arms) {
    for x in ARMS {
        let k = format!("{p}.arms.{x}");
        let seeds = a.seeds_of(x);
        if let Some(first) = seeds.first() {
            let col = |f: fn(&SeedTrainRow) -> f64| seeds.iter().map(|r| f(r)).collect::<Vec<_>>();
            let loss = col(|r| r.final_epoch_mean_loss);
            num(v, format!("{k}.layer"), first.target_layer as f64);
            num(v, format!("{k}.seeds"), seeds.len() as f64);
            num(v, format!("{k}.epochs"), first.epochs as f64);
            num(v, format!("{k}.final_loss"), lexalign_stats::mean(&loss));
            num(
                v,
                format!("{k}.final_loss_max"),
                loss.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            );
            num(
                v,
                format!("{k}.grad_norm_first"),
                lexalign_stats::mean(&col(|r| r.first_epoch_grad_norm)),
            );
            num(
                v,
                format!("{k}.grad_norm_final"),
                lexalign_stats::mean(&col(|r| r.final_epoch_grad_norm)),
            );
        }
        for tag in ["t", "b"] {
            for set in ["held-out", "cldr"] {
                if let Some(r) = a.row(x, set, tag) {
                    num(v, format!("{k}.margin"), r.margin);
                    num(v, format!("{k}.{tag}.layer"), r.layer as f64);
                    row_values(v, &format!("{k}.{tag}.{}", set_key(set)), r);
                }
            }
        }
    }
}

fn row_values(v: &mut Values, k: &str, r: &ArmRow) {
    for (m, x) in [
        ("base", r.base_p1),
        ("post", r.best_post_p1),
        ("procrustes", r.procrustes_p1),
        ("tli", r.tli_mean),
        ("tli_sd", r.tli_sd.unwrap_or(f64::NAN)),
        ("tli_min", r.tli_min),
        ("tli_max", r.tli_max),
        ("tli_procrustes", r.tli_procrustes_mean),
        ("tli_procrustes_sd", r.tli_procrustes_sd.unwrap_or(f64::NAN)),
        ("n_seeds", r.n_seeds as f64),
        ("delta.mean", r.delta_mean),
        ("delta.ci_low", r.delta_ci_low),
        ("delta.ci_high", r.delta_ci_high),
        ("vs_procrustes.mean", r.vs_procrustes_mean),
        ("vs_procrustes.ci_low", r.vs_procrustes_ci_low),
        ("vs_procrustes.ci_high", r.vs_procrustes_ci_high),
        (
            "tlip_vs_procrustes.mean",
            r.tli_procrustes_mean - r.procrustes_p1,
        ),
        ("tlip_vs_procrustes.ci_low", r.tlip_vs_procrustes_ci_low),
        ("tlip_vs_procrustes.ci_high", r.tlip_vs_procrustes_ci_high),
    ] {
        num(v, format!("{k}.{m}"), x);
    }
}

fn pm(mean: f64, sd: Option<f64>) -> String {
    match sd {
        Some(sd) if sd.is_finite() => format!("{} ± {}", f3(mean), f3(sd)),
        _ => f3(mean),
    }
}

fn arm_label(arm: &str) -> &'static str {
    match arm {
        "a" => "(a) paper's recipe, `mean` (BOS)",
        "b" => "(b) `mean-content`",
        "c" => "(c) dev-best layer",
        "d" => "(d) (c) on deranged pairs",
        _ => "?",
    }
}

/// The table (markdown); empty without an arms evaluation.
pub fn arms_table_md(a: &Arms) -> String {
    if a.rows.is_empty() {
        return String::new();
    }
    let mut s = String::new();
    s.push_str("| arm | set | hidden state | seeds | base | best post-proc. | Procrustes | TLI (mean ± SD) | TLI − base [95 % CI] | TLI − Procrustes [95 % CI] | TLI + Procrustes (mean ± SD) |\n");
    s.push_str("|---|---|---|---|---|---|---|---|---|---|---|\n");
    for x in ARMS {
        for set in ["held-out", "cldr"] {
            for r in a.rows.iter().filter(|r| r.arm == x && r.set == set) {
                let set_name = if set == "cldr" { "CLDR" } else { set };
                let _ = writeln!(
                    s,
                    "| {} | {set_name} | {} ({}) | {} | {} | {} ({}) | {} | {} | {} [{}, {}] | {} [{}, {}] | {} |",
                    arm_label(x),
                    r.layer,
                    r.role,
                    r.n_seeds,
                    f3(r.base_p1),
                    f3(r.best_post_p1),
                    r.best_post_method,
                    f3(r.procrustes_p1),
                    pm(r.tli_mean, r.tli_sd),
                    s3(r.delta_mean),
                    s3(r.delta_ci_low),
                    s3(r.delta_ci_high),
                    s3(r.vs_procrustes_mean),
                    s3(r.vs_procrustes_ci_low),
                    s3(r.vs_procrustes_ci_high),
                    pm(r.tli_procrustes_mean, r.tli_procrustes_sd),
                );
            }
        }
    }
    s
}

/// The section's opening: what the arms are and how the CIs are made.
pub fn arms_intro_md(a: &Arms) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Each arm is trained once per seed on the same split (the seed changes the LoRA initialisation, the dropout masks and the batch order); centred CSLS P@1 (`mean-content`, k = 10). The best layer is chosen on the development pairs (never on held-out pairs); the best post-processing likewise. CIs are hierarchical bootstrap 95 % intervals: seeds resampled, then the source words, which every seed shares.\n");
    let mut parts = Vec::new();
    for x in ARMS {
        let seeds = a.seeds_of(x);
        if let Some(f) = seeds.first() {
            let loss: Vec<f64> = seeds.iter().map(|r| r.final_epoch_mean_loss).collect();
            parts.push(format!(
                "{}: hidden state {}, {} seeds × {} epochs, final-epoch loss {} (margin {})",
                arm_label(x),
                f.target_layer,
                seeds.len(),
                f.epochs,
                pm(
                    lexalign_stats::mean(&loss),
                    (loss.len() > 1).then(|| lexalign_stats::sd(&loss))
                ),
                f3(a.rows.first().map_or(f64::NAN, |r| r.margin)),
            ));
        }
    }
    if !parts.is_empty() {
        let _ = writeln!(s, "{}.\n", parts.join("; "));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(arm: &str, set: &str, layer: usize, role: &str) -> ArmRow {
        ArmRow {
            arm: arm.into(),
            set: set.into(),
            layer,
            role: role.into(),
            n_seeds: 5,
            n_sources: 590,
            base_p1: 0.5,
            best_post_method: "whiten".into(),
            best_post_p1: 0.52,
            procrustes_p1: 0.6,
            tli_mean: 0.65,
            tli_sd: Some(0.01),
            tli_min: 0.64,
            tli_max: 0.66,
            delta_mean: 0.15,
            delta_ci_low: 0.1,
            delta_ci_high: 0.2,
            vs_procrustes_mean: 0.05,
            vs_procrustes_ci_low: 0.01,
            vs_procrustes_ci_high: 0.09,
            tli_procrustes_mean: 0.7,
            tli_procrustes_sd: None,
            tlip_vs_procrustes_ci_low: 0.05,
            tlip_vs_procrustes_ci_high: 0.15,
            final_loss_mean: 0.1,
            margin: 0.4,
        }
    }

    #[test]
    fn keys_and_table_of_synthetic_rows() {
        let a = Arms {
            rows: vec![
                row("a", "held-out", 2, "target"),
                row("a", "held-out", 9, "best"),
                row("c", "cldr", 9, "target+best"),
            ],
            seeds: Vec::new(),
        };
        let mut v = Values::new();
        arm_values(&mut v, "koen", &a);
        let n = |k: &str| match v.get(k) {
            Some(Val::Num(x)) => *x,
            _ => panic!("no {k}"),
        };
        assert_eq!(n("koen.arms.a.t.layer"), 2.0);
        assert_eq!(n("koen.arms.a.b.layer"), 9.0);
        assert_eq!(
            (n("koen.arms.c.t.layer"), n("koen.arms.c.b.layer")),
            (9.0, 9.0)
        );
        assert_eq!(n("koen.arms.c.t.cldr.vs_procrustes.ci_low"), 0.01);
        assert!((n("koen.arms.c.b.cldr.tlip_vs_procrustes.mean") - 0.1).abs() < 1e-12);
        assert!(n("koen.arms.a.t.held_out.tli_procrustes_sd").is_nan());
        let t = arms_table_md(&a);
        assert_eq!(t.lines().count(), 5);
        assert!(
            t.contains("| 0.650 ± 0.010 | +0.150 [+0.100, +0.200] |"),
            "{t}"
        );
        assert!(arms_table_md(&Arms::default()).is_empty());
    }
}
