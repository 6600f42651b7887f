//! The authors' scripts 05 and 04 run on the embedded models (the `authors-scripts` stage,
//! issue 28), inside the report's section on the authors' generated text: the audit numbers of
//! each model's generations beside the released probe's, the script-05 tables beside the authors'
//! outputs, and the t-SNE translation ranks; the `scripts.*` keys of findings 60-64.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use lexalign_data::authors_rows::{
    read_gen, read_rows, ScriptGenRow, TsnePointRow, TsneRankRow, AUTHORS_MODEL, SAMPLED,
};
use lexalign_published::probe::scripts::{ModelAudit, ScriptsSummary};
use lexalign_published::probe::ProbeSide;

use crate::fmt::md_cell;
use crate::study::render::{MODEL_BEGIN, MODEL_END};
use crate::values::{Val, Values};

/// The stage's folder in a run.
pub const STAGE: &str = "authors-scripts";
/// The figure of the four t-SNE panels.
pub const TSNE_FIGURE: &str = "figures/study_authors_tsne.svg";

/// The stage's outputs.
pub struct ScriptsRun {
    pub summary: ScriptsSummary,
    pub gens: Vec<ScriptGenRow>,
    pub ranks: Vec<TsneRankRow>,
    pub points: Vec<TsnePointRow>,
}

/// `None` when the run has no `authors-scripts/summary.json` (the stage did not run).
pub fn load(run: &Path) -> Result<Option<ScriptsRun>> {
    let dir = run.join(STAGE);
    if !dir.join("summary.json").is_file() {
        return Ok(None);
    }
    Ok(Some(ScriptsRun {
        summary: ScriptsSummary::read(&dir.join("summary.json"))?,
        gens: read_gen(&dir.join("probe_generations.jsonl"))?,
        ranks: read_rows(&dir.join("tsne_ranks.csv"))?,
        points: read_rows(&dir.join("tsne.csv"))?,
    }))
}

fn num(v: &mut Values, k: String, x: f64) {
    v.insert(k, Val::Num(x));
}

/// `scripts.<adapter stage>.<decoding>.<base|tuned>.<measure>`, `scripts.<adapter>.<decoding>.test.<t>.p`,
/// `scripts.tsne.<l2|best>.<before|after>.mean_rank`, `scripts.best_layer`.
pub fn values(v: &mut Values, s: Option<&ScriptsRun>) {
    let Some(s) = s else { return };
    for m in &s.summary.audits {
        let p = format!("scripts.{}.{}", m.adapter, m.decoding);
        for (name, side) in [("base", &m.audit.base), ("tuned", &m.audit.tuned)] {
            num(
                v,
                format!("{p}.{name}.pair_word"),
                side.with_pair_word as f64,
            );
            num(
                v,
                format!("{p}.{name}.foreign"),
                side.with_foreign_script as f64,
            );
            num(v, format!("{p}.{name}.known_share"), side.known_share);
            num(v, format!("{p}.{name}.tokens"), side.tokens as f64);
            num(v, format!("{p}.{name}.empty"), side.empty as f64);
        }
        num(v, format!("{p}.rows"), m.audit.rows as f64);
        for (t, x) in [
            ("pair_word", &m.audit.pair_word_test),
            ("foreign", &m.audit.foreign_script_test),
            ("known", &m.audit.known_share_test),
        ] {
            num(v, format!("{p}.test.{t}.p"), x.p);
        }
    }
    num(v, "scripts.best_layer".into(), s.summary.best_layer as f64);
    let rank = |layer: usize, state: &str| {
        s.summary
            .tsne
            .iter()
            .find(|t| t.layer == layer && t.state == state)
            .map(|t| t.mean_rank)
    };
    if let (Some(b), Some(a)) = (rank(2, "before"), rank(2, "after")) {
        num(v, "scripts.tsne.l2.rank_drop".into(), b - a);
    }
    for t in &s.summary.tsne {
        let tag = if t.layer == 2 { "l2" } else { "best" };
        num(
            v,
            format!("scripts.tsne.{tag}.{}.mean_rank", t.state),
            t.mean_rank,
        );
        num(
            v,
            format!("scripts.tsne.{tag}.{}.trust5", t.state),
            t.trustworthiness_5,
        );
        if t.layer == 2 && s.summary.best_layer == 2 {
            num(
                v,
                format!("scripts.tsne.best.{}.mean_rank", t.state),
                t.mean_rank,
            );
        }
    }
}

