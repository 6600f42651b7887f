//! `lexalign bench --random-weights` on a small config (2 layers, hidden 256, Llama-3.1's
//! vocabulary and RoPE) on the CPU: it runs in seconds, prints every timing, and the built model's
//! resident weight bytes equal `lexalign memory`'s projection (plus the 4-bit code books).

use lexalign_model::load::TensorSource;
use lexalign_model::tch::Device;
use lexalign_stages::bench_cmd::{bench_config, run_bench, BenchArgs, RandomSource};

const SMALL: &str = r#"{"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":256,
 "intermediate_size":896,"num_hidden_layers":2,"num_attention_heads":8,"num_key_value_heads":2,
 "vocab_size":128256,"rms_norm_eps":1e-5,"rope_theta":500000.0,"max_position_embeddings":131072,
 "tie_word_embeddings":false,"bos_token_id":128000,"eos_token_id":128001,
 "rope_scaling":{"factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192,"rope_type":"llama3"}}"#;

fn args(config: &str, quant: &str, dtype: &str) -> BenchArgs {
    BenchArgs {
        random_weights: Some(config.into()),
        model: None,
        case: Default::default(),
        device: "cpu".into(),
        dtype: dtype.into(),
        quant: quant.into(),
        words: 300,
        batch_size: 64,
        tli_steps: 2,
        eval_pairs: 40,
        seed: 0,
        threads: 2,
    }
}

#[test]
fn small_config_bench_runs_and_agrees_with_memory() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.json");
    std::fs::write(&cfg, SMALL).unwrap();
    for (quant, dtype) in [("nf4", "f32"), ("none", "bf16")] {
        let r = run_bench(&args(cfg.to_str().unwrap(), quant, dtype)).unwrap();
        lexalign_stages::bench_cmd::print_report(&r);
        assert_eq!(r.dtype, dtype);
        assert!(
            r.agrees_with_memory(),
            "{quant}/{dtype}: resident {} != projected {} + code books {}",
            r.resident_weight_bytes,
            r.projected_weight_bytes,
            r.code_book_bytes
        );
        assert!(
            r.scan_tokens >= 2 * 300 && r.scan_s > 0.0 && r.tli_step_s > 0.0 && r.eval_tokens > 0
        );
        assert!(r.peak_memory_bytes.unwrap() > r.resident_weight_bytes);
    }
}

#[test]
fn random_weights_are_seeded_per_tensor_and_the_8b_config_is_known() {
    let (name, cfg) = bench_config("llama-3.1-8b").unwrap();
    assert_eq!(
        (name.as_str(), cfg.num_hidden_layers, cfg.hidden_size),
        ("llama-3.1-8b", 32, 4096)
    );
    assert!(bench_config("llama-9000")
        .unwrap_err()
        .to_string()
        .contains("llama-3.1-8b or a config.json"));
    let small = lexalign_model::ModelConfig::from_json_str(SMALL).unwrap();
    let a = RandomSource::new(&small, 7, Device::Cpu);
    let b = RandomSource::new(&small, 7, Device::Cpu);
    let n = "model.layers.1.self_attn.k_proj.weight";
    // Asking in another order gives the same tensor.
    let _ = b.tensor("model.layers.0.mlp.up_proj.weight").unwrap();
    assert_eq!(a.tensor(n).unwrap(), b.tensor(n).unwrap());
    assert_eq!(a.tensor(n).unwrap().size(), vec![64, 256]);
    assert!(a.has("model.norm.weight") && !a.has("lm_head.weight"));
}
