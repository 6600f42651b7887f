//! Building a [`Llama`] from a checkpoint: an HF safetensors folder or a GGUF file.
//!
//! Weights are read one tensor at a time, cast to the compute dtype and moved to the device;
//! decoder-block linear layers are quantised to 4 bits when asked (as transformers does with a
//! `BitsAndBytesConfig`: embeddings, norms and the output head stay unquantised).

use crate::config::LlamaConfig;
use crate::linear::{BaseWeight, Linear};
use crate::llama::{Attention, Block, Llama, Mlp};
use crate::norm::RmsNorm;
use crate::quant4::Quant4Weight;
use crate::rope::Rope;
use crate::safetensors_dir::SafetensorsDir;
use crate::tokenize::WordTokenizer;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

/// `--quant none|nf4|fp4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantMode {
    None,
    Nf4,
    Fp4,
}

impl std::str::FromStr for QuantMode {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "none" => QuantMode::None,
            "nf4" => QuantMode::Nf4,
            "fp4" => QuantMode::Fp4,
            other => bail!("unknown quantization `{other}`: use none, nf4 or fp4"),
        })
    }
}

impl QuantMode {
    pub fn name(self) -> &'static str {
        match self {
            QuantMode::None => "none",
            QuantMode::Nf4 => "nf4",
            QuantMode::Fp4 => "fp4",
        }
    }
}

#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub device: Device,
    /// Compute dtype (what the forward runs in and dense weights are stored in).
    pub kind: Kind,
    pub quant: QuantMode,
    pub double_quant: bool,
    /// Only the blocks below this many are loaded (`None`: all). A scan or training that stops at
    /// hidden state `k` needs blocks `0..k` only.
    pub max_blocks: Option<usize>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self { device: Device::Cpu, kind: Kind::Float, quant: QuantMode::None, double_quant: false, max_blocks: None }
    }
}

/// Where a model came from, for provenance and reports.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub path: PathBuf,
    pub format: &'static str,
    /// A human name (`general.name`, `_name_or_path` or the folder name).
    pub name: String,
}

pub struct LoadedModel {
    pub model: Llama,
    pub tokenizer: WordTokenizer,
    pub info: ModelInfo,
}

/// Tensors by HF name, on the CPU.
pub trait TensorSource {
    fn tensor(&self, name: &str) -> Result<Tensor>;
    fn has(&self, name: &str) -> bool;
}

impl TensorSource for SafetensorsDir {
    fn tensor(&self, name: &str) -> Result<Tensor> {
        self.get(name)
    }
    fn has(&self, name: &str) -> bool {
        self.contains(name)
    }
}

/// Loads a model: a folder with `config.json` (HF), or a `.gguf` file.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<LoadedModel> {
    if path.is_dir() {
        load_hf_dir(path, opts)
    } else if path.is_file() {
        crate::gguf_source::load_gguf(path, opts)
    } else {
        bail!("model path {} does not exist: give an HF checkpoint folder or a .gguf file", path.display())
    }
}

fn load_hf_dir(dir: &Path, opts: &LoadOptions) -> Result<LoadedModel> {
    let cfg = LlamaConfig::from_file(&dir.join("config.json"))?;
    if cfg.quantization_config.is_some() {
        bail!(
            "{} holds pre-quantized weights (`quantization_config` in config.json); give the unquantized checkpoint and --quant nf4|fp4",
            dir.display()
        );
    }
    let st = SafetensorsDir::open(dir)?;
    let tokenizer = WordTokenizer::from_hf_dir(dir, &cfg.bos_ids(), &cfg.eos_ids())?;
    let name = read_name(dir).unwrap_or_else(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
    let model = build(&cfg, &st, opts).with_context(|| format!("loading weights from {}", dir.display()))?;
    Ok(LoadedModel { model, tokenizer, info: ModelInfo { path: dir.to_path_buf(), format: "safetensors", name } })
}

fn read_name(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("config.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("_name_or_path").and_then(|n| n.as_str()).filter(|s| !s.is_empty()).map(String::from)
}

/// Assembles the decoder from any tensor source with HF names.
pub fn build(cfg: &LlamaConfig, src: &dyn TensorSource, opts: &LoadOptions) -> Result<Llama> {
    let dev = opts.device;
    let dense = |name: &str| -> Result<Tensor> { Ok(src.tensor(name)?.to_kind(opts.kind).to_device(dev)) };
    let norm = |name: &str| -> Result<RmsNorm> { Ok(RmsNorm { weight: dense(name)?, eps: cfg.rms_norm_eps }) };
    let linear = |name: &str| -> Result<Linear> {
        let w = src.tensor(name)?;
        let base = match opts.quant {
            QuantMode::None => BaseWeight::Dense(w.to_kind(opts.kind).to_device(dev)),
            q => BaseWeight::Quant4(quantize(&w.to_kind(opts.kind), q, opts.double_quant, dev).with_context(|| format!("quantizing `{name}`"))?),
        };
        Ok(Linear { base, lora: None })
    };
    let embed_tokens = dense("model.embed_tokens.weight")?;
    let n_blocks = opts.max_blocks.unwrap_or(cfg.num_hidden_layers).min(cfg.num_hidden_layers);
    let mut layers = Vec::with_capacity(n_blocks);
    for i in 0..n_blocks {
        let p = format!("model.layers.{i}");
        layers.push(Block {
            input_layernorm: norm(&format!("{p}.input_layernorm.weight"))?,
            self_attn: Attention {
                q_proj: linear(&format!("{p}.self_attn.q_proj.weight"))?,
                k_proj: linear(&format!("{p}.self_attn.k_proj.weight"))?,
                v_proj: linear(&format!("{p}.self_attn.v_proj.weight"))?,
                o_proj: linear(&format!("{p}.self_attn.o_proj.weight"))?,
            },
            post_attention_layernorm: norm(&format!("{p}.post_attention_layernorm.weight"))?,
            mlp: Mlp {
                gate_proj: linear(&format!("{p}.mlp.gate_proj.weight"))?,
                up_proj: linear(&format!("{p}.mlp.up_proj.weight"))?,
                down_proj: linear(&format!("{p}.mlp.down_proj.weight"))?,
            },
        });
    }
    let final_norm = norm("model.norm.weight")?;
    Ok(Llama {
        cfg: cfg.clone(),
        embed_tokens,
        layers,
        norm: final_norm,
        rope: Rope::new(cfg, dev)?,
        device: dev,
        kind: opts.kind,
    })
}

/// Quantises one weight on the host with bitsandbytes' algorithm, then uploads the codes.
/// The input is rounded to the compute dtype first, as bitsandbytes quantises the weight after
/// transformers has loaded it in `torch_dtype`.
fn quantize(w: &Tensor, q: QuantMode, double_quant: bool, dev: Device) -> Result<Quant4Weight> {
    let qt = match q {
        QuantMode::Nf4 => lexalign_quant::QuantType::Nf4,
        QuantMode::Fp4 => lexalign_quant::QuantType::Fp4,
        QuantMode::None => unreachable!(),
    };
    Quant4Weight::quantize(w, qt, 64, double_quant, dev)
}
