//! Word tokenisation for embedding: each word encoded alone as HF's `tokenizer(word)` does
//! (special tokens added by the tokenizer's post-processor), then right-padded into a batch.

use crate::pooling::PoolMasks;
use anyhow::{bail, Context, Result};
use std::collections::HashSet;
use std::path::Path;
use tch::{Device, Tensor};

pub struct WordTokenizer {
    pub inner: tokenizers::Tokenizer,
    /// Prepend BOS ourselves (when the tokenizer's post-processor does not, but the model's
    /// tokenizer config says `add_bos_token`).
    pub prepend_bos: bool,
    pub bos_id: Option<i64>,
    pub eos_ids: Vec<i64>,
    /// Padding id (the authors set pad = EOS).
    pub pad_id: i64,
}

/// A right-padded batch ready for the forward pass.
pub struct Batch {
    pub input_ids: Tensor,
    pub masks: PoolMasks,
    pub lengths: Vec<usize>,
}

impl WordTokenizer {
    /// From an HF `tokenizer.json` (+ optional `tokenizer_config.json` for `add_bos_token`).
    pub fn from_hf_dir(dir: &Path, bos_ids: &[i64], eos_ids: &[i64]) -> Result<Self> {
        let path = dir.join("tokenizer.json");
        let inner = tokenizers::Tokenizer::from_file(&path)
            .map_err(|e| anyhow::anyhow!("cannot load tokenizer {}: {e}", path.display()))?;
        let mut add_bos_cfg = None;
        let cfg_path = dir.join("tokenizer_config.json");
        if cfg_path.exists() {
            let text = std::fs::read_to_string(&cfg_path)
                .with_context(|| format!("cannot read {}", cfg_path.display()))?;
            let v: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not valid JSON", cfg_path.display()))?;
            add_bos_cfg = v.get("add_bos_token").and_then(|b| b.as_bool());
        }
        let bos_id = bos_ids.first().copied();
        let mut tok = Self {
            inner,
            prepend_bos: false,
            bos_id,
            eos_ids: eos_ids.to_vec(),
            pad_id: 0,
        };
        tok.pad_id = eos_ids.first().copied().or(bos_id).unwrap_or(0);
        // HF's LlamaTokenizerFast rebuilds the post-processor from `add_bos_token`; mirror that.
        if let (Some(true), Some(bos)) = (add_bos_cfg, bos_id) {
            let probe = tok.raw_ids("a")?;
            tok.prepend_bos = probe.first() != Some(&bos);
        }
        Ok(tok)
    }

    /// From the tokenizer `lexalign-gguf` builds the way transformers does for a GGUF file
    /// (its post-processor already adds BOS when HF would). Pad = EOS, as the authors set it.
    pub fn from_gguf(t: lexalign_gguf::GgufTokenizer) -> Self {
        let i = &t.info;
        let eos_ids: Vec<i64> = i.eos_id.map(|e| e as i64).into_iter().collect();
        let bos_id = i.bos_id.map(|b| b as i64);
        let pad_id = eos_ids
            .first()
            .copied()
            .or(i.pad_id.map(|p| p as i64))
            .unwrap_or(0);
        Self {
            inner: t.tokenizer,
            prepend_bos: false,
            bos_id,
            eos_ids,
            pad_id,
        }
    }

    /// Applies the family's attention-sink rule ([`crate::Family::sink_prefix`]): prepend the BOS
    /// id as a fixed prefix when the tokenizer does not add it. The one place the rule acts.
    pub fn apply_family_rule(&mut self, family: crate::Family) -> Result<()> {
        if family.sink_prefix() {
            let Some(bos) = self.bos_id else {
                log::warn!("a {family:?} tokenizer without a BOS id: no sink prefix, the first token takes the sink");
                return Ok(());
            };
            self.prepend_bos = self.raw_ids("a")?.first() != Some(&bos);
        }
        Ok(())
    }

    fn raw_ids(&self, text: &str) -> Result<Vec<i64>> {
        let enc = self
            .inner
            .encode(text, true)
            .map_err(|e| anyhow::anyhow!("cannot tokenize `{text}`: {e}"))?;
        Ok(enc.get_ids().iter().map(|&i| i as i64).collect())
    }

    /// Token ids of one word as HF gives them (special tokens included).
    pub fn encode(&self, word: &str) -> Result<Vec<i64>> {
        let mut ids = self.raw_ids(word)?;
        if self.prepend_bos {
            if let Some(b) = self.bos_id {
                ids.insert(0, b);
            }
        }
        Ok(ids)
    }

    /// Ids that `mean-content` pooling leaves out.
    pub fn special_ids(&self) -> HashSet<i64> {
        let mut s: HashSet<i64> = self.eos_ids.iter().copied().collect();
        s.extend(self.bos_id);
        s.insert(self.pad_id);
        s
    }

    /// Encodes and right-pads `words`. A word with no content token is refused by name.
    pub fn batch(&self, words: &[&str], device: Device) -> Result<Batch> {
        let rows = words
            .iter()
            .map(|w| self.encode_content(w))
            .collect::<Result<Vec<_>>>()?;
        Ok(self.batch_from_ids(&rows, device))
    }

    /// [`Self::encode`], refusing (by name) a word that has no content token.
    pub fn encode_content(&self, word: &str) -> Result<Vec<i64>> {
        let ids = self.encode(word)?;
        let special = self.special_ids();
        if !ids.iter().any(|i| !special.contains(i)) {
            bail!("the word `{word}` tokenizes to no tokens (only special tokens): remove it or fix its spelling in the pair file");
        }
        Ok(ids)
    }

    /// Right-pads already tokenized rows (with this tokenizer's pad and special ids).
    pub fn batch_from_ids(&self, rows: &[Vec<i64>], device: Device) -> Batch {
        let special: Vec<i64> = self.special_ids().into_iter().collect();
        pad_rows(rows, self.pad_id, &special, device)
    }
}

/// Right-pads token-id rows with `pad` into a batch: attention over the real tokens, content
/// over the real tokens that are not in `special`, and each row's last real index. The one
/// place batches are built (the tests' fixture batches too).
pub fn pad_rows(rows: &[Vec<i64>], pad: i64, special: &[i64], device: Device) -> Batch {
    let b = rows.len();
    let s = rows.iter().map(Vec::len).max().unwrap_or(1);
    let mut ids = vec![pad; b * s];
    let mut att = vec![0f32; b * s];
    let mut content = vec![0f32; b * s];
    let mut last = vec![0i64; b];
    for (r, row) in rows.iter().enumerate() {
        for (c, &id) in row.iter().enumerate() {
            ids[r * s + c] = id;
            att[r * s + c] = 1.0;
            content[r * s + c] = if special.contains(&id) { 0.0 } else { 1.0 };
        }
        last[r] = row.len() as i64 - 1;
    }
    let (b, s) = (b as i64, s as i64);
    Batch {
        input_ids: Tensor::from_slice(&ids).view([b, s]).to_device(device),
        masks: PoolMasks {
            attention: Tensor::from_slice(&att).view([b, s]).to_device(device),
            content: Tensor::from_slice(&content).view([b, s]).to_device(device),
            last_index: Tensor::from_slice(&last).to_device(device),
        },
        lengths: rows.iter().map(Vec::len).collect(),
    }
}
