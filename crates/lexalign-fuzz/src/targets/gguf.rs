//! GGUF targets: the reader (header, metadata, tensor infos, tensor bytes, dequantisation, the
//! llama config and HF tensors derived from it) and the tokenizer built from the metadata.

use anyhow::Result;
use lexalign_gguf::{tokenizer::tokenizer_from_gguf_full, Gguf, LlamaGguf};

use crate::engine::{Ctx, Outcome};
use crate::gguf_seed::{GgufBuilder, V};
use crate::mutate::Seed;

pub const DICT: &[&[u8]] = &[
    b"GGUF",
    b"general.alignment",
    b"general.architecture",
    b"tokenizer.ggml.tokens",
    b"tokenizer.ggml.merges",
    b"tokenizer.ggml.model",
    b"llama",
    b"gemma3",
    b"gpt2",
    b"blk.0.attn_q.weight",
    b"token_embd.weight",
    &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
    &[0, 0, 0, 0, 0, 0, 0, 0x10],
    &[9, 0, 0, 0],
    &[8, 0, 0, 0],
];

fn write_input(ctx: &Ctx, name: &str, input: &[u8]) -> Result<std::path::PathBuf> {
    let path = ctx.dir.path().join(name);
    std::fs::write(&path, input)?;
    Ok(path)
}

/// The llama metadata of a tiny model: hidden 8, 2 heads of 4, 1 kv head, 1 block.
fn llama_kvs(b: GgufBuilder, arch: &str) -> GgufBuilder {
    let k = |s: &str| format!("{arch}.{s}");
    b.kv("general.architecture", V::s(arch))
        .kv("general.name", V::s("tiny"))
        .kv(&k("embedding_length"), V::U32(8))
        .kv(&k("attention.head_count"), V::U32(2))
        .kv(&k("attention.head_count_kv"), V::U32(1))
        .kv(&k("block_count"), V::U32(1))
        .kv(&k("feed_forward_length"), V::U32(16))
        .kv(&k("context_length"), V::U32(64))
        .kv(&k("rope.dimension_count"), V::U32(4))
        .kv(&k("attention.key_length"), V::U32(4))
        .kv(&k("attention.layer_norm_rms_epsilon"), V::F32(1e-5))
        .kv(&k("rope.freq_base"), V::F32(10000.0))
        .kv(&k("rope.scaling.type"), V::s("linear"))
        .kv(&k("rope.scaling.factor"), V::F32(2.0))
        .kv(&k("vocab_size"), V::U32(6))
        .kv("tokenizer.ggml.bos_token_id", V::U32(1))
}

fn llama_tensors(b: GgufBuilder) -> GgufBuilder {
    b.f32_tensor("token_embd.weight", &[8, 6])
        .f32_tensor("blk.0.attn_q.weight", &[8, 8])
        .f32_tensor("blk.0.attn_k.weight", &[8, 4])
        .f32_tensor("blk.0.attn_norm.weight", &[8])
        .f32_tensor("output_norm.weight", &[8])
        .f32_tensor("rope_freqs.weight", &[2])
}

pub fn header_seeds() -> Vec<Seed> {
    let all_types = GgufBuilder::default()
        .kv("general.alignment", V::U32(32))
        .kv("a.u8", V::U8(7))
        .kv("a.i32", V::I32(-3))
        .kv("a.u64", V::U64(1 << 40))
        .kv("a.f32", V::F32(0.5))
        .kv("a.bool", V::Bool(true))
        .kv("a.str", V::s("hello"))
        .kv("a.strs", V::strs(&["x", "yz", ""]))
        .kv("a.nested", V::Arr(9, vec![V::i32s(&[1, 2]), V::i32s(&[])]))
        .f32_tensor("t.f32", &[4, 2])
        .tensor("t.f16", &[8], 1, vec![0x3c; 16])
        .tensor("t.q8_0", &[32], 8, vec![1; 34])
        .tensor("t.q4_0", &[32], 2, vec![0x11; 18])
        .tensor("t.q4_k", &[256], 12, vec![0x22; 144])
        .tensor("t.q6_k", &[256], 14, vec![0x33; 210])
        .tensor("t.bf16", &[2, 2], 30, vec![0x40; 8])
        .build();
    let empty = GgufBuilder::default().build();
    let mut v2 = GgufBuilder::default()
        .kv("k", V::s("v"))
        .f32_tensor("x", &[1])
        .build();
    v2.bytes[4] = 2;
    let llama = llama_tensors(llama_kvs(GgufBuilder::default(), "llama"))
        .kv(
            "tokenizer.ggml.tokens",
            V::strs(&["<unk>", "<s>", "a", "b", "ab", "c"]),
        )
        .build();
    let gemma = llama_tensors(llama_kvs(GgufBuilder::default(), "gemma3"))
        .kv("gemma3.attention.sliding_window", V::U32(4))
        .build();
    // Head counts stored as u64 (as some converters write them), so huge values are one write away.
    let wide = llama_tensors(
        GgufBuilder::default()
            .kv("general.architecture", V::s("llama"))
            .kv("llama.embedding_length", V::U64(8))
            .kv("llama.attention.head_count", V::U64(2))
            .kv("llama.attention.head_count_kv", V::U64(2))
            .kv("llama.block_count", V::U64(1))
            .kv("llama.feed_forward_length", V::U64(16))
            .kv("llama.context_length", V::U64(64))
            .kv("llama.attention.layer_norm_rms_epsilon", V::F32(1e-5))
            .kv("llama.vocab_size", V::U64(6)),
    )
    .build();
    vec![all_types, empty, v2, llama, gemma, wide]
}

