//! `lexalign bench --model M --case words|load|scan|tli-step|generate`: one timed piece of real work on a
//! real model, printed as one JSON line (`BenchLine`) for `cargo xtask bench`, which runs these
//! beside the transformers/peft anchors under `bench/` on the same word file.
//!
//! - `words`: writes the benchmark's word file (one word a line): `--source pairs` the paper's
//!   623 training pairs as source, target lines (1,246 words; the TLI step reads lines 2i, 2i+1
//!   as pair i); `--source lexicons` the first `--words N` distinct words of kengdic (Korean
//!   headwords, then English glosses), then FreeDict sw-en (Swahili, English), then CLDR (ko, sw,
//!   en names), in file order; past the 7,025 distinct words they hold, the list repeats them.
//! - `load`: model load time, resident weight bytes, peak RSS.
//! - `scan`: every word of `--word-file` through `--layers`, mean pooling (BOS included, the
//!   pilot's), batches of one token length each (`batch_plan`, about `--batch-size` words' worth of tokens);
//!   the vectors are kept as the scan keeps them (in temp files past 512 MiB) and read back.
//! - `tli-step`: LoRA r 16 q_proj+v_proj, hardest-negative triplet loss at `--layer`, batch 8,
//!   forward + backward + AdamW; one warm-up step, then the median of `--tli-steps`.
//! - `scan-metrics`: the work of `lexalign scan` on the word file's pairs; `peak`: a large f32 or
//!   bf16 matmul (`--dtype`), no model work (`bench_flops`).
//! - `generate`: greedy generation, batch 1: a 32-token prompt (the word file's words joined by
//!   spaces), 64 new tokens through the KV cache; the median of 3 runs after a warm-up.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use lexalign_model::{lora, Pooling, QuantMode};

use crate::bench_cmd::BenchArgs;
use crate::memory::peak_rss_bytes;
use crate::model_args::ModelArgs;

/// The flags of `--model ... --case ...` (defaults: the pilot's settings).
#[derive(Debug, Clone, Default, Args)]
pub struct CaseArgs {
    /// words | load | scan | scan-metrics | tli-step | generate | peak (with --model).
    #[arg(long, value_parser = ["words", "load", "scan", "scan-metrics", "tli-step", "generate", "peak"])]
    pub case: Option<String>,
    /// `--case words`: pairs (the paper's 623 training pairs) | lexicons.
    #[arg(long, default_value = "pairs", value_parser = ["pairs", "lexicons"])]
    pub source: String,
    /// `--case words`: the word file to write.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// `--case scan|tli-step`: the word file (one word a line).
    #[arg(long)]
    pub word_file: Option<PathBuf>,
    /// `--case scan`: `all` or a comma list of hidden states.
    #[arg(long, default_value = "all", value_parser = crate::model_args::parse_layer_spec)]
    pub layers: String,
    /// `--case tli-step`: the hidden state the loss reads.
    #[arg(long, default_value_t = 2, value_parser = crate::model_args::at_least_one)]
    pub layer: usize,
    /// Keep 4-bit weights packed during the scan (dequantized on every forward).
    #[arg(long)]
    pub low_memory: bool,
    #[arg(long)]
    pub paper_data: Option<PathBuf>,
    #[arg(long)]
    pub lexicon_dir: Option<PathBuf>,
}

pub use lexalign_run::BenchLine;

/// Reads a word file (one word a line, empty lines refused).
pub fn read_words(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read word file {}", path.display()))?;
    let words: Vec<String> = text.lines().map(str::to_string).collect();
    if let Some(i) = words.iter().position(|w| w.trim().is_empty()) {
        bail!(
            "{} line {}: empty word (one word a line)",
            path.display(),
            i + 1
        );
    }
    if words.is_empty() {
        bail!("{}: no words", path.display());
    }
    Ok(words)
}

/// The benchmark's word list (see the module doc).
pub fn word_list(
    source: &str,
    n: usize,
    paper_data: Option<&Path>,
    lexicon_dir: Option<&Path>,
) -> Result<Vec<String>> {
    match source {
        "pairs" => {
            let data = lexalign_data::PaperData::locate(paper_data)
                .context("the paper's data was not found")?;
            data.verify()?;
            let pairs = data.training_pairs()?.pairs;
            Ok(pairs
                .into_iter()
                .flat_map(|p| [p.source, p.target])
                .collect())
        }
        "lexicons" => {
            let lex = lexalign_data::Lexicons::locate(lexicon_dir)?;
            let mut seen = std::collections::HashSet::new();
            let mut out = Vec::new();
            for l in [
                lex.kengdic()?,
                lex.freedict_swh_eng()?,
                lex.cldr_ko_en()?,
                lex.cldr_sw_en()?,
            ] {
                let (s, t): (Vec<String>, Vec<String>) =
                    l.pairs.into_iter().map(|p| (p.source, p.target)).unzip();
                for w in s.into_iter().chain(t) {
                    if out.len() == n {
                        return Ok(out);
                    }
                    if !w.trim().is_empty() && !w.contains('\n') && seen.insert(w.clone()) {
                        out.push(w);
                    }
                }
            }
            // The lexicons hold about 7,000 distinct words: larger lists repeat them in order
            // (each row is still embedded, so the work grows as with new words of that length mix).
            eprintln!(
                "the lexicons hold {} distinct words; the list of {n} repeats them in order",
                out.len()
            );
            let distinct = out.len();
            anyhow::ensure!(distinct > 0, "the lexicons hold no words");
            for i in distinct..n {
                out.push(out[i % distinct].clone());
            }
            Ok(out)
        }
        other => bail!("--source `{other}`: give pairs or lexicons"),
    }
}

