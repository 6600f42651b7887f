//! Inputs the fuzzer's findings were reduced to: each must be refused with an error, not a panic.

use lexalign_fuzz::engine::{Ctx, Outcome};
use lexalign_fuzz::gguf_seed::{GgufBuilder, V};
use lexalign_fuzz::targets;

fn llama(heads: u64, kv: u64, q_dims: &[u64]) -> Vec<u8> {
    let mut b = GgufBuilder::default()
        .kv("general.architecture", V::s("llama"))
        .kv("llama.embedding_length", V::U32(8))
        .kv("llama.attention.head_count", V::U64(heads))
        .kv("llama.attention.head_count_kv", V::U64(kv))
        .kv("llama.block_count", V::U32(1))
        .kv("llama.feed_forward_length", V::U32(16))
        .kv("llama.context_length", V::U32(64))
        .kv("llama.rope.dimension_count", V::U32(4))
        .kv("llama.attention.layer_norm_rms_epsilon", V::F32(1e-5))
        .kv("llama.vocab_size", V::U32(6));
    b = if q_dims.contains(&0) {
        b.tensor("blk.0.attn_q.weight", q_dims, 0, Vec::new())
    } else {
        b.f32_tensor("blk.0.attn_q.weight", q_dims)
    };
    b.build().bytes
}

fn header(input: &[u8]) -> String {
    let t = targets::all()
        .into_iter()
        .find(|t| t.name == "gguf-header")
        .unwrap();
    let c = Ctx {
        dir: tempfile::tempdir().unwrap(),
    };
    match std::panic::catch_unwind(|| (t.run)(&c, input)) {
        Ok(Outcome::Err(e)) => format!("{e:#}"),
        Ok(_) => panic!("accepted"),
        Err(_) => panic!("panicked"),
    }
}

/// `reverse_permute_rows` computed `2 * n_head` unchecked: 2^63 heads panicked (debug) or
/// divided by zero (release) while loading q_proj.
#[test]
fn huge_head_counts_are_refused() {
    for (h, kv) in [(1u64 << 63, 1u64 << 63), (1 << 63, 1), (u64::MAX, 1)] {
        let e = header(&llama(h, kv, &[8, 8]));
        assert!(e.contains("un-permut") || e.contains("head"), "{e}");
    }
}

/// A q_proj with a zero dim holds 0 values, so the reader accepts it, but the product of its
/// other dims overflowed in `load_hf`.
#[test]
fn zero_dim_with_huge_other_dims_is_refused() {
    let e = header(&llama(2, 1, &[0, 1 << 40, 1 << 40, 8]));
    assert!(e.contains("overflows"), "{e}");
}
