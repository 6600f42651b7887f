//! Checks the crate against the independent numpy implementation in
//! `fixtures/gen_metrics_reference.py` (ranks and P@k exactly, real values within 1e-9).

use lexalign_metrics::*;
use serde::Deserialize;

const TOL: f64 = 1e-9;

#[derive(Deserialize)]
struct Fixture {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    k: usize,
    pairs: Vec<(String, String)>,
    extra_candidates: Vec<String>,
    sources: Vec<String>,
    candidates: Vec<String>,
    src: Vec<Vec<f64>>,
    cand: Vec<Vec<f64>>,
    raw: Expect,
    centred: Expect,
}

#[derive(Deserialize)]
struct Expect {
    pair_cos: Vec<f64>,
    pairs_mean: f64,
    pairs_sd: f64,
    cos_gold: Vec<Vec<f64>>,
    r_source: Vec<f64>,
    r_gold_target: Vec<f64>,
    csls_entries: Vec<(usize, usize, f64)>,
    s2t_nn: Vec<usize>,
    s2t_csls: Vec<usize>,
    t2s_nn: Vec<usize>,
    t2s_csls: Vec<usize>,
    mexa: Frac,
    s2t_nn_p1: Frac,
    s2t_nn_p5: Frac,
    s2t_nn_p10: Frac,
    s2t_csls_p1: Frac,
    s2t_csls_p5: Frac,
    s2t_csls_p10: Frac,
    t2s_nn_p1: Frac,
    t2s_csls_p1: Frac,
    tie_rule_matters: bool,
}

/// `[hits, n]`, compared exactly as `hits / n` in f64.
#[derive(Deserialize, Clone, Copy)]
struct Frac(usize, usize);
impl Frac {
    fn v(self) -> f64 {
        self.0 as f64 / self.1 as f64
    }
}

fn fixture() -> Fixture {
    let text = include_str!("fixtures/metrics_reference.json");
    serde_json::from_str(text).expect("metrics_reference.json parses")
}

struct MaxDiff(f64);
impl MaxDiff {
    fn check(&mut self, what: &str, got: f64, want: f64) {
        let d = (got - want).abs();
        assert!(d <= TOL, "{what}: got {got}, numpy {want} (diff {d:e})");
        self.0 = self.0.max(d);
    }
}

fn setup(c: &Case) -> (Lexicon, Matrix, Matrix) {
    let lex = Lexicon::from_pairs(&c.pairs, &c.extra_candidates).unwrap();
    assert_eq!(lex.sources, c.sources, "{}: distinct sources", c.name);
    assert_eq!(
        lex.candidates, c.candidates,
        "{}: distinct candidates",
        c.name
    );
    (
        lex,
        Matrix::from_rows(&c.src).unwrap(),
        Matrix::from_rows(&c.cand).unwrap(),
    )
}

