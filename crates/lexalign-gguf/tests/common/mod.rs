//! Shared test helpers: fixture loading, the default model, and a tiny GGUF writer for synthetic files.
#![allow(dead_code, unknown_lints, clippy::manual_is_multiple_of)]

use std::path::PathBuf;

use lexalign_gguf::LlamaGguf;
use serde_json::Value;

pub fn fixture(name: &str) -> Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("reading fixture {}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing fixture {}: {e}", p.display()))
}

/// The default model; fails (does not skip) when it is missing.
pub fn model_path() -> PathBuf {
    lexalign_gguf::default_model_path().unwrap_or_else(|e| panic!("{e:#}"))
}

pub fn model() -> LlamaGguf {
    LlamaGguf::open(model_path()).unwrap_or_else(|e| panic!("{e:#}"))
}

pub fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

pub fn json_bits(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

/// Minimal GGUF writer for synthetic test files.
pub struct GgufWriter {
    pub version: u32,
    pub alignment: usize,
    kvs: Vec<u8>,
    n_kv: u64,
    tensors: Vec<(String, Vec<u64>, u32, Vec<u8>)>,
}

pub fn str_bytes(s: &str) -> Vec<u8> {
    let mut v = (s.len() as u64).to_le_bytes().to_vec();
    v.extend_from_slice(s.as_bytes());
    v
}

impl GgufWriter {
    pub fn new(version: u32) -> Self {
        GgufWriter {
            version,
            alignment: 32,
            kvs: Vec::new(),
            n_kv: 0,
            tensors: Vec::new(),
        }
    }
    /// Raw KV: key, value type id, encoded value.
    pub fn kv_raw(&mut self, key: &str, ty: u32, value: &[u8]) -> &mut Self {
        self.kvs.extend(str_bytes(key));
        self.kvs.extend(ty.to_le_bytes());
        self.kvs.extend_from_slice(value);
        self.n_kv += 1;
        self
    }
    pub fn kv_str(&mut self, key: &str, v: &str) -> &mut Self {
        self.kv_raw(key, 8, &str_bytes(v))
    }
    pub fn kv_u32(&mut self, key: &str, v: u32) -> &mut Self {
        self.kv_raw(key, 4, &v.to_le_bytes())
    }
    pub fn kv_f32(&mut self, key: &str, v: f32) -> &mut Self {
        self.kv_raw(key, 6, &v.to_le_bytes())
    }
    pub fn tensor(&mut self, name: &str, dims: &[u64], ty: u32, data: Vec<u8>) -> &mut Self {
        self.tensors.push((name.into(), dims.to_vec(), ty, data));
        self
    }
    pub fn build(&self) -> Vec<u8> {
        let mut out = b"GGUF".to_vec();
        out.extend(self.version.to_le_bytes());
        out.extend((self.tensors.len() as u64).to_le_bytes());
        out.extend(self.n_kv.to_le_bytes());
        out.extend_from_slice(&self.kvs);
        let mut offset = 0usize;
        let mut offsets = Vec::new();
        for (name, dims, ty, data) in &self.tensors {
            out.extend(str_bytes(name));
            out.extend((dims.len() as u32).to_le_bytes());
            for d in dims {
                out.extend(d.to_le_bytes());
            }
            out.extend(ty.to_le_bytes());
            out.extend((offset as u64).to_le_bytes());
            offsets.push(offset);
            offset += data.len().div_ceil(self.alignment) * self.alignment;
        }
        while out.len() % self.alignment != 0 {
            out.push(0);
        }
        let base = out.len();
        for ((_, _, _, data), off) in self.tensors.iter().zip(offsets) {
            out.resize(base + off, 0);
            out.extend_from_slice(data);
        }
        out
    }
}
