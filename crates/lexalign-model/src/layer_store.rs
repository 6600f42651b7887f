//! Where a run's pooled vectors wait for the metrics. A scan keeps one `[words, hidden]` matrix
//! per (pooling, hidden state): 100,000 words at SmolLM2's 31 hidden states are 7 GB of f32. Up
//! to [`IN_MEMORY_BUDGET_BYTES`] they stay in memory; past it each batch's rows are appended to
//! one temp file per (pooling, hidden state) and read back one hidden state at a time, so that a
//! run's memory is one layer's matrix, not all of them. Both paths hand back the same bits.

use anyhow::{Context, Result};
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use tch::{Kind, Tensor};

/// Pooled vectors kept in memory before a run spills them to temp files (512 MiB).
pub const IN_MEMORY_BUDGET_BYTES: u64 = 512 << 20;

/// Per requested hidden state, the `[n_words, hidden]` f32 CPU matrix of L2-normalised vectors
/// (input order), in memory or in a temp file.
pub struct LayerEmbeddings {
    pub layers: Vec<usize>,
    rows: Rows,
}

enum Rows {
    Memory(Vec<Tensor>),
    Spilled {
        files: Vec<PathBuf>,
        hidden: i64,
        inverse: Tensor,
        _dir: Arc<tempfile::TempDir>,
    },
}

impl LayerEmbeddings {
    /// The matrix of layer slot `slot` (request order); a spilled one is read from its file.
    pub fn vectors(&self, slot: usize) -> Result<Tensor> {
        match &self.rows {
            Rows::Memory(v) => Ok(v[slot].shallow_clone()),
            Rows::Spilled {
                files,
                hidden,
                inverse,
                ..
            } => {
                let path = &files[slot];
                let mut bytes = Vec::new();
                File::open(path)
                    .and_then(|mut f| f.read_to_end(&mut bytes))
                    .with_context(|| {
                        format!("cannot read the spilled vectors {}", path.display())
                    })?;
                // Native-endian f32 written by this process: one copy into the tensor, none via f32s.
                let n = (bytes.len() / 4) as i64 / hidden;
                let plan_order = Tensor::from_data_size(&bytes, &[n, *hidden], Kind::Float);
                drop(bytes);
                Ok(plan_order.index_select(0, inverse))
            }
        }
    }

    /// Whether the vectors live in temp files.
    pub fn is_spilled(&self) -> bool {
        matches!(self.rows, Rows::Spilled { .. })
    }
}

/// Collects batches of pooled rows in plan order (`[pooling][layer slot]`), then puts them back
/// in input order.
pub(crate) struct LayerSink {
    layers: Vec<usize>,
    sink: Sink,
}

enum Sink {
    Memory(Vec<Vec<Vec<Tensor>>>),
    Spill {
        dir: Arc<tempfile::TempDir>,
        files: Vec<Vec<(PathBuf, BufWriter<File>)>>,
        hidden: i64,
    },
}

impl LayerSink {
    /// A sink for `n_words` rows of width `hidden` at `layers` for `n_poolings` poolings; spills
    /// when they would pass `budget_bytes`.
    pub fn new(
        n_words: usize,
        hidden: usize,
        layers: &[usize],
        n_poolings: usize,
        budget_bytes: u64,
    ) -> Result<Self> {
        let bytes = (n_words * hidden * layers.len() * n_poolings * 4) as u64;
        let sink = if bytes <= budget_bytes {
            Sink::Memory(
                (0..n_poolings)
                    .map(|_| layers.iter().map(|_| Vec::new()).collect())
                    .collect(),
            )
        } else {
            let dir = tempfile::Builder::new().prefix("lexalign-vectors-").tempdir().context("cannot create a temp folder for the pooled vectors (set TMPDIR to a folder with room)")?;
            log::info!(
                "the pooled vectors ({} MiB) pass the {} MiB in-memory budget: kept in {} and read back one hidden state at a time",
                bytes >> 20,
                budget_bytes >> 20,
                dir.path().display()
            );
            let mut files = Vec::new();
            for pi in 0..n_poolings {
                let mut per = Vec::new();
                for &l in layers {
                    let path = dir.path().join(format!("p{pi}-l{l}.f32"));
                    let f = File::create(&path)
                        .with_context(|| format!("cannot create {}", path.display()))?;
                    per.push((path, BufWriter::new(f)));
                }
                files.push(per);
            }
            Sink::Spill {
                dir: Arc::new(dir),
                files,
                hidden: hidden as i64,
            }
        };
        Ok(Self {
            layers: layers.to_vec(),
            sink,
        })
    }

