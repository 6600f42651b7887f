//! Format edge cases on synthetic GGUF files, dequantisation of types the model lacks, bad input.

mod common;

use common::*;
use lexalign_gguf::dequant::dequantize;
use lexalign_gguf::{reverse_permute_rows, GgmlType, Gguf, GgufModelConfig, LlamaGguf, MetaValue};

fn write(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn err_of(p: &std::path::Path) -> String {
    format!("{:#}", Gguf::open(p).expect_err("should fail"))
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn synthetic_blocks_bit_identical_to_gguf_py() {
    let fx = fixture("dequant.json");
    for s in fx["synthetic"].as_array().unwrap() {
        let name = s["type"].as_str().unwrap();
        let ty = (0..64)
            .filter_map(GgmlType::from_id)
            .find(|t| format!("{t:?}") == name)
            .unwrap();
        let hex = s["bytes_hex"].as_str().unwrap();
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let want = json_bits(&s["bits"]);
        let got = dequantize(ty, &bytes, want.len()).unwrap();
        assert_eq!(bits(&got), want, "{name}");
    }
}

#[test]
fn all_value_types_alignment_and_v2() {
    let tmp = tempfile::tempdir().unwrap();
    for version in [2u32, 3] {
        let mut w = GgufWriter::new(version);
        w.alignment = 64;
        w.kv_raw("general.alignment", 4, &64u32.to_le_bytes())
            .kv_raw("t.u8", 0, &[200])
            .kv_raw("t.i8", 1, &[0xFF])
            .kv_raw("t.u16", 2, &500u16.to_le_bytes())
            .kv_raw("t.i16", 3, &(-500i16).to_le_bytes())
            .kv_u32("t.u32", 70000)
            .kv_raw("t.i32", 5, &(-7i32).to_le_bytes())
            .kv_f32("t.f32", 0.5)
            .kv_raw("t.bool", 7, &[1])
            .kv_str("t.str", "héllo")
            .kv_raw("t.u64", 10, &u64::MAX.to_le_bytes())
            .kv_raw("t.i64", 11, &(-1i64).to_le_bytes())
            .kv_raw("t.f64", 12, &1.25f64.to_le_bytes());
        // array of i32 and nested array of strings
        let mut arr = 5u32.to_le_bytes().to_vec();
        arr.extend(3u64.to_le_bytes());
        for v in [1i32, -2, 3] {
            arr.extend(v.to_le_bytes());
        }
        w.kv_raw("t.arr", 9, &arr);
        let mut nested = 9u32.to_le_bytes().to_vec();
        nested.extend(1u64.to_le_bytes());
        nested.extend(8u32.to_le_bytes());
        nested.extend(2u64.to_le_bytes());
        nested.extend(str_bytes("a"));
        nested.extend(str_bytes("bc"));
        w.kv_raw("t.nested", 9, &nested);
        w.tensor("a", &[3], 0, f32_bytes(&[1.0, 2.0, 3.0]));
        w.tensor(
            "b",
            &[2, 2],
            1,
            [1.0f32, -2.0, 0.5, 65504.0]
                .iter()
                .flat_map(|&x| half::f16::from_f32(x).to_le_bytes())
                .collect(),
        );
        let p = write(tmp.path(), &format!("v{version}.gguf"), &w.build());
        let g = Gguf::open(&p).unwrap();
        assert_eq!(g.version(), version);
        assert_eq!(g.alignment(), 64);
        assert_eq!(g.data_offset() % 64, 0);
        assert_eq!(g.get("t.u8"), Some(&MetaValue::U8(200)));
        assert_eq!(g.get("t.i8"), Some(&MetaValue::I8(-1)));
        assert_eq!(g.get("t.u16"), Some(&MetaValue::U16(500)));
        assert_eq!(g.get("t.i16"), Some(&MetaValue::I16(-500)));
        assert_eq!(g.get_u64("t.u32").unwrap(), Some(70000));
        assert_eq!(g.get("t.i32"), Some(&MetaValue::I32(-7)));
        assert_eq!(g.get_f64("t.f32").unwrap(), Some(0.5));
        assert_eq!(g.get_bool("t.bool").unwrap(), Some(true));
        assert_eq!(g.get_str("t.str").unwrap(), Some("héllo"));
        assert_eq!(g.get_u64("t.u64").unwrap(), Some(u64::MAX));
        assert_eq!(g.get("t.i64"), Some(&MetaValue::I64(-1)));
        assert_eq!(g.get_f64("t.f64").unwrap(), Some(1.25));
        assert_eq!(g.get_int_array("t.arr").unwrap(), Some(vec![1, -2, 3]));
        let nested = g.get("t.nested").unwrap().as_array().unwrap();
        assert_eq!(nested[0].as_array().unwrap()[1].as_str(), Some("bc"));
        assert!(g.get_str("t.u8").is_err(), "type mismatch is an error");
        assert_eq!(g.dequantize("a").unwrap(), vec![1.0, 2.0, 3.0]);
        assert_eq!(g.tensor("b").unwrap().hf_shape(), vec![2, 2]);
        assert_eq!(g.dequantize("b").unwrap(), vec![1.0, -2.0, 0.5, 65504.0]);
        assert_eq!(g.tensor("b").unwrap().offset, 64);
    }
}

#[test]
fn bad_files_give_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let mut w = GgufWriter::new(3);
    w.kv_str("general.architecture", "llama");
    w.tensor("a", &[64], 0, f32_bytes(&[0.25; 64]));
    let good = w.build();
    assert!(Gguf::open(write(tmp.path(), "good.gguf", &good)).is_ok());

    let mut bad = good.clone();
    bad[0] = b'X';
    let e = err_of(&write(tmp.path(), "magic.gguf", &bad));
    assert!(
        e.contains("magic.gguf") && e.contains("not a GGUF file"),
        "{e}"
    );

    let mut v1 = good.clone();
    v1[4..8].copy_from_slice(&1u32.to_le_bytes());
    let e = err_of(&write(tmp.path(), "v1.gguf", &v1));
    assert!(e.contains("v1.gguf") && e.contains("version 1"), "{e}");
    let mut v9 = good.clone();
    v9[4..8].copy_from_slice(&9u32.to_le_bytes());
    assert!(err_of(&write(tmp.path(), "v9.gguf", &v9)).contains("unsupported GGUF version 9"));

    // Data cut short: the tensor lies beyond the end.
    let e = err_of(&write(tmp.path(), "short.gguf", &good[..good.len() - 10]));
    assert!(
        e.contains("short.gguf") && e.contains("beyond the end"),
        "{e}"
    );
    // Cut inside the header, at every length: always an error, never a panic.
    let header_len = good.len() - 256;
    for n in 0..header_len {
        let p = write(tmp.path(), "cut.gguf", &good[..n]);
        let e = err_of(&p);
        assert!(e.contains("cut.gguf"), "{e}");
    }
    // Unknown tensor type id: patch the type field of the only tensor info
    // (fixed header 24 + KV (key 8+20, type 4, value 8+5) + name 8+1 + n_dims 4 + one dim 8).
    let type_pos = 24 + (8 + 20 + 4 + 8 + 5) + (8 + 1) + 4 + 8;
    assert_eq!(good[type_pos..type_pos + 4], 0u32.to_le_bytes());
    let mut unk = good.clone();
    unk[type_pos..type_pos + 4].copy_from_slice(&77u32.to_le_bytes());
    let e = err_of(&write(tmp.path(), "unk.gguf", &unk));
    assert!(
        e.contains("unk.gguf") && e.contains("unknown ggml tensor type 77"),
        "{e}"
    );
    // Absurd metadata count.
    let mut huge = good.clone();
    huge[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    let e = err_of(&write(tmp.path(), "huge.gguf", &huge));
    assert!(e.contains("huge.gguf") && e.contains("corrupt"), "{e}");
    // Missing file.
    let e = format!(
        "{:#}",
        Gguf::open(tmp.path().join("nope.gguf")).unwrap_err()
    );
    assert!(e.contains("nope.gguf"), "{e}");
}

#[test]
fn truncated_copy_of_the_model_is_a_clear_error() {
    let src = model_path();
    let bytes = std::fs::read(&src).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    for keep in [bytes.len() / 2, bytes.len() - 1, 4096, 100] {
        let p = write(tmp.path(), "SmolLM2-truncated.gguf", &bytes[..keep]);
        let e = format!("{:#}", LlamaGguf::open(&p).unwrap_err());
        assert!(
            e.contains("SmolLM2-truncated.gguf") && e.contains("truncated"),
            "{keep}: {e}"
        );
    }
}

#[test]
fn non_llama_architecture_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let mut w = GgufWriter::new(3);
    w.kv_str("general.architecture", "gpt2");
    let p = write(tmp.path(), "gpt2.gguf", &w.build());
    let g = Gguf::open(&p).unwrap();
    let e = format!("{:#}", GgufModelConfig::from_gguf(&g).unwrap_err());
    assert!(
        e.contains("gpt2")
            && e.contains("llama")
            && e.contains("gemma3")
            && e.contains("gpt2.gguf"),
        "{e}"
    );
}

#[test]
fn unsupported_dequant_type_is_an_error() {
    let e = dequantize(GgmlType::IQ2_XXS, &[0u8; 66], 256)
        .unwrap_err()
        .to_string();
    assert!(e.contains("IQ2_XXS"), "{e}");
    assert!(dequantize(GgmlType::Q8_0, &[0u8; 33], 32).is_err());
}

/// llama.cpp's `permute` (convert_hf_to_gguf.py): reshape(n_head, 2, rows/n_head/2, cols).swapaxes(1, 2).
fn llama_cpp_permute(w: &[f32], rows: usize, cols: usize, n_head: usize) -> Vec<f32> {
    let dim = rows / n_head / 2;
    let mut out = vec![0f32; w.len()];
    for h in 0..n_head {
        for d in 0..dim {
            for j in 0..2 {
                let dst = h * 2 * dim + d * 2 + j;
                let src = h * 2 * dim + j * dim + d;
                out[dst * cols..(dst + 1) * cols].copy_from_slice(&w[src * cols..(src + 1) * cols]);
            }
        }
    }
    out
}

#[test]
fn reverse_permute_undoes_llama_cpp_permute() {
    let (rows, cols, heads) = (24, 5, 3);
    let w: Vec<f32> = (0..rows * cols).map(|i| i as f32).collect();
    let p = llama_cpp_permute(&w, rows, cols, heads);
    assert_ne!(p, w);
    assert_eq!(reverse_permute_rows(&p, rows, cols, heads).unwrap(), w);
    assert!(reverse_permute_rows(&w, 25, 1, 3).is_err());
}

#[test]
fn reverse_permute_refuses_head_counts_that_overflow() {
    // Found with the lexalign-fuzz targets: `2 * n_head` overflowed for a file claiming 2^63 heads.
    let w = vec![0f32; 24 * 5];
    for heads in [1usize << 63, usize::MAX, (usize::MAX >> 1) + 1] {
        assert!(
            reverse_permute_rows(&w, 24, 5, heads).is_err(),
            "{heads} heads"
        );
    }
    assert!(reverse_permute_rows(&[], 1 << 40, 1 << 40, 2).is_err());
}

#[test]
fn name_mapping() {
    use lexalign_gguf::gguf_to_hf_name as m;
    assert_eq!(
        m("token_embd.weight").as_deref(),
        Some("model.embed_tokens.weight")
    );
    assert_eq!(m("output.weight").as_deref(), Some("lm_head.weight"));
    assert_eq!(
        m("output_norm.weight").as_deref(),
        Some("model.norm.weight")
    );
    assert_eq!(
        m("blk.12.attn_q.weight").as_deref(),
        Some("model.layers.12.self_attn.q_proj.weight")
    );
    assert_eq!(
        m("blk.0.attn_k.weight").as_deref(),
        Some("model.layers.0.self_attn.k_proj.weight")
    );
    assert_eq!(
        m("blk.0.attn_v.weight").as_deref(),
        Some("model.layers.0.self_attn.v_proj.weight")
    );
    assert_eq!(
        m("blk.0.attn_output.weight").as_deref(),
        Some("model.layers.0.self_attn.o_proj.weight")
    );
    assert_eq!(
        m("blk.3.ffn_gate.weight").as_deref(),
        Some("model.layers.3.mlp.gate_proj.weight")
    );
    assert_eq!(
        m("blk.3.ffn_up.weight").as_deref(),
        Some("model.layers.3.mlp.up_proj.weight")
    );
    assert_eq!(
        m("blk.3.ffn_down.weight").as_deref(),
        Some("model.layers.3.mlp.down_proj.weight")
    );
    assert_eq!(
        m("blk.3.attn_norm.weight").as_deref(),
        Some("model.layers.3.input_layernorm.weight")
    );
    assert_eq!(
        m("blk.3.ffn_norm.weight").as_deref(),
        Some("model.layers.3.post_attention_layernorm.weight")
    );
    assert_eq!(m("rope_freqs.weight"), None);
    assert_eq!(m("blk.x.attn_q.weight"), None);
}
