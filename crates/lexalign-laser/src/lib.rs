//! LASER-2 (Meta's language-agnostic BiLSTM sentence encoder, 93 languages, Korean among them)
//! as an external reference space for the alignment studies, numerically equal to PyPI
//! `laser_encoders` 0.0.2 (`SentenceEncoder` + `LaserLstmEncoder` + `LaserTokenizer`).
//!
//! A LASER folder holds Meta's `laser2.pt` (fairseq-style checkpoint: params, state dict and the
//! piece -> id `dictionary` that the encoder uses), `laser2.spm` (SentencePiece model) and
//! `laser2.cvocab` (only LASER-3's transformers read it; not needed here). They are not on any
//! package registry: the README says how to download them; nothing here downloads them.

pub mod checkpoint;
pub mod encoder;
pub mod preprocess;
pub mod spm;

pub use checkpoint::{read_checkpoint, Checkpoint, LstmParams};
pub use encoder::LstmEncoder;
pub use spm::SpmModel;

use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

pub const CHECKPOINT_FILE: &str = "laser2.pt";
pub const SPM_FILE: &str = "laser2.spm";
pub const CVOCAB_FILE: &str = "laser2.cvocab";
/// Environment variable naming the LASER folder when `--laser` is not given.
pub const ENV_LASER: &str = "LEXALIGN_LASER";
/// Optional `sha256sum` file in the LASER folder: the sums the user recorded when downloading.
pub const SUMS_FILE: &str = "SHA256SUMS";
/// What to tell a user without the files.
pub const HOW_TO_GET: &str = "download laser2.pt, laser2.spm and laser2.cvocab from Meta's LASER release \
    (see the README section \"LASER-2 reference encoder\") into one folder and pass it as --laser DIR or $LEXALIGN_LASER";

/// SentenceEncoder's fixed special ids (it overwrites the checkpoint dictionary's).
pub const BOS: i64 = 0;
pub const PAD: i64 = 1;
pub const EOS: i64 = 2;
pub const UNK: i64 = 3;

