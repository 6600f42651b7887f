//! The Korean-English / Swahili-English study's report on a small committed synthetic run
//! folder (tests/fixtures/study-run: made-up numbers in the stage formats of
//! docs/CONVENTIONS.md), so these tests are fast and need no model.

use std::path::{Path, PathBuf};

use lexalign_report::claims::load_claims;
use lexalign_report::study::findings::{evaluate, FindingVerdict};
use lexalign_report::study::{figures, render, Study};
use lexalign_report::values::render_template;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/study-run")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

#[test]
fn study_tables_snapshot() {
    let s = Study::load(&fixture()).unwrap();
    assert!(
        s.koen.missing.is_empty() && s.swen.missing.is_empty(),
        "{:?} {:?}",
        s.koen.missing,
        s.swen.missing
    );
    let claims = load_claims(&repo().join("paper/claims.toml")).unwrap();
    let f = evaluate(&claims.finding, &s.values()).unwrap();
    let mut out = String::new();
    for p in s.pairs() {
        out.push_str(&format!("## {}\n\n", p.pair.name()));
        out.push_str(&render::scan_table_md(p));
        out.push('\n');
        out.push_str(&render::change_table_md(p));
        out.push('\n');
        out.push_str(&render::findings_md(&f, p.pair));
        out.push('\n');
    }
    insta::assert_snapshot!("study_tables", out);
    insta::assert_snapshot!("study_sections", render::sections_md(&s, &f));
}

#[test]
fn every_finding_and_multilingual_cell_is_measured_by_a_full_run() {
    let s = Study::load(&fixture()).unwrap();
    let v = s.values();
    let claims = load_claims(&repo().join("paper/claims.toml")).unwrap();
    assert!(!claims.finding.is_empty());
    // The findings about the authors' released probe read the published data's `probe.*` keys,
    // not the study's (tests/authors_findings.rs).
    let study_findings: Vec<_> = claims
        .finding
        .iter()
        .filter(|f| f.pair != "authors")
        .cloned()
        .collect();
    for r in evaluate(&study_findings, &v).unwrap() {
        assert!(
            !matches!(r.verdict, FindingVerdict::NeedsRun { .. }),
            "finding {}: {:?}",
            r.id,
            r.verdict
        );
        assert!(
            r.evidence.is_some(),
            "finding {}: evidence template has an unknown key",
            r.id
        );
        if let Some(c) = claims
            .finding
            .iter()
            .find(|x| x.id == r.id)
            .and_then(|x| x.caveat.as_ref())
        {
            render_template(c, &v).unwrap_or_else(|e| panic!("finding {}: caveat: {e:#}", r.id));
        }
    }
    for c in &claims.claim {
        if let Some(t) = &c.multilingual {
            render_template(t, &v)
                .unwrap_or_else(|e| panic!("claim {}: multilingual: {e:#}", c.id));
        }
    }
    // The synthetic numbers decide these verdicts (see the fixture's generator choices).
    let verdict = |id: u32| {
        evaluate(&claims.finding, &v)
            .unwrap()
            .into_iter()
            .find(|r| r.id == id)
            .unwrap()
            .verdict
    };
    assert_eq!(verdict(16), FindingVerdict::Supported);
    assert_eq!(verdict(22), FindingVerdict::Supported);
    assert_eq!(verdict(20), FindingVerdict::Supported);
    // Baselines (issue 26): at the best adapter's layer TLI's CI lies above Procrustes (41) but
    // TLI + Procrustes' contains 0 (42); at hidden state 2 TLI loses to the map (43, 44).
    assert_eq!(verdict(41), FindingVerdict::Supported);
    assert_eq!(verdict(42), FindingVerdict::NotSupported);
    assert_eq!(verdict(43), FindingVerdict::NotSupported);
    assert_eq!(verdict(44), FindingVerdict::NotSupported);
    // Open pool (issue 31): ko-en 30 gained / 5 lost (McNemar p < 0.05) but en-ko 8 / 6; sw-en
    // 3 / 1 and 2 / 2; ko-en's open P@1 is below its closed P@1. 69/70: the scans' Holm counts.
    assert_eq!(verdict(65), FindingVerdict::Supported);
    assert_eq!(verdict(66), FindingVerdict::NotSupported);
    assert_eq!(verdict(67), FindingVerdict::NotSupported);
    assert_eq!(verdict(68), FindingVerdict::NotSupported);
    assert_eq!(verdict(69), FindingVerdict::Supported);
    assert_eq!(verdict(70), FindingVerdict::Supported);
    assert_eq!(verdict(71), FindingVerdict::Supported);
    // Where no hidden state survives Holm, 69 and 70 must be false.
    let mut none = v.clone();
    for k in [
        "koen.scan.holm.layers_above_chance",
        "swen.scan.holm.layers_above_chance",
    ] {
        none.insert(k.into(), lexalign_report::values::Val::Num(0.0));
    }
    let r = evaluate(&claims.finding, &none).unwrap();
    for id in [69, 70] {
        assert_eq!(
            r.iter().find(|x| x.id == id).unwrap().verdict,
            FindingVerdict::NotSupported,
            "finding {id}"
        );
    }
}

