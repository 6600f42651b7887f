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
use crate::decoder::{Block, Decoder};
use crate::linear::{Linear, LoraAdapter};
use anyhow::Result;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use tch::{Device, Kind, Tensor};

mod merge;
mod peft_io;
mod safetensors_io;

/// The adapter config, file names and tensor keys live in the pure `lexalign-lora-config` crate
/// (the report reads adapter configs without tch); re-exported so callers keep one path.
pub use lexalign_lora_config::{
    peft_key, Layers, LoraConfig, ADAPTER_CONFIG, ADAPTER_WEIGHTS, MODULES,
};
pub use merge::merge;
pub use peft_io::{load_peft, save_peft};
pub use safetensors_io::{read_safetensors, write_safetensors};

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

pub(crate) fn new_adapter(
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
