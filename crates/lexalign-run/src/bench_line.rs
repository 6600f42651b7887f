//! The benchmark's result line: what one timed run measured, printed as one JSON line by
//! `lexalign bench --case` and by the transformers/peft anchors (`bench/anchor_common.py`), and
//! parsed by `cargo xtask bench`. Here, in a pure crate, so the writer and the reader share it.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What one `--case` measured (one JSON line on stdout; xtask parses it).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct BenchLine {
    pub tool: String,
    pub case: String,
    pub model: String,
    pub quant: String,
    pub threads: usize,
    pub load_s: f64,
    /// Seconds of the timed work (scan: all batches; tli-step: the median step).
    pub seconds: f64,
    pub words: usize,
    pub layers: usize,
    /// Real tokens, and tokens once each batch is padded to its longest row.
    pub tokens: usize,
    pub padded_tokens: usize,
    pub resident_weight_bytes: u64,
    pub peak_rss_bytes: u64,
    /// FLOPs of the timed work counted from the model's shapes and the tokens processed
    /// (`lexalign_stages::bench_flops`); 0 where not counted (the anchors leave it out: the
    /// same work is counted once, on lexalign's side).
    #[serde(default)]
    pub flops: f64,
}

impl BenchLine {
    /// The line `cargo xtask bench` parses.
    pub fn json_line(&self) -> Result<String> {
        Ok(serde_json::to_string(self)?)
    }
}

/// The last line of `stdout` that is a JSON object, as a [`BenchLine`]; `what` names the run.
pub fn parse_bench_line(stdout: &str, what: &str) -> Result<BenchLine> {
    let text = stdout
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('{'))
        .with_context(|| format!("{what}: no JSON line in its output"))?;
    let v: Value =
        serde_json::from_str(text).with_context(|| format!("{what}: bad JSON line `{text}`"))?;
    let s = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .with_context(|| format!("{what}: field `{k}` missing or not a string"))
    };
    let f = |k: &str| -> Result<f64> {
        let x = v
            .get(k)
            .and_then(Value::as_f64)
            .with_context(|| format!("{what}: field `{k}` missing or not a number"))?;
        if !x.is_finite() || x < 0.0 {
            bail!("{what}: field `{k}` is {x}, not a finite non-negative number");
        }
        Ok(x)
    };
    let u = |k: &str| -> Result<u64> {
        v.get(k)
            .and_then(Value::as_u64)
            .with_context(|| format!("{what}: field `{k}` missing or not a whole number"))
    };
    Ok(BenchLine {
        tool: s("tool")?,
        case: s("case")?,
        model: s("model")?,
        quant: s("quant")?,
        threads: u("threads")? as usize,
        load_s: f("load_s")?,
        seconds: f("seconds")?,
        words: u("words")? as usize,
        layers: u("layers")? as usize,
        tokens: u("tokens")? as usize,
        padded_tokens: u("padded_tokens")? as usize,
        resident_weight_bytes: u("resident_weight_bytes")?,
        peak_rss_bytes: u("peak_rss_bytes")?,
        flops: if v.get("flops").is_some() {
            f("flops")?
        } else {
            0.0
        },
    })
}
