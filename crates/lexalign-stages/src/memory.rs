//! `lexalign memory`: resident weight memory from the code's own accounting, the process's
//! measured peak, and the projection for another configuration (default: Llama-3.1-8B, the
//! shape of Lugha-Llama-8B-wura) so one can see whether an 8B model fits a small GPU.

use anyhow::Context;
use lexalign_model::load::QuantMode;
use lexalign_model::ModelConfig;

/// The architecture of Llama-3.1-8B (and so of Lugha-Llama-8B-wura), from its config.json.
pub const LLAMA31_8B_CONFIG: &str = r#"{"architectures":["LlamaForCausalLM"],"model_type":"llama",
 "hidden_size":4096,"intermediate_size":14336,"num_hidden_layers":32,"num_attention_heads":32,
 "num_key_value_heads":8,"vocab_size":128256,"rms_norm_eps":1e-5,"rope_theta":500000.0,
 "max_position_embeddings":131072,"tie_word_embeddings":false,"bos_token_id":128000,"eos_token_id":128001,
 "rope_scaling":{"factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192,"rope_type":"llama3"}}"#;

/// Projected weight bytes of a configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    /// Decoder-block linear layers (4-bit or dense).
    pub linear: u64,
    /// Embeddings and norms, dense in the compute dtype.
    pub other: u64,
    /// The output head (`lm_head`): transformers keeps it; lexalign never computes logits and
    /// does not load it.
    pub lm_head: u64,
}

impl Projection {
    pub fn lexalign_total(&self) -> u64 {
        self.linear + self.other
    }
    pub fn transformers_total(&self) -> u64 {
        self.linear + self.other + self.lm_head
    }
}

/// Weight bytes of `cfg` with the linear layers in `quant` and everything else in a dtype of
/// `dense_bytes` bytes per value (2 for bf16).
pub fn project(
    cfg: &ModelConfig,
    quant: QuantMode,
    double_quant: bool,
    dense_bytes: u64,
) -> Projection {
    let (h, i, v) = (
        cfg.hidden_size as u64,
        cfg.intermediate_size as u64,
        cfg.vocab_size as u64,
    );
    let kv = (cfg.num_kv_heads() * cfg.head_dim()) as u64;
    let q = (cfg.num_attention_heads * cfg.head_dim()) as u64;
    let shapes = [(q, h), (kv, h), (kv, h), (h, q), (i, h), (i, h), (h, i)];
    let per_block: u64 = shapes
        .iter()
        .map(|&(o, n)| match quant {
            QuantMode::None => o * n * dense_bytes,
            _ => lexalign_quant::quantized_bytes((o * n) as usize, 64, double_quant).total() as u64,
        })
        .sum();
    let layers = cfg.num_hidden_layers as u64;
    let norms = (2 * layers + 1) * h * dense_bytes;
    Projection {
        linear: per_block * layers,
        other: v * h * dense_bytes + norms,
        lm_head: if cfg.tie_word_embeddings() {
            0
        } else {
            v * h * dense_bytes
        },
    }
}

/// Peak resident set size of this process (`VmHWM`), in bytes.
pub fn peak_rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

pub fn gib(b: u64) -> String {
    format!("{:.2} GiB", b as f64 / (1u64 << 30) as f64)
}

/// `lexalign memory`: resident bytes of the loaded model, the measured peak, and the projection.
pub fn run_memory(
    args: &crate::ModelArgs,
    project_config: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let quant = match &args.quant {
        Some(q) => q.parse()?,
        None => QuantMode::Nf4,
    };
    let run = args.load(quant, None)?;
    let (linear, other) = run.model.model.resident_weight_bytes();
    let cfg = &run.model.model.cfg;
    let dense_bytes = if run.dtype == "f32" { 4 } else { 2 };
    let dense = project(cfg, QuantMode::None, false, dense_bytes);
    println!(
        "model {} ({}), quant {}{}, compute {}",
        run.model.info.name,
        run.model_path.display(),
        quant.name(),
        if args.double_quant { "+dq" } else { "" },
        run.dtype
    );
    println!(
        "  resident weights (accounting): linear {} + other {} = {}",
        gib(linear),
        gib(other),
        gib(linear + other)
    );
    println!(
        "  same model unquantized ({}):   linear {} + other {} = {}",
        run.dtype,
        gib(dense.linear),
        gib(dense.other),
        gib(dense.lexalign_total())
    );
    if let Some(p) = peak_rss_bytes() {
        println!(
            "  measured peak resident memory of this process: {}",
            gib(p)
        );
    }
    let (name, text) = match project_config {
        Some(p) => (
            p.display().to_string(),
            std::fs::read_to_string(p)
                .with_context(|| format!("cannot read --project-config {}", p.display()))?,
        ),
        None => (
            "Llama-3.1-8B (Lugha-Llama-8B-wura)".to_string(),
            LLAMA31_8B_CONFIG.to_string(),
        ),
    };
    let target = lexalign_model::ModelConfig::from_json_str(&text)?;
    for (label, q, dq) in [
        ("bf16", QuantMode::None, false),
        ("nf4", QuantMode::Nf4, false),
        ("nf4+dq", QuantMode::Nf4, true),
    ] {
        let p = project(&target, q, dq, 2);
        println!("  projected {name} {label:6}: lexalign {} (no lm_head), transformers {} (with lm_head)",
            gib(p.lexalign_total()), gib(p.transformers_total()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_8b_llama_fits_in_6_gb_with_nf4() {
        let cfg = ModelConfig::from_json_str(LLAMA31_8B_CONFIG).unwrap();
        let bf16 = project(&cfg, QuantMode::None, false, 2);
        let nf4 = project(&cfg, QuantMode::Nf4, false, 2);
        let nf4dq = project(&cfg, QuantMode::Nf4, true, 2);
        // 8.03e9 parameters in bf16 is about 16 GB.
        assert!(
            (bf16.transformers_total() as f64 - 16.06e9).abs() < 0.05e9,
            "{}",
            bf16.transformers_total()
        );
        // 4.5 bits per linear weight: 6.98e9 * 4.5 / 8 = 3.93e9 bytes.
        assert!(
            (nf4.linear as f64 - 3.926e9).abs() < 0.01e9,
            "{}",
            nf4.linear
        );
        assert!(
            nf4.transformers_total() < 6 * (1u64 << 30),
            "{}",
            nf4.transformers_total()
        );
        assert!(nf4dq.linear < nf4.linear);
    }
}
