//! LoRA adapters in peft's conventions, so that peft loads our adapters and we load peft's.
//!
//! - Init as peft's `reset_lora_parameters(init_lora_weights=True)`: A kaiming-uniform with
//!   a = sqrt 5 (bound = 1/sqrt(fan_in)), B zeros, scale `lora_alpha / r` (`/ sqrt r` with rsLoRA).
//!   A and B are f32 with `requires_grad` whatever the base dtype (peft keeps them in f32 on a
//!   bf16 or 4-bit base); the base weights stay frozen.
//! - Files: `adapter_model.safetensors` with peft's keys
//!   (`base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight`, `[r, in]`; `lora_B`, `[out, r]`)
//!   and `adapter_config.json` with the field set peft 0.11 (the authors' version) writes.
//! - `merge` folds `B A * scale` into the base weights as peft's `merge_and_unload` does; a 4-bit
//!   base is dequantised, summed and re-quantised with the same code book and block size (what
//!   peft does for a bitsandbytes `Linear4bit`, so the authors' merged evaluation model was 4-bit too).

use crate::config::ModelConfig;
use crate::linear::{BaseWeight, Linear, LoraAdapter};
use crate::decoder::{Block, Decoder};
use crate::quant4::Quant4Weight;
use anyhow::{bail, ensure, Context, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use tch::{Device, Kind, Tensor};

/// The linear layers of a Llama block, in module order (peft's `named_modules` order).
pub const MODULES: [&str; 7] = [
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
];

pub const ADAPTER_WEIGHTS: &str = "adapter_model.safetensors";
pub const ADAPTER_CONFIG: &str = "adapter_config.json";

/// `layers_to_transform`: one layer index or a list (peft accepts both).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Layers {
    One(usize),
    Many(Vec<usize>),
}

/// peft's `adapter_config.json` (LoRA). Fields we do not interpret are kept in `extra` and
/// written back unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoraConfig {
    pub peft_type: String,
    pub r: usize,
    pub lora_alpha: f64,
    pub lora_dropout: f64,
    pub target_modules: Vec<String>,
    #[serde(default)]
    pub layers_to_transform: Option<Layers>,
    #[serde(default = "bias_none")]
    pub bias: String,
    #[serde(default)]
    pub fan_in_fan_out: bool,
    #[serde(default)]
    pub task_type: Option<String>,
    #[serde(default)]
    pub base_model_name_or_path: Option<String>,
    #[serde(default)]
    pub inference_mode: bool,
    #[serde(default = "init_true")]
    pub init_lora_weights: serde_json::Value,
    #[serde(default)]
    pub use_rslora: bool,
    #[serde(default)]
    pub use_dora: bool,
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

fn bias_none() -> String {
    "none".into()
}
fn init_true() -> serde_json::Value {
    serde_json::Value::Bool(true)
}

impl Default for LoraConfig {
    /// The authors' adapter: r 16, alpha 32, dropout 0.05, q_proj + v_proj on every layer.
    fn default() -> Self {
        Self::new(16, 32.0, 0.05, &["q_proj", "v_proj"])
    }
}

impl LoraConfig {
    pub fn new(r: usize, lora_alpha: f64, lora_dropout: f64, target_modules: &[&str]) -> Self {
        let mut extra = BTreeMap::new();
        // The other keys peft 0.11 writes, with its defaults (so older and newer peft read the file).
        for (k, v) in [
            ("alpha_pattern", serde_json::json!({})),
            ("auto_mapping", serde_json::Value::Null),
            ("layer_replication", serde_json::Value::Null),
            ("layers_pattern", serde_json::Value::Null),
            ("loftq_config", serde_json::json!({})),
            ("megatron_config", serde_json::Value::Null),
            ("megatron_core", serde_json::json!("megatron.core")),
            ("modules_to_save", serde_json::Value::Null),
            ("rank_pattern", serde_json::json!({})),
            ("revision", serde_json::Value::Null),
        ] {
            extra.insert(k.to_string(), v);
        }
        Self {
            peft_type: "LORA".into(),
            r,
            lora_alpha,
            lora_dropout,
            target_modules: target_modules.iter().map(|s| s.to_string()).collect(),
            layers_to_transform: None,
            bias: "none".into(),
            fan_in_fan_out: false,
            task_type: Some("CAUSAL_LM".into()),
            base_model_name_or_path: None,
            inference_mode: false,
            init_lora_weights: serde_json::Value::Bool(true),
            use_rslora: false,
            use_dora: false,
            extra,
        }
    }

