//! Report tests on the authors' released data (read in place from ../shared/paper-data). When it
//! is absent they fail under `cargo xtask test` and CI, and skip with a message otherwise
//! (`lexalign_run::require_fixtures`).

use std::path::{Path, PathBuf};

use lexalign_published::{analyse_paper_data, stage_files, DEFAULT_SUMS};
use lexalign_report::claims::{evaluate, load_claims, ModelStatus, Verdict};
use lexalign_report::render::{claims_table_md, generate};
use lexalign_report::{check_tree, RunFolder};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn paper_data() -> Option<PathBuf> {
    let p = std::env::var_os("LEXALIGN_PAPER_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/paper-data/tli_project"));
    if p.join("results/evaluation/quantitative_results.csv")
        .is_file()
    {
        Some(p)
    } else {
        // Fails under `cargo xtask test` / CI, else skips with the reason.
        lexalign_run::missing_fixture(format!(
            "paper data not found at {} (set LEXALIGN_PAPER_DATA)",
            p.display()
        ));
        None
    }
}

/// A run folder with only the published-data stage.
fn published_run(dir: &Path) -> Option<PathBuf> {
    let data = analyse_paper_data(&paper_data()?, DEFAULT_SUMS).expect("analyse paper data");
    let run = dir.join("run");
    // As the published-data experiment writes the stage.
    let stage = run.join("published-data");
    std::fs::create_dir_all(&stage).unwrap();
    for (name, bytes) in stage_files(&data).unwrap() {
        std::fs::write(stage.join(name), bytes).unwrap();
    }
    Some(run)
}

fn claims_file() -> lexalign_report::ClaimsFile {
    load_claims(&repo().join("paper/claims.toml")).unwrap()
}

#[test]
fn claims_table_and_numbers_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(run) = published_run(tmp.path()) else {
        return;
    };
    let rf = RunFolder::load(&run).unwrap();
    let results = evaluate(&claims_file(), &rf).unwrap();
    let e = &rf.published.eval;
    let mut s = claims_table_md(&results);
    for (name, g) in [("trained", &e.trained), ("control", &e.control)] {
        s.push_str(&format!(
            "\n{name}: n={} pre={:.4} ({:.4}) post={:.4} ({:.4}) change={:+.2}% t={:.3} df={} p={:.3e} \
             wilcoxon W={} p={:.3e} dz={:.3} ci=[{:.4}, {:.4}] improved={}",
            g.n,
            g.mean_pre,
            g.sd_pre,
            g.mean_post,
            g.sd_post,
            g.percent_change,
            g.ttest.t,
            g.ttest.df,
            g.ttest.p,
            g.wilcoxon.statistic,
            g.wilcoxon.p,
            g.cohens_dz,
            g.ci95_low,
            g.ci95_high,
            g.n_improved
        ));
    }
    s.push_str(&format!(
        "\ngain welch: t={:.3} df={:.2} p={:.3}\nall pre={:.4}\npilot peak: layer {} {:.6}\nshared: swahili {:?} english {:?} pairs {:?}\n",
        e.gain_welch.t,
        e.gain_welch.df,
        e.gain_welch.p,
        e.all_pre_mean,
        rf.published.pilot.peak_layer,
        rf.published.pilot.peak,
        rf.published.pairs.shared_swahili,
        rf.published.pairs.shared_english,
        rf.published.pairs.shared_pairs
    ));
    insta::assert_snapshot!("claims_table", s);
}

#[test]
fn published_numbers_match_scipy() {
    let Some(dir) = paper_data() else { return };
    let s = analyse_paper_data(&dir, DEFAULT_SUMS).unwrap().summary;
    // scipy.stats.ttest_rel(post, pre) on the released columns (crates/lexalign-stats fixture)
    assert_eq!(format!("{:.3}", s.eval.trained.ttest.t), "54.884");
    assert_eq!(format!("{:.3e}", s.eval.trained.ttest.p), "1.332e-240");
    assert_eq!(format!("{:.3}", s.eval.control.ttest.t), "18.453");
    assert_eq!(format!("{:.3e}", s.eval.control.ttest.p), "7.172e-27");
    assert_eq!(s.eval.trained.n, 623);
    assert_eq!(s.eval.control.n, 63);
    assert!(s.pairs.csv_matches_json);
    assert_eq!(s.eval.improvement_column_max_dev, 0.0);
}

