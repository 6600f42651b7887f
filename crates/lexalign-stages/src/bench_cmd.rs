//! `lexalign bench --random-weights llama-3.1-8b|CONFIG.json`: the paper's workload on a model of
//! the real shape without the checkpoint. Seeded random weights are drawn on the device, one
//! tensor at a time (4-bit: quantized on the host as at load), then it times
//! - the pilot scan: N words (default 10,000) through every hidden state, mean pooling;
//! - a TLI step: LoRA r 16 on q_proj+v_proj, hidden state 2, batch 8, forward + backward + update
//!   on the 4-bit base (as training runs);
//! - the eval pass: before and after over the 686 pairs (623 trained + 63 control) at hidden state 2;
//!
//! and prints tokens/s and the peak memory (CUDA: the process's peak in `nvidia-smi`, sampled;
//! CPU: peak RSS), plus the resident weight bytes next to `lexalign memory`'s projection.
//!
//! Words are synthetic token rows (BOS + 1-4 ids, the length mix of the paper's Swahili/English
//! words), since random weights come without a tokenizer.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use lexalign_model::device::{compute_kind, device_name, kind_name};
use lexalign_model::load::{build, LoadOptions, TensorSource};
use lexalign_model::pooling::{PoolMasks, Pooling};
use lexalign_model::shapes::ExpectedShapes;
use lexalign_model::tch::{self, Device, Kind, Tensor};
use lexalign_model::{lora, Decoder, DeviceArg, ModelConfig, QuantMode};

use crate::memory::{gib, peak_rss_bytes, project, LLAMA31_8B_CONFIG};

#[derive(Debug, Clone, Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["random_weights", "model"]))]
pub struct BenchArgs {
    /// `llama-3.1-8b` (the shape of Lugha-Llama-8B-wura) or a config.json path.
    #[arg(long, value_name = "NAME|CONFIG")]
    pub random_weights: Option<String>,
    /// A real model (an embedded name or a path) for one `--case` (see `bench_model`).
    #[arg(long, requires = "case")]
    pub model: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub case: crate::bench_model::CaseArgs,
    /// auto | cpu | cuda | cuda:N
    #[arg(long, default_value = "auto", value_parser = crate::model_args::parse_device)]
    pub device: String,
    /// Compute dtype: auto (bf16 on GPU, f32 on CPU) | f32 | bf16.
    #[arg(long, default_value = "auto", value_parser = crate::model_args::dtype_parser())]
    pub dtype: String,
    /// nf4 (the authors' pilot and training) | fp4 | none (dense weights in the compute dtype).
    #[arg(long, default_value = "nf4", value_parser = ["none", "nf4", "fp4"])]
    pub quant: String,
    /// Words of the pilot scan (with `--case words --source lexicons`: of the word file).
    #[arg(long, default_value_t = 10_000, value_parser = crate::model_args::at_least_one)]
    pub words: usize,
    /// Words per forward in the scan and eval.
    #[arg(long, default_value_t = 64, value_parser = crate::model_args::at_least_one)]
    pub batch_size: usize,
    /// TLI steps to time (the first is a warm-up and not counted, unless it is the only one).
    #[arg(long, default_value_t = 3, value_parser = crate::model_args::at_least_one)]
    pub tli_steps: usize,
    /// Pairs of the eval pass (623 trained + 63 control).
    #[arg(long, default_value_t = 686, value_parser = crate::model_args::at_least_one)]
    pub eval_pairs: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value_t = 2, value_parser = crate::model_args::parse_threads)]
    pub threads: usize,
}

/// What a bench run measured (also returned to tests).
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchReport {
    pub config: String,
    pub device: String,
    pub dtype: String,
    pub quant: String,
    pub build_s: f64,
    pub resident_weight_bytes: u64,
    pub projected_weight_bytes: u64,
    /// The 4-bit code books the model holds besides the projected weights.
    pub code_book_bytes: u64,
    pub scan_words: usize,
    pub scan_tokens: usize,
    pub scan_s: f64,
    pub tli_step_s: f64,
    pub tli_tokens_per_step: usize,
    pub eval_s: f64,
    pub eval_tokens: usize,
    pub peak_memory_bytes: Option<u64>,
    pub peak_memory_kind: &'static str,
}

/// Seeded random weights by HF name, drawn on `device`: N(0, 0.02) matrices, norms 1.
pub struct RandomSource {
    shapes: ExpectedShapes,
    names: Vec<String>,
    seed: u64,
    device: Device,
}

