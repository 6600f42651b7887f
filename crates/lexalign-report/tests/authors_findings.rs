//! The findings about the authors' released probe (`pair = "authors"` in paper/claims.toml),
//! evaluated on audits of small synthetic tables: a broken model's outputs support them, a
//! working model's do not (each finding's false case), and a run without the audit leaves them
//! unmeasured.

use std::path::Path;

use lexalign_data::parse_probe;
use lexalign_published::probe::{audit, Vocabulary};
use lexalign_report::load_claims;
use lexalign_report::study::findings::{evaluate, Finding, FindingVerdict};
use lexalign_report::values::{probe_values, Values};

const HEAD: &str = "| Prompt Template | Prompt | Base Model Output | TLI-Tuned Model Output |\n|---|---|---|---|\n";

fn findings() -> Vec<Finding> {
    let c = load_claims(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../paper/claims.toml"))
        .unwrap();
    let f: Vec<Finding> = c
        .finding
        .into_iter()
        // The released probe's findings; those over the embedded models' runs (`scripts.*`
        // keys, findings 60-64) are tested in scripts_findings.rs.
        .filter(|f| f.pair == "authors" && !f.supported_if.contains("scripts."))
        .collect();
    assert!(
        f.len() >= 5,
        "{} findings about the authors' outputs",
        f.len()
    );
    f
}

/// One pair, its 6 prompts, with the same base and tuned output for every prompt.
fn values(base: &str, tuned: &str) -> Values {
    let (sw, en) = ("mbwa", "dog");
    let mut t = format!("## Probing for: `{sw}` <-> `{en}`\n\n{HEAD}");
    for (name, tpl) in lexalign_data::PROBE_TEMPLATES {
        let prompt = lexalign_data::probe_prompt(tpl, sw, en);
        t.push_str(&format!("| {name} | `{prompt}` | `{base}` | `{tuned}` |\n"));
    }
    let rows = parse_probe(&t).unwrap();
    let v = Vocabulary::from_texts(
        ["the english word for is he my friend very a dog good meaning in we call it swahili"],
        ["mbwa nilienda sokoni kununua katika kiingereza tunaita nilipofika nyumbani niliona rafiki yangu"],
        "test",
    );
    let a = audit(&rows, &v).unwrap();
    let mut vals = Values::new();
    probe_values(&mut vals, Some(&a));
    vals
}

fn verdict(fs: &[Finding], v: &Values, id: u32) -> FindingVerdict {
    evaluate(fs, v)
        .unwrap()
        .into_iter()
        .find(|r| r.id == id)
        .unwrap()
        .verdict
}

#[test]
fn broken_outputs_support_the_findings() {
    let fs = findings();
    let v = values("Привет 軍 promotion_xq", "ابن 춘 ability.Te");
    for r in evaluate(&fs, &v).unwrap() {
        assert_eq!(
            r.verdict,
            FindingVerdict::Supported,
            "finding {}: {}",
            r.id,
            r.condition
        );
        assert!(r.evidence.is_some(), "finding {}", r.id);
    }
}

#[test]
fn a_working_model_does_not_support_them() {
    let fs = findings();
    let v = values("dog. We call it a dog.", "mbwa, a good dog");
    for id in [32, 33, 34, 36] {
        assert_eq!(
            verdict(&fs, &v, id),
            FindingVerdict::NotSupported,
            "finding {id}"
        );
    }
    // Identical columns do not differ: finding 35 holds for them too.
    assert_eq!(verdict(&fs, &v, 35), FindingVerdict::Supported);
    // A base that works and a tuned model that does not: the columns differ (6 of 6 rows each
    // way is p = 0.031 by McNemar), so 35 fails, and 32 and 33 fail with the base.
    let v = values("dog. We call it a dog.", "Привет 軍 promotion_xq");
    for id in [32, 33, 35, 36] {
        assert_eq!(
            verdict(&fs, &v, id),
            FindingVerdict::NotSupported,
            "finding {id}"
        );
    }
    assert_eq!(verdict(&fs, &v, 34), FindingVerdict::Supported);
}

#[test]
fn without_the_audit_they_are_unmeasured() {
    let fs = findings();
    for r in evaluate(&fs, &Values::new()).unwrap() {
        assert!(
            matches!(r.verdict, FindingVerdict::NeedsRun { .. }),
            "finding {}",
            r.id
        );
    }
}
