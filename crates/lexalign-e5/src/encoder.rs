//! The XLM-R style encoder of multilingual-e5-small in tch, on weights dequantised from Q4_0 to
//! f32: embeddings (word + position + token type 0, positions counted from 0 because the image
//! stores XLM-R's table already shifted past its padding offset), layer norm, then post-LN BERT
//! blocks (self-attention, add & norm, GELU (erf) feed-forward, add & norm) with the file's eps.
//! The word table stays 4-bit in memory; only the rows a batch uses are dequantised.

use crate::format::{dequantize_q4_0, E5File, Header, Q4_BLOCK_BYTES, QK};
use anyhow::Result;
use tch::{Device, Kind, Tensor};

struct Layer {
    q: (Tensor, Tensor),
    k: (Tensor, Tensor),
    v: (Tensor, Tensor),
    ao: (Tensor, Tensor),
    aln: (Tensor, Tensor),
    fi: (Tensor, Tensor),
    fo: (Tensor, Tensor),
    oln: (Tensor, Tensor),
}

/// The encoder's weights on one device.
pub struct Encoder {
    pub header: Header,
    word_q4: Vec<u8>,
    pos: Tensor,
    type0: Tensor,
    eln: (Tensor, Tensor),
    layers: Vec<Layer>,
    /// Filler id of padded positions (masked out of attention and pooling).
    pad: i64,
    device: Device,
}

fn vec_t(v: Vec<f32>, shape: &[i64], device: Device) -> Tensor {
    Tensor::from_slice(&v).reshape(shape).to_device(device)
}

impl Encoder {
    /// Dequantises every block's weights from `file` onto `device`.
    pub fn new(file: &E5File, device: Device) -> Result<Self> {
        let h = file.header;
        let hd = h.hidden as i64;
        let f = |name: &str, n: usize| -> Result<Tensor> {
            Ok(vec_t(file.f32_tensor(name, n)?, &[n as i64], device))
        };
        let lin = |name: &str, rows: usize, cols: usize| -> Result<(Tensor, Tensor)> {
            let w = vec_t(
                file.q4_tensor(&format!("{name}.w"), rows, cols)?,
                &[rows as i64, cols as i64],
                device,
            );
            Ok((w, f(&format!("{name}.b"), rows)?))
        };
        let ln = |name: &str| -> Result<(Tensor, Tensor)> {
            Ok((
                f(&format!("{name}.w"), h.hidden)?,
                f(&format!("{name}.b"), h.hidden)?,
            ))
        };
        let mut layers = Vec::with_capacity(h.layers);
        for l in 0..h.layers {
            let p = |s: &str| format!("l{l}.{s}");
            layers.push(Layer {
                q: lin(&p("q"), h.hidden, h.hidden)?,
                k: lin(&p("k"), h.hidden, h.hidden)?,
                v: lin(&p("v"), h.hidden, h.hidden)?,
                ao: lin(&p("ao"), h.hidden, h.hidden)?,
                aln: ln(&p("aln"))?,
                fi: lin(&p("fi"), h.ffn, h.hidden)?,
                fo: lin(&p("fo"), h.hidden, h.ffn)?,
                oln: ln(&p("oln"))?,
            });
        }
        let pos = vec_t(
            file.f32_tensor("emb.pos", h.max_positions * h.hidden)?,
            &[h.max_positions as i64, hd],
            device,
        );
        let types = file.f32_tensor("emb.type", h.type_vocab * h.hidden)?;
        let type0 = vec_t(types[..h.hidden].to_vec(), &[hd], device);
        let word_q4 = file.q4_blocks("emb.word", h.vocab_rows, h.hidden)?.to_vec();
        let pad = file.vocab.pad as i64;
        Ok(Self {
            header: h,
            word_q4,
            pos,
            type0,
            eln: ln("emb.ln")?,
            layers,
            pad,
            device,
        })
    }

    /// The dequantised word vectors of `ids` ([len, hidden]); an id past the table is an error.
    fn word_rows(&self, ids: &[i64]) -> Result<Tensor> {
        let hd = self.header.hidden;
        let row_bytes = hd / QK * Q4_BLOCK_BYTES;
        let mut out = vec![0f32; ids.len() * hd];
        for (&id, o) in ids.iter().zip(out.chunks_exact_mut(hd)) {
            if id < 0 || id as usize >= self.header.vocab_rows {
                anyhow::bail!(
                    "token id {id} is outside the model's {} word vectors",
                    self.header.vocab_rows
                );
            }
            let s = id as usize * row_bytes;
            dequantize_q4_0(&self.word_q4[s..s + row_bytes], o)?;
        }
        Ok(vec_t(out, &[ids.len() as i64, hd as i64], self.device))
    }

    /// Last hidden states [batch, len, hidden] of right-padded `ids` (each at most
    /// `max_positions` long, at least one token); `mask` is 1 on real tokens.
    pub fn forward(&self, ids: &[Vec<i64>]) -> Result<(Tensor, Tensor)> {
        let (b, t) = (
            ids.len() as i64,
            ids.iter().map(Vec::len).max().unwrap_or(0) as i64,
        );
        let hd = self.header.hidden as i64;
        let mut flat = Vec::with_capacity((b * t) as usize);
        let mut mask = Vec::with_capacity((b * t) as usize);
        for row in ids {
            flat.extend(
                row.iter()
                    .copied()
                    .chain(std::iter::repeat_n(self.pad, t as usize - row.len())),
            );
            mask.extend((0..t as usize).map(|i| if i < row.len() { 1f32 } else { 0f32 }));
        }
        let mask = Tensor::from_slice(&mask)
            .reshape([b, t])
            .to_device(self.device);
        let eps = self.header.eps as f64;
        let x = self.word_rows(&flat)?.reshape([b, t, hd]) + self.pos.narrow(0, 0, t) + &self.type0;
        let mut x = x.layer_norm([hd], Some(&self.eln.0), Some(&self.eln.1), eps, false);
        // Additive key mask: padded keys get -inf-like weight (never a whole row: <s> is real).
        let bias = ((mask.ones_like() - &mask) * -1e30f64).reshape([b, 1, 1, t]);
        for l in &self.layers {
            x = self.block(l, &x, &bias, eps);
        }
        Ok((x, mask))
    }

    fn block(&self, l: &Layer, x: &Tensor, bias: &Tensor, eps: f64) -> Tensor {
        let (b, t, hd) = x.size3().expect("[b, t, h]");
        let nh = self.header.heads as i64;
        let heads = |y: Tensor| y.reshape([b, t, nh, hd / nh]).transpose(1, 2);
        let q = heads(x.linear(&l.q.0, Some(&l.q.1)));
        let k = heads(x.linear(&l.k.0, Some(&l.k.1)));
        let v = heads(x.linear(&l.v.0, Some(&l.v.1)));
        let scale = 1.0 / ((hd / nh) as f64).sqrt();
        let att = (q.matmul(&k.transpose(-2, -1)) * scale + bias).softmax(-1, Kind::Float);
        let ctx = att.matmul(&v).transpose(1, 2).reshape([b, t, hd]);
        let ao = ctx.linear(&l.ao.0, Some(&l.ao.1));
        let x = (x + ao).layer_norm([hd], Some(&l.aln.0), Some(&l.aln.1), eps, false);
        let mid = x.linear(&l.fi.0, Some(&l.fi.1)).gelu("none");
        let fo = mid.linear(&l.fo.0, Some(&l.fo.1));
        (&x + fo).layer_norm([hd], Some(&l.oln.0), Some(&l.oln.1), eps, false)
    }
}