#[test]
fn open_pool_section_reads_the_stage() {
    let s = Study::load(&fixture()).unwrap();
    let op = s
        .koen
        .open_pool
        .as_ref()
        .expect("koen-open-pool in the fixture");
    let md = lexalign_report::study::open_pool::open_pool_md(op);
    assert!(
        md.contains("| koen-tli-train-best | 3 | held-out | ko-en | 0.120 | 0.370 |"),
        "{md}"
    );
    assert!(
        md.contains("at 4 of 5 hidden states after Holm's correction"),
        "{md}"
    );
    assert!(
        md.contains("| loanword | loanword | 10 | 0.500 | 0.600 |"),
        "{md}"
    );
    assert!(
        md.contains("0.810 occur in the training pairs' words"),
        "{md}"
    );
    // Without the stage the section is absent, never made up.
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&fixture(), tmp.path());
    std::fs::remove_dir_all(tmp.path().join("koen-open-pool")).unwrap();
    assert!(Study::load(tmp.path()).unwrap().koen.open_pool.is_none());
}

#[test]
fn baseline_table_reads_both_stages_and_picks_on_the_dev_split() {
    use lexalign_report::study::baselines::{baseline_table_md, best_post, dev_best_layer};
    let s = Study::load(&fixture()).unwrap();
    let frozen = s.koen.scan.as_ref().unwrap().baselines.as_ref().unwrap();
    // Dev P@1 of the frozen model peaks at hidden state 3 in the fixture; the post-processing
    // with the best dev P@1 there is the last one listed (its numbers rise with the method).
    assert_eq!(dev_best_layer(frozen), Some(3));
    assert_eq!(best_post(frozen, 3), Some("remove-pc3"));
    let md = baseline_table_md(&s.koen);
    assert!(
        md.contains("| koen-tli-train-best | 3 (target) | held-out |"),
        "{md}"
    );
    assert!(
        md.contains("| koen-tli-train-l2 | 2 (target) | cldr |") && md.contains("3 (dev-best)"),
        "{md}"
    );
    assert!(
        md.contains("+0.180 [+0.130, +0.230]"),
        "the paired CI column: {md}"
    );
    let v = s.values();
    assert!(
        matches!(v.get("koen.best.bl.t.held_out.procrustes"), Some(lexalign_report::values::Val::Num(x)) if (*x - 0.42).abs() < 1e-9)
    );
    // Without the scan's baselines.csv the table is absent, never made up.
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&fixture(), tmp.path());
    std::fs::remove_file(tmp.path().join("koen-scan/baselines.csv")).unwrap();
    assert!(baseline_table_md(&Study::load(tmp.path()).unwrap().koen).is_empty());
}

#[test]
fn a_run_without_the_study_says_what_is_missing_and_invents_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Study::load(tmp.path()).unwrap();
    assert!(s.is_empty());
    let claims = load_claims(&repo().join("paper/claims.toml")).unwrap();
    let f = evaluate(&claims.finding, &s.values()).unwrap();
    assert!(f
        .iter()
        .all(|r| matches!(r.verdict, FindingVerdict::NeedsRun { .. }) && r.evidence.is_none()));
    let md = render::sections_md(&s, &f);
    for stage in [
        "koen-scan",
        "koen-tli-train-l2",
        "koen-tli-train-best",
        "koen-eval",
        "swen-scan",
        "swen-tli-train",
        "swen-eval",
    ] {
        assert!(
            md.contains(&format!("--out runs/<id>/{stage}")),
            "{stage} has no command:\n{md}"
        );
    }
    assert!(md.contains("None of this study's stages are in this run"));
    assert!(!md.contains("P@1 0.") && !md.contains("raised"), "{md}");
    assert!(
        figures::scan_figure(&s.koen).unwrap().is_none()
            && figures::p1_figure(&s.koen).unwrap().is_none()
    );
}

