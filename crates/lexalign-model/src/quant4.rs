//! 4-bit (NF4/FP4) weights held on the device in bitsandbytes' layout and dequantised with
//! tensor ops when a layer runs (QLoRA style): no full-precision copy of the weights is kept.

use tch::{Device, Kind, Tensor};

/// Per-block scales: plain f32, or bitsandbytes' double quantisation (8-bit codes of the
/// absmax values in blocks of 256, a dynamic code map, and the mean offset).
#[derive(Debug)]
pub enum Absmax {
    Plain(Tensor),
    Double {
        codes: Tensor,
        code_map: Tensor,
        nested_absmax: Tensor,
        offset: f32,
        nested_blocksize: i64,
    },
}

#[derive(Debug)]
pub struct Quant4Weight {
    /// Two codes per byte, first value in the high nibble (bitsandbytes' order).
    pub packed: Tensor,
    pub absmax: Absmax,
    /// The 16 code-book values (NF4 or FP4), f32.
    pub codebook: Tensor,
    /// NF4 or FP4, kept so a merge can re-quantise with the same settings.
    pub quant_type: lexalign_quant::QuantType,
    /// bitsandbytes' CPU or CUDA rounding, kept so a merge re-quantises the same way.
    pub kernel: lexalign_quant::Kernel,
    pub shape: Vec<i64>,
    pub blocksize: i64,
    pub numel: i64,
}

impl Quant4Weight {
    /// Uploads a host-side quantised tensor.
    pub fn from_host(q: &lexalign_quant::Quantized4bit, device: Device) -> Self {
        let packed = Tensor::from_slice(&q.packed).to_device(device);
        // `dequant_table` keeps bitsandbytes' sign of FP4's zero code.
        let codebook = Tensor::from_slice(&q.dequant_table()).to_device(device);
        let absmax = match &q.absmax {
            lexalign_quant::Absmax::Plain(a) => {
                Absmax::Plain(Tensor::from_slice(a).to_device(device))
            }
            lexalign_quant::Absmax::Double(d) => Absmax::Double {
                codes: Tensor::from_slice(&d.codes).to_device(device),
                code_map: Tensor::from_slice(&d.code[..]).to_device(device),
                nested_absmax: Tensor::from_slice(&d.absmax2).to_device(device),
                offset: d.offset,
                nested_blocksize: d.blocksize2 as i64,
            },
        };
        let shape = q.shape.iter().map(|&d| d as i64).collect();
        Self {
            packed,
            absmax,
            codebook,
            quant_type: q.quant_type,
            kernel: q.kernel,
            shape,
            blocksize: q.blocksize as i64,
            numel: q.numel as i64,
        }
    }

    /// Quantises `w` on the host with bitsandbytes' algorithm (`kernel`: its CPU or CUDA
    /// rounding) and uploads the codes.
    pub fn quantize(
        w: &Tensor,
        quant_type: lexalign_quant::QuantType,
        blocksize: usize,
        double_quant: bool,
        kernel: lexalign_quant::Kernel,
        device: Device,
    ) -> anyhow::Result<Self> {
        let shape: Vec<usize> = w.size().iter().map(|&d| d as usize).collect();
        let values = Vec::<f32>::try_from(
            w.to_device(Device::Cpu)
                .to_kind(Kind::Float)
                .contiguous()
                .view([-1]),
        )
        .map_err(|e| anyhow::anyhow!("copying a weight to the host: {e}"))?;
        let opts = lexalign_quant::QuantOptions {
            blocksize,
            double_quant,
            kernel,
            ..lexalign_quant::QuantOptions::new(quant_type)
        };
        let host = lexalign_quant::quantize_with(&values, &shape, &opts)?;
        Ok(Self::from_host(&host, device))
    }

    pub fn is_double_quant(&self) -> bool {
        matches!(self.absmax, Absmax::Double { .. })
    }

    fn absmax_f32(&self) -> Tensor {
        match &self.absmax {
            Absmax::Plain(a) => a.shallow_clone(),
            Absmax::Double {
                codes,
                code_map,
                nested_absmax,
                offset,
                nested_blocksize,
            } => {
                let n = codes.size()[0];
                let vals = code_map.index_select(0, &codes.to_kind(Kind::Int64));
                let blocks = (n + nested_blocksize - 1) / nested_blocksize;
                let padded = vals.constant_pad_nd([0, blocks * nested_blocksize - n]);
                let scaled = padded.view([blocks, *nested_blocksize]) * nested_absmax.unsqueeze(1);
                scaled.view([-1]).narrow(0, 0, n) + (*offset as f64)
            }
        }
    }

    /// The weight in `kind`, computed in f32 as bitsandbytes' dequantisation does.
    pub fn dequantize(&self, kind: Kind) -> Tensor {
        let p = self.packed.to_kind(Kind::Int64);
        let hi = p.bitwise_right_shift_tensor_scalar(4);
        let lo = p.bitwise_and(15);
        let idx = Tensor::stack(&[hi, lo], 1).view([-1]);
        let vals = self.codebook.index_select(0, &idx);
        let absmax = self.absmax_f32();
        let blocks = absmax.size()[0];
        let total = blocks * self.blocksize;
        let len = vals.size()[0];
        let vals = if len < total {
            vals.constant_pad_nd([0, total - len])
        } else {
            vals.narrow(0, 0, total)
        };
        let w = (vals.view([blocks, self.blocksize]) * absmax.unsqueeze(1))
            .view([-1])
            .narrow(0, 0, self.numel);
        w.view(self.shape.as_slice()).to_kind(kind)
    }

    pub fn resident_bytes(&self) -> u64 {
        let t = |x: &Tensor| (x.numel() * x.kind().elt_size_in_bytes()) as u64;
        t(&self.packed)
            + t(&self.codebook)
            + match &self.absmax {
                Absmax::Plain(a) => t(a),
                Absmax::Double {
                    codes,
                    code_map,
                    nested_absmax,
                    ..
                } => t(codes) + t(code_map) + t(nested_absmax) + 4,
            }
    }
}
