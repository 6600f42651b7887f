//! Building a [`Decoder`] from a checkpoint: an HF safetensors folder or a GGUF file.
//!
//! Weights are read one tensor at a time, cast to the compute dtype and moved to the device;
//! decoder-block linear layers are quantised to 4 bits when asked (as transformers does with a
//! `BitsAndBytesConfig`: embeddings, norms and the output head stay unquantised).

use crate::config::ModelConfig;
use crate::decoder::{Attention, Block, Decoder, Mlp};
use crate::linear::{BaseWeight, Linear};
use crate::norm::RmsNorm;
use crate::quant4::Quant4Weight;
use crate::rope::Ropes;
use crate::safetensors_dir::SafetensorsDir;
use crate::shapes::ExpectedShapes;
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
    /// Whose 4-bit rounding to reproduce: `Auto` is bitsandbytes' CUDA kernel for a CUDA
    /// device and its CPU path otherwise (what bitsandbytes itself would run there).
    pub bnb_kernel: lexalign_quant::KernelChoice,
    /// Load the output head of an untied model (`lm_head.weight`) for logits: generation and LM
    /// loss. Off for hidden-state work (an 8B Llama's head is 1 GB in bf16); tied models never
    /// need it.
    pub lm_head: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            device: Device::Cpu,
            kind: Kind::Float,
            quant: QuantMode::None,
            double_quant: false,
            max_blocks: None,
            bnb_kernel: lexalign_quant::KernelChoice::Auto,
            lm_head: false,
        }
    }
}

impl LoadOptions {
    /// The 4-bit rounding kernel these options select on their device.
    pub fn kernel(&self) -> lexalign_quant::Kernel {
        self.bnb_kernel.resolve(self.device.is_cuda())
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
    pub model: Decoder,
    pub tokenizer: WordTokenizer,
    pub info: ModelInfo,
}

/// Tensors by HF name, on the CPU.
pub trait TensorSource {
    fn tensor(&self, name: &str) -> Result<Tensor>;
    fn has(&self, name: &str) -> bool;
    /// Every HF tensor name the source holds (to list the ones the decoder leaves unused).
    fn names(&self) -> Vec<String>;
}

impl TensorSource for SafetensorsDir {
    fn tensor(&self, name: &str) -> Result<Tensor> {
        self.get(name)
    }
    fn has(&self, name: &str) -> bool {
        self.contains(name)
    }
    fn names(&self) -> Vec<String> {
        SafetensorsDir::names(self).cloned().collect()
    }
}

/// Loads a model: a folder with `config.json` (HF), or a `.gguf` file.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<LoadedModel> {
    if path.is_dir() {
        load_hf_dir(path, opts)
    } else if path.is_file() {
        crate::gguf_source::load_gguf(path, opts)
    } else {
        bail!(
            "model path {} does not exist: give an HF checkpoint folder or a .gguf file",
            path.display()
        )
    }
}

/// The tokenizer and config of a checkpoint without its weights, to check inputs (prompt
/// lengths against the context) before the slow load.
pub fn load_tokenizer(path: &Path) -> Result<(WordTokenizer, ModelConfig)> {
    if path.is_dir() {
        let cfg = ModelConfig::from_file(&path.join("config.json"))?;
        let mut tok = WordTokenizer::from_hf_dir(path, &cfg.bos_ids(), &cfg.eos_ids())?;
        tok.apply_family_rule(cfg.family()?)?;
        Ok((tok, cfg))
    } else if path.is_file() {
        crate::gguf_source::gguf_tokenizer(path)
    } else {
        bail!(
            "model path {} does not exist: give an HF checkpoint folder or a .gguf file",
            path.display()
        )
    }
}

