//! peft parity on Gemma 3 (fixtures from `tests/fixtures/gen_peft_gemma.py`): an adapter written
//! by lexalign loads in peft on transformers' `Gemma3ForCausalLM`, and the pooled hidden states
//! there match lexalign's within 1e-5.
//! - tiny random Gemma 3 (lexalign-model's `tiny_gemma3` fixture, 6 layers with sliding and full
//!   attention): the recipe's adapter (r 16, alpha 32, q_proj+v_proj, every layer) with a seeded
//!   non-zero B, at every hidden state;
//! - the embedded gemma3-270m (when set up): an adapter trained by `lexalign_tli::train` at hidden
//!   state 2 (layers 0-1, few steps at a raised learning rate so that it moves the output),
//!   and two AdamW steps from it match peft + torch (loss and every A/B of layers 0-1).

mod common;

use common::*;
use lexalign_model::load::{build, LoadOptions};
use lexalign_model::lora::{self, Layers, LoraConfig};
use lexalign_model::pooling::{PoolMasks, Pooling};
use lexalign_model::safetensors_dir::SafetensorsDir;
use lexalign_model::{Decoder, LoadedModel, ModelConfig, PoolRequest};
use lexalign_tli::eval::embed;
use lexalign_tli::{train, EvalConfig, TrainConfig, TrainOptions};
use std::path::{Path, PathBuf};
use tch::Tensor;

/// peft vs lexalign, per the acceptance.
const TOL: f64 = 1e-5;
const SEED: u64 = 11;
const REAL_MODEL: &str = "gemma3-270m";

fn dir() -> PathBuf {
    fixtures().join("peft_parity_gemma")
}

fn tiny_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../lexalign-model/tests/fixtures/tiny_gemma3")
}

fn reference() -> serde_json::Value {
    let p = dir().join("reference.json");
    let text = std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{} (run gen_peft_gemma.py): {e}", p.display()));
    serde_json::from_str(&text).unwrap()
}

fn tiny_model() -> Decoder {
    tch::set_num_threads(2);
    let cfg = ModelConfig::from_file(&tiny_dir().join("config.json")).unwrap();
    let st = SafetensorsDir::open(&tiny_dir()).unwrap();
    build(&cfg, &st, &LoadOptions::default()).unwrap()
}

/// The study's recipe adapter on every layer, our init, then a seeded non-zero B.
fn write_tiny_adapter(m: &mut Decoder, out: &Path) {
    let mut cfg = LoraConfig::new(16, 32.0, 0.05, &["q_proj", "v_proj"]);
    cfg.base_model_name_or_path = Some("tiny_gemma3".into());
    lora::attach(m, &cfg, SEED).unwrap();
    tch::no_grad(|| {
        for (name, t) in lora::trainable_params(m) {
            if name.contains("lora_B") {
                let s = t.size();
                let layer: usize = name
                    .split(".layers.")
                    .nth(1)
                    .unwrap()
                    .split('.')
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap();
                let module = if name.contains("q_proj") {
                    "q_proj"
                } else {
                    "v_proj"
                };
                let b = lora::init_a(SEED + 1, layer, module, s[0], s[1]) * 0.5;
                t.shallow_clone().copy_(&b);
            }
        }
    });
    lora::save_peft(m, &cfg, out, Some(SEED)).unwrap();
}

/// Sixteen ko-en / sw-en pairs for the real model's short training run.
const PAIRS: [(&str, &str); 16] = [
    ("물", "water"),
    ("집", "house"),
    ("고양이", "cat"),
    ("책", "book"),
    ("학교", "school"),
    ("나무", "tree"),
    ("개", "dog"),
    ("해", "sun"),
    ("maji", "water"),
    ("nyumba", "house"),
    ("paka", "cat"),
    ("kitabu", "book"),
    ("shule", "school"),
    ("mti", "tree"),
    ("mbwa", "dog"),
    ("jua", "sun"),
];

