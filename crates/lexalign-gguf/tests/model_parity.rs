//! Parity with transformers / the `gguf` Python package on the embedded default model
//! (fixtures from `tests/fixtures/gen_gguf_fixtures.py`).

mod common;

use common::*;
use lexalign_gguf::{GgmlType, Gguf};
use serde_json::Value;

#[test]
fn model_tensor_types_and_metadata() {
    let g = Gguf::open(model_path()).unwrap();
    assert_eq!(g.version(), 3);
    assert_eq!(g.alignment(), 32);
    let counts = g.tensor_type_counts();
    let fx = fixture("dequant.json");
    let want = fx["types_in_model"].as_object().unwrap();
    assert_eq!(counts.len(), want.len(), "{counts:?} vs {want:?}");
    for (t, n) in counts {
        assert_eq!(
            want[&format!("{t:?}")].as_u64().unwrap() as usize,
            n,
            "count of {t:?}"
        );
    }
    assert_eq!(g.get_str("general.architecture").unwrap(), Some("llama"));
    assert_eq!(
        g.get("tokenizer.ggml.tokens")
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        49152
    );
    assert_eq!(
        g.get_str_array("general.languages").unwrap().unwrap(),
        vec!["en"]
    );
}

#[test]
fn dequantized_values_bit_identical_to_gguf_py() {
    let g = Gguf::open(model_path()).unwrap();
    let fx = fixture("dequant.json");
    let mut seen = std::collections::HashSet::new();
    for t in fx["gguf_tensors"].as_array().unwrap() {
        let name = t["name"].as_str().unwrap();
        let info = g.tensor(name).unwrap();
        assert_eq!(
            format!("{:?}", info.ggml_type),
            t["type"].as_str().unwrap(),
            "{name}"
        );
        let dims: Vec<u64> = t["dims"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap())
            .collect();
        assert_eq!(info.dims, dims, "{name}");
        let v = g.dequantize(name).unwrap();
        assert_eq!(v.len() as u64, t["n_elements"].as_u64().unwrap());
        let first = json_bits(&t["first_bits"]);
        let last = json_bits(&t["last_bits"]);
        assert_eq!(bits(&v[..first.len()]), first, "first values of {name}");
        assert_eq!(
            bits(&v[v.len() - last.len()..]),
            last,
            "last values of {name}"
        );
        let sum: f64 = v.iter().map(|&x| x as f64).sum();
        let abs: f64 = v.iter().map(|&x| (x as f64).abs()).sum();
        let tol = 1e-9 * t["abs_sum"].as_f64().unwrap().max(1.0);
        assert!(
            (sum - t["sum"].as_f64().unwrap()).abs() <= tol,
            "sum of {name}: {sum} vs {}",
            t["sum"]
        );
        assert!(
            (abs - t["abs_sum"].as_f64().unwrap()).abs() <= tol,
            "abs sum of {name}"
        );
        seen.insert(info.ggml_type);
    }
    // Every type the model has is covered.
    for (t, _) in g.tensor_type_counts() {
        assert!(seen.contains(&t), "fixture lacks type {t:?}");
    }
    assert!(
        seen.contains(&GgmlType::Q4_1)
            && seen.contains(&GgmlType::Q8_0)
            && seen.contains(&GgmlType::F32)
    );
}

