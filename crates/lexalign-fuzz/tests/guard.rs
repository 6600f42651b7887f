//! The allocation guard sees a parser's heap, a GGUF length of 2^60 is refused without a big
//! allocation, and every target's seeds run without a panic (at least one accepted per target).

use lexalign_fuzz::engine::{self, Budget, Ctx, Outcome};
use lexalign_fuzz::gguf_seed::{GgufBuilder, V};
use lexalign_fuzz::{guard, targets};

#[global_allocator]
static ALLOC: guard::GuardAlloc = guard::GuardAlloc;

fn ctx() -> Ctx {
    Ctx {
        dir: tempfile::tempdir().unwrap(),
    }
}

#[test]
fn guard_measures_the_peak() {
    assert!(guard::installed());
    let base = guard::live();
    guard::reset_peak();
    let v = vec![1u8; 4 << 20];
    drop(std::hint::black_box(v));
    assert!(guard::peak_since(base) >= 4 << 20);
}

/// Every length and count of a small GGUF set to 2^60 (and to u64::MAX): refused, and no exec
/// peaks above 1 MiB.
#[test]
fn huge_gguf_lengths_are_errors_not_allocations() {
    let seed = GgufBuilder::default()
        .kv("general.name", V::s("x"))
        .kv("a.strs", V::strs(&["ab", "c"]))
        .f32_tensor("t", &[2])
        .build();
    let header = targets::all()
        .into_iter()
        .find(|t| t.name == "gguf-header")
        .unwrap();
    let c = ctx();
    let mut refused = 0;
    for &(off, w) in &seed.ints {
        if w != 8 {
            continue;
        }
        for v in [1u64 << 60, u64::MAX, (1 << 63) + 3] {
            let mut b = seed.bytes.clone();
            b[off..off + 8].copy_from_slice(&v.to_le_bytes());
            let base = guard::live();
            guard::reset_peak();
            let r = (header.run)(&c, &b);
            let peak = guard::peak_since(base);
            assert!(peak < 1 << 20, "offset {off} = {v}: peak {peak} bytes");
            if let Outcome::Err(_) = r {
                refused += 1;
            }
        }
    }
    // Every u64 field but the tensor's dims/offset-with-0-size cases is refused.
    assert!(refused >= 3 * 5, "only {refused} refused");
}

#[test]
fn seeds_run_and_some_are_accepted() {
    let c = ctx();
    for t in targets::all() {
        let mut ok = 0;
        for s in (t.seeds)() {
            assert!(
                s.bytes.len() <= t.max_len,
                "{}: a seed is longer than max_len",
                t.name
            );
            if let Outcome::Ok = (t.run)(&c, &s.bytes) {
                ok += 1;
            }
        }
        assert!(ok > 0, "{}: no seed is accepted", t.name);
    }
}

#[test]
fn a_short_run_finds_nothing_and_is_deterministic() {
    let out = tempfile::tempdir().unwrap();
    let t = targets::all()
        .into_iter()
        .find(|t| t.name == "pairs-json")
        .unwrap();
    let b = Budget {
        execs: 2000,
        seconds: None,
        seed: 7,
        alloc_budget: 64 << 20,
        out: out.path().into(),
    };
    let epoch = std::time::Instant::now();
    let r1 = engine::run(&t, &b, epoch).unwrap();
    let r2 = engine::run(&t, &b, epoch).unwrap();
    assert_eq!(r1.execs, 2000);
    assert!(!r1.failed(), "{r1:?}");
    assert_eq!(
        (r1.ok, r1.errors, r1.error_kinds),
        (r2.ok, r2.errors, r2.error_kinds)
    );
}
