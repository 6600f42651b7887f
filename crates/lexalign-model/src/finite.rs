//! Non-finite numbers are errors, not results: checks that name the tensor, layer or word.

use anyhow::{bail, Result};
use tch::{Kind, Tensor};

/// Refuses a weight holding NaN or Inf, naming it. One pass and no copy: an f64 sum of f32/bf16
/// values cannot overflow, so it is finite exactly when every value is; only a failing weight
/// is counted element by element.
pub fn ensure_weight_finite(name: &str, t: &Tensor) -> Result<()> {
    if !t.is_floating_point() {
        return Ok(());
    }
    if t.sum(Kind::Double).double_value(&[]).is_finite() {
        return Ok(());
    }
    let bad = t.isfinite().logical_not().sum(Kind::Int64).int64_value(&[]);
    if bad > 0 {
        bail!("weight `{name}` holds {bad} non-finite value(s) (NaN or Inf): the checkpoint is corrupt; re-download or re-convert it");
    }
    Ok(())
}

/// Refuses pooled vectors `[n, d]` with a non-finite entry, naming the first bad word and layer.
pub fn ensure_rows_finite(t: &Tensor, words: &[&str], layer: usize) -> Result<()> {
    let ok = t.isfinite().all_dim(1, false);
    let bad = ok.logical_not().nonzero();
    if bad.size()[0] > 0 {
        let row = bad.int64_value(&[0, 0]) as usize;
        let word = words.get(row).copied().unwrap_or("?");
        bail!("hidden state {layer} of the word `{word}` is not finite (NaN or Inf): the model's weights or the compute dtype overflow; try --dtype f32");
    }
    Ok(())
}
