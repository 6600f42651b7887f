//! Candidate scoring over a shared prompt prefix and the logit lens against transformers 5.24
//! (fixture from `tests/fixtures/gen_continuation.py`): each candidate's total log-probability
//! after the prompt within 1e-4 nats per candidate token, candidates batched (1 to 4 tokens, right-padded) on both
//! embedded GGUF models; the greedy step of the shared prefix equals `generate`'s; the lens's
//! gold rank per hidden state equals transformers' (within one place where two probabilities
//! tie to f32 rounding, checked by the log-probabilities).

use lexalign_model::logit_lens::ScriptMasks;
use lexalign_model::{load, GenerateConfig, LoadOptions, LoadedModel};
use serde_json::Value;

mod common;

fn embedded(name: &str) -> LoadedModel {
    let path = lexalign_gguf::resolve_model(Some(std::path::Path::new(name))).unwrap_or_else(|e| {
        panic!("the embedded model {name} is needed: run `cargo xtask setup` ({e:#})")
    });
    tch::set_num_threads(2);
    load(
        &path,
        &LoadOptions {
            lm_head: true,
            ..LoadOptions::default()
        },
    )
    .unwrap()
}

fn ids(v: &Value) -> Vec<i64> {
    serde_json::from_value(v.clone()).unwrap()
}

fn check_model(name: &str, reference: &Value) -> f64 {
    let m = embedded(name);
    let vocab = m.model.embed_tokens.size()[0] as usize;
    let masks = ScriptMasks::of(&m.tokenizer, vocab, m.model.device).unwrap();
    let mut worst = 0f64;
    for case in reference["models"][name]["cases"].as_array().unwrap() {
        let prompt = ids(&case["prompt_ids"]);
        assert_eq!(
            m.tokenizer
                .encode(case["prompt"].as_str().unwrap())
                .unwrap(),
            prompt,
            "prompt tokens"
        );
        let cands: Vec<Vec<i64>> = case["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| ids(&c["ids"]))
            .collect();
        let prefix = m.model.shared_prefix(&prompt).unwrap();
        let got = m.model.score_continuations(&prefix, &cands).unwrap();
        for (g, c) in got.iter().zip(case["candidates"].as_array().unwrap()) {
            let want = c["logprob"].as_f64().unwrap();
            let per_token = (g - want).abs() / c["ids"].as_array().unwrap().len() as f64;
            worst = worst.max(per_token);
            assert!(
                per_token < 1e-4,
                "{name} {:?}: {g} vs transformers {want}",
                c["text"]
            );
        }
        // The shared prefix continues as generate does.
        let mut p = m.model.shared_prefix(&prompt).unwrap();
        let mut mine = Vec::new();
        for _ in 0..4 {
            let next = p.next_logp.argmax(0, false).int64_value(&[]);
            mine.push(next);
            m.model.extend_prefix(&mut p, next).unwrap();
        }
        assert_eq!(
            mine,
            m.model
                .generate(&prompt, &GenerateConfig::greedy(4, vec![]))
                .unwrap(),
            "{name}: greedy"
        );
        let lens = m
            .model
            .logit_lens(&prompt, case["lens_gold"].as_i64().unwrap(), &masks)
            .unwrap();
        let (ranks, lps) = (
            ids(&case["lens_rank"]),
            case["lens_logprob"].as_array().unwrap(),
        );
        assert_eq!(lens.len(), ranks.len(), "{name}: hidden states");
        for (l, (pt, &want)) in lens.iter().zip(&ranks).enumerate() {
            let close = lps[l].as_f64().unwrap() > -30.0;
            assert!(
                pt.rank as i64 == want || (close && (pt.rank as i64 - want).abs() <= 1),
                "{name} layer {l}: rank {} vs {want}",
                pt.rank
            );
            assert!(
                pt.p_hangul >= 0.0 && pt.p_latin >= 0.0 && pt.p_hangul + pt.p_latin <= 1.0 + 1e-5
            );
        }
    }
    worst
}

#[test]
fn continuation_scores_and_lens_match_transformers() {
    let path = common::fixtures().join("continuation_reference.json");
    let reference: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for name in ["smollm2-135m", "gemma3-270m"] {
        let worst = check_model(name, &reference);
        eprintln!("{name}: max |log-prob difference| {worst:.2e} nats per token");
    }
}

#[test]
fn empty_candidate_is_refused() {
    let m = embedded("smollm2-135m");
    let prefix = m
        .model
        .shared_prefix(&m.tokenizer.encode("Hello").unwrap())
        .unwrap();
    let e = m
        .model
        .score_continuations(&prefix, &[vec![1], vec![]])
        .unwrap_err()
        .to_string();
    assert!(e.contains("candidate 1"), "{e}");
}
