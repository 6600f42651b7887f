//! 4-bit blockwise quantization (`bitsandbytes.functional.quantize_4bit` / `dequantize_4bit`).

use std::borrow::Cow;

use anyhow::{bail, ensure, Result};

use crate::blockwise8::{
    dequantize_blockwise_dynamic, quantize_blockwise_dynamic, torch_cpu_mean,
    DOUBLE_QUANT_BLOCKSIZE,
};
use crate::codebook::{codebook, dynamic_map, QuantType};
use crate::kernel::{BlockKernel, Kernel};

/// Block sizes bitsandbytes accepts for `quantize_4bit`.
pub const VALID_BLOCKSIZES: [usize; 8] = [32, 64, 128, 256, 512, 1024, 2048, 4096];
/// bitsandbytes' (and transformers') default 4-bit block size.
pub const DEFAULT_BLOCKSIZE: usize = 64;
/// Nibble order of the packed bytes: value `2i` is the HIGH nibble of byte `i`, value `2i+1`
/// the low nibble (`(q[::2] << 4) | q[1::2]`); an odd last value is paired with a padding 0.
pub const HIGH_NIBBLE_FIRST: bool = true;

/// Options of [`quantize_with`].
#[derive(Clone, Copy, Debug)]
pub struct QuantOptions {
    pub quant_type: QuantType,
    pub blocksize: usize,
    pub double_quant: bool,
    pub kernel: Kernel,
    /// Worker threads; `None` = `std::thread::available_parallelism()`. Output does not
    /// depend on it.
    pub threads: Option<usize>,
}

impl QuantOptions {
    pub fn new(quant_type: QuantType) -> Self {
        Self {
            quant_type,
            blocksize: DEFAULT_BLOCKSIZE,
            double_quant: false,
            kernel: Kernel::default(),
            threads: None,
        }
    }
}

/// Double-quantized absmax (`QuantState.absmax` u8 + `state2` + `offset`).
#[derive(Clone, Debug, PartialEq)]
pub struct DoubleQuant {
    /// One 8-bit code per 4-bit block (index into `code`).
    pub codes: Vec<u8>,
    /// fp32 absmax of each group of `blocksize2` first-level absmax values.
    pub absmax2: Vec<f32>,
    /// Mean of the first-level absmax values, subtracted before 8-bit quantization.
    pub offset: f32,
    /// Second-level block size (256).
    pub blocksize2: usize,
    /// The 8-bit dynamic code book (`state2.code`).
    pub code: Box<[f32; 256]>,
}

/// Per-block scale: plain fp32 or double-quantized.
#[derive(Clone, Debug, PartialEq)]
pub enum Absmax {
    Plain(Vec<f32>),
    Double(DoubleQuant),
}

/// A tensor quantized to 4 bits the way bitsandbytes stores it (`Params4bit` + `QuantState`).
#[derive(Clone, Debug, PartialEq)]
pub struct Quantized4bit {
    pub quant_type: QuantType,
    /// Two codes per byte, see [`HIGH_NIBBLE_FIRST`]; `numel.div_ceil(2)` bytes.
    pub packed: Vec<u8>,
    pub absmax: Absmax,
    pub shape: Vec<usize>,
    pub blocksize: usize,
    pub numel: usize,
    /// Whose rounding produced the codes (kept so a re-quantization, e.g. a LoRA merge, uses
    /// the same one).
    pub kernel: Kernel,
}

/// Quantize with bitsandbytes' CPU rounding ([`Kernel::BnbTorch`]) on all cores.
///
/// `values` are the tensor's values in row-major order, upcast to f32 (bf16 and f16 weights
/// upcast exactly; bitsandbytes does the same `.float()` before quantizing, so the result is
/// bit-identical for bf16, f16 and f32 inputs).
pub fn quantize(
    values: &[f32],
    shape: &[usize],
    quant_type: QuantType,
    blocksize: usize,
    double_quant: bool,
) -> Result<Quantized4bit> {
    quantize_with(
        values,
        shape,
        &QuantOptions {
            blocksize,
            double_quant,
            ..QuantOptions::new(quant_type)
        },
    )
}

/// Quantize with explicit options.
pub fn quantize_with(
    values: &[f32],
    shape: &[usize],
    opts: &QuantOptions,
) -> Result<Quantized4bit> {
    let numel: usize = shape.iter().product();
    ensure!(
        numel == values.len(),
        "quantize: shape {shape:?} has {numel} values but {} were given",
        values.len()
    );
    ensure!(numel > 0, "quantize: empty tensor (shape {shape:?})");
    ensure!(
        VALID_BLOCKSIZES.contains(&opts.blocksize),
        "quantize: invalid blocksize {} (use one of {VALID_BLOCKSIZES:?})",
        opts.blocksize
    );
    let bs = opts.blocksize;
    let nblocks = numel.div_ceil(bs);
    let mut packed = vec![0u8; numel.div_ceil(2)];
    let mut absmax = vec![0f32; nblocks];
    let threads = opts
        .threads
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .clamp(1, 256);
    // Chunks of whole blocks; a block's bytes never straddle chunks because blocksize is even.
    let min_blocks_per_task = (1 << 16) / bs; // ~64k values per task at least
    let blocks_per_task = nblocks.div_ceil(threads).max(min_blocks_per_task).max(1);
    let kern = BlockKernel::new(opts.quant_type, opts.kernel);
    if blocks_per_task >= nblocks {
        kern.run(values, bs, &mut packed, &mut absmax);
    } else {
        std::thread::scope(|s| {
            let vals = values.chunks(blocks_per_task * bs);
            let bytes = packed.chunks_mut(blocks_per_task * bs / 2);
            let ams = absmax.chunks_mut(blocks_per_task);
            for ((v, p), a) in vals.zip(bytes).zip(ams) {
                let kern = &kern;
                s.spawn(move || kern.run(v, bs, p, a));
            }
        });
    }
    let absmax = if opts.double_quant {
        Absmax::Double(double_quantize(&absmax))
    } else {
        Absmax::Plain(absmax)
    };
    Ok(Quantized4bit {
        quant_type: opts.quant_type,
        packed,
        absmax,
        shape: shape.to_vec(),
        blocksize: bs,
        numel,
        kernel: opts.kernel,
    })
}

