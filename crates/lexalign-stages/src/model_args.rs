//! `--model --device --dtype --quant --double-quant --bnb-kernel --model-id --threads`.

use anyhow::{Context, Result};
use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::Args;
use lexalign_model::device::{compute_kind, device_name, kind_name};
use lexalign_model::{DeviceArg, LoadOptions, LoadedModel, Pooling, QuantMode};
use lexalign_run::Provenance;
use std::path::PathBuf;

#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// HF checkpoint folder (config.json + safetensors, sharded or not) or a .gguf file.
    /// Or the name of an embedded model set up by `cargo xtask setup` (smollm2-135m, gemma3-270m, qwen2.5-coder-0.5b),
    /// or a Hugging Face repository id (ORG/NAME) already in the local HF cache ($HF_HUB_CACHE,
    /// $HF_HOME/hub, ~/.cache/huggingface/hub; never downloaded).
    /// Default: the embedded SmolLM2-135M-Instruct GGUF.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// auto | cpu | cuda | cuda:N
    #[arg(long, default_value = "auto", value_parser = parse_device)]
    pub device: String,
    /// Compute dtype: auto (bf16 on GPU, f32 on CPU) | f32 | bf16 | f16. An explicit bf16 runs
    /// bf16 on the CPU too; f16 on the CPU falls back to f32 and the provenance says so.
    #[arg(long, alias = "compute-dtype", default_value = "auto", value_parser = dtype_parser())]
    pub dtype: String,
    /// 4-bit quantization of the decoder-block linear layers: none | nf4 | fp4 (bitsandbytes-compatible).
    #[arg(long, value_parser = ["none", "nf4", "fp4"])]
    pub quant: Option<String>,
    /// Double-quantize the 4-bit block scales (bitsandbytes' `bnb_4bit_use_double_quant`).
    #[arg(long)]
    pub double_quant: bool,
    /// Keep 4-bit weights packed during scans and evaluations (dequantized on every forward:
    /// less memory, slower). By default they are dequantized once after loading.
    #[arg(long)]
    pub low_memory: bool,
    /// Whose 4-bit rounding to reproduce: auto (bitsandbytes' CUDA kernel on a GPU, its CPU
    /// path otherwise) | cpu | cuda. `cuda` on a CPU reproduces a GPU run's bytes.
    #[arg(long, default_value = "auto", value_parser = ["auto", "cpu", "cuda"])]
    pub bnb_kernel: String,
    /// Assert the model's identity (a registry id such as lugha-llama-8b-wura) for a copy the
    /// registry cannot recognise; recorded as asserted. Refused if its configuration differs.
    #[arg(long)]
    pub model_id: Option<String>,
    /// The model's SHA-256, already computed by the caller (`cargo xtask reproduce` hashes an
    /// 8B checkpoint once and passes it to every stage).
    #[arg(long, hide = true, value_parser = parse_sha256)]
    pub model_sha256: Option<String>,
    /// Torch intra-op threads (recorded; fixed for reproducible CPU numbers).
    #[arg(long, default_value_t = 2, value_parser = parse_threads)]
    pub threads: usize,
}

/// `--model-sha256`: 64 hex digits (lower-cased).
pub fn parse_sha256(s: &str) -> Result<String, String> {
    let s = s.trim().to_ascii_lowercase();
    if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(s)
    } else {
        Err(format!("`{s}` is not a SHA-256 (64 hex digits)"))
    }
}

// Clap value parsers: a bad flag value is refused while the command line is parsed (exit 2,
// naming the flag), before any file is read or the model loads.

/// `--threads N`: 1 or more (torch takes an i32; 0 used to panic inside libtorch).
pub fn parse_threads(s: &str) -> Result<usize, String> {
    let n = at_least_one(s)?;
    if i32::try_from(n).is_err() {
        return Err(format!("{n} threads is more than torch accepts"));
    }
    Ok(n)
}

