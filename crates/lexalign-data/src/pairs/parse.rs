//! Reading pair files: the authors' JSON and CSV/TSV, in file order, duplicates reported.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

use super::{Columns, Duplicate, Location, Pair, PairFile};

/// Read a pair file with the default columns (`swahili`,`english`, or `source`,`target`).
pub fn read_pairs(path: impl AsRef<Path>) -> Result<PairFile> {
    read_pairs_with(path, &Columns::default())
}

/// Read a pair file. The format follows the extension (`.json`, `.csv`, `.tsv`); other names are
/// sniffed (a leading `[` is JSON, a tab in the header is TSV, else CSV).
pub fn read_pairs_with(path: impl AsRef<Path>, columns: &Columns) -> Result<PairFile> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read pair file {}", path.display()))?;
    let origin = path.display().to_string();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        Some("json") => parse_json_pairs(&text, &origin, columns),
        Some("csv") => parse_delimited_pairs(&text, &origin, b',', columns),
        Some("tsv") | Some("tab") => parse_delimited_pairs(&text, &origin, b'\t', columns),
        _ => {
            let body = text.trim_start_matches('\u{feff}').trim_start();
            if body.starts_with('[') {
                parse_json_pairs(&text, &origin, columns)
            } else if body.lines().next().is_some_and(|l| l.contains('\t')) {
                parse_delimited_pairs(&text, &origin, b'\t', columns)
            } else {
                parse_delimited_pairs(&text, &origin, b',', columns)
            }
        }
    }
}

/// Parse the authors' JSON: an array of objects with the two keys holding strings.
/// `origin` names the file in errors.
pub fn parse_json_pairs(text: &str, origin: &str, columns: &Columns) -> Result<PairFile> {
    let value: Value = serde_json::from_str(text.trim_start_matches('\u{feff}')).map_err(|e| {
        anyhow!(
            "{origin}: malformed JSON at line {} column {}: {e}; expected [{{\"{}\": .., \"{}\": ..}}, ..]",
            e.line(),
            e.column(),
            columns.source,
            columns.target
        )
    })?;
    let Value::Array(items) = value else {
        bail!(
            "{origin}: expected a JSON array of {{\"{}\": .., \"{}\": ..}} objects at the top level",
            columns.source,
            columns.target
        );
    };
    let generic = Columns::generic();
    let mut builder = Builder::new(origin);
    for (i, item) in items.iter().enumerate() {
        let Value::Object(obj) = item else {
            bail!(
                "{origin}: JSON index {i}: expected an object with \"{}\" and \"{}\", got {item}",
                columns.source,
                columns.target
            );
        };
        let cols = if obj.contains_key(&columns.source)
            || obj.contains_key(&columns.target)
            || !obj.contains_key("source")
        {
            columns
        } else {
            &generic
        };
        let field = |key: &str| -> Result<String> {
            match obj.get(key) {
                Some(Value::String(s)) => Ok(s.clone()),
                Some(other) => Err(anyhow!("{origin}: JSON index {i}: \"{key}\" must be a string, got {other}")),
                None => Err(anyhow!(
                    "{origin}: JSON index {i}: missing key \"{key}\" (keys present: {}); each entry needs \"{}\" and \"{}\"",
                    obj.keys().map(|k| format!("\"{k}\"")).collect::<Vec<_>>().join(", "),
                    cols.source,
                    cols.target
                )),
            }
        };
        let (s, t) = (field(&cols.source)?, field(&cols.target)?);
        builder.push(Location::Index(i), (&cols.source, s), (&cols.target, t))?;
    }
    Ok(builder.finish())
}

/// Parse CSV (`delimiter` `b','`) or TSV (`b'\t'`) with a header row naming the two columns
/// (other columns are ignored). `origin` names the file in errors.
pub fn parse_delimited_pairs(
    text: &str,
    origin: &str,
    delimiter: u8,
    columns: &Columns,
) -> Result<PairFile> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .flexible(false)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| anyhow!("{origin}: line 1: cannot read the header row: {e}"))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let find = |cols: &Columns| {
        let s = header.iter().position(|h| *h == cols.source)?;
        let t = header.iter().position(|h| *h == cols.target)?;
        Some((s, t, cols.clone()))
    };
    let (si, ti, cols) = find(columns).or_else(|| find(&Columns::generic())).ok_or_else(|| {
        anyhow!(
            "{origin}: line 1: the header {:?} has no \"{}\" and \"{}\" columns (nor \"source\" and \"target\"); \
             name the two language columns in the first row or pass the column names",
            header,
            columns.source,
            columns.target
        )
    })?;
    let mut builder = Builder::new(origin);
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            let reason = match e.kind() {
                csv::ErrorKind::UnequalLengths {
                    expected_len, len, ..
                } => {
                    format!("has {len} fields but the header has {expected_len}")
                }
                _ => e.to_string(),
            };
            anyhow!("{origin}: line {line}: malformed row: {reason}; fix or remove the row")
        })?;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let s = record.get(si).unwrap_or_default().to_string();
        let t = record.get(ti).unwrap_or_default().to_string();
        builder.push(Location::Line(line), (&cols.source, s), (&cols.target, t))?;
    }
    Ok(builder.finish())
}

/// Collects pairs, refuses empty fields and records duplicates.
struct Builder<'a> {
    origin: &'a str,
    seen: HashMap<Pair, Location>,
    out: PairFile,
}

impl<'a> Builder<'a> {
    fn new(origin: &'a str) -> Self {
        Self {
            origin,
            seen: HashMap::new(),
            out: PairFile {
                pairs: vec![],
                locations: vec![],
                duplicates: vec![],
            },
        }
    }

    fn push(
        &mut self,
        at: Location,
        (sk, s): (&str, String),
        (tk, t): (&str, String),
    ) -> Result<()> {
        for (key, v) in [(sk, &s), (tk, &t)] {
            if v.trim().is_empty() {
                bail!(
                    "{}: {at}: \"{key}\" is empty; fill it in or remove the entry",
                    self.origin
                );
            }
        }
        let pair = Pair::new(s, t).at(self.origin, at);
        if let Some(first) = self.seen.get(&pair) {
            self.out.duplicates.push(Duplicate {
                pair: pair.clone(),
                first: *first,
                repeat: at,
            });
        } else {
            self.seen.insert(pair.clone(), at);
        }
        self.out.pairs.push(pair);
        self.out.locations.push(at);
        Ok(())
    }

    fn finish(self) -> PairFile {
        let dups = &self.out.duplicates;
        if !dups.is_empty() {
            let examples: Vec<String> = dups
                .iter()
                .take(5)
                .map(|d| {
                    format!(
                        "{:?}/{:?} at {} (first at {})",
                        d.pair.source, d.pair.target, d.repeat, d.first
                    )
                })
                .collect();
            log::warn!(
                "{}: {} duplicate pair(s), kept in order: {}{}",
                self.origin,
                dups.len(),
                examples.join("; "),
                if dups.len() > 5 { "; ..." } else { "" }
            );
        }
        self.out
    }
}
