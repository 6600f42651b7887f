//! Line-per-item text inputs of the language-model commands (`--prompts`, `--text`): UTF-8
//! checked with the line of the first bad byte named, empty lines refused by number, and each
//! line checked against the tokenizer and the model's context before the model loads.

use anyhow::{bail, Context, Result};
use lexalign_model::tokenize::WordTokenizer;
use std::path::Path;

/// The lines of `path` (`\r\n` or `\n`; a final newline ends the last line). `flag` names the
/// flag in errors.
pub fn read_lines(path: &Path, flag: &str) -> Result<Vec<String>> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("{flag} {}: cannot read the file", path.display()))?;
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let line = e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() + 1;
            bail!(
                "{flag} {}: line {line} is not UTF-8 (byte {at}): save the file as UTF-8",
                path.display()
            );
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut lines: Vec<String> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l).to_string())
        .collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    if lines.is_empty() {
        bail!(
            "{flag} {}: the file has no lines: give one item per line",
            path.display()
        );
    }
    for (i, l) in lines.iter().enumerate() {
        if l.trim().is_empty() {
            bail!(
                "{flag} {}: line {} is empty: remove it or give text",
                path.display(),
                i + 1
            );
        }
    }
    Ok(lines)
}

/// A `--prompts` line with `\n` (backslash, n) turned into a newline.
pub fn unescape_prompt(line: &str) -> String {
    line.replace("\\n", "\n")
}

/// Token ids of each item, refusing (by item number and `what`) one with fewer than `min_tokens`
/// tokens or more than `max_tokens`.
pub fn tokenize_all(
    tok: &WordTokenizer,
    items: &[String],
    what: &str,
    min_tokens: usize,
    max_tokens: usize,
    hint: &str,
) -> Result<Vec<Vec<i64>>> {
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        if item.trim().is_empty() {
            bail!("{what} {} is empty: give some text", i + 1);
        }
        let ids = tok.encode(item)?;
        if ids.len() < min_tokens {
            bail!(
                "{what} {} ({item:?}) has {} token(s), fewer than the {min_tokens} needed{hint}",
                i + 1,
                ids.len()
            );
        }
        if ids.len() > max_tokens {
            bail!(
                "{what} {} has {} tokens, more than the {max_tokens} that fit{hint}",
                i + 1,
                ids.len()
            );
        }
        out.push(ids);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_checked_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.txt");
        std::fs::write(&p, "a\r\nb\\nc\n").unwrap();
        let lines = read_lines(&p, "--prompts").unwrap();
        assert_eq!(lines, ["a", "b\\nc"]);
        assert_eq!(unescape_prompt(&lines[1]), "b\nc");
        std::fs::write(&p, b"ok\n\xff\xfe\n").unwrap();
        let e = read_lines(&p, "--prompts").unwrap_err().to_string();
        assert!(e.contains("line 2 is not UTF-8"), "{e}");
        std::fs::write(&p, "ok\n \nx\n").unwrap();
        assert!(read_lines(&p, "--text")
            .unwrap_err()
            .to_string()
            .contains("line 2 is empty"));
        std::fs::write(&p, "").unwrap();
        assert!(read_lines(&p, "--text")
            .unwrap_err()
            .to_string()
            .contains("no lines"));
    }
}