/// A count that must be 1 or more (`--batch-size`).
pub fn at_least_one(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("must be 1 or more".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{s}` is not a whole number (give 1 or more)")),
    }
}

/// `--device auto|cpu|cuda|cuda:N` (syntax only; whether CUDA is usable is checked at load).
pub fn parse_device(s: &str) -> Result<String, String> {
    s.parse::<DeviceArg>()
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

/// `--dtype auto|f32|bf16|f16` (and the torch spellings float32, bfloat16, float16).
pub fn dtype_parser() -> PossibleValuesParser {
    PossibleValuesParser::new([
        PossibleValue::new("auto"),
        PossibleValue::new("f32").alias("float32"),
        PossibleValue::new("bf16").alias("bfloat16"),
        PossibleValue::new("f16").alias("float16"),
    ])
}

/// One pooling name, as a clap value parser of its name (`--pooling` of train and eval).
pub fn pooling_parser() -> PossibleValuesParser {
    PossibleValuesParser::new([
        PossibleValue::new("mean"),
        PossibleValue::new("mean-content").alias("mean_content"),
        PossibleValue::new("first"),
        PossibleValue::new("last"),
    ])
}

/// A comma list of poolings (`mean,mean-content`): each known, none twice, not empty.
pub fn parse_poolings(s: &str) -> Result<Vec<Pooling>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim) {
        let p: Pooling = part.parse().map_err(|e: anyhow::Error| e.to_string())?;
        if out.contains(&p) {
            return Err(format!("pooling `{p}` is listed twice"));
        }
        out.push(p);
    }
    Ok(out)
}

/// [`parse_poolings`] as a check that keeps the flag's text (for a `String` field).
pub fn check_poolings(s: &str) -> Result<String, String> {
    parse_poolings(s).map(|_| s.trim().to_string())
}

/// `--layers all` or a comma list of hidden-state indices such as `0,1,2,31` (syntax only; the
/// range is checked against the model before the first forward).
pub fn parse_layer_spec(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s == "all" {
        return Ok(s.to_string());
    }
    for part in s.split(',').map(str::trim) {
        if part.parse::<usize>().is_err() {
            return Err(format!(
                "`{part}` is not a layer number (use `all` or e.g. `0,1,2,31`)"
            ));
        }
    }
    Ok(s.to_string())
}

/// A loaded model and the settings that produced it.
pub struct LoadedRun {
    pub model: LoadedModel,
    pub model_path: PathBuf,
    pub device: String,
    pub dtype: String,
    pub quant: QuantMode,
    pub double_quant: bool,
    pub notes: Vec<String>,
    pub threads: usize,
    /// bitsandbytes rounding used for the 4-bit weights.
    pub bnb_kernel: lexalign_quant::Kernel,
    model_id: Option<String>,
    /// The model's SHA-256: `--model-sha256`, else computed on first use (an 8B checkpoint
    /// takes a while to hash).
    model_hash: std::sync::OnceLock<lexalign_run::FileHash>,
}

impl ModelArgs {
    pub fn model_path(&self) -> Result<PathBuf> {
        // A path, an embedded model's name, or (none) the default model.
        lexalign_gguf::resolve_model(self.model.as_deref())
    }

    /// Loads the model with `default_quant` unless `--quant` was given (each experiment's default
    /// follows the authors' script it reproduces). `max_blocks` limits loading to the blocks needed.
    pub fn load(&self, default_quant: QuantMode, max_blocks: Option<usize>) -> Result<LoadedRun> {
        self.load_with_head(default_quant, max_blocks, false)
    }

    /// [`Self::load`], with the output head of an untied model when `lm_head` (generation, LM loss).
    pub fn load_with_head(
        &self,
        default_quant: QuantMode,
        max_blocks: Option<usize>,
        lm_head: bool,
    ) -> Result<LoadedRun> {
        lexalign_model::tch::set_num_threads(self.threads as i32);
        let device = self.device.parse::<DeviceArg>()?.resolve()?;
        // `auto` is the authors' bf16 compute on a GPU and f32 on the CPU (noted below); an
        // explicit `--dtype bf16` runs bf16 on the CPU too.
        let (kind, note) = compute_kind(&self.dtype, device)?;
        let quant = match &self.quant {
            Some(q) => q.parse()?,
            None => default_quant,
        };
        let path = self.model_path()?;
        let bnb_kernel = lexalign_quant::KernelChoice::parse(&self.bnb_kernel)?;
        let opts = LoadOptions {
            device,
            kind,
            quant,
            double_quant: self.double_quant,
            max_blocks,
            bnb_kernel,
            lm_head,
        };
        log::info!(
            "loading {} on {} ({}, quant {}{}{})",
            path.display(),
            device_name(device),
            kind_name(kind),
            quant.name(),
            if self.double_quant {
                " + double quant"
            } else {
                ""
            },
            if quant == QuantMode::None {
                String::new()
            } else {
                format!(", bitsandbytes {} rounding", opts.kernel().as_str())
            }
        );
        let model = lexalign_model::load(&path, &opts)
            .with_context(|| format!("cannot load model {}", path.display()))?;
        let mut notes = Vec::new();
        if let Some(n) = note {
            if self.dtype == "auto" {
                log::info!("{n}");
            } else {
                log::warn!("{n}");
            }
            notes.push(n);
        }
        let model_hash = std::sync::OnceLock::new();
        if let Some(sha) = &self.model_sha256 {
            let _ = model_hash.set(lexalign_run::FileHash {
                path: path.display().to_string(),
                sha256: sha.clone(),
            });
        }
        Ok(LoadedRun {
            model,
            model_path: path,
            device: device_name(device),
            dtype: kind_name(kind).to_string(),
            quant,
            double_quant: self.double_quant,
            notes,
            threads: self.threads,
            bnb_kernel: opts.kernel(),
            model_id: self.model_id.clone(),
            model_hash,
        })
    }
}

impl LoadedRun {
    /// Before a scan: dequantize 4-bit weights once (bit-identical results) unless `--low-memory`.
    pub fn dequantize_for_inference(&mut self, low_memory: bool) {
        if low_memory || self.quant == QuantMode::None {
            return;
        }
        let n = self.model.model.dequantize_4bit();
        let note = format!(
            "{n} 4-bit weights dequantized once for inference (--low-memory keeps them packed)"
        );
        log::info!("{note}");
        self.notes.push(note);
    }

    /// A provenance record with the model, device, dtype, quantization and threads filled in.
    pub fn provenance(&self, stage: &str) -> Result<Provenance> {
        let quant = format!(
            "{}{}",
            self.quant.name(),
            if self.double_quant { "+dq" } else { "" }
        );
        let sha = self.model_sha256()?;
        let mut p = Provenance::collect()
            .stage(stage)
            .tch_version("0.24.0")
            .torch_version(lexalign_model::TORCH_VERSION)
            .model_hashed(&self.model_path, sha)
            .device(self.device.clone())
            .dtype(self.dtype.clone())
            .quant(quant)
            .threads(self.threads);
        p = p.setting("model_name", &self.model.info.name)?;
        p = p.setting("model_format", self.model.info.format)?;
        if let Some(id) = self.identity()? {
            p = p.setting("model_identity", id)?;
        }
        if self.quant != QuantMode::None {
            p = p.setting("bnb_kernel", self.bnb_kernel.as_str())?;
        }
        if !self.notes.is_empty() {
            p = p.setting("notes", &self.notes)?;
        }
        Ok(p)
    }

    /// The model's SHA-256 (`--model-sha256`, else hashed once).
    pub fn model_sha256(&self) -> Result<String> {
        if let Some(h) = self.model_hash.get() {
            return Ok(h.sha256.clone());
        }
        let h = lexalign_run::hash_path(&self.model_path)?;
        Ok(self.model_hash.get_or_init(|| h).sha256.clone())
    }

    /// Which known model this is (weights SHA-256, config + name, or `--model-id`), if any.
    pub fn identity(&self) -> Result<Option<lexalign_run::ModelIdentity>> {
        let fp = self.model.model.cfg.fingerprint();
        lexalign_run::identify(
            &self.model_sha256()?,
            &fp,
            &self.model.info.name,
            self.model_id.as_deref(),
        )
    }

    /// Whether this is the embedded English-only demo model (its numbers are never the paper's):
    /// identified as smollm2-135m by the registry (a renamed copy too, by its SHA-256).
    pub fn is_demo_model(&self) -> bool {
        match self.identity() {
            Ok(Some(id)) => id.id == lexalign_run::SMOLLM2_135M.name,
            _ => self.model.info.name.to_lowercase().contains("smollm"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_value_parsers() {
        assert_eq!(parse_threads("4"), Ok(4));
        assert!(parse_threads("0").unwrap_err().contains("1 or more"));
        assert!(parse_threads("99999999999")
            .unwrap_err()
            .contains("more than torch accepts"));
        assert!(at_least_one("-1")
            .unwrap_err()
            .contains("not a whole number"));
        assert_eq!(
            parse_poolings("mean, mean-content"),
            Ok(vec![Pooling::Mean, Pooling::MeanContent])
        );
        assert!(parse_poolings("mean,mean")
            .unwrap_err()
            .contains("listed twice"));
        assert!(parse_poolings("mean,")
            .unwrap_err()
            .contains("unknown pooling"));
        assert_eq!(parse_layer_spec(" all "), Ok("all".into()));
        assert_eq!(parse_layer_spec("0, 2"), Ok("0, 2".into()));
        assert!(parse_layer_spec("0,,2")
            .unwrap_err()
            .contains("`` is not a layer number"));
        assert!(parse_device("cuda:x")
            .unwrap_err()
            .contains("unknown device"));
        assert_eq!(parse_device("cuda:1"), Ok("cuda:1".into()));
        assert_eq!(parse_sha256(&"AB".repeat(32)), Ok("ab".repeat(32)));
        assert!(parse_sha256("abc").unwrap_err().contains("64 hex digits"));
    }
}
