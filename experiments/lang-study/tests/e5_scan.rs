//! `lang-study scan` with multilingual-e5-small as the reference encoder (issue 29), end to end on
//! a handful of Korean-English word pairs, the embedded SmolLM2 (every hidden state) and two
//! Kolibri sentences plus the UDHR: the files' formats and sizes, and one cell of each file
//! recomputed directly from the two encoders (xSIM of e5 and of one hidden state, CKA of one
//! hidden state against e5). Needs the e5 model and the corpora (`cargo xtask setup`).

use clap::Parser;
use lang_study::data::{LangPair, StudyPairs};
use lang_study::scan::{scan_pairs, Args};
use lexalign_data::study_rows::{CkaRow, LayerXsimRow, XsimRow};
use lexalign_data::Pair;
use lexalign_e5::Role;
use lexalign_metrics::{
    cka::stack, linear_cka, xsim_margin_error, Gold, LayerMetrics, Lexicon, Matrix,
};
use std::path::Path;

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

fn matrix(t: &lexalign_model::tch::Tensor) -> Matrix {
    let (n, d, v) = lexalign_e5::to_rows(&t.to_kind(lexalign_model::tch::Kind::Float)).unwrap();
    Matrix::from_f32(n, d, &v).unwrap()
}

fn rows<T: serde::de::DeserializeOwned>(p: &Path) -> Vec<T> {
    csv::Reader::from_path(p)
        .unwrap()
        .deserialize()
        .map(|r| r.unwrap())
        .collect()
}

fn identity_xsim(src: &Matrix, tgt: &Matrix) -> f64 {
    let gold = Gold::new(src.rows, tgt.rows, (0..src.rows).map(|i| (i, i)).collect()).unwrap();
    xsim_margin_error(src, tgt, &gold, 4).unwrap().0
}

#[test]
fn scan_with_e5_writes_the_reference_rows() {
    let model = match lexalign_gguf::resolve_model(Some(Path::new("smollm2-135m"))).and_then(|p| {
        p.is_file()
            .then_some(p)
            .ok_or_else(|| anyhow::anyhow!("smollm2-135m is not set up"))
    }) {
        Ok(p) => p,
        Err(e) => return lexalign_run::missing_fixture(format!("{e:#}")),
    };
    if let Err(e) = lexalign_e5::resolve_e5(None).and_then(|_| lexalign_data::Corpora::locate(None))
    {
        return lexalign_run::missing_fixture(format!("the e5 model and the corpora: {e:#}"));
    }
    let dir = tempfile::tempdir().unwrap();
    let tsv: Vec<String> = std::iter::once("source\ttarget".to_string())
        .chain(PAIRS.iter().map(|(s, t)| format!("{s}\t{t}")))
        .collect();
    std::fs::write(dir.path().join("pairs.tsv"), tsv.join("\n") + "\n").unwrap();
    let out = dir.path().join("scan");
    let (m, o) = (model.to_str().unwrap(), out.to_str().unwrap());
    let args = Cli::parse_from([
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
        "--e5-sentences",
        "2",
        "--pooling",
        "mean-content",
        "--out",
        o,
    ])
    .args;
    let s = StudyPairs {
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
        files: vec![dir.path().join("pairs.tsv")],
    };
    let e5 = lang_study::e5ref::load(&args.e5, LangPair::KoEn)
        .unwrap()
        .expect("e5 is on by default");
    scan_pairs(&args, &s, None, Some(&e5)).unwrap();

    // The encoder's rows: both directions of both corpora; udhr ko->en recomputed.
    let x: Vec<XsimRow> = rows(&out.join("e5/xsim.csv"));
    let dirs: Vec<(&str, &str, &str, usize)> = x
        .iter()
        .map(|r| (r.corpus.as_str(), r.src.as_str(), r.tgt.as_str(), r.n))
        .collect();
    assert_eq!(
        dirs,
        [
            ("kolibri", "ko", "en", 2),
            ("kolibri", "en", "ko", 2),
            ("udhr", "ko", "en", 92),
            ("udhr", "en", "ko", 92)
        ]
    );
    let udhr = &e5.sets[1].1;
    let side = |f: fn(&(String, String)) -> &str| {
        matrix(
            &e5.e5
                .embed(&udhr.iter().map(f).collect::<Vec<_>>(), Role::Query, 32)
                .unwrap(),
        )
    };
    let (ko, en) = (side(|p| p.0.as_str()), side(|p| p.1.as_str()));
    assert!(
        (x[2].xsim_error - identity_xsim(&ko, &en)).abs() < 1e-12,
        "{:?}",
        x[2]
    );
    assert!(out.join("e5/provenance.json").is_file());
    let w: Vec<LayerMetrics> = rows(&out.join("e5/words.csv"));
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].n_sources, 5);

    // Every hidden state's sentence xSIM (31 states x 2 corpora x 2 directions); one recomputed.
    let lx: Vec<LayerXsimRow> = rows(&out.join("sentence_xsim.csv"));
    assert_eq!(lx.len(), 31 * 4);
    assert!(lx.iter().all(|r| (0.0..=1.0).contains(&r.xsim_error)));
    let lm = lexalign_model::load(&model, &Default::default()).unwrap();
    let texts: Vec<&str> = udhr
        .iter()
        .map(|p| p.0.as_str())
        .chain(udhr.iter().map(|p| p.1.as_str()))
        .collect();
    let v = lm
        .embed_multi(
            &texts,
            &[20],
            &[lexalign_model::Pooling::MeanContent],
            64,
            |_| {},
        )
        .unwrap();
    let all = matrix(&v[0].vectors(0).unwrap());
    let n = udhr.len();
    let (k, e) = (
        all.select_rows(&(0..n).collect::<Vec<_>>()),
        all.select_rows(&(n..2 * n).collect::<Vec<_>>()),
    );
    let row = lx
        .iter()
        .find(|r| r.layer == 20 && r.corpus == "udhr" && r.src == "en")
        .unwrap();
    assert!(
        (row.xsim_error - identity_xsim(&e, &k)).abs() < 1e-12,
        "{row:?}"
    );

    // CKA against e5: one row per (hidden state, side); one cell recomputed.
    let c: Vec<CkaRow> = rows(&out.join("cka_e5.csv"));
    assert_eq!(c.len(), 31 * 3);
    let lex = Lexicon::from_pairs(PAIRS, &[] as &[&str]).unwrap();
    let words: Vec<&str> = lex
        .sources
        .iter()
        .chain(&lex.candidates)
        .map(String::as_str)
        .collect();
    let v = lm
        .embed_multi(
            &words,
            &[3],
            &[lexalign_model::Pooling::MeanContent],
            64,
            |_| {},
        )
        .unwrap();
    let e5v = |w: &[String]| {
        matrix(
            &e5.e5
                .embed(
                    &w.iter().map(String::as_str).collect::<Vec<_>>(),
                    Role::Query,
                    32,
                )
                .unwrap(),
        )
    };
    let want = linear_cka(
        &matrix(&v[0].vectors(0).unwrap()),
        &stack(&e5v(&lex.sources), &e5v(&lex.candidates)).unwrap(),
    )
    .unwrap();
    let got = c
        .iter()
        .find(|r| r.layer == 3 && r.side == "both")
        .unwrap()
        .cka;
    assert!(
        (got - want).abs() < 1e-7,
        "cka_e5.csv {got}, recomputed {want}"
    );
}
