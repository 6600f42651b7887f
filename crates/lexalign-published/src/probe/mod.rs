//! An audit of the authors' qualitative probe (script 05's `qualitative_probe_results.md`): for
//! the base and the tuned outputs separately, how many contain a word of their pair, how many
//! contain letters of a script the (Latin-script) prompts do not use, and what share of their
//! word tokens are English or Swahili words ([`words`] documents the vocabulary); then whether
//! base and tuned differ (exact McNemar tests on the paired yes/no outcomes, a sign test on the
//! per-row shares). The prompts themselves are measured the same way, as text known to be
//! English and Swahili. No model is needed.

pub mod scripts;
pub mod words;

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use lexalign_data::ProbeRow;
use serde::{Deserialize, Serialize};

use words::{contains_word, foreign_scripts, words};
pub use words::{Vocabulary, VocabularyInfo};

/// The measures over one column of outputs (or over the prompts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeSide {
    pub outputs: usize,
    /// Outputs with no word token at all.
    pub empty: usize,
    /// Outputs containing the Swahili or the English word of their pair (whole words, any case).
    pub with_pair_word: usize,
    /// Outputs containing a letter of a script other than Latin.
    pub with_foreign_script: usize,
    /// Per script: how many outputs contain its letters.
    pub scripts: BTreeMap<String, usize>,
    pub tokens: usize,
    pub english_tokens: usize,
    pub swahili_tokens: usize,
    /// Tokens that are English or Swahili words.
    pub known_tokens: usize,
    /// known_tokens / tokens.
    pub known_share: f64,
}

/// An exact test of base against tuned on paired outcomes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedTest {
    /// Rows where the base output has the property (or the higher share) and the tuned does not.
    pub base_only: u64,
    /// Rows where the tuned output has it and the base does not.
    pub tuned_only: u64,
    /// Two-sided exact p (McNemar / sign test).
    pub p: f64,
}

/// The audit of the released probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeAudit {
    pub rows: usize,
    pub pairs: usize,
    pub base: ProbeSide,
    pub tuned: ProbeSide,
    /// The prompts, measured the same way (their pair words are there by construction).
    pub prompts: ProbeSide,
    /// Rows whose base and tuned outputs are the same text.
    pub identical_outputs: usize,
    pub pair_word_test: PairedTest,
    pub foreign_script_test: PairedTest,
    pub known_share_test: PairedTest,
    pub vocabulary: VocabularyInfo,
}

/// One text's measures.
struct TextMeasure {
    pair_word: bool,
    scripts: Vec<&'static str>,
    tokens: usize,
    english: usize,
    swahili: usize,
    known: usize,
}

fn measure(text: &str, row: &ProbeRow, v: &Vocabulary) -> TextMeasure {
    let toks = words(text);
    let english = toks.iter().filter(|w| v.english.contains(*w)).count();
    let swahili = toks.iter().filter(|w| v.swahili.contains(*w)).count();
    let known = toks
        .iter()
        .filter(|w| v.english.contains(*w) || v.swahili.contains(*w))
        .count();
    TextMeasure {
        pair_word: contains_word(text, &row.swahili) || contains_word(text, &row.english),
        scripts: foreign_scripts(text).into_iter().collect(),
        tokens: toks.len(),
        english,
        swahili,
        known,
    }
}

fn side(ms: &[TextMeasure]) -> ProbeSide {
    let mut scripts = BTreeMap::new();
    for m in ms {
        for s in &m.scripts {
            *scripts.entry(s.to_string()).or_insert(0) += 1;
        }
    }
    let sum = |f: fn(&TextMeasure) -> usize| ms.iter().map(f).sum::<usize>();
    let tokens = sum(|m| m.tokens);
    let known = sum(|m| m.known);
    ProbeSide {
        outputs: ms.len(),
        empty: ms.iter().filter(|m| m.tokens == 0).count(),
        with_pair_word: ms.iter().filter(|m| m.pair_word).count(),
        with_foreign_script: ms.iter().filter(|m| !m.scripts.is_empty()).count(),
        scripts,
        tokens,
        english_tokens: sum(|m| m.english),
        swahili_tokens: sum(|m| m.swahili),
        known_tokens: known,
        known_share: if tokens == 0 {
            0.0
        } else {
            known as f64 / tokens as f64
        },
    }
}

fn mcnemar(base: &[bool], tuned: &[bool]) -> PairedTest {
    let base_only = base.iter().zip(tuned).filter(|(b, t)| **b && !**t).count() as u64;
    let tuned_only = base.iter().zip(tuned).filter(|(b, t)| !**b && **t).count() as u64;
    PairedTest {
        base_only,
        tuned_only,
        p: lexalign_stats::mcnemar_exact_p(base_only, tuned_only),
    }
}

/// Per-text share of known tokens (0 for a text without tokens).
fn shares(ms: &[TextMeasure]) -> Vec<f64> {
    ms.iter()
        .map(|m| {
            if m.tokens == 0 {
                0.0
            } else {
                m.known as f64 / m.tokens as f64
            }
        })
        .collect()
}

/// Audit `rows` against the vocabulary `v`.
pub fn audit(rows: &[ProbeRow], v: &Vocabulary) -> Result<ProbeAudit> {
    if rows.is_empty() {
        bail!("the probe table has no rows");
    }
    let base: Vec<TextMeasure> = rows.iter().map(|r| measure(&r.base, r, v)).collect();
    let tuned: Vec<TextMeasure> = rows.iter().map(|r| measure(&r.tuned, r, v)).collect();
    let prompts: Vec<TextMeasure> = rows.iter().map(|r| measure(&r.prompt, r, v)).collect();
    let flags =
        |ms: &[TextMeasure], f: fn(&TextMeasure) -> bool| ms.iter().map(f).collect::<Vec<bool>>();
    let (up, down, p) = lexalign_stats::sign_test(&shares(&base), &shares(&tuned));
    let pairs: std::collections::BTreeSet<(&str, &str)> = rows
        .iter()
        .map(|r| (r.swahili.as_str(), r.english.as_str()))
        .collect();
    Ok(ProbeAudit {
        rows: rows.len(),
        pairs: pairs.len(),
        identical_outputs: rows.iter().filter(|r| r.base == r.tuned).count(),
        pair_word_test: mcnemar(
            &flags(&base, |m| m.pair_word),
            &flags(&tuned, |m| m.pair_word),
        ),
        foreign_script_test: mcnemar(
            &flags(&base, |m| !m.scripts.is_empty()),
            &flags(&tuned, |m| !m.scripts.is_empty()),
        ),
        known_share_test: PairedTest {
            base_only: down,
            tuned_only: up,
            p,
        },
        base: side(&base),
        tuned: side(&tuned),
        prompts: side(&prompts),
        vocabulary: v.info(),
    })
}

#[cfg(test)]
mod tests;
