//! Findings 60-64 (the authors' scripts 05 and 04 on the embedded models) evaluated on the
//! `scripts.*` keys of synthetic stage outputs: working models' outputs support 60-62, broken
//! ones do not, and a run without the `authors-scripts` stage leaves them unmeasured.

use std::path::Path;

use lexalign_data::ProbeRow;
use lexalign_published::probe::scripts::{ModelAudit, ScriptsSummary, TsnePanel};
use lexalign_published::probe::{audit, Vocabulary};
use lexalign_report::load_claims;
use lexalign_report::render::authors_scripts::{values, ScriptsRun};
use lexalign_report::study::findings::{evaluate, Finding, FindingVerdict};
use lexalign_report::values::Values;

fn findings() -> Vec<Finding> {
    let c = load_claims(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../paper/claims.toml"))
        .unwrap();
    let f: Vec<Finding> = c
        .finding
        .into_iter()
        .filter(|f| f.supported_if.contains("scripts."))
        .collect();
    assert_eq!(
        f.iter().map(|f| f.id).collect::<Vec<_>>(),
        vec![60, 61, 62, 63, 64]
    );
    f
}

/// 42 rows with the given base and tuned outputs, for both adapters; t-SNE mean ranks 9 -> `after`.
fn run(base: &str, tuned: &str, after: f64) -> Values {
    let v = Vocabulary::from_texts(["the dog is a good dog"], ["mbwa ni mzuri"], "test");
    let rows: Vec<ProbeRow> = (0..42)
        .map(|i| ProbeRow {
            swahili: "mbwa".into(),
            english: "dog".into(),
            template: format!("t{i}"),
            prompt: "p".into(),
            base: base.into(),
            tuned: tuned.into(),
            line: i + 1,
        })
        .collect();
    let a = audit(&rows, &v).unwrap();
    let m = |adapter: &str| ModelAudit {
        model: "m".into(),
        adapter: adapter.into(),
        decoding: "sampled".into(),
        audit: a.clone(),
    };
    let panel = |state: &str, mean_rank: f64| TsnePanel {
        layer: 2,
        state: state.into(),
        kl_divergence: 0.3,
        n_iter: 999,
        trustworthiness_5: 0.9,
        mean_rank,
        rank_1: 2,
    };
    let s = ScriptsRun {
        summary: ScriptsSummary {
            audits: vec![m("tli-train"), m("swen-tli-train")],
            tsne_model: "g".into(),
            tsne_adapter: "swen-tli-train".into(),
            best_layer: 2,
            tsne: vec![panel("before", 9.0), panel("after", after)],
            seed: 42,
            seconds: 1.0,
        },
        gens: vec![],
        ranks: vec![],
        points: vec![],
    };
    let mut vals = Values::new();
    values(&mut vals, Some(&s));
    vals
}

fn verdicts(v: &Values) -> Vec<(u32, FindingVerdict)> {
    evaluate(&findings(), v)
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r.verdict))
        .collect()
}

#[test]
fn working_models_support_and_broken_ones_do_not() {
    use FindingVerdict::*;
    let working = verdicts(&run("the dog is a good dog", "mbwa ni mzuri dog", 6.0));
    let get = |vs: &[(u32, FindingVerdict)], id: u32| {
        vs.iter().find(|(i, _)| *i == id).unwrap().1.clone()
    };
    for id in [60, 61, 62, 64] {
        assert_eq!(get(&working, id), Supported, "finding {id}");
    }
    // Every row has a pair word in both columns: no test can find a difference.
    assert_eq!(get(&working, 63), Supported);
    let broken = verdicts(&run("Привет 軍 promotion_xq", "ابن 춘 ability", 8.5));
    for id in [60, 61, 62, 64] {
        assert_eq!(get(&broken, id), NotSupported, "finding {id}");
    }
    let none = verdicts(&Values::new());
    assert!(
        none.iter().all(|(_, v)| matches!(v, NeedsRun { .. })),
        "{none:?}"
    );
}
