//! `lang-study scan --laser` end to end on a handful of Korean-English pairs: the embedded SmolLM2
//! (small, every hidden state) and the random-weight LASER-2 fixture of lexalign-laser (so the
//! numbers only check the pipeline). Checks the `cka.csv` and `laser/laser_scan.json` formats and
//! ranges, one CKA cell recomputed independently from the two encoders' vectors, and that
//! without LASER-2 neither file is written.

use clap::Parser;
use lang_study::data::{LangPair, StudyPairs};
use lang_study::scan::{scan_pairs, Args};
use lexalign_data::Pair;
use lexalign_metrics::{cka::stack, linear_cka, Lexicon, Matrix};
use std::path::{Path, PathBuf};

const PAIRS: &[(&str, &str)] = &[
    ("개", "dog"),
    ("고양이", "cat"),
    ("물", "water"),
    ("책", "book"),
    ("집", "house"),
    ("개", "hound"),
];

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: Args,
}

fn tiny_laser() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../crates/lexalign-laser/tests/fixtures/laser2-tiny")
}

fn study(pairs_file: &Path) -> StudyPairs {
    StudyPairs {
        pair: LangPair::KoEn,
        train: Vec::new(),
        test: PAIRS.iter().map(|(s, t)| Pair::new(*s, *t)).collect(),
        independent: Vec::new(),
        control: Vec::new(),
        dev: Vec::new(),
        fit: Vec::new(),
        seed: 12,
        split: "test fixture".into(),
        independent_dropped: 0,
        lexicons: Vec::new(),
        files: vec![pairs_file.to_path_buf()],
    }
}

fn args(model: &Path, out: &Path) -> Args {
    let m = model.to_str().unwrap();
    let o = out.to_str().unwrap();
    Cli::parse_from([
        "t",
        "--pair",
        "ko-en",
        "--model",
        m,
        "--device",
        "cpu",
        "--threads",
        "1",
        "--bootstrap",
        "20",
        "--out",
        o,
    ])
    .args
}

fn matrix(t: &lexalign_model::tch::Tensor) -> Matrix {
    let s = t.size();
    Matrix::from_f32(
        s[0] as usize,
        s[1] as usize,
        &Vec::<f32>::try_from(t.flatten(0, -1)).unwrap(),
    )
    .unwrap()
}

