//! From translation pairs to rows: distinct source words, distinct candidates, gold sets.
//!
//! A source word counts as correct when any of its gold translations is retrieved, so sources and
//! targets are deduplicated (a duplicated target string is one candidate) and each source keeps
//! the set of its gold candidates.

use anyhow::{bail, Result};
use std::collections::HashMap;

/// Gold alignment between source rows and candidate rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Gold {
    pub n_sources: usize,
    pub n_candidates: usize,
    /// `(source row, candidate row)` per input pair, in input order. Pair cosines and the
    /// shuffled baseline run over this list (as the scan does), so a repeated pair counts twice.
    pub pairs: Vec<(usize, usize)>,
}

impl Gold {
    /// Checks the indices and that every source row has at least one gold candidate.
    pub fn new(n_sources: usize, n_candidates: usize, pairs: Vec<(usize, usize)>) -> Result<Self> {
        let mut has = vec![false; n_sources];
        for (p, &(s, t)) in pairs.iter().enumerate() {
            if s >= n_sources || t >= n_candidates {
                bail!("gold pair {p} is ({s}, {t}) but there are {n_sources} sources and {n_candidates} candidates");
            }
            has[s] = true;
        }
        if let Some(s) = has.iter().position(|h| !h) {
            bail!("source row {s} has no gold translation; every evaluated source needs one");
        }
        Ok(Self {
            n_sources,
            n_candidates,
            pairs,
        })
    }

    /// For each source row, its gold candidates (ascending, no repeats).
    pub fn source_gold(&self) -> Vec<Vec<usize>> {
        let mut g = vec![Vec::new(); self.n_sources];
        for &(s, t) in &self.pairs {
            g[s].push(t);
        }
        g.iter_mut().for_each(|v| {
            v.sort_unstable();
            v.dedup();
        });
        g
    }

    /// The candidates that are some source's gold (ascending): the target→source queries.
    pub fn gold_targets(&self) -> Vec<usize> {
        let mut t: Vec<usize> = self.pairs.iter().map(|p| p.1).collect();
        t.sort_unstable();
        t.dedup();
        t
    }

    /// For each of `gold_targets()`, its gold sources (ascending).
    pub fn target_gold(&self) -> Vec<Vec<usize>> {
        let targets = self.gold_targets();
        let mut g = vec![Vec::new(); targets.len()];
        for &(s, t) in &self.pairs {
            g[targets.binary_search(&t).expect("listed")].push(s);
        }
        g.iter_mut().for_each(|v| {
            v.sort_unstable();
            v.dedup();
        });
        g
    }

    /// Each source's first gold in input order (the pair MEXA scores for that source).
    pub fn first_gold(&self) -> Vec<usize> {
        let mut f = vec![usize::MAX; self.n_sources];
        for &(s, t) in &self.pairs {
            if f[s] == usize::MAX {
                f[s] = t;
            }
        }
        f
    }
}

/// Distinct words in first-appearance order; embed `sources` and `candidates` in this order.
#[derive(Debug, Clone, PartialEq)]
pub struct Lexicon {
    pub sources: Vec<String>,
    /// The distinct gold targets first, then the extra candidates not already present.
    pub candidates: Vec<String>,
    /// How many leading `candidates` come from the pairs.
    pub n_pair_targets: usize,
    pub gold: Gold,
}

impl Lexicon {
    /// `extra_candidates` (a larger target vocabulary) are appended after the pair targets;
    /// repeats and words already present are skipped. Empty words are errors naming the pair.
    pub fn from_pairs<S: AsRef<str>, T: AsRef<str>, E: AsRef<str>>(
        pairs: &[(S, T)],
        extra_candidates: &[E],
    ) -> Result<Self> {
        let mut sources = Vec::new();
        let mut candidates = Vec::new();
        let (mut s_idx, mut c_idx) = (HashMap::new(), HashMap::new());
        let mut idx_pairs = Vec::with_capacity(pairs.len());
        for (p, (s, t)) in pairs.iter().enumerate() {
            let (s, t) = (s.as_ref(), t.as_ref());
            if s.trim().is_empty() || t.trim().is_empty() {
                bail!("pair {p} (`{s}`, `{t}`) has an empty word");
            }
            let si = *s_idx.entry(s.to_string()).or_insert_with(|| {
                sources.push(s.to_string());
                sources.len() - 1
            });
            let ti = *c_idx.entry(t.to_string()).or_insert_with(|| {
                candidates.push(t.to_string());
                candidates.len() - 1
            });
            idx_pairs.push((si, ti));
        }
        let n_pair_targets = candidates.len();
        for (i, w) in extra_candidates.iter().enumerate() {
            let w = w.as_ref();
            if w.trim().is_empty() {
                bail!("extra candidate {i} is an empty word");
            }
            if !c_idx.contains_key(w) {
                c_idx.insert(w.to_string(), candidates.len());
                candidates.push(w.to_string());
            }
        }
        let gold = Gold::new(sources.len(), candidates.len(), idx_pairs)?;
        Ok(Self {
            sources,
            candidates,
            n_pair_targets,
            gold,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedups_and_appends_candidates() {
        let pairs = [("a", "X"), ("b", "Y"), ("a", "Z"), ("c", "X"), ("b", "Y")];
        let lex = Lexicon::from_pairs(&pairs, &["W", "X", "W"]).unwrap();
        assert_eq!(lex.sources, ["a", "b", "c"]);
        assert_eq!(lex.candidates, ["X", "Y", "Z", "W"]);
        assert_eq!(lex.n_pair_targets, 3);
        assert_eq!(lex.gold.source_gold(), vec![vec![0, 2], vec![1], vec![0]]);
        assert_eq!(lex.gold.gold_targets(), vec![0, 1, 2]);
        assert_eq!(lex.gold.target_gold(), vec![vec![0, 2], vec![1], vec![0]]);
        assert_eq!(lex.gold.first_gold(), vec![0, 1, 0]);
        assert_eq!(lex.gold.pairs.len(), 5);
        assert!(Lexicon::from_pairs(&[("a", " ")], &[] as &[&str]).is_err());
    }

    #[test]
    fn gold_checks() {
        assert!(Gold::new(2, 2, vec![(0, 1)])
            .unwrap_err()
            .to_string()
            .contains("source row 1"));
        assert!(Gold::new(1, 1, vec![(0, 1)]).is_err());
    }
}
