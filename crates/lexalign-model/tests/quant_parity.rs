//! 4-bit weights: hidden states with `--quant nf4|fp4` (± double quant) against transformers +
//! bitsandbytes 0.50.2 on CPU (fixture `tests/fixtures/gen_bnb_parity.py`), and bit-identical
//! to loading the host-dequantised weights unquantised. Also the resident-memory accounting.

mod common;
use anyhow::Result;
use common::{decode_f32, embedded_model, fixtures, max_abs_diff};
use lexalign_gguf::LlamaGguf;
use lexalign_model::load::{build, TensorSource};
use lexalign_model::{load, LoadOptions, Pooling, QuantMode};
use tch::Tensor;

fn opts(quant: QuantMode, double_quant: bool) -> LoadOptions {
    LoadOptions {
        quant,
        double_quant,
        ..LoadOptions::default()
    }
}

#[test]
fn four_bit_hidden_states_match_transformers_bitsandbytes() {
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("bnb_parity.json")).unwrap())
            .unwrap();
    let words: Vec<String> = serde_json::from_value(r["words"].clone()).unwrap();
    let layers: Vec<usize> = serde_json::from_value(r["layers"].clone()).unwrap();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let path = embedded_model();
    for (key, q, dq) in [
        ("nf4", QuantMode::Nf4, false),
        ("nf4_dq", QuantMode::Nf4, true),
        ("fp4", QuantMode::Fp4, false),
        ("fp4_dq", QuantMode::Fp4, true),
    ] {
        let m = load(&path, &opts(q, dq)).unwrap();
        let got = m.embed(&words, &layers, Pooling::Mean, 8, |_| {}).unwrap();
        let mut worst: f64 = 0.0;
        for (i, w) in words.iter().enumerate() {
            for (slot, l) in layers.iter().enumerate() {
                let want = decode_f32(r[key][*w][l.to_string()].as_str().unwrap());
                let d = max_abs_diff(&got.vectors(slot).unwrap().get(i as i64), &want);
                worst = worst.max(d);
                assert!(d < 1e-4, "{key} {w:?} layer {l}: max abs diff {d}");
            }
        }
        println!("{key}: max abs diff vs transformers+bitsandbytes {worst:.3e}");
    }
}

/// Tensor source that hands out quantise-then-dequantise copies of the decoder linear weights.
struct Dequantised<'a> {
    inner: &'a LlamaGguf,
    q: lexalign_quant::QuantType,
}

impl TensorSource for Dequantised<'_> {
    fn tensor(&self, name: &str) -> Result<Tensor> {
        let t = self.inner.load_hf(name)?;
        let is_linear = name.starts_with("model.layers.") && (name.contains("_proj."));
        let data = if is_linear {
            lexalign_quant::quantize(&t.data, &t.shape, self.q, 64, false)?.dequantize()
        } else {
            t.data
        };
        let shape: Vec<i64> = t.shape.iter().map(|&d| d as i64).collect();
        Ok(Tensor::from_slice(&data).view(shape.as_slice()))
    }
    fn has(&self, name: &str) -> bool {
        self.inner.has(name)
    }
    fn names(&self) -> Vec<String> {
        self.inner.names()
    }
}

#[test]
fn four_bit_forward_equals_dense_forward_on_dequantised_weights() {
    let path = embedded_model();
    let g = LlamaGguf::open(&path).unwrap();
    let cfg =
        lexalign_model::ModelConfig::from_json_str(&g.config().to_hf_json().to_string()).unwrap();
    let quantised = load(&path, &opts(QuantMode::Nf4, false)).unwrap();
    let dense = build(
        &cfg,
        &Dequantised {
            inner: &g,
            q: lexalign_quant::QuantType::Nf4,
        },
        &LoadOptions::default(),
    )
    .unwrap();
    let words = ["mbwa", "-anana", "good morning", "사랑"];
    let batch = quantised.tokenizer.batch(&words, tch::Device::Cpu).unwrap();
    let req = lexalign_model::PoolRequest {
        layers: vec![0, 1, 2, 15, 30],
        pooling: Pooling::Mean,
    };
    let _g = tch::no_grad_guard();
    let a = quantised
        .model
        .pooled(&batch.input_ids, &batch.masks, &req, false);
    let b = dense.pooled(&batch.input_ids, &batch.masks, &req, false);
    for (x, y) in a.iter().zip(&b) {
        assert!(
            x.equal(y),
            "4-bit forward differs from the dense forward on dequantised weights"
        );
    }
}

#[test]
fn resident_memory_accounting() {
    let path = embedded_model();
    let mut rows = Vec::new();
    for (name, q, dq) in [
        ("none", QuantMode::None, false),
        ("nf4", QuantMode::Nf4, false),
        ("nf4+dq", QuantMode::Nf4, true),
    ] {
        let m = load(&path, &opts(q, dq)).unwrap();
        let (lin, other) = m.model.resident_weight_bytes();
        rows.push((name, lin, other));
        println!(
            "{name:7} linear {:>11} B  other {:>11} B  total {:>11} B",
            lin,
            other,
            lin + other
        );
    }
    // 4-bit linear layers: 0.5 B per value + 4 B per 64 values (+ code book) vs 4 B per value in f32.
    let ratio = rows[1].1 as f64 / rows[0].1 as f64;
    assert!(
        (ratio - 4.5 / 32.0).abs() < 0.002,
        "nf4/f32 linear ratio {ratio}"
    );
    assert!(
        rows[2].1 < rows[1].1,
        "double quantisation must shrink the scales"
    );
    assert_eq!(
        rows[0].2, rows[1].2,
        "embeddings and norms stay unquantised"
    );
}

#[test]
fn device_dequantisation_equals_host_dequantisation() {
    let n = 3 * 4096 + 100;
    let mut x = 0x9E3779B97F4A7C15u64;
    let values: Vec<f32> = (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) as f32 * 0.05
        })
        .collect();
    for qt in [
        lexalign_quant::QuantType::Nf4,
        lexalign_quant::QuantType::Fp4,
    ] {
        for dq in [false, true] {
            let host = lexalign_quant::quantize(&values, &[n], qt, 64, dq).unwrap();
            let want = host.dequantize();
            let dev = lexalign_model::quant4::Quant4Weight::from_host(&host, tch::Device::Cpu);
            let got: Vec<f32> = Vec::try_from(dev.dequantize(tch::Kind::Float)).unwrap();
            let bad = got
                .iter()
                .zip(&want)
                .filter(|(a, b)| a.to_bits() != b.to_bits() && **a != **b)
                .count();
            assert_eq!(bad, 0, "{qt:?} dq={dq}: {bad} values differ");
        }
    }
}