/// `--laser DIR`, else `$LEXALIGN_LASER`; `None` when neither is set.
pub fn laser_dir(arg: Option<&Path>) -> Option<PathBuf> {
    arg.map(Path::to_path_buf).or_else(|| {
        std::env::var_os(ENV_LASER)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
}

/// The LASER-2 encoder: tokenizer, dictionary and BiLSTM.
pub struct Laser2 {
    pub dir: PathBuf,
    pub spm: SpmModel,
    pub dictionary: HashMap<String, i64>,
    pub encoder: LstmEncoder,
}

impl Laser2 {
    /// Loads `dir/laser2.pt` and `dir/laser2.spm`; errors name the missing or bad file.
    pub fn load(dir: &Path, device: Device) -> Result<Self> {
        if !dir.is_dir() {
            bail!(
                "LASER folder {} does not exist; {HOW_TO_GET}",
                dir.display()
            );
        }
        let (ckpt_path, spm_path) = (dir.join(CHECKPOINT_FILE), dir.join(SPM_FILE));
        for p in [&ckpt_path, &spm_path] {
            if !p.is_file() {
                bail!("{} is missing; {HOW_TO_GET}", p.display());
            }
        }
        verify_sums(dir)?;
        let spm = SpmModel::from_file(&spm_path)?;
        let ckpt = read_checkpoint(&ckpt_path)?;
        let mut dictionary = ckpt.dictionary.clone();
        for (p, id) in [("<s>", BOS), ("<pad>", PAD), ("</s>", EOS), ("<unk>", UNK)] {
            dictionary.insert(p.to_string(), id);
        }
        let encoder = LstmEncoder::new(&ckpt, device)
            .with_context(|| format!("building the encoder of {}", ckpt_path.display()))?;
        log::info!(
            "LASER-2 from {}: {} dictionary entries, {} spm pieces, {}-layer {}LSTM of {} ({}-d output)",
            dir.display(), dictionary.len(), spm.n_pieces, ckpt.params.num_layers,
            if ckpt.params.bidirectional { "Bi" } else { "" }, ckpt.params.hidden_size, ckpt.params.output_dim()
        );
        Ok(Self {
            dir: dir.to_path_buf(),
            spm,
            dictionary,
            encoder,
        })
    }

    pub fn dim(&self) -> i64 {
        self.encoder.params.output_dim()
    }

    /// LaserTokenizer's output: the spm pieces of the preprocessed text, space-joined.
    pub fn tokenize(&self, text: &str) -> Result<String> {
        Ok(self
            .spm
            .encode_pieces(&preprocess::preprocess(text))?
            .join(" "))
    }

    /// SentenceEncoder's ids: dictionary ids of the pieces (unknown -> `<unk>`), then `</s>`.
    pub fn ids(&self, text: &str) -> Result<Vec<i64>> {
        let tokenized = self.tokenize(text)?;
        let mut ids: Vec<i64> = tokenized
            .split_whitespace()
            .map(|p| *self.dictionary.get(p).unwrap_or(&UNK))
            .collect();
        ids.push(EOS);
        Ok(ids)
    }

    /// Sentence vectors `[n, dim]` (f32, CPU), in input order. Like SentenceEncoder with
    /// `max_sentences = batch_size`: sorted by token count (longest first), batched, unsorted.
    pub fn embed(&self, texts: &[&str], batch_size: usize) -> Result<Tensor> {
        let ids: Vec<Vec<i64>> = texts.iter().map(|t| self.ids(t)).collect::<Result<_>>()?;
        self.embed_ids(&ids, batch_size)
    }

    pub fn embed_ids(&self, ids: &[Vec<i64>], batch_size: usize) -> Result<Tensor> {
        let n = ids.len();
        let dim = self.dim();
        if n == 0 {
            return Ok(Tensor::zeros([0, dim], (Kind::Float, Device::Cpu)));
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(ids[i].len()));
        let mut out: Vec<Option<Tensor>> = (0..n).map(|_| None).collect();
        tch::no_grad(|| -> Result<()> {
            for chunk in order.chunks(batch_size.max(1)) {
                let width = ids[chunk[0]].len();
                let mut flat = vec![PAD; chunk.len() * width];
                for (r, &i) in chunk.iter().enumerate() {
                    flat[r * width..r * width + ids[i].len()].copy_from_slice(&ids[i]);
                }
                let tokens = Tensor::from_slice(&flat).view([chunk.len() as i64, width as i64]);
                let lengths: Vec<i64> = chunk.iter().map(|&i| ids[i].len() as i64).collect();
                let emb = self
                    .encoder
                    .forward(&tokens, &lengths)?
                    .to_device(Device::Cpu);
                for (r, &i) in chunk.iter().enumerate() {
                    out[i] = Some(emb.get(r as i64));
                }
            }
            Ok(())
        })?;
        let out: Vec<Tensor> = out
            .into_iter()
            .map(|t| t.expect("every row embedded"))
            .collect();
        Ok(Tensor::stack(&out, 0))
    }
}

/// When `dir/SHA256SUMS` exists, every file it lists must be there and match.
pub fn verify_sums(dir: &Path) -> Result<()> {
    let sums_path = dir.join(SUMS_FILE);
    if !sums_path.is_file() {
        log::info!(
            "{} has no {SUMS_FILE}; the LASER-2 files are used unchecked",
            dir.display()
        );
        return Ok(());
    }
    let text = std::fs::read_to_string(&sums_path)
        .with_context(|| format!("cannot read {}", sums_path.display()))?;
    for (name, want) in lexalign_run::parse_sums(&text, &sums_path.display().to_string())? {
        let p = dir.join(&name);
        match lexalign_run::check_hash(&p, &want)? {
            lexalign_run::HashCheck::Ok => {}
            lexalign_run::HashCheck::Missing => bail!("{} is listed in {} but missing", p.display(), sums_path.display()),
            lexalign_run::HashCheck::Mismatch { actual } => bail!(
                "{} has SHA-256 {actual} but {} records {want}; download it again (or fix the recorded sum)",
                p.display(), sums_path.display()
            ),
        }
    }
    Ok(())
}

/// Row-major f32 values of a `[n, d]` tensor.
pub fn to_rows(t: &Tensor) -> Result<(usize, usize, Vec<f32>)> {
    let (n, d) = t.size2()?;
    let v: Vec<f32> = Vec::<f32>::try_from(t.to_kind(Kind::Float).contiguous().view([-1]))?;
    Ok((n as usize, d as usize, v))
}