#[test]
fn every_published_check_is_within_tolerance() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(run) = published_run(tmp.path()) else {
        return;
    };
    let rf = RunFolder::load(&run).unwrap();
    let out = tmp.path().join("out");
    let g = generate(&claims_file(), &rf, &out).unwrap();
    assert!(g.failures.is_empty(), "{:?}", g.failures);
    let v: Vec<(u32, Verdict)> = g.results.iter().map(|r| (r.id, r.verdict)).collect();
    assert!(v.contains(&(11, Verdict::Contradicted)) && v.contains(&(13, Verdict::Contradicted)));
    assert!(matches!(
        g.results[0].model,
        ModelStatus::NeedsRealModel { demo: false }
    ));
}

#[test]
fn output_is_deterministic_and_check_catches_edits() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(run) = published_run(tmp.path()) else {
        return;
    };
    let rf = RunFolder::load(&run).unwrap();
    let claims = claims_file();
    let root = tmp.path().join("root");
    let g = generate(&claims, &rf, &root).unwrap();
    assert!(g.files.iter().any(|f| f == "paper/reproduction.md"));
    assert!(g
        .files
        .iter()
        .any(|f| f.starts_with("figures/") && f.ends_with(".svg")));
    // a second build gives the same bytes
    let r = check_tree(&claims, &rf, &root).unwrap();
    assert!(r.ok(), "{}", r.describe());
    let report = std::fs::read_to_string(root.join("paper/reproduction.md")).unwrap();
    assert!(!report.contains("git_commit") && !report.contains("timestamp"));

    // edit a figure: check fails and names it
    let fig = root.join("figures/fig1_layer_cosine.svg");
    let svg = std::fs::read_to_string(&fig).unwrap();
    std::fs::write(&fig, svg.replacen("average cosine", "average cosinE", 1)).unwrap();
    // edit a number
    let tex = root.join("paper/generated/numbers.tex");
    let t = std::fs::read_to_string(&tex).unwrap();
    std::fs::write(&tex, t.replacen("54.8842", "54.8843", 1)).unwrap();
    // remove a table
    std::fs::remove_file(root.join("paper/generated/stats_table.tex")).unwrap();
    let r = check_tree(&claims, &rf, &root).unwrap();
    assert!(!r.ok());
    assert_eq!(
        r.differing,
        vec![
            "figures/fig1_layer_cosine.svg".to_string(),
            "paper/generated/numbers.tex".to_string()
        ]
    );
    assert_eq!(
        r.missing,
        vec!["paper/generated/stats_table.tex".to_string()]
    );
}

#[test]
fn a_claim_outside_tolerance_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(run) = published_run(tmp.path()) else {
        return;
    };
    let rf = RunFolder::load(&run).unwrap();
    let text = std::fs::read_to_string(repo().join("paper/claims.toml")).unwrap();
    let edited = text.replacen("paper = 0.9808\n", "paper = 0.9809\n", 1);
    assert_ne!(text, edited);
    let p = tmp.path().join("claims.toml");
    std::fs::write(&p, edited).unwrap();
    let results = evaluate(&load_claims(&p).unwrap(), &rf).unwrap();
    assert_eq!(results[1].verdict, Verdict::Contradicted);
    assert_eq!(lexalign_report::claims::failures(&results).len(), 1);
}

