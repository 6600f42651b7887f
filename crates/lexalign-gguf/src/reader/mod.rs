//! Memory-mapped GGUF v2/v3 reader.
//!
//! Layout (little-endian): magic `GGUF`, u32 version, u64 tensor count, u64 KV count, the KVs,
//! the tensor infos, padding to `general.alignment` (default 32), then tensor data. Every read is
//! bounds-checked, so a truncated or corrupt file gives an error naming the file, never a panic.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use memmap2::Mmap;

use crate::dequant::{self, GgmlType};
use crate::value::MetaValue;

mod cursor;
mod parse;

/// Default data alignment when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;

/// One tensor's description from the header.
#[derive(Clone, Debug)]
pub struct TensorInfo {
    /// llama.cpp name, e.g. `blk.0.attn_q.weight`.
    pub name: String,
    /// GGUF dimension order: `dims[0]` is the contiguous (innermost) one, i.e. the HF shape reversed.
    pub dims: Vec<u64>,
    pub ggml_type: GgmlType,
    /// Offset from the start of the data section.
    pub offset: u64,
    /// Bytes of tensor data.
    pub size: u64,
}

impl TensorInfo {
    pub fn n_elements(&self) -> u64 {
        self.dims.iter().product()
    }

    /// Shape in PyTorch/HF order (`[out, in]` for a linear weight).
    pub fn hf_shape(&self) -> Vec<usize> {
        self.dims.iter().rev().map(|&d| d as usize).collect()
    }
}

/// An open GGUF file.
pub struct Gguf {
    path: PathBuf,
    mmap: Mmap,
    version: u32,
    metadata: Vec<(String, MetaValue)>,
    meta_index: HashMap<String, usize>,
    tensors: Vec<TensorInfo>,
    tensor_index: HashMap<String, usize>,
    alignment: u64,
    data_offset: u64,
}

impl std::fmt::Debug for Gguf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gguf")
            .field("path", &self.path)
            .field("version", &self.version)
            .field("n_metadata", &self.metadata.len())
            .field("n_tensors", &self.tensors.len())
            .field("alignment", &self.alignment)
            .field("data_offset", &self.data_offset)
            .finish()
    }
}

impl Gguf {
    /// Opens and parses the header of a GGUF file (tensor data stays mapped, not read).
    pub fn open(path: impl AsRef<Path>) -> Result<Gguf> {
        let path = path.as_ref().to_path_buf();
        let file =
            File::open(&path).with_context(|| format!("opening GGUF file {}", path.display()))?;
        // Safety: the mapping is read-only; the file must not be truncated while open (as for any mmap).
        let mmap = unsafe { Mmap::map(&file) }
            .with_context(|| format!("memory-mapping GGUF file {}", path.display()))?;
        Self::parse(path, mmap)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn version(&self) -> u32 {
        self.version
    }
    pub fn alignment(&self) -> u64 {
        self.alignment
    }
    /// Absolute file offset of the tensor data section.
    pub fn data_offset(&self) -> u64 {
        self.data_offset
    }

    /// All metadata in file order.
    pub fn metadata(&self) -> &[(String, MetaValue)] {
        &self.metadata
    }
    pub fn get(&self, key: &str) -> Option<&MetaValue> {
        self.meta_index.get(key).map(|&i| &self.metadata[i].1)
    }
    /// A required metadata value, with an error naming the file and key.
    pub fn require(&self, key: &str) -> Result<&MetaValue> {
        self.get(key)
            .ok_or_else(|| anyhow!("{}: GGUF metadata '{key}' is missing", self.path.display()))
    }
    pub fn get_str(&self, key: &str) -> Result<Option<&str>> {
        self.get(key)
            .map(|v| v.as_str().ok_or_else(|| self.type_err(key, "a string", v)))
            .transpose()
    }
    pub fn get_u64(&self, key: &str) -> Result<Option<u64>> {
        self.get(key)
            .map(|v| {
                v.as_u64()
                    .ok_or_else(|| self.type_err(key, "a non-negative integer", v))
            })
            .transpose()
    }
    pub fn get_f64(&self, key: &str) -> Result<Option<f64>> {
        self.get(key)
            .map(|v| v.as_f64().ok_or_else(|| self.type_err(key, "a number", v)))
            .transpose()
    }
    pub fn get_bool(&self, key: &str) -> Result<Option<bool>> {
        self.get(key)
            .map(|v| v.as_bool().ok_or_else(|| self.type_err(key, "a bool", v)))
            .transpose()
    }
    /// A string array (e.g. `tokenizer.ggml.tokens`).
    pub fn get_str_array(&self, key: &str) -> Result<Option<Vec<&str>>> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let arr = v
            .as_array()
            .ok_or_else(|| self.type_err(key, "an array of strings", v))?;
        arr.iter()
            .map(|x| {
                x.as_str()
                    .ok_or_else(|| self.type_err(key, "an array of strings", v))
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }
    /// An integer array (e.g. `tokenizer.ggml.token_type`).
    pub fn get_int_array(&self, key: &str) -> Result<Option<Vec<i64>>> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let arr = v
            .as_array()
            .ok_or_else(|| self.type_err(key, "an array of integers", v))?;
        arr.iter()
            .map(|x| {
                x.as_int()
                    .map(|i| i as i64)
                    .ok_or_else(|| self.type_err(key, "an array of integers", v))
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }
    fn type_err(&self, key: &str, want: &str, got: &MetaValue) -> anyhow::Error {
        anyhow!(
            "{}: GGUF metadata '{key}' should be {want}, found {:?} {got}",
            self.path.display(),
            got.value_type()
        )
    }

    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensor_index.get(name).map(|&i| &self.tensors[i])
    }
    /// The raw (possibly quantised) bytes of a tensor, borrowed from the mapping.
    pub fn tensor_bytes(&self, info: &TensorInfo) -> &[u8] {
        let start = (self.data_offset + info.offset) as usize;
        &self.mmap[start..start + info.size as usize]
    }

    /// Dequantises a tensor (by llama.cpp name) to f32, in GGUF element order (= HF row-major
    /// order with shape [`TensorInfo::hf_shape`]); no q/k un-permutation here.
    pub fn dequantize(&self, name: &str) -> Result<Vec<f32>> {
        let info = self.tensor(name).ok_or_else(|| {
            anyhow!(
                "{}: no tensor named '{name}' in the GGUF file",
                self.path.display()
            )
        })?;
        dequant::dequantize(
            info.ggml_type,
            self.tensor_bytes(info),
            info.n_elements() as usize,
        )
        .with_context(|| format!("{}: dequantizing tensor '{name}'", self.path.display()))
    }

    /// Counts of tensors per ggml type, sorted by type name (for reports).
    pub fn tensor_type_counts(&self) -> Vec<(GgmlType, usize)> {
        let mut m: HashMap<GgmlType, usize> = HashMap::new();
        for t in &self.tensors {
            *m.entry(t.ggml_type).or_default() += 1;
        }
        let mut v: Vec<_> = m.into_iter().collect();
        v.sort_by_key(|(t, _)| format!("{t:?}"));
        v
    }
}
