//! Targets in lexalign-model (links libtorch; built with `--features tch`): the safetensors
//! folder loader with its shard index, peft's `adapter_config.json` and the adapter weights.

use anyhow::Result;
use lexalign_model::lora::{read_safetensors, LoraConfig};
use lexalign_model::safetensors_dir::SafetensorsDir;

use crate::engine::{Ctx, Outcome};
use crate::mutate::Seed;

/// Separates the files of a folder input (0xff never occurs in the JSON parts).
const SEP: &[u8] = b"\xff--file--\xff";

/// A safetensors file: u64 header length, JSON header (padded to 8 with spaces), data.
fn st_file(tensors: &[(&str, &str, &[usize])]) -> Seed {
    let mut header = String::from("{\"__metadata__\":{\"format\":\"pt\"}");
    let mut data = Vec::new();
    for (name, dtype, shape) in tensors {
        let size = match *dtype {
            "F32" => 4,
            _ => 2,
        };
        let n: usize = shape.iter().product::<usize>() * size;
        let start = data.len();
        data.extend((0..n).map(|i| (i % 7) as u8 * 16));
        header.push_str(&format!(
            ",\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape:?},\"data_offsets\":[{start},{}]}}",
            data.len()
        ));
    }
    header.push('}');
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(&data);
    Seed {
        bytes,
        ints: vec![(0, 8)],
    }
}

pub const ST_DICT: &[&[u8]] = &[
    b"\"dtype\"",
    b"\"F32\"",
    b"\"BF16\"",
    b"\"F16\"",
    b"\"I64\"",
    b"\"shape\"",
    b"\"data_offsets\"",
    b"\"weight_map\"",
    b"\"__metadata__\"",
    b"[0,0]",
    b"[]",
    b"18446744073709551615",
    b"{}",
    SEP,
];

const SHARDS: [&str; 3] = [
    "model-00001-of-00002.safetensors",
    "model-00002-of-00002.safetensors",
    "extra.safetensors",
];

pub fn dir_seeds() -> Vec<Seed> {
    let single = st_file(&[
        ("model.embed_tokens.weight", "F32", &[3, 2]),
        ("model.norm.weight", "BF16", &[2]),
    ]);
    let a = st_file(&[("a.weight", "F16", &[2, 2])]);
    let b = st_file(&[("b.weight", "F32", &[4]), ("c", "F32", &[0])]);
    let index = format!(
        "{{\"metadata\":{{\"total_size\":24}},\"weight_map\":{{\"a.weight\":\"{}\",\"b.weight\":\"{}\",\"c\":\"{}\"}}}}",
        SHARDS[0], SHARDS[1], SHARDS[1]
    );
    let join = |parts: &[&Seed], index: &str| {
        let mut v = index.as_bytes().to_vec();
        let mut ints = Vec::new();
        for p in parts {
            v.extend_from_slice(SEP);
            ints.extend(p.ints.iter().map(|&(o, w)| (o + v.len(), w)));
            v.extend_from_slice(&p.bytes);
        }
        Seed { bytes: v, ints }
    };
    vec![
        join(&[&single], ""),
        join(&[&a, &b], &index),
        join(
            &[&a],
            "{\"weight_map\":{\"a.weight\":\"model-00002-of-00002.safetensors\"}}",
        ),
    ]
}

fn split(input: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = input;
    while let Some(i) = rest.windows(SEP.len()).position(|w| w == SEP) {
        out.push(&rest[..i]);
        rest = &rest[i + SEP.len()..];
    }
    out.push(rest);
    out
}

