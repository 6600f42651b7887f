//! `laser2.spm`: a SentencePiece model protobuf, encoded to piece strings as
//! `SentencePieceProcessor.encode(text, out_type=str)` does for a unigram model.
//!
//! The protobuf is decoded with prost (only the fields used here are declared); the segmentation is
//! the `tokenizers` crate's Unigram Viterbi (a port of sentencepiece's `EncodeOptimized`) and its
//! `Precompiled` normalizer (sentencepiece's compiled nmt_nfkc charsmap). sentencepiece's
//! whitespace rules (drop leading/trailing/repeated spaces, dummy `▁` prefix, spaces as `▁`) are
//! applied here, as its normalizer does.

use anyhow::{anyhow, bail, Context, Result};
use prost::Message;
use std::path::Path;
use tokenizers::models::unigram::Unigram;
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
const TYPE_CONTROL: i32 = 3;
const TYPE_USER_DEFINED: i32 = 4;
const TYPE_UNUSED: i32 = 5;
const MODEL_NAMES: [&str; 5] = ["?", "unigram", "bpe", "word", "char"];

/// A unigram SentencePiece model ready to encode.
pub struct SpmModel {
    unigram: Unigram,
    precompiled: Option<Precompiled>,
    add_dummy_prefix: bool,
    remove_extra_whitespaces: bool,
    escape_whitespaces: bool,
    pub n_pieces: usize,
}

impl SpmModel {
    pub fn from_file(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read SentencePiece model {}", path.display()))?;
        Self::from_bytes(&bytes).with_context(|| format!("{} is not a usable LASER-2 SentencePiece model (laser2.spm)", path.display()))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let m = ModelProto::decode(bytes).map_err(|e| anyhow!("it is not a SentencePiece model protobuf ({e})"))?;
        if m.pieces.is_empty() || m.pieces.iter().any(|p| p.piece.as_deref().unwrap_or("").is_empty()) {
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
        // Pieces sentencepiece never matches in text (control, unknown, unused) keep their id
        // but get a spelling no normalised text contains (a NUL; LASER turns control characters
        // into spaces before the spm).
        let vocab: Vec<(String, f64)> = m
            .pieces
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let t = p.r#type.unwrap_or(1);
                let s = p.piece.clone().unwrap_or_default();
                let s = if matches!(t, TYPE_CONTROL | TYPE_UNKNOWN | TYPE_UNUSED) { format!("\0{i}\0{s}") } else { s };
                if t == TYPE_USER_DEFINED {
                    log::warn!("SentencePiece user-defined piece {s:?} is segmented like a normal piece");
                }
                (s, p.score.unwrap_or(0.0) as f64)
            })
            .collect();
        let n_pieces = vocab.len();
        let unigram = Unigram::from(vocab, Some(unk_id), trainer.byte_fallback.unwrap_or(false))
            .map_err(|e| anyhow!("its vocabulary cannot be built: {e}"))?;
        let norm = m.normalizer_spec.clone().unwrap_or_default();
        let precompiled = match norm.precompiled_charsmap.as_deref() {
            Some(b) if !b.is_empty() => Some(Precompiled::from(b).map_err(|e| anyhow!("its precompiled charsmap is invalid: {e}"))?),
            _ => None,
        };
        if precompiled.is_none() && !matches!(norm.name.as_deref(), None | Some("identity")) {
            bail!("its normalizer {:?} has no precompiled charsmap", norm.name);
        }
        Ok(Self {
            unigram,
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
            p.normalize(&mut n).map_err(|e| anyhow!("normalising {text:?}: {e}"))?;
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
        self.unigram.encode(&s).map_err(|e| anyhow!("segmenting {text:?}: {e}"))
    }
}
