//! `lexalign generate`: continuations of prompts, greedy or sampled, with or without a peft
//! adapter; `generations.jsonl` (lexalign-data's `GenerationRow`, input order), `generations.md`
//! (a readable table) and `provenance.json`. Every input is checked before the model loads.

use crate::eval_cmd::check_adapter_dir;
use crate::model_args::{at_least_one, ModelArgs};
use crate::text_input::{read_lines, tokenize_all, unescape_prompt};
use anyhow::{bail, Result};
use clap::Args;
use lexalign_data::lm_rows::{generations_jsonl, GenerationRow};
use lexalign_model::{GenerateConfig, QuantMode, Sampling};
use std::path::PathBuf;

#[derive(Debug, Clone, Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// One prompt.
    #[arg(long, conflicts_with = "prompts", required_unless_present = "prompts")]
    pub prompt: Option<String>,
    /// A UTF-8 file with one prompt per line; `\n` inside a line stands for a newline.
    #[arg(long)]
    pub prompts: Option<PathBuf>,
    /// Tokens to generate at most per prompt (fewer when an end-of-sequence token comes first).
    #[arg(long, value_parser = at_least_one)]
    pub max_new_tokens: usize,
    /// Arg-max decoding (the default when no sampling flag is given).
    #[arg(long, conflicts_with_all = ["temperature", "top_p", "top_k", "seed"])]
    pub greedy: bool,
    /// Sampling temperature (> 0) [default 1].
    #[arg(long, value_parser = parse_temperature)]
    pub temperature: Option<f64>,
    /// Nucleus sampling: keep the most likely tokens up to this mass, in (0, 1] [default 1: off].
    #[arg(long, value_parser = parse_top_p)]
    pub top_p: Option<f64>,
    /// Keep only the K most likely tokens [default 0: off].
    #[arg(long)]
    pub top_k: Option<usize>,
    /// Seed of the sampling draws [default 0].
    #[arg(long)]
    pub seed: Option<u64>,
    /// peft adapter folder (adapter_config.json + adapter_model.safetensors), applied unmerged.
    #[arg(long)]
    pub adapter: Option<PathBuf>,
    /// Output folder: generations.jsonl, generations.md, provenance.json.
    #[arg(long)]
    pub out: PathBuf,
}

/// `--temperature`: a finite number above 0.
pub fn parse_temperature(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(t) if t.is_finite() && t > 0.0 => Ok(t),
        Ok(t) => Err(format!(
            "{t} is not above 0 (use --greedy for arg-max decoding)"
        )),
        Err(_) => Err(format!("`{s}` is not a number")),
    }
}

/// `--top-p`: a number in (0, 1].
pub fn parse_top_p(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(p) if p.is_finite() && p > 0.0 && p <= 1.0 => Ok(p),
        Ok(p) => Err(format!("{p} is outside (0, 1] (1 keeps every token)")),
        Err(_) => Err(format!("`{s}` is not a number")),
    }
}

impl GenerateArgs {
    /// Greedy unless a sampling flag is given; sampling defaults as transformers' (T 1, no top-k/p).
    pub fn sampling(&self) -> Option<Sampling> {
        let any = self.temperature.is_some()
            || self.top_p.is_some()
            || self.top_k.is_some()
            || self.seed.is_some();
        (any && !self.greedy).then(|| Sampling {
            temperature: self.temperature.unwrap_or(1.0),
            top_k: self.top_k.unwrap_or(0),
            top_p: self.top_p.unwrap_or(1.0),
            seed: self.seed.unwrap_or(0),
        })
    }

    /// The prompts, in input order (`--prompt`, or the lines of `--prompts` unescaped).
    pub fn prompts(&self) -> Result<Vec<String>> {
        match (&self.prompt, &self.prompts) {
            (Some(p), _) if p.trim().is_empty() => bail!("--prompt is empty: give some text"),
            (Some(p), _) => Ok(vec![p.clone()]),
            (None, Some(f)) => Ok(read_lines(f, "--prompts")?
                .iter()
                .map(|l| unescape_prompt(l))
                .collect()),
            (None, None) => bail!("give --prompt TEXT or --prompts FILE"),
        }
    }
}

