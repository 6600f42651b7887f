//! Writes the generated tree: figures, `paper/reproduction.md` and `paper/generated/*.tex`.
//! Nothing here may depend on time, host or git state (the tree is compared byte for byte).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use lexalign_run::write_atomic;
use lexalign_stats::PairedSummary;

use crate::claims::{evaluate, failures, ClaimResult, ClaimsFile, ModelStatus};
use lexalign_published::EvalStats;
use crate::figures::{
    improvement_figure, layer_figure, loss_figure, pre_post_figure, scan_curves, Curve,
};
use crate::fmt::{default_num, format_num, latex_escape, latex_sci, md_cell, p_value};
use crate::run::RunFolder;
use crate::values::{published_values, Val, Values};
use crate::REAL_MODEL_COMMAND;

pub const REPORT: &str = "paper/reproduction.md";
pub const GENERATED_DIR: &str = "paper/generated";
pub const FIGURES_DIR: &str = "figures";
/// Markers of the report's model-based regions (numbers compared within tolerances by `--check`).
const MODEL_MARKS: (&str, &str) = (
    crate::study::render::MODEL_BEGIN,
    crate::study::render::MODEL_END,
);

/// What [`generate`] wrote.
pub struct Generated {
    /// Paths relative to the output root, sorted.
    pub files: Vec<String>,
    /// Published-data checks outside tolerance.
    pub failures: Vec<String>,
    pub results: Vec<ClaimResult>,
    /// The study's findings with their verdicts.
    pub findings: Vec<crate::study::findings::FindingResult>,
}

struct Out<'a> {
    root: &'a Path,
    files: Vec<String>,
}

impl Out<'_> {
    fn write(&mut self, rel: &str, text: &str) -> Result<()> {
        let path = self.root.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        write_atomic(&path, text.as_bytes())?;
        self.files.push(rel.to_string());
        Ok(())
    }
}

/// Generate everything under `root` from the claims registry and a run folder.
pub fn generate(claims: &ClaimsFile, run: &RunFolder, root: &Path) -> Result<Generated> {
    let results = evaluate(claims, run)?;
    let mut out = Out {
        root,
        files: Vec::new(),
    };
    let real = run.is_real_model();
    let demo = run.has_model_stages() && !real;

    // Figures from the published data (plus real-model curves in Figure 1).
    let extra: Vec<Curve> = if real {
        scan_curves(&run.pilot_scans)
    } else {
        Vec::new()
    };
    let fig1_title = if real {
        "Figure 1. Average cosine per layer: published pilot and Lugha-Llama re-run"
    } else {
        "Figure 1. Average Swahili-English cosine per layer (authors' published pilot)"
    };
    out.write(
        "figures/fig1_layer_cosine.svg",
        &layer_figure(
            &run.published.pilot,
            "published pilot (authors)",
            &extra,
            fig1_title,
        )?,
    )?;
    out.write(
        "figures/fig2_pre_post.svg",
        &pre_post_figure(
            &run.published_rows,
            "Per-pair cosine before vs after TLI (authors' results)",
        )?,
    )?;
    out.write(
        "figures/fig3_gain_distribution.svg",
        &improvement_figure(
            &run.published_rows,
            "Per-pair gain, trained vs control (authors' results)",
        )?,
    )?;
    let prefix = if real { "model" } else { "demo" };
    let who = run.model_name().unwrap_or_default();
    let mut model_figs = Vec::new();
    if run.has_model_stages() {
        if !real && !run.pilot_scans.is_empty() {
            let f = format!("figures/{prefix}_pilot_scan.svg");
            out.write(
                &f,
                &curves_only(
                    &run.pilot_scans,
                    &format!("Pilot scan on {who} (pipeline demonstration)"),
                )?,
            )?;
            model_figs.push(f);
        }
        if let Some(e) = &run.eval {
            let f = format!("figures/{prefix}_pre_post.svg");
            out.write(
                &f,
                &pre_post_figure(
                    &e.rows,
                    &format!("Per-pair cosine before vs after TLI ({who})"),
                )?,
            )?;
            model_figs.push(f);
            let f = format!("figures/{prefix}_gain_distribution.svg");
            out.write(
                &f,
                &improvement_figure(&e.rows, &format!("Per-pair gain ({who})"))?,
            )?;
            model_figs.push(f);
        }
        if let Some(t) = &run.train {
            let f = format!("figures/{prefix}_train_loss.svg");
            out.write(
                &f,
                &loss_figure(&t.loss, &format!("TLI training loss ({who})"))?,
            )?;
            model_figs.push(f);
        }
    }

    let study_values = run.study.values();
    let findings = crate::study::findings::evaluate(&claims.finding, &study_values)?;
    for p in run.study.pairs() {
        let [scan_fig, p1_fig] = crate::study::render::figure_paths(p.pair);
        if let Some(svg) = crate::study::figures::scan_figure(p)? {
            out.write(&scan_fig, &svg)?;
        }
        if let Some(svg) = crate::study::figures::p1_figure(p)? {
            out.write(&p1_fig, &svg)?;
        }
    }
    out.write(
        crate::study::STUDY_NUMBERS,
        &crate::study::numbers_tex(&study_values),
    )?;

    let pv = published_values(&run.published);
    out.write(
        REPORT,
        &report_md(claims, run, &results, &model_figs, demo, &findings)?,
    )?;
    out.write(
        "paper/generated/numbers.tex",
        &numbers_tex(&pv, if real { Some(run.model_values()) } else { None }),
    )?;
    out.write("paper/generated/claims_table.tex", &claims_tex(&results))?;
    out.write(
        "paper/generated/stats_table.tex",
        &stats_tex(&run.published.eval),
    )?;
    out.write("paper/generated/pilot_layers.tex", &pilot_tex(run))?;

    out.files.sort();
    Ok(Generated {
        files: out.files,
        failures: failures(&results),
        results,
        findings,
    })
}

