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
//! Rounding: bitsandbytes' CPU path ([`Kernel::BnbTorch`], verified bit for bit) or its CUDA
//! kernel ([`Kernel::BnbCuda`], `kQuantizeBlockwise` + `dQuantizeNF4`/`dQuantizeFP4`, tested on
//! the CPU against the kernel's formula in `tests/cuda_formula.rs`; `tests/bnb_cuda_fixtures.rs`
//! compares it with bitsandbytes on a GPU). [`KernelChoice`] picks one by device (`--bnb-kernel
//! auto|cpu|cuda`). Where they differ: the CUDA kernel scales tail blocks by `x * (1/absmax)`
//! (CPU: `x / absmax`), does not floor absmax (an all-zero block gives NaN, code 0), and uses
//! decimal threshold literals (FP4's `0.583333f` for 7/12, `0.8333333f` for 5/6, ...), while the
//! CPU path bucketizes against f32 midpoints and sends small negative FP4 values to code 0 (+0)
//! where CUDA gives code 8 (-0): the same value. Measured on the embedded models' decoder
//! weights (`cargo run -p lexalign-model --example bnb_kernel_diff -- NAME`): NF4 differs in 1
//! of 106,168,320 codes (SmolLM2 f32; 0 in bf16) and 0 of 100,270,080 (Gemma 3 270M f32); FP4
//! differs in 0.57 % of codes (SmolLM2 f32; 0.62 % bf16) and 0.16 % (Gemma f32), of which about
//! 90-98 % are only the sign of zero.
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
