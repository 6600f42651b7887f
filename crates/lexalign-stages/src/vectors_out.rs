//! `--save-vectors DIR` (scan, bli, eval): the distinct words' pooled vectors, so a number can
//! be checked with the field's own tools (MUSE's or VecMap's evaluation, a plot, a map fitted
//! elsewhere). `DIR/vectors.safetensors` holds one f32 tensor per hidden state, pooling and side
//! (`mean.layer12.source`, `mean.layer12.target`; eval: `mean-content.layer2.trained-pre.source`),
//! with the word lists in its metadata (`words.source`, `words.target`, ...) and in
//! `DIR/words.tsv` (`list, index, word`) beside it; `--vec` adds one word2vec text file per
//! tensor (`DIR/<tensor>.vec`) and `DIR/pairs.muse.txt` (the gold pairs as a MUSE dictionary).
//! Rows are in `Lexicon::from_pairs` order: distinct sources; the pairs' distinct targets, then
//! any extra candidates.
//!
//! The tensors are streamed to a hidden data file as they come and assembled into the
//! safetensors file at the end, so memory stays one layer's vectors whatever the scan's size.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;

/// The flags, shared by scan, bli and eval.
#[derive(Debug, Clone, Default, Args)]
pub struct SaveVectorsArgs {
    /// Write the distinct words' pooled vectors into this folder: vectors.safetensors (one tensor
    /// per hidden state, pooling and side; the words in its metadata) and words.tsv.
    #[arg(long, value_name = "DIR")]
    pub save_vectors: Option<PathBuf>,
    /// With --save-vectors: also the word2vec text format (.vec, read by MUSE, VecMap, fastText),
    /// one file per tensor, and the pairs as a MUSE dictionary (pairs.muse.txt).
    #[arg(long, requires = "save_vectors")]
    pub vec: bool,
}

/// One tensor written to the data file.
struct Entry {
    name: String,
    rows: usize,
    cols: usize,
    start: u64,
}

/// Collects tensors, then writes the folder ([`VectorSink::finish`]).
pub struct VectorSink {
    dir: PathBuf,
    vec: bool,
    data_path: PathBuf,
    data: BufWriter<File>,
    written: u64,
    entries: Vec<Entry>,
    lists: BTreeMap<String, Vec<String>>,
}

impl VectorSink {
    /// `None` when `--save-vectors` was not given; else checks and creates the folder (before
    /// any slow work).
    pub fn open(args: &SaveVectorsArgs) -> Result<Option<Self>> {
        let Some(dir) = &args.save_vectors else {
            return Ok(None);
        };
        crate::stage_io::prepare_out_dir(dir)
            .with_context(|| format!("--save-vectors {}", dir.display()))?;
        let data_path = dir.join(format!(".vectors.data.partial-{}", std::process::id()));
        let file = File::create(&data_path)
            .with_context(|| format!("cannot create {}", data_path.display()))?;
        Ok(Some(Self {
            dir: dir.clone(),
            vec: args.vec,
            data_path,
            data: BufWriter::new(file),
            written: 0,
            entries: Vec::new(),
            lists: BTreeMap::new(),
        }))
    }

