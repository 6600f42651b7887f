//! LASER's xSIM error rate with the ratio margin (LASER `source/xsim.py`, `margin="ratio"`, k=4):
//! each source's k nearest candidates by cosine are rescored by
//! `cos(x, y) / ((mean_k cos(x, .) + mean_k cos(., y)) / 2)`; a source errs when its best
//! rescored candidate is not one of its gold candidates. (lexalign-metrics has no margin score;
//! this is the one LASER's own evaluations report.)

use anyhow::{bail, Result};
use lexalign_metrics::{prepare, Gold, Matrix, Space};

/// Mean of the `k` largest values.
fn top_k_mean(v: &[f64], k: usize) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| b.total_cmp(a));
    s[..k].iter().sum::<f64>() / k as f64
}

/// The ratio-margin error rate in [0, 1] and the number of errors. `k` is clipped to the
/// candidate and source counts.
pub fn xsim_margin_error(src: &Matrix, cand: &Matrix, gold: &Gold, k: usize) -> Result<(f64, usize)> {
    if k == 0 || src.rows == 0 || cand.rows == 0 {
        bail!("xsim needs k >= 1 and at least one source and one candidate");
    }
    let (s, c) = prepare(src, cand, Space::Raw)?;
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let sims: Vec<Vec<f64>> = (0..s.rows).map(|i| (0..c.rows).map(|j| dot(s.row(i), c.row(j))).collect()).collect();
    let (kx, ky) = (k.min(c.rows), k.min(s.rows));
    let mean_x: Vec<f64> = sims.iter().map(|r| top_k_mean(r, kx)).collect();
    let mean_y: Vec<f64> = (0..c.rows).map(|j| top_k_mean(&sims.iter().map(|r| r[j]).collect::<Vec<_>>(), ky)).collect();
    let gold_of = gold.source_gold();
    let mut errors = 0;
    for (i, row) in sims.iter().enumerate() {
        let mut nn: Vec<usize> = (0..c.rows).collect();
        nn.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
        let best = nn[..kx]
            .iter()
            .copied()
            .max_by(|&a, &b| {
                let m = |j: usize| row[j] / ((mean_x[i] + mean_y[j]) / 2.0);
                m(a).total_cmp(&m(b)).then(b.cmp(&a))
            })
            .expect("k >= 1");
        if gold_of[i].binary_search(&best).is_err() {
            errors += 1;
        }
    }
    Ok((errors as f64 / s.rows as f64, errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_fixes_a_hub() {
        // Candidate 2 is a hub close to everything; cosine NN would pick it for source 1, the
        // ratio margin does not.
        let src = Matrix::from_rows(&[vec![1.0, 0.0, 0.0], vec![0.0, 1.0, 0.2]]).unwrap();
        let cand = Matrix::from_rows(&[vec![1.0, 0.05, 0.0], vec![0.0, 0.9, 0.0], vec![0.5, 0.8, 0.3]]).unwrap();
        let gold = Gold::new(2, 3, vec![(0, 0), (1, 1)]).unwrap();
        let (rate, n) = xsim_margin_error(&src, &cand, &gold, 2).unwrap();
        assert_eq!((rate, n), (0.0, 0));
        let wrong = Gold::new(2, 3, vec![(0, 1), (1, 0)]).unwrap();
        assert_eq!(xsim_margin_error(&src, &cand, &wrong, 2).unwrap().1, 2);
    }
}
