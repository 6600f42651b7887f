//! Rust LASER-2 against laser_encoders 0.0.2 on the tiny random-weight checkpoint: LASER's
//! tokenized strings, the ids, and the sentence vectors batched and one at a time (within 1e-5).

mod common;
use common::*;
use lexalign_laser::{to_rows, Laser2};
use tch::Device;

#[test]
fn preprocessing_tables_are_the_reference_ones() {
    let a: serde_json::Value =
        serde_json::from_str(lexalign_laser::preprocess::moses_substitutions_json()).unwrap();
    let b: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("moses_substitutions.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        a, b,
        "src/data/moses_substitutions.json differs from the regenerated fixture"
    );
    let a: serde_json::Value =
        serde_json::from_str(lexalign_laser::preprocess::nonprint_ranges_json()).unwrap();
    let b: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("nonprint_ranges.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        a, b,
        "src/data/nonprint_ranges.json differs from the regenerated fixture"
    );
}

#[test]
fn tokens_and_ids_match_laser_encoders() {
    let laser = Laser2::load(&tiny_dir(), Device::Cpu).unwrap();
    let fx = fixture();
    for inp in fx["inputs"].as_array().unwrap() {
        let text = inp["text"].as_str().unwrap();
        assert_eq!(
            laser.tokenize(text).unwrap(),
            inp["tokenized"].as_str().unwrap(),
            "tokenized {text:?}"
        );
        let ids: Vec<i64> = inp["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        assert_eq!(laser.ids(text).unwrap(), ids, "ids of {text:?}");
    }
}

#[test]
fn tokenization_corners_match_laser_encoders() {
    let laser = Laser2::load(&tiny_dir(), Device::Cpu).unwrap();
    let fx = fixture();
    let cases = fx["tokenize_only"].as_array().unwrap();
    assert!(cases.len() > 80);
    let bad: Vec<String> = cases
        .iter()
        .filter_map(|c| {
            let (text, want) = (
                c["text"].as_str().unwrap(),
                c["tokenized"].as_str().unwrap(),
            );
            let got = laser.tokenize(text).unwrap();
            (got != want).then(|| format!("{text:?}: got {got:?}, want {want:?}"))
        })
        .collect();
    assert!(
        bad.is_empty(),
        "{} of {} differ:\n{}",
        bad.len(),
        cases.len(),
        bad.join("\n")
    );
}

#[test]
fn embeddings_match_laser_encoders_batched_and_alone() {
    let laser = Laser2::load(&tiny_dir(), Device::Cpu).unwrap();
    let fx = fixture();
    let inputs = fx["inputs"].as_array().unwrap();
    let texts: Vec<&str> = inputs.iter().map(|i| i["text"].as_str().unwrap()).collect();
    let dim = fx["tiny"]["dim"].as_u64().unwrap() as usize;
    assert_eq!(laser.dim() as usize, dim);

    let (n, d, batched) = to_rows(&laser.embed(&texts, texts.len()).unwrap()).unwrap();
    assert_eq!((n, d), (texts.len(), dim));
    let mut worst_batched = 0f32;
    let mut worst_alone = 0f32;
    for (i, inp) in inputs.iter().enumerate() {
        let want_b = f32s(&inp["batched"]);
        let want_a = f32s(&inp["alone"]);
        worst_batched = worst_batched.max(max_abs_diff(&batched[i * d..(i + 1) * d], &want_b));
        let (_, _, alone) = to_rows(&laser.embed(&texts[i..i + 1], 1).unwrap()).unwrap();
        worst_alone = worst_alone.max(max_abs_diff(&alone, &want_a));
    }
    // One call with batch size 1 goes through the same sort/unsort as the batched call.
    let (_, _, one_by_one) = to_rows(&laser.embed(&texts, 1).unwrap()).unwrap();
    for (i, inp) in inputs.iter().enumerate() {
        worst_alone = worst_alone.max(max_abs_diff(
            &one_by_one[i * d..(i + 1) * d],
            &f32s(&inp["alone"]),
        ));
    }
    eprintln!("tiny LASER-2 parity: max abs diff batched {worst_batched:e}, alone {worst_alone:e}");
    assert!(
        worst_batched <= 1e-5,
        "batched max abs diff {worst_batched}"
    );
    assert!(worst_alone <= 1e-5, "alone max abs diff {worst_alone}");
}
