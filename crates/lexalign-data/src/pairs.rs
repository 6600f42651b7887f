//! Translation-pair files: the authors' JSON (`[{"swahili":..,"english":..}]`) and CSV/TSV with a
//! header naming the two language columns. Order is kept; duplicates are reported, not dropped.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

/// One translation pair (source language word, target language word), as written in the file,
/// with where it was read from (so later checks can name the file and line).
///
/// Equality, hashing and ordering look at the two strings only: the same pair read from two
/// places is the same pair.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Pair {
    pub source: String,
    pub target: String,
    /// File and line (or JSON index) it was read from; `None` for pairs made in memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

impl Pair {
    /// A pair made in memory (no origin).
    pub fn new(source: impl Into<String>, target: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            target: target.into(),
            origin: None,
        }
    }

    /// The same pair, recording where it was read from.
    pub fn at(mut self, file: impl Into<String>, at: Location) -> Self {
        self.origin = Some(Origin {
            file: file.into(),
            at,
        });
        self
    }

    /// `file: line N` (or `in memory`), for messages.
    pub fn whence(&self) -> String {
        match &self.origin {
            Some(o) => o.to_string(),
            None => "in memory".into(),
        }
    }

    fn key(&self) -> (&str, &str) {
        (&self.source, &self.target)
    }
}

impl PartialEq for Pair {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Pair {}

impl std::hash::Hash for Pair {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state)
    }
}

impl PartialOrd for Pair {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pair {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

/// Where a pair was read from: the file (as given) and the line or JSON index in it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Origin {
    pub file: String,
    pub at: Location,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.at)
    }
}

/// Names of the source and target columns (CSV/TSV header) or keys (JSON objects).
/// Files naming their columns `source`,`target` are accepted whatever is configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    pub source: String,
    pub target: String,
}

impl Default for Columns {
    /// The authors' names: `swahili`, `english`.
    fn default() -> Self {
        Self::new("swahili", "english")
    }
}

impl Columns {
    pub fn new(source: impl Into<String>, target: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            target: target.into(),
        }
    }

    fn generic() -> Self {
        Self::new("source", "target")
    }
}

/// Where a pair sits in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Location {
    /// 1-based line of a CSV/TSV file.
    Line(u64),
    /// 0-based index in the JSON array.
    Index(usize),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(l) => write!(f, "line {l}"),
            Location::Index(i) => write!(f, "JSON index {i}"),
        }
    }
}

/// A pair that appears again after its first occurrence (both are kept in [`PairFile::pairs`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    pub pair: Pair,
    pub first: Location,
    pub repeat: Location,
}

/// The pairs of one file, in file order, with their locations and the repeated pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairFile {
    pub pairs: Vec<Pair>,
    pub locations: Vec<Location>,
    pub duplicates: Vec<Duplicate>,
}

impl PairFile {
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Source words, in order.
    pub fn sources(&self) -> Vec<&str> {
        self.pairs.iter().map(|p| p.source.as_str()).collect()
    }

