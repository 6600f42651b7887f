//! Time per training step on the embedded model (CPU), to compare with
//! `bench/hf_peft_step.py` (HF transformers + peft, every block run) on the same batch and threads:
//!     cargo test -p lexalign-tli --test step_time -- --ignored --nocapture
//! `THREADS=n` sets the thread count (default 2), `DTYPE=bf16` the compute dtype (default f32;
//! the adapter and AdamW stay f32 either way, as in peft).
//! Prints the time with the forward stopped at layer 2 (what tli-train does) and with every
//! block run (the pooled output of the last layer requested too), which isolates the
//! implementation from the early stop.

mod common;

use common::*;
use lexalign_model::lora;
use lexalign_model::{PoolRequest, Pooling};
use lexalign_tli::{hardest_negative_triplet, AdamW, LinearWarmup, TrainConfig};
use std::time::Instant;

const PAIRS: &[(&str, &str)] = &[
    ("maji", "water"),
    ("mti", "tree"),
    ("nyumba", "house"),
    ("mbwa", "dog"),
    ("paka", "cat"),
    ("kitabu", "book"),
    ("jua", "sun"),
    ("shule", "school"),
];

fn time_steps(all_blocks: bool) -> f64 {
    let threads: usize = std::env::var("THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(2);
    let bf16 = std::env::var("DTYPE").is_ok_and(|d| d == "bf16");
    let kind = if bf16 {
        tch::Kind::BFloat16
    } else {
        tch::Kind::Float
    };
    let Some(mut m) = demo_model_in(if all_blocks { 30 } else { 2 }, kind) else {
        return f64::NAN;
    };
    tch::set_num_threads(threads as i32);
    let cfg = TrainConfig::default();
    lora::attach(&mut m.model, &cfg.lora(), cfg.seed).unwrap();
    let params = lora::trainable_params(&m.model);
    let mut opt = AdamW::new(cfg.adamw());
    let sched = LinearWarmup {
        base_lr: cfg.lr,
        warmup: 50,
        total: 390,
    };
    let layers = if all_blocks { vec![2, 30] } else { vec![2] };
    let req = PoolRequest {
        layers,
        pooling: Pooling::Mean,
    };
    let src: Vec<&str> = PAIRS.iter().map(|p| p.0).collect();
    let tgt: Vec<&str> = PAIRS.iter().map(|p| p.1).collect();
    let mut step = |k: usize| {
        let a = m.tokenizer.batch(&src, m.model.device).unwrap();
        let p = m.tokenizer.batch(&tgt, m.model.device).unwrap();
        let mut out = m.model.pooled_segments(
            &[(&a.input_ids, &a.masks), (&p.input_ids, &p.masks)],
            &req.layers,
            &[req.pooling],
            true,
        );
        let positives = out.pop().unwrap().remove(0).remove(0);
        let anchors = out.pop().unwrap().remove(0).remove(0);
        let loss = hardest_negative_triplet(&anchors, &positives, cfg.margin);
        loss.backward();
        opt.step(&params, sched.lr(k));
        for (_, p) in &params {
            let mut g = p.grad();
            if g.defined() {
                let _ = g.zero_();
            }
        }
    };
    for k in 0..3 {
        step(k);
    }
    let t = Instant::now();
    let n = 20;
    for k in 3..3 + n {
        step(k);
    }
    let ms = t.elapsed().as_secs_f64() * 1e3 / n as f64;
    println!(
        "{{\"impl\": \"lexalign ({})\", \"dtype\": \"{kind:?}\", \"threads\": {threads}, \"ms_per_step\": {ms:.2}}}",
        if all_blocks {
            "all 30 blocks"
        } else {
            "stops at layer 2"
        }
    );
    ms
}

#[test]
#[ignore = "timing; run by hand next to crates/lexalign-tli/bench/hf_peft_step.py (cargo xtask bench runs the committed anchors)"]
fn step_time() {
    time_steps(false);
    time_steps(true);
}
