//! The tokenizer transformers builds from GGUF metadata, rebuilt with the `tokenizers` crate.
//!
//! Mirrors transformers' `integrations/gguf/gguf_tokenizer_mapping.py` (5.x; same result as the 4.x
//! `GGUFGPTConverter`) for `tokenizer.ggml.model == "gpt2"` (byte-level BPE: SmolLM2, Llama 3):
//! * BPE over `tokenizer.ggml.tokens` / `tokenizer.ggml.merges`, no unk, no byte fallback;
//! * pre-tokenizer: GPT-2 `ByteLevel(add_prefix_space=false, use_regex=true)`, or for a known
//!   `tokenizer.ggml.pre` (llama-bpe, qwen2, ...) `Split(regex, isolated)` + `ByteLevel(use_regex=false)`;
//! * decoder `ByteLevel`; CONTROL tokens (type 3) added as special tokens, USER_DEFINED (4) as
//!   plain added tokens;
//! * post-processor: BOS/EOS prepended/appended only if `tokenizer.ggml.add_bos_token` /
//!   `add_eos_token` say so (transformers' `update_post_processor`). For the SmolLM2 GGUF that flag
//!   is false, so transformers adds no BOS, and neither do we.

use std::collections::HashSet;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use tokenizers::Tokenizer;

use crate::reader::Gguf;

/// Special-token facts the model crate needs next to the tokenizer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenizerInfo {
    /// `tokenizer.ggml.model` (e.g. "gpt2").
    pub model: String,
    /// `tokenizer.ggml.pre` (e.g. "smollm", "llama-bpe").
    pub pre: Option<String>,
    /// Whether encoding with special tokens prepends BOS (what transformers does for this file).
    pub add_bos: bool,
    pub add_eos: bool,
    pub bos_id: Option<u32>,
    pub eos_id: Option<u32>,
    pub pad_id: Option<u32>,
    pub unk_id: Option<u32>,
    pub bos_token: Option<String>,
    pub eos_token: Option<String>,
    pub pad_token: Option<String>,
    pub unk_token: Option<String>,
    /// Ids of all special (CONTROL) tokens; positions holding them are not "content".
    pub special_ids: Vec<u32>,
    pub chat_template: Option<String>,
}

/// A tokenizer plus its special-token info.
#[derive(Clone)]
pub struct GgufTokenizer {
    pub tokenizer: Tokenizer,
    pub info: TokenizerInfo,
}

impl GgufTokenizer {
    /// Token ids as transformers' `tokenizer(text)["input_ids"]` (special tokens per the template).
    pub fn encode_ids(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| anyhow!("tokenizing {text:?}: {e}"))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Whether `id` is a special token (BOS/EOS/PAD or any CONTROL token).
    pub fn is_special(&self, id: u32) -> bool {
        self.info.special_ids.contains(&id)
            || [self.info.bos_id, self.info.eos_id, self.info.pad_id].contains(&Some(id))
    }

    /// HF `tokenizer_config.json` for this tokenizer.
    pub fn hf_tokenizer_config(&self) -> Value {
        let i = &self.info;
        json!({
            "tokenizer_class": "PreTrainedTokenizerFast",
            "add_bos_token": i.add_bos,
            "add_eos_token": i.add_eos,
            "bos_token": i.bos_token,
            "eos_token": i.eos_token,
            "pad_token": i.pad_token,
            "unk_token": i.unk_token,
            "bos_token_id": i.bos_id,
            "eos_token_id": i.eos_id,
            "pad_token_id": i.pad_id,
            "chat_template": i.chat_template,
            "clean_up_tokenization_spaces": false,
        })
    }
}

/// The `tokenizers` tokenizer transformers builds from this GGUF.
pub fn tokenizer_from_gguf(g: &Gguf) -> Result<Tokenizer> {
    Ok(tokenizer_from_gguf_full(g)?.tokenizer)
}

/// GPT-2's byte -> printable-char table (`bytes_to_unicode`).
pub fn bytes_to_unicode() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut n = 0u32;
    for b in 0..256u32 {
        let printable =
            (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
        table[b as usize] = if printable {
            char::from_u32(b).unwrap()
        } else {
            n += 1;
            char::from_u32(255 + n).unwrap()
        };
    }
    table
}

