//! Double quantization of the absmax values, as bitsandbytes does it on CPU:
//! `offset = absmax.mean()`, then `quantize_blockwise(absmax - offset, blocksize=256)`
//! with the signed 8-bit dynamic map (native `cquantize_blockwise_cpu_fp32`).

// Index loops mirror ATen's C++ on purpose (same accumulation order).
#![allow(clippy::needless_range_loop)]

use crate::codebook::dynamic_map;

/// Block size bitsandbytes uses for the second-level (absmax) quantization.
pub const DOUBLE_QUANT_BLOCKSIZE: usize = 256;

/// `torch.Tensor.mean()` of a contiguous f32 vector on CPU with one torch thread, bit for bit
/// (torch 2.11's serial cascade sum with 8-lane vectors, then `/ n`; checked up to 917504
/// values, the block count of an 8B model's largest linear layer).
///
/// With several torch threads and more than 32768 values torch splits the sum over threads,
/// and CUDA reduces in yet another order, so bitsandbytes' offset can differ from this one in
/// the last bits there; the offset is stored with the tensor, so dequantization stays exact.
pub fn torch_cpu_mean(xs: &[f32]) -> f32 {
    torch_cpu_sum(xs) / xs.len() as f32
}

/// torch's CPU `sum()` of a contiguous f32 vector (ATen SumKernel.cpp `cascade_sum`,
/// single thread): `vectorized_inner_sum` with 8 lanes, or `scalar_inner_sum` below 8 values.
pub fn torch_cpu_sum(xs: &[f32]) -> f32 {
    const W: usize = 8;
    let n = xs.len();
    if n >= W {
        let nvec = n / W;
        let load = |j: usize| -> [f32; W] { xs[j * W..j * W + W].try_into().unwrap() };
        let vec_acc = row_sum::<W>(nvec, load);
        let mut fin = 0f32;
        for &x in &xs[nvec * W..] {
            fin += x;
        }
        for l in vec_acc {
            fin += l;
        }
        fin
    } else {
        row_sum::<1>(n, |j| [xs[j]])[0]
    }
}

fn ceil_log2(x: usize) -> usize {
    if x <= 2 {
        1
    } else {
        (usize::BITS - (x - 1).leading_zeros()) as usize
    }
}

fn add<const W: usize>(a: &mut [f32; W], b: &[f32; W]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x += *y;
    }
}

/// ATen `row_sum` (ilp factor 4) over `m` rows of W lanes each.
fn row_sum<const W: usize>(m: usize, load: impl Fn(usize) -> [f32; W]) -> [f32; W] {
    const ILP: usize = 4;
    let size_ilp = m / ILP;
    let mut partial = multi_row_sum::<W>(size_ilp, |i, k| load(i * ILP + k));
    for j in size_ilp * ILP..m {
        let v = load(j);
        add(&mut partial[0], &v);
    }
    for k in 1..ILP {
        let v = partial[k];
        add(&mut partial[0], &v);
    }
    partial[0]
}

/// ATen `multi_row_sum` with 4 cascade levels and 4 rows.
fn multi_row_sum<const W: usize>(
    size: usize,
    load: impl Fn(usize, usize) -> [f32; W],
) -> [[f32; W]; 4] {
    const LEVELS: usize = 4;
    const NROWS: usize = 4;
    let level_power = 4usize.max(ceil_log2(size) / LEVELS);
    let level_step = 1usize << level_power;
    let level_mask = level_step - 1;
    let mut acc = [[[0f32; W]; NROWS]; LEVELS];
    let mut i = 0usize;
    while i + level_step <= size {
        for _ in 0..level_step {
            for k in 0..NROWS {
                let v = load(i, k);
                add(&mut acc[0][k], &v);
            }
            i += 1;
        }
        for j in 1..LEVELS {
            for k in 0..NROWS {
                let v = acc[j - 1][k];
                add(&mut acc[j][k], &v);
                acc[j - 1][k] = [0f32; W];
            }
            let mask = level_mask << (j * level_power);
            if i & mask != 0 {
                break;
            }
        }
    }
    while i < size {
        for k in 0..NROWS {
            let v = load(i, k);
            add(&mut acc[0][k], &v);
        }
        i += 1;
    }
    for j in 1..LEVELS {
        for k in 0..NROWS {
            let v = acc[j][k];
            add(&mut acc[0][k], &v);
        }
    }
    acc[0]
}

/// 8-bit blockwise quantization with the dynamic map (bitsandbytes CPU `quantize_cpu`):
/// per block `absmax = max|a|`, `normed = a / absmax`, nearest code (ties to the lower code),
/// searching a copy of the map whose first entry is -1.0 (as the C++ does). Returns
/// `(codes, absmax per block)`. A NaN `normed` (all-zero block) gets code 0, like the C++.
pub fn quantize_blockwise_dynamic(a: &[f32], blocksize: usize) -> (Vec<u8>, Vec<f32>) {
    let mut code = dynamic_map();
    code[0] = -1.0;
    let nblocks = a.len().div_ceil(blocksize);
    let mut codes = vec![0u8; a.len()];
    let mut absmax = vec![0f32; nblocks];
    for (b, (blk, out)) in a
        .chunks(blocksize)
        .zip(codes.chunks_mut(blocksize))
        .enumerate()
    {
        let mut am = -f32::MAX;
        for &x in blk {
            am = am.max(x.abs());
        }
        absmax[b] = am;
        for (o, &x) in out.iter_mut().zip(blk) {
            let normed = x / am;
            *o = nearest_code(&code, normed);
        }
    }
    (codes, absmax)
}

/// Index of the largest code <= x (0 if none), then step right if strictly closer.
fn nearest_code(code: &[f32; 256], x: f32) -> u8 {
    if x.is_nan() {
        return 0;
    }
    // partition_point: first index with code[i] > x
    let mut idx = code.partition_point(|&c| c <= x);
    idx = idx.saturating_sub(1);
    if idx < 255 {
        let dl = (x - code[idx]).abs();
        let dr = (x - code[idx + 1]).abs();
        if dr < dl {
            idx += 1;
        }
    }
    idx as u8
}

/// `dequantize_blockwise` on CPU: `code[q] * absmax[block]` in f32 (unpatched map).
pub fn dequantize_blockwise_dynamic(
    codes: &[u8],
    absmax: &[f32],
    code: &[f32; 256],
    blocksize: usize,
) -> Vec<f32> {
    codes
        .chunks(blocksize)
        .zip(absmax)
        .flat_map(|(blk, &am)| blk.iter().map(move |&q| code[q as usize] * am))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sum_small_is_exact_for_integers() {
        let xs: Vec<f32> = (1..=100).map(|i| i as f32).collect();
        assert_eq!(torch_cpu_sum(&xs), 5050.0);
        assert_eq!(torch_cpu_mean(&xs[..3]), 2.0);
    }

    #[test]
    fn nearest_code_ties_go_low() {
        let code = dynamic_map();
        let mid = (code[200] + code[201]) / 2.0;
        let q = nearest_code(&code, mid);
        assert!(q == 200 || q == 201);
        assert_eq!(nearest_code(&code, 1.0), 255);
        assert_eq!(nearest_code(&code, f32::NAN), 0);
    }
}
