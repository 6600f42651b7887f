//! Helpers shared by the parity tests.
#![allow(dead_code)]

use std::path::PathBuf;
use tch::{Kind, Tensor};

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Standard base64 (the fixtures' float32 little-endian vectors).
pub fn base64_decode(s: &str) -> Vec<u8> {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut buf, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|&c| c != b'=') {
        buf = (buf << 6) | T.iter().position(|&t| t == c).expect("base64 character") as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    out
}

pub fn decode_f32(b64: &str) -> Vec<f32> {
    base64_decode(b64)
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

pub fn max_abs_diff(a: &Tensor, b: &[f32]) -> f64 {
    let a: Vec<f32> = Vec::try_from(a.to_kind(Kind::Float).flatten(0, -1)).unwrap();
    assert_eq!(a.len(), b.len(), "vector lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() as f64)
        .fold(0.0, f64::max)
}

/// The embedded GGUF (set up by `cargo xtask setup`); a missing model fails loudly.
pub fn embedded_model() -> PathBuf {
    lexalign_gguf::default_model_path()
        .expect("the embedded model is needed: run `cargo xtask setup`")
}