fn model_args(a: &BenchArgs, model: &Path) -> ModelArgs {
    ModelArgs {
        model: Some(model.to_path_buf()),
        device: a.device.clone(),
        dtype: a.dtype.clone(),
        quant: Some(a.quant.clone()),
        double_quant: false,
        low_memory: a.case.low_memory,
        threads: a.threads,
        bnb_kernel: "auto".into(),
        model_id: None,
        model_sha256: None,
    }
}

/// Runs `--case` on `--model`; `None` for `words` (it writes a file and prints nothing).
pub fn run_case(a: &BenchArgs, model: &Path, case: &str) -> Result<Option<BenchLine>> {
    if case == "words" {
        let out = a
            .case
            .out
            .as_ref()
            .context("--case words needs --out FILE")?;
        let words = word_list(
            &a.case.source,
            a.words,
            a.case.paper_data.as_deref(),
            a.case.lexicon_dir.as_deref(),
        )?;
        let mut text = words.join("\n");
        text.push('\n');
        lexalign_run::write_atomic(out, text.as_bytes())?;
        eprintln!("wrote {} words to {}", words.len(), out.display());
        return Ok(None);
    }
    if case == "peak" {
        return Ok(Some(crate::bench_flops::peak_case(a)?));
    }
    let words = match (case, &a.case.word_file) {
        ("load", _) => Vec::new(),
        (_, Some(f)) => read_words(f)?,
        (_, None) => bail!("--case {case} needs --word-file FILE (write one with --case words)"),
    };
    let t = Instant::now();
    let margs = model_args(a, model);
    let layer_cap = match case {
        "tli-step" => Some(a.case.layer),
        _ => None,
    };
    let mut run = margs.load_with_head(QuantMode::None, layer_cap, case == "generate")?;
    let load_s = t.elapsed().as_secs_f64();
    let (lin, other) = run.model.model.resident_weight_bytes();
    let mut line = BenchLine {
        tool: "lexalign".into(),
        case: case.into(),
        model: model
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
        quant: run.quant.name().into(),
        threads: a.threads,
        load_s,
        resident_weight_bytes: lin + other,
        ..Default::default()
    };
    match case {
        "load" => line.seconds = load_s,
        "scan" => {
            run.dequantize_for_inference(a.case.low_memory);
            scan_case(&run.model, &words, a, &mut line)?
        }
        "scan-metrics" => {
            run.dequantize_for_inference(a.case.low_memory);
            crate::bench_flops::scan_metrics_case(&run.model, &words, a, &mut line)?
        }
        "tli-step" => tli_case(&mut run.model, &words, a, &mut line)?,
        "generate" => {
            run.dequantize_for_inference(false);
            generate_case(&run.model, &words, &mut line)?
        }
        other => bail!(
            "--case `{other}`: give words, load, scan, scan-metrics, tli-step, generate or peak"
        ),
    }
    line.peak_rss_bytes = peak_rss_bytes().unwrap_or(0);
    Ok(Some(line))
}

fn scan_case(
    model: &lexalign_model::LoadedModel,
    words: &[String],
    a: &BenchArgs,
    line: &mut BenchLine,
) -> Result<()> {
    let n_states = model.model.num_hidden_states();
    let layers = lexalign_scan::parse_layers(&a.case.layers, n_states)?;
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    let (tokens, padded) = model.padding(&refs, a.batch_size)?;
    let t = Instant::now();
    let out = model.embed_multi(&refs, &layers, &[Pooling::Mean], a.batch_size, |_| {})?;
    line.seconds = t.elapsed().as_secs_f64();
    // Read back as the scan's metrics do (one hidden state at a time), so that the peak RSS is
    // the scan's, spilled vectors included.
    for slot in 0..layers.len() {
        drop(out[0].vectors(slot)?);
    }
    drop(out);
    line.words = words.len();
    line.layers = layers.len();
    line.tokens = tokens;
    line.padded_tokens = padded;
    let blocks = layers.iter().max().copied().unwrap_or(0);
    line.flops = crate::bench_flops::forward_flops(&model.model.cfg, blocks, tokens);
    Ok(())
}

