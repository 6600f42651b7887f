//! Properties that a numpy fixture cannot pin down: the seeded derangement (shared with the
//! scan), the bootstrap intervals, error messages, and (ignored) timings.

use lexalign_metrics::*;
use rand::{Rng, SeedableRng};

/// `n` pairs `s_i`/`t_i = s_i + noise·e` in `d` dimensions on a common offset, plus `extra` candidates.
fn synthetic(n: usize, extra: usize, d: usize, noise: f64, seed: u64) -> (Matrix, Matrix, Gold) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut g = move || (0..4).map(|_| rng.gen::<f64>() - 0.5).sum::<f64>();
    let offset: Vec<f64> = (0..d).map(|_| g()).collect();
    let mut s = Vec::with_capacity(n * d);
    let mut t = Vec::with_capacity((n + extra) * d);
    for _ in 0..n {
        let row: Vec<f64> = (0..d).map(|c| g() + offset[c]).collect();
        t.extend(row.iter().map(|v| v + noise * g()));
        s.extend(row);
    }
    for _ in 0..extra * d {
        t.push(g());
    }
    let gold = Gold::new(n, n + extra, (0..n).map(|i| (i, i)).collect()).unwrap();
    (
        Matrix::new(n, d, s).unwrap(),
        Matrix::new(n + extra, d, t).unwrap(),
        gold,
    )
}

#[test]
fn partners_equal_the_scans() {
    // Printed by a verbatim copy of `lexalign_scan::shuffled_partners` (rand 0.8.8, rand_chacha 0.3.1).
    let expected: [(usize, u64, Vec<usize>); 5] = [
        (2, 0, vec![1, 0]),
        (5, 7, vec![1, 4, 0, 2, 3]),
        (10, 42, vec![3, 6, 0, 5, 8, 7, 2, 9, 1, 4]),
        (
            17,
            1,
            vec![8, 14, 1, 5, 7, 0, 9, 2, 10, 13, 15, 12, 4, 3, 6, 16, 11],
        ),
        (
            30,
            12345,
            vec![
                29, 13, 20, 23, 16, 19, 21, 5, 27, 7, 1, 9, 8, 2, 11, 3, 6, 12, 15, 10, 25, 22, 14,
                0, 26, 17, 18, 28, 24, 4,
            ],
        ),
    ];
    for (n, seed, want) in expected {
        assert_eq!(
            shuffled_partners(n, seed).unwrap(),
            want,
            "n = {n}, seed = {seed}"
        );
    }
    let e = shuffled_partners(1, 0).unwrap_err().to_string();
    assert!(e.contains("at least two pairs"), "{e}");
}

#[test]
fn bootstrap_intervals() {
    let opts = MetricsOptions {
        k_csls: 10,
        seed: 11,
        bootstrap: 1000,
    };
    let (s, c, g) = synthetic(60, 20, 32, 1.0, 1);
    let m = layer_metrics(&s, &c, &g, &opts).unwrap();
    assert!(
        m.p1_csls_ci_low <= m.p1_csls && m.p1_csls <= m.p1_csls_ci_high,
        "{m:?}"
    );
    assert!(
        m.centered_p1_csls_ci_low <= m.centered_p1_csls
            && m.centered_p1_csls <= m.centered_p1_csls_ci_high
    );
    assert!(m.centered_mean_ci_low < m.centered_mean && m.centered_mean < m.centered_mean_ci_high);
    assert!(
        m.p1_csls_ci_low < m.p1_csls_ci_high,
        "P@1 is neither 0 nor 1 here: {m:?}"
    );
    assert_eq!(
        m,
        layer_metrics(&s, &c, &g, &opts).unwrap(),
        "deterministic per seed"
    );
    let other = layer_metrics(&s, &c, &g, &MetricsOptions { seed: 12, ..opts }).unwrap();
    assert_ne!(
        (m.centered_mean_ci_low, m.centered_mean_ci_high),
        (other.centered_mean_ci_low, other.centered_mean_ci_high)
    );
    let (s, c, g) = synthetic(600, 20, 32, 1.0, 1);
    let big = layer_metrics(&s, &c, &g, &opts).unwrap();
    let w = |m: &LayerMetrics| m.centered_mean_ci_high - m.centered_mean_ci_low;
    assert!(
        w(&big) < 0.6 * w(&m),
        "10x the sources narrows the interval: {} vs {}",
        w(&big),
        w(&m)
    );
    let wp = |m: &LayerMetrics| m.p1_csls_ci_high - m.p1_csls_ci_low;
    assert!(wp(&big) < wp(&m));
}