    /// `lora_alpha / r` (peft), or `lora_alpha / sqrt(r)` with rsLoRA.
    pub fn scale(&self) -> f64 {
        if self.use_rslora {
            self.lora_alpha / (self.r as f64).sqrt()
        } else {
            self.lora_alpha / self.r as f64
        }
    }

    /// The block modules targeted, in module order (`all-linear` = all seven).
    pub fn modules(&self) -> Result<Vec<&'static str>> {
        let mut out = Vec::new();
        for t in &self.target_modules {
            if t == "all-linear" {
                return Ok(MODULES.to_vec());
            }
            // peft matches a name or a dotted suffix (`self_attn.q_proj`).
            let last = t.rsplit('.').next().unwrap_or(t);
            match MODULES.iter().find(|m| **m == last) {
                Some(m) => out.push(*m),
                None => bail!(
                    "target module `{t}` is not a linear layer of a Llama block: use some of {MODULES:?} or `all-linear`"
                ),
            }
        }
        out.sort_by_key(|m| MODULES.iter().position(|x| x == m));
        out.dedup();
        Ok(out)
    }

    pub fn transforms_layer(&self, i: usize) -> bool {
        match &self.layers_to_transform {
            None => true,
            Some(Layers::One(l)) => *l == i,
            Some(Layers::Many(ls)) => ls.contains(&i),
        }
    }

    /// Refuses what this crate does not reproduce, by field name.
    pub fn validate(&self) -> Result<()> {
        ensure!(
            self.peft_type == "LORA",
            "adapter_config.json: peft_type is `{}`, only LORA is supported",
            self.peft_type
        );
        ensure!(self.r > 0, "adapter_config.json: r must be > 0");
        ensure!(
            (0.0..1.0).contains(&self.lora_dropout),
            "adapter_config.json: lora_dropout {} is not in [0, 1)",
            self.lora_dropout
        );
        ensure!(
            self.bias == "none",
            "adapter_config.json: bias `{}` is not supported (use none)",
            self.bias
        );
        ensure!(
            !self.fan_in_fan_out,
            "adapter_config.json: fan_in_fan_out true is wrong for Llama's nn.Linear layers"
        );
        ensure!(
            !self.use_dora,
            "adapter_config.json: use_dora (DoRA) is not supported"
        );
        for key in ["rank_pattern", "alpha_pattern"] {
            if let Some(v) = self.extra.get(key) {
                ensure!(
                    v.is_null() || v.as_object().is_some_and(|o| o.is_empty()),
                    "adapter_config.json: a non-empty {key} is not supported"
                );
            }
        }
        if let Some(v) = self.extra.get("modules_to_save") {
            ensure!(
                v.is_null(),
                "adapter_config.json: modules_to_save is not supported"
            );
        }
        if let Some(v) = self.extra.get("layers_pattern") {
            ensure!(
                v.is_null()
                    || v.as_str() == Some("layers")
                    || v.as_array().is_some_and(|a| a.is_empty()),
                "adapter_config.json: layers_pattern {v} is not supported"
            );
        }
        self.modules()?;
        Ok(())
    }

    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let cfg: LoraConfig = serde_json::from_str(&text).with_context(|| {
            format!("{} is not a peft LoRA adapter_config.json", path.display())
        })?;
        cfg.validate()
            .with_context(|| format!("in {}", path.display()))?;
        Ok(cfg)
    }

    pub fn to_json(&self) -> Result<String> {
        let mut v = serde_json::to_value(self)?;
        // peft writes integral alphas as ints.
        if self.lora_alpha.fract() == 0.0 && self.lora_alpha.abs() < 1e15 {
            v["lora_alpha"] = serde_json::json!(self.lora_alpha as i64);
        }
        Ok(serde_json::to_string_pretty(&v)?)
    }
}

