//! bitsandbytes' CUDA rounding ([`Kernel::BnbCuda`]) checked on the CPU against the kernel's
//! formula, derived here on its own (no GPU needed):
//!
//! * `kQuantizeBlockwise`: `absmax = max |x|` over the block's valid items (tail included, no
//!   floor), `s = x * (1.0f / absmax)` in f32, no clamp; the odd last value of a tensor is paired
//!   with the zero the kernel's padded load supplies, quantized as `0 * (1/absmax)`.
//! * `dQuantizeNF4` / `dQuantizeFP4`: decision trees on hard-coded f32 thresholds, copied below
//!   from csrc/kernels.cu (0.50.2) independently of the crate's copy (`x > t` goes up, so a
//!   value exactly at a threshold takes the lower code; NaN, from an all-zero block, gives 0).
//!
//! The trees are also compared with brute-force nearest-code rounding in exact arithmetic: they
//! must agree everywhere except in the windows between a threshold literal and the exact
//! midpoint it approximates (FP4's `0.583333f` for 7/12, `0.8333333f` for 5/6, ...), which
//! shows what the kernel's rounding is and where it deliberately departs from "nearest".

use lexalign_quant::{quantize_with, Kernel, QuantOptions, QuantType, FP4_CODE, NF4_CODE};

/// `dQuantizeNF4`'s thresholds, ascending.
const TREE_NF4: [f32; 15] = [
    -0.848_096_43,
    -0.610_632_9,
    -0.459_995_27,
    -0.339_679_42,
    -0.234_607_4,
    -0.137_911_74,
    -0.045_525_018,
    0.039_790_15,
    0.120_255_254,
    0.203_521_25,
    0.292_013_76,
    0.389_312_54,
    0.501_663_4,
    0.642_786_9,
    0.861_478_4,
];
/// `dQuantizeFP4`'s magnitude thresholds, ascending, and the 3 magnitude bits of each interval.
const TREE_FP4: [f32; 7] = [
    0.00260417, 0.0859375, 0.20833333, 0.29166667, 0.4166667, 0.583333, 0.8333333,
];
const FP4_BITS: [u8; 8] = [0b000, 0b001, 0b110, 0b111, 0b100, 0b101, 0b010, 0b011];

fn tree(qt: QuantType, s: f32) -> u8 {
    match qt {
        QuantType::Nf4 => TREE_NF4.iter().filter(|&&t| s > t).count() as u8,
        QuantType::Fp4 => {
            let sign = if s < 0.0 { 8 } else { 0 };
            let a = s.abs();
            FP4_BITS[TREE_FP4.iter().filter(|&&t| a > t).count()] + sign
        }
    }
}

/// Nearest code value in f64 (exact for f32 inputs); a tie takes the smaller value (NF4) or
/// the smaller magnitude (FP4, which rounds |x| and keeps the sign: 0 is +0, 8 is -0).
fn nearest(qt: QuantType, s: f32) -> u8 {
    let (table, candidates, x): (&[f32; 16], Vec<u8>, f64) = match qt {
        QuantType::Nf4 => (&NF4_CODE, (0..16).collect(), s as f64),
        QuantType::Fp4 => (&FP4_CODE, (0..8).collect(), s.abs() as f64),
    };
    let mut best = candidates[0];
    for &c in &candidates[1..] {
        let (v, vb) = (table[c as usize] as f64, table[best as usize] as f64);
        let (d, db) = ((x - v).abs(), (x - vb).abs());
        if d < db || (d == db && v < vb) {
            best = c;
        }
    }
    if qt == QuantType::Fp4 && s < 0.0 {
        best + 8
    } else {
        best
    }
}

/// The exact midpoints the tree thresholds stand for (positive side for FP4).
fn midpoints(qt: QuantType) -> Vec<f64> {
    let mut v: Vec<f64> = match qt {
        QuantType::Nf4 => NF4_CODE.iter().map(|&x| x as f64).collect(),
        QuantType::Fp4 => FP4_CODE[..8].iter().map(|&x| x as f64).collect(),
    };
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect()
}

