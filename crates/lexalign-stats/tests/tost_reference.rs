//! Compare lexalign-stats' equivalence tests (TOST, Welch and paired) with statsmodels' `ttost_ind`
//! (usevar="unequal") and `ttost_paired` (fixtures/tost_reference.json, produced by
//! fixtures/gen_tost.py) at 1e-9 relative.

use std::path::Path;

use lexalign_stats::{tost_paired, tost_welch};
use serde_json::Value;

fn close(what: &str, got: f64, want: f64) {
    let err = if want.abs() < 1e-3 {
        (got - want).abs() / 1e-3
    } else {
        ((got - want) / want).abs()
    };
    assert!(err <= 1e-9, "{what}: got {got:e}, statsmodels {want:e}");
}

fn vec_of(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn tost_matches_statsmodels() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tost_reference.json");
    let fx: Value = serde_json::from_str(&std::fs::read_to_string(&p).expect("read fixture"))
        .expect("parse fixture");
    let cases = fx["cases"].as_array().unwrap();
    assert!(cases.len() >= 20, "the fixture has {} cases", cases.len());
    let (mut equivalent, mut not) = (0, 0);
    for (i, c) in cases.iter().enumerate() {
        let g = |k: &str| c[k].as_f64().unwrap_or_else(|| panic!("case {i}: {k}"));
        let (a, b) = (vec_of(&c["a"]), vec_of(&c["b"]));
        let t = match c["kind"].as_str().unwrap() {
            "welch" => tost_welch(&a, &b, g("low"), g("high")),
            _ => tost_paired(&a, &b, g("low"), g("high")),
        }
        .unwrap();
        let w = format!("case {i} ({})", c["kind"]);
        close(&format!("{w} t_lower"), t.t_lower, g("t_lower"));
        close(&format!("{w} t_upper"), t.t_upper, g("t_upper"));
        close(&format!("{w} df"), t.df, g("df"));
        close(&format!("{w} p_lower"), t.p_lower, g("p_lower"));
        close(&format!("{w} p_upper"), t.p_upper, g("p_upper"));
        close(&format!("{w} p"), t.p, g("p"));
        if g("p") < 0.05 {
            equivalent += 1;
        } else {
            not += 1;
        }
    }
    // The fixture covers both outcomes, so a test that always says "equivalent" would fail.
    assert!(
        equivalent > 0 && not > 0,
        "{equivalent} equivalent, {not} not"
    );
}