/// peft's key of one adapter matrix (`which` = `lora_A` | `lora_B`).
pub fn peft_key(layer: usize, module: &str, which: &str) -> String {
    let part = if module.ends_with("_proj")
        && ["q_proj", "k_proj", "v_proj", "o_proj"].contains(&module)
    {
        "self_attn"
    } else {
        "mlp"
    };
    format!("base_model.model.model.layers.{layer}.{part}.{module}.{which}.weight")
}

/// `(out, in)` of a block module from the model config (for layers not loaded).
pub fn module_shape(cfg: &ModelConfig, module: &str) -> (i64, i64) {
    let h = cfg.hidden_size as i64;
    let q = (cfg.num_attention_heads * cfg.head_dim()) as i64;
    let kv = (cfg.num_kv_heads() * cfg.head_dim()) as i64;
    let i = cfg.intermediate_size as i64;
    match module {
        "q_proj" => (q, h),
        "k_proj" | "v_proj" => (kv, h),
        "o_proj" => (h, q),
        "gate_proj" | "up_proj" => (i, h),
        "down_proj" => (h, i),
        other => panic!("unknown module {other}"),
    }
}

pub fn linear<'a>(block: &'a Block, module: &str) -> &'a Linear {
    match module {
        "q_proj" => &block.self_attn.q_proj,
        "k_proj" => &block.self_attn.k_proj,
        "v_proj" => &block.self_attn.v_proj,
        "o_proj" => &block.self_attn.o_proj,
        "gate_proj" => &block.mlp.gate_proj,
        "up_proj" => &block.mlp.up_proj,
        "down_proj" => &block.mlp.down_proj,
        other => panic!("unknown module {other}"),
    }
}

pub fn linear_mut<'a>(block: &'a mut Block, module: &str) -> &'a mut Linear {
    match module {
        "q_proj" => &mut block.self_attn.q_proj,
        "k_proj" => &mut block.self_attn.k_proj,
        "v_proj" => &mut block.self_attn.v_proj,
        "o_proj" => &mut block.self_attn.o_proj,
        "gate_proj" => &mut block.mlp.gate_proj,
        "up_proj" => &mut block.mlp.up_proj,
        "down_proj" => &mut block.mlp.down_proj,
        other => panic!("unknown module {other}"),
    }
}

/// Seeded kaiming-uniform(a = sqrt 5) A of one module, `[r, in]` f32 on the CPU: U(-1/sqrt(in), 1/sqrt(in)).
/// Each (layer, module) has its own ChaCha stream, so an A does not depend on which blocks were loaded.
pub fn init_a(seed: u64, layer: usize, module: &str, r: i64, fan_in: i64) -> Tensor {
    let mi = MODULES
        .iter()
        .position(|m| *m == module)
        .expect("known module") as u64;
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    rng.set_stream(((layer as u64) << 8) | mi);
    let bound = 1.0 / (fan_in as f64).sqrt();
    let vals: Vec<f32> = (0..r * fan_in)
        .map(|_| {
            let u: f64 = rng.gen::<f64>(); // [0, 1)
            (-bound + 2.0 * bound * u) as f32
        })
        .collect();
    Tensor::from_slice(&vals).view([r, fan_in])
}

