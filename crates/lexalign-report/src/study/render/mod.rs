//! The study's report sections: every sentence is a template with conditions on the numbers of
//! the run (never hand-written conclusions), plus its tables. The sections sit between
//! [`MODEL_BEGIN`] / [`MODEL_END`] markers: `--check` compares their numbers within tolerances.

use std::fmt::Write as _;

use super::answer::{answer_md, Answer};
use super::findings::{FindingResult, FindingVerdict};
use super::load::{Adapter, ChangeRow, LangPair, PairStudy, EVAL_POOLING};
use super::values::above;
use super::verdict_values::{gain_tost, EQUIV_MARGIN};
use super::Study;
use crate::fmt::md_cell;
use wording::{cite, cites, gain_phrase};

mod e5;
mod laser;
mod scan;
mod wording;

pub use laser::cka_table_md;
pub use scan::scan_table_md;
use scan::{scan_md, sizes_md};

/// Start and end of a model-based region of the report (compared within tolerances by `--check`).
pub const MODEL_BEGIN: &str =
    "<!-- model-based: --check compares the numbers below within tolerances -->";
pub const MODEL_END: &str = "<!-- end model-based -->";

/// Figures of one language pair (paths relative to the output root).
pub fn figure_paths(pair: LangPair) -> [String; 2] {
    [
        format!("figures/study_{}_scan.svg", pair.key()),
        format!("figures/study_{}_p1_layers.svg", pair.key()),
    ]
}

/// Three decimals (cosines, P@k).
pub(crate) fn f3(x: f64) -> String {
    if x.is_nan() {
        "n/a".into()
    } else {
        format!("{x:.3}")
    }
}

pub(crate) fn s3(x: f64) -> String {
    if x.is_nan() {
        "n/a".into()
    } else {
        format!("{x:+.3}")
    }
}

/// A p-value for the study's prose: 2 significant digits, scientific below 1e-3.
pub fn pv(p: Option<f64>) -> String {
    match p {
        Some(p) if p.is_finite() && p < 1e-3 => format!("{p:.1e}"),
        Some(p) if p.is_finite() => format!("{p:.3}"),
        _ => "n/a".into(),
    }
}

fn set_label(set: &str) -> &str {
    match set {
        "cldr" => "CLDR",
        "control" => "the paper's control",
        s => s,
    }
}

/// "raised centred CSLS P@1 on held-out pairs from X to Y (95 % CI of the change a..b)" or
/// "did not change ..." when the CI contains 0.
pub fn change_phrase(set: &str, c: &ChangeRow) -> String {
    let what = format!("centred CSLS P@1 on {} pairs", set_label(set));
    let ci = format!(
        "95 % CI of the change {}..{}",
        s3(c.delta_p1_ci_low),
        s3(c.delta_p1_ci_high)
    );
    if c.delta_p1_ci_low > 0.0 {
        format!(
            "raised {what} from {} to {} ({ci})",
            f3(c.p1_before),
            f3(c.p1_after)
        )
    } else if c.delta_p1_ci_high < 0.0 {
        format!(
            "lowered {what} from {} to {} ({ci})",
            f3(c.p1_before),
            f3(c.p1_after)
        )
    } else {
        format!(
            "did not change {what} ({} to {}; {ci} contains 0)",
            f3(c.p1_before),
            f3(c.p1_after)
        )
    }
}

fn missing_md(s: &mut String, p: &PairStudy) {
    if p.missing.is_empty() {
        return;
    }
    let _ = writeln!(s, "Not in this run (no numbers are shown for them): {}. `cargo xtask reproduce` runs every stage; one at a time:\n", p.missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", "));
    let mut stages: Vec<&str> = Vec::new();
    for m in &p.missing {
        let st = m.split('/').next().unwrap_or(m);
        if !stages.contains(&st) {
            stages.push(st);
        }
    }
    s.push_str("```sh\n");
    for st in stages {
        let _ = writeln!(s, "{}", p.pair.command(st));
    }
    s.push_str("```\n\n");
}

