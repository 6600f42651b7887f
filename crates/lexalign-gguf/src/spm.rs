//! Gemma's SentencePiece vocabulary (`tokenizer.ggml.model == "llama"` in a `gemma*` GGUF), built
//! the way transformers 5 builds it (`integrations/gguf/gguf_tokenizer_mapping.py`,
//! `gemma_tokenizer` + `GemmaTokenizer`):
//! * tokens of two or more spaces are respelled as that many `▁`;
//! * the file has no merges, so they are rebuilt from the vocabulary with transformers'
//!   `generate_merges`, ranked by file position (score `-index`), not by the file's scores;
//! * BPE with byte fallback and a fused `<unk>`; normalizer `" " -> "▁"`; pre-tokenizer
//!   `Split(" ", merged_with_previous)`; decoder Replace/ByteFallback/Fuse.

use std::collections::HashMap;

use serde_json::{json, Value};

/// The respelled token list (index = id).
pub fn respell(tokens: &[&str]) -> Vec<String> {
    tokens
        .iter()
        .map(|t| {
            if t.contains(' ') && t.trim().is_empty() {
                "\u{2581}".repeat(t.chars().count())
            } else {
                t.to_string()
            }
        })
        .collect()
}

/// `{token: id}` as a Python dict comprehension builds it (a repeated token keeps its last id),
/// plus the distinct tokens in first-appearance order (the dict's iteration order).
pub fn vocab_in_dict_order(tokens: &[String]) -> (HashMap<&str, usize>, Vec<&str>) {
    let mut vocab: HashMap<&str, usize> = HashMap::with_capacity(tokens.len());
    let mut order = Vec::with_capacity(tokens.len());
    for (id, t) in tokens.iter().enumerate() {
        if vocab.insert(t.as_str(), id).is_none() {
            order.push(t.as_str());
        }
    }
    (vocab, order)
}

/// transformers' `generate_merges(vocab, vocab_scores={token: -index})`: every split of every
/// token into two vocabulary pieces, sorted by (score, len(left), len(right)) descending (a
/// stable sort, so ties keep their order); lengths count characters, as Python's `len` does.
pub fn generate_merges(tokens: &[String]) -> Vec<(String, String)> {
    let (vocab, order) = vocab_in_dict_order(tokens);
    let mut merges: Vec<(&str, &str, i64, usize, usize)> = Vec::new();
    for token in &order {
        let score = -(vocab[token] as i64);
        let mut local: Vec<(&str, &str)> = Vec::new();
        for (split, _) in token.char_indices().skip(1) {
            let (l, r) = token.split_at(split);
            if vocab.contains_key(l) && vocab.contains_key(r) {
                local.push((l, r));
            }
        }
        local.sort_by_key(|(l, r)| (vocab[l], vocab[r]));
        for (l, r) in local {
            merges.push((l, r, score, l.chars().count(), r.chars().count()));
        }
    }
    merges.sort_by_key(|m| std::cmp::Reverse((m.2, m.3, m.4)));
    merges
        .into_iter()
        .map(|(l, r, ..)| (l.to_string(), r.to_string()))
        .collect()
}

/// The `tokenizer.json` fields of Gemma's tokenizer, without the added tokens and post-processor.
pub fn gemma_model_json(tokens: &[String], unk: &str) -> Value {
    let (vocab, _) = vocab_in_dict_order(tokens);
    let vocab: serde_json::Map<String, Value> = vocab
        .into_iter()
        .map(|(t, id)| (t.to_string(), json!(id)))
        .collect();
    let merges: Vec<Value> = generate_merges(tokens)
        .into_iter()
        .map(|(l, r)| json!([l, r]))
        .collect();
    json!({
        "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "\u{2581}"},
        "pre_tokenizer": {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious", "invert": false},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u{2581}"}, "content": " "},
            {"type": "ByteFallback"},
            {"type": "Fuse"},
        ]},
        "model": {
            "type": "BPE", "dropout": null, "unk_token": unk, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
            "vocab": vocab, "merges": merges,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn respells_space_runs_only() {
        assert_eq!(
            respell(&["  ", " ", "a b", "x"]),
            s(&["\u{2581}\u{2581}", "\u{2581}", "a b", "x"])
        );
    }

    #[test]
    fn merges_follow_file_order_then_lengths() {
        // ids: a0 b1 c2 ab3 bc4 abc5: abc (score -5) splits a|bc, ab|c; ab (-3); bc (-4).
        let toks = s(&["a", "b", "c", "ab", "bc", "abc"]);
        let m = generate_merges(&toks);
        let want: Vec<(String, String)> = [("a", "b"), ("b", "c"), ("ab", "c"), ("a", "bc")]
            .iter()
            .map(|(l, r)| (l.to_string(), r.to_string()))
            .collect();
        assert_eq!(m, want);
    }
}
