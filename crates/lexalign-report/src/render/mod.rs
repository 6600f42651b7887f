//! Writes the generated tree: figures, `paper/reproduction.md` and `paper/generated/*.tex`.
//! Nothing here may depend on time, host or git state (the tree is compared byte for byte).

use std::path::Path;

use anyhow::{Context, Result};
use lexalign_run::write_atomic;

use crate::claims::{evaluate, failures, ClaimResult, ClaimsFile};
use crate::figures::{
    improvement_figure, layer_figure, loss_figure, pre_post_figure, scan_curves, Curve,
};
use crate::run::RunFolder;
use crate::values::published_values;

mod authors;
pub mod authors_scripts;
mod authors_tsne;
mod report_md;
mod tables;
mod tex;

use report_md::report_md;
pub use tables::claims_table_md;
use tex::{claims_tex, numbers_tex, pilot_tex, stats_tex};

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
    published_figures(&mut out, run, real)?;
    let model_figs = if run.has_model_stages() {
        model_figures(&mut out, run, real)?
    } else {
        Vec::new()
    };
    let findings = study_outputs(&mut out, claims, run)?;

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

/// Figures 1-3 from the authors' published data (Figure 1 adds the re-run's curves when the run
/// is on the real model).
fn published_figures(out: &mut Out<'_>, run: &RunFolder, real: bool) -> Result<()> {
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
    )
}

/// The figures of this run's own model stages (`model_*` on the real model, `demo_*` otherwise);
/// returns their paths for the report.
fn model_figures(out: &mut Out<'_>, run: &RunFolder, real: bool) -> Result<Vec<String>> {
    let prefix = if real { "model" } else { "demo" };
    let who = run.model_name().unwrap_or_default();
    let mut model_figs = Vec::new();
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
    Ok(model_figs)
}

/// The study's figures and LaTeX numbers; returns the findings' verdicts for the report.
fn study_outputs(
    out: &mut Out<'_>,
    claims: &ClaimsFile,
    run: &RunFolder,
) -> Result<Vec<crate::study::findings::FindingResult>> {
    let study_values = run.study.values();
    // Findings see the study's keys and the published data's `probe.*` keys.
    let mut finding_values = study_values.clone();
    crate::values::probe_values(&mut finding_values, run.published.probe.as_ref());
    let scripts = authors_scripts::load(&run.path)?;
    authors_scripts::values(&mut finding_values, scripts.as_ref());
    if let Some(s) = &scripts {
        out.write(authors_scripts::TSNE_FIGURE, &authors_tsne::tsne_figure(s)?)?;
    }
    let findings = crate::study::findings::evaluate(&claims.finding, &finding_values)?;
    for p in run.study.pairs() {
        let [scan_fig, p1_fig] = crate::study::render::figure_paths(p.pair);
        if let Some(svg) = crate::study::figures::scan_figure(p)? {
            out.write(&scan_fig, &svg)?;
        }
        if let Some(svg) = crate::study::figures::p1_figure(p)? {
            out.write(&p1_fig, &svg)?;
        }
        if let Some(b) = &p.behaviour {
            let title = format!(
                "{}: logit lens of the gold translation, before and after TLI",
                p.pair.name()
            );
            if let Some(svg) = crate::study::behaviour::lens_figure(b, &title)? {
                out.write(&crate::study::behaviour::lens_figure_path(p.pair), &svg)?;
            }
        }
    }
    out.write(
        crate::study::STUDY_NUMBERS,
        &crate::study::numbers_tex(&study_values),
    )?;
    Ok(findings)
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