/// `offset = mean(absmax)`, `quantize_blockwise(absmax - offset, blocksize=256)`.
fn double_quantize(absmax: &[f32]) -> DoubleQuant {
    let offset = torch_cpu_mean(absmax);
    let centred: Vec<f32> = absmax.iter().map(|&a| a - offset).collect();
    let (codes, absmax2) = quantize_blockwise_dynamic(&centred, DOUBLE_QUANT_BLOCKSIZE);
    DoubleQuant {
        codes,
        absmax2,
        offset,
        blocksize2: DOUBLE_QUANT_BLOCKSIZE,
        code: Box::new(dynamic_map()),
    }
}

impl Quantized4bit {
    /// Number of 4-bit blocks (= number of absmax values).
    pub fn n_blocks(&self) -> usize {
        self.numel.div_ceil(self.blocksize)
    }

    /// The real fp32 absmax of every block (double quantization undone exactly as
    /// bitsandbytes does: `code[q] * absmax2[q_block] + offset`).
    pub fn dequantize_absmax(&self) -> Cow<'_, [f32]> {
        match &self.absmax {
            Absmax::Plain(a) => Cow::Borrowed(a),
            Absmax::Double(d) => {
                let mut a =
                    dequantize_blockwise_dynamic(&d.codes, &d.absmax2, &d.code, d.blocksize2);
                for x in &mut a {
                    *x += d.offset;
                }
                Cow::Owned(a)
            }
        }
    }

    /// The 4-bit codes, one per value (unpacked nibbles).
    pub fn codes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.numel + 1);
        for &b in &self.packed {
            out.push(b >> 4);
            out.push(b & 0x0F);
        }
        out.truncate(self.numel);
        out
    }

    /// The code values bitsandbytes' `dequantize_4bit` multiplies by on CPU. Its native kernel
    /// (like the CUDA one) decodes FP4 by sign and magnitude, so code 8 gives `-0.0`; it falls
    /// back to the torch table (code 8 = `+0.0`) for an odd last dimension and, on AVX-512
    /// machines, for blocksize >= 2048 (we follow the AVX-512 rule). Only the sign of zero differs.
    pub fn dequant_table(&self) -> [f32; 16] {
        let mut code = codebook(self.quant_type);
        let last_even = self.shape.last().is_some_and(|d| d % 2 == 0);
        if self.quant_type == QuantType::Fp4 && last_even && self.blocksize < 2048 {
            code[8] = -0.0;
        }
        code
    }

    /// Dequantize to f32: `code[q] * absmax[block]` (bitsandbytes' fp32 result; for a bf16 or
    /// f16 compute dtype bitsandbytes rounds this to nearest-even, see [`f32_to_bf16_bits`]).
    pub fn dequantize(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.numel];
        self.dequantize_into(&mut out);
        out
    }

    /// Dequantize into `out` (`out.len() == numel`), no allocation besides the absmax.
    pub fn dequantize_into(&self, out: &mut [f32]) {
        assert_eq!(out.len(), self.numel, "dequantize_into: output length");
        let code = self.dequant_table();
        let absmax = self.dequantize_absmax();
        let bs = self.blocksize;
        for (b, (o, &am)) in out.chunks_mut(bs).zip(absmax.iter()).enumerate() {
            let bytes = &self.packed[b * bs / 2..];
            for (i, v) in o.iter_mut().enumerate() {
                let byte = bytes[i / 2];
                let q = if i % 2 == 0 { byte >> 4 } else { byte & 0x0F };
                *v = code[q as usize] * am;
            }
        }
    }
}

/// Free-function form of [`Quantized4bit::dequantize`].
pub fn dequantize(q: &Quantized4bit) -> Vec<f32> {
    q.dequantize()
}

/// f32 -> bf16 bits with round-to-nearest-even (torch's `.to(torch.bfloat16)`).
pub fn f32_to_bf16_bits(x: f32) -> u16 {
    if x.is_nan() {
        return 0x7FC0;
    }
    let u = x.to_bits();
    let bias = 0x7FFF + ((u >> 16) & 1);
    (u.wrapping_add(bias) >> 16) as u16
}

/// Check a quantized tensor's internal sizes (e.g. after loading it from disk).
pub fn validate(q: &Quantized4bit) -> Result<()> {
    let n: usize = q.shape.iter().product();
    ensure!(
        n == q.numel,
        "quantized tensor: shape {:?} != numel {}",
        q.shape,
        q.numel
    );
    ensure!(
        q.packed.len() == q.numel.div_ceil(2),
        "quantized tensor: {} packed bytes for {} values",
        q.packed.len(),
        q.numel
    );
    let nb = q.n_blocks();
    match &q.absmax {
        Absmax::Plain(a) => ensure!(
            a.len() == nb,
            "quantized tensor: {} absmax for {nb} blocks",
            a.len()
        ),
        Absmax::Double(d) => {
            ensure!(
                d.codes.len() == nb,
                "quantized tensor: {} absmax codes for {nb} blocks",
                d.codes.len()
            );
            if d.absmax2.len() != nb.div_ceil(d.blocksize2) {
                bail!(
                    "quantized tensor: {} second-level absmax for {nb} blocks",
                    d.absmax2.len()
                );
            }
        }
    }
    Ok(())
}
