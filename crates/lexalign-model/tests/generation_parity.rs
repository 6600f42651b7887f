//! Generation and LM loss against transformers 5.24 (fixture from
//! `tests/fixtures/gen_generation.py`): greedy continuations token for token (21 Korean, English
//! and Swahili prompts x 32 new tokens on both embedded GGUF models; 3 prompts x 20 tokens on the
//! tiny random Llama, Mistral, Qwen2, Qwen3 and Gemma 3, whose sliding window of 4 the prompts
//! pass), the cached path against an uncached recomputation, the next-token distribution after
//! the temperature / top-k / top-p warpers, and the causal-LM loss.

use lexalign_model::generate::sampling::process;
use lexalign_model::load::{build, LoadOptions};
use lexalign_model::safetensors_dir::SafetensorsDir;
use lexalign_model::{load, Decoder, GenerateConfig, LoadedModel, ModelConfig, Sampling};
use serde_json::Value;
use tch::{Kind, Tensor};

mod common;

fn reference() -> Value {
    let path = common::fixtures().join("generation_reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn embedded(name: &str) -> LoadedModel {
    let path = lexalign_gguf::resolve_model(Some(std::path::Path::new(name))).unwrap_or_else(|e| {
        panic!("the embedded model {name} is needed: run `cargo xtask setup` ({e:#})")
    });
    tch::set_num_threads(2);
    load(
        &path,
        &LoadOptions {
            lm_head: true,
            ..LoadOptions::default()
        },
    )
    .unwrap()
}

fn tiny(family: &str) -> Decoder {
    let dir = common::fixtures().join(format!("tiny_{family}"));
    let cfg = ModelConfig::from_file(&dir.join("config.json")).unwrap();
    build(
        &cfg,
        &SafetensorsDir::open(&dir).unwrap(),
        &LoadOptions {
            lm_head: true,
            ..LoadOptions::default()
        },
    )
    .unwrap()
}

fn ids(v: &Value) -> Vec<i64> {
    serde_json::from_value(v.clone()).unwrap()
}

/// Greedy continuations of every fixture prompt; returns the mismatches (prompt, ours, theirs).
fn greedy_mismatches(m: &LoadedModel, model: &Value) -> (usize, Vec<String>) {
    let eos = ids(&model["eos_token_ids"]);
    assert_eq!(
        m.tokenizer.eos_ids, eos,
        "the end-of-sequence ids generate stops on"
    );
    let cfg = GenerateConfig::greedy(model["max_new_tokens"].as_u64().unwrap() as usize, eos);
    let rows = model["greedy"].as_array().unwrap();
    let mut bad = Vec::new();
    for r in rows {
        let prompt = r["prompt"].as_str().unwrap();
        let prompt_ids = m.tokenizer.encode(prompt).unwrap();
        assert_eq!(
            prompt_ids,
            ids(&r["prompt_ids"]),
            "prompt {prompt:?} tokenizes differently"
        );
        let got = m.model.generate(&prompt_ids, &cfg).unwrap();
        let want = ids(&r["new_ids"]);
        let as_u32: Vec<u32> = got.iter().map(|&i| i as u32).collect();
        let text = m.tokenizer.inner.decode(&as_u32, true).unwrap();
        if got != want || text != r["text"].as_str().unwrap() {
            bad.push(format!(
                "{prompt:?}: lexalign {got:?} {text:?}, transformers {want:?} {:?}",
                r["text"]
            ));
        }
    }
    (rows.len(), bad)
}

fn check_embedded_greedy(name: &str) {
    let reference = reference();
    let model = &reference["models"][name];
    let m = embedded(name);
    let (n, bad) = greedy_mismatches(&m, model);
    assert!(n >= 20, "at least 20 prompts");
    println!(
        "{name}: {}/{n} prompts identical over 32 new tokens",
        n - bad.len()
    );
    assert!(
        bad.is_empty(),
        "{name}: {} of {n} continuations differ:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn smollm2_greedy_continuations_match_transformers() {
    check_embedded_greedy("smollm2-135m");
}

#[test]
fn gemma3_greedy_continuations_match_transformers() {
    check_embedded_greedy("gemma3-270m");
}

#[test]
fn tiny_families_greedy_continuations_match_transformers() {
    let reference = reference();
    for (family, entry) in reference["tiny"].as_object().unwrap() {
        let model = tiny(family);
        let cfg =
            GenerateConfig::greedy(entry["max_new_tokens"].as_u64().unwrap() as usize, vec![]);
        for p in entry["prompts"].as_array().unwrap() {
            let got = model.generate(&ids(&p["prompt_ids"]), &cfg).unwrap();
            assert_eq!(
                got,
                ids(&p["new_ids"]),
                "tiny {family}: prompt {:?}",
                p["prompt_ids"]
            );
        }
    }
}

/// The logits of every generated step, cached, against one uncached forward over the prompt
/// and the generated tokens; returns the largest difference.
fn cached_vs_uncached(model: &Decoder, prompt: &[i64], steps: usize) -> f64 {
    let _g = tch::no_grad_guard();
    let mut cache = model.new_cache();
    let mut seq = prompt.to_vec();
    let mut cached = Vec::new();
    let mut logits = model
        .next_logits(&Tensor::from_slice(prompt).view([1, -1]), &mut cache)
        .unwrap();
    for _ in 0..steps {
        let next = lexalign_model::generate::sampling::greedy(&logits);
        cached.push(logits);
        seq.push(next);
        logits = model
            .next_logits(&Tensor::from_slice(&[next]).view([1, 1]), &mut cache)
            .unwrap();
    }
    assert_eq!(cache.len(), seq.len());
    let full = model.logits(&model.final_hidden(&seq)).unwrap();
    let mut worst = 0f64;
    for (k, c) in cached.iter().enumerate() {
        let u = full.get((prompt.len() - 1 + k) as i64);
        assert_eq!(
            lexalign_model::generate::sampling::greedy(&u),
            seq[prompt.len() + k],
            "step {k}: the uncached arg-max differs"
        );
        worst = worst.max((c - &u).abs().max().double_value(&[]));
    }
    worst
}

#[test]
fn cached_generation_equals_uncached_recomputation() {
    let reference = reference();
    for family in ["gemma3", "qwen2", "llama"] {
        let model = tiny(family);
        for p in reference["tiny"][family]["prompts"].as_array().unwrap() {
            let d = cached_vs_uncached(&model, &ids(&p["prompt_ids"]), 12);
            assert!(
                d < 1e-4,
                "tiny {family}: cached logits differ from uncached by {d}"
            );
        }
    }
    let m = embedded("gemma3-270m");
    let prompt = m.tokenizer.encode("옛날 옛적에 작은 마을에").unwrap();
    let d = cached_vs_uncached(&m.model, &prompt, 16);
    println!("gemma3-270m: max |cached - uncached| logit over 16 steps = {d:.3e}");
    assert!(
        d < 1e-3,
        "gemma3-270m: cached logits differ from uncached by {d}"
    );
}

/// The processed distribution as the fixture lists it (token ids with non-zero probability).
fn compare_distribution(got: &Tensor, want_ids: &[i64], want: &[f64], what: &str) -> f64 {
    let got_ids = Vec::<i64>::try_from(got.gt(0.0).nonzero().view([-1])).unwrap();
    assert_eq!(
        got_ids, want_ids,
        "{what}: the tokens left after the warpers differ"
    );
    let vals = Vec::<f64>::try_from(
        got.index_select(0, &Tensor::from_slice(want_ids))
            .to_kind(Kind::Double),
    )
    .unwrap();
    vals.iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
}

#[test]
fn processed_distributions_match_transformers_warpers() {
    let reference = reference();
    let logits: Vec<f32> = (0..1000)
        .map(|i| (((i * 7919) % 1009) as f64 / 97.0 - 5.0) as f32)
        .collect();
    let logits = Tensor::from_slice(&logits);
    let mut worst = 0f64;
    for s in reference["synthetic"].as_array().unwrap() {
        let (t, k, p) = (
            s["temperature"].as_f64().unwrap(),
            s["top_k"].as_u64().unwrap() as usize,
            s["top_p"].as_f64().unwrap(),
        );
        let want: Vec<f64> = serde_json::from_value(s["probs"].clone()).unwrap();
        let got = Vec::<f64>::try_from(
            process(&logits, t, k, p)
                .softmax(-1, Kind::Float)
                .to_kind(Kind::Double),
        )
        .unwrap();
        let d = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(
            d < 1e-6,
            "synthetic logits, T {t} top-k {k} top-p {p}: differs by {d}"
        );
        worst = worst.max(d);
    }
    for name in ["smollm2-135m", "gemma3-270m"] {
        let m = embedded(name);
        for d in reference["models"][name]["distributions"]
            .as_array()
            .unwrap()
        {
            let s = Sampling {
                temperature: d["temperature"].as_f64().unwrap(),
                top_k: d["top_k"].as_u64().unwrap() as usize,
                top_p: d["top_p"].as_f64().unwrap(),
                seed: 0,
            };
            let mut cache = m.model.new_cache();
            let prompt = ids(&d["prompt_ids"]);
            let logits = m
                .model
                .next_logits(&Tensor::from_slice(&prompt).view([1, -1]), &mut cache)
                .unwrap();
            let want: Vec<f64> = serde_json::from_value(d["probs"].clone()).unwrap();
            let diff = compare_distribution(
                &s.distribution(&logits),
                &ids(&d["ids"]),
                &want,
                &format!("{name} {s:?}"),
            );
            assert!(
                diff < 1e-6,
                "{name} {s:?}: the processed distribution differs by {diff}"
            );
            worst = worst.max(diff);
        }
    }
    println!("max |lexalign - transformers| processed next-token probability = {worst:.3e}");
}

#[test]
fn lm_loss_matches_transformers() {
    let reference = reference();
    let mut worst = 0f64;
    for name in ["smollm2-135m", "gemma3-270m"] {
        let m = embedded(name);
        for r in reference["models"][name]["lm_loss"].as_array().unwrap() {
            let text = r["text"].as_str().unwrap();
            let tok = m.tokenizer.encode(text).unwrap();
            assert_eq!(tok, ids(&r["ids"]), "{text:?} tokenizes differently");
            let l = m.model.text_nll(&tok).unwrap();
            assert_eq!(l.tokens as u64, r["tokens"].as_u64().unwrap());
            let per_token = (l.nll_sum - r["nll_sum"].as_f64().unwrap()).abs() / l.tokens as f64;
            let vs_loss = (l.nll_sum / l.tokens as f64 - r["loss"].as_f64().unwrap()).abs();
            assert!(
                per_token < 1e-4 && vs_loss < 1e-4,
                "{name} {text:?}: {per_token} nats/token off ({vs_loss} vs HF's loss)"
            );
            worst = worst.max(per_token).max(vs_loss);
        }
    }
    println!("max |lexalign - transformers| LM loss = {worst:.3e} nats/token");
}

/// The shared-pass pair of decodings gives what each decoding gives alone, including after
/// they part (high temperature makes them part on the tiny random models).
#[test]
fn sampled_and_greedy_together_equal_each_alone() {
    let reference = reference();
    let mut parted = 0;
    for family in ["llama", "gemma3"] {
        let model = tiny(family);
        for p in reference["tiny"][family]["prompts"].as_array().unwrap() {
            let prompt = ids(&p["prompt_ids"]);
            for temperature in [0.1, 2.0] {
                let cfg = GenerateConfig {
                    max_new_tokens: 12,
                    sampling: Some(Sampling {
                        temperature,
                        top_k: 0,
                        top_p: 0.9,
                        seed: 7,
                    }),
                    eos_ids: vec![],
                };
                let (s, g) = model.generate_sampled_and_greedy(&prompt, &cfg).unwrap();
                assert_eq!(
                    s,
                    model.generate(&prompt, &cfg).unwrap(),
                    "{family} T {temperature}: sampled"
                );
                let greedy = GenerateConfig::greedy(12, vec![]);
                assert_eq!(
                    g,
                    model.generate(&prompt, &greedy).unwrap(),
                    "{family} T {temperature}: greedy"
                );
                parted += usize::from(s != g);
            }
        }
    }
    assert!(
        parted > 0,
        "no case where the two decodings part: the fork is untested"
    );
}
