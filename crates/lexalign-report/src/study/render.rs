//! The study's report sections: every sentence is a template with conditions on the numbers of
//! the run (never hand-written conclusions), plus its tables. The sections sit between
//! [`MODEL_BEGIN`] / [`MODEL_END`] markers: `--check` compares their numbers within tolerances.

use std::fmt::Write as _;

use super::findings::{FindingResult, FindingVerdict};
use super::load::{Adapter, ChangeRow, LangPair, PairStudy, ScanRow, EVAL_POOLING, PILOT_POOLING};
use super::values::{above, chance};
use super::Study;
use crate::fmt::md_cell;

/// Start and end of a model-based region of the report (compared within tolerances by `--check`).
pub const MODEL_BEGIN: &str = "<!-- model-based: --check compares the numbers below within tolerances -->";
pub const MODEL_END: &str = "<!-- end model-based -->";

/// Figures of one language pair (paths relative to the output root).
pub fn figure_paths(pair: LangPair) -> [String; 2] {
    [format!("figures/study_{}_scan.svg", pair.key()), format!("figures/study_{}_p1_layers.svg", pair.key())]
}

/// Three decimals (cosines, P@k).
fn f3(x: f64) -> String {
    if x.is_nan() {
        "n/a".into()
    } else {
        format!("{x:.3}")
    }
}

