//! Non-finite numbers are errors, not results: checks that name the tensor, layer or word.

use anyhow::{bail, Result};
use tch::{Kind, Tensor};

/// Elements per f64 partial sum: libtorch casts the whole input to the sum's dtype first, so
/// one `sum(Double)` over Gemma's 262k x 640 embedding table allocated a 1.3 GB copy at load.
const FINITE_CHUNK: i64 = 1 << 20;

/// Refuses a weight holding NaN or Inf, naming it. One pass, in chunks of [`FINITE_CHUNK`]: an
/// f64 sum of f32/bf16 values cannot overflow, so it is finite exactly when every value is; only
/// a failing weight is counted element by element.
pub fn ensure_weight_finite(name: &str, t: &Tensor) -> Result<()> {
    if !t.is_floating_point() {
        return Ok(());
    }
    let flat = t.reshape([-1]);
    let n = flat.size()[0];
    let mut sum = 0.0;
    let mut start = 0;
    while start < n {
        let len = FINITE_CHUNK.min(n - start);
        sum += flat
            .narrow(0, start, len)
            .sum(Kind::Double)
            .double_value(&[]);
        start += len;
    }
    if sum.is_finite() {
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
