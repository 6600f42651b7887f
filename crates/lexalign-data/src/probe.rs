//! The authors' qualitative probe (`results/evaluation/qualitative_probe_results.md`, written by
//! their script 05): for each probed pair a `## Probing for: `sw` <-> `en`` heading and a Markdown
//! table `| Prompt Template | Prompt | Base Model Output | TLI-Tuned Model Output |`, one row per
//! prompt template. The script wrapped prompt and outputs in backticks, escaped `|` as `\|` in all
//! three, and wrote the outputs' newlines as `<br>`, but not the prompt's: the template
//! `Swahili: {swahili}\nEnglish meaning: ` puts a real line break inside its table row, so a row
//! continues on the next line until it ends with an unescaped `|`.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// Script 05's six prompt templates (name, template), in its order; `{swahili}` and `{english}`
/// are the pair's words.
pub const PROBE_TEMPLATES: [(&str, &str); 6] = [
    (
        "Direct Translation (Sw-En)",
        "The English word for '{swahili}' is",
    ),
    (
        "Reverse Translation (En-Sw)",
        "The Swahili word for '{english}' is",
    ),
    (
        "Code-switched Sentence (Noun)",
        "Nilienda sokoni kununua {swahili}. Katika Kiingereza, tunaita ",
    ),
    (
        "Code-switched Sentence (Verb/Adj)",
        "He is my {swahili} friend. He is very ",
    ),
    (
        "Contextual Definition (Sw)",
        "Swahili: {swahili}\nEnglish meaning: ",
    ),
    (
        "Sentence Completion (Sw-En)",
        "Nilipofika nyumbani, niliona rafiki yangu. My friend, the ",
    ),
];

/// One table row: the prompt and the two generations (escapes undone, `<br>` back to `\n`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeRow {
    pub swahili: String,
    pub english: String,
    /// The template's name (first column).
    pub template: String,
    pub prompt: String,
    /// The base model's new tokens, decoded.
    pub base: String,
    /// The TLI-tuned (merged adapter) model's.
    pub tuned: String,
    /// 1-based line of the file where the row starts.
    pub line: usize,
}

/// Fill a template with a pair's words.
pub fn probe_prompt(template: &str, swahili: &str, english: &str) -> String {
    template
        .replace("{swahili}", swahili)
        .replace("{english}", english)
}

/// Read and check the file: every row under a pair heading, four cells each, and every prompt
/// equal to its template filled with the heading's pair (so a mis-joined row is caught).
pub fn read_probe(path: impl AsRef<Path>) -> Result<Vec<ProbeRow>> {
    let path = path.as_ref();
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_probe(&text).with_context(|| format!("{}: not the authors' probe table", path.display()))
}

/// [`read_probe`] on text.
pub fn parse_probe(text: &str) -> Result<Vec<ProbeRow>> {
    let mut rows = Vec::new();
    let mut pair: Option<(String, String)> = None;
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if let Some((start, mut acc)) = pending.take() {
            acc.push('\n');
            acc.push_str(line);
            if row_complete(&acc) {
                rows.push(row(&acc, start, pair.as_ref())?);
            } else {
                pending = Some((start, acc));
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("## Probing for: ") {
            pair = Some(heading(rest).with_context(|| format!("line {n}"))?);
        } else if line.starts_with("| Prompt Template |") || line.starts_with("|---") {
            continue;
        } else if line.starts_with('|') {
            if row_complete(line) {
                rows.push(row(line, n, pair.as_ref())?);
            } else {
                pending = Some((n, line.to_string()));
            }
        }
    }
    if let Some((start, _)) = pending {
        bail!("line {start}: the table row never ends (no closing `|`)");
    }
    if rows.is_empty() {
        bail!("no table rows found");
    }
    Ok(rows)
}

/// `` `sw` <-> `en` `` of a heading.
fn heading(rest: &str) -> Result<(String, String)> {
    let (a, b) = rest
        .split_once(" <-> ")
        .context("the heading is not `## Probing for: `sw` <-> `en``")?;
    let unq = |s: &str| s.trim().trim_matches('`').to_string();
    Ok((unq(a), unq(b)))
}

/// A row ends with an unescaped `|`.
fn row_complete(s: &str) -> bool {
    let t = s.trim_end();
    t.len() > 1 && t.ends_with('|') && !t.ends_with("\\|")
}

/// Split on unescaped `|` (the outer ones included).
fn cells(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.trim().chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cur.push('|');
                chars.next();
            }
            '|' => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    // `| a | b |` splits into "", a, b, "".
    out.into_iter()
        .skip(1)
        .collect::<Vec<_>>()
        .split_last()
        .map(|(_, v)| v.to_vec())
        .unwrap_or_default()
}