fn adapter_md(s: &mut String, p: &PairStudy, a: &Adapter, findings: &[FindingResult]) {
    let best = p.best_layer();
    let Some(t) = a.target_layer() else {
        let _ = writeln!(
            s,
            "- `{}`: its training summary is not in this run, so its target layer is unknown.\n",
            a.stage
        );
        return;
    };
    let why = if a.key == "best" {
        "the scan's best layer"
    } else {
        "the paper's layer"
    };
    let mut head = format!("**TLI at hidden state {t}** ({why}, `{}`)", a.stage);
    if let Some(tr) = &a.train {
        let f = |k: &str| tr.summary.get(k).and_then(|x| x.as_f64());
        if let (Some(n), Some(steps), Some(l0), Some(l1)) = (
            f("n_pairs"),
            f("steps_done"),
            f("first_loss"),
            f("final_epoch_mean_loss"),
        ) {
            let _ = write!(head, ": {n} training pairs, {steps} steps, loss {l0:.3} at the first step and {l1:.3} over the last epoch.");
        } else {
            head.push('.');
        }
    }
    let Some(e) = &a.eval else {
        let _ = writeln!(
            s,
            "{head} Its evaluation (`{}/{}`) is not in this run.\n",
            p.pair.eval_stage(),
            a.stage
        );
        return;
    };
    let _ = writeln!(s, "{head}\n");
    let mut items = Vec::new();
    if let Some(c) = e.change("held-out", t) {
        items.push(format!(
            "At hidden state {t}, TLI {}.",
            change_phrase("held-out", c)
        ));
    }
    let others: Vec<String> = p
        .pair
        .sets()
        .iter()
        .filter(|x| **x != "held-out")
        .filter_map(|x| e.change(x, t).map(|c| change_phrase(x, c)))
        .collect();
    if !others.is_empty() {
        items.push(format!("There it {}.", others.join("; it ")));
    }
    if let Some(g) = e.gain("held-out", t) {
        let tost = match (e.change("trained", t), e.change("held-out", t)) {
            (Some(tr), Some(h)) => gain_tost(tr, h).map(|(_, m, p)| format!("; TOST p = {} for equality within ±{m:.4}, {:.0} % of the trained pairs' change", pv(Some(p)), EQUIV_MARGIN * 100.0)),
            _ => None,
        };
        let mut it = format!(
            "Raw cosine {} on trained and {} on held-out pairs (Welch p = {} for a difference{})",
            gain_phrase(g.trained_gain),
            gain_phrase(g.other_gain),
            pv(g.welch_p),
            tost.unwrap_or_default()
        );
        for x in p
            .pair
            .sets()
            .iter()
            .filter(|x| !matches!(**x, "trained" | "held-out"))
        {
            if let Some(o) = e.gain(x, t) {
                let _ = write!(
                    it,
                    "; {} pairs {} (Welch p = {} against trained)",
                    set_label(x),
                    gain_phrase(o.other_gain),
                    pv(o.welch_p)
                );
            }
        }
        it.push('.');
        items.push(it);
    }
    if let Some(c) = e.change("held-out", t) {
        let (sg, hg) = (
            c.shuffled_after - c.shuffled_before,
            c.raw_after - c.raw_before,
        );
        let share = if hg != 0.0 {
            format!(", {:.2} times the held-out translations' change", sg / hg)
        } else {
            String::new()
        };
        let cited = if a.key == "l2" {
            cite(findings, cites(p.pair).shift_l2)
        } else {
            String::new()
        };
        items.push(format!(
            "Shuffled held-out pairs' raw cosine moved from {} to {} ({}{share}){cited}.",
            f3(c.shuffled_before),
            f3(c.shuffled_after),
            s3(sg)
        ));
    }
    if let Some(ab) = above(a, "held-out") {
        if ab.n_layers == 0 {
            items.push(format!("Hidden state {t} is the last one evaluated, so no layer above it shows what TLI does beyond its target."));
        } else {
            let (ml, md) = ab.max.unwrap_or((t, f64::NAN));
            let head = format!("Above hidden state {t} (blocks TLI did not train; only their input changed), held-out P@1");
            items.push(if ab.n_up == 0 && ab.n_down == 0 {
                format!("{head} did not change significantly at {} (largest change {} at hidden state {ml}).", if ab.n_layers == 1 { "the one hidden state there".to_string() } else { format!("any of the {} hidden states", ab.n_layers) }, s3(md))
            } else {
                format!("{head} rose at {} and fell at {} of the {} hidden states (95 % CI of the change above or below 0; largest change {} at hidden state {ml}).", ab.n_up, ab.n_down, ab.n_layers, s3(md))
            });
        }
    }
    if let Some(b) = best.filter(|b| *b != t) {
        if let Some(c) = e.change("held-out", b) {
            items.push(format!(
                "At the scan's best layer, hidden state {b}, TLI {}.",
                change_phrase("held-out", c)
            ));
        }
    }
    for it in items {
        let _ = writeln!(s, "- {it}");
    }
    s.push('\n');
}

