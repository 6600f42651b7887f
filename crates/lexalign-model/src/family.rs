//! The decoder families lexalign reproduces, and the per-family switches of the one block loop
//! (which norms a block has, biases, q/k norms, the norm form, embedding scale).

use anyhow::{bail, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    Llama,
    Mistral,
    Qwen2,
    Qwen3,
    /// Gemma 3 text decoder (`Gemma3ForCausalLM`, `gemma3_text`).
    Gemma3,
}

/// Attention of one block: causal over the whole word, or causal within a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LayerType {
    Full,
    Sliding(usize),
}

const KNOWN: &[(&str, &str, Family)] = &[
    ("llama", "LlamaForCausalLM", Family::Llama),
    ("mistral", "MistralForCausalLM", Family::Mistral),
    ("qwen2", "Qwen2ForCausalLM", Family::Qwen2),
    ("qwen3", "Qwen3ForCausalLM", Family::Qwen3),
    ("gemma3_text", "Gemma3ForCausalLM", Family::Gemma3),
];

impl Family {
    /// From `model_type`, else from `architectures`; anything else is refused by name.
    pub fn detect(model_type: Option<&str>, architectures: &[String]) -> Result<Family> {
        let known_arch = |arch: &str| {
            let base = arch
                .trim_end_matches("Model")
                .trim_end_matches("ForCausalLM");
            KNOWN
                .iter()
                .any(|(_, a, _)| *a == arch || a.trim_end_matches("ForCausalLM") == base)
        };
        if let Some(arch) = architectures.iter().find(|a| !known_arch(a)) {
            bail!("unsupported architecture `{arch}` in field `architectures`: lexalign implements {}", Self::supported());
        }
        if let Some(mt) = model_type {
            if let Some((_, _, f)) = KNOWN.iter().find(|(m, _, _)| *m == mt) {
                return Ok(*f);
            }
            let hint = if mt == "gemma3" {
                " (this is the multimodal Gemma 3 checkpoint; give the text-only `gemma3_text` model)"
            } else {
                ""
            };
            bail!(
                "unsupported `model_type` `{mt}`{hint}: lexalign implements {}",
                Self::supported()
            );
        }
        // transformers builds the model from the first listed architecture; so does lexalign.
        if let Some(arch) = architectures.first() {
            let base = arch
                .trim_end_matches("Model")
                .trim_end_matches("ForCausalLM");
            if let Some((_, _, f)) = KNOWN
                .iter()
                .find(|(_, a, _)| *a == arch.as_str() || a.trim_end_matches("ForCausalLM") == base)
            {
                return Ok(*f);
            }
            bail!("unsupported architecture `{arch}` in field `architectures`: lexalign implements {}", Self::supported());
        }
        Ok(Family::Llama)
    }

    fn supported() -> String {
        KNOWN
            .iter()
            .map(|(m, a, _)| format!("{a} (`{m}`)"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn name(self) -> &'static str {
        KNOWN
            .iter()
            .find(|(_, _, f)| *f == self)
            .map(|(m, _, _)| *m)
            .unwrap_or("llama")
    }

    pub fn default_activation(self) -> &'static str {
        match self {
            Family::Gemma3 => "gelu_pytorch_tanh",
            _ => "silu",
        }
    }

    pub fn default_rope_theta(self) -> f64 {
        match self {
            Family::Gemma3 => 1_000_000.0,
            _ => 10_000.0,
        }
    }

    /// Gemma's RMSNorm scales by `1 + weight` in f32; the others by `weight` after the cast.
    pub fn norm_form(self) -> NormForm {
        match self {
            Family::Gemma3 => NormForm::OnePlusWeight,
            _ => NormForm::Weight,
        }
    }

    /// Per-head RMSNorm of queries and keys before RoPE.
    pub fn has_qk_norm(self) -> bool {
        matches!(self, Family::Qwen3 | Family::Gemma3)
    }

    /// Gemma's "sandwich" norms: after attention, and before and after the MLP.
    pub fn has_sandwich_norms(self) -> bool {
        self == Family::Gemma3
    }

    /// Embeddings multiplied by `sqrt(hidden_size)` (in the weights' dtype), as Gemma does.
    pub fn scales_embeddings(self) -> bool {
        self == Family::Gemma3
    }

    /// The family's pooling rule for the attention sink (docs/POOLING.md): Qwen2's tokenizer adds
    /// no BOS, so a word's first token would take the sink's massive activation and dominate its
    /// mean; each word is encoded after its BOS id (`<|endoftext|>`) as a fixed prefix instead,
    /// which takes the sink and which `mean-content` leaves out. Llama, Mistral and Gemma 3 add
    /// BOS themselves; SmolLM2 and Qwen3 keep the tokenizer's ids (no measurement behind a change).
    pub fn sink_prefix(self) -> bool {
        self == Family::Qwen2
    }

    /// Qwen2 always has q/k/v biases (and none on o_proj), whatever `attention_bias` says.
    pub fn qkv_bias_always(self) -> bool {
        self == Family::Qwen2
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NormForm {
    Weight,
    OnePlusWeight,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_model_type_then_architecture() {
        assert_eq!(Family::detect(Some("qwen3"), &[]).unwrap(), Family::Qwen3);
        assert_eq!(
            Family::detect(None, &["Gemma3ForCausalLM".into()]).unwrap(),
            Family::Gemma3
        );
        assert_eq!(
            Family::detect(None, &["LlamaModel".into()]).unwrap(),
            Family::Llama
        );
        let err = Family::detect(Some("llama"), &["FalconForCausalLM".into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("FalconForCausalLM"), "{err}");
        let err = Family::detect(Some("gemma3"), &[]).unwrap_err().to_string();
        assert!(err.contains("gemma3_text"), "{err}");
        let err = Family::detect(None, &["GPT2LMHeadModel".into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("GPT2LMHeadModel"), "{err}");
    }
}