#[test]
fn errors_name_what_is_wrong() {
    let opts = MetricsOptions::default();
    let (mut s, c, g) = synthetic(5, 0, 4, 0.5, 2);
    s.data[2 * 4 + 1] = f64::NAN;
    let e = layer_metrics(&s, &c, &g, &opts).unwrap_err().to_string();
    assert!(e.contains("source matrix row 2"), "{e}");
    let (s, mut c, g) = synthetic(5, 0, 4, 0.5, 2);
    c.data[3 * 4] = f64::INFINITY;
    let e = layer_metrics(&s, &c, &g, &opts).unwrap_err().to_string();
    assert!(e.contains("candidate matrix row 3"), "{e}");
    let (s, mut c, g) = synthetic(5, 0, 4, 0.5, 2);
    c.data[4 * 4..5 * 4].iter_mut().for_each(|v| *v = 0.0);
    let e = layer_metrics(&s, &c, &g, &opts).unwrap_err().to_string();
    assert!(e.contains("candidate matrix row 4 has L2 norm 0"), "{e}");
    let (s, _, g) = synthetic(5, 0, 4, 0.5, 2);
    let (_, c8, _) = synthetic(5, 0, 8, 0.5, 2);
    assert!(layer_metrics(&s, &c8, &g, &opts)
        .unwrap_err()
        .to_string()
        .contains("dimension"));
    let (s, c, _) = synthetic(5, 0, 4, 0.5, 2);
    let one = Gold::new(5, 5, vec![(0, 0), (1, 1), (2, 2), (3, 3)]);
    assert!(one
        .unwrap_err()
        .to_string()
        .contains("source row 4 has no gold"));
    let single = Gold::new(1, 1, vec![(0, 0)]).unwrap();
    let e = layer_metrics(&s.select_rows(&[0]), &c.select_rows(&[0]), &single, &opts)
        .unwrap_err()
        .to_string();
    assert!(e.contains("at least two pairs"), "{e}");
}

#[test]
fn blocked_streaming_equals_dense() {
    // Tiny blocks (7 candidates, the last one ragged) give the same result as one block, and the
    // streamed ranks equal dense ranks (`retrieval::best_rank` on the full CSLS matrix).
    let (s, c, g) = synthetic(40, 300, 16, 1.5, 5);
    let (s, c) = prepare(&s, &c, Space::Centred).unwrap();
    let r = retrieve(&s, &c, &g, 10);
    assert_eq!(
        r,
        lexalign_metrics::retrieval::retrieve_blocked(&s, &c, &g, 10, 40 * 7)
    );
    assert_eq!(
        r,
        lexalign_metrics::retrieval::retrieve_blocked(&s, &c, &g, 10, 1)
    );
    let csls = csls_matrix(&s, &c, 10);
    for (i, golds) in g.source_gold().iter().enumerate() {
        assert_eq!(
            r.s2t.csls[i],
            lexalign_metrics::retrieval::best_rank(csls.row(i), golds)
        );
    }
    let m = layer_metrics(&s, &c, &g, &MetricsOptions::default()).unwrap();
    let row = serde_json::to_value(&m).unwrap();
    let names: Vec<&String> = row.as_object().unwrap().keys().collect();
    assert_eq!(names.len(), 32);
}

fn time_it(n_src: usize, n_cand: usize, d: usize) {
    let (s, c, g) = synthetic(n_src, n_cand - n_src, d, 1.0, 9);
    let (sn, cn) = prepare(&s, &c, Space::Raw).unwrap();
    let t = std::time::Instant::now();
    let mut buf = vec![0.0; n_src * n_cand.min(600)];
    lexalign_metrics::kernel::sims_block(&sn, &cn, 0, n_cand.min(600), &mut buf);
    eprintln!(
        "{n_src} x {} x {d} cosine block: {:.1} ms",
        n_cand.min(600),
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = std::time::Instant::now();
    let r = retrieve(&sn, &cn, &g, 10);
    let retrieval = t.elapsed();
    let t = std::time::Instant::now();
    let m = layer_metrics(&s, &c, &g, &MetricsOptions::default()).unwrap();
    eprintln!(
        "{n_src} x {n_cand} x {d}: one retrieval pass (NN+CSLS, both directions) {:.3} s; full layer_metrics {:.3} s \
         (threads {}); p1_csls {:.3}, {}",
        retrieval.as_secs_f64(),
        t.elapsed().as_secs_f64(),
        rayon::current_num_threads(),
        m.p1_csls,
        r.s2t.nn.len()
    );
}

#[test]
#[ignore = "timing; run with --release -- --ignored --nocapture"]
fn timing_600x600x640() {
    time_it(600, 600, 640);
}

#[test]
#[ignore = "timing; run with --release -- --ignored --nocapture"]
fn timing_600x100kx640() {
    time_it(600, 100_000, 640);
}