impl RandomSource {
    pub fn new(cfg: &ModelConfig, seed: u64, device: Device) -> Self {
        let mut names = vec![
            "model.embed_tokens.weight".to_string(),
            "model.norm.weight".to_string(),
        ];
        for i in 0..cfg.num_hidden_layers {
            for m in ["input_layernorm", "post_attention_layernorm"] {
                names.push(format!("model.layers.{i}.{m}.weight"));
            }
            for m in [
                "self_attn.q_proj",
                "self_attn.k_proj",
                "self_attn.v_proj",
                "self_attn.o_proj",
                "mlp.gate_proj",
                "mlp.up_proj",
                "mlp.down_proj",
            ] {
                names.push(format!("model.layers.{i}.{m}.weight"));
            }
        }
        Self {
            shapes: ExpectedShapes::new(cfg),
            names,
            seed,
            device,
        }
    }
}

impl TensorSource for RandomSource {
    fn tensor(&self, name: &str) -> Result<Tensor> {
        let (shape, _) = self
            .shapes
            .expected(name)
            .with_context(|| format!("random weights: no shape for `{name}`"))?;
        if name.ends_with("norm.weight") {
            return Ok(Tensor::ones(shape.as_slice(), (Kind::Float, self.device)));
        }
        let idx = self
            .names
            .iter()
            .position(|n| n == name)
            .unwrap_or(self.names.len()) as u64;
        // One seed per tensor, so the weights do not depend on the order they are asked for.
        tch::manual_seed((self.seed.wrapping_mul(1_000_003).wrapping_add(idx)) as i64);
        Ok(Tensor::randn(shape.as_slice(), (Kind::Float, self.device)) * 0.02)
    }
    fn has(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }
    fn names(&self) -> Vec<String> {
        self.names.clone()
    }
}

/// The config of `--random-weights`.
pub fn bench_config(spec: &str) -> Result<(String, ModelConfig)> {
    match spec {
        "llama-3.1-8b" | "llama3.1-8b" | "lugha-llama-8b" => Ok((
            "llama-3.1-8b".into(),
            ModelConfig::from_json_str(LLAMA31_8B_CONFIG)?,
        )),
        p if p.ends_with(".json") || std::path::Path::new(p).is_file() => Ok((
            p.to_string(),
            ModelConfig::from_file(std::path::Path::new(p))
                .with_context(|| format!("--random-weights {p}"))?,
        )),
        other => bail!("--random-weights `{other}`: give llama-3.1-8b or a config.json path"),
    }
}

/// Synthetic word rows (BOS + 1..=4 ids below the vocabulary, avoiding the first 3 ids).
fn words(n: usize, vocab: usize, bos: i64, seed: u64) -> Vec<Vec<i64>> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407)
        | 1;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    (0..n)
        .map(|_| {
            let len = 1 + (next() % 4) as usize;
            let mut row = vec![bos];
            row.extend((0..len).map(|_| 3 + (next() % (vocab as u64 - 3)) as i64));
            row
        })
        .collect()
}

fn batch(rows: &[Vec<i64>], device: Device) -> (Tensor, PoolMasks, usize) {
    let l = rows.iter().map(Vec::len).max().unwrap_or(1);
    let (mut ids, mut att, mut last) = (Vec::new(), Vec::new(), Vec::new());
    for r in rows {
        for j in 0..l {
            ids.push(r.get(j).copied().unwrap_or(0));
            att.push(if j < r.len() { 1f32 } else { 0. });
        }
        last.push(r.len() as i64 - 1);
    }
    let (b, l) = (rows.len() as i64, l as i64);
    let attention = Tensor::from_slice(&att).view([b, l]).to_device(device);
    let masks = PoolMasks {
        content: attention.shallow_clone(),
        attention,
        last_index: Tensor::from_slice(&last).to_device(device),
    };
    (
        Tensor::from_slice(&ids).view([b, l]).to_device(device),
        masks,
        rows.iter().map(Vec::len).sum(),
    )
}

fn sync(device: Device) {
    if let Device::Cuda(n) = device {
        tch::Cuda::synchronize(n as i64);
    }
}

/// Samples this process's GPU memory in `nvidia-smi` while alive; the peak on drop.
struct GpuPeak {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<u64>>,
}

