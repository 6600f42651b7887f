//! safetensors files of f32/bf16/f16 tensors (adapters, checkpoints), written atomically.

use anyhow::{bail, Context, Result};
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::path::Path;
use tch::{Device, Kind, Tensor};

/// Writes f32/bf16/f16 tensors as a safetensors file (atomically: temp file + rename).
pub fn write_safetensors(
    path: &Path,
    tensors: &[(String, Tensor)],
    meta: Option<HashMap<String, String>>,
) -> Result<()> {
    let mut host: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        let t = t.detach().to_device(Device::Cpu).contiguous();
        let (dtype, kind) = match t.kind() {
            Kind::BFloat16 => (Dtype::BF16, Kind::BFloat16),
            Kind::Half => (Dtype::F16, Kind::Half),
            _ => (Dtype::F32, Kind::Float),
        };
        let t = t.to_kind(kind);
        let shape: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
        let mut bytes = vec![0u8; t.numel() * kind.elt_size_in_bytes()];
        t.copy_data_u8(&mut bytes, t.numel());
        host.push((name.clone(), dtype, shape, bytes));
    }
    let views: Vec<(String, safetensors::tensor::TensorView)> = host
        .iter()
        .map(|(n, d, s, b)| {
            Ok((
                n.clone(),
                safetensors::tensor::TensorView::new(*d, s.clone(), b)?,
            ))
        })
        .collect::<Result<_, safetensors::SafeTensorError>>()
        .map_err(|e| anyhow::anyhow!("cannot serialise {}: {e}", path.display()))?;
    let bytes = safetensors::tensor::serialize(views, &meta)
        .map_err(|e| anyhow::anyhow!("cannot serialise {}: {e}", path.display()))?;
    lexalign_run::write_atomic(path, &bytes)
}

/// Reads every tensor of a safetensors file to the CPU, f32 (f16/bf16 are upcast exactly).
pub fn read_safetensors(path: &Path) -> Result<Vec<(String, Tensor)>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| {
        anyhow::anyhow!(
            "{} is not a valid safetensors file (truncated or corrupt?): {e}",
            path.display()
        )
    })?;
    let mut out = Vec::new();
    for (name, view) in st.tensors() {
        let kind = match view.dtype() {
            Dtype::F32 => Kind::Float,
            Dtype::F16 => Kind::Half,
            Dtype::BF16 => Kind::BFloat16,
            other => bail!(
                "tensor `{name}` in {} has dtype {other:?}; only f32, f16 and bf16 are supported",
                path.display()
            ),
        };
        let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        out.push((
            name,
            Tensor::from_data_size(view.data(), &shape, kind).to_kind(Kind::Float),
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}