#[test]
fn a_partial_run_names_the_missing_stages() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&fixture(), tmp.path());
    std::fs::remove_dir_all(tmp.path().join("koen-eval/koen-tli-train-best")).unwrap();
    std::fs::remove_dir_all(tmp.path().join("swen-scan")).unwrap();
    let s = Study::load(tmp.path()).unwrap();
    assert_eq!(
        s.koen.missing,
        vec!["koen-eval/koen-tli-train-best".to_string()]
    );
    assert_eq!(s.swen.missing, vec!["swen-scan".to_string()]);
    let md = render::sections_md(&s, &[]);
    assert!(
        md.contains("Its evaluation (`koen-eval/koen-tli-train-best`) is not in this run"),
        "{md}"
    );
    assert!(md.contains("lang-study scan --pair sw-en"));
    // a malformed file is an error naming it
    std::fs::write(
        tmp.path().join("koen-scan/layers.csv"),
        "layer,pairs_mean,pooling\n1,abc,mean\n",
    )
    .unwrap();
    let err = format!("{:#}", Study::load(tmp.path()).unwrap_err());
    assert!(
        err.contains("layers.csv") && err.contains("pairs_mean"),
        "{err}"
    );
}

#[test]
fn figures_are_svg_with_every_panel() {
    let s = Study::load(&fixture()).unwrap();
    let scan = figures::scan_figure(&s.koen).unwrap().unwrap();
    assert!(
        scan.starts_with("<svg")
            && scan.contains("English-only control")
            && scan.contains("centred CSLS P@1")
    );
    let p1 = figures::p1_figure(&s.koen).unwrap().unwrap();
    assert!(
        p1.contains("koen-tli-train-l2 (target: hidden state 2)")
            && p1.contains("koen-tli-train-best (target: hidden state 3)")
    );
    assert!(p1.contains("held-out after") && p1.contains("cldr before"));
    let sw = figures::p1_figure(&s.swen).unwrap().unwrap();
    assert!(sw.contains("control after"));
    // deterministic
    assert_eq!(
        scan,
        figures::scan_figure(&Study::load(&fixture()).unwrap().koen)
            .unwrap()
            .unwrap()
    );
}

#[test]
fn cka_files_add_a_laser_table_with_their_numbers_only() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture(), dir.path());
    let scan = dir.path().join("koen-scan");
    // Hidden states 0..=4: `both` peaks at 3, then 4, then 1; mean rows must be ignored.
    let mut csv = String::from("pooling,layer,side,n,cka\n");
    for l in 0..5usize {
        let both = [0.10, 0.40, 0.20, 0.71, 0.55][l];
        csv.push_str(&format!("mean,{l},both,1200,0.99\nmean-content,{l},source,600,{:.2}\nmean-content,{l},target,600,{:.2}\nmean-content,{l},both,1200,{both}\n", both - 0.05, both + 0.05));
    }
    std::fs::write(scan.join("cka.csv"), csv).unwrap();
    let eval = dir.path().join("koen-eval/koen-tli-train-l2");
    let mut csv = String::from("set,layer,side,cka_before,cka_after,delta\n");
    for l in 0..5usize {
        csv.push_str(&format!(
            "held-out,{l},both,0.{l}00,0.{l}25,0.025\ntrained,{l},both,0.9,0.1,-0.8\n"
        ));
    }
    std::fs::write(eval.join("cka.csv"), csv).unwrap();
    let s = Study::load(dir.path()).unwrap();
    assert!(s.koen.has_cka() && !s.swen.has_cka());
    let t = render::cka_table_md(&s.koen);
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines[0], "| hidden state | CKA source | CKA target | CKA both | `koen-tli-train-l2`: held-out before → after (change) |");
    let target = s.koen.adapters[0].target_layer().unwrap();
    assert_eq!(target, 2, "the fixture's l2 adapter");
    // Top three (1, 3, 4) plus the l2 target (2), by layer; the best adapter's target is also listed.
    let first_cells: Vec<&str> = lines[2..]
        .iter()
        .map(|l| l.split(" | ").next().unwrap().trim_start_matches("| "))
        .collect();
    assert!(
        first_cells.contains(&"1 (high CKA)")
            && first_cells.contains(&"2 (`koen-tli-train-l2` target)"),
        "{t}"
    );
    assert!(lines.iter().any(|l| l.starts_with("| 3 (high CKA; `koen-tli-train-best` target) | 0.660 | 0.760 | 0.710 | 0.300 → 0.325 (+0.025) |")), "{t}");
    assert!(
        !t.contains("0.990") && !t.contains("0.900"),
        "only mean-content and held-out numbers: {t}"
    );
    let claims = load_claims(&repo().join("paper/claims.toml")).unwrap();
    let f = evaluate(&claims.finding, &s.values()).unwrap();
    let md = render::sections_md(&s, &f);
    assert!(md.contains(&t), "the section carries the table");
    assert!(md.contains("TLI at hidden state 2 (`koen-tli-train-l2`) moved the held-out words' geometry there toward LASER-2's: CKA 0.200 → 0.225 (+0.025)."), "{md}");
    // Without the files (the committed fixture): no CKA table anywhere.
    let plain = render::sections_md(&Study::load(&fixture()).unwrap(), &f);
    assert!(!plain.contains("Linear CKA") && plain.contains("needs Meta's LASER-2 weights"));
    // A malformed cka.csv is an error naming it.
    std::fs::write(
        scan.join("cka.csv"),
        "pooling,layer,side,n,cka\nmean,x,both,3,0.1\n",
    )
    .unwrap();
    let e = format!("{:#}", Study::load(dir.path()).unwrap_err());
    assert!(e.contains("cka.csv"), "{e}");
}

