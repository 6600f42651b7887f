//! The GGUF architectures lexalign reads, and how transformers' GGUF loader maps each one to HF:
//! tensor names (gguf-py's tensor map), the tensor processors (llama's q/k row un-permute,
//! Gemma's `norm - 1`) and the HF `model_type`.

use anyhow::{bail, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// `llama` (also Mistral checkpoints stored as llama, which transformers names `mistral`).
    Llama,
    Qwen2,
    Qwen3,
    /// `gemma3`, loaded by transformers as the text-only `gemma3_text`.
    Gemma3,
}

impl Arch {
    pub fn from_gguf(arch: &str, origin: &str) -> Result<Arch> {
        Ok(match arch {
            "llama" => Arch::Llama,
            "qwen2" => Arch::Qwen2,
            "qwen3" => Arch::Qwen3,
            "gemma3" => Arch::Gemma3,
            other => bail!(
                "{origin}: GGUF architecture '{other}' is not supported: lexalign reads 'llama', 'qwen2', 'qwen3' and 'gemma3'"
            ),
        })
    }

    /// The metadata key prefix (`{arch}.block_count`, ...).
    pub fn key(self) -> &'static str {
        match self {
            Arch::Llama => "llama",
            Arch::Qwen2 => "qwen2",
            Arch::Qwen3 => "qwen3",
            Arch::Gemma3 => "gemma3",
        }
    }

    /// llama.cpp permutes the q/k rows of llama (and Mistral) only; transformers undoes it.
    pub fn permutes_qk(self) -> bool {
        self == Arch::Llama
    }

    /// llama.cpp stores Gemma's norm weights as `w + 1`; transformers subtracts 1 on load.
    pub fn norms_offset_by_one(self) -> bool {
        self == Arch::Gemma3
    }
}

const GLOBAL: &[(&str, &str)] = &[
    ("token_embd.weight", "model.embed_tokens.weight"),
    ("output_norm.weight", "model.norm.weight"),
    ("output.weight", "lm_head.weight"),
];

/// Block modules: (llama.cpp name, HF name), per architecture.
fn block_modules(arch: Arch) -> &'static [(&'static str, &'static str)] {
    const COMMON: &[(&str, &str)] = &[
        ("attn_q", "self_attn.q_proj"),
        ("attn_k", "self_attn.k_proj"),
        ("attn_v", "self_attn.v_proj"),
        ("attn_output", "self_attn.o_proj"),
        ("ffn_gate", "mlp.gate_proj"),
        ("ffn_up", "mlp.up_proj"),
        ("ffn_down", "mlp.down_proj"),
        ("attn_norm", "input_layernorm"),
        ("ffn_norm", "post_attention_layernorm"),
    ];
    const QK_NORM: &[(&str, &str)] = &[
        ("attn_q", "self_attn.q_proj"),
        ("attn_k", "self_attn.k_proj"),
        ("attn_v", "self_attn.v_proj"),
        ("attn_output", "self_attn.o_proj"),
        ("ffn_gate", "mlp.gate_proj"),
        ("ffn_up", "mlp.up_proj"),
        ("ffn_down", "mlp.down_proj"),
        ("attn_norm", "input_layernorm"),
        ("ffn_norm", "post_attention_layernorm"),
        ("attn_q_norm", "self_attn.q_norm"),
        ("attn_k_norm", "self_attn.k_norm"),
    ];
    const GEMMA3: &[(&str, &str)] = &[
        ("attn_q", "self_attn.q_proj"),
        ("attn_k", "self_attn.k_proj"),
        ("attn_v", "self_attn.v_proj"),
        ("attn_output", "self_attn.o_proj"),
        ("ffn_gate", "mlp.gate_proj"),
        ("ffn_up", "mlp.up_proj"),
        ("ffn_down", "mlp.down_proj"),
        ("attn_norm", "input_layernorm"),
        ("post_attention_norm", "post_attention_layernorm"),
        ("ffn_norm", "pre_feedforward_layernorm"),
        ("post_ffw_norm", "post_feedforward_layernorm"),
        ("attn_q_norm", "self_attn.q_norm"),
        ("attn_k_norm", "self_attn.k_norm"),
    ];
    match arch {
        Arch::Llama | Arch::Qwen2 => COMMON,
        Arch::Qwen3 => QK_NORM,
        Arch::Gemma3 => GEMMA3,
    }
}

/// Maps a llama.cpp tensor name to the HF name; `None` for tensors HF does not load
/// (e.g. `rope_freqs.weight`).
pub fn gguf_to_hf(arch: Arch, name: &str) -> Option<String> {
    if let Some((_, hf)) = GLOBAL.iter().find(|(g, _)| *g == name) {
        return Some(hf.to_string());
    }
    let rest = name.strip_prefix("blk.")?;
    let (layer, part) = rest.split_once('.')?;
    if layer.is_empty() || !layer.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (module, suffix) = part.rsplit_once('.')?;
    let (_, hf) = block_modules(arch).iter().find(|(g, _)| *g == module)?;
    Some(format!("model.layers.{layer}.{hf}.{suffix}"))
}

/// The inverse of [`gguf_to_hf`].
pub fn hf_to_gguf(arch: Arch, hf: &str) -> Option<String> {
    if let Some((g, _)) = GLOBAL.iter().find(|(_, h)| *h == hf) {
        return Some(g.to_string());
    }
    let rest = hf.strip_prefix("model.layers.")?;
    let (layer, part) = rest.split_once('.')?;
    let (module, suffix) = part.rsplit_once('.')?;
    let (g, _) = block_modules(arch).iter().find(|(_, h)| *h == module)?;
    Some(format!("blk.{layer}.{g}.{suffix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemma3_names_round_trip() {
        for (g, h) in [
            (
                "blk.3.post_attention_norm.weight",
                "model.layers.3.post_attention_layernorm.weight",
            ),
            (
                "blk.3.ffn_norm.weight",
                "model.layers.3.pre_feedforward_layernorm.weight",
            ),
            (
                "blk.3.post_ffw_norm.weight",
                "model.layers.3.post_feedforward_layernorm.weight",
            ),
            (
                "blk.0.attn_q_norm.weight",
                "model.layers.0.self_attn.q_norm.weight",
            ),
        ] {
            assert_eq!(gguf_to_hf(Arch::Gemma3, g).as_deref(), Some(h));
            assert_eq!(hf_to_gguf(Arch::Gemma3, h).as_deref(), Some(g));
        }
        assert_eq!(
            gguf_to_hf(Arch::Llama, "blk.3.ffn_norm.weight").as_deref(),
            Some("model.layers.3.post_attention_layernorm.weight")
        );
        assert_eq!(gguf_to_hf(Arch::Llama, "blk.0.attn_q_norm.weight"), None);
        assert_eq!(
            gguf_to_hf(Arch::Qwen2, "blk.1.attn_q.bias").as_deref(),
            Some("model.layers.1.self_attn.q_proj.bias")
        );
    }
}
