//! The one reader and writer of typed run files: CSV with a header from the row type, and JSON
//! Lines (one compact object per line). Each run file's module (`lm_rows`, `behaviour_rows`,
//! `authors_rows`, `arm_rows`) names its rows and files and calls these, so that every error names
//! the file and the line the same way.

use std::path::Path;

use anyhow::{Context, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A CSV file's bytes from typed rows (the header comes from the row type); `what` names the file
/// in an error.
pub fn csv_bytes<T: Serialize>(rows: &[T], what: &str) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r).with_context(|| format!("writing {what}"))?;
    }
    w.into_inner().with_context(|| format!("writing {what}"))
}

/// Typed rows of a CSV file, read by header name; an error names the file and the line (the
/// header is line 1).
pub fn read_csv<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let mut r =
        csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    r.deserialize()
        .enumerate()
        .map(|(i, row)| {
            row.with_context(|| {
                format!(
                    "{} line {}: not a {} row",
                    path.display(),
                    i + 2,
                    short_type_name::<T>()
                )
            })
        })
        .collect()
}

/// JSON Lines bytes: one compact JSON object per row and line.
pub fn jsonl_bytes<T: Serialize>(rows: &[T]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for r in rows {
        serde_json::to_writer(&mut out, r)?;
        out.push(b'\n');
    }
    Ok(out)
}

/// Typed rows of a JSON Lines file (blank lines skipped); an error names the file and the line.
pub fn read_jsonl<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).with_context(|| {
                format!(
                    "{} line {}: not a {} row",
                    path.display(),
                    i + 1,
                    short_type_name::<T>()
                )
            })
        })
        .collect()
}

/// `GenerationRow` rather than `lexalign_data::lm_rows::GenerationRow`.
fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    full.rsplit("::").next().unwrap_or(full)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Row {
        word: String,
        n: usize,
    }

    #[test]
    fn both_formats_round_trip_and_name_the_bad_line() {
        let d = tempfile::tempdir().unwrap();
        let rows = vec![
            Row {
                word: "물".into(),
                n: 2,
            },
            Row {
                word: "water".into(),
                n: 1,
            },
        ];
        let c = d.path().join("rows.csv");
        std::fs::write(&c, csv_bytes(&rows, "rows.csv").unwrap()).unwrap();
        assert_eq!(read_csv::<Row>(&c).unwrap(), rows);
        let j = d.path().join("rows.jsonl");
        std::fs::write(&j, jsonl_bytes(&rows).unwrap()).unwrap();
        assert_eq!(read_jsonl::<Row>(&j).unwrap(), rows);
        std::fs::write(&c, "word,n\nx,1\ny,two\n").unwrap();
        let e = format!("{:#}", read_csv::<Row>(&c).unwrap_err());
        assert!(e.contains("rows.csv line 3: not a Row row"), "{e}");
        std::fs::write(&j, "{\"word\":\"x\",\"n\":1}\n\n{\"word\":1}\n").unwrap();
        let e = format!("{:#}", read_jsonl::<Row>(&j).unwrap_err());
        assert!(e.contains("rows.jsonl line 3: not a Row row"), "{e}");
    }
}
