//! Markdown tables and notes of the report: claims, statistics, interpretation, provenance.

use std::fmt::Write as _;

use lexalign_published::EvalStats;
use lexalign_stats::PairedSummary;

use crate::claims::ClaimResult;
use crate::fmt::{default_num, md_cell, p_value};
use crate::run::RunFolder;

/// The claims table in markdown (also the insta snapshot).
pub fn claims_table_md(results: &[ClaimResult]) -> String {
    let mut s = String::new();
    s.push_str(
        "| # | Claim | Paper | Reproduced (published data) | Verdict | Re-run with the model | Measured on a multilingual model |\n",
    );
    s.push_str("|---|---|---|---|---|---|---|\n");
    for r in results {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | **{}** | {} | {} |",
            r.id,
            md_cell(&r.short),
            md_cell(&r.paper),
            md_cell(&r.reproduced),
            r.verdict.label(),
            md_cell(&r.model.text()),
            md_cell(&r.multilingual)
        );
    }
    s
}

pub(super) fn group_row(name: &str, g: &PairedSummary) -> String {
    format!(
        "| {name} | {} | {:.4} ({:.4}) | {:.4} ({:.4}) | {:+.4} [{:.4}, {:.4}] | {:+.2} % | {:.3} ({}) | {} | {} / {} | {} | {:.2} | {}/{} |",
        g.n,
        g.mean_pre,
        g.sd_pre,
        g.mean_post,
        g.sd_post,
        g.mean_diff,
        g.ci95_low,
        g.ci95_high,
        g.percent_change,
        g.ttest.t,
        g.ttest.df,
        p_value(g.ttest.p),
        default_num(g.wilcoxon.statistic),
        format!("{:?}", g.wilcoxon.method).to_lowercase(),
        p_value(g.wilcoxon.p),
        g.cohens_dz,
        g.n_improved,
        g.n
    )
}

pub(super) fn stats_md(e: &EvalStats) -> String {
    let mut s = String::new();
    s.push_str("| set | n | pre mean (SD) | post mean (SD) | mean gain [95 % CI] | % change | t (df) | p | Wilcoxon W / method | Wilcoxon p | Cohen's dz | improved |\n");
    s.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    s.push_str(&group_row("trained", &e.trained));
    s.push('\n');
    s.push_str(&group_row("control", &e.control));
    s.push('\n');
    s
}

pub(super) fn interpretation(e: &EvalStats) -> String {
    let w = &e.gain_welch;
    let (t, c) = (&e.trained, &e.control);
    let mut s = String::new();
    // Equality needs an equivalence test: Welch TOST within ±20 % of the trained gain (the
    // bioequivalence convention, as the study's findings use; crate::study::verdict_values).
    let margin = crate::study::verdict_values::EQUIV_MARGIN * t.mean_diff.abs();
    let tost = lexalign_stats::tost_welch_summary(
        c.mean_diff,
        c.sd_diff,
        c.n as f64,
        t.mean_diff,
        t.sd_diff,
        t.n as f64,
        -margin,
        margin,
    )
    .ok();
    let equal = tost.is_some_and(|x| x.p < 0.05);
    let tost_txt = tost
        .map(|x| {
            format!(
                "TOST p = {} for equality within ±{margin:.4}, 20 % of the trained gain",
                p_value(x.p)
            )
        })
        .unwrap_or_else(|| "no equivalence test (degenerate gains)".into());
    let _ = writeln!(
        s,
        "- **Both sets improve, {}.** Mean gain {:+.4} (trained) vs {:+.4} (control); Welch's test of the \
         per-pair gains gives t = {:.3}, df = {:.1}, p = {}; {tost_txt}.",
        if equal { "by the same amount within ±20 %" } else { "by amounts not shown to be equal" },
        t.mean_diff, c.mean_diff, w.t, w.df, p_value(w.p)
    );
    if w.p > 0.05 {
        let _ = writeln!(
            s,
            "  The released data give no evidence that the gain is specific to the injected pairs: the control pairs, never \
             trained on, {}. A general shift of layer-2 similarities fits the data as well as targeted lexical \
             injection; telling them apart needs a baseline of unrelated pairs (the model-based pilot-scan's shuffled pairs).",
            if equal { "gain as much (the equivalence test above)" } else { "gain too (no evidence of a difference, though equality is not shown)" }
        );
    } else {
        let _ = writeln!(s, "  The gains differ between the sets at the 5 % level.");
    }
    let _ = writeln!(
        s,
        "- **The effect is large and consistent.** Cohen's dz = {:.2} (trained) and {:.2} (control); {}/{} trained and {}/{} \
         control pairs improved. The Wilcoxon signed-rank test (no normality assumption) agrees: p = {} and {}.",
        t.cohens_dz, c.cohens_dz, t.n_improved, t.n, c.n_improved, c.n, p_value(t.wilcoxon.p), p_value(c.wilcoxon.p)
    );
    let _ = writeln!(
        s,
        "- **What was measured.** All before/after numbers come from hidden_states[2] with special tokens excluded, loaded in \
         bitsandbytes' default 4-bit type (FP4), not layer 31 or NF4 as the paper says (claims 11, 13, 14). The p-values \
         are exact for the released numbers (tail computed from the regularized incomplete beta), but the training list \
         repeats words, so its pairs are not independent and the p-values overstate the evidence."
    );
    if e.improvement_column_max_dev > 1e-12 {
        let _ = writeln!(
            s,
            "- The improvement column differs from post - pre by up to {:.2e}.",
            e.improvement_column_max_dev
        );
    }
    s
}