fn new_adapter(
    a: Tensor,
    b: Tensor,
    cfg: &LoraConfig,
    device: Device,
    trainable: bool,
) -> LoraAdapter {
    let a = a
        .to_kind(Kind::Float)
        .to_device(device)
        .set_requires_grad(trainable);
    let b = b
        .to_kind(Kind::Float)
        .to_device(device)
        .set_requires_grad(trainable);
    LoraAdapter {
        a,
        b,
        scale: cfg.scale(),
        dropout: cfg.lora_dropout,
    }
}

/// Adds freshly initialised, trainable adapters to the targeted modules of every loaded block
/// (replacing any adapters already there).
pub fn attach(model: &mut Decoder, cfg: &LoraConfig, seed: u64) -> Result<()> {
    cfg.validate()?;
    let modules = cfg.modules()?;
    let r = cfg.r as i64;
    let device = model.device;
    for (i, block) in model.layers.iter_mut().enumerate() {
        if !cfg.transforms_layer(i) {
            continue;
        }
        for m in &modules {
            let lin = linear_mut(block, m);
            let (out, fan_in) = lin.base.out_in();
            let a = init_a(seed, i, m, r, fan_in);
            let b = Tensor::zeros([out, r], (Kind::Float, Device::Cpu));
            lin.lora = Some(new_adapter(a, b, cfg, device, true));
        }
    }
    Ok(())
}

/// Removes all adapters.
pub fn detach(model: &mut Decoder) {
    for block in model.layers.iter_mut() {
        for m in MODULES {
            linear_mut(block, m).lora = None;
        }
    }
}

/// The adapter matrices of the loaded blocks with their peft keys, in peft's parameter order
/// (layer, module, A before B). The tensors share storage with the model.
pub fn trainable_params(model: &Decoder) -> Vec<(String, Tensor)> {
    let mut out = Vec::new();
    for (i, block) in model.layers.iter().enumerate() {
        for m in MODULES {
            if let Some(l) = &linear(block, m).lora {
                out.push((peft_key(i, m, "lora_A"), l.a.shallow_clone()));
                out.push((peft_key(i, m, "lora_B"), l.b.shallow_clone()));
            }
        }
    }
    out
}

/// Writes `adapter_model.safetensors` + `adapter_config.json` into `dir` (created if needed).
///
/// With `fill_seed`, layers the config targets but that were not loaded (training stops at an
/// early layer and loads only the blocks it needs) are written with their untouched initial
/// adapters (the seeded A and a zero B, which is what peft's would hold after such a run, since
/// no gradient reaches them), so the file covers every layer as the authors' adapter did.
pub fn save_peft(
    model: &Decoder,
    cfg: &LoraConfig,
    dir: &Path,
    fill_seed: Option<u64>,
) -> Result<()> {
    cfg.validate()?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut tensors = trainable_params(model);
    if let Some(seed) = fill_seed {
        let r = cfg.r as i64;
        for i in model.layers.len()..model.cfg.num_hidden_layers {
            if !cfg.transforms_layer(i) {
                continue;
            }
            for m in cfg.modules()? {
                let (out, fan_in) = module_shape(&model.cfg, m);
                tensors.push((peft_key(i, m, "lora_A"), init_a(seed, i, m, r, fan_in)));
                tensors.push((
                    peft_key(i, m, "lora_B"),
                    Tensor::zeros([out, r], (Kind::Float, Device::Cpu)),
                ));
            }
        }
    }
    let mut meta = HashMap::new();
    meta.insert("format".to_string(), "pt".to_string());
    write_safetensors(&dir.join(ADAPTER_WEIGHTS), &tensors, Some(meta))?;
    let mut cfg = cfg.clone();
    cfg.inference_mode = true; // as peft's save_pretrained writes it
    lexalign_run::write_atomic(dir.join(ADAPTER_CONFIG), cfg.to_json()?.as_bytes())
}