const LLAMA3_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN2_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const TEKKEN_SPLIT: &str = concat!(
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+",
    r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*",
    r"|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
);
const GPT4O_SPLIT: &str = concat!(
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
);

/// transformers' `GGUF_PRE_TOKENIZER_SPLITS` (a `tokenizer.ggml.pre` not listed keeps GPT-2's regex).
fn split_regex(pre: &str) -> Option<&'static str> {
    Some(match pre {
        "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "falcon-h1" | "pixtral" | "midm-2.0"
        | "lfm2" | "jina-v5-nano" | "dbrx" | "smaug-bpe" => LLAMA3_SPLIT,
        "tekken" => TEKKEN_SPLIT,
        "qwen2" | "deepseek-r1-qwen" | "kormo" | "f2llmv2" | "megrez" => QWEN2_SPLIT,
        "gpt-4o" | "llama4" | "kanana2" | "talkie" | "minimax-m2" => GPT4O_SPLIT,
        _ => return None,
    })
}

/// Builds the tokenizer and its info from GGUF metadata.
pub fn tokenizer_from_gguf_full(g: &Gguf) -> Result<GgufTokenizer> {
    let p = g.path().display().to_string();
    let model = g
        .get_str("tokenizer.ggml.model")?
        .ok_or_else(|| {
            anyhow!(
                "{p}: GGUF metadata 'tokenizer.ggml.model' is missing; cannot build a tokenizer"
            )
        })?
        .to_string();
    let arch = g
        .get_str("general.architecture")?
        .unwrap_or_default()
        .to_string();
    let gemma_spm = model == "llama" && arch.starts_with("gemma");
    if model != "gpt2" && !gemma_spm {
        bail!(
            "{p}: tokenizer.ggml.model = '{model}' (architecture '{arch}') is not supported; lexalign builds \
             byte-level BPE ('gpt2': SmolLM2, Llama 3, Qwen) and Gemma's SentencePiece ('llama' in a gemma file) tokenizers"
        );
    }
    let pre = g.get_str("tokenizer.ggml.pre")?.map(str::to_owned);
    let tokens = g
        .get_str_array("tokenizer.ggml.tokens")?
        .ok_or_else(|| anyhow!("{p}: GGUF metadata 'tokenizer.ggml.tokens' is missing"))?;
    let types = g
        .get_int_array("tokenizer.ggml.token_type")?
        .unwrap_or_default();
    if gemma_spm {
        return gemma_tokenizer(g, &p, model, pre, &tokens, &types);
    }
    let merges = g.get_str_array("tokenizer.ggml.merges")?.ok_or_else(|| {
        anyhow!(
            "{p}: GGUF metadata 'tokenizer.ggml.merges' is missing (needed for a BPE tokenizer)"
        )
    })?;

    let spelling = bytes_to_unicode();
    let alphabet: HashSet<char> = spelling.iter().copied().collect();
    let in_alphabet = |t: &str| t.chars().all(|c| alphabet.contains(&c));

    // Vocab: a token written outside the byte alphabet is re-spelled byte by byte (as transformers does).
    let mut vocab = serde_json::Map::with_capacity(tokens.len());
    for (id, t) in tokens.iter().enumerate() {
        let key = if in_alphabet(t) {
            t.to_string()
        } else {
            t.bytes().map(|b| spelling[b as usize]).collect()
        };
        // Later duplicates overwrite earlier ones, as a Python dict comprehension does.
        vocab.insert(key, json!(id));
    }
    let merges_json = merge_pairs(&p, &merges)?;

    // 3 = CONTROL -> special (skipped if mislabelled outside the byte alphabet); 4 = USER_DEFINED -> plain.
    let (added, special_ids) =
        added_tokens(&tokens, &types, in_alphabet, |t| vocab.contains_key(t));

    let pre_tokenizer = byte_level_pre_tokenizer(pre.as_deref());

    // transformers: the file's flag, else false (true only for sentencepiece 'llama' vocabularies).
    let ids = SpecialIds::read(g, &p, &tokens, false)?;
    let post_processor = ids.template();

    let json = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": post_processor,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {
            "type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": "",
            "end_of_word_suffix": "", "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
            "vocab": vocab, "merges": merges_json,
        },
    });
    finish(g, &p, "the tokenizer", &json, model, pre, ids, special_ids)
}