pub(super) fn provenance_md(run: &RunFolder) -> String {
    let mut s = String::new();
    let p = &run.published;
    let _ = writeln!(
        s,
        "- Authors' data: `{}`, files checked against `paper/paper-data.sha256`:",
        p.source
    );
    for f in &p.files {
        let _ = writeln!(s, "  - `{}` sha256 `{}`", f.path, f.sha256);
    }
    let version = run
        .published_provenance
        .as_ref()
        .map(|x| x.lexalign_version.clone())
        .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string());
    let _ = writeln!(
        s,
        "- Statistics: lexalign {version} (`lexalign-stats`: scipy conventions, checked against scipy at 1e-9 relative)."
    );
    let mut stages: Vec<(
        String,
        &serde_json::Value,
        Option<&lexalign_run::Provenance>,
    )> = Vec::new();
    for sc in &run.pilot_scans {
        stages.push((sc.folder.clone(), &sc.summary, sc.provenance.as_ref()));
    }
    if let Some(t) = &run.train {
        stages.push(("tli-train".into(), &t.summary, t.provenance.as_ref()));
    }
    if let Some(e) = &run.eval {
        stages.push(("tli-eval".into(), &e.summary, e.provenance.as_ref()));
    }
    for (name, summary, prov) in stages {
        let get = |k: &str| -> Option<String> {
            summary.get(k).and_then(|v| {
                if v.is_string() {
                    v.as_str().map(str::to_string)
                } else if v.is_null() {
                    None
                } else {
                    Some(v.to_string())
                }
            })
        };
        let mut parts = Vec::new();
        let model = get("model");
        if let Some(m) = &model {
            parts.push(format!("model {m}"));
        }
        let sha = get("model_sha256")
            .or_else(|| prov.and_then(|p| p.model.as_ref().map(|m| m.sha256.clone())));
        if let Some(h) = sha {
            parts.push(format!("model sha256 `{h}`"));
        }
        let quant = get("quant").or_else(|| prov.and_then(|p| p.quant.clone()));
        let dtype = get("dtype").or_else(|| prov.and_then(|p| p.dtype.clone()));
        let device = get("device").or_else(|| prov.and_then(|p| p.device.clone()));
        for (k, v) in [
            ("quant", quant),
            ("dtype", dtype),
            ("device", device),
            ("pooling", get("pooling")),
        ] {
            if let Some(v) = v {
                parts.push(format!("{k} {v}"));
            }
        }
        if let Some(p) = prov {
            if let Some(seed) = p.seed {
                parts.push(format!("seed {seed}"));
            }
            if let Some(t) = p.threads {
                parts.push(format!("threads {t}"));
            }
            for (k, v) in &p.versions {
                parts.push(format!("{k} {v}"));
            }
        }
        let _ = writeln!(s, "- `{name}`: {}.", parts.join(", "));
    }
    s.push_str(&crate::study::render::provenance_md(&run.study));
    let _ = writeln!(
        s,
        "- The full records (git commit, time, host, command line) are in each stage's `provenance.json` in the run folder; \
         they are left out here so the report only changes when results do."
    );
    s
}