#[test]
fn bad_hash_and_missing_file_are_clear_errors() {
    let Some(dir) = paper_data() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("tli_project");
    for rel in lexalign_data::RELEASED_FILES {
        std::fs::create_dir_all(copy.join(rel).parent().unwrap()).unwrap();
        std::fs::copy(dir.join(rel), copy.join(rel)).unwrap();
    }
    assert!(analyse_paper_data(&copy, DEFAULT_SUMS).is_ok());
    let pilot = copy.join("results/pilot_study/layer_alignment_results.csv");
    let t = std::fs::read_to_string(&pilot).unwrap();
    std::fs::write(&pilot, t.replacen("0.3153", "0.3154", 1)).unwrap();
    let err = format!(
        "{:#}",
        analyse_paper_data(&copy, DEFAULT_SUMS).err().unwrap()
    );
    assert!(
        err.contains("SHA-256 mismatch") && err.contains("layer_alignment_results.csv"),
        "{err}"
    );
    std::fs::remove_file(&pilot).unwrap();
    let err = format!(
        "{:#}",
        analyse_paper_data(&copy, DEFAULT_SUMS).err().unwrap()
    );
    assert!(
        err.contains("missing") && err.contains("layer_alignment_results.csv"),
        "{err}"
    );
}

/// Each model stage's `provenance.json` with the identity `LoadedRun::provenance` records.
fn add_identity(run: &Path, id: &str, method: &str, paper_model: bool) {
    let identity = serde_json::json!({"id": id, "method": method, "detail": "test", "paper_model": paper_model});
    for stage in ["pilot-scan", "tli-eval"] {
        lexalign_run::Provenance::collect()
            .stage(stage)
            .setting("model_identity", &identity)
            .unwrap()
            .write(run.join(stage))
            .unwrap();
    }
}

/// Fake model stages: the published pilot as a scan and the published pairs as an evaluation.
fn add_model_stages(run: &Path, model: &str) {
    let rf = RunFolder::load(run).unwrap();
    let scan = run.join("pilot-scan");
    std::fs::create_dir_all(&scan).unwrap();
    let mut csv = String::from("layer,n,pairs_mean,pairs_sd,shuffled_mean,shuffled_sd\n");
    for l in &rf.published.pilot.layers {
        csv.push_str(&format!(
            "{},623,{},0.05,{},0.05\n",
            l.layer,
            l.avg_cosine,
            l.avg_cosine - 0.01
        ));
    }
    std::fs::write(scan.join("layers.csv"), csv).unwrap();
    let summary = format!(
        r#"{{"model": "{model}", "model_sha256": "00", "quant": "nf4", "dtype": "bf16", "device": "cpu", "pooling": "mean-bos", "n_pairs": 623, "n_layers": 32}}"#
    );
    std::fs::write(scan.join("summary.json"), &summary).unwrap();
    let ev = run.join("tli-eval");
    std::fs::create_dir_all(&ev).unwrap();
    std::fs::copy(
        run.join("published-data/pairs.csv"),
        ev.join("quantitative_results.csv"),
    )
    .unwrap();
    std::fs::write(ev.join("summary.json"), &summary).unwrap();
}

#[test]
fn demo_model_runs_are_labelled_and_do_not_give_verdicts() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(run) = published_run(tmp.path()) else {
        return;
    };
    add_model_stages(&run, "SmolLM2-135M");
    let rf = RunFolder::load(&run).unwrap();
    assert!(!rf.is_real_model());
    let g = generate(&claims_file(), &rf, &tmp.path().join("out")).unwrap();
    assert!(matches!(
        g.results[0].model,
        ModelStatus::NeedsRealModel { demo: true }
    ));
    let report = std::fs::read_to_string(tmp.path().join("out/paper/reproduction.md")).unwrap();
    assert!(report.contains("## Pipeline demonstration (not a verdict)"));
    assert!(g.files.iter().any(|f| f == "figures/demo_pilot_scan.svg"));
}

#[test]
fn lugha_llama_runs_fill_the_model_column() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(run) = published_run(tmp.path()) else {
        return;
    };
    add_model_stages(&run, "Lugha-Llama/Lugha-Llama-8B-wura");
    // The name alone does not make it the paper's model: the provenance identity does.
    assert!(!RunFolder::load(&run).unwrap().is_real_model());
    add_identity(&run, "lugha-llama-8b-wura", "config", true);
    let rf = RunFolder::load(&run).unwrap();
    assert!(rf.is_real_model());
    let g = generate(&claims_file(), &rf, &tmp.path().join("out")).unwrap();
    for r in &g.results {
        match (&r.model, r.id) {
            (ModelStatus::Checked { verdict, .. }, 1..=7 | 15) => {
                assert_eq!(*verdict, Verdict::Reproduced, "claim {}", r.id)
            }
            (ModelStatus::NotApplicable, 8..=14 | 31) => {}
            (m, id) => panic!("claim {id}: unexpected model status {m:?}"),
        }
    }
}