fn load_hf_dir(dir: &Path, opts: &LoadOptions) -> Result<LoadedModel> {
    let cfg = ModelConfig::from_file(&dir.join("config.json"))?;
    if cfg.quantization_config.is_some() {
        bail!(
            "{} holds pre-quantized weights (`quantization_config` in config.json); give the unquantized checkpoint and --quant nf4|fp4",
            dir.display()
        );
    }
    let st = SafetensorsDir::open(dir)?;
    let mut tokenizer = WordTokenizer::from_hf_dir(dir, &cfg.bos_ids(), &cfg.eos_ids())?;
    tokenizer.apply_family_rule(cfg.family()?)?;
    let name = read_name(dir).unwrap_or_else(|| {
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let model = build(&cfg, &st, opts)
        .with_context(|| format!("loading weights from {}", dir.display()))?;
    Ok(LoadedModel {
        model,
        tokenizer,
        info: ModelInfo {
            path: dir.to_path_buf(),
            format: "safetensors",
            name,
        },
    })
}

fn read_name(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("config.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("_name_or_path")
        .and_then(|n| n.as_str())
        .filter(|s| !s.is_empty())
        .map(String::from)
}

/// Assembles the decoder from any tensor source with HF names, checking every tensor's shape
/// against the config and refusing non-finite weights by name.
pub fn build(cfg: &ModelConfig, src: &dyn TensorSource, opts: &LoadOptions) -> Result<Decoder> {
    let family = cfg.family()?;
    let dev = opts.device;
    let shapes = ExpectedShapes::new(cfg);
    let fetch = |name: &str| -> Result<Tensor> {
        let t = src.tensor(name)?;
        shapes.check(name, &t.size())?;
        crate::finite::ensure_weight_finite(name, &t)?;
        Ok(t)
    };
    let dense =
        |name: &str| -> Result<Tensor> { Ok(fetch(name)?.to_kind(opts.kind).to_device(dev)) };
    let norm = |name: &str| -> Result<RmsNorm> {
        Ok(RmsNorm {
            weight: dense(name)?,
            eps: cfg.rms_norm_eps,
            form: family.norm_form(),
        })
    };
    let opt_norm = |name: &str, present: bool| -> Result<Option<RmsNorm>> {
        present.then(|| norm(name)).transpose()
    };
    let linear = |name: &str, bias: bool| -> Result<Linear> {
        let w = fetch(&format!("{name}.weight"))?;
        let base = match opts.quant {
            QuantMode::None => BaseWeight::Dense(w.to_kind(opts.kind).to_device(dev)),
            q => BaseWeight::Quant4(
                quantize(&w.to_kind(opts.kind), q, opts, dev)
                    .with_context(|| format!("quantizing `{name}.weight`"))?,
            ),
        };
        let bias = if bias {
            Some(dense(&format!("{name}.bias"))?)
        } else {
            None
        };
        Ok(Linear {
            base,
            bias,
            lora: None,
        })
    };
    let qkv_bias = cfg.attention_bias || family.qkv_bias_always();
    let o_bias = cfg.attention_bias && !family.qkv_bias_always();
    let embed_tokens = dense("model.embed_tokens.weight")?;
    let n_blocks = opts
        .max_blocks
        .unwrap_or(cfg.num_hidden_layers)
        .min(cfg.num_hidden_layers);
    let mut layers = Vec::with_capacity(n_blocks);
    for i in 0..n_blocks {
        let p = format!("model.layers.{i}");
        let sandwich = family.has_sandwich_norms();
        layers.push(Block {
            input_layernorm: norm(&format!("{p}.input_layernorm.weight"))?,
            self_attn: Attention {
                q_proj: linear(&format!("{p}.self_attn.q_proj"), qkv_bias)?,
                k_proj: linear(&format!("{p}.self_attn.k_proj"), qkv_bias)?,
                v_proj: linear(&format!("{p}.self_attn.v_proj"), qkv_bias)?,
                o_proj: linear(&format!("{p}.self_attn.o_proj"), o_bias)?,
                q_norm: opt_norm(
                    &format!("{p}.self_attn.q_norm.weight"),
                    family.has_qk_norm(),
                )?,
                k_norm: opt_norm(
                    &format!("{p}.self_attn.k_norm.weight"),
                    family.has_qk_norm(),
                )?,
            },
            post_attention_layernorm: norm(&format!("{p}.post_attention_layernorm.weight"))?,
            pre_feedforward_layernorm: opt_norm(
                &format!("{p}.pre_feedforward_layernorm.weight"),
                sandwich,
            )?,
            post_feedforward_layernorm: opt_norm(
                &format!("{p}.post_feedforward_layernorm.weight"),
                sandwich,
            )?,
            mlp: Mlp {
                gate_proj: linear(&format!("{p}.mlp.gate_proj"), cfg.mlp_bias)?,
                up_proj: linear(&format!("{p}.mlp.up_proj"), cfg.mlp_bias)?,
                down_proj: linear(&format!("{p}.mlp.down_proj"), cfg.mlp_bias)?,
                gelu_tanh: cfg.activation() == "gelu_pytorch_tanh",
            },
            layer_type: cfg.layer_type(i)?,
        });
    }
    let final_norm = norm("model.norm.weight")?;
    let lm_head = if opts.lm_head && !cfg.tie_word_embeddings() {
        if !src.has("lm_head.weight") {
            bail!("the model does not tie its output head to the embeddings (`tie_word_embeddings` false) but holds no `lm_head.weight`: the checkpoint is incomplete");
        }
        Some(dense("lm_head.weight")?)
    } else {
        None
    };
    let embed_scale = family.scales_embeddings().then(|| {
        // HF: `embed_scale = hidden_size ** 0.5` as an f32 buffer, cast to the weights' dtype.
        Tensor::from((cfg.hidden_size as f64).sqrt() as f32)
            .to_kind(opts.kind)
            .double_value(&[])
    });
    let unexpected = shapes.unexpected(src);
    if !unexpected.is_empty() {
        log::warn!(
            "tensors in the checkpoint that the {} decoder does not use: {}",
            family.name(),
            unexpected.join(", ")
        );
    }
    Ok(Decoder {
        cfg: cfg.clone(),
        family,
        embed_tokens,
        lm_head,
        embed_scale,
        layers,
        norm: final_norm,
        ropes: Ropes::new(cfg, dev)?,
        device: dev,
        kind: opts.kind,
    })
}

/// Quantises one weight on the host with bitsandbytes' algorithm, then uploads the codes.
/// The input is rounded to the compute dtype first, as bitsandbytes quantises the weight after
/// transformers has loaded it in `torch_dtype`.
fn quantize(w: &Tensor, q: QuantMode, opts: &LoadOptions, dev: Device) -> Result<Quant4Weight> {
    let qt = match q {
        QuantMode::Nf4 => lexalign_quant::QuantType::Nf4,
        QuantMode::Fp4 => lexalign_quant::QuantType::Fp4,
        QuantMode::None => unreachable!(),
    };
    Quant4Weight::quantize(w, qt, 64, opts.double_quant, opts.kernel(), dev)
}
