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