/// transformers' `update_post_processor`: `[bos:0] $A:0 [eos:0]`, pair `... [bos:1] $B:1 [eos:1]`.
fn template(bos: Option<(String, u32)>, eos: Option<(String, u32)>) -> Value {
    let special = |t: &str, ty: u32| json!({"SpecialToken": {"id": t, "type_id": ty}});
    let seq = |s: &str, ty: u32| json!({"Sequence": {"id": s, "type_id": ty}});
    let mut single = Vec::new();
    let mut pair = Vec::new();
    for (s, ty, out) in [("A", 0, &mut single), ("B", 1, &mut pair)] {
        if let Some((b, _)) = &bos {
            out.push(special(b, ty));
        }
        out.push(seq(s, ty));
        if let Some((e, _)) = &eos {
            out.push(special(e, ty));
        }
    }
    let pair: Vec<Value> = single.iter().cloned().chain(pair).collect();
    let mut specials = serde_json::Map::new();
    for (t, id) in bos.iter().chain(eos.iter()) {
        specials.insert(t.clone(), json!({"id": t, "ids": [id], "tokens": [t]}));
    }
    json!({"type": "TemplateProcessing", "single": single, "pair": pair, "special_tokens": specials})
}

/// CONTROL tokens (type 3) become special added tokens (when `keep` accepts them); USER_DEFINED
/// (type 4) plain added tokens when the vocabulary holds them as written (`in_vocab`), as
/// transformers' `add_gguf_special_tokens` does.
fn added_tokens(
    tokens: &[&str],
    types: &[i64],
    keep: impl Fn(&str) -> bool,
    in_vocab: impl Fn(&str) -> bool,
) -> (Vec<Value>, Vec<u32>) {
    let mut added = Vec::new();
    let mut special_ids = Vec::new();
    for (id, t) in tokens.iter().enumerate() {
        let ty = types.get(id).copied().unwrap_or(1);
        let special = match ty {
            3 if keep(t) => true,
            4 if in_vocab(t) => false,
            _ => continue,
        };
        if special {
            special_ids.push(id as u32);
        }
        added.push(json!({
            "id": id, "content": t, "single_word": false, "lstrip": false, "rstrip": false,
            "normalized": false, "special": special,
        }));
    }
    (added, special_ids)
}

/// Gemma's tokenizer (see [`crate::spm`]); BOS is added unless the file says otherwise, as
/// transformers defaults `add_bos_token` for sentencepiece vocabularies.
fn gemma_tokenizer(
    g: &Gguf,
    p: &str,
    model: String,
    pre: Option<String>,
    tokens: &[&str],
    types: &[i64],
) -> Result<GgufTokenizer> {
    let respelled = crate::spm::respell(tokens);
    let ids = SpecialIds::read(g, p, tokens, true)?;
    let unk = ids.unk_token.clone().unwrap_or_else(|| "<unk>".into());
    let in_vocab: std::collections::HashSet<&str> = respelled.iter().map(String::as_str).collect();
    let (added, special_ids) = added_tokens(tokens, types, |_| true, |t| in_vocab.contains(t));
    let mut json = crate::spm::gemma_model_json(&respelled, &unk);
    let obj = json.as_object_mut().expect("an object");
    obj.insert("version".into(), json!("1.0"));
    obj.insert("truncation".into(), Value::Null);
    obj.insert("padding".into(), Value::Null);
    obj.insert("added_tokens".into(), json!(added));
    obj.insert("post_processor".into(), ids.template());
    finish(
        g,
        p,
        "Gemma's tokenizer",
        &json,
        model,
        pre,
        ids,
        special_ids,
    )
}

/// `tokenizer.ggml.merges` ("a b" strings) as tokenizer.json's `[a, b]` pairs.
fn merge_pairs(p: &str, merges: &[&str]) -> Result<Vec<Value>> {
    merges
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut parts = m.split(' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some(a), Some(b), None) => Ok(json!([a, b])),
                _ => Err(anyhow!("{p}: tokenizer.ggml.merges[{i}] = {m:?} is not two tokens separated by one space")),
            }
        })
        .collect()
}