/// The section's part on the embedded models (empty text when the stage did not run).
pub fn section_md(
    s: Option<&ScriptsRun>,
    authors: Option<&lexalign_published::probe::ProbeAudit>,
) -> String {
    let Some(s) = s else {
        return "Script 05 and 04 on the embedded models are not in this run: the `authors-scripts` stage did not run \
                (`cargo xtask reproduce` runs it after `swen-tli-train`).\n\n"
            .into();
    };
    let mut out = String::new();
    out.push_str("### Scripts 05 and 04 on the embedded models\n\n");
    out.push_str(MODEL_BEGIN);
    out.push_str("\n\n");
    audit_table(&mut out, s, authors);
    probe_tables(&mut out, s);
    tsne_md(&mut out, s);
    out.push_str(MODEL_END);
    out.push_str("\n\n");
    out
}

fn side_cells(x: &ProbeSide) -> String {
    format!(
        "{} of {} | {} | {:.3} | {} | {}",
        x.with_pair_word, x.outputs, x.with_foreign_script, x.known_share, x.tokens, x.empty
    )
}

fn audit_table(
    out: &mut String,
    s: &ScriptsRun,
    authors: Option<&lexalign_published::probe::ProbeAudit>,
) {
    let _ = writeln!(
        out,
        "The released probe's 42 prompts (7 pairs x 6 templates, parsed from the released file) continued for 20 new tokens \
         by the embedded models, sampled with the authors' settings (temperature 0.1, top-p 0.9, seed {}) and greedy, \
         without and with an adapter trained by the paper's recipe: the `tli-train` adapter on the English-only model, the \
         `swen-tli-train` adapter on Gemma 3 270M; the same measures as the audit above.\n",
        s.summary.seed
    );
    out.push_str("| outputs | decoding | with a pair word | with other scripts | English or Swahili share | word tokens | empty |\n|---|---|---|---|---|---|---|\n");
    if let Some(a) = authors {
        let _ = writeln!(
            out,
            "| the authors' base model | sampled | {} |",
            side_cells(&a.base)
        );
        let _ = writeln!(
            out,
            "| the authors' TLI-tuned model | sampled | {} |",
            side_cells(&a.tuned)
        );
    }
    for m in &s.summary.audits {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            md_cell(&m.model),
            m.decoding,
            side_cells(&m.audit.base)
        );
        let _ = writeln!(
            out,
            "| {} + `{}` adapter | {} | {} |",
            md_cell(&m.model),
            m.adapter,
            m.decoding,
            side_cells(&m.audit.tuned)
        );
    }
    out.push('\n');
    let tests: Vec<String> = s.summary.audits.iter().map(test_line).collect();
    let _ = writeln!(
        out,
        "Base against tuned, paired by row (exact McNemar; sign test for the share): {}.\n",
        tests.join("; ")
    );
}

fn test_line(m: &ModelAudit) -> String {
    let a = &m.audit;
    format!(
        "{} {}: pair word p = {:.3}, other scripts p = {:.3}, share p = {:.3}, {} identical rows",
        m.model,
        m.decoding,
        a.pair_word_test.p,
        a.foreign_script_test.p,
        a.known_share_test.p,
        a.identical_outputs
    )
}

/// The text of `model`'s `tuned` output of probe row `i` (sampled decoding).
fn text_of<'a>(s: &'a ScriptsRun, model: &str, tuned: bool, key: &ScriptGenRow) -> &'a str {
    s.gens
        .iter()
        .find(|g| {
            g.model == model
                && g.tuned == tuned
                && g.decoding == SAMPLED
                && g.prompt == key.prompt
                && g.swahili == key.swahili
        })
        .map(|g| g.text.as_str())
        .unwrap_or("(missing)")
}

