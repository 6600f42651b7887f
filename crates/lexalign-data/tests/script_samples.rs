//! The pairs the authors' scripts 04 and 05 sampled (`random.seed(42); random.sample(pairs, k)`,
//! indices written by `tests/fixtures/gen_script_samples.py`): the released probe table lists
//! exactly the 7 sampled pairs, in sampling order, so the parser and the README's account of
//! the sampling agree with the authors' file.

use lexalign_data::PaperData;

fn samples() -> serde_json::Value {
    let p =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/script_samples.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn indices(v: &serde_json::Value) -> Vec<usize> {
    serde_json::from_value(v.clone()).unwrap()
}

#[test]
fn probe_rows_are_the_sampled_pairs_in_order() {
    let Ok(pd) = PaperData::locate(None) else {
        lexalign_run::missing_fixture("paper data not found (set LEXALIGN_PAPER_DATA)");
        return;
    };
    let s = samples();
    let training = pd.training_pairs().unwrap();
    assert_eq!(training.len(), s["n_pairs"].as_u64().unwrap() as usize);
    let want: Vec<(String, String)> = indices(&s["probe_7"])
        .into_iter()
        .map(|i| {
            (
                training.pairs[i].source.clone(),
                training.pairs[i].target.clone(),
            )
        })
        .collect();
    let mut got: Vec<(String, String)> = Vec::new();
    for r in pd.probe().unwrap() {
        let p = (r.swahili.clone(), r.english.clone());
        if got.last() != Some(&p) {
            got.push(p);
        }
    }
    assert_eq!(got, want);
    // The constant the code uses is the fixture's sample, and its pairs are the ones script 04's
    // figures label (e.g. vumbi -> dust, Septemba -> September).
    assert_eq!(
        lexalign_data::SCRIPT04_SAMPLE.to_vec(),
        indices(&s["tsne_25"])
    );
    let t = pd.tsne_pairs().unwrap();
    assert_eq!(
        (t[9].source.as_str(), t[9].target.as_str()),
        ("vumbi", "dust")
    );
    assert_eq!(
        (t[11].source.as_str(), t[11].target.as_str()),
        ("Septemba", "September")
    );
    // Script 04's 25 pairs start with script 05's 7 (same seed, same list).
    assert_eq!(indices(&s["tsne_25"])[..7], indices(&s["probe_7"])[..]);
}
