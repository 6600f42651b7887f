//! The GGUF header, read in the file's own order: preamble (magic, version, counts), metadata,
//! tensor infos, then a check that every tensor's data lies inside the file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use memmap2::Mmap;

use super::cursor::Cursor;
use super::{Gguf, TensorInfo, DEFAULT_ALIGNMENT};
use crate::dequant::GgmlType;
use crate::value::{MetaValue, ValueType};

/// ggml's GGML_MAX_DIMS.
const MAX_DIMS: u32 = 4;

type Metadata = (Vec<(String, MetaValue)>, HashMap<String, usize>);
type Tensors = (Vec<TensorInfo>, HashMap<String, usize>);

impl Gguf {
    pub(super) fn parse(path: PathBuf, mmap: Mmap) -> Result<Gguf> {
        let data: &[u8] = &mmap;
        let mut c = Cursor {
            data,
            pos: 0,
            path: &path,
        };
        let (version, n_tensors, n_kv) = preamble(&mut c)?;
        let (metadata, meta_index) = read_metadata(&mut c, n_kv)?;
        let alignment = alignment(&path, &metadata)?;
        let (tensors, tensor_index) = read_tensor_infos(&mut c, n_tensors, alignment)?;
        let data_offset = (c.pos as u64).div_ceil(alignment) * alignment;
        check_tensor_bounds(&path, &tensors, data_offset, data.len() as u64)?;
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
}

/// Magic, version (v2/v3, little-endian) and the tensor and metadata counts, checked against the
/// bytes left so a corrupt count cannot make us allocate for billions of entries.
fn preamble(c: &mut Cursor) -> Result<(u32, u64, u64)> {
    let path = c.path;
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
        1 => bail!(
            "{}: GGUF version 1 is not supported (only v2 and v3); re-convert the model with a current llama.cpp",
            path.display()
        ),
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
            c.data.len()
        );
    }
    Ok((version, n_tensors, n_kv))
}

/// The metadata key/value pairs, in file order, with an index by key (duplicates are corruption).
fn read_metadata(c: &mut Cursor, n_kv: u64) -> Result<Metadata> {
    let path = c.path;
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
    Ok((metadata, meta_index))
}

/// `general.alignment` (a power of two), else [`DEFAULT_ALIGNMENT`].
fn alignment(path: &Path, metadata: &[(String, MetaValue)]) -> Result<u64> {
    Ok(
        match metadata.iter().find(|(k, _)| k == "general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some((_, v)) => match v.as_u64() {
                Some(a) if a > 0 && a.is_power_of_two() => a,
                _ => bail!(
                    "{}: general.alignment must be a power of two, got {v}",
                    path.display()
                ),
            },
        },
    )
}

/// The tensor infos, each with its byte size from its type and dims (checked for overflow).
fn read_tensor_infos(c: &mut Cursor, n_tensors: u64, alignment: u64) -> Result<Tensors> {
    let path = c.path;
    let mut tensors = Vec::with_capacity(n_tensors as usize);
    let mut tensor_index = HashMap::new();
    for i in 0..n_tensors {
        let name = c.string(&|| format!("tensor info #{i}"))?;
        let what = || format!("tensor info '{name}'");
        let n_dims = c.u32(&what)?;
        if n_dims == 0 || n_dims > MAX_DIMS {
            bail!(
                "{}: corrupt GGUF file: tensor '{name}' has {n_dims} dimensions (1..=4 allowed)",
                path.display()
            );
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
    Ok((tensors, tensor_index))
}

/// Every tensor's data must end inside the file (a truncated download fails here, not later).
fn check_tensor_bounds(
    path: &Path,
    tensors: &[TensorInfo],
    data_offset: u64,
    file_len: u64,
) -> Result<()> {
    for t in tensors {
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
    Ok(())
}
