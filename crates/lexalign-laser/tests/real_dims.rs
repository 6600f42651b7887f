//! The real LASER-2 shape (embed 320, 5-layer BiLSTM 512, 1024-d) against laser_encoders, without
//! committing 115 MB of weights: the generator drew them with `torch.manual_seed(seed)` and
//! `torch.randn(shape) * std` in state-dict order, and tch draws the same numbers from the same
//! libtorch CPU generator. Its own test binary, so no other test touches the global generator.

mod common;
use common::*;
use lexalign_laser::{to_rows, Laser2, LstmEncoder, LstmParams};
use std::collections::HashMap;
use tch::{Device, Kind, Tensor};

#[test]
fn real_dims_match_laser_encoders() {
    let fx = fixture();
    let real = &fx["real"];
    let p = &real["params"];
    let params = LstmParams {
        num_embeddings: p["num_embeddings"].as_i64().unwrap(),
        padding_idx: p["padding_idx"].as_i64().unwrap(),
        embed_dim: p["embed_dim"].as_i64().unwrap(),
        hidden_size: p["hidden_size"].as_i64().unwrap(),
        num_layers: p["num_layers"].as_i64().unwrap(),
        bidirectional: p["bidirectional"].as_bool().unwrap(),
        padding_value: p["padding_value"].as_f64().unwrap(),
    };
    assert_eq!(
        (
            params.embed_dim,
            params.hidden_size,
            params.num_layers,
            params.output_dim()
        ),
        (320, 512, 5, 1024)
    );
    let order: Vec<String> = real["order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = params
        .expected_shapes()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(order, expected, "state-dict order");
    let shapes: HashMap<String, Vec<i64>> = params.expected_shapes().into_iter().collect();
    let std = real["std"].as_f64().unwrap();
    tch::manual_seed(real["seed"].as_i64().unwrap());
    let weights: HashMap<String, Tensor> = order
        .iter()
        .map(|k| {
            (
                k.clone(),
                Tensor::randn(shapes[k].as_slice(), (Kind::Float, Device::Cpu)) * std,
            )
        })
        .collect();

    let mut laser = Laser2::load(&tiny_dir(), Device::Cpu).unwrap();
    laser.encoder = LstmEncoder::from_tensors(
        params,
        |k| weights.get(k).map(|t| t.shallow_clone()),
        Device::Cpu,
    )
    .unwrap();
    let inputs = fx["inputs"].as_array().unwrap();
    let texts: Vec<&str> = real["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            inputs[i.as_u64().unwrap() as usize]["text"]
                .as_str()
                .unwrap()
        })
        .collect();
    let (n, d, batched) = to_rows(&laser.embed(&texts, texts.len()).unwrap()).unwrap();
    assert_eq!((n, d), (texts.len(), 1024));
    let (_, _, alone) = to_rows(&laser.embed(&texts, 1).unwrap()).unwrap();
    let (mut wb, mut wa) = (0f32, 0f32);
    for i in 0..n {
        wb = wb.max(max_abs_diff(
            &batched[i * d..(i + 1) * d],
            &f32s(&real["batched"][i]),
        ));
        wa = wa.max(max_abs_diff(
            &alone[i * d..(i + 1) * d],
            &f32s(&real["alone"][i]),
        ));
    }
    eprintln!("real-dims LASER-2 parity: max abs diff batched {wb:e}, alone {wa:e}");
    assert!(wb <= 1e-5 && wa <= 1e-5, "batched {wb}, alone {wa}");
}