fn real_model(max_blocks: Option<usize>) -> Option<LoadedModel> {
    let path = match lexalign_gguf::resolve_model(Some(Path::new(REAL_MODEL))) {
        Ok(p) if p.exists() => p,
        Ok(p) => {
            eprintln!("skipped: {} is not set up (cargo xtask setup)", p.display());
            return None;
        }
        Err(e) => {
            eprintln!("skipped: {e:#}");
            return None;
        }
    };
    tch::set_num_threads(2);
    let opts = LoadOptions {
        max_blocks,
        ..LoadOptions::default()
    };
    Some(lexalign_model::load(&path, &opts).expect("load gemma3-270m"))
}

/// The real model's fixture adapter: lexalign_tli::train at hidden state 2 (blocks 0-1 only),
/// f32 weights as the GGUF dequantizes (no 4-bit), lr raised so that 4 steps move it.
fn train_real_adapter(out: &Path) {
    let mut m = real_model(Some(2)).expect("gemma3-270m is needed to write its fixture adapter");
    let cfg = TrainConfig {
        layers_to_transform: Some(vec![0, 1]),
        lr: 2e-2,
        warmup_steps: 0,
        epochs: 2,
        seed: SEED,
        ..TrainConfig::default()
    };
    let tmp = tempfile::tempdir().unwrap();
    let opts = TrainOptions {
        cfg,
        out: tmp.path().to_path_buf(),
        resume: false,
        stop_after_epochs: None,
        interrupt: None,
        base_model: Some(m.info.name.clone()),
    };
    let pairs = pairs(&PAIRS);
    let o = train(&mut m.model, &m.tokenizer, &pairs, &opts, |_, _, _| {}).unwrap();
    println!(
        "trained {} steps, losses {:?}",
        o.steps_done,
        o.loss.iter().map(|r| r.loss).collect::<Vec<_>>()
    );
    assert!(o.completed);
    if out.exists() {
        std::fs::remove_dir_all(out).unwrap();
    }
    std::fs::create_dir_all(out).unwrap();
    for f in [lora::ADAPTER_WEIGHTS, lora::ADAPTER_CONFIG] {
        std::fs::copy(tmp.path().join("adapter").join(f), out.join(f)).unwrap();
    }
}

#[test]
#[ignore = "writes the fixture adapters that gen_peft_gemma.py reads"]
fn write_gemma_adapters() {
    write_tiny_adapter(&mut tiny_model(), &dir().join("tiny_adapter"));
    train_real_adapter(&dir().join("gemma3_270m_adapter"));
}

fn masks(seqs: &[Vec<i64>], pad: i64, special: &[i64]) -> (Tensor, PoolMasks) {
    let b = lexalign_model::tokenize::pad_rows(seqs, pad, special, tch::Device::Cpu);
    (b.input_ids, b.masks)
}

fn expect(v: &serde_json::Value, like: &Tensor) -> Tensor {
    Tensor::from_slice(&decode_b64_f32(v.as_str().unwrap())).view(like.size().as_slice())
}

/// Worst |lexalign - peft| over the hidden states and poolings stored under `key`.
fn tiny_check(m: &Decoder, r: &serde_json::Value, key: &str) -> f64 {
    let t = &r["tiny"];
    let seqs: Vec<Vec<i64>> = serde_json::from_value(t["seqs"].clone()).unwrap();
    let pad = t["pad"].as_i64().unwrap();
    let special: Vec<i64> = serde_json::from_value(t["special"].clone()).unwrap();
    let layers: Vec<usize> = (0..m.num_hidden_states()).collect();
    let mut worst = 0f64;
    for (pooling, name) in [
        (Pooling::Mean, "mean"),
        (Pooling::MeanContent, "mean_content"),
    ] {
        let (ids, mk) = masks(&seqs, pad, &special);
        let req = PoolRequest {
            layers: layers.clone(),
            pooling,
        };
        let ours = tch::no_grad(|| m.pooled(&ids, &mk, &req, false));
        let theirs = t[key][name].as_array().unwrap();
        assert_eq!(theirs.len(), layers.len(), "{key} {name}: hidden states");
        for (l, (o, w)) in ours.iter().zip(theirs).enumerate() {
            let d = max_abs_diff(o, &expect(w, o));
            assert!(
                d < TOL,
                "tiny {key} {name} hidden state {l}: |lexalign - peft| = {d}"
            );
            worst = worst.max(d);
        }
    }
    println!(
        "tiny gemma3 {key}: max |lexalign - peft| over {} hidden states = {worst:.3e}",
        layers.len()
    );
    worst
}

