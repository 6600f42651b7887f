//! lexalign's retrieval on exported `.vec` files equals MUSE's evaluation re-done in numpy
//! (`fixtures/gen_vec_p1.py` -> `fixtures/vec_p1_reference.json`): the vectors are lexalign's
//! own export (`lexalign bli --save-vectors DIR --vec`), read back with lexalign-data's reader.

use std::path::PathBuf;

use lexalign_metrics::{layer_metrics, Lexicon, Matrix, MetricsOptions};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn read_vec(name: &str) -> lexalign_data::VecFile {
    let p = fixtures().join("vec_p1").join(name);
    lexalign_data::parse_vec(
        &std::fs::read_to_string(&p).unwrap(),
        &p.display().to_string(),
    )
    .unwrap()
}

/// The rows of `f` for `words`, in that order (every word must be in the file).
fn rows_for(f: &lexalign_data::VecFile, words: &[String]) -> Matrix {
    let data: Vec<f32> = words
        .iter()
        .flat_map(|w| {
            let i = f
                .words
                .iter()
                .position(|x| x == w)
                .unwrap_or_else(|| panic!("{w} not in the .vec file"));
            f.row(i).to_vec()
        })
        .collect();
    Matrix::from_f32(words.len(), f.dim, &data).unwrap()
}

#[test]
fn p_at_k_on_exported_vec_files_equals_muse_in_numpy() {
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("vec_p1_reference.json")).unwrap(),
    )
    .unwrap();
    let (src, tgt) = (read_vec("source.vec"), read_vec("target.vec"));
    let dico = lexalign_data::read_pairs(fixtures().join("vec_p1/pairs.muse.txt")).unwrap();
    let pairs: Vec<(&str, &str)> = dico
        .pairs
        .iter()
        .map(|p| (p.source.as_str(), p.target.as_str()))
        .collect();
    // The dictionary's targets as candidates, then every other word of target.vec (MUSE
    // retrieves over the whole file).
    let lex = Lexicon::from_pairs(&pairs, &tgt.words).unwrap();
    assert_eq!(
        lex.sources.len(),
        src.words.len(),
        "source.vec holds exactly the distinct sources"
    );
    let (s, c) = (
        rows_for(&src, &lex.sources),
        rows_for(&tgt, &lex.candidates),
    );
    let m = layer_metrics(
        &s,
        &c,
        &lex.gold,
        &MetricsOptions {
            k_csls: 10,
            seed: 0,
            bootstrap: 1,
        },
    )
    .unwrap();
    assert_eq!(reference["n_pairs"].as_u64().unwrap() as usize, pairs.len());
    assert_eq!(
        reference["nn"]["n_sources"].as_u64().unwrap() as usize,
        m.n_sources
    );
    let want = |method: &str, k: &str| reference[method][k].as_f64().unwrap();
    let got = [
        ("nn", "p1", m.p1_nn),
        ("nn", "p5", m.p5_nn),
        ("nn", "p10", m.p10_nn),
        ("csls", "p1", m.p1_csls),
        ("csls", "p5", m.p5_csls),
        ("csls", "p10", m.p10_csls),
    ];
    for (method, k, v) in got {
        assert_eq!(
            v,
            want(method, k),
            "{method} {k}: lexalign {v}, MUSE-in-numpy {}",
            want(method, k)
        );
    }
    // Not a trivial fixture: some but not all sources are right at 1.
    assert!(m.p1_nn > 0.0 && m.p1_nn < 1.0, "p1_nn {}", m.p1_nn);
}
