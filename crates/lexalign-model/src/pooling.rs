//! Pooling a hidden-state tensor into one vector per word, then L2 normalisation.

use anyhow::{bail, Result};
use std::str::FromStr;
use tch::{Kind, Tensor};

/// How token vectors become a word vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pooling {
    /// Mean over the attention mask, BOS included (the authors' pilot and training scripts).
    Mean,
    /// Mean over real tokens with BOS/EOS/PAD excluded (the authors' evaluation script).
    MeanContent,
    /// The first real token (BOS when the tokenizer adds one).
    First,
    /// The last real token.
    Last,
}

impl Pooling {
    pub fn name(self) -> &'static str {
        match self {
            Pooling::Mean => "mean",
            Pooling::MeanContent => "mean-content",
            Pooling::First => "first",
            Pooling::Last => "last",
        }
    }
}

impl FromStr for Pooling {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "mean" => Pooling::Mean,
            "mean-content" | "mean_content" => Pooling::MeanContent,
            "first" => Pooling::First,
            "last" => Pooling::Last,
            other => bail!("unknown pooling `{other}`: use mean, mean-content, first or last"),
        })
    }
}

impl std::fmt::Display for Pooling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Per-batch masks, `[batch, seq]` f32 on the model's device.
#[derive(Debug)]
pub struct PoolMasks {
    /// 1 for real tokens (attention mask).
    pub attention: Tensor,
    /// 1 for real tokens that are not BOS/EOS/PAD.
    pub content: Tensor,
    /// Index of the last real token per row, `[batch]` i64.
    pub last_index: Tensor,
}

/// Pools `hidden` (`[batch, seq, dim]`, any float dtype) in f32 and L2-normalises each row
/// (as `torch.nn.functional.normalize`, eps 1e-12). Returns `[batch, dim]` f32.
pub fn pool(hidden: &Tensor, masks: &PoolMasks, pooling: Pooling) -> Tensor {
    let h = hidden.to_kind(Kind::Float);
    let v = match pooling {
        Pooling::Mean | Pooling::MeanContent => {
            let m = if pooling == Pooling::Mean {
                &masks.attention
            } else {
                &masks.content
            };
            let m = m.unsqueeze(-1);
            let sum = (&h * &m).sum_dim_intlist(1, false, Kind::Float);
            let count = m.sum_dim_intlist(1, false, Kind::Float).clamp_min(1e-9);
            sum / count
        }
        Pooling::First => h.select(1, 0),
        Pooling::Last => {
            let dim = h.size()[2];
            let idx = masks
                .last_index
                .view([-1, 1, 1])
                .expand([-1, 1, dim], false);
            h.gather(1, &idx, false).squeeze_dim(1)
        }
    };
    l2_normalize(&v)
}

pub fn l2_normalize(v: &Tensor) -> Tensor {
    let norm = v.norm_scalaropt_dim(2, [-1], true).clamp_min(1e-12);
    v / norm
}
