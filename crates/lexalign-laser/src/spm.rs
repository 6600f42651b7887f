//! `laser2.spm`: a SentencePiece model protobuf, encoded to piece strings as
//! `SentencePieceProcessor.encode(text, out_type=str)` does for a unigram model.
//!
//! The protobuf is decoded with prost (only the fields used here are declared); normalisation is
//! the `tokenizers` crate's `Precompiled` (sentencepiece's compiled nmt_nfkc charsmap), then
//! sentencepiece's whitespace rules (drop leading/trailing/repeated spaces, dummy `▁` prefix,
//! spaces as `▁`). The segmentation is sentencepiece's `EncodeOptimized` Viterbi ported here in
//! f32: tokenizers' Unigram sums scores in f64, which breaks ties between equal-piece paths
//! (`▁ .. .` vs `▁ . ..`) differently from sentencepiece's float sums.

use anyhow::{anyhow, bail, Context, Result};
use prost::Message;
use std::collections::HashMap;
use std::path::Path;
use tokenizers::normalizers::precompiled::Precompiled;
use tokenizers::{NormalizedString, Normalizer};

const SPACE: char = '\u{2581}';

#[derive(Clone, PartialEq, Message)]
pub struct ModelProto {
    #[prost(message, repeated, tag = "1")]
    pub pieces: Vec<SentencePiece>,
    #[prost(message, optional, tag = "2")]
    pub trainer_spec: Option<TrainerSpec>,
    #[prost(message, optional, tag = "3")]
    pub normalizer_spec: Option<NormalizerSpec>,
}

#[derive(Clone, PartialEq, Message)]
pub struct SentencePiece {
    #[prost(string, optional, tag = "1")]
    pub piece: Option<String>,
    #[prost(float, optional, tag = "2")]
    pub score: Option<f32>,
    /// NORMAL=1 (default), UNKNOWN=2, CONTROL=3, USER_DEFINED=4, UNUSED=5, BYTE=6.
    #[prost(int32, optional, tag = "3")]
    pub r#type: Option<i32>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TrainerSpec {
    /// UNIGRAM=1 (default), BPE=2, WORD=3, CHAR=4.
    #[prost(int32, optional, tag = "3")]
    pub model_type: Option<i32>,
    #[prost(int32, optional, tag = "4")]
    pub vocab_size: Option<i32>,
    #[prost(bool, optional, tag = "24")]
    pub treat_whitespace_as_suffix: Option<bool>,
    #[prost(bool, optional, tag = "35")]
    pub byte_fallback: Option<bool>,
}

#[derive(Clone, PartialEq, Message)]
pub struct NormalizerSpec {
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    #[prost(bytes = "vec", optional, tag = "2")]
    pub precompiled_charsmap: Option<Vec<u8>>,
    #[prost(bool, optional, tag = "3")]
    pub add_dummy_prefix: Option<bool>,
    #[prost(bool, optional, tag = "4")]
    pub remove_extra_whitespaces: Option<bool>,
    #[prost(bool, optional, tag = "5")]
    pub escape_whitespaces: Option<bool>,
}

const TYPE_UNKNOWN: i32 = 2;
const TYPE_USER_DEFINED: i32 = 4;
const MODEL_NAMES: [&str; 5] = ["?", "unigram", "bpe", "word", "char"];

/// A unigram SentencePiece model ready to encode.
pub struct SpmModel {
    /// Matchable pieces (normal and user-defined): piece -> (id, score).
    pieces: HashMap<String, (usize, f32)>,
    max_piece_bytes: usize,
    unk_id: usize,
    /// min score of the normal pieces, as sentencepiece's unigram model keeps it.
    min_score: f32,
    precompiled: Option<Precompiled>,
    add_dummy_prefix: bool,
    remove_extra_whitespaces: bool,
    escape_whitespaces: bool,
    pub n_pieces: usize,
}