#[test]
fn matches_numpy_reference() {
    let mut diff = MaxDiff(0.0);
    for c in fixture().cases {
        let (lex, src, cand) = setup(&c);
        let gold = &lex.gold;
        let targets = gold.gold_targets();
        let partner = shuffled_partners(gold.pairs.len(), 3).unwrap();
        let opts = MetricsOptions {
            k_csls: c.k,
            seed: 3,
            bootstrap: 200,
        };
        let lm = layer_metrics(&src, &cand, gold, &opts).unwrap();
        for (space, e) in [(Space::Raw, &c.raw), (Space::Centred, &c.centred)] {
            let w = format!("{} {:?}", c.name, space);
            let m = space_metrics(&src, &cand, gold, &partner, c.k, space).unwrap();
            for (p, (&g, &x)) in m.pair_cos.iter().zip(&e.pair_cos).enumerate() {
                diff.check(&format!("{w} pair {p} cosine"), g, x);
            }
            let r = &m.retrieval;
            for (i, (&g, &x)) in r.r_source.iter().zip(&e.r_source).enumerate() {
                diff.check(&format!("{w} r_T(source {i})"), g, x);
            }
            for (t, (&g, &x)) in r.r_gold_target.iter().zip(&e.r_gold_target).enumerate() {
                diff.check(&format!("{w} r_S(gold target {t})"), g, x);
            }
            for (t, row) in r.target_source_cos.chunks(gold.n_sources).enumerate() {
                for (i, &g) in row.iter().enumerate() {
                    diff.check(
                        &format!("{w} cos(source {i}, gold target {t})"),
                        g,
                        e.cos_gold[i][t],
                    );
                }
            }
            let (s, cn) = prepare(&src, &cand, space).unwrap();
            let csls = csls_matrix(&s, &cn, c.k);
            for &(i, j, x) in &e.csls_entries {
                diff.check(&format!("{w} CSLS({i}, {j})"), csls.row(i)[j], x);
            }
            assert_eq!(r.s2t.nn, e.s2t_nn, "{w}: s2t NN ranks");
            assert_eq!(r.s2t.csls, e.s2t_csls, "{w}: s2t CSLS ranks");
            assert_eq!(r.t2s.nn, e.t2s_nn, "{w}: t2s NN ranks");
            assert_eq!(r.t2s.csls, e.t2s_csls, "{w}: t2s CSLS ranks");
            assert_eq!(m.mexa, e.mexa.v(), "{w}: MEXA");
            // The shuffled baseline from numpy's cosines and the crate's partners.
            let col = |t: usize| targets.binary_search(&t).unwrap();
            let shuffled: Vec<f64> = gold
                .pairs
                .iter()
                .zip(&partner)
                .map(|(&(s, _), &q)| e.cos_gold[s][col(gold.pairs[q].1)])
                .collect();
            let sh_mean = shuffled.iter().sum::<f64>() / shuffled.len() as f64;
            let p = |k| precision_at(&r.s2t.nn, k);
            let pc = |k| precision_at(&r.s2t.csls, k);
            let want = [
                e.s2t_nn_p1,
                e.s2t_nn_p5,
                e.s2t_nn_p10,
                e.s2t_csls_p1,
                e.s2t_csls_p5,
                e.s2t_csls_p10,
            ]
            .map(Frac::v);
            assert_eq!([p(1), p(5), p(10), pc(1), pc(5), pc(10)], want, "{w}: P@k");
            let (got, t2s_nn, t2s_csls, mexa) = match space {
                Space::Raw => (
                    [
                        lm.p1_nn,
                        lm.p5_nn,
                        lm.p10_nn,
                        lm.p1_csls,
                        lm.p5_csls,
                        lm.p10_csls,
                    ],
                    lm.t2s_p1_nn,
                    lm.t2s_p1_csls,
                    lm.mexa,
                ),
                Space::Centred => (
                    [
                        lm.centered_p1_nn,
                        lm.centered_p5_nn,
                        lm.centered_p10_nn,
                        lm.centered_p1_csls,
                        lm.centered_p5_csls,
                        lm.centered_p10_csls,
                    ],
                    lm.t2s_centered_p1_nn,
                    lm.t2s_centered_p1_csls,
                    lm.centered_mexa,
                ),
            };
            assert_eq!(got, want, "{w}: LayerMetrics P@k");
            assert_eq!(
                (t2s_nn, t2s_csls, mexa),
                (e.t2s_nn_p1.v(), e.t2s_csls_p1.v(), e.mexa.v()),
                "{w}: LayerMetrics t2s/MEXA"
            );
            match space {
                Space::Raw => {
                    diff.check(&format!("{w} pairs_mean"), lm.pairs_mean, e.pairs_mean);
                    diff.check(&format!("{w} pairs_sd"), lm.pairs_sd, e.pairs_sd);
                    diff.check(&format!("{w} shuffled_mean"), lm.shuffled_mean, sh_mean);
                }
                Space::Centred => {
                    diff.check(
                        &format!("{w} centered_mean"),
                        lm.centered_mean,
                        e.pairs_mean,
                    );
                    diff.check(
                        &format!("{w} centered_shuffled_mean"),
                        lm.centered_shuffled_mean,
                        sh_mean,
                    );
                }
            }
        }
        assert_eq!(
            (lm.n_sources, lm.n_candidates),
            (c.sources.len(), c.candidates.len())
        );
    }
    eprintln!(
        "max |rust - numpy| over all compared real values: {:e}",
        diff.0
    );
}

#[test]
fn fixture_covers_the_hard_cases() {
    let f = fixture();
    let main = f.cases.iter().find(|c| c.name == "main").unwrap();
    let (lex, _, cand) = setup(main);
    assert!(
        lex.candidates.len() > lex.n_pair_targets,
        "extra candidates"
    );
    assert!(
        lex.gold.source_gold().iter().any(|g| g.len() > 1),
        "several golds"
    );
    assert!(
        lex.gold.target_gold().iter().any(|g| g.len() > 1),
        "shared targets"
    );
    let dup = (0..cand.rows).any(|i| (0..i).any(|j| cand.row(i) == cand.row(j)));
    assert!(dup, "exact ties");
    assert!(
        main.raw.tie_rule_matters && main.centred.tie_rule_matters,
        "ties decide some ranks"
    );
    let small = f.cases.iter().find(|c| c.name == "small").unwrap();
    assert!(small.sources.len() < small.k && small.candidates.len() < small.k);
}
