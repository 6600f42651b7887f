//! Shared by the integration tests: the embedded demo model, loaded once per test binary.
#![allow(dead_code)]

use lexalign_model::{load, LoadOptions, LoadedModel};
use std::path::PathBuf;

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The embedded GGUF (set up by `cargo xtask setup`); `None` (test skipped with a note) when absent.
pub fn demo_model(max_blocks: usize) -> Option<LoadedModel> {
    let path = match lexalign_gguf::default_model_path() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("skipped: {e:#}");
            return None;
        }
    };
    tch::set_num_threads(2);
    let opts = LoadOptions {
        max_blocks: Some(max_blocks),
        ..LoadOptions::default()
    };
    Some(load(&path, &opts).expect("load the embedded model"))
}

pub fn pairs(list: &[(&str, &str)]) -> Vec<lexalign_tli::Pair> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

pub fn max_abs_diff(a: &tch::Tensor, b: &tch::Tensor) -> f64 {
    assert_eq!(a.size(), b.size(), "shapes differ");
    (a.to_kind(tch::Kind::Double) - b.to_kind(tch::Kind::Double))
        .abs()
        .max()
        .double_value(&[])
}

pub fn decode_b64_f32(s: &str) -> Vec<f32> {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut buf, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|&c| c != b'=') {
        buf = (buf << 6) | T.iter().position(|&t| t == c).unwrap() as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    out.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}