#[test]
fn tiny_gemma3_adapter_matches_peft() {
    let r = reference();
    let mut m = tiny_model();
    tiny_check(&m, &r, "base");

    // Our writer is deterministic: regenerating gives the committed adapter's tensors.
    let tmp = tempfile::tempdir().unwrap();
    write_tiny_adapter(&mut m, tmp.path());
    let committed = dir().join("tiny_adapter");
    let a = lora::read_safetensors(&tmp.path().join(lora::ADAPTER_WEIGHTS)).unwrap();
    let b = lora::read_safetensors(&committed.join(lora::ADAPTER_WEIGHTS)).unwrap();
    assert_eq!(a.len(), b.len());
    assert_eq!(
        a.len(),
        6 * 2 * 2,
        "A and B of q_proj and v_proj on all 6 layers"
    );
    for ((ka, ta), (kb, tb)) in a.iter().zip(&b) {
        assert_eq!(ka, kb);
        assert!(ta.equal(tb), "{ka} differs from the committed fixture: rerun write_gemma_adapters + gen_peft_gemma.py");
    }
    let t = &r["tiny"];
    assert!(
        t["peft_resave_same_keys"].as_bool().unwrap(),
        "peft re-saved our adapter with other keys"
    );
    assert_eq!(t["peft_resave_max_abs_diff"].as_f64().unwrap(), 0.0);

    lora::load_peft(&mut m, &committed, false).unwrap();
    tiny_check(&m, &r, "adapter");
    // ...and the adapter matters: peft's outputs moved well beyond the tolerance.
    let moved = t["adapter_moved_max_abs"].as_f64().unwrap();
    assert!(
        moved > 1e-2,
        "the tiny fixture adapter barely changes the output ({moved})"
    );
}

#[test]
fn gemma3_270m_trained_adapter_matches_peft() {
    let r = reference();
    let Some(g) = r.get("gemma3_270m").filter(|g| !g.is_null()) else {
        panic!("reference.json has no gemma3_270m section: run gen_peft_gemma.py with the model set up");
    };
    let Some(mut m) = real_model(None) else {
        return;
    };
    let words: Vec<String> = serde_json::from_value(g["words"].clone()).unwrap();
    for (w, ids) in words.iter().zip(g["token_ids"].as_array().unwrap()) {
        let want: Vec<i64> = serde_json::from_value(ids.clone()).unwrap();
        assert_eq!(m.tokenizer.encode(w).unwrap(), want, "token ids of `{w}`");
    }
    let cfg = lora::load_peft(&mut m.model, &dir().join("gemma3_270m_adapter"), false).unwrap();
    assert_eq!(cfg.layers_to_transform, Some(Layers::Many(vec![0, 1])));
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    let mut worst = 0f64;
    for (l, entry) in g["layers"].as_object().unwrap() {
        let layer: usize = l.parse().unwrap();
        for (pooling, name) in [("mean", "mean"), ("mean-content", "mean_content")] {
            let ecfg = EvalConfig {
                target_layer: layer,
                pooling: pooling.into(),
                ..EvalConfig::default()
            };
            let ours = embed(&m.model, &m.tokenizer, &w, &ecfg).unwrap();
            let d = max_abs_diff(&ours, &expect(&entry[name], &ours));
            println!("gemma3-270m hidden state {layer} {pooling}: max |lexalign - peft| = {d:.3e}");
            assert!(
                d < TOL,
                "gemma3-270m hidden state {layer} {pooling}: |lexalign - peft| = {d}"
            );
            worst = worst.max(d);
        }
    }
    let moved = g["adapter_moved_max_abs"].as_f64().unwrap();
    println!(
        "gemma3-270m: worst {worst:.3e}; the adapter moved peft's vectors by up to {moved:.3e}"
    );
    assert!(
        moved > 1e-3,
        "the trained fixture adapter barely changes the output ({moved})"
    );
}