    /// Target words, in order.
    pub fn targets(&self) -> Vec<&str> {
        self.pairs.iter().map(|p| p.target.as_str()).collect()
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn err(r: Result<PairFile>) -> String {
        format!("{:#}", r.unwrap_err())
    }

    #[test]
    fn authors_json_in_order() {
        let text =
            r#"[{"swahili": "-anana", "english": "thin"}, {"swahili": "mbwa", "english": "dog"}]"#;
        let f = parse_json_pairs(text, "w.json", &Columns::default()).unwrap();
        assert_eq!(
            f.pairs,
            vec![Pair::new("-anana", "thin"), Pair::new("mbwa", "dog")]
        );
        assert_eq!(f.locations, vec![Location::Index(0), Location::Index(1)]);
        assert!(f.duplicates.is_empty());
        assert_eq!(f.sources(), vec!["-anana", "mbwa"]);
    }

    #[test]
    fn json_with_source_target_keys() {
        let text = r#"[{"source": "a", "target": "b"}]"#;
        let f = parse_json_pairs(text, "w.json", &Columns::default()).unwrap();
        assert_eq!(f.pairs, vec![Pair::new("a", "b")]);
    }

    #[test]
    fn malformed_json_names_file_and_line() {
        let e = err(parse_json_pairs(
            "[\n{\"swahili\": \"a\",\n \"english\": }]",
            "w.json",
            &Columns::default(),
        ));
        assert!(
            e.contains("w.json") && e.contains("malformed JSON at line 3"),
            "{e}"
        );
        let e = err(parse_json_pairs(
            "{\"swahili\": \"a\"}",
            "w.json",
            &Columns::default(),
        ));
        assert!(e.contains("JSON array"), "{e}");
    }

    #[test]
    fn json_missing_or_wrong_typed_field() {
        let e = err(parse_json_pairs(
            r#"[{"swahili": "a", "english": "b"}, {"swahili": "c"}]"#,
            "w.json",
            &Columns::default(),
        ));
        assert!(
            e.contains("JSON index 1") && e.contains("missing key \"english\""),
            "{e}"
        );
        let e = err(parse_json_pairs(
            r#"[{"swahili": "a", "english": 3}]"#,
            "w.json",
            &Columns::default(),
        ));
        assert!(
            e.contains("JSON index 0") && e.contains("must be a string"),
            "{e}"
        );
        let e = err(parse_json_pairs(r#"["a"]"#, "w.json", &Columns::default()));
        assert!(e.contains("expected an object"), "{e}");
    }

    #[test]
    fn empty_strings_are_refused() {
        let e = err(parse_json_pairs(
            r#"[{"swahili": "a", "english": "  "}]"#,
            "w.json",
            &Columns::default(),
        ));
        assert!(
            e.contains("w.json: JSON index 0: \"english\" is empty"),
            "{e}"
        );
        let e = err(parse_delimited_pairs(
            "swahili,english\na,b\n,c\n",
            "p.csv",
            b',',
            &Columns::default(),
        ));
        assert!(e.contains("p.csv: line 3: \"swahili\" is empty"), "{e}");
    }

    #[test]
    fn csv_and_tsv_with_configurable_columns() {
        let f = parse_delimited_pairs(
            "id,english,swahili\n1,dog,mbwa\n2,cat,paka\n",
            "p.csv",
            b',',
            &Columns::default(),
        )
        .unwrap();
        assert_eq!(
            f.pairs,
            vec![Pair::new("mbwa", "dog"), Pair::new("paka", "cat")]
        );
        assert_eq!(f.locations, vec![Location::Line(2), Location::Line(3)]);
        let f = parse_delimited_pairs(
            "source\ttarget\nmbwa\tdog\n",
            "p.tsv",
            b'\t',
            &Columns::default(),
        )
        .unwrap();
        assert_eq!(f.pairs, vec![Pair::new("mbwa", "dog")]);
        let cols = Columns::new("fr", "en");
        let f = parse_delimited_pairs("fr,en\nchien,dog\n", "p.csv", b',', &cols).unwrap();
        assert_eq!(f.pairs, vec![Pair::new("chien", "dog")]);
    }

    #[test]
    fn bad_column_is_refused() {
        let e = err(parse_delimited_pairs(
            "swahili,englsh\na,b\n",
            "p.csv",
            b',',
            &Columns::default(),
        ));
        assert!(
            e.contains("p.csv: line 1") && e.contains("\"english\""),
            "{e}"
        );
    }

    #[test]
    fn malformed_row_names_line() {
        let e = err(parse_delimited_pairs(
            "swahili,english\na,b\nc,d,e\n",
            "p.csv",
            b',',
            &Columns::default(),
        ));
        assert!(
            e.contains("p.csv: line 3: malformed row") && e.contains("3 fields"),
            "{e}"
        );
    }

    #[test]
    fn duplicates_are_kept_and_reported() {
        let text = "swahili,english\nmbwa,dog\npaka,cat\nmbwa,dog\n";
        let f = parse_delimited_pairs(text, "p.csv", b',', &Columns::default()).unwrap();
        assert_eq!(f.len(), 3);
        assert_eq!(
            f.duplicates,
            vec![Duplicate {
                pair: Pair::new("mbwa", "dog"),
                first: Location::Line(2),
                repeat: Location::Line(4)
            }]
        );
        let f = parse_json_pairs(
            r#"[{"swahili":"a","english":"b"},{"swahili":"a","english":"b"}]"#,
            "w.json",
            &Columns::default(),
        )
        .unwrap();
        assert_eq!(f.duplicates[0].repeat, Location::Index(1));
    }

    #[test]
    fn read_by_extension_and_sniffing() {
        let dir = tempfile::tempdir().unwrap();
        let j = dir.path().join("w.json");
        std::fs::write(&j, r#"[{"swahili":"a","english":"b"}]"#).unwrap();
        assert_eq!(read_pairs(&j).unwrap().len(), 1);
        let t = dir.path().join("w.txt");
        std::fs::write(&t, "swahili\tenglish\nx\ty\n").unwrap();
        assert_eq!(read_pairs(&t).unwrap().pairs, vec![Pair::new("x", "y")]);
        let e = format!(
            "{:#}",
            read_pairs(dir.path().join("none.json")).unwrap_err()
        );
        assert!(e.contains("none.json"), "{e}");
    }
}
