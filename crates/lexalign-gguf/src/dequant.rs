//! ggml tensor types and their dequantisation to f32.
//!
//! Every formula follows ggml's `dequantize_row_*` (ggml-quants.c) with the same float operation
//! order, which is also what the `gguf` Python package (`gguf.quants.dequantize`, used by
//! transformers to load a GGUF) computes, so results are bit-identical. Rust never fuses `a * b + c`
//! into an FMA on its own, which keeps that true.

use anyhow::{bail, Result};
use half::f16;

/// ggml tensor type ids (`enum ggml_type`), with their block layout.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GgmlType {
    F32,
    F16,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q8_0,
    Q8_1,
    Q2_K,
    Q3_K,
    Q4_K,
    Q5_K,
    Q6_K,
    Q8_K,
    IQ2_XXS,
    IQ2_XS,
    IQ3_XXS,
    IQ1_S,
    IQ4_NL,
    IQ3_S,
    IQ2_S,
    IQ4_XS,
    I8,
    I16,
    I32,
    I64,
    F64,
    IQ1_M,
    BF16,
    TQ1_0,
    TQ2_0,
    MXFP4,
}

const QK_K: usize = 256;

impl GgmlType {
    /// The type for an on-disk id; `None` for ids this reader does not know the layout of.
    pub fn from_id(id: u32) -> Option<Self> {
        use GgmlType::*;
        Some(match id {
            0 => F32,
            1 => F16,
            2 => Q4_0,
            3 => Q4_1,
            6 => Q5_0,
            7 => Q5_1,
            8 => Q8_0,
            9 => Q8_1,
            10 => Q2_K,
            11 => Q3_K,
            12 => Q4_K,
            13 => Q5_K,
            14 => Q6_K,
            15 => Q8_K,
            16 => IQ2_XXS,
            17 => IQ2_XS,
            18 => IQ3_XXS,
            19 => IQ1_S,
            20 => IQ4_NL,
            21 => IQ3_S,
            22 => IQ2_S,
            23 => IQ4_XS,
            24 => I8,
            25 => I16,
            26 => I32,
            27 => I64,
            28 => F64,
            29 => IQ1_M,
            30 => BF16,
            34 => TQ1_0,
            35 => TQ2_0,
            39 => MXFP4,
            _ => return None,
        })
    }

    /// `(elements per block, bytes per block)`, as gguf-py's `GGML_QUANT_SIZES`.
    pub fn block_layout(self) -> (usize, usize) {
        use GgmlType::*;
        match self {
            F32 => (1, 4),
            F16 => (1, 2),
            Q4_0 => (32, 2 + 16),
            Q4_1 => (32, 2 + 2 + 16),
            Q5_0 => (32, 2 + 4 + 16),
            Q5_1 => (32, 2 + 2 + 4 + 16),
            Q8_0 => (32, 2 + 32),
            Q8_1 => (32, 4 + 4 + 32),
            Q2_K => (QK_K, 2 + 2 + QK_K / 16 + QK_K / 4),
            Q3_K => (QK_K, 2 + QK_K / 4 + QK_K / 8 + 12),
            Q4_K => (QK_K, 2 + 2 + QK_K / 2 + 12),
            Q5_K => (QK_K, 2 + 2 + QK_K / 2 + QK_K / 8 + 12),
            Q6_K => (QK_K, 2 + QK_K / 2 + QK_K / 4 + QK_K / 16),
            Q8_K => (QK_K, 4 + QK_K + QK_K / 8),
            IQ2_XXS => (QK_K, 2 + QK_K / 4),
            IQ2_XS => (QK_K, 2 + QK_K / 4 + QK_K / 32),
            IQ3_XXS => (QK_K, 2 + QK_K / 4 + QK_K / 8),
            IQ1_S => (QK_K, 2 + QK_K / 8 + QK_K / 16),
            IQ4_NL => (32, 2 + 16),
            IQ3_S => (QK_K, 2 + QK_K / 4 + QK_K / 8 + QK_K / 32 + 4),
            IQ2_S => (QK_K, 2 + QK_K / 4 + QK_K / 16),
            IQ4_XS => (QK_K, 2 + 2 + QK_K / 2 + QK_K / 64),
            I8 => (1, 1),
            I16 => (1, 2),
            I32 => (1, 4),
            I64 => (1, 8),
            F64 => (1, 8),
            IQ1_M => (QK_K, QK_K / 8 + QK_K / 16 + QK_K / 32),
            BF16 => (1, 2),
            TQ1_0 => (QK_K, 2 + 4 * 13),
            TQ2_0 => (QK_K, 2 + 64),
            MXFP4 => (32, 1 + 16),
        }
    }