/// A cell's text between its backticks.
fn code(cell: &str, what: &str) -> Result<String> {
    let t = cell.trim();
    let inner = t
        .strip_prefix('`')
        .and_then(|x| x.strip_suffix('`'))
        .with_context(|| format!("the {what} cell is not wrapped in backticks: {t:?}"))?;
    Ok(inner.to_string())
}

fn row(text: &str, line: usize, pair: Option<&(String, String)>) -> Result<ProbeRow> {
    let (sw, en) = pair.with_context(|| {
        format!("line {line}: a table row before any `## Probing for:` heading")
    })?;
    let c = cells(text);
    let [template, prompt, base, tuned] = &c[..] else {
        bail!(
            "line {line}: {} cells, expected 4 (template, prompt, base output, tuned output)",
            c.len()
        );
    };
    let template = template.trim().to_string();
    let prompt = code(prompt, "prompt").with_context(|| format!("line {line}"))?;
    let (_, tpl) = PROBE_TEMPLATES
        .iter()
        .find(|(name, _)| *name == template)
        .with_context(|| format!("line {line}: unknown prompt template {template:?}"))?;
    let want = probe_prompt(tpl, sw, en);
    if prompt != want {
        bail!("line {line}: the prompt {prompt:?} is not the template {template:?} for `{sw}` / `{en}` ({want:?})");
    }
    let out = |cell: &str, what: &str| -> Result<String> {
        Ok(code(cell, what)
            .with_context(|| format!("line {line}"))?
            .replace("<br>", "\n"))
    };
    Ok(ProbeRow {
        swahili: sw.clone(),
        english: en.clone(),
        template,
        prompt,
        base: out(base, "base output")?,
        tuned: out(tuned, "tuned output")?,
        line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "| Prompt Template | Prompt | Base Model Output | TLI-Tuned Model Output |\n|---|---|---|---|\n";

    #[test]
    fn rows_escapes_and_the_split_prompt() {
        let text = format!(
            "# t\n\n---\n\n## Probing for: `mbwa` <-> `dog`\n\n{HEAD}\
             | Direct Translation (Sw-En) | `The English word for 'mbwa' is` | ` dog.<br>Yes` | `a \\| b` |\n\
             | Contextual Definition (Sw) | `Swahili: mbwa\nEnglish meaning: ` | `x` | `Привет` |\n"
        );
        let rows = parse_probe(&text).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].base, " dog.\nYes");
        assert_eq!(rows[0].tuned, "a | b");
        assert_eq!(rows[0].line, 9);
        assert_eq!(rows[1].prompt, "Swahili: mbwa\nEnglish meaning: ");
        assert_eq!(rows[1].tuned, "Привет");
        assert_eq!(
            (rows[1].swahili.as_str(), rows[1].english.as_str()),
            ("mbwa", "dog")
        );
        assert_eq!(rows[1].line, 10);
    }

    #[test]
    fn bad_tables_are_refused_with_the_line() {
        let row = "| Direct Translation (Sw-En) | `The English word for 'paka' is` | `a` | `b` |\n";
        let e = format!(
            "{:#}",
            parse_probe(&format!("## Probing for: `mbwa` <-> `dog`\n{row}")).unwrap_err()
        );
        assert!(e.contains("line 2") && e.contains("paka"), "{e}");
        let e = format!("{:#}", parse_probe(row).unwrap_err());
        assert!(e.contains("line 1") && e.contains("heading"), "{e}");
        let three = "## Probing for: `a` <-> `b`\n| Direct Translation (Sw-En) | `x` | `y` |\n";
        let e = format!("{:#}", parse_probe(three).unwrap_err());
        assert!(e.contains("3 cells"), "{e}");
        let open = "## Probing for: `a` <-> `b`\n| Contextual Definition (Sw) | `Swahili: a\n";
        let e = format!("{:#}", parse_probe(open).unwrap_err());
        assert!(e.contains("line 2") && e.contains("never ends"), "{e}");
        assert!(parse_probe("# nothing\n").is_err());
    }
}