/// Before/after table: every adapter, at its target layer and at the scan's best layer, per set
/// plus the held-out pairs' shuffled baseline.
pub fn change_table_md(p: &PairStudy) -> String {
    let mut s = String::new();
    if p.adapters.iter().all(|a| a.eval.is_none()) {
        return s;
    }
    s.push_str("| adapter (target) | hidden state | set | n | raw cosine before → after | centred cosine before → after | centred CSLS P@1 before → after | change of P@1 [95 % CI] |\n|---|---|---|---|---|---|---|---|\n");
    for a in &p.adapters {
        let (Some(e), Some(t)) = (&a.eval, a.target_layer()) else {
            continue;
        };
        let mut layers = vec![(t, "target")];
        if let Some(b) = p.best_layer().filter(|b| *b != t) {
            layers.push((b, "best"));
        }
        for (l, what) in layers {
            for set in p.pair.sets() {
                let Some(c) = e.change(set, l) else { continue };
                let _ = writeln!(
                    s,
                    "| {} ({t}) | {l} ({what}) | {set} | {} | {} → {} | {} → {} | {} → {} | {} [{}, {}] |",
                    a.stage,
                    c.n_pairs,
                    f3(c.raw_before),
                    f3(c.raw_after),
                    f3(c.centered_before),
                    f3(c.centered_after),
                    f3(c.p1_before),
                    f3(c.p1_after),
                    s3(c.delta_p1),
                    s3(c.delta_p1_ci_low),
                    s3(c.delta_p1_ci_high)
                );
            }
            if let Some(c) = e.change("held-out", l) {
                let _ = writeln!(
                    s,
                    "| {} ({t}) | {l} ({what}) | shuffled (held-out) | {} | {} → {} | {} → {} | — | — |",
                    a.stage,
                    c.n_pairs,
                    f3(c.shuffled_before),
                    f3(c.shuffled_after),
                    f3(c.centered_shuffled_before),
                    f3(c.centered_shuffled_after)
                );
            }
        }
    }
    s
}

/// The findings of one language pair.
pub fn findings_md(findings: &[FindingResult], pair: LangPair) -> String {
    let mut s = String::new();
    let mine: Vec<&FindingResult> = findings.iter().filter(|f| f.pair == pair.flag()).collect();
    if mine.is_empty() {
        return s;
    }
    s.push_str("| # | Finding | Verdict | Evidence |\n|---|---|---|---|\n");
    for f in mine {
        let ev = match (&f.verdict, &f.evidence) {
            (FindingVerdict::NeedsRun { key }, _) => format!("not measured by this run (`{key}`)"),
            (_, Some(e)) => e.clone(),
            (_, None) => String::new(),
        };
        let cav = f
            .caveat
            .as_ref()
            .map(|c| format!(" *{c}*"))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "| {} | {} | **{}** (`{}`) | {}{} |",
            f.id,
            md_cell(&f.claim),
            f.verdict.label(),
            md_cell(&f.condition),
            md_cell(&ev),
            md_cell(&cav)
        );
    }
    s
}

