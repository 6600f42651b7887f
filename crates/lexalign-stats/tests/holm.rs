//! Holm's adjustment against statsmodels' `multipletests(method="holm")` and the one-sided exact
//! binomial test against scipy's `binomtest(alternative="greater")` (`fixtures/gen_holm.py`).

use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    holm: Vec<HolmCase>,
    binom: Vec<BinomCase>,
}

#[derive(Deserialize)]
struct HolmCase {
    p: Vec<f64>,
    adjusted: Vec<f64>,
}

#[derive(Deserialize)]
struct BinomCase {
    k: u64,
    n: u64,
    p0: f64,
    p: f64,
}

fn fixture() -> Fixture {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/holm_reference.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn holm_matches_statsmodels() {
    let fx = fixture();
    assert_eq!(fx.holm.len(), 5);
    for c in &fx.holm {
        let got = lexalign_stats::holm(&c.p).unwrap();
        for (g, w) in got.iter().zip(&c.adjusted) {
            assert!(
                (g - w).abs() <= 1e-12 * w.max(1e-300),
                "{g} vs {w} in {:?}",
                c.p
            );
        }
    }
    assert!(lexalign_stats::holm(&[0.1, f64::NAN]).is_err());
    assert!(lexalign_stats::holm(&[1.2]).is_err());
}

#[test]
fn binomial_matches_scipy() {
    for c in &fixture().binom {
        let got = lexalign_stats::binom_greater_p(c.k, c.n, c.p0).unwrap();
        assert!(
            ((got - c.p) / c.p).abs() < 1e-9,
            "({}, {}, {}): {got} vs {}",
            c.k,
            c.n,
            c.p0,
            c.p
        );
    }
    assert!(lexalign_stats::binom_greater_p(3, 2, 0.5).is_err());
}
