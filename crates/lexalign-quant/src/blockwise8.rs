//! Double quantization of the absmax values, as bitsandbytes does it on CPU:
//! `offset = absmax.mean()`, then `quantize_blockwise(absmax - offset, blocksize=256)`
//! with the signed 8-bit dynamic map (native `cquantize_blockwise_cpu_fp32`, whose 0.50 CPU
//! kernel rounds through a 65536-entry lookup table, not to the nearest code).

// Index loops mirror ATen's C++ on purpose (same accumulation order).
#![allow(clippy::needless_range_loop)]

use std::sync::OnceLock;

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

/// Size of bitsandbytes' CPU quantization lookup table (`kLUTSize` in csrc/cpu_ops.cpp).
const LUT_SIZE: usize = 65536;

/// 8-bit blockwise quantization with the dynamic map, as bitsandbytes' native CPU
/// `quantize_cpu` (`cquantize_blockwise_cpu_fp32`, bitsandbytes 0.50) does it. Returns
/// `(codes, absmax per block)`.
///
/// bitsandbytes 0.50 no longer searches the code book for the nearest entry (the older
/// BinSearch + distance check). It snaps the normalized value to a grid of 65536 points over
/// [-1, 1] and reads the code from a lookup table built for those grid points
/// ([`build_quantize_lut`]), so a value within half a grid step (1.5e-5) of a code-book
/// midpoint can get the farther code, and the first code uses the map's own -0.99297 (no
/// patch to -1.0). Per block, all in f32:
/// `absmax = max(0, max |a|)` (NaN ignored); an all-zero block gets codes 0; otherwise
/// `v = clamp(a * (1 / absmax), -1, 1)`, `t = (v + 1) * 0.5 * 65535 + 0.5`,
/// `code = lut[(t as i32) as u16]` (a NaN `v` reads `lut[0]`, like x86's `cvttss2si`).
pub fn quantize_blockwise_dynamic(a: &[f32], blocksize: usize) -> (Vec<u8>, Vec<f32>) {
    static LUT: OnceLock<Box<[u8]>> = OnceLock::new();
    let lut = LUT.get_or_init(|| build_quantize_lut(&dynamic_map()));
    let nblocks = a.len().div_ceil(blocksize);
    let mut codes = vec![0u8; a.len()];
    let mut absmax = vec![0f32; nblocks];
    for (b, (blk, out)) in a
        .chunks(blocksize)
        .zip(codes.chunks_mut(blocksize))
        .enumerate()
    {
        // C++: an `omp simd reduction(max)` from 0 over `std::max(am, fabs(x))`: NaN never wins.
        let mut am = 0f32;
        for &x in blk {
            let ax = x.abs();
            if am < ax {
                am = ax;
            }
        }
        absmax[b] = am;
        if am == 0.0 {
            continue; // codes stay 0 (the C++ memsets the block)
        }
        let inv = 1.0f32 / am;
        for (o, &x) in out.iter_mut().zip(blk) {
            *o = lut[lut_index(x * inv)];
        }
    }
    (codes, absmax)
}

/// Grid index of a normalized value: `(uint16_t)((clamp(v, -1, 1) + 1) * 0.5 * 65535 + 0.5)`
/// in f32. libbitsandbytes_cpu fuses the last multiply-add (`vfmadd213ss`); the truncated
/// index is the same unfused (checked for every f32 `(v + 1) * 0.5` in [0, 1]).
fn lut_index(v: f32) -> usize {
    let v = v.clamp(-1.0, 1.0); // NaN stays NaN, like std::clamp
    let t = (v + 1.0) * 0.5 * (LUT_SIZE - 1) as f32 + 0.5;
    // cvttss2si gives 0x80000000 for NaN, whose low 16 bits are 0; Rust's `as` gives 0 too.
    (t as i32) as u16 as usize
}

/// bitsandbytes' `build_quantize_lut`: entry `i` is the number of code-book midpoints
/// `(code[j] + code[j + 1]) * 0.5` strictly below the grid value `(i + i) / 65535 - 1` (f32).
fn build_quantize_lut(code: &[f32; 256]) -> Box<[u8]> {
    let mut mid = [0f32; 255];
    for (j, m) in mid.iter_mut().enumerate() {
        *m = (code[j] + code[j + 1]) * 0.5;
    }
    let mut lut = vec![0u8; LUT_SIZE].into_boxed_slice();
    let mut idx = 0usize;
    for (i, e) in lut.iter_mut().enumerate() {
        let fi = i as f32;
        let val = (fi + fi) / (LUT_SIZE - 1) as f32 - 1.0;
        while idx < 255 && mid[idx] < val {
            idx += 1;
        }
        *e = idx as u8;
    }
    lut
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
    fn lut_rounds_through_the_grid_not_to_the_nearest_code() {
        let code = dynamic_map();
        let lut = build_quantize_lut(&code);
        assert_eq!(lut[0], 0);
        assert_eq!(lut[LUT_SIZE - 1], 255);
        assert!(lut.windows(2).all(|w| w[0] <= w[1]));
        // -6.64e-6 is nearest to code 124 (-7.75e-6) but snaps to grid point -1.53e-5,
        // which lies below the 123/124 midpoint: bitsandbytes stores 123.
        assert_eq!(lut[lut_index(-6.642_473_6e-6)], 123);
        // The first code keeps the map's -0.99297 (no -1.0 patch): -0.987 is code 0.
        assert_eq!(lut[lut_index(-0.987)], 0);
        assert_eq!(lut[lut_index(1.0)], 255);
        assert_eq!(lut[lut_index(f32::NAN)], 0);
    }

    #[test]
    fn zero_and_nan_blocks() {
        let (codes, am) = quantize_blockwise_dynamic(&[0.0, -0.0, f32::NAN, f32::NAN, 1.0], 2);
        assert_eq!(am, vec![0.0, 0.0, 1.0]);
        assert_eq!(codes, vec![0, 0, 0, 0, 255]);
    }
}