fn pair_md(s: &mut String, p: &PairStudy, findings: &[FindingResult], answer: &str) {
    let _ = writeln!(
        s,
        "\n## {}: what fine-tuning does to alignment\n",
        p.pair.name()
    );
    let _ = writeln!(s, "{MODEL_BEGIN}\n");
    s.push_str(answer);
    if p.is_empty() {
        let _ = writeln!(
            s,
            "None of this study's stages are in this run, so nothing is measured here yet.\n"
        );
        missing_md(s, p);
        s.push_str(&findings_md(findings, p.pair));
        let _ = writeln!(s, "\n{MODEL_END}");
        return;
    }
    let model = p.model().unwrap_or_else(|| "an unnamed model".into());
    let _ = writeln!(
        s,
        "Measured on **{model}**, a multilingual model, at every hidden state.{} Alignment is centred CSLS P@1 ({} -> English, CSLS k = 10, each language's vectors centred and renormalised), with `{EVAL_POOLING}` pooling (special tokens excluded) unless said; 95 % CIs are bootstrap CIs over pairs.\n",
        sizes_md(p),
        p.pair.source_language()
    );
    missing_md(s, p);
    scan_md(s, p, findings);
    if p.adapters
        .iter()
        .any(|a| a.train.is_some() || a.eval.is_some())
    {
        let _ = writeln!(s, "### After TLI\n");
        let _ = writeln!(s, "TLI is the paper's recipe (LoRA r 16 / alpha 32 on q_proj+v_proj, hardest-negative triplet loss, margin 0.4, 5 epochs) on the training pairs; each adapter is evaluated at every hidden state before and after.\n");
        for a in &p.adapters {
            adapter_md(s, p, a, findings);
        }
        let t = change_table_md(p);
        if !t.is_empty() {
            s.push_str(&t);
            let [_, fig] = figure_paths(p.pair);
            let _ = writeln!(s, "\n![{fig}](../{fig})\n");
            let _ = writeln!(s, "Centred CSLS P@1 per hidden state before (thin lines, hollow points) and after (thick lines) TLI, per set; the vertical line marks the adapter's target layer.\n");
        }
    }
    if let Some(op) = &p.open_pool {
        s.push_str(&super::open_pool::open_pool_md(op));
    }
    let bt = super::baselines::baseline_table_md(p);
    if !bt.is_empty() {
        let _ = writeln!(s, "### Against baselines\n");
        s.push_str(&super::baselines::baseline_intro_md(p));
        s.push_str(&bt);
        s.push('\n');
    }
    if let Some(a) = p.arms.as_ref().filter(|a| !a.rows.is_empty()) {
        let _ = writeln!(s, "### Training arms over seeds\n");
        s.push_str(&super::arms::arms_intro_md(a));
        s.push_str(&super::arms::arms_table_md(a));
        s.push('\n');
    }
    if let Some(b) = &p.behaviour {
        s.push_str(&super::behaviour::behaviour_md(
            b,
            &super::behaviour::lens_figure_path(p.pair),
        ));
    }
    let f = findings_md(findings, p.pair);
    if !f.is_empty() {
        let _ = writeln!(s, "### Findings\n");
        let _ = writeln!(s, "Each finding's verdict is its condition (in `paper/claims.toml`) evaluated on this run.\n");
        s.push_str(&f);
    }
    let _ = writeln!(s, "\n{MODEL_END}");
}

/// Both sections, Korean-English first, without answer paragraphs.
pub fn sections_md(study: &Study, findings: &[FindingResult]) -> String {
    sections_with_answers_md(study, findings, &[])
}

/// Both sections, each opened by its answer paragraph (`[[answer]]` in paper/claims.toml).
pub fn sections_with_answers_md(
    study: &Study,
    findings: &[FindingResult],
    answers: &[Answer],
) -> String {
    let mut s = String::new();
    let v = study.values();
    for p in study.pairs() {
        let answer = if p.is_empty() {
            String::new()
        } else {
            answer_md(answers, p.pair.flag(), findings, &v)
        };
        pair_md(&mut s, p, findings, &answer);
        if let (LangPair::KoEn, Some(q)) = (p.pair, &study.koen_qwen) {
            let _ = writeln!(s, "\n{MODEL_BEGIN}\n");
            s.push_str(&super::qwen::section_md(q));
            let _ = writeln!(s, "{MODEL_END}");
        }
    }
    s
}

/// Provenance lines of the study's stages (what the report may show: no paths, no times).
pub fn provenance_md(study: &Study) -> String {
    let mut s = String::new();
    for p in study.pairs() {
        for (name, sm) in p.summaries() {
            let get = |k: &str| {
                sm.get(k).filter(|v| !v.is_null()).map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string())
                })
            };
            let mut parts = Vec::new();
            for (k, label) in [
                ("model", "model"),
                ("model_sha256", "model sha256"),
                ("quant", "quant"),
                ("dtype", "dtype"),
                ("device", "device"),
                ("pooling", "pooling"),
                ("seed", "seed"),
                ("threads", "threads"),
            ] {
                if let Some(v) = get(k) {
                    parts.push(if k == "model_sha256" {
                        format!("{label} `{v}`")
                    } else {
                        format!("{label} {v}")
                    });
                }
            }
            let _ = writeln!(s, "- `{name}`: {}.", parts.join(", "));
        }
    }
    s
}
