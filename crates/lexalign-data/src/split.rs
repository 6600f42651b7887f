//! Seeded train/test splits that share no string, and the overlap check between two pair lists.
//!
//! A word seen in training must not be evaluated: pairs are grouped into the connected components
//! of the bipartite source/target graph (two pairs are linked when they share a source or a
//! target string), and whole components are assigned to one side. So train and test share no
//! source string and no target string, and every gold translation of a test source is in test.

use std::collections::{BTreeSet, HashMap};

use anyhow::{bail, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::pairs::Pair;

/// A train/test split (pairs in their input order on each side).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Split {
    pub seed: u64,
    pub train: Vec<Pair>,
    pub test: Vec<Pair>,
    /// Connected components of the input, and how many went to each side.
    pub components: usize,
    pub train_components: usize,
    pub test_components: usize,
    /// Input pairs on neither side (components that no longer fitted the requested sizes).
    pub unused: usize,
}

impl Split {
    /// `train N pairs (S sources), test N pairs (S sources), unused N`, for logs and summaries.
    pub fn describe(&self) -> String {
        let sources = |p: &[Pair]| p.iter().map(|p| &p.source).collect::<BTreeSet<_>>().len();
        format!(
            "seed {}: train {} pairs ({} sources, {} components), test {} pairs ({} sources, {} components), \
             {} of {} components / {} pairs unused",
            self.seed,
            self.train.len(),
            sources(&self.train),
            self.train_components,
            self.test.len(),
            sources(&self.test),
            self.test_components,
            self.components - self.train_components - self.test_components,
            self.components,
            self.unused
        )
    }
}

/// Split `pairs` into `test` test pairs and `train` training pairs (`None`: every pair left),
/// string-disjoint (see the module doc). Components are visited in a seeded (ChaCha8) random
/// order; each goes to test while it fits there, else to train while it fits, else is unused.
/// Refused when the requested sizes cannot be filled.
pub fn split_disjoint(
    pairs: &[Pair],
    train: Option<usize>,
    test: usize,
    seed: u64,
) -> Result<Split> {
    let comps = components(pairs);
    let mut order: Vec<usize> = (0..comps.len()).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let (mut test_left, mut train_left) = (test, train.unwrap_or(usize::MAX));
    let (mut test_idx, mut train_idx) = (Vec::new(), Vec::new());
    let (mut tc, mut rc) = (0, 0);
    for &c in &order {
        let comp = &comps[c];
        if comp.len() <= test_left {
            test_left -= comp.len();
            test_idx.extend_from_slice(comp);
            tc += 1;
        } else if comp.len() <= train_left {
            train_left -= comp.len();
            train_idx.extend_from_slice(comp);
            rc += 1;
        }
    }
    if test_left > 0 || (train.is_some() && train_left > 0) {
        bail!(
            "cannot split {} pairs ({} string-disjoint components, largest {}) into {} test and {} training pairs \
             with seed {seed}: {} test and {} training pairs could be filled; ask for fewer",
            pairs.len(),
            comps.len(),
            comps.iter().map(Vec::len).max().unwrap_or(0),
            test,
            train.map_or("all remaining".to_string(), |t| t.to_string()),
            test - test_left,
            train_idx.len()
        );
    }
    test_idx.sort_unstable();
    train_idx.sort_unstable();
    let pick = |idx: &[usize]| idx.iter().map(|&i| pairs[i].clone()).collect::<Vec<_>>();
    let split = Split {
        seed,
        train: pick(&train_idx),
        test: pick(&test_idx),
        components: comps.len(),
        train_components: rc,
        test_components: tc,
        unused: pairs.len() - train_idx.len() - test_idx.len(),
    };
    log::info!("split: {}", split.describe());
    Ok(split)
}

