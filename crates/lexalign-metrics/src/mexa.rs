//! MEXA-style alignment score: how often a translation pair is the *strict* mutual best match.
//!
//! Matrix: cosines of every source row against every gold target (extra candidates are left out,
//! so the score does not depend on `--candidates`). Each source is scored once, on its first gold
//! in input order (`Gold::first_gold`); it counts when that cosine is strictly larger than every
//! other entry of its row and of its column. Ties (e.g. duplicate vectors) therefore never count.

use crate::lexicon::Gold;

/// `tcos` is `[gold target][source]` (`Retrieval::target_source_cos`).
pub fn mexa(gold: &Gold, tcos: &[f64]) -> f64 {
    let ns = gold.n_sources;
    let targets = gold.gold_targets();
    let hits = gold
        .first_gold()
        .iter()
        .enumerate()
        .filter(|&(i, &g)| {
            let t = targets.binary_search(&g).expect("gold target");
            let v = tcos[t * ns + i];
            let row_ok = (0..targets.len()).all(|u| u == t || tcos[u * ns + i] < v);
            let col_ok = (0..ns).all(|r| r == i || tcos[t * ns + r] < v);
            row_ok && col_ok
        })
        .count();
    hits as f64 / ns as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_mutual_maximum() {
        let gold = Gold::new(2, 2, vec![(0, 0), (1, 1)]).unwrap();
        // [target][source]: t0 = [0.9, 0.2], t1 = [0.3, 0.8] -> both pairs are mutual maxima.
        assert_eq!(mexa(&gold, &[0.9, 0.2, 0.3, 0.8]), 1.0);
        // Source 1's pair (t1, 0.8) ties t0 in its row, so only source 0 counts.
        assert_eq!(mexa(&gold, &[0.9, 0.8, 0.3, 0.8]), 0.5);
    }
}