    /// Adds tensor `name` (`rows x cols`, row-major) whose rows are the words of list `list`
    /// (`source`, `target`, `trained.source`, ...); a list named twice must hold the same words.
    pub fn add(
        &mut self,
        name: &str,
        list: &str,
        words: &[String],
        cols: usize,
        data: &[f32],
    ) -> Result<()> {
        if data.len() != words.len() * cols {
            bail!(
                "tensor {name}: {} words x {cols} needs {} values, got {}",
                words.len(),
                words.len() * cols,
                data.len()
            );
        }
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            bail!(
                "tensor {name}: the vector of {:?} holds {}; refusing to export non-finite vectors",
                words[i / cols.max(1)],
                data[i]
            );
        }
        match self.lists.get(list) {
            Some(w) if w != words => {
                bail!("tensor {name}: word list {list} differs from an earlier tensor's")
            }
            Some(_) => {}
            None => {
                self.lists.insert(list.to_string(), words.to_vec());
            }
        }
        for v in data {
            self.data.write_all(&v.to_le_bytes())?;
        }
        self.entries.push(Entry {
            name: name.to_string(),
            rows: words.len(),
            cols,
            start: self.written,
        });
        self.written += 4 * data.len() as u64;
        if self.vec {
            let text = lexalign_data::vec_text(words, cols, data)
                .with_context(|| format!("tensor {name}"))?;
            lexalign_run::write_atomic(self.dir.join(format!("{name}.vec")), text)?;
        }
        Ok(())
    }

    /// Writes `vectors.safetensors` (with `metadata` and the word lists), `words.tsv` and, with
    /// `--vec`, `pairs.muse.txt` from `pairs`; removes the data file.
    pub fn finish(
        mut self,
        metadata: BTreeMap<String, String>,
        pairs: &[lexalign_data::Pair],
    ) -> Result<PathBuf> {
        self.data
            .flush()
            .with_context(|| format!("cannot write {}", self.data_path.display()))?;
        let header = self.header(metadata)?;
        let out = self.dir.join("vectors.safetensors");
        let data_path = self.data_path.clone();
        lexalign_run::write_atomic_with(&out, |w| {
            w.write_all(&(header.len() as u64).to_le_bytes())?;
            w.write_all(&header)?;
            let mut f = File::open(&data_path)
                .with_context(|| format!("cannot read {}", data_path.display()))?;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                w.write_all(&buf[..n])?;
            }
            Ok(())
        })?;
        std::fs::remove_file(&data_path)
            .with_context(|| format!("cannot remove {}", data_path.display()))?;
        let mut tsv = String::from("list\tindex\tword\n");
        for (list, words) in &self.lists {
            for (i, w) in words.iter().enumerate() {
                tsv.push_str(&format!("{list}\t{i}\t{}\n", w.replace(['\t', '\n'], " ")));
            }
        }
        lexalign_run::write_atomic(self.dir.join("words.tsv"), tsv)?;
        if self.vec {
            let changed = lexalign_data::write_muse_pairs(&self.dir.join("pairs.muse.txt"), pairs)?;
            if changed > 0 {
                log::warn!("{changed} word(s) with inner whitespace written with `_` in the .vec files and pairs.muse.txt");
            }
        }
        Ok(out)
    }

    /// The safetensors JSON header, padded with spaces to a multiple of 8 bytes.
    fn header(&self, mut metadata: BTreeMap<String, String>) -> Result<Vec<u8>> {
        for (list, words) in &self.lists {
            metadata.insert(format!("words.{list}"), serde_json::to_string(words)?);
        }
        let mut h = serde_json::Map::new();
        h.insert("__metadata__".into(), serde_json::to_value(metadata)?);
        for e in &self.entries {
            let end = e.start + 4 * (e.rows * e.cols) as u64;
            h.insert(e.name.clone(), serde_json::json!({"dtype": "F32", "shape": [e.rows, e.cols], "data_offsets": [e.start, end]}));
        }
        let mut bytes = serde_json::to_vec(&serde_json::Value::Object(h))?;
        while bytes.len() % 8 != 0 {
            bytes.push(b' ');
        }
        Ok(bytes)
    }
}

impl Drop for VectorSink {
    /// A failed run leaves no hidden data file behind.
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.data_path);
    }
}

/// The tensor name of one (pooling, hidden state[, set]) and side.
pub fn tensor_name(pooling: &str, layer: usize, set: Option<&str>, side: &str) -> String {
    match set {
        Some(s) => format!("{pooling}.layer{layer}.{s}.{side}"),
        None => format!("{pooling}.layer{layer}.{side}"),
    }
}

/// The f32 rows of a metrics matrix (which holds the f32 vectors widened to f64, so this is exact).
pub fn f32_rows(m: &lexalign_metrics::Matrix) -> Vec<f32> {
    m.data.iter().map(|&v| v as f32).collect()
}

#[cfg(test)]
#[path = "vectors_out_tests.rs"]
mod tests;

/// Where a saved-vectors folder's files are, for messages.
pub fn describe(dir: &Path, vec: bool) -> String {
    if vec {
        format!(
            "{} (vectors.safetensors, words.tsv, *.vec, pairs.muse.txt)",
            dir.display()
        )
    } else {
        format!("{} (vectors.safetensors, words.tsv)", dir.display())
    }
}