/// Opens the file, then reads everything a caller can read from it.
pub fn run_header(ctx: &Ctx, input: &[u8]) -> Outcome {
    let r = (|| -> Result<()> {
        let path = write_input(ctx, "fuzz.gguf", input)?;
        let g = Gguf::open(&path)?;
        exercise(&g)?;
        let l = LlamaGguf::from_gguf(g)?;
        let _ = l.config().to_hf_json();
        let _ = l.skipped_tensors();
        for name in l.hf_tensor_names() {
            let t = l.load_hf(&name)?;
            assert_eq!(
                t.data.len(),
                t.shape.iter().product::<usize>(),
                "{name}: data and shape disagree"
            );
        }
        Ok(())
    })();
    r.into()
}

fn exercise(g: &Gguf) -> Result<()> {
    let _ = (
        g.version(),
        g.alignment(),
        g.data_offset(),
        format!("{g:?}"),
    );
    for (k, v) in g.metadata() {
        let _ = (
            v.to_string(),
            v.to_json(),
            v.as_f64(),
            v.as_array().map(|a| a.len()),
        );
        assert!(
            g.get(k).is_some(),
            "metadata key {k:?} listed but not found"
        );
        let _ = (g.get_str(k), g.get_u64(k), g.get_f64(k), g.get_bool(k));
        let _ = (g.get_str_array(k), g.get_int_array(k));
    }
    let _ = g.require("general.architecture");
    let _ = g.tensor_type_counts();
    for t in g.tensors() {
        let bytes = g.tensor_bytes(t);
        assert_eq!(bytes.len() as u64, t.size);
        let _ = (t.hf_shape(), t.n_elements());
        if t.ggml_type.can_dequantize() {
            let v = g.dequantize(&t.name)?;
            assert_eq!(v.len() as u64, t.n_elements());
        }
    }
    Ok(())
}

pub fn tokenizer_seeds() -> Vec<Seed> {
    let gpt2 = |pre: Option<&str>| {
        let mut b = GgufBuilder::default()
            .kv("general.architecture", V::s("llama"))
            .kv("tokenizer.ggml.model", V::s("gpt2"))
            .kv(
                "tokenizer.ggml.tokens",
                V::strs(&[
                    "<|endoftext|>",
                    "h",
                    "e",
                    "l",
                    "o",
                    "Ġ",
                    "w",
                    "he",
                    "ll",
                    "hell",
                    "Ġw",
                    "<u>",
                    "é",
                ]),
            )
            .kv(
                "tokenizer.ggml.token_type",
                V::i32s(&[3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 4, 1]),
            )
            .kv(
                "tokenizer.ggml.merges",
                V::strs(&["h e", "l l", "he ll", "Ġ w"]),
            )
            .kv("tokenizer.ggml.bos_token_id", V::U32(0))
            .kv("tokenizer.ggml.eos_token_id", V::U32(0))
            .kv("tokenizer.ggml.add_bos_token", V::Bool(true))
            .kv("tokenizer.chat_template", V::s("{{ x }}"));
        if let Some(p) = pre {
            b = b.kv("tokenizer.ggml.pre", V::s(p));
        }
        b.build()
    };
    let gemma = GgufBuilder::default()
        .kv("general.architecture", V::s("gemma3"))
        .kv("tokenizer.ggml.model", V::s("llama"))
        .kv(
            "tokenizer.ggml.tokens",
            V::strs(&[
                "<pad>",
                "<eos>",
                "<bos>",
                "<unk>",
                "  ",
                "\u{2581}",
                "a",
                "b",
                "ab",
                "\u{2581}ab",
                "<0x41>",
            ]),
        )
        .kv(
            "tokenizer.ggml.token_type",
            V::i32s(&[3, 3, 3, 2, 1, 1, 1, 1, 1, 1, 6]),
        )
        .kv("tokenizer.ggml.bos_token_id", V::U32(2))
        .kv("tokenizer.ggml.eos_token_id", V::U32(1))
        .kv("tokenizer.ggml.unknown_token_id", V::U32(3))
        .kv("tokenizer.ggml.padding_token_id", V::U32(0))
        .build();
    vec![
        gpt2(None),
        gpt2(Some("llama-bpe")),
        gpt2(Some("smollm")),
        gemma,
    ]
}

/// Builds the tokenizer, then encodes a short text with it.
pub fn run_tokenizer(ctx: &Ctx, input: &[u8]) -> Outcome {
    let r = (|| -> Result<()> {
        let path = write_input(ctx, "fuzz.gguf", input)?;
        let g = Gguf::open(&path)?;
        let t = tokenizer_from_gguf_full(&g)?;
        let ids = t.encode_ids("hello wab é")?;
        for id in ids {
            let _ = t.is_special(id);
        }
        let _ = t.hf_tokenizer_config();
        Ok(())
    })();
    r.into()
}