fn probe_tables(out: &mut String, s: &ScriptsRun) {
    let keys: Vec<&ScriptGenRow> = s
        .gens
        .iter()
        .filter(|g| g.model == AUTHORS_MODEL && !g.tuned)
        .collect();
    let models: Vec<(String, String)> = s
        .summary
        .audits
        .iter()
        .filter(|m| m.decoding == SAMPLED)
        .map(|m| (m.model.clone(), m.adapter.clone()))
        .collect();
    out.push_str("Script 05's table, sampled with the authors' settings (greedy outputs in the run's `authors-scripts/probe_generations.jsonl`):\n\n");
    let mut head = String::from("| pair | prompt | authors: base | authors: tuned |");
    let mut rule = String::from("|---|---|---|---|");
    for (m, a) in &models {
        let _ = write!(head, " {}: base | {} + `{a}` |", md_cell(m), md_cell(m));
        rule.push_str("---|---|");
    }
    let _ = writeln!(out, "{head}\n{rule}");
    for k in keys {
        let _ = write!(
            out,
            "| {} / {} | {} | {} | {} |",
            md_cell(&k.swahili),
            md_cell(&k.english),
            md_cell(&k.prompt),
            md_cell(text_of(s, AUTHORS_MODEL, false, k)),
            md_cell(text_of(s, AUTHORS_MODEL, true, k))
        );
        for (m, _) in &models {
            let _ = write!(
                out,
                " {} | {} |",
                md_cell(text_of(s, m, false, k)),
                md_cell(text_of(s, m, true, k))
            );
        }
        out.push('\n');
    }
    out.push('\n');
}

