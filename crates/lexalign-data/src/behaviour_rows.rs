//! The rows of `lang-study behaviour` (what fine-tuning changed in what the model does), one type
//! per output file, shared by the writer (lang-study) and the reader (the report): per-sentence
//! LM loss and its summary, per-prompt word translation and its summary, the logit lens per
//! hidden state, and a few greedy generations. `model` is `base` or an adapter's label.

use anyhow::Result;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One sentence's loss under one model (`behaviour/lm_loss.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BehaviourLmRow {
    pub model: String,
    /// `ko`, `en` or `sw`.
    pub lang: String,
    /// Index in the seeded subsample (the same sentence under every model).
    pub index: usize,
    pub tokens: usize,
    /// Nats over the predicted tokens.
    pub nll_sum: f64,
    pub bytes: usize,
}

/// One (model, language) LM loss with the paired bootstrap CI of after − base
/// (`behaviour/lm_summary.csv`; the base's own deltas are 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LmSummaryRow {
    pub model: String,
    pub lang: String,
    pub sentences: usize,
    pub bits_per_byte: f64,
    pub nats_per_token: f64,
    /// Bits per byte, this model − base, with its 95 % paired bootstrap interval over sentences.
    pub delta_bpb: f64,
    pub delta_bpb_low: f64,
    pub delta_bpb_high: f64,
}

impl LmSummaryRow {
    /// `delta_bpb` and its interval relative to the base's bits per byte.
    pub fn relative(&self) -> (f64, f64, f64) {
        let base = self.bits_per_byte - self.delta_bpb;
        (
            self.delta_bpb / base,
            self.delta_bpb_low / base,
            self.delta_bpb_high / base,
        )
    }
}

/// One prompted translation (`behaviour/translation.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranslationRow {
    pub model: String,
    /// `ko-en` (source Korean) or `en-ko`; `sw-en` / `en-sw` for Swahili.
    pub direction: String,
    /// In-context pairs in the prompt (0 or 5).
    pub shots: usize,
    pub source: String,
    /// Gold translations joined by ` | `.
    pub gold: String,
    /// The greedy continuation's first word, normalised.
    pub greedy_word: String,
    pub greedy_correct: bool,
    /// Rank (1 = best) of the best gold among the candidate pool by total log-probability.
    pub gold_rank: usize,
    pub pool: usize,
}

/// One (model, direction, shots) summary with paired bootstrap CIs of model − base
/// (`behaviour/translation_summary.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranslationSummaryRow {
    pub model: String,
    pub direction: String,
    pub shots: usize,
    pub n: usize,
    pub pool: usize,
    pub greedy_accuracy: f64,
    pub p1: f64,
    pub p5: f64,
    pub delta_greedy: f64,
    pub delta_greedy_low: f64,
    pub delta_greedy_high: f64,
    pub delta_p1: f64,
    pub delta_p1_low: f64,
    pub delta_p1_high: f64,
}

/// The logit lens at one hidden state (`behaviour/logit_lens.csv`), over the zero-shot prompts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LensRow {
    pub model: String,
    pub direction: String,
    pub layer: usize,
    pub n: usize,
    /// Median rank of the gold translation's first token (1 = top).
    pub median_rank: f64,
    pub mean_p_hangul: f64,
    pub mean_p_latin: f64,
}

/// One greedy generation (`behaviour/samples.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleRow {
    pub model: String,
    /// `translate-0shot`, `translate-5shot`, `continue-ko`, `continue-en`, ...
    pub prompt_type: String,
    pub prompt: String,
    pub text: String,
}

/// The CSV bytes of `rows` (header from the row type).
pub fn to_csv<T: Serialize>(rows: &[T]) -> Result<Vec<u8>> {
    crate::typed_files::csv_bytes(rows, "a behaviour file")
}

/// Reads a CSV of `T`, naming the file and line that does not parse.
pub fn read_csv<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    crate::typed_files::read_csv(path)
}

/// `samples.jsonl`'s bytes.
pub fn samples_jsonl(rows: &[SampleRow]) -> Result<Vec<u8>> {
    crate::typed_files::jsonl_bytes(rows)
}

/// Reads `samples.jsonl`, naming the line that does not parse.
pub fn read_samples(path: &Path) -> Result<Vec<SampleRow>> {
    crate::typed_files::read_jsonl(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let rows = vec![TranslationRow {
            model: "base".into(),
            direction: "ko-en".into(),
            shots: 5,
            source: "사랑".into(),
            gold: "love | affection".into(),
            greedy_word: "love".into(),
            greedy_correct: true,
            gold_rank: 1,
            pool: 40,
        }];
        let p = dir.path().join("t.csv");
        std::fs::write(&p, to_csv(&rows).unwrap()).unwrap();
        assert_eq!(read_csv::<TranslationRow>(&p).unwrap(), rows);
        std::fs::write(&p, "model,lang\nbase,ko\n").unwrap();
        let e = format!("{:#}", read_csv::<LmSummaryRow>(&p).unwrap_err());
        assert!(e.contains("line 2"), "{e}");
        let s = vec![SampleRow {
            model: "base".into(),
            prompt_type: "continue-ko".into(),
            prompt: "a\nb".into(),
            text: "c".into(),
        }];
        let q = dir.path().join("s.jsonl");
        std::fs::write(&q, samples_jsonl(&s).unwrap()).unwrap();
        assert_eq!(read_samples(&q).unwrap(), s);
    }

    #[test]
    fn relative_change_is_against_the_base() {
        let r = LmSummaryRow {
            model: "a".into(),
            lang: "ko".into(),
            sentences: 3,
            bits_per_byte: 1.1,
            nats_per_token: 2.0,
            delta_bpb: 0.1,
            delta_bpb_low: 0.05,
            delta_bpb_high: 0.2,
        };
        let (d, lo, hi) = r.relative();
        assert!((d - 0.1).abs() < 1e-12 && (lo - 0.05).abs() < 1e-12 && (hi - 0.2).abs() < 1e-12);
    }
}