/// Loads a peft LoRA adapter folder into the loaded blocks (replacing any adapters) and returns
/// its config. Keys of layers beyond the loaded blocks are skipped; any other key that this
/// model has no place for is refused by name.
pub fn load_peft(model: &mut Decoder, dir: &Path, trainable: bool) -> Result<LoraConfig> {
    let cfg = LoraConfig::from_file(&dir.join(ADAPTER_CONFIG))?;
    let path = dir.join(ADAPTER_WEIGHTS);
    if !path.exists() && dir.join("adapter_model.bin").exists() {
        bail!(
            "{} holds only adapter_model.bin (pickle); save it with safe_serialization=True",
            dir.display()
        );
    }
    let mut tensors: HashMap<String, Tensor> = read_safetensors(&path)?
        .into_iter()
        // peft's in-memory names carry the adapter name (`lora_A.default.weight`); files do not.
        .map(|(k, t)| {
            (
                k.replace(".lora_A.default.", ".lora_A.")
                    .replace(".lora_B.default.", ".lora_B."),
                t,
            )
        })
        .collect();
    let modules = cfg.modules()?;
    let r = cfg.r as i64;
    let device = model.device;
    let n_loaded = model.layers.len();
    for (i, block) in model.layers.iter_mut().enumerate() {
        for m in MODULES {
            linear_mut(block, m).lora = None;
        }
        if !cfg.transforms_layer(i) {
            continue;
        }
        for m in &modules {
            let lin = linear_mut(block, m);
            let (out, fan_in) = lin.base.out_in();
            let (ka, kb) = (peft_key(i, m, "lora_A"), peft_key(i, m, "lora_B"));
            let a = tensors
                .remove(&ka)
                .with_context(|| format!("{}: missing `{ka}`", path.display()))?;
            let b = tensors
                .remove(&kb)
                .with_context(|| format!("{}: missing `{kb}`", path.display()))?;
            ensure!(
                a.size() == [r, fan_in],
                "{}: `{ka}` has shape {:?}, expected [{r}, {fan_in}]",
                path.display(),
                a.size()
            );
            ensure!(
                b.size() == [out, r],
                "{}: `{kb}` has shape {:?}, expected [{out}, {r}]",
                path.display(),
                b.size()
            );
            lin.lora = Some(new_adapter(a, b, &cfg, device, trainable));
        }
    }
    let unused: Vec<&String> = tensors
        .keys()
        .filter(|k| layer_of(k).is_none_or(|l| l < n_loaded))
        .collect();
    if let Some(k) = unused.first() {
        bail!(
            "{}: tensor `{k}` has no place in this model (only LoRA A/B of {:?} are supported)",
            path.display(),
            modules
        );
    }
    Ok(cfg)
}

fn layer_of(key: &str) -> Option<usize> {
    let rest = key.split(".layers.").nth(1)?;
    rest.split('.').next()?.parse().ok()
}

/// Folds every adapter into its base weight (`W += B A * scale`, as peft's `merge_and_unload`)
/// and removes the adapters. Dense bases: the delta is cast to the base dtype and added, as peft
/// does. 4-bit bases: dequantised to f32, rounded to the compute dtype, summed with the delta and
/// re-quantised with the same code book, block size and double-quant setting (peft's merge for
/// bitsandbytes' `Linear4bit`), so the merged model stays 4-bit.
///
/// peft's `safe_merge`: every merged weight must be finite, else the merge is refused, naming
/// the layer and module. All merged weights are built and checked before any is installed, so a
/// refused merge leaves the model as it was (adapters attached, bases unchanged).
pub fn merge(model: &mut Decoder) -> Result<()> {
    let kind = model.kind;
    let device = model.device;
    let mut merged = Vec::new();
    for (i, block) in model.layers.iter().enumerate() {
        for m in MODULES {
            let lin = linear(block, m);
            let Some(l) = lin.lora.as_ref() else { continue };
            let delta = tch::no_grad(|| l.b.detach().matmul(&l.a.detach()) * l.scale);
            let refuse = |w: &Tensor| -> Result<()> {
                let bad = w.isfinite().logical_not().sum(Kind::Int64).int64_value(&[]);
                if bad > 0 {
                    bail!(
                        "merging the adapter of layer {i} {m} gives {bad} non-finite weight(s) (NaN or Inf): \
                         the adapter seems to be broken (peft's safe_merge refuses it); nothing was merged"
                    );
                }
                Ok(())
            };
            let base = match &lin.base {
                BaseWeight::Dense(w) => {
                    let d = delta.to_kind(w.kind());
                    let w = tch::no_grad(|| w + d);
                    refuse(&w)?;
                    BaseWeight::Dense(w)
                }
                BaseWeight::Quant4(q) => {
                    let w = q.dequantize(Kind::Float).to_kind(kind).to_kind(Kind::Float) + delta;
                    refuse(&w)?;
                    BaseWeight::Quant4(
                        requantize_like(q, &w, device)
                            .with_context(|| format!("re-quantizing layer {i} {m} after merge"))?,
                    )
                }
            };
            merged.push((i, m, base));
        }
    }
    for (i, m, base) in merged {
        let lin = linear_mut(&mut model.layers[i], m);
        lin.base = base;
        lin.lora = None;
    }
    Ok(())
}

