//! `lexalign lm-loss`: the language-model loss of held-out text, one text per line, with or
//! without a peft adapter: `lm_loss.csv` (lexalign-data's `LmLossRow`: nats over the predicted
//! tokens and the UTF-8 bytes of each line), `summary.json` (mean NLL per token and bits per UTF-8
//! byte, comparable across tokenizers and languages) and `provenance.json`.

use crate::eval_cmd::check_adapter_dir;
use crate::model_args::ModelArgs;
use crate::stage_io::write_summary;
use crate::text_input::{read_lines, tokenize_all};
use anyhow::Result;
use clap::Args;
use lexalign_data::lm_rows::{lm_loss_csv, LmLossRow};
use lexalign_model::QuantMode;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Args)]
pub struct LmLossArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// A UTF-8 file with one text per line.
    #[arg(long)]
    pub text: PathBuf,
    /// peft adapter folder (adapter_config.json + adapter_model.safetensors), applied unmerged.
    #[arg(long)]
    pub adapter: Option<PathBuf>,
    /// Output folder: lm_loss.csv, summary.json, provenance.json.
    #[arg(long)]
    pub out: PathBuf,
}

/// The totals over every line.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LmLossSummary {
    pub texts: usize,
    pub tokens: usize,
    pub bytes: usize,
    pub nll_sum: f64,
    /// Total nats / predicted tokens.
    pub mean_nll_per_token: f64,
    /// Total nats / ln 2 / UTF-8 bytes.
    pub bits_per_byte: f64,
}

impl LmLossSummary {
    pub fn of(rows: &[LmLossRow]) -> Self {
        let tokens: usize = rows.iter().map(|r| r.tokens).sum();
        let bytes: usize = rows.iter().map(|r| r.bytes).sum();
        let nll_sum: f64 = rows.iter().map(|r| r.nll_sum).sum();
        Self {
            texts: rows.len(),
            tokens,
            bytes,
            nll_sum,
            mean_nll_per_token: nll_sum / tokens.max(1) as f64,
            bits_per_byte: nll_sum / std::f64::consts::LN_2 / bytes.max(1) as f64,
        }
    }
}

/// Runs the command; returns the rows and their summary.
pub fn run_lm_loss(args: &LmLossArgs, stage: &str) -> Result<(Vec<LmLossRow>, LmLossSummary)> {
    let texts = read_lines(&args.text, "--text")?;
    crate::stage_io::prepare_out_dir(&args.out)?;
    if let Some(a) = &args.adapter {
        check_adapter_dir(a)?;
    }
    let path = args.model.model_path()?;
    let (tok, cfg) = lexalign_model::load::load_tokenizer(&path)?;
    let hint = format!(
        " (--text {}; the loss predicts every token after the first, within the model's context)",
        args.text.display()
    );
    let ids = tokenize_all(&tok, &texts, "line", 2, cfg.max_position_embeddings, &hint)?;

    let mut run = args.model.load_with_head(QuantMode::None, None, true)?;
    run.dequantize_for_inference(false);
    if let Some(a) = &args.adapter {
        lexalign_model::lora::load_peft(&mut run.model.model, a, false)?;
    }
    let bar = lexalign_run::progress_bar(texts.len() as u64, "lm-loss");
    let mut rows = Vec::with_capacity(texts.len());
    for (text, ids) in texts.iter().zip(&ids) {
        let l = run.model.model.text_nll(ids)?;
        rows.push(LmLossRow {
            text: text.clone(),
            tokens: l.tokens,
            nll_sum: l.nll_sum,
            bytes: text.len(),
        });
        bar.inc(1);
    }
    bar.finish_and_clear();
    let summary = LmLossSummary::of(&rows);
    lexalign_run::write_atomic(args.out.join("lm_loss.csv"), lm_loss_csv(&rows)?)?;
    let mut prov = run.provenance(stage)?.data_file(&args.text)?;
    let mut fields =
        serde_json::json!({ "lm_loss": summary, "text_file": args.text.display().to_string() });
    if let Some(a) = &args.adapter {
        prov = prov
            .data_file(a.join(lexalign_model::lora::ADAPTER_WEIGHTS))?
            .setting("adapter", a.display().to_string())?;
        fields["adapter"] = serde_json::json!(a.display().to_string());
    }
    write_summary(&args.out, &run, &prov, fields)?;
    prov.write(&args.out)?;
    Ok((rows, summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_is_per_token_and_per_byte() {
        let rows = [
            LmLossRow {
                text: "ab".into(),
                tokens: 2,
                nll_sum: 3.0,
                bytes: 2,
            },
            LmLossRow {
                text: "사랑".into(),
                tokens: 1,
                nll_sum: 1.5,
                bytes: 6,
            },
        ];
        let s = LmLossSummary::of(&rows);
        assert_eq!((s.texts, s.tokens, s.bytes), (2, 3, 8));
        assert!((s.mean_nll_per_token - 1.5).abs() < 1e-12);
        assert!((s.bits_per_byte - 4.5 / std::f64::consts::LN_2 / 8.0).abs() < 1e-12);
    }
}