/// Identity, not name or folder: a copy under any name, in a folder anywhere, whose provenance
/// says lugha-llama-8b-wura (config match) fills the column; a renamed SmolLM2 (identified by
/// its SHA-256) does not, whatever its name says.
#[test]
fn model_column_follows_the_provenance_identity() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(run) = published_run(&tmp.path().join("some/where/else")) else {
        return;
    };
    add_model_stages(&run, "my-8b-copy");
    add_identity(&run, "lugha-llama-8b-wura", "config", true);
    let rf = RunFolder::load(&run).unwrap();
    assert!(rf.is_real_model());
    let g = generate(&claims_file(), &rf, &tmp.path().join("out")).unwrap();
    assert!(g
        .results
        .iter()
        .any(|r| matches!(r.model, ModelStatus::Checked { .. })));

    let tmp2 = tempfile::tempdir().unwrap();
    let run2 = published_run(tmp2.path()).unwrap();
    add_model_stages(&run2, "Lugha-Llama-8B-wura");
    add_identity(&run2, "smollm2-135m", "sha256", false);
    let rf2 = RunFolder::load(&run2).unwrap();
    assert!(!rf2.is_real_model());
    let g2 = generate(&claims_file(), &rf2, &tmp2.path().join("out")).unwrap();
    assert!(g2
        .results
        .iter()
        .all(|r| !matches!(r.model, ModelStatus::Checked { .. })));
}

#[test]
fn claims_registry_is_complete() {
    let c = claims_file();
    let ids: Vec<u32> = c.claim.iter().map(|c| c.id).collect();
    // The paper's 15 claims, then the implicit one about RoPE (31, after the study's findings).
    assert_eq!(ids, (1..=15).chain([31]).collect::<Vec<_>>());
}

#[test]
fn demo_flag_wins_over_the_name() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(run) = published_run(tmp.path()) else {
        return;
    };
    add_model_stages(&run, "Lugha-Llama-8B-wura");
    add_identity(&run, "lugha-llama-8b-wura", "config", true);
    let s = std::fs::read_to_string(run.join("pilot-scan/summary.json")).unwrap();
    std::fs::write(
        run.join("pilot-scan/summary.json"),
        s.replacen('{', "{\"demo_model\": true, ", 1),
    )
    .unwrap();
    assert!(!RunFolder::load(&run).unwrap().is_real_model());
}

/// The committed outputs that depend on the authors' data alone (figures 1-3, the LaTeX tables
/// and numbers) match a build from the published data. The report itself also holds the
/// model-based stages' demonstration, so it is left to `cargo xtask reproduce --check` (which
/// `cargo xtask test` runs after the tests) to compare with the full pipeline.
#[test]
fn committed_published_data_outputs_are_current() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(run) = published_run(tmp.path()) else {
        return;
    };
    let rf = RunFolder::load(&run).unwrap();
    let mut r = check_tree(&claims_file(), &rf, &repo()).unwrap();
    // Model-based outputs (the report, numbers of the study) are left to `reproduce --check`.
    let published = |f: &String| {
        lexalign_report::tolerance::mode_of(f) == lexalign_report::tolerance::Mode::Exact
    };
    r.differing.retain(published);
    r.missing.retain(published);
    assert!(
        r.ok(),
        "{}\nregenerate with `cargo xtask reproduce`",
        r.describe()
    );
}