fn tsne_md(out: &mut String, s: &ScriptsRun) {
    let sm = &s.summary;
    let _ = writeln!(
        out,
        "Script 04 on {} (exact t-SNE, perplexity 15, 1,000 iterations, PCA start; the 25 pairs of the authors' sample; \
         mean over the word's tokens without BOS, L2-normalised) at hidden state 2 and at the Swahili-English scan's best \
         layer ({}), before and after the `{}` adapter: `{}`. What a picture cannot show, the rank of each pair's \
         translation among the 25 English words by cosine in the model's own space (1 = nearest; 13 = chance):\n",
        md_cell(&sm.tsne_model),
        sm.best_layer,
        sm.tsne_adapter,
        TSNE_FIGURE
    );
    out.push_str("| panel | KL divergence | trustworthiness (5) | mean rank | pairs at rank 1 |\n|---|---|---|---|---|\n");
    for p in &sm.tsne {
        let _ = writeln!(
            out,
            "| hidden state {} {} | {:.3} | {:.3} | {:.2} | {} of 25 |",
            p.layer, p.state, p.kl_divergence, p.trustworthiness_5, p.mean_rank, p.rank_1
        );
    }
    out.push('\n');
    let layers: Vec<usize> = {
        let mut l: Vec<usize> = s.ranks.iter().map(|r| r.layer).collect();
        l.dedup();
        l
    };
    let mut head = String::from("| pair |");
    let mut rule = String::from("|---|");
    for l in &layers {
        let _ = write!(head, " state {l}: before | after |");
        rule.push_str("---|---|");
    }
    let _ = writeln!(out, "{head}\n{rule}");
    let n = s.ranks.iter().filter(|r| r.layer == layers[0]).count();
    for i in 0..n {
        let mut line = String::new();
        for l in &layers {
            if let Some(r) = s.ranks.iter().find(|r| r.layer == *l && r.pair == i) {
                if line.is_empty() {
                    let _ = write!(
                        line,
                        "| {} / {} |",
                        md_cell(&r.swahili),
                        md_cell(&r.english)
                    );
                }
                let _ = write!(line, " {} | {} |", r.rank_before, r.rank_after);
            }
        }
        let _ = writeln!(out, "{line}");
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use lexalign_data::ProbeRow;
    use lexalign_published::probe::scripts::TsnePanel;
    use lexalign_published::probe::{audit, Vocabulary};

    fn gen(model: &str, tuned: bool, text: &str) -> ScriptGenRow {
        ScriptGenRow {
            model: model.into(),
            adapter: "tli-train".into(),
            decoding: SAMPLED.into(),
            tuned,
            swahili: "mbwa".into(),
            english: "dog".into(),
            template: "Direct".into(),
            prompt: "The English word for 'mbwa' is".into(),
            text: text.into(),
            new_tokens: 3,
        }
    }

    /// Synthetic stage outputs: one probe row, one model, one t-SNE layer.
    fn synthetic() -> ScriptsRun {
        let v = Vocabulary::from_texts(["the dog is a dog"], ["mbwa"], "test");
        let row = ProbeRow {
            swahili: "mbwa".into(),
            english: "dog".into(),
            template: "Direct".into(),
            prompt: "The English word for 'mbwa' is".into(),
            base: "a dog".into(),
            tuned: "дом x".into(),
            line: 1,
        };
        let a = audit(&[row], &v).unwrap();
        let panel = |state: &str, mean_rank: f64| TsnePanel {
            layer: 2,
            state: state.into(),
            kl_divergence: 0.5,
            n_iter: 999,
            trustworthiness_5: 0.9,
            mean_rank,
            rank_1: 1,
        };
        ScriptsRun {
            summary: ScriptsSummary {
                audits: vec![ModelAudit {
                    model: "m".into(),
                    adapter: "tli-train".into(),
                    decoding: SAMPLED.into(),
                    audit: a,
                }],
                tsne_model: "g".into(),
                tsne_adapter: "swen-tli-train".into(),
                best_layer: 2,
                tsne: vec![panel("before", 9.0), panel("after", 6.5)],
                seed: 42,
                seconds: 1.0,
            },
            gens: vec![
                gen(AUTHORS_MODEL, false, "x"),
                gen(AUTHORS_MODEL, true, "y"),
                gen("m", false, "a dog"),
                gen("m", true, "дом x"),
            ],
            ranks: vec![TsneRankRow {
                layer: 2,
                pair: 0,
                swahili: "mbwa".into(),
                english: "dog".into(),
                rank_before: 3,
                rank_after: 1,
            }],
            points: vec![],
        }
    }

    #[test]
    fn values_and_section_from_rows() {
        let s = synthetic();
        let mut v = Values::new();
        values(&mut v, Some(&s));
        let n = |k: &str| match v.get(k) {
            Some(Val::Num(x)) => *x,
            other => panic!("{k}: {other:?}"),
        };
        assert_eq!(n("scripts.tli-train.sampled.base.pair_word"), 1.0);
        assert_eq!(n("scripts.tli-train.sampled.tuned.foreign"), 1.0);
        assert_eq!(n("scripts.tli-train.sampled.base.known_share"), 1.0);
        assert_eq!(n("scripts.tsne.l2.rank_drop"), 2.5);
        assert_eq!(
            n("scripts.tsne.best.after.mean_rank"),
            6.5,
            "best layer 2 = hidden state 2"
        );
        let md = section_md(Some(&s), None);
        assert!(md.contains(MODEL_BEGIN) && md.contains(MODEL_END));
        assert!(
            md.contains("| mbwa / dog | The English word for 'mbwa' is | x | y | a dog | дом x |"),
            "{md}"
        );
        assert!(
            md.contains("| m | sampled | 1 of 1 | 0 | 1.000 | 2 | 0 |"),
            "{md}"
        );
        assert!(md.contains("| mbwa / dog | 3 | 1 |"), "{md}");
        assert!(section_md(None, None).contains("did not run"));
        let svg = super::super::authors_tsne::tsne_figure(&s).unwrap();
        assert!(
            svg.starts_with("<svg") && svg == super::super::authors_tsne::tsne_figure(&s).unwrap()
        );
    }
}
