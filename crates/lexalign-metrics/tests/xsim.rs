//! xSIM against the numpy rendering of LASER's `source/xsim.py` in `fixtures/gen_xsim.py`:
//! every source's prediction and the error count exactly.

use lexalign_metrics::{xsim_margin_error, xsim_predictions, Gold, Matrix};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    k: usize,
    src: Vec<Vec<f64>>,
    cand: Vec<Vec<f64>>,
    pred: Vec<usize>,
    errors: usize,
}

#[test]
fn matches_numpy_xsim() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/xsim_reference.json"
    ))
    .unwrap();
    let fx: Fixture = serde_json::from_str(&text).unwrap();
    assert_eq!(fx.cases.len(), 4);
    for c in &fx.cases {
        let (s, y) = (
            Matrix::from_rows(&c.src).unwrap(),
            Matrix::from_rows(&c.cand).unwrap(),
        );
        assert_eq!(xsim_predictions(&s, &y, c.k).unwrap(), c.pred, "{}", c.name);
        let gold = Gold::new(s.rows, y.rows, (0..s.rows).map(|i| (i, i)).collect()).unwrap();
        let (rate, n) = xsim_margin_error(&s, &y, &gold, c.k).unwrap();
        assert_eq!(n, c.errors, "{}", c.name);
        assert!((rate - c.errors as f64 / s.rows as f64).abs() < 1e-15);
    }
    // The cases exercise the margin: not all-correct, not all-wrong.
    assert!(
        fx.cases.iter().any(|c| c.errors > 0) && fx.cases.iter().all(|c| c.errors < c.src.len())
    );
}