impl GpuPeak {
    fn start() -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s = stop.clone();
        let pid = std::process::id().to_string();
        let handle = std::thread::spawn(move || {
            let mut peak = 0u64;
            while !s.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(o) = std::process::Command::new("nvidia-smi")
                    .args([
                        "--query-compute-apps=pid,used_memory",
                        "--format=csv,noheader,nounits",
                    ])
                    .output()
                {
                    for line in String::from_utf8_lossy(&o.stdout).lines() {
                        let mut it = line.split(',').map(str::trim);
                        if it.next() == Some(pid.as_str()) {
                            if let Some(mib) = it.next().and_then(|m| m.parse::<u64>().ok()) {
                                peak = peak.max(mib << 20);
                            }
                        }
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            peak
        });
        Self {
            stop,
            handle: Some(handle),
        }
    }
    fn finish(mut self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.handle
            .take()
            .map(|h| h.join().unwrap_or(0))
            .unwrap_or(0)
    }
}

/// TLI steps on the (4-bit) base as training runs them: LoRA r 16 on q_proj+v_proj, hidden
/// state 2, batch 8, lexalign-tli's hardest-negative triplet loss and AdamW. Returns the mean
/// step time (the first step is a warm-up unless it is the only one) and the tokens of a step.
fn time_tli_steps(
    model: &mut Decoder,
    cfg: &ModelConfig,
    args: &BenchArgs,
    device: Device,
) -> Result<(f64, usize)> {
    let bos = cfg.bos_ids().first().copied().unwrap_or(1);
    let lcfg = lora::LoraConfig::new(16, 32.0, 0.05, &["q_proj", "v_proj"]);
    lora::attach(model, &lcfg, args.seed)?;
    let params = lora::trainable_params(model);
    let mut adamw = lexalign_tli::AdamW::new(Default::default());
    let tli_rows = words(16, cfg.vocab_size, bos, args.seed + 1);
    let (src_ids, src_m, n_src) = batch(&tli_rows[..8], device);
    let (tgt_ids, tgt_m, n_tgt) = batch(&tli_rows[8..], device);
    let mut step_times = Vec::new();
    for _ in 0..args.tli_steps {
        let t = Instant::now();
        let mut out = model.pooled_segments(
            &[(&src_ids, &src_m), (&tgt_ids, &tgt_m)],
            &[2],
            &[Pooling::Mean],
            true,
        );
        let b = out.pop().expect("targets").remove(0).remove(0);
        let a = out.pop().expect("sources").remove(0).remove(0);
        let loss = lexalign_tli::hardest_negative_triplet(
            &a.to_kind(Kind::Float),
            &b.to_kind(Kind::Float),
            0.4,
        );
        loss.backward();
        adamw.step(&params, 2e-4);
        for (_, p) in &params {
            let mut g = p.grad();
            if g.defined() {
                let _ = g.zero_();
            }
        }
        sync(device);
        step_times.push(t.elapsed().as_secs_f64());
    }
    lora::detach(model);
    let mean = if step_times.len() > 1 {
        step_times[1..].iter().sum::<f64>() / (step_times.len() - 1) as f64
    } else {
        step_times[0]
    };
    Ok((mean, n_src + n_tgt))
}

/// Scan and eval timings of [`run_bench`].
struct ScanTimes {
    scan_tokens: usize,
    scan_s: f64,
    eval_tokens: usize,
    eval_s: f64,
}

/// The pilot scan (every hidden state, `--words` words) and the eval pass (before and after, at
/// hidden state 2), words sorted by length as the pipeline batches them.
fn time_scans(model: &Decoder, cfg: &ModelConfig, args: &BenchArgs, device: Device) -> ScanTimes {
    let _g = tch::no_grad_guard();
    let bos = cfg.bos_ids().first().copied().unwrap_or(1);
    let all: Vec<usize> = (0..=cfg.num_hidden_layers).collect();
    let run = |rows: &[Vec<i64>], layers: &[usize]| -> usize {
        let mut tokens = 0;
        for chunk in rows.chunks(args.batch_size) {
            let (ids, m, n) = batch(chunk, device);
            let out = model.pooled_multi(&ids, &m, layers, &[Pooling::Mean], false);
            // Bring the vectors to the host as the scan does.
            for t in out.into_iter().flatten() {
                let _ = t.to_device(Device::Cpu);
            }
            tokens += n;
        }
        sync(device);
        tokens
    };
    let mut scan_rows = words(args.words, cfg.vocab_size, bos, args.seed + 2);
    scan_rows.sort_by_key(|r| std::cmp::Reverse(r.len()));
    let t = Instant::now();
    let scan_tokens = run(&scan_rows, &all);
    let scan_s = t.elapsed().as_secs_f64();
    let mut eval_rows = words(2 * args.eval_pairs, cfg.vocab_size, bos, args.seed + 3);
    eval_rows.sort_by_key(|r| std::cmp::Reverse(r.len()));
    let t = Instant::now();
    let eval_tokens = run(&eval_rows, &[2]) + run(&eval_rows, &[2]); // before and after
    let eval_s = t.elapsed().as_secs_f64();
    ScanTimes {
        scan_tokens,
        scan_s,
        eval_tokens,
        eval_s,
    }
}

pub fn run_bench(args: &BenchArgs) -> Result<BenchReport> {
    tch::set_num_threads(args.threads as i32);
    let device = args.device.parse::<DeviceArg>()?.resolve()?;
    let (kind, note) = compute_kind(&args.dtype, device)?;
    if let Some(n) = note {
        log::info!("{n}");
    }
    let quant: QuantMode = args.quant.parse()?;
    let spec = args
        .random_weights
        .as_deref()
        .context("give --random-weights NAME|CONFIG")?;
    let (label, cfg) = bench_config(spec)?;
    let gpu = matches!(device, Device::Cuda(_)).then(GpuPeak::start);
    let t = Instant::now();
    let src = RandomSource::new(&cfg, args.seed, device);
    let opts = LoadOptions {
        device,
        kind,
        quant,
        ..LoadOptions::default()
    }; // bnb kernel: auto, by device
    let mut model = build(&cfg, &src, &opts).context("building the random-weight model")?;
    sync(device);
    let build_s = t.elapsed().as_secs_f64();
    let (linear, other) = model.resident_weight_bytes();
    let dense_bytes = if kind == Kind::Float { 4 } else { 2 };
    let proj = project(&cfg, quant, false, dense_bytes);
    // `lexalign memory` counts the weights; each 4-bit tensor here also holds its 16-value code
    // book on the device (64 bytes), which the projection leaves out as shared in practice.
    let code_books = if quant == QuantMode::None {
        0
    } else {
        (7 * cfg.num_hidden_layers * lexalign_quant::quantized_bytes(64, 64, false).code_books)
            as u64
    };
    let (tli_step_s, tli_tokens_per_step) = time_tli_steps(&mut model, &cfg, args, device)?;
    // Scans and evaluations dequantize the 4-bit weights once, as the pipeline does.
    if quant != QuantMode::None {
        model.dequantize_4bit();
    }
    let timed = time_scans(&model, &cfg, args, device);
    let (peak, peak_kind) = match gpu {
        Some(g) => (Some(g.finish()), "cuda (nvidia-smi, process)"),
        None => (peak_rss_bytes(), "cpu peak RSS"),
    };
    Ok(BenchReport {
        config: label,
        device: device_name(device),
        dtype: kind_name(kind).into(),
        quant: quant.name().into(),
        build_s,
        resident_weight_bytes: linear + other,
        projected_weight_bytes: proj.lexalign_total(),
        code_book_bytes: code_books,
        scan_words: args.words,
        scan_tokens: timed.scan_tokens,
        scan_s: timed.scan_s,
        tli_step_s,
        tli_tokens_per_step,
        eval_s: timed.eval_s,
        eval_tokens: timed.eval_tokens,
        peak_memory_bytes: peak,
        peak_memory_kind: peak_kind,
    })
}

impl BenchReport {
    /// Whether the built model's resident weight bytes equal `lexalign memory`'s projection
    /// (plus the per-tensor code books).
    pub fn agrees_with_memory(&self) -> bool {
        self.resident_weight_bytes == self.projected_weight_bytes + self.code_book_bytes
    }
}

pub fn print_report(r: &BenchReport) {
    println!(
        "bench {} random weights on {} ({}, quant {})",
        r.config, r.device, r.dtype, r.quant
    );
    println!("  build (draw + quantize + upload): {:.2} s", r.build_s);
    let agree = if r.agrees_with_memory() {
        "agree"
    } else {
        "DIFFER"
    };
    println!(
        "  resident weights: {} bytes ({}); `lexalign memory` projection {} bytes + {} bytes of 4-bit code books: {agree}",
        r.resident_weight_bytes,
        gib(r.resident_weight_bytes),
        r.projected_weight_bytes,
        r.code_book_bytes
    );
    println!(
        "  pilot scan: {} words, {} tokens, all hidden states: {:.2} s, {:.0} tokens/s, {:.0} words/s",
        r.scan_words,
        r.scan_tokens,
        r.scan_s,
        r.scan_tokens as f64 / r.scan_s,
        r.scan_words as f64 / r.scan_s
    );
    println!(
        "  TLI step (hidden state 2, batch 8, LoRA r16 q/v, fwd+bwd+update): {:.3} s, {:.0} tokens/s",
        r.tli_step_s,
        r.tli_tokens_per_step as f64 / r.tli_step_s
    );
    println!(
        "  eval pass (before + after, hidden state 2): {} tokens in {:.2} s, {:.0} tokens/s",
        r.eval_tokens,
        r.eval_s,
        r.eval_tokens as f64 / r.eval_s
    );
    match r.peak_memory_bytes {
        Some(b) => println!("  peak memory ({}): {}", r.peak_memory_kind, gib(b)),
        None => println!("  peak memory: not measurable here"),
    }
}
