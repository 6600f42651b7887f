//! peft adapter folders: `adapter_model.safetensors` with peft's keys and `adapter_config.json`.

use super::{
    init_a, linear_mut, module_shape, new_adapter, peft_key, read_safetensors, trainable_params,
    write_safetensors, LoraConfig, ADAPTER_CONFIG, ADAPTER_WEIGHTS, MODULES,
};
use crate::decoder::Decoder;
use anyhow::{bail, ensure, Context, Result};
use std::collections::HashMap;
use std::path::Path;
use tch::{Device, Kind, Tensor};

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
