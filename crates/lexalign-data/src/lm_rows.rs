//! The rows of the language-model outputs, one type per file, shared by the writer (`lexalign
//! generate`, `lexalign lm-loss`) and any reader: `generations.jsonl` (one JSON object per
//! prompt, in input order) and `lm_loss.csv` (one row per text line).

use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One prompt's continuation (`generations.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationRow {
    pub prompt: String,
    /// The prompt's token ids, special tokens included as the tokenizer adds them.
    pub prompt_ids: Vec<i64>,
    /// The generated ids (an end-of-sequence token included when one was generated).
    pub new_ids: Vec<i64>,
    /// `new_ids` decoded, special tokens skipped.
    pub text: String,
}

/// One text's language-model loss (`lm_loss.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LmLossRow {
    pub text: String,
    /// Tokens predicted (all but the first).
    pub tokens: usize,
    /// Sum of their negative log-likelihoods, nats.
    pub nll_sum: f64,
    /// UTF-8 bytes of the text.
    pub bytes: usize,
}

/// `generations.jsonl`'s bytes: one compact JSON object per line.
pub fn generations_jsonl(rows: &[GenerationRow]) -> Result<Vec<u8>> {
    crate::typed_files::jsonl_bytes(rows)
}

/// Reads `generations.jsonl`, naming the line that does not parse.
pub fn read_generations(path: &Path) -> Result<Vec<GenerationRow>> {
    crate::typed_files::read_jsonl(path)
}

/// `lm_loss.csv`'s bytes.
pub fn lm_loss_csv(rows: &[LmLossRow]) -> Result<Vec<u8>> {
    crate::typed_files::csv_bytes(rows, "lm_loss.csv")
}

/// Reads `lm_loss.csv`, naming the row that does not parse.
pub fn read_lm_loss(path: &Path) -> Result<Vec<LmLossRow>> {
    crate::typed_files::read_csv(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_through_their_files() {
        let dir = tempfile::tempdir().unwrap();
        let g = vec![GenerationRow {
            prompt: "a\nb, \"c\"".into(),
            prompt_ids: vec![2, 5],
            new_ids: vec![7, 1],
            text: "사랑".into(),
        }];
        let p = dir.path().join("generations.jsonl");
        std::fs::write(&p, generations_jsonl(&g).unwrap()).unwrap();
        assert_eq!(read_generations(&p).unwrap(), g);
        let l = vec![LmLossRow {
            text: "x, \"y\"\tz".into(),
            tokens: 3,
            nll_sum: 4.25,
            bytes: 9,
        }];
        let p = dir.path().join("lm_loss.csv");
        std::fs::write(&p, lm_loss_csv(&l).unwrap()).unwrap();
        assert_eq!(read_lm_loss(&p).unwrap(), l);
    }
}
