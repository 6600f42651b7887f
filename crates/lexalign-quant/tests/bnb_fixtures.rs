//! Bit-exact comparison with bitsandbytes (fixtures from tests/fixtures/gen_bnb.py).

use lexalign_quant::{
    dynamic_map, f32_to_bf16_bits, quantize, quantize_blockwise_dynamic, quantize_with, Absmax,
    Kernel, QuantOptions, QuantType,
};

mod common;
use common::*;

#[test]
fn dynamic_map_matches_bitsandbytes() {
    let fx = fixtures();
    let bnb = f32s(&b64(fx["dynamic_map_b64"].as_str().unwrap()));
    let ours = dynamic_map();
    assert_eq!(bnb.len(), 256);
    for (i, (a, b)) in ours.iter().zip(&bnb).enumerate() {
        assert_eq!(a.to_bits(), b.to_bits(), "dynamic map entry {i}");
    }
}

#[test]
fn quantize_dequantize_matches_bitsandbytes_bit_for_bit() {
    let fx = fixtures();
    let cases = fx["cases"].as_array().unwrap();
    let mut n_checked = 0;
    let mut failures = Vec::new();
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let dtype = c["dtype"].as_str().unwrap();
        let qt = QuantType::parse(c["quant_type"].as_str().unwrap()).unwrap();
        let bs = c["blocksize"].as_u64().unwrap() as usize;
        let dq = c["double_quant"].as_bool().unwrap();
        let shape: Vec<usize> = c["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let numel: usize = shape.iter().product();
        let label = format!("{name}/{dtype}/{}/bs{bs}/dq={dq}", qt.as_str());
        let x = input(&fx, c["input"].as_str().unwrap(), dtype, numel);
        // Both the single-thread and the chunked multi-thread paths must give the same bytes.
        let q = quantize(&x, &shape, qt, bs, dq).unwrap();
        let q1 = quantize_with(
            &x,
            &shape,
            &QuantOptions {
                blocksize: bs,
                double_quant: dq,
                threads: Some(1),
                ..QuantOptions::new(qt)
            },
        )
        .unwrap();
        assert_eq!(q, q1, "{label}: thread count changed the result");
        let q3 = quantize_with(
            &x,
            &shape,
            &QuantOptions {
                blocksize: bs,
                double_quant: dq,
                threads: Some(3),
                ..QuantOptions::new(qt)
            },
        )
        .unwrap();
        assert_eq!(q, q3, "{label}: thread count changed the result");

        // packed bytes
        assert_eq!(
            q.packed.len() as u64,
            c["packed_len"].as_u64().unwrap(),
            "{label}: packed length"
        );
        if let Some(p) = c.get("packed_b64") {
            let bnb = b64(p.as_str().unwrap());
            if q.packed != bnb {
                failures.push(format!(
                    "{label}: packed bytes: {}",
                    first_diff(&q.packed, &bnb)
                ));
            }
        }
        if sha_hex(&q.packed) != c["packed_sha256"].as_str().unwrap() {
            failures.push(format!("{label}: packed sha256 differs"));
        }
        // absmax (and double-quant state)
        if let Some(d) = c.get("dq") {
            let Absmax::Double(st) = &q.absmax else {
                panic!("{label}: expected double quant")
            };
            let am2: Vec<u32> = f32s(&b64(d["absmax2_b64"].as_str().unwrap()))
                .iter()
                .map(|v| v.to_bits())
                .collect();
            let ours2: Vec<u32> = st.absmax2.iter().map(|v| v.to_bits()).collect();
            if st.offset.to_bits() as u64 != d["offset_bits"].as_u64().unwrap() {
                failures.push(format!(
                    "{label}: offset {} vs bnb {}",
                    st.offset,
                    f32::from_bits(d["offset_bits"].as_u64().unwrap() as u32)
                ));
            }
            if let Some(cb) = d.get("codes_b64") {
                let codes = b64(cb.as_str().unwrap());
                if st.codes != codes {
                    failures.push(format!(
                        "{label}: absmax codes: {}",
                        first_diff(&st.codes, &codes)
                    ));
                }
            }
            if sha_hex(&st.codes) != d["codes_sha256"].as_str().unwrap() {
                failures.push(format!("{label}: absmax codes sha256 differs"));
            }
            if ours2 != am2 {
                failures.push(format!("{label}: absmax2: {}", first_diff(&ours2, &am2)));
            }
            assert_eq!(d["blocksize2"].as_u64().unwrap() as usize, st.blocksize2);
            let code_bytes: Vec<u8> = st.code.iter().flat_map(|v| v.to_le_bytes()).collect();
            assert_eq!(
                sha_hex(&code_bytes),
                d["code_sha256"].as_str().unwrap(),
                "{label}: state2.code"
            );
        }
        let am_ours: Vec<u32> = q.dequantize_absmax().iter().map(|v| v.to_bits()).collect();
        if let Some(a) = c.get("absmax_b64") {
            let am_bnb: Vec<u32> = f32s(&b64(a.as_str().unwrap()))
                .iter()
                .map(|v| v.to_bits())
                .collect();
            if am_ours != am_bnb {
                failures.push(format!(
                    "{label}: (real) absmax: {}",
                    first_diff(&am_ours, &am_bnb)
                ));
            }
        }
        let am_bytes: Vec<u8> = am_ours.iter().flat_map(|v| v.to_le_bytes()).collect();
        if sha_hex(&am_bytes) != c["absmax_sha256"].as_str().unwrap() {
            failures.push(format!("{label}: (real) absmax sha256 differs"));
        }
        // dequantized output, in the input dtype as bitsandbytes returns it
        let out = q.dequantize();
        let out_bytes: Vec<u8> = match dtype {
            "f32" => out.iter().flat_map(|v| v.to_le_bytes()).collect(),
            _ => out
                .iter()
                .flat_map(|v| f32_to_bf16_bits(*v).to_le_bytes())
                .collect(),
        };
        if let Some(o) = c.get("out_b64") {
            let bnb = b64(o.as_str().unwrap());
            if out_bytes != bnb {
                let w = if dtype == "f32" { 4 } else { 2 };
                let a: Vec<&[u8]> = out_bytes.chunks(w).collect();
                let b: Vec<&[u8]> = bnb.chunks(w).collect();
                failures.push(format!("{label}: dequantized: {}", first_diff(&a, &b)));
            }
        }
        if sha_hex(&out_bytes) != c["out_sha256"].as_str().unwrap() {
            failures.push(format!("{label}: dequantized sha256 differs"));
        }
        n_checked += 1;
    }
    println!(
        "checked {n_checked} bitsandbytes cases, {} failures",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(n_checked, 84);
}

/// The 8-bit blockwise quantization of the double-quant step on its own, against
/// `F.quantize_blockwise` (libbitsandbytes_cpu's lookup-table rounding, not nearest-code):
/// probes 1.2e-5 either side of every code-book midpoint, NaN/inf/zero/tiny/tail blocks,
/// and longer generated inputs.
#[test]
fn blockwise8_matches_bitsandbytes() {
    let fx = fixtures();
    let cases = fx["blockwise8"].as_array().unwrap();
    let mut failures = Vec::new();
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let n = c["n"].as_u64().unwrap() as usize;
        let bs = c["blocksize"].as_u64().unwrap() as usize;
        let label = format!("blockwise8 {name}/bs{bs}");
        let inp = &c["input"];
        let x: Vec<f32> = if let Some(g) = inp.get("gen") {
            let v = gen_values(g["seed"].as_u64().unwrap(), n, g["scale"].as_f64().unwrap());
            match inp.get("abs_minus") {
                Some(m) => {
                    let m = m.as_f64().unwrap() as f32;
                    v.into_iter().map(|x| x.abs() - m).collect()
                }
                None => v,
            }
        } else {
            f32s(&b64(inp["b64"].as_str().unwrap()))
        };
        assert_eq!(x.len(), n, "{label}");
        let raw: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(
            sha_hex(&raw),
            c["input_sha256"].as_str().unwrap(),
            "{label}: regenerated input differs"
        );
        let (codes, absmax) = quantize_blockwise_dynamic(&x, bs);
        if let Some(cb) = c.get("codes_b64") {
            let bnb = b64(cb.as_str().unwrap());
            if codes != bnb {
                let k = codes.iter().zip(&bnb).filter(|(a, b)| a != b).count();
                failures.push(format!(
                    "{label}: {k} codes differ, {}",
                    first_diff(&codes, &bnb)
                ));
            }
        }
        if sha_hex(&codes) != c["codes_sha256"].as_str().unwrap() {
            failures.push(format!("{label}: codes sha256 differs"));
        }
        let am_bnb: Vec<u32> = f32s(&b64(c["absmax_b64"].as_str().unwrap()))
            .iter()
            .map(|v| v.to_bits())
            .collect();
        let am_ours: Vec<u32> = absmax.iter().map(|v| v.to_bits()).collect();
        if am_ours != am_bnb {
            failures.push(format!(
                "{label}: absmax: {}",
                first_diff(&am_ours, &am_bnb)
            ));
        }
    }
    assert_eq!(cases.len(), 4);
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The CUDA-kernel rounding agrees with the CPU one away from midpoints, zero blocks and
/// FP4's rounded thresholds: on the random fixtures the codes must be identical.
#[test]
fn cuda_kernel_flavour_agrees_on_random_inputs() {
    for (seed, n) in [(11u64, 64 * 100), (12, 4096 + 17)] {
        let x = gen_values(seed, n, 0.05);
        for qt in [QuantType::Nf4, QuantType::Fp4] {
            let a = quantize(&x, &[n], qt, 64, false).unwrap();
            let b = quantize_with(
                &x,
                &[n],
                &QuantOptions {
                    kernel: Kernel::BnbCuda,
                    ..QuantOptions::new(qt)
                },
            )
            .unwrap();
            let (ca, cb) = (a.codes(), b.codes());
            let differ = ca.iter().zip(&cb).filter(|(p, q)| p != q).count();
            // FP4: values that round to zero take code 0 or 8 depending on the kernel (both 0.0).
            let zeros = ca
                .iter()
                .zip(&cb)
                .filter(|(p, q)| p != q && (**p & 7) == 0 && (**q & 7) == 0)
                .count();
            assert!(
                differ <= zeros,
                "{qt:?}: {differ} codes differ, {zeros} of them zeros"
            );
        }
    }
}