/// Two AdamW steps on gemma3-270m from the committed adapter: the loss and every A/B of layers
/// 0-1 as peft + torch compute them (so training on Gemma follows peft's gradients, and a loss
/// that stays at the margin is the recipe's, not lexalign's).
#[test]
fn gemma3_270m_adamw_steps_match_peft() {
    let r = reference();
    let Some(g) = r.get("gemma3_270m").filter(|g| !g.is_null()) else {
        panic!("reference.json has no gemma3_270m section: run gen_peft_gemma.py with the model set up");
    };
    let a = &g["adamw"];
    let Some(mut m) = real_model(Some(2)) else {
        return;
    };
    lora::load_peft(&mut m.model, &dir().join("gemma3_270m_adapter"), true).unwrap();
    let pairs: Vec<(String, String)> = serde_json::from_value(a["pairs"].clone()).unwrap();
    let pairs: Vec<lexalign_tli::Pair> = pairs
        .into_iter()
        .map(|(s, t)| lexalign_tli::Pair::new(s, t))
        .collect();
    let batch: Vec<&lexalign_tli::Pair> = pairs.iter().collect();
    let cfg = TrainConfig {
        margin: a["margin"].as_f64().unwrap(),
        ..TrainConfig::default()
    };
    let lr = a["lr"].as_f64().unwrap();
    let params = lora::trainable_params(&m.model);
    let mut opt = lexalign_tli::AdamW::new(cfg.adamw());
    for step in 0..2 {
        // train = false: adapter dropout off, as in the reference (gradients still flow).
        let loss =
            lexalign_tli::train::batch_loss(&m.model, &m.tokenizer, &batch, &cfg, false).unwrap();
        let (l, want) = (loss.double_value(&[]), a["losses"][step].as_f64().unwrap());
        println!(
            "gemma3-270m step {}: loss lexalign {l:.8} peft {want:.8} (diff {:.3e})",
            step + 1,
            (l - want).abs()
        );
        assert!(
            (l - want).abs() < TOL,
            "loss at step {}: {l} vs {want}",
            step + 1
        );
        loss.backward();
        opt.step(&params, lr);
        for (_, p) in &params {
            let _ = p.grad().zero_();
        }
    }
    let after = a["after_step2"].as_object().unwrap();
    assert_eq!(after.len(), params.len(), "A/B tensors of layers 0-1");
    let mut worst = 0f64;
    for (k, v) in after {
        let (_, t) = params
            .iter()
            .find(|(n, _)| n == k)
            .unwrap_or_else(|| panic!("no parameter {k}"));
        let t = t.detach().to_kind(tch::Kind::Double);
        let (sum, l2) = (
            t.sum(tch::Kind::Double).double_value(&[]),
            t.norm().double_value(&[]),
        );
        let (ws, wl) = (v[0].as_f64().unwrap(), v[1].as_f64().unwrap());
        assert!(
            (l2 - wl).abs() < TOL * wl.max(1.0),
            "{k}: L2 {l2} vs peft {wl}"
        );
        assert!(
            (sum - ws).abs() < TOL * t.numel() as f64,
            "{k}: sum {sum} vs peft {ws}"
        );
        worst = worst.max((l2 - wl).abs());
    }
    let full = &a["after_step2_tensor"];
    let key = full["key"].as_str().unwrap();
    let (_, t) = params.iter().find(|(n, _)| n == key).unwrap();
    let d = max_abs_diff(&t.detach(), &expect(&full["b64"], t));
    println!("gemma3-270m after 2 AdamW steps: max |L2 diff| {worst:.3e}; {key}: max |lexalign - torch| = {d:.3e}");
    assert!(d < TOL, "{key} after 2 steps: {d}");
    println!(
        "cosines at hidden state 2 (peft, before step 1): {}",
        a["cosines"]
    );
}
