//! The baselines' protocol on synthetic vectors (no model): target words are a rotation of their
//! source words plus noise and a shared offset, so a map fitted on the training pairs must beat
//! the frozen vectors, ridge must pick a λ on the dev split, and every set gets its rows.

use lang_study::baselines::{
    adapter_name, comparisons, frozen_name, layer_rows, Hits, Method, Words, LAMBDAS,
};
use lang_study::data::{ko_en, StudyPairs};
use lexalign_data::{Lexicon, LexiconStats, Pair};
use lexalign_metrics::linalg::matmul;
use lexalign_metrics::Matrix;
use rand::{Rng, SeedableRng};

const D: usize = 12;

fn lexicon(name: &str, pairs: Vec<Pair>) -> Lexicon {
    Lexicon {
        stats: LexiconStats {
            name: name.into(),
            pairs: pairs.len(),
            ..Default::default()
        },
        pairs,
    }
}

fn study() -> StudyPairs {
    let kengdic = (0..800)
        .map(|i| Pair::new(format!("k{i}"), format!("e{i}")))
        .collect();
    let cldr = (0..60)
        .map(|i| Pair::new(format!("c{i}"), format!("f{i}")))
        .collect();
    ko_en(lexicon("kengdic", kengdic), lexicon("cldr", cldr)).unwrap()
}

/// Row per word: sources random around an offset; a target is the rotated source of the same
/// index plus noise (`noise` 0: exact).
fn vectors(w: &Words, noise: f64) -> Matrix {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let rot = {
        let a = Matrix::new(D, D, (0..D * D).map(|_| rng.gen::<f64>() - 0.5).collect()).unwrap();
        lexalign_metrics::svd::svd_square(&a).unwrap().u
    };
    let src = |id: usize| -> Vec<f64> {
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(1000 + id as u64);
        (0..D)
            .map(|j| r.gen::<f64>() - 0.5 + if j == 0 { 3.0 } else { 0.0 })
            .collect()
    };
    let mut data = Vec::new();
    for word in &w.words {
        let (side, id) = word.split_at(1);
        let id: usize =
            id.parse::<usize>().unwrap() + if matches!(side, "c" | "f") { 10_000 } else { 0 };
        let v = src(id);
        if matches!(side, "k" | "c") {
            data.extend(v);
        } else {
            let m = matmul(&Matrix::new(1, D, v).unwrap(), &rot);
            data.extend(
                m.data
                    .iter()
                    .map(|x| x + noise * (rng.gen::<f64>() - 0.5) + 1.0),
            );
        }
    }
    Matrix::new(w.words.len(), D, data).unwrap()
}

#[test]
fn maps_beat_frozen_vectors_and_every_set_has_its_rows() {
    let s = study();
    assert_eq!((s.train.len(), s.dev.len(), s.fit.len()), (200, 24, 176));
    let w = Words::of(&[&s.train, &s.test, &s.independent]);
    let all = vectors(&w, 0.3);
    let methods = Method::frozen(2);
    let mut hits = Hits::new();
    let rows = layer_rows(4, &all, &w, &s, &methods, frozen_name, true, &mut hits).unwrap();
    assert_eq!(
        rows.len(),
        methods.len() * 3,
        "dev, held-out and cldr rows for every method"
    );
    let get = |set: &str, m: &str| {
        rows.iter()
            .find(|r| r.set == set && r.method == m)
            .unwrap_or_else(|| panic!("{set} {m}"))
    };
    for set in ["dev", "held-out", "cldr"] {
        let (base, proc) = (get(set, "base"), get(set, "procrustes"));
        assert!(
            proc.p1_csls > base.p1_csls + 0.3,
            "{set}: Procrustes {} vs frozen {}",
            proc.p1_csls,
            base.p1_csls
        );
        assert!(get(set, "procrustes-refined").p1_csls > base.p1_csls);
        assert!(
            get(set, "whiten").p1_csls.is_finite() && get(set, "remove-pc3").hub_skew.is_finite()
        );
    }
    assert_eq!(get("dev", "procrustes").n_fit, s.fit.len());
    assert_eq!(get("held-out", "procrustes").n_fit, s.train.len());
    assert_eq!(get("held-out", "base").n_fit, 0);
    assert_eq!(get("held-out", "base").n_sources, s.test.len());
    let lambda = get("held-out", "ridge")
        .lambda
        .expect("ridge records its λ");
    assert!(LAMBDAS.contains(&lambda) && get("dev", "ridge").lambda == Some(lambda));
    assert!(get("held-out", "lstsq").lambda.is_none());
    assert_eq!(
        hits[&("held-out".to_string(), 4, "procrustes".to_string())].len(),
        s.test.len()
    );
    assert!(!hits.keys().any(|k| k.0 == "dev"), "dev hits are not kept");
}

#[test]
fn adapter_rows_compare_with_the_frozen_procrustes_map() {
    let s = study();
    let w = Words::of(&[&s.train, &s.test, &s.independent]);
    let (mut frozen, mut adapted) = (Hits::new(), Hits::new());
    layer_rows(
        1,
        &vectors(&w, 1.5),
        &w,
        &s,
        &[Method::Procrustes],
        frozen_name,
        false,
        &mut frozen,
    )
    .unwrap();
    // "Adapted" vectors with no noise: every method there retrieves better.
    let rows = layer_rows(
        1,
        &vectors(&w, 0.0),
        &w,
        &s,
        &[Method::Base, Method::Procrustes],
        adapter_name,
        false,
        &mut adapted,
    )
    .unwrap();
    assert!(
        rows.iter().any(|r| r.method == "tli") && rows.iter().any(|r| r.method == "tli+procrustes")
    );
    let tests = comparisons(&frozen, &adapted, 200, 0).unwrap();
    assert_eq!(tests.len(), 4, "held-out and cldr, tli and tli+procrustes");
    let t = tests
        .iter()
        .find(|t| t.set == "held-out" && t.method == "tli+procrustes")
        .unwrap();
    assert!(
        t.delta_p1 > 0.0 && t.ci_low > 0.0 && t.ci_low <= t.delta_p1 && t.delta_p1 <= t.ci_high,
        "{t:?}"
    );
    let tli = tests
        .iter()
        .find(|t| t.set == "held-out" && t.method == "tli")
        .unwrap();
    assert!(
        tli.delta_p1 < 0.0,
        "unmapped vectors lose to a map: {tli:?}"
    );
}