#[test]
fn e5_files_add_the_reference_encoder_rows_with_their_numbers_only() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture(), dir.path());
    let scan = dir.path().join("koen-scan");
    std::fs::create_dir_all(scan.join("e5")).unwrap();
    std::fs::write(
        scan.join("e5/xsim.csv"),
        "corpus,src,tgt,n,xsim_error,xsim_errors,p1_nn,p1_csls\nkolibri,ko,en,300,0.1,30,0.8,0.9\nkolibri,en,ko,300,0.1133,34,0.79,0.88\nudhr,ko,en,92,0.0435,4,0.94,0.97\nudhr,en,ko,92,0.0435,4,0.91,0.94\n",
    )
    .unwrap();
    // One LayerMetrics row, written by serde from lexalign-metrics' type.
    let mut w = csv::Writer::from_writer(Vec::new());
    w.serialize(lexalign_metrics::LayerMetrics {
        p1_nn: 0.411,
        p1_csls: 0.422,
        centered_p1_csls: 0.464,
        pairs_mean: 0.85,
        shuffled_mean: 0.75,
        ..Default::default()
    })
    .unwrap();
    std::fs::write(scan.join("e5/words.csv"), w.into_inner().unwrap()).unwrap();
    // Hidden state 3 has the lowest mean xSIM; 2 is the l2 adapter's target.
    let mut csv = String::from("layer,corpus,src,tgt,n,xsim_error,p1_nn,p1_csls\n");
    for l in 0..5usize {
        let x = [0.98, 0.9, 0.8, 0.55, 0.7][l];
        csv.push_str(&format!(
            "{l},kolibri,ko,en,300,{x},0.1,0.2\n{l},kolibri,en,ko,300,{x},0.1,0.2\n"
        ));
    }
    std::fs::write(scan.join("sentence_xsim.csv"), csv).unwrap();
    std::fs::write(
        scan.join("cka_e5.csv"),
        "pooling,layer,side,n,cka\nmean-content,2,both,1200,0.31\nmean-content,3,both,1200,0.52\n",
    )
    .unwrap();
    let eval = dir.path().join("koen-eval/koen-tli-train-l2");
    std::fs::write(
        eval.join("sentence_xsim.csv"),
        "layer,corpus,src,tgt,n,xsim_before,xsim_after,delta,p1_csls_before,p1_csls_after\n2,kolibri,ko,en,300,0.8,0.75,-0.05,0.2,0.25\n",
    )
    .unwrap();
    std::fs::write(
        eval.join("cka_e5.csv"),
        "set,layer,side,cka_before,cka_after,delta\nheld-out,2,both,0.31,0.36,0.05\n",
    )
    .unwrap();
    let s = Study::load(dir.path()).unwrap();
    let claims = load_claims(&repo().join("paper/claims.toml")).unwrap();
    let f = evaluate(&claims.finding, &s.values()).unwrap();
    let md = render::sections_md(&s, &f);
    assert!(
        md.contains("**multilingual-e5-small**")
            && md.contains("whose weights are on no package registry"),
        "{md}"
    );
    assert!(
        md.contains("the first 300 Kolibri messages of at least five words and 92 UDHR segments"),
        "{md}"
    );
    assert!(
        md.contains("| multilingual-e5-small | kolibri | en→ko | 300 | 0.113 | 0.790 | 0.880 |"),
        "{md}"
    );
    assert!(
        md.contains("P@1 NN 0.411, P@1 CSLS 0.422, centred CSLS P@1 0.464"),
        "{md}"
    );
    assert!(md.contains("| 3 (lowest mean xSIM; `koen-tli-train-best` target) | kolibri | ko→en | 0.550 | 0.200 | — |"), "{md}");
    assert!(md.contains("| 2 (`koen-tli-train-l2` target) | kolibri | ko→en | 0.800 | 0.200 | 0.800 → 0.750 (-0.050) |"), "{md}");
    assert!(
        md.contains("| 2 | 0.310 | 0.310 → 0.360 (+0.050) |"),
        "{md}"
    );
    // Without the files (the committed fixture): no e5 rows.
    let plain = render::sections_md(&Study::load(&fixture()).unwrap(), &f);
    assert!(!plain.contains("multilingual-e5-small"));
}