    /// Whether [`dequantize`] handles this type.
    pub fn can_dequantize(self) -> bool {
        use GgmlType::*;
        matches!(
            self,
            F32 | F16 | BF16 | F64 | Q4_0 | Q4_1 | Q5_0 | Q5_1 | Q8_0 | Q4_K | Q5_K | Q6_K
        )
    }

    /// Bytes taken by `n_elements` values (which must be a whole number of blocks).
    pub fn byte_size(self, n_elements: u64) -> Option<u64> {
        let (be, bb) = self.block_layout();
        if n_elements % be as u64 != 0 {
            return None;
        }
        (n_elements / be as u64).checked_mul(bb as u64)
    }
}

#[inline]
fn f16_at(b: &[u8], i: usize) -> f32 {
    f16::from_bits(u16::from_le_bytes([b[i], b[i + 1]])).to_f32()
}

/// Dequantises `bytes` (a whole number of blocks of `ty`) into `out` (one f32 per element).
///
/// Large inputs are split over threads at block boundaries; the result does not depend on the
/// split (every element is computed on its own).
pub fn dequantize_into(ty: GgmlType, bytes: &[u8], out: &mut [f32]) -> Result<()> {
    if !ty.can_dequantize() {
        bail!("cannot dequantize ggml type {ty:?}: lexalign supports F32, F16, BF16, F64, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K");
    }
    let (be, bb) = ty.block_layout();
    if bytes.len() % bb != 0 || out.len() != bytes.len() / bb * be {
        bail!(
            "dequantize {ty:?}: {} bytes is not {} elements ({} bytes per {}-element block)",
            bytes.len(),
            out.len(),
            bb,
            be
        );
    }
    let n_blocks = bytes.len() / bb;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(16);
    if threads <= 1 || out.len() < (1 << 20) {
        dequantize_blocks(ty, bytes, out);
        return Ok(());
    }
    let blocks_per = n_blocks.div_ceil(threads);
    std::thread::scope(|s| {
        for (b, o) in bytes
            .chunks(blocks_per * bb)
            .zip(out.chunks_mut(blocks_per * be))
        {
            s.spawn(move || dequantize_blocks(ty, b, o));
        }
    });
    Ok(())
}

/// Dequantises into a new vector.
pub fn dequantize(ty: GgmlType, bytes: &[u8], n_elements: usize) -> Result<Vec<f32>> {
    let mut out = vec![0f32; n_elements];
    dequantize_into(ty, bytes, &mut out)?;
    Ok(out)
}

/// Block loop; sizes were checked by the caller.
fn dequantize_blocks(ty: GgmlType, bytes: &[u8], out: &mut [f32]) {
    let (be, bb) = ty.block_layout();
    for (b, y) in bytes.chunks_exact(bb).zip(out.chunks_exact_mut(be)) {
        match ty {
            GgmlType::F32 => y[0] = f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            GgmlType::F16 => y[0] = f16_at(b, 0),
            GgmlType::BF16 => {
                y[0] = f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16)
            }
            GgmlType::F64 => y[0] = f64::from_le_bytes(b[..8].try_into().unwrap()) as f32,
            GgmlType::Q4_0 => block_q4_0(b, y),
            GgmlType::Q4_1 => block_q4_1(b, y),
            GgmlType::Q5_0 => block_q5_0(b, y),
            GgmlType::Q5_1 => block_q5_1(b, y),
            GgmlType::Q8_0 => block_q8_0(b, y),
            GgmlType::Q4_K => block_q4_k(b, y),
            GgmlType::Q5_K => block_q5_k(b, y),
            GgmlType::Q6_K => block_q6_k(b, y),
            _ => unreachable!("checked by can_dequantize"),
        }
    }
}

/// d: f16, qs[16]; low nibbles are elements 0..16, high nibbles 16..32; y = d * (q - 8).
fn block_q4_0(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 0);
    let qs = &b[2..18];
    for j in 0..16 {
        y[j] = d * ((qs[j] & 0x0F) as i32 - 8) as f32;
        y[j + 16] = d * ((qs[j] >> 4) as i32 - 8) as f32;
    }
}

