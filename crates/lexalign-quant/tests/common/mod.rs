//! Helpers shared by the bitsandbytes fixture tests (CPU and CUDA fixtures have one format).
#![allow(dead_code)]

use lexalign_quant::f32_to_bf16_bits;
use serde_json::Value;
use sha2::{Digest, Sha256};

pub fn fixtures() -> Value {
    fixture("bnb_fixtures.json")
}

/// A fixture file of tests/fixtures/ (a missing one is a failure, never a skip).
pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let path = path.as_str();
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {path}: {e}"))
}

pub fn b64(s: &str) -> Vec<u8> {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut lut = [255u8; 256];
    for (i, &c) in T.iter().enumerate() {
        lut[c as usize] = i as u8;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut nbits) = (0u32, 0u32);
    for &c in s.as_bytes() {
        if c == b'=' {
            break;
        }
        let v = lut[c as usize];
        assert!(v != 255, "bad base64 byte {c}");
        acc = (acc << 6) | v as u32;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((acc >> nbits) as u8);
        }
    }
    out
}

pub fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

pub fn sha_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Same generator as gen_bnb.py `gen_values` (splitmix64, Irwin-Hall of 4 uniforms, f64 math).
pub fn gen_values(seed: u64, n: usize, scale: f64) -> Vec<f32> {
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^ (z >> 31)
    };
    (0..n)
        .map(|_| {
            let mut s = 0f64;
            for _ in 0..4 {
                s += (next() >> 11) as f64 * (1.0 / 9007199254740992.0);
            }
            let mut g = (s - 2.0) * scale;
            if next() % 97 == 0 {
                g *= 8.0;
            }
            g as f32
        })
        .collect()
}

pub fn bf16_round(x: f32) -> f32 {
    f32::from_bits((f32_to_bf16_bits(x) as u32) << 16)
}

/// The case's input as f32 values plus the raw bytes in its dtype (for the sha256 check).
pub fn input(fx: &Value, key: &str, dtype: &str, numel: usize) -> Vec<f32> {
    let inp = &fx["inputs"][key];
    let vals: Vec<f32> = if let Some(g) = inp.get("gen") {
        let v = gen_values(
            g["seed"].as_u64().unwrap(),
            numel,
            g["scale"].as_f64().unwrap(),
        );
        if dtype == "bf16" {
            v.into_iter().map(bf16_round).collect()
        } else {
            v
        }
    } else {
        let raw = b64(inp["b64"].as_str().unwrap());
        match dtype {
            "f32" => f32s(&raw),
            "bf16" => raw
                .chunks_exact(2)
                .map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16))
                .collect(),
            d => panic!("dtype {d}"),
        }
    };
    let raw: Vec<u8> = match dtype {
        "f32" => vals.iter().flat_map(|x| x.to_le_bytes()).collect(),
        _ => vals
            .iter()
            .flat_map(|x| ((x.to_bits() >> 16) as u16).to_le_bytes())
            .collect(),
    };
    assert_eq!(
        sha_hex(&raw),
        inp["sha256"].as_str().unwrap(),
        "input {key}: regenerated input differs"
    );
    assert_eq!(vals.len(), numel, "input {key}");
    vals
}

pub fn first_diff<T: PartialEq + std::fmt::Debug>(a: &[T], b: &[T]) -> String {
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(i) => format!("first difference at {i}: ours {:?} vs bnb {:?}", a[i], b[i]),
        None => format!("lengths {} vs {}", a.len(), b.len()),
    }
}