fn tli_case(
    model: &mut lexalign_model::LoadedModel,
    words: &[String],
    a: &BenchArgs,
    line: &mut BenchLine,
) -> Result<()> {
    if words.len() < 16 {
        bail!(
            "the TLI step needs 16 words (8 pairs, lines 2i and 2i+1); the word file has {}",
            words.len()
        );
    }
    let pairs: Vec<lexalign_data::Pair> = words
        .chunks(2)
        .take(8)
        .map(|c| lexalign_data::Pair::new(&c[0], &c[1]))
        .collect();
    let batch: Vec<&lexalign_data::Pair> = pairs.iter().collect();
    let cfg = lexalign_tli::TrainConfig {
        target_layer: a.case.layer,
        ..Default::default()
    };
    let dec = &mut model.model;
    dec.dequantize_4bit();
    lora::attach(dec, &cfg.lora(), cfg.seed)?;
    let params = lora::trainable_params(dec);
    let mut adamw = lexalign_tli::AdamW::new(cfg.adamw());
    let mut times = Vec::new();
    for step in 0..=a.tli_steps {
        let t = Instant::now();
        lexalign_model::tch::manual_seed(step as i64);
        let loss = lexalign_tli::train::batch_loss(dec, &model.tokenizer, &batch, &cfg, true)?;
        let l = loss.double_value(&[]);
        anyhow::ensure!(l.is_finite(), "the benchmark's TLI loss became {l}");
        loss.backward();
        adamw.step(&params, cfg.lr);
        for (_, p) in &params {
            let mut g = p.grad();
            if g.defined() {
                let _ = g.zero_();
            }
        }
        if step > 0 {
            times.push(t.elapsed().as_secs_f64());
        }
    }
    times.sort_by(f64::total_cmp);
    line.seconds = times[times.len() / 2];
    line.words = 16;
    line.layers = a.case.layer;
    let batch_words: Vec<&str> = words.iter().take(16).map(String::as_str).collect();
    line.tokens = model.padding(&batch_words, 16)?.0;
    line.flops = crate::bench_flops::tli_step_flops(&model.model.cfg, a.case.layer, line.tokens);
    Ok(())
}

/// Prompt tokens and new tokens of `--case generate` (batch 1, greedy, no end-of-sequence stop).
pub const GENERATE_PROMPT_TOKENS: usize = 32;
pub const GENERATE_NEW_TOKENS: usize = 64;
/// Timed runs of `--case generate` (after a 4-token warm-up); the median is reported.
const GENERATE_REPS: usize = 3;

/// Greedy generation: the first 32 tokens of the word file's words joined by spaces, then 64 new
/// tokens through the KV cache; `tokens` is the new tokens of one run, `words` the prompt's tokens.
fn generate_case(
    model: &lexalign_model::LoadedModel,
    words: &[String],
    line: &mut BenchLine,
) -> Result<()> {
    let mut ids = model.tokenizer.encode(&words.join(" "))?;
    ids.truncate(GENERATE_PROMPT_TOKENS);
    let run = |n: usize| -> Result<()> {
        let got = model
            .model
            .generate(&ids, &lexalign_model::GenerateConfig::greedy(n, vec![]))?;
        anyhow::ensure!(got.len() == n, "generated {} tokens, not {n}", got.len());
        Ok(())
    };
    run(4)?;
    let mut times = Vec::new();
    for _ in 0..GENERATE_REPS {
        let t = Instant::now();
        run(GENERATE_NEW_TOKENS)?;
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    line.seconds = times[times.len() / 2];
    line.words = ids.len();
    line.tokens = GENERATE_NEW_TOKENS;
    line.flops =
        crate::bench_flops::generate_flops(&model.model.cfg, ids.len(), GENERATE_NEW_TOKENS);
    Ok(())
}

/// `--model` resolved (a path or an embedded model's name).
pub fn resolve(model: &Path) -> Result<PathBuf> {
    lexalign_gguf::resolve_model(Some(model))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys `cargo xtask bench` (xtask/src/bench/report.rs) and the anchors
    /// (bench/anchor_common.py) read: the three must agree.
    #[test]
    fn the_json_line_has_the_fields_xtask_and_the_anchors_use() {
        let line = BenchLine {
            tool: "lexalign".into(),
            case: "scan".into(),
            seconds: 1.5,
            tokens: 7,
            ..Default::default()
        };
        let v: serde_json::Value = serde_json::from_str(&line.json_line().unwrap()).unwrap();
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        let want = [
            "case",
            "flops",
            "layers",
            "load_s",
            "model",
            "padded_tokens",
            "peak_rss_bytes",
            "quant",
            "resident_weight_bytes",
            "seconds",
            "threads",
            "tokens",
            "tool",
            "words",
        ];
        assert_eq!(keys, want);
        let anchors = include_str!("../../../bench/anchor_common.py");
        for k in want {
            assert!(
                anchors.contains(&format!("\"{k}\"")),
                "bench/anchor_common.py does not write `{k}`"
            );
        }
        assert_eq!(
            (v["seconds"].as_f64(), v["tokens"].as_u64()),
            (Some(1.5), Some(7))
        );
    }

    #[test]
    fn word_files_refuse_empty_lines() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("w.txt");
        std::fs::write(&f, "물\n\nwater\n").unwrap();
        let err = format!("{:#}", read_words(&f).unwrap_err());
        assert!(err.contains("line 2"), "{err}");
        std::fs::write(&f, "물\nwater\n").unwrap();
        assert_eq!(read_words(&f).unwrap(), vec!["물", "water"]);
    }
}