/// Runs the test `name` of this binary again in a child process with `env` (fixture variables
/// cleared first) and returns (success, output).
fn rerun_test(name: &str, env: &[(&str, &str)]) -> (bool, String) {
    let mut c = std::process::Command::new(std::env::current_exe().unwrap());
    c.args(["--exact", name, "--nocapture", "--test-threads", "1"]);
    for k in [
        lexalign_run::ENV_REQUIRE_FIXTURES,
        "LEXALIGN_REQUIRE_PAPER_DATA",
        "CI",
    ] {
        c.env_remove(k);
    }
    c.envs(env.iter().copied());
    let o = c.output().unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
    )
}

#[test]
fn missing_paper_data_fails_when_fixtures_are_required_and_skips_otherwise() {
    let gone = ("LEXALIGN_PAPER_DATA", "/nonexistent/tli_project");
    for req in [
        (lexalign_run::ENV_REQUIRE_FIXTURES, "1"),
        ("CI", "true"),
        ("LEXALIGN_REQUIRE_PAPER_DATA", "1"),
    ] {
        let (ok, text) = rerun_test("published_numbers_match_scipy", &[gone, req]);
        assert!(
            !ok && text.contains("paper data not found at /nonexistent/tli_project"),
            "{req:?}: {text}"
        );
    }
    let (ok, text) = rerun_test("published_numbers_match_scipy", &[gone]);
    assert!(
        ok && text.contains("skipped: paper data not found"),
        "{text}"
    );
}

/// The study's numbers are compared within tolerances: a change in the last digits passes, a
/// real change fails naming the report, and a run on another study model checks only the
/// published-data outputs (and says so).
#[test]
fn check_compares_study_numbers_within_tolerances() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(run) = published_run(tmp.path()) else {
        return;
    };
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/study-run");
    copy_tree(&fixture, &run);
    let claims = claims_file();
    let root = tmp.path().join("root");
    let g = generate(&claims, &RunFolder::load(&run).unwrap(), &root).unwrap();
    assert!(g
        .files
        .iter()
        .any(|f| f == "figures/study_koen_p1_layers.svg"));
    let report = std::fs::read_to_string(root.join("paper/reproduction.md")).unwrap();
    assert!(report.contains("## Korean-English: what fine-tuning does to alignment"));
    assert!(report.contains("## Swahili-English: what fine-tuning does to alignment"));

    let changes = run.join("koen-eval/koen-tli-train-l2/changes.csv");
    let orig = std::fs::read_to_string(&changes).unwrap();
    // last-digit noise: held-out P@1 after 0.1400 -> 0.1412
    let noisy = orig.replacen("0.0600,0.1400,0.0800", "0.0600,0.1412,0.0812", 1);
    assert_ne!(noisy, orig);
    std::fs::write(&changes, &noisy).unwrap();
    let r = check_tree(&claims, &RunFolder::load(&run).unwrap(), &root).unwrap();
    assert!(r.ok(), "{}", r.describe());
    // a real change: 0.1400 -> 0.2400
    std::fs::write(
        &changes,
        orig.replacen("0.0600,0.1400,0.0800", "0.0600,0.2400,0.1800", 1),
    )
    .unwrap();
    let r = check_tree(&claims, &RunFolder::load(&run).unwrap(), &root).unwrap();
    assert!(
        !r.ok() && r.differing.contains(&"paper/reproduction.md".to_string()),
        "{}",
        r.describe()
    );
    std::fs::write(&changes, &orig).unwrap();

    // another study model: only the published-data outputs are compared
    let summary = run.join("koen-scan/summary.json");
    let s = std::fs::read_to_string(&summary).unwrap();
    std::fs::write(
        &summary,
        s.replace("a5fd3b62230aa5ec", "0000000000000000")
            .replace("0.998", "0.5"),
    )
    .unwrap();
    std::fs::write(
        &changes,
        orig.replacen("0.0600,0.1400,0.0800", "0.0600,0.2400,0.1800", 1),
    )
    .unwrap();
    let r = check_tree(&claims, &RunFolder::load(&run).unwrap(), &root).unwrap();
    let text = r.describe();
    assert!(
        r.ok()
            && text.contains("only checks the default configuration")
            && text.contains("koen-scan"),
        "{text}"
    );
    assert!(r.skipped.contains(&"paper/reproduction.md".to_string()));
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.path().is_dir() {
            copy_tree(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}
