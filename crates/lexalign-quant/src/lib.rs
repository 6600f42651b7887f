//! bitsandbytes-compatible 4-bit weight quantization (NF4 / FP4, optional double quantization).
//!
//! Reproduces `bitsandbytes.functional.quantize_4bit` / `dequantize_4bit` bit for bit
//! (blocks of 64 values with an fp32 absmax, bitsandbytes' code books and nibble order,
//! its rounding at code-book midpoints, tail blocks, and the 8-bit double quantization of the
//! absmax). The fixtures in `tests/fixtures/` come from bitsandbytes 0.50.2 on CPU.
//!
//! Input dtypes: bitsandbytes upcasts bf16/f16 weights with `.float()` and does all the
//! arithmetic in f32, so quantizing the exactly-upcast f32 values here gives the same bytes for
//! bf16, f16 and f32 tensors (fixtures cover f32 and bf16). `dequantize_4bit` returns the f32
//! product rounded to the tensor's dtype (round-to-nearest-even, [`f32_to_bf16_bits`]).
//! Rounding is bitsandbytes' CPU path ([`Kernel::BnbTorch`]); [`Kernel::BnbCuda`] follows the
//! CUDA kernel (same NF4 thresholds; differs at tail blocks, all-zero blocks and FP4 midpoints).
//!
//! A tensor backend can dequantize on its own device with [`codebook`], [`HIGH_NIBBLE_FIRST`]
//! and [`Quantized4bit::dequantize_absmax`]: `value[i] = codebook[nibble(i)] * absmax[i / blocksize]`.

#![allow(clippy::excessive_precision)]

mod accounting;
mod blockwise8;
mod codebook;
mod kernel;
mod quant4;

pub use accounting::{dense_bytes, quantized_bytes, QuantBytes};
pub use blockwise8::{
    dequantize_blockwise_dynamic, quantize_blockwise_dynamic, torch_cpu_mean, torch_cpu_sum,
    DOUBLE_QUANT_BLOCKSIZE,
};
pub use codebook::{codebook, dynamic_map, QuantType, FP4_CODE, NF4_CODE};
pub use kernel::{Kernel, KernelChoice};
pub use quant4::{
    dequantize, f32_to_bf16_bits, quantize, quantize_with, validate, Absmax, DoubleQuant,
    QuantOptions, Quantized4bit, DEFAULT_BLOCKSIZE, HIGH_NIBBLE_FIRST, VALID_BLOCKSIZES,
};
