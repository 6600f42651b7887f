//! The logit lens (Wendler et al. 2024): every hidden state at a prompt's last position read
//! through the final norm and the output head, as if the network stopped there. Per hidden state:
//! the rank of a gold token (1 = the most probable) and the probability mass on tokens of each
//! script (Hangul, Latin), which shows where in the network a translation appears. The last
//! hidden state is already normed (HF numbering), so it gets the head alone: its row is the
//! model's real next-token distribution.

use crate::decoder::Decoder;
use crate::tokenize::WordTokenizer;
use anyhow::{bail, Result};
use tch::{Device, Kind, Tensor};

/// The script a token's text is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    Hangul,
    Latin,
    Other,
}

/// Hangul when any character is Hangul (syllables, jamo, compatibility jamo); else Latin when any
/// character is a Latin letter; else other (digits, punctuation, other scripts, partial bytes).
pub fn script_of(text: &str) -> Script {
    let hangul = |c: char| matches!(c as u32, 0xAC00..=0xD7A3 | 0x1100..=0x11FF | 0x3130..=0x318F);
    let latin =
        |c: char| c.is_ascii_alphabetic() || matches!(c as u32, 0xC0..=0x24F if c.is_alphabetic());
    if text.chars().any(hangul) {
        Script::Hangul
    } else if text.chars().any(latin) {
        Script::Latin
    } else {
        Script::Other
    }
}

/// 0/1 masks `[vocab]` of the Hangul and the Latin tokens (each id decoded on its own).
pub struct ScriptMasks {
    hangul: Tensor,
    latin: Tensor,
}

impl ScriptMasks {
    pub fn of(tok: &WordTokenizer, vocab: usize, device: Device) -> Result<Self> {
        let (mut h, mut l) = (vec![0f32; vocab], vec![0f32; vocab]);
        for id in 0..vocab {
            let text = tok.inner.decode(&[id as u32], false).unwrap_or_default();
            match script_of(&text) {
                Script::Hangul => h[id] = 1.0,
                Script::Latin => l[id] = 1.0,
                Script::Other => {}
            }
        }
        Ok(Self {
            hangul: Tensor::from_slice(&h).to_device(device),
            latin: Tensor::from_slice(&l).to_device(device),
        })
    }
}

/// One hidden state's reading at the prompt's last position.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LensPoint {
    /// 1 + the number of tokens more probable than the gold token.
    pub rank: usize,
    pub p_hangul: f64,
    pub p_latin: f64,
}

impl Decoder {
    /// The lens at every hidden state (0 = embeddings .. num_hidden_layers) for `gold`.
    pub fn logit_lens(
        &self,
        prompt: &[i64],
        gold: i64,
        masks: &ScriptMasks,
    ) -> Result<Vec<LensPoint>> {
        self.check_context(prompt.len(), 0)?;
        let _guard = tch::no_grad_guard();
        let n_layers = self.cfg.num_hidden_layers;
        let ids = Tensor::from_slice(prompt)
            .view([1, -1])
            .to_device(self.device);
        let att = Tensor::ones([1, prompt.len() as i64], (Kind::Int64, self.device));
        let last = prompt.len() as i64 - 1;
        let mut rows = Vec::with_capacity(n_layers + 1);
        self.forward_hidden(&ids, &att, n_layers, false, &mut |i, h| {
            let x = h.get(0).get(last);
            rows.push(if i == n_layers {
                x
            } else {
                self.norm.forward(&x)
            });
        });
        let stacked = Tensor::stack(&rows, 0);
        let logits = self.logits(&stacked)?;
        // Ranks from the logits: probabilities of an early hidden state underflow to ties at 0.
        let gold_logit = logits.select(1, gold).unsqueeze(1);
        let ranks = Vec::<i64>::try_from(logits.gt_tensor(&gold_logit).sum_dim_intlist(
            1,
            false,
            Kind::Int64,
        ))?;
        let probs = logits.softmax(-1, Kind::Float);
        let ph = Vec::<f64>::try_from(probs.matmul(&masks.hangul).to_kind(Kind::Double))?;
        let pl = Vec::<f64>::try_from(probs.matmul(&masks.latin).to_kind(Kind::Double))?;
        if ph.iter().chain(&pl).any(|p| !p.is_finite()) {
            bail!("the logit lens gave a non-finite probability");
        }
        Ok((0..rows.len())
            .map(|i| LensPoint {
                rank: ranks[i] as usize + 1,
                p_hangul: ph[i],
                p_latin: pl[i],
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts() {
        assert_eq!(script_of("▁사랑"), Script::Hangul);
        assert_eq!(script_of("ㅎ"), Script::Hangul);
        assert_eq!(script_of(" love"), Script::Latin);
        assert_eq!(script_of("café"), Script::Latin);
        assert_eq!(script_of("12,"), Script::Other);
        assert_eq!(script_of("日本"), Script::Other);
        assert_eq!(script_of("\u{FFFD}"), Script::Other);
    }
}