impl SpmModel {
    pub fn from_file(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read SentencePiece model {}", path.display()))?;
        Self::from_bytes(&bytes).with_context(|| {
            format!(
                "{} is not a usable LASER-2 SentencePiece model (laser2.spm)",
                path.display()
            )
        })
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let m = ModelProto::decode(bytes)
            .map_err(|e| anyhow!("it is not a SentencePiece model protobuf ({e})"))?;
        if m.pieces.is_empty()
            || m.pieces
                .iter()
                .any(|p| p.piece.as_deref().unwrap_or("").is_empty())
        {
            bail!("it is not a SentencePiece model: no pieces, or an empty piece");
        }
        let trainer = m.trainer_spec.clone().unwrap_or_default();
        let kind = trainer.model_type.unwrap_or(1);
        if kind != 1 {
            let name = MODEL_NAMES.get(kind as usize).copied().unwrap_or("unknown");
            bail!("it is a SentencePiece {name} model (model_type {kind}); LASER-2's laser2.spm is read as a unigram model and only unigram is supported");
        }
        if trainer.treat_whitespace_as_suffix.unwrap_or(false) {
            bail!("it treats whitespace as a suffix, which LASER-2's spm does not");
        }
        let unk_id = m
            .pieces
            .iter()
            .position(|p| p.r#type == Some(TYPE_UNKNOWN))
            .ok_or_else(|| anyhow!("it has no <unk> piece"))?;
        if trainer.byte_fallback.unwrap_or(false) {
            bail!("it uses byte fallback, which LASER-2's spm does not and this reader does not implement");
        }
        let mut pieces = HashMap::new();
        let mut min_score = f32::INFINITY;
        for (i, p) in m.pieces.iter().enumerate() {
            let t = p.r#type.unwrap_or(1);
            let (s, score) = (p.piece.clone().unwrap_or_default(), p.score.unwrap_or(0.0));
            match t {
                1 => min_score = min_score.min(score),
                TYPE_USER_DEFINED => log::warn!(
                    "SentencePiece user-defined piece {s:?} is segmented like a normal piece"
                ),
                _ => continue, // control, unknown, unused, byte: never matched in text
            }
            pieces.insert(s, (i, score));
        }
        if pieces.is_empty() {
            bail!("it has no normal pieces");
        }
        let max_piece_bytes = pieces.keys().map(String::len).max().unwrap_or(1);
        let n_pieces = m.pieces.len();
        let norm = m.normalizer_spec.clone().unwrap_or_default();
        let precompiled = match norm.precompiled_charsmap.as_deref() {
            Some(b) if !b.is_empty() => Some(
                Precompiled::from(b)
                    .map_err(|e| anyhow!("its precompiled charsmap is invalid: {e}"))?,
            ),
            _ => None,
        };
        if precompiled.is_none() && !matches!(norm.name.as_deref(), None | Some("identity")) {
            bail!("its normalizer {:?} has no precompiled charsmap", norm.name);
        }
        Ok(Self {
            pieces,
            max_piece_bytes,
            unk_id,
            min_score,
            precompiled,
            add_dummy_prefix: norm.add_dummy_prefix.unwrap_or(true),
            remove_extra_whitespaces: norm.remove_extra_whitespaces.unwrap_or(true),
            escape_whitespaces: norm.escape_whitespaces.unwrap_or(true),
            n_pieces,
        })
    }

    /// sentencepiece's normaliser: charsmap, then its whitespace rules.
    pub fn normalize(&self, text: &str) -> Result<String> {
        let mut s = text.to_string();
        if let Some(p) = &self.precompiled {
            let mut n = NormalizedString::from(text);
            p.normalize(&mut n)
                .map_err(|e| anyhow!("normalising {text:?}: {e}"))?;
            s = n.get().to_string();
        }
        if self.remove_extra_whitespaces {
            let mut out = String::with_capacity(s.len());
            for w in s.split(' ').filter(|w| !w.is_empty()) {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(w);
            }
            s = out;
        }
        if s.is_empty() {
            return Ok(s);
        }
        if self.add_dummy_prefix {
            s.insert(0, ' ');
        }
        if self.escape_whitespaces {
            s = s.replace(' ', &SPACE.to_string());
        }
        Ok(s)
    }

    /// The pieces of `text`, as `encode(text, out_type=str)` gives them.
    pub fn encode_pieces(&self, text: &str) -> Result<Vec<String>> {
        let s = self.normalize(text)?;
        if s.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.viterbi(&s))
    }

    /// sentencepiece `unigram::Model::EncodeOptimized` (float scores, first-found wins ties), then
    /// `out_type=str`'s surfaces with consecutive unknowns merged.
    fn viterbi(&self, s: &str) -> Vec<String> {
        const UNK_PENALTY: f32 = 10.0;
        #[derive(Clone, Copy)]
        struct Node {
            id: usize,
            score: f32,
            starts_at: Option<usize>,
        }
        let unk_score = self.min_score - UNK_PENALTY;
        let n = s.len();
        let mut best = vec![
            Node {
                id: 0,
                score: 0.0,
                starts_at: None
            };
            n + 1
        ];
        for (start, c) in s.char_indices() {
            let till_here = best[start].score;
            let mblen = c.len_utf8();
            let mut has_single = false;
            let mut end = start + mblen;
            while end <= n && end - start <= self.max_piece_bytes {
                if let Some(&(id, score)) = self.pieces.get(&s[start..end]) {
                    let cand = score + till_here;
                    let t = &mut best[end];
                    if t.starts_at.is_none() || cand > t.score {
                        *t = Node {
                            id,
                            score: cand,
                            starts_at: Some(start),
                        };
                    }
                    has_single |= end - start == mblen;
                }
                end += s[end..].chars().next().map_or(1, char::len_utf8);
            }
            if !has_single {
                let cand = unk_score + till_here;
                let t = &mut best[start + mblen];
                if t.starts_at.is_none() || cand > t.score {
                    *t = Node {
                        id: self.unk_id,
                        score: cand,
                        starts_at: Some(start),
                    };
                }
            }
        }
        let mut spans = Vec::new();
        let mut end = n;
        while end > 0 {
            let node = best[end];
            let start = node.starts_at.expect("every position is reachable");
            spans.push((start, end, node.id == self.unk_id));
            end = start;
        }
        spans.reverse();
        let mut out: Vec<String> = Vec::with_capacity(spans.len());
        let mut prev_unk = false;
        for (a, b, unk) in spans {
            if unk && prev_unk {
                out.last_mut().expect("previous").push_str(&s[a..b]);
            } else {
                out.push(s[a..b].to_string());
            }
            prev_unk = unk;
        }
        out
    }
}
