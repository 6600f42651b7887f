//! Memory accounting of a 4096x4096 weight (one Llama attention projection) and a speed check.

use std::time::Instant;

use lexalign_quant::{dense_bytes, quantize, quantized_bytes, QuantType};

#[test]
fn memory_4096x4096_nf4_vs_dense() {
    let (r, c) = (4096usize, 4096usize);
    let n = r * c;
    // Cheap deterministic pseudo-normal weights.
    let mut s = 0x1234_5678_9abc_def0u64;
    let w: Vec<f32> = (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.04
        })
        .collect();
    let t = Instant::now();
    let q = quantize(&w, &[r, c], QuantType::Nf4, 64, false).unwrap();
    let secs = t.elapsed().as_secs_f64();
    let qd = quantize(&w, &[r, c], QuantType::Nf4, 64, true).unwrap();
    let f32b = dense_bytes(n, 4);
    let bf16b = dense_bytes(n, 2);
    let (b, bd) = (q.bytes(), qd.bytes());
    assert_eq!(b, quantized_bytes(n, 64, false));
    assert_eq!(bd, quantized_bytes(n, 64, true));
    assert_eq!(b.packed, n / 2);
    assert_eq!(b.absmax, 4 * n / 64);
    assert_eq!(bd.absmax, n / 64);
    assert_eq!(bd.double_quant_state, 4 * (n / 64 / 256) + 4);
    println!("4096x4096 weight: f32 {f32b} B, bf16 {bf16b} B");
    println!(
        "  nf4: {} B (packed {} + absmax {}) = {:.3} bits/value, {:.2}x smaller than bf16",
        b.total(),
        b.packed,
        b.absmax,
        8.0 * b.total() as f64 / n as f64,
        bf16b as f64 / b.total() as f64
    );
    println!(
        "  nf4 + double quant: {} B (packed {} + absmax codes {} + state {}) = {:.3} bits/value, {:.2}x smaller than bf16",
        bd.total(),
        bd.packed,
        bd.absmax,
        bd.double_quant_state,
        8.0 * bd.total() as f64 / n as f64,
        bf16b as f64 / bd.total() as f64
    );
    println!(
        "  quantize: {:.3} s ({:.1} M values/s)",
        secs,
        n as f64 / secs / 1e6
    );
    assert!(b.total() < bf16b / 3);
    assert!(bd.total() < b.total());
    // Round trip sanity: every value within half the largest code gap of its block's absmax.
    let back = q.dequantize();
    let am = q.dequantize_absmax();
    for (i, (x, y)) in w.iter().zip(&back).enumerate().step_by(997) {
        assert!((x - y).abs() <= 0.16 * am[i / 64], "value {i}: {x} vs {y}");
    }
}
