//! Memory-mapped GGUF v2/v3 reader.
//!
//! Layout (little-endian): magic `GGUF`, u32 version, u64 tensor count, u64 KV count, the KVs,
//! the tensor infos, padding to `general.alignment` (default 32), then tensor data. Every read is
//! bounds-checked, so a truncated or corrupt file gives an error naming the file, never a panic.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use memmap2::Mmap;

use crate::dequant::{self, GgmlType};
use crate::value::{MetaValue, ValueType};

/// Default data alignment when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// ggml's GGML_MAX_DIMS.
const MAX_DIMS: u32 = 4;
/// Nested metadata arrays deeper than this are treated as corruption.
const MAX_ARRAY_DEPTH: u32 = 8;

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

/// Bounds-checked little-endian cursor over the mapped file.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    path: &'a Path,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: u64, what: &dyn Fn() -> String) -> Result<&'a [u8]> {
        let left = (self.data.len() - self.pos) as u64;
        if n > left {
            bail!(
                "{}: truncated or corrupt GGUF file: reading {} needs {} bytes at offset {}, but the file has {} bytes \
                 (re-download the model, e.g. `cargo xtask setup`)",
                self.path.display(),
                what(),
                n,
                self.pos,
                self.data.len()
            );
        }
        let s = &self.data[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }
    fn u8(&mut self, what: &dyn Fn() -> String) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &dyn Fn() -> String) -> Result<u16> {
        Ok(u16::from_le_bytes(self.take(2, what)?.try_into().unwrap()))
    }
    fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4, what)?.try_into().unwrap()))
    }
    fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8, what)?.try_into().unwrap()))
    }
    fn remaining(&self) -> u64 {
        (self.data.len() - self.pos) as u64
    }
    fn string(&mut self, what: &dyn Fn() -> String) -> Result<String> {
        let len = self.u64(what)?;
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec()).map_err(|e| {
            anyhow!(
                "{}: corrupt GGUF file: {} is not valid UTF-8 ({e})",
                self.path.display(),
                what()
            )
        })
    }

    fn value(&mut self, ty: ValueType, depth: u32, what: &dyn Fn() -> String) -> Result<MetaValue> {
        Ok(match ty {
            ValueType::U8 => MetaValue::U8(self.u8(what)?),
            ValueType::I8 => MetaValue::I8(self.u8(what)? as i8),
            ValueType::U16 => MetaValue::U16(self.u16(what)?),
            ValueType::I16 => MetaValue::I16(self.u16(what)? as i16),
            ValueType::U32 => MetaValue::U32(self.u32(what)?),
            ValueType::I32 => MetaValue::I32(self.u32(what)? as i32),
            ValueType::F32 => MetaValue::F32(f32::from_bits(self.u32(what)?)),
            ValueType::U64 => MetaValue::U64(self.u64(what)?),
            ValueType::I64 => MetaValue::I64(self.u64(what)? as i64),
            ValueType::F64 => MetaValue::F64(f64::from_bits(self.u64(what)?)),
            ValueType::Bool => match self.u8(what)? {
                0 => MetaValue::Bool(false),
                1 => MetaValue::Bool(true),
                b => bail!(
                    "{}: corrupt GGUF file: {} has bool byte {b}",
                    self.path.display(),
                    what()
                ),
            },
            ValueType::String => MetaValue::String(self.string(what)?),
            ValueType::Array => {
                if depth >= MAX_ARRAY_DEPTH {
                    bail!(
                        "{}: corrupt GGUF file: {} nests arrays too deeply",
                        self.path.display(),
                        what()
                    );
                }
                let id = self.u32(what)?;
                let elem = ValueType::from_id(id).ok_or_else(|| {
                    anyhow!(
                        "{}: corrupt GGUF file: {} has unknown array element type {id}",
                        self.path.display(),
                        what()
                    )
                })?;
                let n = self.u64(what)?;
                if n.saturating_mul(elem.min_size()) > self.remaining() {
                    bail!(
                        "{}: truncated or corrupt GGUF file: {} claims {n} array elements but only {} bytes remain",
                        self.path.display(),
                        what(),
                        self.remaining()
                    );
                }
                let mut v = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    v.push(self.value(elem, depth + 1, what)?);
                }
                MetaValue::Array(elem, v)
            }
        })
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

    fn parse(path: PathBuf, mmap: Mmap) -> Result<Gguf> {
        let data: &[u8] = &mmap;
        let mut c = Cursor {
            data,
            pos: 0,
            path: &path,
        };
        let magic = c.take(4, &|| "the magic".into())?;
        if magic != b"GGUF" {
            bail!(
                "{}: not a GGUF file (magic {:?}, expected \"GGUF\")",
                path.display(),
                String::from_utf8_lossy(magic)
            );
        }
        let version = c.u32(&|| "the version".into())?;
        match version {
            2 | 3 => {}
            1 => bail!("{}: GGUF version 1 is not supported (only v2 and v3); re-convert the model with a current llama.cpp", path.display()),
            v if v.swap_bytes() == 2 || v.swap_bytes() == 3 => {
                bail!("{}: big-endian GGUF files are not supported", path.display())
            }
            v => bail!("{}: unsupported GGUF version {v} (only v2 and v3)", path.display()),
        }
        let n_tensors = c.u64(&|| "the tensor count".into())?;
        let n_kv = c.u64(&|| "the metadata count".into())?;
        // Each KV needs at least 8 (key len) + 4 (type) + 1 bytes, each tensor info 8 + 4 + 4 + 8.
        if n_kv.saturating_mul(13) > c.remaining() || n_tensors.saturating_mul(24) > c.remaining() {
            bail!(
                "{}: truncated or corrupt GGUF file: header claims {n_kv} metadata entries and {n_tensors} tensors \
                 but the file has only {} bytes",
                path.display(),
                data.len()
            );
        }

        let mut metadata = Vec::with_capacity(n_kv as usize);
        let mut meta_index = HashMap::new();
        for i in 0..n_kv {
            let key = c.string(&|| format!("metadata key #{i}"))?;
            let what = || format!("metadata value '{key}'");
            let id = c.u32(&what)?;
            let ty = ValueType::from_id(id).ok_or_else(|| {
                anyhow!(
                    "{}: corrupt GGUF file: metadata '{key}' has unknown value type {id}",
                    path.display()
                )
            })?;
            let value = c.value(ty, 0, &what)?;
            if meta_index.insert(key.clone(), metadata.len()).is_some() {
                bail!(
                    "{}: corrupt GGUF file: duplicate metadata key '{key}'",
                    path.display()
                );
            }
            metadata.push((key, value));
        }

        let alignment = match metadata.iter().find(|(k, _)| k == "general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some((_, v)) => match v.as_u64() {
                Some(a) if a > 0 && a.is_power_of_two() => a,
                _ => bail!(
                    "{}: general.alignment must be a power of two, got {v}",
                    path.display()
                ),
            },
        };

        let mut tensors = Vec::with_capacity(n_tensors as usize);
        let mut tensor_index = HashMap::new();
        for i in 0..n_tensors {
            let name = c.string(&|| format!("tensor info #{i}"))?;
            let what = || format!("tensor info '{name}'");
            let n_dims = c.u32(&what)?;
            if n_dims == 0 || n_dims > MAX_DIMS {
                bail!("{}: corrupt GGUF file: tensor '{name}' has {n_dims} dimensions (1..=4 allowed)", path.display());
            }
            let mut dims = Vec::with_capacity(n_dims as usize);
            for _ in 0..n_dims {
                dims.push(c.u64(&what)?);
            }
            let type_id = c.u32(&what)?;
            let ggml_type = GgmlType::from_id(type_id).ok_or_else(|| {
                anyhow!(
                    "{}: tensor '{name}' has unknown ggml tensor type {type_id}; this reader knows F32/F16/BF16, Q4_0..Q8_1, K- and IQ-quants",
                    path.display()
                )
            })?;
            let offset = c.u64(&what)?;
            let n_el = dims.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
            let size = n_el.and_then(|n| ggml_type.byte_size(n)).ok_or_else(|| {
                anyhow!(
                    "{}: corrupt GGUF file: tensor '{name}' dims {dims:?} are not a whole number of {ggml_type:?} blocks",
                    path.display()
                )
            })?;
            if offset % alignment != 0 {
                bail!("{}: corrupt GGUF file: tensor '{name}' offset {offset} is not aligned to {alignment}", path.display());
            }
            if tensor_index.insert(name.clone(), tensors.len()).is_some() {
                bail!(
                    "{}: corrupt GGUF file: duplicate tensor name '{name}'",
                    path.display()
                );
            }
            tensors.push(TensorInfo {
                name,
                dims,
                ggml_type,
                offset,
                size,
            });
        }

        let data_offset = (c.pos as u64).div_ceil(alignment) * alignment;
        let file_len = data.len() as u64;
        for t in &tensors {
            let end = data_offset
                .checked_add(t.offset)
                .and_then(|s| s.checked_add(t.size));
            if end.is_none_or(|e| e > file_len) {
                bail!(
                    "{}: truncated GGUF file: tensor '{}' data ({} bytes at {}) lies beyond the end of the file ({} bytes); \
                     re-download the model (e.g. `cargo xtask setup`)",
                    path.display(),
                    t.name,
                    t.size,
                    data_offset.saturating_add(t.offset),
                    file_len
                );
            }
        }

        Ok(Gguf {
            path,
            mmap,
            version,
            metadata,
            meta_index,
            tensors,
            tensor_index,
            alignment,
            data_offset,
        })
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
