//! Breakdowns of held-out open-pool P@1 (CSLS, source→target) before and after an adapter at its
//! trained hidden state (issue 31): by kengdic frequency level and part-of-speech code (ko-en),
//! by the source word's token count, by loanword status ([`crate::loanword`]), and by how many of
//! the source word's tokens occur in the training pairs' words (`all`, `some`, `none`). Written
//! to `<out>/<adapter>/breakdown.csv`; returns the share of held-out source-word tokens seen in
//! training.

use crate::data::{LangPair, StudyPairs};
use crate::open_pool::Args;
use crate::open_pool_eval::WordRanks;
use anyhow::{Context, Result};
use lexalign_data::open_pool_rows::BreakdownRow;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// (label, trained hidden state, frozen ranks at it, adapted ranks at it).
pub type AdapterRanks = (String, usize, WordRanks, WordRanks);

/// Per held-out source word: factor → level.
/// Each source word's factor levels (factor, level), by word.
type Attributes = BTreeMap<String, Vec<(&'static str, String)>>;

fn attributes(
    args: &Args,
    run: &lexalign_stages::LoadedRun,
    s: &StudyPairs,
) -> Result<(Attributes, f64)> {
    let tok = &run.model.tokenizer;
    let mut seen: HashSet<i64> = HashSet::new();
    for p in &s.train {
        seen.extend(tok.encode_content(&p.source)?);
        seen.extend(tok.encode_content(&p.target)?);
    }
    let info = match args.pair {
        LangPair::KoEn => {
            let lex = lexalign_data::Lexicons::locate(args.lexicon_dir.as_deref())?;
            let path = lex.path(lexalign_data::lexicon::KENGDIC_SQL);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            lexalign_data::lexicon::kengdic::headword_info(&text)
        }
        LangPair::SwEn => BTreeMap::new(),
    };
    let mut gold: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for p in &s.test {
        gold.entry(&p.source).or_default().push(&p.target);
    }
    let (mut out, mut n_tok, mut n_seen) = (BTreeMap::new(), 0usize, 0usize);
    for (src, targets) in gold {
        let ids = tok.encode_content(src)?;
        let k = ids.iter().filter(|i| seen.contains(i)).count();
        (n_tok, n_seen) = (n_tok + ids.len(), n_seen + k);
        let mut a: Vec<(&'static str, String)> = vec![("all", "all".into())];
        if let Some((level, pos)) = info.get(src) {
            a.push(("frequency-level", level.clone()));
            a.push(("pos", format!("code {pos}")));
        }
        a.push((
            "tokens",
            if ids.len() >= 4 {
                "4+".into()
            } else {
                ids.len().to_string()
            },
        ));
        let loan = targets.iter().any(|t| crate::loanword::is_loanword(src, t));
        a.push(("loanword", if loan { "loanword" } else { "native" }.into()));
        a.push((
            "tokens-seen",
            if k == ids.len() {
                "all"
            } else if k == 0 {
                "none"
            } else {
                "some"
            }
            .into(),
        ));
        out.insert(src.to_string(), a);
    }
    Ok((out, n_seen as f64 / n_tok.max(1) as f64))
}

/// Rows of one adapter from the held-out ranks before and after.
pub fn rows(
    label: &str,
    layer: usize,
    attrs: &BTreeMap<String, Vec<(&'static str, String)>>,
    before: &[(String, usize)],
    after: &[(String, usize)],
) -> Vec<BreakdownRow> {
    let after: BTreeMap<&str, usize> = after.iter().map(|(w, r)| (w.as_str(), *r)).collect();
    let mut cells: BTreeMap<(&str, &str), (usize, usize, usize)> = BTreeMap::new();
    for (w, rb) in before {
        let (Some(a), Some(&ra)) = (attrs.get(w), after.get(w.as_str())) else {
            continue;
        };
        for (factor, level) in a {
            let c = cells.entry((*factor, level.as_str())).or_default();
            *c = (c.0 + 1, c.1 + (*rb == 0) as usize, c.2 + (ra == 0) as usize);
        }
    }
    cells
        .into_iter()
        .map(|((factor, level), (n, b, a))| BreakdownRow {
            adapter: label.into(),
            layer,
            factor: factor.into(),
            level: level.into(),
            n,
            p1_before: b as f64 / n as f64,
            p1_after: a as f64 / n as f64,
        })
        .collect()
}

/// Every adapter's `breakdown.csv`; the share of held-out source-word tokens seen in training.
/// `key`: the held-out source→English ranks' key in the [`WordRanks`].
pub fn write_all(
    out: &Path,
    args: &Args,
    run: &lexalign_stages::LoadedRun,
    s: &StudyPairs,
    adapters: &[AdapterRanks],
    key: &str,
) -> Result<f64> {
    let (attrs, share) = attributes(args, run, s)?;
    for (label, layer, before, after) in adapters {
        let (Some(b), Some(a)) = (before.get(key), after.get(key)) else {
            continue;
        };
        let dir = out.join(label);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        lexalign_run::write_atomic(
            dir.join("breakdown.csv"),
            crate::eval::to_csv(&rows(label, *layer, &attrs, b, a))?,
        )?;
    }
    Ok(share)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_count_hits_per_level() {
        let attrs: BTreeMap<String, Vec<(&'static str, String)>> = [
            ("a".to_string(), vec![("tokens", "1".to_string())]),
            ("b".to_string(), vec![("tokens", "1".to_string())]),
            ("c".to_string(), vec![("tokens", "2".to_string())]),
        ]
        .into();
        let before = vec![("a".into(), 0), ("b".into(), 3), ("c".into(), 1)];
        let after = vec![("a".into(), 0), ("b".into(), 0), ("c".into(), 2)];
        let r = rows("x", 5, &attrs, &before, &after);
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[0].level.as_str(), r[0].n, r[0].p1_before, r[0].p1_after),
            ("1", 2, 0.5, 1.0)
        );
        assert_eq!(
            (r[1].level.as_str(), r[1].n, r[1].p1_before, r[1].p1_after),
            ("2", 1, 0.0, 0.0)
        );
    }
}