/// Quantises `w` (the shape of `like`) with `like`'s type, block size and double-quant setting.
fn requantize_like(like: &Quant4Weight, w: &Tensor, device: Device) -> Result<Quant4Weight> {
    Quant4Weight::quantize(w, like.quant_type, like.blocksize as usize, like.is_double_quant(), device)
}

/// Writes f32/bf16/f16 tensors as a safetensors file (atomically: temp file + rename).
pub fn write_safetensors(
    path: &Path,
    tensors: &[(String, Tensor)],
    meta: Option<HashMap<String, String>>,
) -> Result<()> {
    let mut host: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        let t = t.detach().to_device(Device::Cpu).contiguous();
        let (dtype, kind) = match t.kind() {
            Kind::BFloat16 => (Dtype::BF16, Kind::BFloat16),
            Kind::Half => (Dtype::F16, Kind::Half),
            _ => (Dtype::F32, Kind::Float),
        };
        let t = t.to_kind(kind);
        let shape: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
        let mut bytes = vec![0u8; t.numel() * kind.elt_size_in_bytes()];
        t.copy_data_u8(&mut bytes, t.numel());
        host.push((name.clone(), dtype, shape, bytes));
    }
    let views: Vec<(String, safetensors::tensor::TensorView)> = host
        .iter()
        .map(|(n, d, s, b)| {
            Ok((
                n.clone(),
                safetensors::tensor::TensorView::new(*d, s.clone(), b)?,
            ))
        })
        .collect::<Result<_, safetensors::SafeTensorError>>()
        .map_err(|e| anyhow::anyhow!("cannot serialise {}: {e}", path.display()))?;
    let bytes = safetensors::tensor::serialize(views, &meta)
        .map_err(|e| anyhow::anyhow!("cannot serialise {}: {e}", path.display()))?;
    lexalign_run::write_atomic(path, &bytes)
}

/// Reads every tensor of a safetensors file to the CPU, f32 (f16/bf16 are upcast exactly).
pub fn read_safetensors(path: &Path) -> Result<Vec<(String, Tensor)>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| {
        anyhow::anyhow!(
            "{} is not a valid safetensors file (truncated or corrupt?): {e}",
            path.display()
        )
    })?;
    let mut out = Vec::new();
    for (name, view) in st.tensors() {
        let kind = match view.dtype() {
            Dtype::F32 => Kind::Float,
            Dtype::F16 => Kind::Half,
            Dtype::BF16 => Kind::BFloat16,
            other => bail!(
                "tensor `{name}` in {} has dtype {other:?}; only f32, f16 and bf16 are supported",
                path.display()
            ),
        };
        let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        out.push((
            name,
            Tensor::from_data_size(view.data(), &shape, kind).to_kind(Kind::Float),
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

