//! The authors' in-batch hardest-negative triplet loss.

use tch::{Kind, Tensor};

/// `mean_i relu(margin + max_{j != i} s_ij - s_ii)` with `s = anchors positives^T`.
///
/// `anchors` and `positives` are `[n, d]` L2-normalised rows (so `s` holds cosines); row `i` of
/// each is a translation pair and the other positives of the batch are the negatives. With a
/// single pair there is no negative and the loss is 0.
pub fn hardest_negative_triplet(anchors: &Tensor, positives: &Tensor, margin: f64) -> Tensor {
    let s = anchors.matmul(&positives.tr());
    let n = s.size()[0];
    let pos = s.diagonal(0, 0, 1);
    let eye = Tensor::eye(n, (Kind::Bool, s.device()));
    let (hardest, _) = s.masked_fill(&eye, f64::NEG_INFINITY).max_dim(1, false);
    (hardest - pos + margin).relu().mean(Kind::Float)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hardest_negative_by_hand() {
        // s = [[0.9, 0.7, 0.1], [0.2, 0.5, 0.6], [0.0, 0.3, 0.8]] via unit rows would be awkward;
        // use un-normalised rows: the loss only needs the dot products.
        let a = Tensor::from_slice(&[1.0f32, 0.0, 0.0, 1.0, 0.5, 0.5]).view([3, 2]);
        let p = Tensor::from_slice(&[0.9f32, 0.2, 0.7, 0.5, 0.1, 0.6]).view([3, 2]);
        // s_ij = a_i . p_j: row0 [0.9, 0.7, 0.1], row1 [0.2, 0.5, 0.6], row2 [0.55, 0.6, 0.35]
        let want = ((0.4f64 + 0.7 - 0.9).max(0.0)
            + (0.4f64 + 0.2_f64.max(0.6) - 0.5).max(0.0)
            + (0.4f64 + 0.6 - 0.35).max(0.0))
            / 3.0;
        let got = hardest_negative_triplet(&a, &p, 0.4).double_value(&[]);
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        // One pair: no negative, no loss.
        assert_eq!(
            hardest_negative_triplet(&a.narrow(0, 0, 1), &p.narrow(0, 0, 1), 0.4).double_value(&[]),
            0.0
        );
    }
}