/// The `pre` family's split regex before byte-level encoding, or GPT-2's own regex when the family
/// is unknown or absent (as transformers does).
fn byte_level_pre_tokenizer(pre: Option<&str>) -> Value {
    match pre.and_then(split_regex) {
        Some(re) => json!({"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": re}, "behavior": "Isolated", "invert": false},
            {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
        ]}),
        None => {
            json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true})
        }
    }
}

/// The special tokens named in the metadata (ids checked against the vocabulary) and whether
/// BOS / EOS are added.
struct SpecialIds {
    bos_id: Option<u32>,
    eos_id: Option<u32>,
    pad_id: Option<u32>,
    unk_id: Option<u32>,
    bos_token: Option<String>,
    eos_token: Option<String>,
    pad_token: Option<String>,
    unk_token: Option<String>,
    add_bos: bool,
    add_eos: bool,
}

impl SpecialIds {
    /// `add_bos_default`: transformers' default when the file has no `add_bos_token` (true for
    /// sentencepiece vocabularies, false for byte-level BPE).
    fn read(g: &Gguf, p: &str, tokens: &[&str], add_bos_default: bool) -> Result<SpecialIds> {
        let id = |k: &str| -> Result<Option<u32>> {
            match g.get_u64(&format!("tokenizer.ggml.{k}"))? {
                None => Ok(None),
                Some(v) if (v as usize) < tokens.len() => Ok(Some(v as u32)),
                Some(v) => bail!(
                    "{p}: tokenizer.ggml.{k} = {v} is outside the vocabulary ({} tokens)",
                    tokens.len()
                ),
            }
        };
        let (bos_id, eos_id, pad_id, unk_id) = (
            id("bos_token_id")?,
            id("eos_token_id")?,
            id("padding_token_id")?,
            id("unknown_token_id")?,
        );
        let name = |i: Option<u32>| i.map(|i| tokens[i as usize].to_string());
        Ok(SpecialIds {
            add_bos: g
                .get_bool("tokenizer.ggml.add_bos_token")?
                .unwrap_or(add_bos_default)
                && bos_id.is_some(),
            add_eos: g.get_bool("tokenizer.ggml.add_eos_token")?.unwrap_or(false)
                && eos_id.is_some(),
            bos_token: name(bos_id),
            eos_token: name(eos_id),
            pad_token: name(pad_id),
            unk_token: name(unk_id),
            bos_id,
            eos_id,
            pad_id,
            unk_id,
        })
    }

    fn template(&self) -> Value {
        let pick = |add: bool, t: &Option<String>, i: Option<u32>| match (add, t, i) {
            (true, Some(t), Some(i)) => Some((t.clone(), i)),
            _ => None,
        };
        template(
            pick(self.add_bos, &self.bos_token, self.bos_id),
            pick(self.add_eos, &self.eos_token, self.eos_id),
        )
    }
}

/// Parses the assembled `tokenizer.json` and records what was built.
#[allow(clippy::too_many_arguments)]
fn finish(
    g: &Gguf,
    p: &str,
    what: &str,
    json: &Value,
    model: String,
    pre: Option<String>,
    ids: SpecialIds,
    special_ids: Vec<u32>,
) -> Result<GgufTokenizer> {
    let tokenizer: Tokenizer = serde_json::to_string(json)?
        .parse()
        .map_err(|e| anyhow!("{e}"))
        .with_context(|| format!("{p}: building {what} from GGUF metadata"))?;
    let info = TokenizerInfo {
        model,
        pre,
        add_bos: ids.add_bos,
        add_eos: ids.add_eos,
        bos_id: ids.bos_id,
        eos_id: ids.eos_id,
        pad_id: ids.pad_id,
        unk_id: ids.unk_id,
        bos_token: ids.bos_token,
        eos_token: ids.eos_token,
        pad_token: ids.pad_token,
        unk_token: ids.unk_token,
        special_ids,
        chat_template: g.get_str("tokenizer.chat_template")?.map(str::to_owned),
    };
    Ok(GgufTokenizer { tokenizer, info })
}