/// d, m: f16, qs[16]; y = d * q + m.
fn block_q4_1(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 0);
    let m = f16_at(b, 2);
    let qs = &b[4..20];
    for j in 0..16 {
        y[j] = d * (qs[j] & 0x0F) as f32 + m;
        y[j + 16] = d * (qs[j] >> 4) as f32 + m;
    }
}

/// d: f16, qh: u32 (5th bits), qs[16]; y = d * (q - 16).
fn block_q5_0(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 0);
    let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
    let qs = &b[6..22];
    for j in 0..16 {
        let h0 = ((qh >> j) & 1) << 4;
        let h1 = ((qh >> (j + 16)) & 1) << 4;
        y[j] = d * (((qs[j] & 0x0F) as u32 | h0) as i32 - 16) as f32;
        y[j + 16] = d * (((qs[j] >> 4) as u32 | h1) as i32 - 16) as f32;
    }
}

/// d, m: f16, qh: u32, qs[16]; y = d * q + m.
fn block_q5_1(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 0);
    let m = f16_at(b, 2);
    let qh = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    let qs = &b[8..24];
    for j in 0..16 {
        let h0 = ((qh >> j) & 1) << 4;
        let h1 = ((qh >> (j + 16)) & 1) << 4;
        y[j] = d * ((qs[j] & 0x0F) as u32 | h0) as f32 + m;
        y[j + 16] = d * ((qs[j] >> 4) as u32 | h1) as f32 + m;
    }
}

/// d: f16, qs: i8[32]; y = q * d.
fn block_q8_0(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 0);
    for j in 0..32 {
        y[j] = (b[2 + j] as i8) as f32 * d;
    }
}

/// The 6-bit scale and min of sub-block `j` (ggml's `get_scale_min_k4`).
#[inline]
fn scale_min_k4(j: usize, s: &[u8]) -> (u8, u8) {
    if j < 4 {
        (s[j] & 63, s[j + 4] & 63)
    } else {
        (
            (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4),
            (s[j + 4] >> 4) | ((s[j] >> 6) << 4),
        )
    }
}

/// d, dmin: f16, scales[12], qs[128]; 8 sub-blocks of 32: y = (d*sc) * q - (dmin*m).
fn block_q4_k(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 0);
    let dmin = f16_at(b, 2);
    let scales = &b[4..16];
    let qs = &b[16..144];
    for g in 0..8 {
        let (sc, m) = scale_min_k4(g, scales);
        let d1 = d * sc as f32;
        let m1 = dmin * m as f32;
        let chunk = &qs[(g / 2) * 32..(g / 2) * 32 + 32];
        let shift = (g % 2) * 4;
        for l in 0..32 {
            y[g * 32 + l] = d1 * ((chunk[l] >> shift) & 0x0F) as f32 - m1;
        }
    }
}

/// d, dmin: f16, scales[12], qh[32], qs[128]; like Q4_K with a 5th bit from qh.
fn block_q5_k(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 0);
    let dmin = f16_at(b, 2);
    let scales = &b[4..16];
    let qh = &b[16..48];
    let qs = &b[48..176];
    for g in 0..8 {
        let (sc, m) = scale_min_k4(g, scales);
        let d1 = d * sc as f32;
        let m1 = dmin * m as f32;
        let chunk = &qs[(g / 2) * 32..(g / 2) * 32 + 32];
        let shift = (g % 2) * 4;
        for l in 0..32 {
            let q = ((chunk[l] >> shift) & 0x0F) | (((qh[l] >> g) & 1) << 4);
            y[g * 32 + l] = d1 * q as f32 - m1;
        }
    }
}

/// ql[128], qh[64], scales: i8[16], d: f16; y = (d * scale) * (q - 32).
fn block_q6_k(b: &[u8], y: &mut [f32]) {
    let ql = &b[0..128];
    let qh = &b[128..192];
    let sc = &b[192..208];
    let d = f16_at(b, 208);
    for e in 0..QK_K {
        let h = e / 128;
        let p = e % 128;
        let low = if p < 64 {
            ql[h * 64 + p] & 0x0F
        } else {
            ql[h * 64 + p - 64] >> 4
        };
        let high = (qh[h * 32 + p % 32] >> (2 * (p / 32))) & 3;
        let q = (low | (high << 4)) as i32 - 32;
        y[e] = (d * (sc[e / 16] as i8) as f32) * q as f32;
    }
}
