//! The field's formats end to end through the `lexalign` binary: the same pairs as a MUSE
//! dictionary, a TSV and the authors' JSON give identical results; the exported `.vec` files
//! re-read give exactly the P@1 lexalign reported; `--model ORG/NAME` errors name the HF cache
//! folders; `--version` names the commit. The model runs use the embedded SmolLM2.

use std::path::Path;
use std::process::{Command, Output};

use lexalign_metrics::{layer_metrics, Lexicon, Matrix, MetricsOptions};

const PAIRS: &[(&str, &str)] = &[
    ("mbwa", "dog"),
    ("paka", "cat"),
    ("maji", "water"),
    ("moto", "fire"),
    ("nyumba", "house"),
    ("nyumba", "home"),
    ("kitabu", "book"),
    ("mti", "tree"),
    ("samaki", "fish"),
    ("ndege", "bird"),
    ("mkate", "bread"),
    ("maziwa", "milk"),
    ("gari", "car"),
    ("pesa", "money"),
];

fn lexalign(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lexalign"))
        .args(args)
        .output()
        .unwrap()
}

fn model_present() -> bool {
    match lexalign_gguf::default_model_path() {
        Ok(_) => true,
        Err(e) => {
            lexalign_run::missing_fixture(format!("the embedded SmolLM2 model: {e:#}"));
            false
        }
    }
}

fn write_formats(dir: &Path) -> [std::path::PathBuf; 3] {
    let muse = dir.join("sw-en.txt");
    std::fs::write(
        &muse,
        PAIRS
            .iter()
            .map(|(s, t)| format!("{s} {t}\n"))
            .collect::<String>(),
    )
    .unwrap();
    let tsv = dir.join("sw-en.tsv");
    let body: String = PAIRS.iter().map(|(s, t)| format!("{s}\t{t}\n")).collect();
    std::fs::write(&tsv, format!("source\ttarget\n{body}")).unwrap();
    let json = dir.join("sw-en.json");
    let items: Vec<_> = PAIRS
        .iter()
        .map(|(s, t)| serde_json::json!({"swahili": s, "english": t}))
        .collect();
    std::fs::write(&json, serde_json::to_string(&items).unwrap()).unwrap();
    [muse, tsv, json]
}