fn s3(x: f64) -> String {
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
    let ci = format!("95 % CI of the change {}..{}", s3(c.delta_p1_ci_low), s3(c.delta_p1_ci_high));
    if c.delta_p1_ci_low > 0.0 {
        format!("raised {what} from {} to {} ({ci})", f3(c.p1_before), f3(c.p1_after))
    } else if c.delta_p1_ci_high < 0.0 {
        format!("lowered {what} from {} to {} ({ci})", f3(c.p1_before), f3(c.p1_after))
    } else {
        format!("did not change {what} ({} to {}; {ci} contains 0)", f3(c.p1_before), f3(c.p1_after))
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

fn sizes_md(p: &PairStudy) -> String {
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

fn scan_md(s: &mut String, p: &PairStudy) {
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
    laser_md(s, p);
    s.push_str(&scan_table_md(p));
    let [scan_fig, _] = figure_paths(p.pair);
    let _ = writeln!(s, "\n![{scan_fig}](../{scan_fig})\n");
    let _ = writeln!(
        s,
        "Per hidden state: raw pair cosine, shuffled-pair cosine and centred pair cosine (`{EVAL_POOLING}`), with centred CSLS P@1; left {model}, right the English-only control.\n"
    );
}

fn laser_md(s: &mut String, p: &PairStudy) {
    let has = p.scan.as_ref().is_some_and(|sc| sc.laser.is_some());
    if !has {
        let _ = writeln!(
            s,
            "LASER-2, the reference sentence encoder, is not measured in this run: it needs Meta's LASER-2 weights, which \
             `cargo xtask setup` never downloads. Get the three files as the README's \"LASER-2 reference encoder\" section \
             says, set `$LEXALIGN_LASER` to their folder, and run `lexalign laser scan --pairs <held-out pairs> --out \
             runs/<id>/{}/laser` (`lexalign laser --help`); the report then adds its row.\n",
            p.pair.scan_stage()
        );
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

fn adapter_md(s: &mut String, p: &PairStudy, a: &Adapter) {
    let best = p.best_layer();
    let Some(t) = a.target_layer() else {
        let _ = writeln!(s, "- `{}`: its training summary is not in this run, so its target layer is unknown.\n", a.stage);
        return;
    };
    let why = if a.key == "best" { "the scan's best layer" } else { "the paper's layer" };
    let mut head = format!("**TLI at hidden state {t}** ({why}, `{}`)", a.stage);
    if let Some(tr) = &a.train {
        let f = |k: &str| tr.summary.get(k).and_then(|x| x.as_f64());
        if let (Some(n), Some(steps), Some(l0), Some(l1)) = (f("n_pairs"), f("steps_done"), f("first_loss"), f("final_epoch_mean_loss")) {
            let _ = write!(head, ": {n} training pairs, {steps} steps, loss {l0:.3} at the first step and {l1:.3} over the last epoch.");
        } else {
            head.push('.');
        }
    }
    let Some(e) = &a.eval else {
        let _ = writeln!(s, "{head} Its evaluation (`{}/{}`) is not in this run.\n", p.pair.eval_stage(), a.stage);
        return;
    };
    let _ = writeln!(s, "{head}\n");
    let mut items = Vec::new();
    if let Some(c) = e.change("held-out", t) {
        items.push(format!("At hidden state {t}, TLI {}.", change_phrase("held-out", c)));
    }
    let others: Vec<String> = p.pair.sets().iter().filter(|x| **x != "held-out").filter_map(|x| e.change(x, t).map(|c| change_phrase(x, c))).collect();
    if !others.is_empty() {
        items.push(format!("There it {}.", others.join("; it ")));
    }
    if let Some(g) = e.gain("held-out", t) {
        let cmp = match g.welch_p {
            Some(pw) if pw.is_finite() && pw >= 0.05 => "as large as",
            Some(pw) if pw.is_finite() && g.other_gain < g.trained_gain => "smaller than",
            Some(pw) if pw.is_finite() => "larger than",
            _ => "not comparable with",
        };
        let mut it = format!(
            "Raw cosine gained {} on trained and {} on held-out pairs: the gain on held-out pairs is {cmp} on trained pairs (Welch p = {})",
            s3(g.trained_gain),
            s3(g.other_gain),
            pv(g.welch_p)
        );
        for x in p.pair.sets().iter().filter(|x| !matches!(**x, "trained" | "held-out")) {
            if let Some(o) = e.gain(x, t) {
                let _ = write!(it, "; {} pairs gained {} (Welch p = {} against trained)", set_label(x), s3(o.other_gain), pv(o.welch_p));
            }
        }
        it.push('.');
        items.push(it);
    }
    if let Some(c) = e.change("held-out", t) {
        let (sg, hg) = (c.shuffled_after - c.shuffled_before, c.raw_after - c.raw_before);
        let mut it = format!("Shuffled held-out pairs' raw cosine moved from {} to {} ({})", f3(c.shuffled_before), f3(c.shuffled_after), s3(sg));
        if hg > 0.0 && sg >= 0.5 * hg {
            it.push_str(": unrelated pairs gain at least half as much as translations, so most of the raw-cosine gain is a shift of all vectors, not alignment.");
        } else if hg > 0.0 {
            it.push_str(": less than half the translations' gain.");
        } else {
            it.push('.');
        }
        items.push(it);
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
            items.push(format!("At the scan's best layer, hidden state {b}, TLI {}.", change_phrase("held-out", c)));
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
        let (Some(e), Some(t)) = (&a.eval, a.target_layer()) else { continue };
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
        let cav = f.caveat.as_ref().map(|c| format!(" *{c}*")).unwrap_or_default();
        let _ = writeln!(s, "| {} | {} | **{}** (`{}`) | {}{} |", f.id, md_cell(&f.claim), f.verdict.label(), md_cell(&f.condition), md_cell(&ev), md_cell(&cav));
    }
    s
}

fn pair_md(s: &mut String, p: &PairStudy, findings: &[FindingResult]) {
    let _ = writeln!(s, "\n## {}: what fine-tuning does to alignment\n", p.pair.name());
    let _ = writeln!(s, "{MODEL_BEGIN}\n");
    if p.is_empty() {
        let _ = writeln!(s, "None of this study's stages are in this run, so nothing is measured here yet.\n");
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
    scan_md(s, p);
    if p.adapters.iter().any(|a| a.train.is_some() || a.eval.is_some()) {
        let _ = writeln!(s, "### After TLI\n");
        let _ = writeln!(s, "TLI is the paper's recipe (LoRA r 16 / alpha 32 on q_proj+v_proj, hardest-negative triplet loss, margin 0.4, 5 epochs) on the training pairs; each adapter is evaluated at every hidden state before and after.\n");
        for a in &p.adapters {
            adapter_md(s, p, a);
        }
        let t = change_table_md(p);
        if !t.is_empty() {
            s.push_str(&t);
            let [_, fig] = figure_paths(p.pair);
            let _ = writeln!(s, "\n![{fig}](../{fig})\n");
            let _ = writeln!(s, "Centred CSLS P@1 per hidden state before (thin lines, hollow points) and after (thick lines) TLI, per set; the vertical line marks the adapter's target layer.\n");
        }
    }
    let f = findings_md(findings, p.pair);
    if !f.is_empty() {
        let _ = writeln!(s, "### Findings\n");
        let _ = writeln!(s, "Each finding's verdict is its condition (in `paper/claims.toml`) evaluated on this run.\n");
        s.push_str(&f);
    }
    let _ = writeln!(s, "\n{MODEL_END}");
}

/// Both sections, Korean-English first.
pub fn sections_md(study: &Study, findings: &[FindingResult]) -> String {
    let mut s = String::new();
    for p in study.pairs() {
        pair_md(&mut s, p, findings);
    }
    s
}

/// Provenance lines of the study's stages (what the report may show: no paths, no times).
pub fn provenance_md(study: &Study) -> String {
    let mut s = String::new();
    for p in study.pairs() {
        for (name, sm) in p.summaries() {
            let get = |k: &str| sm.get(k).filter(|v| !v.is_null()).map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()));
            let mut parts = Vec::new();
            for (k, label) in [("model", "model"), ("model_sha256", "model sha256"), ("quant", "quant"), ("dtype", "dtype"), ("device", "device"), ("pooling", "pooling"), ("seed", "seed"), ("threads", "threads")] {
                if let Some(v) = get(k) {
                    parts.push(if k == "model_sha256" { format!("{label} `{v}`") } else { format!("{label} {v}") });
                }
            }
            let _ = writeln!(s, "- `{name}`: {}.", parts.join(", "));
        }
    }
    s
}
