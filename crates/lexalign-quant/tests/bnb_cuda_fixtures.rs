//! [`Kernel::BnbCuda`] against bitsandbytes' CUDA kernel, bit for bit: the fixture comes from
//! `tests/fixtures/gen_bnb_cuda.py`, run on a machine with an NVIDIA GPU and bitsandbytes
//! (same cases and inputs as the CPU fixture of gen_bnb.py). Ignored by default because no
//! such fixture can be made without a GPU; `cargo xtask gpu-check` generates it and runs this
//! test with `--ignored`. Run by hand, a missing fixture fails (never a silent pass).

mod common;
use common::*;

use lexalign_quant::{quantize_with, Absmax, Kernel, QuantOptions, QuantType};

#[test]
#[ignore = "needs tests/fixtures/bnb_cuda_fixtures.json from gen_bnb_cuda.py on a CUDA machine (cargo xtask gpu-check)"]
fn cuda_kernel_matches_bitsandbytes_cuda_bit_for_bit() {
    let fx = fixture("bnb_cuda_fixtures.json");
    assert_eq!(
        fx["device"].as_str(),
        Some("cuda"),
        "fixture was not made on CUDA"
    );
    let mut failures = Vec::new();
    let mut dq_notes = Vec::new();
    let cases = fx["cases"].as_array().unwrap();
    for c in cases {
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
        let label = format!(
            "{}/{dtype}/{}/bs{bs}/dq={dq}",
            c["name"].as_str().unwrap(),
            qt.as_str()
        );
        let x = input(&fx, c["input"].as_str().unwrap(), dtype, numel);
        let opts = QuantOptions {
            blocksize: bs,
            double_quant: dq,
            kernel: Kernel::BnbCuda,
            ..QuantOptions::new(qt)
        };
        let q = quantize_with(&x, &shape, &opts).unwrap();
        if let Some(p) = c.get("packed_b64") {
            let bnb = b64(p.as_str().unwrap());
            if q.packed != bnb {
                failures.push(format!("{label}: packed: {}", first_diff(&q.packed, &bnb)));
            }
        } else if sha_hex(&q.packed) != c["packed_sha256"].as_str().unwrap() {
            let n = q.packed.len();
            failures.push(format!("{label}: packed sha256 differs ({n} bytes)"));
        }
        match &q.absmax {
            Absmax::Plain(a) => {
                let ours: Vec<u8> = a.iter().flat_map(|v| v.to_le_bytes()).collect();
                if sha_hex(&ours) != c["absmax_sha256"].as_str().unwrap() {
                    failures.push(format!("{label}: absmax sha256 differs"));
                }
            }
            // Double quantization runs the CPU algorithm for both kernels (see Kernel::BnbCuda):
            // differences there are reported, not failed.
            Absmax::Double(d) => {
                if sha_hex(&d.codes) != c["dq"]["codes_sha256"].as_str().unwrap() {
                    dq_notes.push(format!("{label}: double-quant codes differ from CUDA's"));
                }
            }
        }
    }
    println!(
        "{} CUDA cases; double-quant notes: {dq_notes:?}",
        cases.len()
    );
    assert!(!cases.is_empty());
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