/// `lexalign bli --json` on one pair file; returns (the JSON rows, layers.csv).
fn bli(pairs: &Path, out: &Path, extra: &[&str]) -> (serde_json::Value, String) {
    let mut args = vec![
        "bli",
        "--json",
        "--model",
        "smollm2-135m",
        "--device",
        "cpu",
        "--layers",
        "3,5",
    ];
    args.extend(["--pooling", "mean,mean-content", "--bootstrap", "20"]);
    args.extend([
        "--pairs",
        pairs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    args.extend(extra);
    let o = lexalign(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json =
        serde_json::from_slice(&o.stdout).expect("--json prints one JSON document on stdout");
    (
        json,
        std::fs::read_to_string(out.join("layers.csv")).unwrap(),
    )
}

fn read_vec(path: &Path) -> lexalign_data::VecFile {
    lexalign_data::parse_vec(
        &std::fs::read_to_string(path).unwrap(),
        &path.display().to_string(),
    )
    .unwrap()
}

#[test]
fn muse_tsv_and_json_pairs_give_identical_results_and_vec_exports_recompute_p1() {
    if !model_present() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let [muse, tsv, json] = write_formats(t.path());
    let vectors = t.path().join("vectors");
    let (j_muse, csv_muse) = bli(
        &muse,
        &t.path().join("o-muse"),
        &["--save-vectors", vectors.to_str().unwrap(), "--vec"],
    );
    let (j_tsv, csv_tsv) = bli(&tsv, &t.path().join("o-tsv"), &[]);
    let (j_json, csv_json) = bli(&json, &t.path().join("o-json"), &[]);
    assert_eq!(j_muse, j_tsv);
    assert_eq!(j_muse, j_json);
    assert_eq!(csv_muse, csv_tsv);
    assert_eq!(csv_muse, csv_json);
    let rows = j_muse.as_array().unwrap();
    assert_eq!(rows.len(), 4, "2 poolings x 2 hidden states");

    // Every exported (pooling, hidden state) re-read from its .vec files gives the reported P@k.
    let dico = lexalign_data::read_pairs(vectors.join("pairs.muse.txt")).unwrap();
    let pairs: Vec<(&str, &str)> = dico
        .pairs
        .iter()
        .map(|p| (p.source.as_str(), p.target.as_str()))
        .collect();
    assert_eq!(pairs, PAIRS);
    let lex = Lexicon::from_pairs(&pairs, &[] as &[&str]).unwrap();
    for row in rows {
        let (pooling, layer) = (
            row["pooling"].as_str().unwrap(),
            row["layer"].as_u64().unwrap(),
        );
        let src = read_vec(&vectors.join(format!("{pooling}.layer{layer}.source.vec")));
        let tgt = read_vec(&vectors.join(format!("{pooling}.layer{layer}.target.vec")));
        assert_eq!((&src.words, &tgt.words), (&lex.sources, &lex.candidates));
        let s = Matrix::from_f32(src.words.len(), src.dim, &src.data).unwrap();
        let c = Matrix::from_f32(tgt.words.len(), tgt.dim, &tgt.data).unwrap();
        let m = layer_metrics(
            &s,
            &c,
            &lex.gold,
            &MetricsOptions {
                k_csls: 10,
                seed: 0,
                bootstrap: 20,
            },
        )
        .unwrap();
        for (name, v) in [
            ("p1_nn", m.p1_nn),
            ("p1_csls", m.p1_csls),
            ("centered_p1_csls", m.centered_p1_csls),
            ("pairs_mean", m.pairs_mean),
        ] {
            assert_eq!(
                row[name].as_f64().unwrap(),
                v,
                "{pooling} layer {layer} {name}"
            );
        }
        // The safetensors file holds the same f32 values.
        let bytes = std::fs::read(vectors.join("vectors.safetensors")).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let view = st
            .tensor(&format!("{pooling}.layer{layer}.target"))
            .unwrap();
        let vals: Vec<f32> = view
            .data()
            .chunks(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        assert_eq!(vals, tgt.data);
    }
}

#[test]
fn a_bad_muse_line_stops_before_the_model_loads() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("d.txt");
    std::fs::write(&p, "mbwa dog\npaka cat kitten\n").unwrap();
    let o = lexalign(&[
        "bli",
        "--model",
        "no-such-model",
        "--pairs",
        p.to_str().unwrap(),
        "--out",
        t.path().join("o").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("{}: line 2", p.display())) && err.contains("3 fields"),
        "{err}"
    );
    let o = lexalign(&["bli", "--pairs-format", "xml", "--pairs", "x", "--out", "o"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("json, csv, tsv or muse"));
}

#[test]
fn model_by_repo_id_errors_name_the_cache_folders() {
    let t = tempfile::tempdir().unwrap();
    let hub = t.path().join("hub");
    let snap = hub.join("models--org--cut/snapshots/abc");
    std::fs::create_dir_all(&snap).unwrap();
    std::fs::write(snap.join("config.json"), "{}").unwrap();
    let pairs = t.path().join("p.txt");
    std::fs::write(&pairs, "mbwa dog\npaka cat\n").unwrap();
    let run = |model: &str| {
        let o = Command::new(env!("CARGO_BIN_EXE_lexalign"))
            .args([
                "scan",
                "--model",
                model,
                "--pairs",
                pairs.to_str().unwrap(),
                "--out",
                t.path().join("o").to_str().unwrap(),
            ])
            .env("HF_HUB_CACHE", &hub)
            .env("HF_HOME", t.path().join("hf-home"))
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1));
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let e = run("org/cut");
    assert!(
        e.contains("models--org--cut") && e.contains("no complete snapshot"),
        "{e}"
    );
    let e = run("org/absent");
    assert!(
        e.contains(&hub.join("models--org--absent").display().to_string()),
        "{e}"
    );
    assert!(
        e.contains(
            &t.path()
                .join("hf-home/hub/models--org--absent")
                .display()
                .to_string()
        ),
        "{e}"
    );
}

#[test]
fn version_names_the_commit_and_help_says_what_it_does() {
    let v = String::from_utf8(lexalign(&["--version"]).stdout).unwrap();
    let commit = v
        .trim()
        .strip_prefix(&format!("lexalign {} (git ", env!("CARGO_PKG_VERSION")))
        .and_then(|r| r.strip_suffix(')'));
    let commit = commit.unwrap_or_else(|| panic!("{v}"));
    assert!(
        commit == "unknown" || (commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{v}"
    );
    let h = String::from_utf8(lexalign(&["--help"]).stdout).unwrap();
    for want in [
        "two languages",
        "nearest neighbour",
        "MUSE",
        "--json",
        "lexalign bli",
    ] {
        assert!(h.contains(want), "--help lacks {want:?}:\n{h}");
    }
}

/// `eval --save-vectors`: the exported before/after vectors give back the pair cosines of
/// quantitative_results.csv (the evaluation's vectors are unit rows, so cosine = dot product).
#[test]
fn eval_exports_the_vectors_it_compared() {
    if !model_present() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (tr, ctl) = (t.path().join("tr.txt"), t.path().join("ctl.txt"));
    std::fs::write(
        &tr,
        "mbwa dog\npaka cat\nmaji water\nnyumba house\nnyumba home\n",
    )
    .unwrap();
    std::fs::write(&ctl, "kitabu book\nmti tree\nsamaki fish\n").unwrap();
    let adapter = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../lexalign-tli/tests/fixtures/peft_parity/peft_adapter");
    let (out, vectors) = (t.path().join("eval"), t.path().join("vectors"));
    let o = lexalign(&[
        "eval",
        "--model",
        "smollm2-135m",
        "--device",
        "cpu",
        "--pairs",
        tr.to_str().unwrap(),
        "--control-pairs",
        ctl.to_str().unwrap(),
        "--adapter",
        adapter.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--save-vectors",
        vectors.to_str().unwrap(),
        "--vec",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut rdr = csv::Reader::from_path(out.join("quantitative_results.csv")).unwrap();
    let mut checked = 0;
    for rec in rdr.deserialize::<std::collections::HashMap<String, String>>() {
        let rec = rec.unwrap();
        for (when, col) in [("pre", "sim_pre_tli"), ("post", "sim_post_tli")] {
            let tag = format!("mean-content.layer2.{}-{when}", rec["group"]);
            let src = read_vec(&vectors.join(format!("{tag}.source.vec")));
            let tgt = read_vec(&vectors.join(format!("{tag}.target.vec")));
            let row = |f: &lexalign_data::VecFile, w: &str| {
                f.row(f.words.iter().position(|x| x == w).unwrap()).to_vec()
            };
            let (a, b) = (row(&src, &rec["swahili"]), row(&tgt, &rec["english"]));
            let dot: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
            let want: f64 = rec[col].parse().unwrap();
            assert!(
                (dot - want).abs() < 1e-5,
                "{tag} {}/{}: {dot} vs {want}",
                rec["swahili"],
                rec["english"]
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 16, "8 pairs, before and after");
}