/// Issue 31: comparative words come from the comparison they state. With the English-only
/// control above the model (as Swahili-English measured: 0.038 vs 0.033), the control's sentence
/// says "higher than", never "below".
#[test]
fn control_above_the_model_is_worded_as_above() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&fixture(), tmp.path());
    let path = tmp.path().join("swen-scan/negative-control/layers.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    let head = lines.next().unwrap();
    let col = head
        .split(',')
        .position(|c| c == "centered_p1_csls")
        .unwrap();
    let mut out = vec![head.to_string()];
    for l in lines {
        let mut cells: Vec<String> = l.split(',').map(str::to_string).collect();
        if cells.last().map(String::as_str) == Some("mean-content") {
            cells[col] = "0.99".into();
        }
        out.push(cells.join(","));
    }
    std::fs::write(&path, out.join("\n") + "\n").unwrap();
    let s = Study::load(tmp.path()).unwrap();
    let claims = load_claims(&repo().join("paper/claims.toml")).unwrap();
    let f = evaluate(&claims.finding, &s.values()).unwrap();
    let md = render::sections_md(&s, &f);
    let swen = &md[md.find("## Swahili-English").unwrap()..];
    let para = swen
        .lines()
        .find(|l| l.starts_with("The English-only negative control"))
        .unwrap();
    assert!(
        para.contains("Its best P@1, 0.990, is ") && para.contains("times higher than"),
        "{para}"
    );
    assert!(
        !para.contains("below") && !para.contains("lower than"),
        "{para}"
    );
    assert!(para.contains("[finding 78: not supported]"), "{para}");
    // The answer paragraph says the arm cannot speak to alignment instead of reporting changes.
    let md = render::sections_with_answers_md(&s, &f, &claims.answer);
    let swen = &md[md.find("## Swahili-English").unwrap()..];
    let answer = swen
        .lines()
        .find(|l| l.starts_with("**The answer, from this run.**"))
        .unwrap();
    assert!(
        answer.contains("This arm cannot speak to Swahili-English alignment"),
        "{answer}"
    );
    assert!(
        !answer.contains("raised held-out") && !answer.contains("finding 28"),
        "{answer}"
    );
}

/// Both answer paragraphs render on a full run, every value of their sentences known, with the
/// cost slot saying "not measured" when no behaviour finding is registered.
#[test]
fn answer_paragraphs_render_from_the_verdicts() {
    let s = Study::load(&fixture()).unwrap();
    let claims = load_claims(&repo().join("paper/claims.toml")).unwrap();
    let f = evaluate(&claims.finding, &s.values()).unwrap();
    let md = render::sections_with_answers_md(&s, &f, &claims.answer);
    let answers: Vec<&str> = md
        .lines()
        .filter(|l| l.starts_with("**The answer, from this run.**"))
        .collect();
    assert_eq!(answers.len(), 2, "{md}");
    for a in &answers {
        assert!(
            !a.contains("not measured in this run:"),
            "a sentence has an unknown key: {a}"
        );
        assert!(a.contains("one seed") && a.contains("Limits:"), "{a}");
        let behaviour = claims.finding.iter().any(|x| (50..60).contains(&x.id));
        assert_eq!(a.contains("What it cost the model (its language-model loss and generated translations) is not measured in this run."), !behaviour, "{a}");
    }
    assert!(
        answers[0].contains("already aligns Korean and English words beyond an English-only model"),
        "{}",
        answers[0]
    );
}
