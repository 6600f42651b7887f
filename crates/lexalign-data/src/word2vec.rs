//! The word2vec text format (`.vec`) that MUSE, VecMap and fastText read: a first line
//! `N DIM`, then one line per word, `word v1 v2 ... vDIM`, separated by single spaces.
//!
//! Values are written with Rust's shortest round-trip form of the f32 (`{}`), so reading a file
//! back (as f32, or as f64 then rounded to f32 as MUSE does) gives the very same bits: a metric
//! recomputed from an exported file equals the one lexalign reported. Words go through
//! [`crate::muse_word`] (inner whitespace becomes `_`), as in the MUSE dictionaries lexalign
//! writes, so both name a word alike.

use anyhow::{anyhow, bail, Result};

/// Words and their vectors, row-major (`n x dim`).
#[derive(Debug, Clone, PartialEq)]
pub struct VecFile {
    pub words: Vec<String>,
    pub dim: usize,
    pub data: Vec<f32>,
}

impl VecFile {
    /// The vector of row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }
}

/// The `.vec` text of `words` (one row of `data` each, `dim` values). Non-finite values and
/// words that collide once written (`a b` and `a_b`) are errors naming the word.
pub fn vec_text(words: &[String], dim: usize, data: &[f32]) -> Result<String> {
    if data.len() != words.len() * dim {
        bail!(
            "{} words of dimension {dim} need {} values, got {}",
            words.len(),
            words.len() * dim,
            data.len()
        );
    }
    let mut out = format!("{} {dim}\n", words.len());
    let mut seen = std::collections::HashMap::new();
    for (i, w) in words.iter().enumerate() {
        let name = crate::muse_word(w);
        if name.is_empty() {
            bail!("word {i} is empty or only whitespace; a .vec file cannot hold it");
        }
        if let Some(j) = seen.insert(name.clone(), i) {
            bail!("words {j} and {i} are both written {name:?} in a .vec file (inner whitespace becomes `_`)");
        }
        out.push_str(&name);
        for &v in &data[i * dim..(i + 1) * dim] {
            if !v.is_finite() {
                bail!(
                    "the vector of {w:?} (row {i}) holds {v}; a .vec file takes finite values only"
                );
            }
            out.push(' ');
            out.push_str(&v.to_string());
        }
        out.push('\n');
    }
    Ok(out)
}

/// Parses a `.vec` file's text; `origin` names it in errors (with the line).
pub fn parse_vec(text: &str, origin: &str) -> Result<VecFile> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, head) = lines
        .next()
        .ok_or_else(|| anyhow!("{origin}: empty; a .vec file starts with `N DIM`"))?;
    let nums: Vec<usize> = head
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|_| anyhow!("{origin}: line 1: {head:?} is not `N DIM` (two whole numbers)"))?;
    let [n, dim] = nums[..] else {
        bail!("{origin}: line 1: {head:?} is not `N DIM` (two whole numbers)");
    };
    let mut f = VecFile {
        words: Vec::with_capacity(n),
        dim,
        data: Vec::with_capacity(n.min(1 << 20) * dim),
    };
    for (i, line) in lines {
        let mut fields = line.trim_end().split(' ');
        let word = fields.next().unwrap_or_default();
        let before = f.data.len();
        for v in fields {
            let x: f32 = v
                .parse()
                .map_err(|_| anyhow!("{origin}: line {}: {v:?} is not a number", i + 1))?;
            if !x.is_finite() {
                bail!(
                    "{origin}: line {}: {word:?} has a non-finite value {v}",
                    i + 1
                );
            }
            f.data.push(x);
        }
        if f.data.len() - before != dim {
            bail!(
                "{origin}: line {}: {word:?} has {} values, the header says {dim}",
                i + 1,
                f.data.len() - before
            );
        }
        f.words.push(word.to_string());
    }
    if f.words.len() != n {
        bail!(
            "{origin}: the header says {n} words but the file has {}",
            f.words.len()
        );
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_bit() {
        let words = vec!["물".to_string(), "ice cream".to_string()];
        let data = [0.1f32, -1.0e-30, f32::MAX, 1.0 / 3.0, -0.0, 7.0];
        let text = vec_text(&words, 3, &data).unwrap();
        assert!(text.starts_with("2 3\n물 0.1 "), "{text}");
        let f = parse_vec(&text, "t.vec").unwrap();
        assert_eq!(f.words, vec!["물", "ice_cream"]);
        let bits = |d: &[f32]| d.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&f.data), bits(&data));
        // As MUSE reads it: parse as f64, then round to f32.
        for (s, x) in text.lines().nth(1).unwrap().split(' ').skip(1).zip(&data) {
            assert_eq!(
                (s.parse::<f64>().unwrap() as f32).to_bits(),
                x.to_bits(),
                "{s}"
            );
        }
    }

    #[test]
    fn bad_files_and_values_are_named() {
        let w = vec!["a".to_string()];
        let e = format!("{:#}", vec_text(&w, 1, &[f32::NAN]).unwrap_err());
        assert!(e.contains("holds NaN"), "{e}");
        let e = format!("{:#}", vec_text(&w, 1, &[f32::INFINITY]).unwrap_err());
        assert!(e.contains("\"a\"") && e.contains("finite"), "{e}");
        let two = vec!["a b".to_string(), "a_b".to_string()];
        assert!(format!("{:#}", vec_text(&two, 1, &[1.0, 2.0]).unwrap_err()).contains("\"a_b\""));
        let e = format!("{:#}", parse_vec("2 2\na 1 2\nb 1\n", "x.vec").unwrap_err());
        assert!(e.contains("x.vec: line 3") && e.contains("1 values"), "{e}");
        let e = format!("{:#}", parse_vec("3 1\na 1\n", "x.vec").unwrap_err());
        assert!(e.contains("3 words"), "{e}");
        let e = format!("{:#}", parse_vec("a b\n", "x.vec").unwrap_err());
        assert!(e.contains("x.vec: line 1"), "{e}");
    }
}
