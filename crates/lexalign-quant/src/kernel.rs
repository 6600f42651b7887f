//! The per-block rounding kernels: which bitsandbytes implementation's rounding to reproduce
//! (its CPU path or its CUDA kernel) and the code selection itself. Packing, double
//! quantization and dequantization are shared and live in `quant4`.

use crate::codebook::{
    sort_order, torch_bounds, QuantType, CUDA_FP4_MAGNITUDE_BITS, CUDA_FP4_THRESHOLDS,
    CUDA_NF4_THRESHOLDS,
};

/// Which bitsandbytes implementation's rounding to reproduce.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Kernel {
    /// bitsandbytes' pure-torch `default` backend kernel, which is what `quantize_4bit` runs on
    /// CPU (0.50.x): `x * (1/absmax)` (tail block: `x / absmax`), clamp to [-1, 1], bucketize
    /// against f32 midpoints (a value exactly at a midpoint takes the lower code), absmax
    /// floored at 1e-38 for scaling (and stored floored for the tail block). Verified bit for
    /// bit against bitsandbytes by the committed fixtures.
    #[default]
    BnbTorch,
    /// bitsandbytes' CUDA kernel (`kQuantizeBlockwise` with `dQuantizeNF4`/`dQuantizeFP4`,
    /// transcribed from csrc/kernels.cu): `x * (1.0f/absmax)` for every block, no clamp, the
    /// kernel's hard-coded thresholds (FP4 by sign and magnitude), all-zero blocks give NaN
    /// scaled values and thus code 0. Not verified on a GPU here (no device was available).
    /// Double quantization uses the CPU algorithm in both cases (the CUDA mean and 8-bit
    /// search differ only in the last bits of the offset).
    BnbCuda,
}

impl Kernel {
    /// The kernel bitsandbytes itself runs on a device: its CUDA kernel on a CUDA device, the
    /// pure-torch default backend everywhere else.
    pub fn for_device(cuda: bool) -> Self {
        if cuda {
            Kernel::BnbCuda
        } else {
            Kernel::BnbTorch
        }
    }

    /// Short name for logs and provenance (`cpu` | `cuda`, the `--bnb-kernel` values).
    pub fn as_str(self) -> &'static str {
        match self {
            Kernel::BnbTorch => "cpu",
            Kernel::BnbCuda => "cuda",
        }
    }
}

/// `--bnb-kernel auto|cpu|cuda`: `auto` follows the device the weights are quantized for; an
/// explicit kernel lets a CPU run reproduce a CUDA run's bytes (or the reverse).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KernelChoice {
    #[default]
    Auto,
    Fixed(Kernel),
}

impl KernelChoice {
    /// Parse `auto` / `cpu` / `cuda` (case-insensitive).
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(KernelChoice::Auto),
            "cpu" => Ok(KernelChoice::Fixed(Kernel::BnbTorch)),
            "cuda" => Ok(KernelChoice::Fixed(Kernel::BnbCuda)),
            other => anyhow::bail!("unknown bitsandbytes kernel {other:?}: use auto, cpu or cuda"),
        }
    }

    /// The kernel for weights quantized for a CUDA (`cuda = true`) or other device.
    pub fn resolve(self, cuda: bool) -> Kernel {
        match self {
            KernelChoice::Auto => Kernel::for_device(cuda),
            KernelChoice::Fixed(k) => k,
        }
    }
}

/// Per-thread quantizer: code selection tables for one (type, kernel).
pub(crate) struct BlockKernel {
    kernel: Kernel,
    quant_type: QuantType,
    bounds: [f32; 15],
    order: [u8; 16],
}

impl BlockKernel {
    pub(crate) fn new(quant_type: QuantType, kernel: Kernel) -> Self {
        let (bounds, order) = match kernel {
            Kernel::BnbTorch => (torch_bounds(quant_type), sort_order(quant_type)),
            Kernel::BnbCuda => (CUDA_NF4_THRESHOLDS, [0u8; 16]),
        };
        Self {
            kernel,
            quant_type,
            bounds,
            order,
        }
    }

    /// Quantize whole blocks of `values` (the last one may be a tail) into `packed`/`absmax`.
    pub(crate) fn run(&self, values: &[f32], bs: usize, packed: &mut [u8], absmax: &mut [f32]) {
        let mut scaled = [0f32; 4096 + 1];
        let mut codes = [0u8; 4096 + 2];
        let n_total = values.len();
        for (b, blk) in values.chunks(bs).enumerate() {
            let tail = blk.len() < bs;
            let len = blk.len();
            let mut am = 0f32;
            for &x in blk {
                am = am.max(x.abs());
            }
            let pad = match self.kernel {
                Kernel::BnbTorch => {
                    let floored = am.max(1e-38);
                    if tail {
                        absmax[b] = floored;
                        for (s, &x) in scaled[..len].iter_mut().zip(blk) {
                            *s = (x / floored).clamp(-1.0, 1.0);
                        }
                    } else {
                        absmax[b] = am;
                        let r = 1.0 / floored;
                        for (s, &x) in scaled[..len].iter_mut().zip(blk) {
                            *s = (x * r).clamp(-1.0, 1.0);
                        }
                    }
                    0.0
                }
                Kernel::BnbCuda => {
                    absmax[b] = am;
                    let r = 1.0 / am;
                    for (s, &x) in scaled[..len].iter_mut().zip(blk) {
                        *s = x * r;
                    }
                    0.0 * r
                }
            };
            // Odd total length: the last value is paired with a padding value.
            let mut m = len;
            if len % 2 == 1 {
                debug_assert!(b * bs + len == n_total);
                scaled[len] = pad;
                m += 1;
            }
            self.codes(&scaled[..m], &mut codes[..m]);
            let out = &mut packed[b * bs / 2..b * bs / 2 + m / 2];
            for (o, pair) in out.iter_mut().zip(codes[..m].chunks_exact(2)) {
                *o = (pair[0] << 4) | pair[1];
            }
        }
    }

    #[inline]
    fn codes(&self, scaled: &[f32], codes: &mut [u8]) {
        match (self.kernel, self.quant_type) {
            (Kernel::BnbTorch, _) => {
                // bucketize(right=False): #{bounds < x}; then sorted position -> code.
                for (c, &x) in codes.iter_mut().zip(scaled) {
                    let mut pos = 0u8;
                    for &t in &self.bounds {
                        pos += (x > t) as u8;
                    }
                    *c = pos;
                }
                if self.quant_type == QuantType::Fp4 {
                    for c in codes.iter_mut() {
                        *c = self.order[*c as usize];
                    }
                }
            }
            (Kernel::BnbCuda, QuantType::Nf4) => {
                for (c, &x) in codes.iter_mut().zip(scaled) {
                    let mut pos = 0u8;
                    for &t in &self.bounds {
                        pos += (x > t) as u8;
                    }
                    *c = pos; // NaN compares false everywhere: code 0, as the CUDA tree
                }
            }
            (Kernel::BnbCuda, QuantType::Fp4) => {
                for (c, &x) in codes.iter_mut().zip(scaled) {
                    let sign = if x < 0.0 { 0b1000u8 } else { 0 };
                    let a = x.abs();
                    let mut pos = 0usize;
                    for &t in &CUDA_FP4_THRESHOLDS {
                        pos += (a > t) as usize;
                    }
                    *c = CUDA_FP4_MAGNITUDE_BITS[pos] + sign;
                }
            }
        }
    }
}