/// Pair indices grouped into connected components, each sorted, components ordered by their
/// first pair (deterministic before the seeded shuffle).
pub fn components(pairs: &[Pair]) -> Vec<Vec<usize>> {
    let mut parent: Vec<usize> = (0..pairs.len()).collect();
    fn find(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    let mut by_source: HashMap<&str, usize> = HashMap::new();
    let mut by_target: HashMap<&str, usize> = HashMap::new();
    for (i, p) in pairs.iter().enumerate() {
        for first in [
            *by_source.entry(&p.source).or_insert(i),
            *by_target.entry(&p.target).or_insert(i),
        ] {
            let (a, b) = (find(&mut parent, first), find(&mut parent, i));
            if a != b {
                parent[a.max(b)] = a.min(b);
            }
        }
    }
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut slot: HashMap<usize, usize> = HashMap::new();
    for i in 0..pairs.len() {
        let r = find(&mut parent, i);
        let g = *slot.entry(r).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(i);
    }
    groups
}

/// Strings and pairs two pair lists have in common (sorted).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Overlap {
    pub sources: Vec<String>,
    pub targets: Vec<String>,
    pub pairs: Vec<Pair>,
}

impl Overlap {
    /// Shared source strings plus shared target strings.
    pub fn strings(&self) -> usize {
        self.sources.len() + self.targets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.strings() == 0 && self.pairs.is_empty()
    }
}

/// What `a` and `b` share: source strings, target strings, whole pairs.
pub fn overlap(a: &[Pair], b: &[Pair]) -> Overlap {
    fn common(a: &[Pair], b: &[Pair], f: fn(&Pair) -> &str) -> Vec<String> {
        let in_b: BTreeSet<&str> = b.iter().map(f).collect();
        let in_a: BTreeSet<&str> = a.iter().map(f).collect();
        in_a.intersection(&in_b).map(|s| s.to_string()).collect()
    }
    let pa: BTreeSet<&Pair> = a.iter().collect();
    let pb: BTreeSet<&Pair> = b.iter().collect();
    Overlap {
        sources: common(a, b, |p| &p.source),
        targets: common(a, b, |p| &p.target),
        pairs: pa.intersection(&pb).map(|p| (*p).clone()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<Pair> {
        v.iter().map(|(s, t)| Pair::new(*s, *t)).collect()
    }

    #[test]
    fn components_follow_shared_strings() {
        let p = pairs(&[("a", "x"), ("b", "y"), ("c", "x"), ("c", "z"), ("d", "w")]);
        assert_eq!(components(&p), vec![vec![0, 2, 3], vec![1], vec![4]]);
    }

    #[test]
    fn split_is_disjoint_sized_and_seeded() {
        let mut v: Vec<(String, String)> = (0..50)
            .map(|i| (format!("s{i}"), format!("t{i}")))
            .collect();
        v.push(("s0".into(), "t1".into())); // joins components 0 and 1
        v.push(("s2".into(), "t3".into()));
        let p: Vec<Pair> = v.iter().map(|(s, t)| Pair::new(s, t)).collect();
        let s = split_disjoint(&p, Some(30), 10, 7).unwrap();
        assert_eq!((s.test.len(), s.train.len()), (10, 30));
        assert!(overlap(&s.train, &s.test).is_empty());
        assert_eq!(s.unused, p.len() - 40);
        let again = split_disjoint(&p, Some(30), 10, 7).unwrap();
        assert_eq!(again.test, s.test);
        let other = split_disjoint(&p, Some(30), 10, 8).unwrap();
        assert_ne!(other.test, s.test);
        let all = split_disjoint(&p, None, 10, 7).unwrap();
        assert_eq!(all.train.len() + all.test.len(), p.len());
        let e = format!("{:#}", split_disjoint(&p, Some(50), 10, 7).unwrap_err());
        assert!(e.contains("ask for fewer"), "{e}");
    }

    #[test]
    fn overlap_counts_strings() {
        let a = pairs(&[("mbwa", "dog"), ("paka", "cat")]);
        let b = pairs(&[("mbwa", "hound"), ("simba", "cat"), ("paka", "cat")]);
        let o = overlap(&a, &b);
        assert_eq!(o.sources, vec!["mbwa", "paka"]);
        assert_eq!(o.targets, vec!["cat"]);
        assert_eq!(o.pairs, pairs(&[("paka", "cat")]));
        assert_eq!(o.strings(), 3);
    }
}