/// Whether `s` lies where a threshold literal and its exact midpoint disagree.
fn in_window(qt: QuantType, s: f32) -> bool {
    let thresholds: Vec<f32> = match qt {
        QuantType::Nf4 => TREE_NF4.to_vec(),
        QuantType::Fp4 => TREE_FP4.to_vec(),
    };
    let x = if qt == QuantType::Fp4 {
        s.abs() as f64
    } else {
        s as f64
    };
    thresholds.iter().zip(midpoints(qt)).any(|(&t, m)| {
        let t = t as f64;
        // Tree: up iff x > t. Nearest: up iff x > m (ties down; FP4 ties toward smaller |x|).
        (x > t) != (x > m)
    })
}

fn next_up(x: f32) -> f32 {
    if x == 0.0 {
        return f32::from_bits(1);
    }
    f32::from_bits(if x > 0.0 {
        x.to_bits() + 1
    } else {
        x.to_bits() - 1
    })
}
fn next_down(x: f32) -> f32 {
    -next_up(-x)
}

/// Probes: every threshold and its exact midpoint, each +-3 ulps, every f32 between a literal
/// and its midpoint, both signs, plus seeded uniform values in [-1, 1].
fn probes(qt: QuantType) -> Vec<f32> {
    let thresholds: Vec<f32> = match qt {
        QuantType::Nf4 => TREE_NF4.to_vec(),
        QuantType::Fp4 => TREE_FP4.to_vec(),
    };
    let mut out = Vec::new();
    for (&t, m) in thresholds.iter().zip(midpoints(qt)) {
        let (lo, hi) = (t.min(m as f32), t.max(m as f32));
        let mut x = lo;
        for _ in 0..3 {
            x = next_down(x);
        }
        let mut k = 0;
        while x <= hi || k < 3 {
            out.push(x);
            out.push(-x);
            if x > hi {
                k += 1;
            }
            x = next_up(x);
        }
    }
    let mut state = 0x2545F4914F6CDD1Du64;
    for _ in 0..20_000 {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        out.push(((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0);
    }
    out
}

fn cuda_quantize(x: &[f32], qt: QuantType) -> lexalign_quant::Quantized4bit {
    let opts = QuantOptions {
        kernel: Kernel::BnbCuda,
        threads: Some(1),
        ..QuantOptions::new(qt)
    };
    quantize_with(x, &[x.len()], &opts).unwrap()
}

/// Blocks of 64 led by +-1.0 so absmax is 1 and the scaled value is the input itself.
fn unit_blocks(vals: &[f32]) -> (Vec<f32>, Vec<Option<usize>>) {
    let (mut x, mut origin) = (Vec::new(), Vec::new());
    for (b, chunk) in vals.chunks(63).enumerate() {
        x.push(if b % 2 == 0 { 1.0 } else { -1.0 });
        origin.push(None);
        for (j, &v) in chunk.iter().enumerate() {
            x.push(v);
            origin.push(Some(b * 63 + j));
        }
    }
    (x, origin)
}

#[test]
fn cuda_codes_follow_the_kernel_trees_and_differ_from_nearest_only_in_the_windows() {
    for qt in [QuantType::Nf4, QuantType::Fp4] {
        let vals = probes(qt);
        let (x, origin) = unit_blocks(&vals);
        let q = cuda_quantize(&x, qt);
        let codes = q.codes();
        let (mut checked, mut windowed, mut deliberate) = (0, 0, 0);
        for (i, &c) in codes.iter().enumerate() {
            let s = x[i];
            assert_eq!(
                c,
                tree(qt, s),
                "{qt:?}: value {s:e} (index {i}) got code {c}"
            );
            let want = nearest(qt, s);
            if in_window(qt, s) {
                windowed += 1;
                assert_ne!(
                    c, want,
                    "{qt:?}: {s:e} lies in a threshold window but rounds to nearest"
                );
                deliberate += 1;
            } else {
                assert_eq!(
                    c, want,
                    "{qt:?}: {s:e} is outside every window but not rounded to nearest"
                );
            }
            checked += origin[i].is_some() as usize;
        }
        println!(
            "{qt:?}: {checked} probes, {windowed} in windows where the tree departs from nearest"
        );
        assert!(checked >= 20_000);
        match qt {
            // NF4's literals are the f32 roundings of the midpoints; a few land just above.
            QuantType::Nf4 => assert!(deliberate < 16, "NF4: {deliberate} window values"),
            // FP4's 0.583333f, 0.8333333f, 0.00260417f... are decimal approximations.
            QuantType::Fp4 => assert!(deliberate >= 10, "FP4: only {deliberate} window values"),
        }
    }
}

#[test]
fn cuda_scaling_is_a_reciprocal_multiply_everywhere_including_tail_blocks() {
    // absmax 0.3 (not a power of two): find inputs where x * (1/a) and x / a straddle a
    // threshold, so a division (the CPU path's tail rule) would give another code.
    let a = 0.3f32;
    let r = 1.0f32 / a;
    for qt in [QuantType::Nf4, QuantType::Fp4] {
        let mut hits: Vec<f32> = Vec::new();
        let thresholds: Vec<f32> = match qt {
            QuantType::Nf4 => TREE_NF4.iter().map(|t| t.abs()).collect(),
            QuantType::Fp4 => TREE_FP4.to_vec(),
        };
        for t in thresholds {
            let mut v = next_down(next_down(next_down(t * a)));
            for _ in 0..7 {
                for s in [v, -v] {
                    if tree(qt, s * r) != tree(qt, s / a) {
                        hits.push(s);
                    }
                }
                v = next_up(v);
            }
        }
        assert!(
            !hits.is_empty(),
            "{qt:?}: no input separates x*(1/a) from x/a"
        );
        // Full block of 64 then a tail of the probes (odd length: a padding nibble).
        let mut vals = vec![a];
        vals.extend(hits.iter().cycle().take(63));
        vals.push(-a);
        vals.extend(hits.iter().cycle().take(2 * hits.len())); // tail of 1 + even = odd length
        let q = cuda_quantize(&vals, qt);
        let codes = q.codes();
        for (i, (&c, &v)) in codes.iter().zip(&vals).enumerate() {
            assert_eq!(
                c,
                tree(qt, v * r),
                "{qt:?}: value {v:e} (index {i}, tail {})",
                i >= 64
            );
        }
        let tail_max = vals[64..].iter().fold(0f32, |m, v| m.max(v.abs()));
        assert_eq!(q.dequantize_absmax().as_ref(), &[a, tail_max]);
        assert_eq!(vals.len() % 2, 1);
        let pad = q.packed.last().unwrap() & 0x0F;
        assert_eq!(
            pad,
            tree(qt, 0.0 * r),
            "{qt:?}: padding nibble of the odd tail"
        );
        println!(
            "{qt:?}: {} values where x*(1/a) and x/a give different codes",
            hits.len()
        );
    }
}

#[test]
fn cuda_zero_blocks_give_nan_scaled_values_and_code_zero() {
    for qt in [QuantType::Nf4, QuantType::Fp4] {
        // a zero block, a normal block, an all-zero odd tail of 17
        let mut x = vec![0.0f32; 64];
        x.extend((0..64).map(|i| (i as f32 - 31.5) / 32.0));
        x.extend([0.0f32; 17]);
        let q = cuda_quantize(&x, qt);
        let codes = q.codes();
        assert_eq!(q.dequantize_absmax().as_ref(), &[0.0, 0.984375, 0.0]);
        assert!(
            codes[..64].iter().all(|&c| c == 0),
            "{qt:?}: zero block codes {:?}",
            &codes[..64]
        );
        assert!(
            codes[128..].iter().all(|&c| c == 0),
            "{qt:?}: zero tail codes {:?}",
            &codes[128..]
        );
        assert_eq!(
            q.packed.last().unwrap() & 0x0F,
            0,
            "{qt:?}: padding nibble of a zero tail (NaN)"
        );
        // NaN reaches the trees' last leaf: the code of -1.0 for NF4, +0 for FP4.
        assert_eq!(tree(qt, f32::NAN), 0);
        // A nonzero block's zeros take the zero code (NF4 7, FP4 0), not code 0 by accident.
        let zero_code = if qt == QuantType::Nf4 { 7 } else { 0 };
        assert_eq!(tree(qt, 0.0), zero_code);
        for (i, &c) in codes[64..128].iter().enumerate() {
            assert_eq!(
                c,
                tree(qt, x[64 + i] * (1.0 / 0.984375f32)),
                "{qt:?}: normal block value {i}"
            );
        }
        let deq = q.dequantize();
        assert!(
            deq[..64].iter().chain(&deq[128..]).all(|v| *v == 0.0),
            "{qt:?}: zero blocks dequantize to 0"
        );
    }
}
