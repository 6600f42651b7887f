//! Folding adapters into the base weights (peft's `merge_and_unload`, with `safe_merge`).

use super::{linear, linear_mut, MODULES};
use crate::decoder::Decoder;
use crate::linear::BaseWeight;
use crate::quant4::Quant4Weight;
use anyhow::{bail, Context, Result};
use tch::{Device, Kind, Tensor};

/// Folds every adapter into its base weight (`W += B A * scale`, as peft's `merge_and_unload`)
/// and removes the adapters. Dense bases: the delta is cast to the base dtype and added, as peft
/// does. 4-bit bases: dequantised to f32, rounded to the compute dtype, summed with the delta and
/// re-quantised with the same code book, block size and double-quant setting (peft's merge for
/// bitsandbytes' `Linear4bit`), so the merged model stays 4-bit.
///
/// peft's `safe_merge`: every merged weight must be finite, else the merge is refused, naming
/// the layer and module. All merged weights are built and checked before any is installed, so a
/// refused merge leaves the model as it was (adapters attached, bases unchanged).
pub fn merge(model: &mut Decoder) -> Result<()> {
    let kind = model.kind;
    let device = model.device;
    let mut merged = Vec::new();
    for (i, block) in model.layers.iter().enumerate() {
        for m in MODULES {
            let lin = linear(block, m);
            let Some(l) = lin.lora.as_ref() else { continue };
            let delta = tch::no_grad(|| l.b.detach().matmul(&l.a.detach()) * l.scale);
            let refuse = |w: &Tensor| -> Result<()> {
                let bad = w.isfinite().logical_not().sum(Kind::Int64).int64_value(&[]);
                if bad > 0 {
                    bail!(
                        "merging the adapter of layer {i} {m} gives {bad} non-finite weight(s) (NaN or Inf): \
                         the adapter seems to be broken (peft's safe_merge refuses it); nothing was merged"
                    );
                }
                Ok(())
            };
            let base = match &lin.base {
                BaseWeight::Dense(w) => {
                    let d = delta.to_kind(w.kind());
                    let w = tch::no_grad(|| w + d);
                    refuse(&w)?;
                    BaseWeight::Dense(w)
                }
                BaseWeight::Quant4(q) => {
                    let w = q.dequantize(Kind::Float).to_kind(kind).to_kind(Kind::Float) + delta;
                    refuse(&w)?;
                    BaseWeight::Quant4(
                        requantize_like(q, &w, device)
                            .with_context(|| format!("re-quantizing layer {i} {m} after merge"))?,
                    )
                }
            };
            merged.push((i, m, base));
        }
    }
    for (i, m, base) in merged {
        let lin = linear_mut(&mut model.layers[i], m);
        lin.base = base;
        lin.lora = None;
    }
    Ok(())
}

/// Quantises `w` (the shape of `like`) with `like`'s type, block size, double-quant setting and
/// rounding kernel (bitsandbytes' CUDA rounding for a model loaded for a GPU, as peft's merge
/// re-quantizes on the weight's device).
fn requantize_like(like: &Quant4Weight, w: &Tensor, device: Device) -> Result<Quant4Weight> {
    Quant4Weight::quantize(
        w,
        like.quant_type,
        like.blocksize as usize,
        like.is_double_quant(),
        like.kernel,
        device,
    )
}