/// Runs the command; returns the rows written.
pub fn run_generate(args: &GenerateArgs, stage: &str) -> Result<Vec<GenerationRow>> {
    let prompts = args.prompts()?;
    let sampling = args.sampling();
    if let Some(s) = &sampling {
        s.validate()?;
    }
    crate::stage_io::prepare_out_dir(&args.out)?;
    if let Some(a) = &args.adapter {
        check_adapter_dir(a)?;
    }
    let path = args.model.model_path()?;
    let (tok, cfg) = lexalign_model::load::load_tokenizer(&path)?;
    let room = cfg
        .max_position_embeddings
        .saturating_sub(args.max_new_tokens);
    let hint = format!(
        " (the context is {} tokens, --max-new-tokens {})",
        cfg.max_position_embeddings, args.max_new_tokens
    );
    let prompt_ids = tokenize_all(&tok, &prompts, "prompt", 1, room, &hint)?;
    let gen = GenerateConfig {
        max_new_tokens: args.max_new_tokens,
        sampling,
        eos_ids: tok.eos_ids.clone(),
    };
    gen.validate()?;

    let mut run = args.model.load_with_head(QuantMode::None, None, true)?;
    run.dequantize_for_inference(false);
    if let Some(a) = &args.adapter {
        lexalign_model::lora::load_peft(&mut run.model.model, a, false)?;
    }
    let bar = lexalign_run::progress_bar(prompts.len() as u64, "generate");
    let started = std::time::Instant::now();
    let mut rows = Vec::with_capacity(prompts.len());
    let mut new_tokens = 0;
    for (prompt, ids) in prompts.iter().zip(prompt_ids) {
        let new_ids = run.model.model.generate(&ids, &gen)?;
        new_tokens += new_ids.len();
        let text = decode(&run.model.tokenizer, &new_ids)?;
        rows.push(GenerationRow {
            prompt: prompt.clone(),
            prompt_ids: ids,
            new_ids,
            text,
        });
        bar.inc(1);
    }
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    lexalign_run::write_atomic(
        args.out.join("generations.jsonl"),
        generations_jsonl(&rows)?,
    )?;
    lexalign_run::write_atomic(args.out.join("generations.md"), markdown(&rows))?;
    let mut prov = run
        .provenance(stage)?
        .setting("generate", &gen)?
        .setting("new_tokens", new_tokens)?
        .setting("generate_seconds", secs)?;
    if let Some(s) = &sampling {
        prov = prov.seed(s.seed);
    }
    if let Some(f) = &args.prompts {
        prov = prov.data_file(f)?;
    }
    if let Some(a) = &args.adapter {
        prov = prov
            .data_file(a.join(lexalign_model::lora::ADAPTER_WEIGHTS))?
            .setting("adapter", a.display().to_string())?;
    }
    prov.write(&args.out)?;
    Ok(rows)
}

/// Token ids to text, special tokens skipped (`tokenizer.decode(ids, skip_special_tokens=True)`).
pub fn decode(tok: &lexalign_model::tokenize::WordTokenizer, ids: &[i64]) -> Result<String> {
    let ids: Vec<u32> = ids.iter().map(|&i| i as u32).collect();
    tok.inner
        .decode(&ids, true)
        .map_err(|e| anyhow::anyhow!("cannot decode the generated tokens: {e}"))
}

/// `generations.md`: one table row per prompt (newlines as `<br>`, `|` escaped).
pub fn markdown(rows: &[GenerationRow]) -> String {
    let cell = |s: &str| {
        s.replace('|', "\\|")
            .replace("\r\n", "<br>")
            .replace('\n', "<br>")
    };
    let mut out = String::from("| # | prompt | continuation | new tokens |\n|---|---|---|---|\n");
    for (i, r) in rows.iter().enumerate() {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            i + 1,
            cell(&r.prompt),
            cell(&r.text),
            r.new_ids.len()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_parsers_and_table() {
        assert!(parse_temperature("0").unwrap_err().contains("not above 0"));
        assert!(parse_temperature("-1").is_err() && parse_temperature("nan").is_err());
        assert_eq!(parse_top_p("1"), Ok(1.0));
        assert!(parse_top_p("0").unwrap_err().contains("outside (0, 1]"));
        assert!(parse_top_p("1.5").is_err());
        let r = GenerationRow {
            prompt: "a|b\nc".into(),
            prompt_ids: vec![1],
            new_ids: vec![2, 3],
            text: "d".into(),
        };
        assert!(markdown(&[r]).contains("| 1 | a\\|b<br>c | d | 2 |"));
    }
}