/// `index.json SEP shard1 SEP shard2 ...` (empty index: one `model.safetensors`); the folder is
/// rebuilt for each exec. A mutant whose weight_map names a path (not a plain file name in the
/// folder) is skipped: the loader would read outside the sandbox.
pub fn run_dir(ctx: &Ctx, input: &[u8]) -> Outcome {
    let dir = ctx.dir.path().join("model");
    let parts = split(input);
    let r = (|| -> Result<Outcome> {
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir(&dir)?;
        let (index, shards) = parts.split_first().expect("split yields one part");
        if index.is_empty() {
            if let Some(s) = shards.first() {
                std::fs::write(dir.join("model.safetensors"), s)?;
            }
        } else {
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(index) {
                let names = v.get("weight_map").and_then(|m| m.as_object());
                let plain = |f: &str| {
                    !f.is_empty() && !f.contains(['/', '\\', '\0']) && f != "." && f != ".."
                };
                if names.is_some_and(|m| m.values().any(|f| f.as_str().is_some_and(|f| !plain(f))))
                {
                    return Ok(Outcome::Skip);
                }
            }
            std::fs::write(dir.join("model.safetensors.index.json"), index)?;
            for (s, name) in shards.iter().zip(SHARDS) {
                std::fs::write(dir.join(name), s)?;
            }
        }
        let st = SafetensorsDir::open(&dir)?;
        let names: Vec<String> = st.names().cloned().collect();
        for n in &names {
            assert!(st.contains(n));
            let t = st.get(n)?;
            let _ = t.numel();
        }
        Ok(Outcome::Ok)
    })();
    r.unwrap_or_else(Outcome::Err)
}

pub const CONFIG_DICT: &[&[u8]] = &[
    b"\"peft_type\"",
    b"\"LORA\"",
    b"\"r\"",
    b"\"lora_alpha\"",
    b"\"target_modules\"",
    b"\"all-linear\"",
    b"\"layers_to_transform\"",
    b"\"use_rslora\"",
    b"\"rank_pattern\"",
    b"\"layers_pattern\"",
    b"null",
    b"true",
    b"1e308",
    b"-1",
    b"18446744073709551615",
    b"[]",
    b"{}",
    b"\"self_attn.q_proj\"",
];

pub fn config_seeds() -> Vec<Seed> {
    let mut c = LoraConfig::default();
    let mut v = vec![Seed::new(c.to_json().expect("serialises").into_bytes())];
    c.layers_to_transform = Some(lexalign_model::lora::Layers::Many(vec![0, 2]));
    c.use_rslora = true;
    c.target_modules = vec!["all-linear".into()];
    c.lora_alpha = 0.5;
    v.push(Seed::new(c.to_json().expect("serialises").into_bytes()));
    v.push(Seed::new(
        &b"{\"peft_type\":\"LORA\",\"r\":8,\"lora_alpha\":16,\"lora_dropout\":0.1,\"target_modules\":[\"self_attn.q_proj\",\"mlp.down_proj\"],\"layers_to_transform\":3,\"rank_pattern\":{\"x\":1}}"[..],
    ));
    v
}

/// `LoraConfig::from_file`, then what a caller uses; an accepted config must survive `to_json`.
pub fn run_config(ctx: &Ctx, input: &[u8]) -> Outcome {
    let r = (|| -> Result<()> {
        let path = ctx.dir.path().join("adapter_config.json");
        std::fs::write(&path, input)?;
        let c = LoraConfig::from_file(&path)?;
        let _ = (
            c.scale(),
            c.modules()?,
            (0..4).map(|i| c.transforms_layer(i)).count(),
        );
        std::fs::write(&path, c.to_json()?)?;
        let again = LoraConfig::from_file(&path)
            .expect("a config we accepted and wrote back must read again");
        assert_eq!(again.r, c.r);
        assert_eq!(again.target_modules, c.target_modules);
        Ok(())
    })();
    r.into()
}

pub fn weights_seeds() -> Vec<Seed> {
    vec![
        st_file(&[
            (
                "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
                "F32",
                &[2, 4],
            ),
            (
                "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight",
                "BF16",
                &[4, 2],
            ),
        ]),
        st_file(&[("x", "F16", &[1]), ("y", "F32", &[])]),
    ]
}

pub fn run_weights(ctx: &Ctx, input: &[u8]) -> Outcome {
    let r = (|| -> Result<()> {
        let path = ctx.dir.path().join("adapter_model.safetensors");
        std::fs::write(&path, input)?;
        for (_, t) in read_safetensors(&path)? {
            let _ = t.numel();
        }
        Ok(())
    })();
    r.into()
}