#[test]
fn hf_tensors_match_transformers_layout() {
    let m = model();
    let fx = fixture("dequant.json");
    for t in fx["hf_tensors"].as_array().unwrap() {
        let name = t["name"].as_str().unwrap();
        let hf = m.load_hf(name).unwrap();
        let shape: Vec<usize> = t["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(hf.shape, shape, "shape of {name}");
        let cols: usize = if shape.len() > 1 {
            shape[1..].iter().product()
        } else {
            shape[0]
        };
        for (row, want) in t["rows"].as_object().unwrap() {
            let r: usize = row.parse().unwrap();
            let got = &hf.data[r * cols..r * cols + 16];
            assert_eq!(bits(got), json_bits(want), "{name} row {r}");
        }
        let sum: f64 = hf.data.iter().map(|&x| x as f64).sum();
        let want = t["sum"].as_f64().unwrap();
        assert!(
            (sum - want).abs() <= 1e-6 * want.abs().max(1.0),
            "sum of {name}: {sum} vs {want}"
        );
    }
    // Names: every GGUF tensor maps; tied model has no lm_head tensor of its own.
    let names = m.hf_tensor_names();
    assert_eq!(names.len(), 30 * 9 + 2);
    assert!(m.skipped_tensors().is_empty());
    assert!(!names.iter().any(|n| n == "lm_head.weight"));
    assert!(names
        .iter()
        .any(|n| n == "model.layers.29.post_attention_layernorm.weight"));
}

#[test]
fn config_matches_transformers() {
    let m = model();
    let c = m.config();
    let fx = fixture("hf_config.json");
    let u = |k: &str| fx[k].as_u64().unwrap() as usize;
    assert_eq!(c.model_type, fx["model_type"].as_str().unwrap());
    assert_eq!(c.architectures, vec!["LlamaForCausalLM".to_string()]);
    assert_eq!(c.vocab_size, u("vocab_size"));
    assert_eq!(c.hidden_size, u("hidden_size"));
    assert_eq!(c.intermediate_size, u("intermediate_size"));
    assert_eq!(c.num_hidden_layers, u("num_hidden_layers"));
    assert_eq!(c.num_attention_heads, u("num_attention_heads"));
    assert_eq!(c.num_key_value_heads, u("num_key_value_heads"));
    assert_eq!(c.head_dim, u("head_dim"));
    assert_eq!(c.max_position_embeddings, u("max_position_embeddings"));
    assert_eq!(c.rms_norm_eps, fx["rms_norm_eps"].as_f64().unwrap());
    let theta = fx
        .get("rope_theta")
        .and_then(Value::as_f64)
        .or_else(|| fx["rope_parameters"]["rope_theta"].as_f64());
    assert_eq!(Some(c.rope_theta), theta);
    assert_eq!(c.rope_scaling, None);
    assert_eq!(
        c.bos_token_id.map(|v| v as u64),
        fx["bos_token_id"].as_u64()
    );
    assert_eq!(
        c.eos_token_id.map(|v| v as u64),
        fx["eos_token_id"].as_u64()
    );
    assert_eq!(
        c.pad_token_id.map(|v| v as u64),
        fx["pad_token_id"].as_u64()
    );
    assert_eq!(
        c.unk_token_id.map(|v| v as u64),
        fx["unk_token_id"].as_u64()
    );
    assert_eq!(
        c.tie_word_embeddings,
        fx["tie_word_embeddings"].as_bool().unwrap()
    );
    assert_eq!(c.hidden_act, fx["hidden_act"].as_str().unwrap());
    assert_eq!(c.attention_bias, fx["attention_bias"].as_bool().unwrap());
    assert_eq!(c.mlp_bias, fx["mlp_bias"].as_bool().unwrap());
    assert!(!c.has_rope_freqs);
}

#[test]
fn token_ids_match_transformers() {
    let m = model();
    let tok = m.tokenizer().unwrap();
    let fx = fixture("hf_tokenizer.json");
    let mut mismatches = Vec::new();
    for w in fx["words"].as_array().unwrap() {
        let text = w["text"].as_str().unwrap();
        let want: Vec<u32> = w["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect();
        let got = tok.encode_ids(text).unwrap();
        if got != want {
            mismatches.push(format!("{text:?}: rust {got:?} vs hf {want:?}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "token id mismatches:\n{}",
        mismatches.join("\n")
    );
    assert!(
        tok.encode_ids("").unwrap().is_empty(),
        "an empty word tokenizes to nothing (model crate must handle)"
    );
}

#[test]
fn tokenizer_special_info_matches_transformers() {
    let m = model();
    let tok = m.tokenizer().unwrap();
    let fx = fixture("hf_tokenizer.json");
    let i = &tok.info;
    assert_eq!(i.add_bos, fx["add_bos_token"].as_bool().unwrap());
    assert_eq!(i.add_eos, fx["add_eos_token"].as_bool().unwrap());
    for (id, tokname, key) in [
        (i.bos_id, &i.bos_token, "bos"),
        (i.eos_id, &i.eos_token, "eos"),
        (i.pad_id, &i.pad_token, "pad"),
        (i.unk_id, &i.unk_token, "unk"),
    ] {
        assert_eq!(
            id.map(|v| v as u64),
            fx[format!("{key}_token_id")].as_u64(),
            "{key} id"
        );
        assert_eq!(
            tokname.as_deref(),
            fx[format!("{key}_token")].as_str(),
            "{key} token"
        );
    }
    for id in fx["all_special_ids"].as_array().unwrap() {
        assert!(tok.is_special(id.as_u64().unwrap() as u32));
    }
    assert!(!tok.is_special(10185));
}

#[test]
fn tokenizer_structure_matches_transformers() {
    let m = model();
    let tok = m.tokenizer().unwrap();
    let fx = fixture("hf_tokenizer.json");
    let mut ours: Value = serde_json::from_str(&tok.tokenizer.to_string(false).unwrap()).unwrap();
    let model = ours.as_object_mut().unwrap().remove("model").unwrap();
    let want = &fx["structure"];
    for key in [
        "added_tokens",
        "normalizer",
        "pre_tokenizer",
        "post_processor",
        "decoder",
        "truncation",
        "padding",
    ] {
        assert_eq!(
            ours[key], want[key],
            "tokenizer.json '{key}' differs from transformers'"
        );
    }
    for (k, v) in fx["model_params"].as_object().unwrap() {
        assert_eq!(&model[k], v, "BPE model field '{k}'");
    }
    assert_eq!(
        model["vocab"].as_object().unwrap().len() as u64,
        fx["vocab_size"].as_u64().unwrap()
    );
    let merges = model["merges"].as_array().unwrap();
    assert_eq!(merges.len() as u64, fx["merges_count"].as_u64().unwrap());
    let head = fx["merges_head"].as_array().unwrap();
    let tail = fx["merges_tail"].as_array().unwrap();
    assert_eq!(&merges[..head.len()], &head[..]);
    assert_eq!(&merges[merges.len() - tail.len()..], &tail[..]);
    for (t, id) in fx["vocab_sample"].as_object().unwrap() {
        assert_eq!(&model["vocab"][t], id, "vocab entry {t:?}");
    }
}

#[test]
fn convert_writes_hf_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("hf");
    // A stale folder is replaced whole.
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("stale.txt"), "old").unwrap();
    lexalign_gguf::convert_to_hf_dir(model_path(), &out).unwrap();
    assert!(!out.join("stale.txt").exists());
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        1,
        "temp folders left behind: {leftovers:?}"
    );

    let cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["architectures"][0], "LlamaForCausalLM");
    assert_eq!(cfg["num_hidden_layers"], 30);
    assert_eq!(cfg["tie_word_embeddings"], true);
    let tc: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("tokenizer_config.json")).unwrap())
            .unwrap();
    assert_eq!(tc["add_bos_token"], false);
    assert_eq!(tc["bos_token"], "<|im_start|>");

    let tok = tokenizers::Tokenizer::from_file(out.join("tokenizer.json")).unwrap();
    assert_eq!(tok.encode("mbwa", true).unwrap().get_ids(), &[2237, 10185]);

    let bytes = std::fs::read(out.join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(st.len(), 272);
    let q = st.tensor("model.layers.0.self_attn.q_proj.weight").unwrap();
    assert_eq!(q.shape(), &[576, 576]);
    assert_eq!(q.dtype(), safetensors::Dtype::F32);
    let m = model();
    let want = m.load_hf("model.layers.0.self_attn.q_proj.weight").unwrap();
    let got: Vec<f32> = q
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(bits(&got), bits(&want.data));
}
