//! The rows of the `authors-scripts` stage (the authors' scripts 04 and 05 run on the embedded
//! models), one type per file, shared by the writer (`lang-study authors`) and the report:
//! `probe_generations.jsonl` (script 05: one row per model, adapter state, decoding and probe
//! row, the authors' own outputs included as model `authors`), `tsne.csv` (script 04: the 2-D
//! point of each word in each panel) and `tsne_ranks.csv` (per pair and layer, the rank of its
//! translation among the 25 targets in the original space, before and after the adapter).

use anyhow::Result;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::path::Path;

/// The `model` of the rows that copy the authors' released outputs.
pub const AUTHORS_MODEL: &str = "authors";
/// Decodings: the authors' settings (20 new tokens, temperature 0.1, top-p 0.9, seeded) and greedy.
pub const SAMPLED: &str = "sampled";
pub const GREEDY: &str = "greedy";

/// One continuation of one probe prompt (`probe_generations.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptGenRow {
    /// An embedded model's name, or [`AUTHORS_MODEL`].
    pub model: String,
    /// The stage whose adapter gives the tuned model (`tli-train`, `swen-tli-train`).
    pub adapter: String,
    /// [`SAMPLED`] or [`GREEDY`].
    pub decoding: String,
    /// Base model (false) or base + adapter (true).
    pub tuned: bool,
    pub swahili: String,
    pub english: String,
    /// Script 05's template name.
    pub template: String,
    pub prompt: String,
    /// The new tokens, decoded with special tokens skipped.
    pub text: String,
    /// New tokens generated (0 for the authors' rows: not known).
    pub new_tokens: usize,
}

/// One word's point in one t-SNE panel (`tsne.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TsnePointRow {
    /// HF hidden-state index.
    pub layer: usize,
    /// `before` or `after` the adapter.
    pub state: String,
    /// `sw` or `en`.
    pub lang: String,
    /// The pair's index in script 04's sample order (0..25).
    pub pair: usize,
    pub word: String,
    pub x: f64,
    pub y: f64,
}

/// One pair's translation rank at one layer (`tsne_ranks.csv`): 1 = its translation is the
/// nearest of the 25 English words by cosine in the model's space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TsneRankRow {
    pub layer: usize,
    pub pair: usize,
    pub swahili: String,
    pub english: String,
    pub rank_before: usize,
    pub rank_after: usize,
}

/// `probe_generations.jsonl`'s bytes: one compact JSON object per line.
pub fn gen_jsonl(rows: &[ScriptGenRow]) -> Result<Vec<u8>> {
    crate::typed_files::jsonl_bytes(rows)
}

/// Reads `probe_generations.jsonl`, naming the line that does not parse.
pub fn read_gen(path: &Path) -> Result<Vec<ScriptGenRow>> {
    crate::typed_files::read_jsonl(path)
}

/// A CSV file's bytes from typed rows (`tsne.csv`, `tsne_ranks.csv`).
pub fn rows_csv<T: Serialize>(rows: &[T], what: &str) -> Result<Vec<u8>> {
    crate::typed_files::csv_bytes(rows, what)
}

/// Reads typed CSV rows, naming the row that does not parse.
pub fn read_rows<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    crate::typed_files::read_csv(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let g = ScriptGenRow {
            model: "gemma3-270m".into(),
            adapter: "swen-tli-train".into(),
            decoding: SAMPLED.into(),
            tuned: true,
            swahili: "mbwa".into(),
            english: "dog".into(),
            template: "t".into(),
            prompt: "Swahili: mbwa\nEnglish meaning: ".into(),
            text: "dog |\n".into(),
            new_tokens: 3,
        };
        let p = dir.path().join("g.jsonl");
        std::fs::write(&p, gen_jsonl(std::slice::from_ref(&g)).unwrap()).unwrap();
        assert_eq!(read_gen(&p).unwrap(), vec![g]);
        let r = TsneRankRow {
            layer: 2,
            pair: 0,
            swahili: "a,b".into(),
            english: "c".into(),
            rank_before: 3,
            rank_after: 1,
        };
        let p = dir.path().join("r.csv");
        std::fs::write(&p, rows_csv(std::slice::from_ref(&r), "r").unwrap()).unwrap();
        assert_eq!(read_rows::<TsneRankRow>(&p).unwrap(), vec![r]);
        std::fs::write(&p, "layer,pair\nx,1\n").unwrap();
        let e = format!("{:#}", read_rows::<TsneRankRow>(&p).unwrap_err());
        assert!(e.contains("r.csv line 2"), "{e}");
    }
}
