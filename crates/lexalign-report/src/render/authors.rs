//! The report's section on the authors' generated text and figures: the audit of script 05's
//! released probe (lexalign-published's `probe` module, from the published-data stage) and the
//! verdicts of the findings about it (`pair = "authors"` in paper/claims.toml).

use std::fmt::Write as _;

use lexalign_published::probe::{ProbeAudit, ProbeSide};

use crate::fmt::{md_cell, p_value};
use crate::run::RunFolder;
use crate::study::findings::{FindingResult, FindingVerdict, AUTHORS};

/// The whole section.
pub(super) fn authors_md(run: &RunFolder, findings: &[FindingResult]) -> String {
    let mut s = String::new();
    s.push_str("\n## The authors' generated text and figures\n\n");
    s.push_str(
        "The authors released two outputs that no number of the paper draws on: script 05's qualitative probe \
         (`results/evaluation/qualitative_probe_results.md`: for 7 training pairs and 6 prompt templates, 20 new tokens \
         sampled at temperature 0.1, top-p 0.9, from the base model and from the TLI-tuned model, both 4-bit with bf16 \
         compute and bitsandbytes' default FP4) and script 04's two t-SNE pictures of 25 training pairs' layer-2 vectors \
         (`tsne_embedding_space_PRE_TLI.png`, `..._POST_TLI.png`).\n\n",
    );
    match &run.published.probe {
        Some(a) => audit_md(&mut s, a),
        None => s.push_str(
            "The probe audit is not in this run: the published-data stage found no lexicons or corpora for its vocabulary \
             (run `cargo xtask setup`, or set LEXALIGN_LEXICONS and LEXALIGN_CORPORA, then reproduce).\n\n",
        ),
    }
    let scripts = super::authors_scripts::load(&run.path).unwrap_or_else(|e| {
        log::warn!("{e:#}");
        None
    });
    s.push_str(&super::authors_scripts::section_md(
        scripts.as_ref(),
        run.published.probe.as_ref(),
    ));
    s.push_str(
        "The two t-SNE pictures, read by eye (they are images; nothing in them can be recomputed), show the Swahili and the \
         English words as two separate clusters both before and after TLI, with the lines joining translations running \
         from one cluster to the other: in neither picture are translations neighbours.\n\n",
    );
    let mine: Vec<&FindingResult> = findings.iter().filter(|f| f.pair == AUTHORS).collect();
    if !mine.is_empty() {
        s.push_str("### Findings on the released probe\n\n");
        s.push_str("Each verdict is the finding's condition (in `paper/claims.toml`) evaluated on the audit's numbers.\n\n");
        s.push_str("| # | Finding | Verdict | Evidence |\n|---|---|---|---|\n");
        for f in mine {
            let ev = match (&f.verdict, &f.evidence) {
                (FindingVerdict::NeedsRun { key }, _) => {
                    format!("not measured by this run (`{key}`)")
                }
                (_, Some(e)) => e.clone(),
                (_, None) => String::new(),
            };
            let cav = f
                .caveat
                .as_ref()
                .map(|c| format!(" *{c}*"))
                .unwrap_or_default();
            let verdict = match f.verdict {
                FindingVerdict::NeedsRun { .. } => "needs the probe audit",
                _ => f.verdict.label(),
            };
            let _ = writeln!(
                s,
                "| {} | {} | **{verdict}** (`{}`) | {}{} |",
                f.id,
                md_cell(&f.claim),
                md_cell(&f.condition),
                md_cell(&ev),
                md_cell(&cav)
            );
        }
        s.push('\n');
    }
    s
}

fn audit_md(s: &mut String, a: &ProbeAudit) {
    let _ = writeln!(
        s,
        "**Audit of the released probe** ({} rows: {} pairs x 6 prompts; every prompt is in the Latin script). The prompts \
         are measured the same way, as text known to be English and Swahili.\n",
        a.rows, a.pairs
    );
    s.push_str("| measure | base model | TLI-tuned model | the prompts |\n|---|---|---|---|\n");
    let row = |s: &mut String, what: &str, f: &dyn Fn(&ProbeSide) -> String| {
        let _ = writeln!(
            s,
            "| {what} | {} | {} | {} |",
            f(&a.base),
            f(&a.tuned),
            f(&a.prompts)
        );
    };
    row(s, "texts containing either word of their pair", &|x| {
        format!("{} of {}", x.with_pair_word, x.outputs)
    });
    row(s, "texts with letters of a non-Latin script", &|x| {
        format!("{} of {}", x.with_foreign_script, x.outputs)
    });
    row(s, "those scripts (texts containing each)", &|x| scripts(x));
    row(s, "texts without any word token", &|x| x.empty.to_string());
    row(s, "word tokens", &|x| x.tokens.to_string());
    row(s, "share that are English or Swahili words", &|x| {
        format!("{:.3}", x.known_share)
    });
    row(s, "share English / share Swahili", &|x| {
        let t = x.tokens.max(1) as f64;
        format!(
            "{:.3} / {:.3}",
            x.english_tokens as f64 / t,
            x.swahili_tokens as f64 / t
        )
    });
    let t = |x: &lexalign_published::probe::PairedTest| {
        format!(
            "base only {}, tuned only {}, p = {}",
            x.base_only,
            x.tuned_only,
            p_value(x.p)
        )
    };
    let _ = writeln!(
        s,
        "\nBase against tuned, paired by row: other scripts (exact McNemar) {}; a pair word (exact McNemar) {}; higher \
         share of English or Swahili words (sign test, ties dropped) {}. {} rows have the same text in both columns.\n",
        t(&a.foreign_script_test),
        t(&a.pair_word_test),
        t(&a.known_share_test),
        a.identical_outputs
    );
    let _ = writeln!(
        s,
        "Word tokens are maximal runs of letters, lower-cased; the vocabulary ({} English and {} Swahili words) is the {}.\n",
        a.vocabulary.english_words, a.vocabulary.swahili_words, a.vocabulary.sources
    );
}

fn scripts(x: &ProbeSide) -> String {
    if x.scripts.is_empty() {
        return "none".into();
    }
    x.scripts
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}
