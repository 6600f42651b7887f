//! `--baseline-layers SPEC` of `lang-study scan` and `eval`: which hidden states the baselines
//! of [`crate::baselines`] are computed at. `targets` (the default): hidden state 2 (the paper's)
//! plus the layer `lang-study train --target-layer best` picks (scan: from its own layers.csv;
//! eval: each adapter's `target_layer`); `all`: every hidden state; or a comma list.

use anyhow::{ensure, Context, Result};
use std::path::Path;

/// The paper's hidden state (Ngugi 2025 trains and evaluates at hidden state 2).
pub const PAPER_LAYER: usize = 2;

/// A parsed `--baseline-layers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaselineLayers {
    Targets,
    All,
    List(Vec<usize>),
}

impl std::str::FromStr for BaselineLayers {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "targets" => Ok(Self::Targets),
            "all" => Ok(Self::All),
            list => {
                let mut v = list
                    .split(',')
                    .map(|x| x.trim().parse::<usize>().map_err(|_| format!("`{x}` in `{s}` is not a hidden-state index (expected `targets`, `all` or a comma list like 2,7)")))
                    .collect::<Result<Vec<_>, _>>()?;
                v.sort_unstable();
                v.dedup();
                Ok(Self::List(v))
            }
        }
    }
}

impl BaselineLayers {
    /// Checks an explicit list against the model's `n_hidden` hidden states (before slow work).
    pub fn check(&self, n_hidden: usize) -> Result<()> {
        if let Self::List(v) = self {
            for &l in v {
                ensure!(l < n_hidden, "--baseline-layers: hidden state {l} does not exist; the model has hidden states 0..={}", n_hidden - 1);
            }
        }
        ensure!(
            PAPER_LAYER < n_hidden,
            "--baseline-layers: the model has no hidden state {PAPER_LAYER}"
        );
        Ok(())
    }

    /// The sorted, deduplicated hidden states; `targets` adds `extra` (the best/target layers) to
    /// hidden state 2.
    pub fn resolve(&self, n_hidden: usize, extra: &[usize]) -> Result<Vec<usize>> {
        self.check(n_hidden)?;
        let mut v = match self {
            Self::All => (0..n_hidden).collect(),
            Self::List(v) => v.clone(),
            Self::Targets => std::iter::once(PAPER_LAYER)
                .chain(extra.iter().copied())
                .collect::<Vec<_>>(),
        };
        v.sort_unstable();
        v.dedup();
        ensure!(
            v.iter().all(|&l| l < n_hidden),
            "--baseline-layers: a target layer in {v:?} is beyond the model's hidden states 0..={}",
            n_hidden - 1
        );
        Ok(v)
    }
}

/// The `target_layer` of the training run that wrote `adapter` (`<train out>/summary.json`).
pub fn adapter_target_layer(adapter: &Path) -> Result<usize> {
    let file = adapter
        .parent()
        .unwrap_or(Path::new("."))
        .join("summary.json");
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("--baseline-layers targets reads the adapter's training summary {} (pass --baseline-layers all or a list instead)", file.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", file.display()))?;
    v.get("target_layer")
        .and_then(serde_json::Value::as_u64)
        .map(|l| l as usize)
        .with_context(|| format!("{}: no integer `target_layer`", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_resolves() {
        assert_eq!(
            "targets".parse::<BaselineLayers>().unwrap(),
            BaselineLayers::Targets
        );
        assert_eq!(
            "7, 2,7".parse::<BaselineLayers>().unwrap(),
            BaselineLayers::List(vec![2, 7])
        );
        assert!("2,x".parse::<BaselineLayers>().is_err());
        assert_eq!(
            BaselineLayers::Targets.resolve(19, &[9, 2]).unwrap(),
            vec![2, 9]
        );
        assert_eq!(
            BaselineLayers::All.resolve(4, &[]).unwrap(),
            vec![0, 1, 2, 3]
        );
        let e = BaselineLayers::List(vec![2, 19])
            .resolve(19, &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("hidden state 19 does not exist"), "{e}");
    }
}
