//! Shared by the integration tests: the embedded demo model, loaded once per test binary.
#![allow(dead_code)]

use lexalign_model::{load, LoadOptions, LoadedModel};
use std::path::PathBuf;

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The embedded GGUF (set up by `cargo xtask setup`). When absent: a failure under
/// `cargo xtask test` / CI, else `None` (the test skips with a printed reason); see
/// `lexalign_run::require_fixtures`.
pub fn demo_model(max_blocks: usize) -> Option<LoadedModel> {
    demo_model_in(max_blocks, tch::Kind::Float)
}

/// [`demo_model`] computing in `kind` (bf16: the authors' compute dtype).
pub fn demo_model_in(max_blocks: usize, kind: tch::Kind) -> Option<LoadedModel> {
    let path = match lexalign_gguf::default_model_path() {
        Ok(p) => p,
        Err(e) => {
            lexalign_run::missing_fixture(format!("{e:#}"));
            return None;
        }
    };
    tch::set_num_threads(2);
    let opts = LoadOptions {
        max_blocks: Some(max_blocks),
        kind,
        ..LoadOptions::default()
    };
    Some(load(&path, &opts).expect("load the embedded model"))
}

pub fn pairs(list: &[(&str, &str)]) -> Vec<lexalign_tli::Pair> {
    list.iter()
        .map(|(a, b)| lexalign_tli::Pair::new(*a, *b))
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

/// Runs the test `name` of this test binary again in a child process with `env`, and returns
/// (success, stdout + stderr): how a test checks what another does when a fixture is missing.
pub fn rerun_test(name: &str, env: &[(&str, &str)]) -> (bool, String) {
    let mut c = std::process::Command::new(std::env::current_exe().unwrap());
    c.args(["--exact", name, "--nocapture", "--test-threads", "1"]);
    for k in [
        lexalign_run::ENV_REQUIRE_FIXTURES,
        "LEXALIGN_REQUIRE_PAPER_DATA",
        "CI",
    ] {
        c.env_remove(k);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    let text =
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    (o.status.success(), text)
}
