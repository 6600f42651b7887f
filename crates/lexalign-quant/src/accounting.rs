//! Memory accounting of quantized weights, for memory reports.

use crate::quant4::{Absmax, Quantized4bit};

/// Bytes of a quantized tensor, by part.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct QuantBytes {
    /// Packed 4-bit codes.
    pub packed: usize,
    /// Per-block scales: 4 B each, or 1 B each when double-quantized.
    pub absmax: usize,
    /// Double-quantization state: fp32 second-level absmax + fp32 offset.
    pub double_quant_state: usize,
    /// Code books bitsandbytes keeps per tensor (16 f32, plus 256 f32 when double-quantized);
    /// not counted in [`QuantBytes::total`], shared in practice.
    pub code_books: usize,
}

impl QuantBytes {
    /// packed + absmax + double-quant state (what the weights occupy).
    pub fn total(&self) -> usize {
        self.packed + self.absmax + self.double_quant_state
    }
}

/// Predicted bytes of a `numel`-value tensor quantized with `blocksize` (no quantizing needed).
pub fn quantized_bytes(numel: usize, blocksize: usize, double_quant: bool) -> QuantBytes {
    let nb = numel.div_ceil(blocksize);
    if double_quant {
        let nb2 = nb.div_ceil(crate::blockwise8::DOUBLE_QUANT_BLOCKSIZE);
        QuantBytes {
            packed: numel.div_ceil(2),
            absmax: nb,
            double_quant_state: 4 * nb2 + 4,
            code_books: 4 * (16 + 256),
        }
    } else {
        QuantBytes {
            packed: numel.div_ceil(2),
            absmax: 4 * nb,
            double_quant_state: 0,
            code_books: 4 * 16,
        }
    }
}

/// Bytes of a dense tensor (`bytes_per_value`: 4 for f32, 2 for bf16/f16).
pub fn dense_bytes(numel: usize, bytes_per_value: usize) -> usize {
    numel * bytes_per_value
}

impl Quantized4bit {
    /// Actual bytes held by this tensor, by part.
    pub fn bytes(&self) -> QuantBytes {
        match &self.absmax {
            Absmax::Plain(a) => QuantBytes {
                packed: self.packed.len(),
                absmax: 4 * a.len(),
                double_quant_state: 0,
                code_books: 64,
            },
            Absmax::Double(d) => QuantBytes {
                packed: self.packed.len(),
                absmax: d.codes.len(),
                double_quant_state: 4 * d.absmax2.len() + 4,
                code_books: 64 + 4 * d.code.len(),
            },
        }
    }

    /// packed + absmax (+ double-quant state), in bytes.
    pub fn nbytes(&self) -> usize {
        self.bytes().total()
    }
}