    /// Appends a `[batch, hidden]` f32 CPU tensor to (pooling `pi`, layer slot `slot`).
    pub fn push(&mut self, pi: usize, slot: usize, t: Tensor) -> Result<()> {
        match &mut self.sink {
            Sink::Memory(parts) => parts[pi][slot].push(t),
            Sink::Spill { files, .. } => {
                let (path, w) = &mut files[pi][slot];
                let values = Vec::<f32>::try_from(t.contiguous().view(-1))
                    .context("pooled vectors to host")?;
                let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_ne_bytes()).collect();
                w.write_all(&bytes).with_context(|| {
                    format!(
                        "cannot write the spilled vectors {} (is the disk full?)",
                        path.display()
                    )
                })?;
            }
        }
        Ok(())
    }

    /// The rows in input order: row `i` of the result is row `inverse[i]` of the plan order.
    pub fn finish(self, inverse: &[i64]) -> Result<Vec<LayerEmbeddings>> {
        let inverse = Tensor::from_slice(inverse);
        let layers = self.layers;
        match self.sink {
            Sink::Memory(parts) => Ok(parts
                .into_iter()
                .map(|per| LayerEmbeddings {
                    layers: layers.clone(),
                    rows: Rows::Memory(
                        per.into_iter()
                            .map(|p| Tensor::cat(&p, 0).index_select(0, &inverse))
                            .collect(),
                    ),
                })
                .collect()),
            Sink::Spill { dir, files, hidden } => {
                let mut out = Vec::new();
                for per in files {
                    let mut paths = Vec::new();
                    for (path, mut w) in per {
                        w.flush().with_context(|| {
                            format!("cannot write the spilled vectors {}", path.display())
                        })?;
                        paths.push(path);
                    }
                    out.push(LayerEmbeddings {
                        layers: layers.clone(),
                        rows: Rows::Spilled {
                            files: paths,
                            hidden,
                            inverse: inverse.shallow_clone(),
                            _dir: dir.clone(),
                        },
                    });
                }
                Ok(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same rows through memory and through temp files come back bit for bit, in input order.
    #[test]
    fn spilled_rows_read_back_as_kept_ones() {
        let rows =
            Tensor::from_slice(&(0..24).map(|i| i as f32 * 0.37 - 3.0).collect::<Vec<f32>>())
                .view([6, 4]);
        let inverse = [3i64, 0, 5, 1, 4, 2];
        let mut got = Vec::new();
        for budget in [u64::MAX, 0] {
            let mut sink = LayerSink::new(6, 4, &[0, 3], 1, budget).unwrap();
            for slot in 0..2 {
                sink.push(0, slot, rows.narrow(0, 0, 4) * (slot as f64 + 1.0))
                    .unwrap();
                sink.push(0, slot, rows.narrow(0, 4, 2) * (slot as f64 + 1.0))
                    .unwrap();
            }
            let e = sink.finish(&inverse).unwrap().remove(0);
            assert_eq!(e.is_spilled(), budget == 0);
            got.push((e.vectors(0).unwrap(), e.vectors(1).unwrap()));
        }
        let want = rows.index_select(0, &Tensor::from_slice(&inverse));
        for (a, b) in &got {
            assert!(a.equal(&want));
            assert!(b.equal(&(&want * 2.0)));
        }
    }
}