#[test]
fn scan_with_laser_writes_cka_and_laser_rows() {
    let model = match lexalign_gguf::resolve_model(Some(Path::new("smollm2-135m"))).and_then(|p| {
        p.is_file()
            .then_some(p)
            .ok_or_else(|| anyhow::anyhow!("smollm2-135m is not set up"))
    }) {
        Ok(p) => p,
        Err(e) => return lexalign_run::missing_fixture(format!("{e:#}")),
    };
    let dir = tempfile::tempdir().unwrap();
    let pairs_file = dir.path().join("pairs.tsv");
    let tsv: String = std::iter::once("source\ttarget".to_string())
        .chain(PAIRS.iter().map(|(s, t)| format!("{s}\t{t}")))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&pairs_file, tsv + "\n").unwrap();
    let s = study(&pairs_file);
    let laser = lang_study::laser::load(Some(&tiny_laser()), "cpu")
        .unwrap()
        .expect("the folder was given");

    let out = dir.path().join("with");
    let started = std::time::Instant::now();
    scan_pairs(&args(&model, &out), &s, Some(&laser), None).unwrap();
    eprintln!(
        "scan with LASER-2: {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // cka.csv: one row per (pooling, hidden state, side), values in [0, 1].
    let text = std::fs::read_to_string(out.join("cka.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("pooling,layer,side,n,cka"));
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    let n_states = 31; // SmolLM2-135M: embeddings + 30 blocks
    assert_eq!(rows.len(), 2 * n_states * 3, "{text}");
    let (n_src, n_tgt) = (5, 6);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(
            r[0],
            if i < n_states * 3 {
                "mean"
            } else {
                "mean-content"
            },
            "row {i}"
        );
        assert_eq!(
            r[1].parse::<usize>().unwrap(),
            (i / 3) % n_states,
            "row {i}"
        );
        let (side, n) = [
            ("source", n_src),
            ("target", n_tgt),
            ("both", n_src + n_tgt),
        ][i % 3];
        assert_eq!(
            (r[2].as_str(), r[3].parse::<usize>().unwrap()),
            (side, n),
            "row {i}"
        );
        let c: f64 = r[4].parse().unwrap();
        assert!(
            c.is_finite() && (0.0..=1.0 + 1e-9).contains(&c),
            "row {i}: {c}"
        );
    }
    let both: std::collections::BTreeSet<&str> = rows
        .iter()
        .filter(|r| r[0] == "mean-content" && r[2] == "both")
        .map(|r| r[4].as_str())
        .collect();
    assert!(
        both.len() > n_states / 2,
        "CKA varies with the hidden state: {both:?}"
    );

    // One cell recomputed from the two encoders directly: mean-content, hidden state 3, both sides.
    let lm = lexalign_model::load(&model, &Default::default()).unwrap();
    let lex = Lexicon::from_pairs(PAIRS, &[] as &[&str]).unwrap();
    let words: Vec<&str> = lex
        .sources
        .iter()
        .chain(&lex.candidates)
        .map(String::as_str)
        .collect();
    let e = lm
        .embed_multi(
            &words,
            &[3],
            &[lexalign_model::Pooling::MeanContent],
            64,
            |_| {},
        )
        .unwrap();
    let llm = matrix(&e[0].vectors(0).unwrap());
    let (ls, lc) = lexalign_stages::laser_cmd::lexicon_vectors(&laser, &lex, 64).unwrap();
    let want = linear_cka(&llm, &stack(&ls, &lc).unwrap()).unwrap();
    let row = rows
        .iter()
        .find(|r| r[0] == "mean-content" && r[1] == "3" && r[2] == "both")
        .unwrap();
    let got: f64 = row[4].parse().unwrap();
    assert!(
        (got - want).abs() < 1e-7,
        "cka.csv {got}, recomputed {want}"
    );

    // laser/laser_scan.json is what `lexalign laser scan` writes for the same pairs and settings.
    let j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("laser/laser_scan.json")).unwrap()).unwrap();
    assert!(out.join("laser/provenance.json").is_file());
    assert_eq!(
        (
            j["n_pairs"].as_u64(),
            j["dim"].as_u64(),
            j["xsim_k"].as_u64()
        ),
        (Some(6), Some(48), Some(4))
    );
    assert_eq!(j["metrics"]["n_sources"], 5);
    let e = j["xsim_margin_error"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&e) && j["xsim_errors"].as_u64().unwrap() <= 5);
    let via_cli = lexalign_stages::laser_cmd::scan(&lexalign_stages::laser_cmd::LaserScanArgs {
        laser: lexalign_stages::laser_cmd::LaserArgs {
            laser: Some(tiny_laser()),
            device: "cpu".into(),
            batch_size: 64,
        },
        pairs: pairs_file.clone(),
        seed: 0,
        k_csls: 10,
        xsim_k: 4,
        bootstrap: 20,
        out: None,
    })
    .unwrap();
    // The same metrics; float sums may differ in the last bits when libtorch's thread count
    // differs between the two runs (the model load sets it), so compare within 1e-6.
    let (got, want) = (
        j["metrics"].as_object().unwrap(),
        serde_json::to_value(&via_cli.metrics).unwrap(),
    );
    let want = want.as_object().unwrap();
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (k, v) in got {
        let (a, b) = (v.as_f64().unwrap(), want[k].as_f64().unwrap());
        assert!(
            (a - b).abs() <= 1e-6,
            "laser_scan.json {k} = {a}, lexalign laser scan gives {b}"
        );
    }

    // Without LASER-2: the scan's own files only.
    let plain = dir.path().join("without");
    scan_pairs(&args(&model, &plain), &s, None, None).unwrap();
    assert!(plain.join("layers.csv").is_file());
    assert!(!plain.join("cka.csv").exists() && !plain.join("laser").exists());
    assert_eq!(
        std::fs::read(plain.join("layers.csv")).unwrap(),
        std::fs::read(out.join("layers.csv")).unwrap(),
        "LASER-2 changes nothing else"
    );
}
