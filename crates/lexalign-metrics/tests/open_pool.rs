//! Open-pool retrieval against the numpy rendering of MUSE's protocol with a separate reference
//! vocabulary in `fixtures/gen_open_pool.py`: every rank and P@1/5/10 (NN and CSLS, raw and
//! centred) exactly, the CSLS neighbourhood terms to 1e-12.

use lexalign_metrics::open_pool::{open_retrieval, PreparedPool};
use lexalign_metrics::Matrix;
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    k: usize,
    queries: Vec<Vec<f64>>,
    pool: Vec<Vec<f64>>,
    ref_query: Vec<Vec<f64>>,
    ref_pool: Vec<Vec<f64>>,
    golds: Vec<Vec<usize>>,
    raw: Expected,
    centred: Expected,
}

#[derive(Deserialize)]
struct Expected {
    nn: Vec<usize>,
    csls: Vec<usize>,
    r_query: Vec<f64>,
    r_pool: Vec<f64>,
    precisions: [f64; 6],
}

fn close(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() < 1e-12, "{what}: {x} vs {y}");
    }
}

#[test]
fn matches_numpy_open_pool() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/open_pool_reference.json"
    ))
    .unwrap();
    let fx: Fixture = serde_json::from_str(&text).unwrap();
    assert_eq!(fx.cases.len(), 3);
    let m = |r: &[Vec<f64>]| Matrix::from_rows(r).unwrap();
    let mut ties = 0;
    for c in &fx.cases {
        for (centre, e) in [(false, &c.raw), (true, &c.centred)] {
            let what = format!("{} (centred: {centre})", c.name);
            let r = open_retrieval(
                &m(&c.queries),
                &m(&c.pool),
                &m(&c.ref_query),
                &m(&c.ref_pool),
                &c.golds,
                c.k,
                centre,
            )
            .unwrap();
            assert_eq!(r.nn, e.nn, "{what}: NN ranks");
            assert_eq!(r.csls, e.csls, "{what}: CSLS ranks");
            assert_eq!(r.precisions(), e.precisions, "{what}: P@1/5/10");
            close(&r.r_query, &e.r_query, &format!("{what}: r_T"));
            let p = PreparedPool::new(&m(&c.pool), &m(&c.ref_pool), &m(&c.ref_query), c.k, centre)
                .unwrap();
            close(&p.r_pool, &e.r_pool, &format!("{what}: r_S"));
            // The tie rule is exercised: a query whose gold is a later copy of a row ranks below it.
            ties += c
                .golds
                .iter()
                .zip(&e.nn)
                .filter(|(g, &r)| g == &&vec![5] && r > 0)
                .count();
        }
    }
    assert!(
        ties > 0,
        "the duplicated rows must produce a tie broken by index"
    );
}
