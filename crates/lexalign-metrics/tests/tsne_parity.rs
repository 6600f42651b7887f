//! t-SNE against scikit-learn's exact t-SNE (`tests/fixtures/gen_tsne_reference.py` writes
//! `tsne_reference.json`): the joint P and the PCA start tightly, and the result, whose
//! coordinates differ between implementations, by KL divergence (within 10 %) and
//! trustworthiness at 5 neighbours (within 0.05).

use lexalign_metrics::matrix::Matrix;
use lexalign_metrics::tsne::{pca_2d, trustworthiness, tsne, TsneOptions};

fn reference() -> serde_json::Value {
    let p =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tsne_reference.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn matrix(v: &serde_json::Value) -> Matrix {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    Matrix::new(rows.len(), rows[0].len(), rows.concat()).unwrap()
}

#[test]
fn tsne_matches_scikit_learn_by_kl_and_trustworthiness() {
    let r = reference();
    for c in r["cases"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        let x = matrix(&c["x"]);
        let o = TsneOptions {
            perplexity: c["perplexity"].as_f64().unwrap(),
            ..TsneOptions::default()
        };
        let ours = tsne(&x, &o).unwrap();
        let kl_ref = c["kl_divergence"].as_f64().unwrap();
        let t_ours = trustworthiness(&x, &ours.embedding, 5).unwrap();
        let t_ref = c["trustworthiness_5"].as_f64().unwrap();
        println!(
            "{name}: KL {:.5} vs sklearn {kl_ref:.5}; T(5) {t_ours:.4} vs {t_ref:.4}; n_iter {}",
            ours.kl_divergence, ours.n_iter
        );
        assert!(
            ((ours.kl_divergence - kl_ref) / kl_ref).abs() <= 0.10,
            "{name}: KL {} vs {kl_ref}",
            ours.kl_divergence
        );
        assert!(
            (t_ours - t_ref).abs() <= 0.05,
            "{name}: trustworthiness {t_ours} vs {t_ref}"
        );
        // Our trustworthiness of scikit-learn's own embedding is scikit-learn's number.
        let theirs: Vec<[f64; 2]> = serde_json::from_value(c["embedding"].clone()).unwrap();
        let t_theirs = trustworthiness(&x, &theirs, 5).unwrap();
        assert!(
            (t_theirs - t_ref).abs() < 1e-12,
            "{name}: {t_theirs} vs {t_ref}"
        );
        assert_eq!(
            ours.n_iter,
            c["n_iter"].as_u64().unwrap() as usize,
            "{name}"
        );
    }
}

#[test]
fn pca_start_matches_scikit_learn() {
    let r = reference();
    for c in r["cases"].as_array().unwrap() {
        let x = matrix(&c["x"]);
        let want: Vec<[f64; 2]> = serde_json::from_value(c["pca"].clone()).unwrap();
        for (i, (a, b)) in pca_2d(&x).iter().zip(&want).enumerate() {
            for k in 0..2 {
                assert!(
                    (a[k] - b[k]).abs() < 1e-9,
                    "{} row {i} pc{}: {} vs {}",
                    c["name"],
                    k + 1,
                    a[k],
                    b[k]
                );
            }
        }
    }
}

#[test]
fn joint_p_matches_scikit_learn() {
    let r = reference();
    for c in r["cases"].as_array().unwrap() {
        let x = matrix(&c["x"]);
        let want: Vec<f64> = serde_json::from_value(c["joint_p_condensed"].clone()).unwrap();
        let got = lexalign_metrics::tsne::joint_probabilities_condensed(
            &x,
            c["perplexity"].as_f64().unwrap(),
        );
        assert_eq!(got.len(), want.len());
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            assert!(
                ((a - b) / b).abs() < 1e-6,
                "{} P[{i}]: {a} vs {b}",
                c["name"]
            );
        }
    }
}