fn curves_only(scans: &[crate::run::PilotScan], title: &str) -> Result<String> {
    // A demo model has its own depth; draw its curves without the published 32-layer pilot.
    let curves = scan_curves(scans);
    let pts: Vec<lexalign_published::LayerRow> = curves
        .first()
        .map(|c| {
            c.points
                .iter()
                .map(|p| lexalign_published::LayerRow {
                    layer: p.0,
                    avg_cosine: p.1,
                })
                .collect()
        })
        .unwrap_or_default();
    let peak = pts
        .iter()
        .max_by(|a, b| a.avg_cosine.total_cmp(&b.avg_cosine))
        .cloned();
    let pilot = lexalign_published::Pilot {
        peak_layer: peak.as_ref().map(|p| p.layer).unwrap_or(0),
        peak: peak.map(|p| p.avg_cosine).unwrap_or(f64::NAN),
        layers: pts,
    };
    let label = curves.first().map(|c| c.label.clone()).unwrap_or_default();
    layer_figure(&pilot, &label, &curves[1.min(curves.len())..], title)
}

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

fn group_row(name: &str, g: &PairedSummary) -> String {
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

fn stats_md(e: &EvalStats) -> String {
    let mut s = String::new();
    s.push_str("| set | n | pre mean (SD) | post mean (SD) | mean gain [95 % CI] | % change | t (df) | p | Wilcoxon W / method | Wilcoxon p | Cohen's dz | improved |\n");
    s.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    s.push_str(&group_row("trained", &e.trained));
    s.push('\n');
    s.push_str(&group_row("control", &e.control));
    s.push('\n');
    s
}

fn interpretation(e: &EvalStats) -> String {
    let w = &e.gain_welch;
    let (t, c) = (&e.trained, &e.control);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "- **Both sets improve, by the same amount.** Mean gain {:+.4} (trained) vs {:+.4} (control); Welch's test of the \
         per-pair gains gives t = {:.3}, df = {:.1}, p = {}.",
        t.mean_diff, c.mean_diff, w.t, w.df, p_value(w.p)
    );
    if w.p > 0.05 {
        let _ = writeln!(
            s,
            "  The released data give no evidence that the gain is specific to the injected pairs: the control pairs, never \
             trained on, gain as much. A general shift of layer-2 similarities fits the data as well as targeted lexical \
             injection; telling them apart needs a baseline of unrelated pairs (the model-based pilot-scan's shuffled pairs)."
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

fn provenance_md(run: &RunFolder) -> String {
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

fn report_md(
    claims: &ClaimsFile,
    run: &RunFolder,
    results: &[ClaimResult],
    model_figs: &[String],
    demo: bool,
    findings: &[crate::study::findings::FindingResult],
) -> Result<String> {
    let mut s = String::new();
    let count = |v: crate::claims::Verdict| results.iter().filter(|r| r.verdict == v).count();
    use crate::claims::Verdict::*;
    let _ = writeln!(s, "# Reproduction report: {}\n", claims.paper);
    let _ = writeln!(
        s,
        "<!-- Generated by `cargo xtask reproduce` (lexalign-report) from paper/claims.toml and the run folder. Do not edit; \
         `cargo xtask reproduce --check` fails if this file differs from a fresh build. -->\n"
    );
    let _ = writeln!(
        s,
        "**Which claims hold?** From the authors' own released data (no model needed): {} reproduced, {} contradicted, {} need \
         the real model, {} method-only, of {} claims. The verdict column judges each claim against the released data and \
         scripts; the last column says whether the model-based re-run has measured it.\n",
        count(Reproduced),
        count(Contradicted),
        count(NeedsModel),
        count(MethodOnly),
        results.len()
    );
    s.push_str("## Claims\n\n");
    s.push_str(&claims_table_md(results));
    s.push_str("\n### Evidence\n\n");
    for r in results {
        let _ = writeln!(
            s,
            "{}. **{}** — {} *Paper:* {}.",
            r.id, r.short, r.claim, r.paper
        );
        let _ = writeln!(s, "   - Verdict: **{}**. {}", r.verdict.label(), r.evidence);
        if !r.checks.is_empty() {
            let checks: Vec<String> = r.checks.iter().map(|c| c.describe()).collect();
            let _ = writeln!(s, "   - Checks: {}.", checks.join("; "));
        }
        if let Some(c) = &r.caveat {
            let _ = writeln!(s, "   - Caveat: {c}");
        }
        match &r.model {
            ModelStatus::NotApplicable => {}
            ModelStatus::NotMeasured { key } => {
                let _ = writeln!(s, "   - Model re-run: this run did not measure `{key}`.");
            }
            ModelStatus::NeedsRealModel { .. } => {
                let _ = writeln!(
                    s,
                    "   - Model re-run: needs the real model, `{REAL_MODEL_COMMAND}`."
                );
            }
            ModelStatus::Checked {
                verdict,
                shown,
                checks,
            } => {
                let c: Vec<String> = checks.iter().map(|c| c.describe()).collect();
                let _ = writeln!(
                    s,
                    "   - Model re-run: **{}** ({shown}); {}.",
                    verdict.label(),
                    c.join("; ")
                );
            }
        }
    }

    s.push_str("\n## Figures\n\n");
    s.push_str("![Figure 1](../figures/fig1_layer_cosine.svg)\n\n");
    let _ = writeln!(
        s,
        "Figure 1: the authors' pilot scan, average cosine of {} training pairs per hidden-state index, peak at layer {} \
         ({:.5}). Right panel: layers 1 and up (zoomed), where the published values differ only in the fourth digit.\n",
        run.published.pairs.n_trained, run.published.pilot.peak_layer, run.published.pilot.peak
    );
    s.push_str("![Figure 2](../figures/fig2_pre_post.svg)\n\n");
    s.push_str("Figure 2: each pair's cosine before (x) and after (y) TLI, from the authors' per-pair results; points above the diagonal improved.\n\n");
    s.push_str("![Figure 3](../figures/fig3_gain_distribution.svg)\n\n");
    s.push_str("Figure 3: distribution of per-pair gains for the trained and control sets, with their means (vertical lines).\n\n");

    s.push_str("## Statistics beyond the paper\n\n");
    s.push_str(&stats_md(&run.published.eval));
    s.push('\n');
    s.push_str(&interpretation(&run.published.eval));
    let pairs = &run.published.pairs;
    let _ = writeln!(
        s,
        "- **Shared strings.** No control pair occurs in the training list, but {} Swahili strings ({}) and {} English strings ({}) do.",
        pairs.shared_swahili.len(),
        pairs.shared_swahili.join(", "),
        pairs.shared_english.len(),
        pairs.shared_english.join(", ")
    );

    if run.has_model_stages() {
        let who = run
            .model_name()
            .unwrap_or_else(|| "an unnamed model".into());
        s.push_str(MODEL_MARKS.0);
        s.push('\n');
        if demo {
            s.push_str("\n## Pipeline demonstration (not a verdict)\n\n");
            let _ = writeln!(
                s,
                "These stages ran on **{who}**, {what}, to show that the pipeline runs end \
                 to end. Its numbers say nothing about the paper's claims; the verdicts above come from the authors' data, and \
                 the model column stays \"needs the real model\" until `{REAL_MODEL_COMMAND}` runs on Lugha-Llama.\n",
                what = if run.is_embedded_demo_model() {
                    "the small embedded demo model (English-only)"
                } else {
                    "not the paper's model (Lugha-Llama-8B-wura)"
                }
            );
        } else {
            s.push_str("\n## Re-run with the real model\n\n");
            let _ = writeln!(s, "These stages ran on **{who}**; the model column of the claims table compares them with the paper.\n");
        }
        if let Some(sc) = run.main_scan() {
            let peak = sc
                .layers
                .iter()
                .max_by(|a, b| a.pairs_mean.total_cmp(&b.pairs_mean));
            if let Some(p) = peak {
                let _ = writeln!(
                    s,
                    "- Pilot scan (`{}`): {} layers, peak at layer {} with {:.4} (shuffled baseline there {:.4}).",
                    sc.folder,
                    sc.layers.len(),
                    p.layer,
                    p.pairs_mean,
                    p.shuffled_mean
                );
            }
        }
        if let Some(t) = &run.train {
            if let (Some(a), Some(b)) = (t.loss.first(), t.loss.last()) {
                let _ = writeln!(
                    s,
                    "- Training: {} logged steps, loss {:.4} -> {:.4}.",
                    t.loss.len(),
                    a.loss,
                    b.loss
                );
            }
        }
        if let Some(e) = &run.eval {
            s.push('\n');
            s.push_str(&stats_md(&e.stats));
            s.push('\n');
            let _ = writeln!(
                s,
                "Gain, trained vs control: Welch t = {:.3}, df = {:.1}, p = {}.\n",
                e.stats.gain_welch.t,
                e.stats.gain_welch.df,
                p_value(e.stats.gain_welch.p)
            );
        }
        for f in model_figs {
            let _ = writeln!(s, "![{f}](../{f})\n");
        }
        s.push_str(MODEL_MARKS.1);
        s.push('\n');
    }
    s.push_str(&crate::study::render::sections_md(&run.study, findings));

    s.push_str("\n## Provenance\n\n");
    s.push_str(&provenance_md(run));
    s.push_str("\n## For the manuscript\n\n");
    s.push_str(
        "`paper/generated/numbers.tex` defines `\\tlinum{<key>}` for every number above (e.g. `\\tlinum{eval.trained.p}`); \
         `claims_table.tex`, `stats_table.tex` and `pilot_layers.tex` are `\\input`-able tables (booktabs).\n",
    );
    Ok(s)
}

fn tex_value(key: &str, v: &Val) -> String {
    match v {
        Val::Text(t) => latex_escape(t),
        Val::Num(x) => {
            let last = key.rsplit('.').next().unwrap_or("");
            if last == "p" || last.ends_with("_p") {
                latex_sci(&format_num(*x, "e3"))
            } else if last == "percent" {
                format_num(*x, "+.2")
            } else if last == "improvement_column_max_dev" {
                latex_sci(&format_num(*x, "e2"))
            } else {
                let s = default_num(*x);
                if s.contains('e') {
                    latex_sci(&s)
                } else {
                    s
                }
            }
        }
    }
}

fn numbers_tex(pv: &Values, model: Option<Values>) -> String {
    let mut s = String::new();
    s.push_str("% Generated by lexalign-report (cargo xtask reproduce). Do not edit.\n");
    s.push_str("% Usage: \\input{paper/generated/numbers.tex} ... \\tlinum{eval.trained.p}\n");
    s.push_str("\\providecommand{\\tlinum}[1]{\\ifcsname tli@#1\\endcsname\\csname tli@#1\\endcsname\\else\\textbf{??#1}\\fi}\n");
    for (k, v) in pv {
        let _ = writeln!(
            s,
            "\\expandafter\\def\\csname tli@{k}\\endcsname{{{}}}",
            tex_value(k, v)
        );
    }
    if let Some(mv) = model {
        for (k, v) in &mv {
            let _ = writeln!(
                s,
                "\\expandafter\\def\\csname tli@model.{k}\\endcsname{{{}}}",
                tex_value(k, v)
            );
        }
    }
    s
}

fn claims_tex(results: &[ClaimResult]) -> String {
    let mut s = String::new();
    s.push_str("% Generated by lexalign-report (cargo xtask reproduce). Do not edit.\n");
    s.push_str("\\begin{tabular}{@{}rp{3.2cm}p{3.6cm}p{4.2cm}l@{}}\n\\toprule\n");
    s.push_str("\\# & Claim & Paper & Reproduced (published data) & Verdict \\\\\n\\midrule\n");
    for r in results {
        let _ = writeln!(
            s,
            "{} & {} & {} & {} & {} \\\\",
            r.id,
            latex_escape(&r.short),
            latex_escape(&r.paper),
            latex_escape(&r.reproduced),
            latex_escape(r.verdict.label())
        );
    }
    s.push_str("\\bottomrule\n\\end{tabular}\n");
    s
}

fn stats_tex(e: &EvalStats) -> String {
    let mut s = String::new();
    s.push_str("% Generated by lexalign-report (cargo xtask reproduce). Do not edit.\n");
    s.push_str("\\begin{tabular}{@{}lrrrrrrrr@{}}\n\\toprule\n");
    s.push_str("Set & $n$ & Pre & Post & Gain [95\\,\\% CI] & Change & $t$ ($df$) & $p$ & $d_z$ \\\\\n\\midrule\n");
    for (name, g) in [("Trained", &e.trained), ("Control", &e.control)] {
        let _ = writeln!(
            s,
            "{name} & {} & {:.4} & {:.4} & {:+.4} [{:.4}, {:.4}] & {:+.2}\\,\\% & {:.2} ({}) & {} & {:.2} \\\\",
            g.n,
            g.mean_pre,
            g.mean_post,
            g.mean_diff,
            g.ci95_low,
            g.ci95_high,
            g.percent_change,
            g.ttest.t,
            g.ttest.df,
            latex_sci(&format_num(g.ttest.p, "e3")),
            g.cohens_dz
        );
    }
    s.push_str("\\bottomrule\n\\end{tabular}\n");
    s
}

fn pilot_tex(run: &RunFolder) -> String {
    let mut s = String::new();
    s.push_str("% Generated by lexalign-report (cargo xtask reproduce). Do not edit.\n");
    s.push_str("\\begin{tabular}{@{}rr@{}}\n\\toprule\nLayer & Avg.\\ cosine \\\\\n\\midrule\n");
    for l in &run.published.pilot.layers {
        let _ = writeln!(s, "{} & {:.5} \\\\", l.layer, l.avg_cosine);
    }
    s.push_str("\\bottomrule\n\\end{tabular}\n");
    s
}
