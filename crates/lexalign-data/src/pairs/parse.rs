//! Reading pair files: the authors' JSON, CSV/TSV with a header, and (`super::muse`) MUSE/VecMap
//! dictionaries, in file order, duplicates reported; the format detected from the content.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

use super::{Columns, Duplicate, Location, Pair, PairFile};

/// Read a pair file with the default columns (`swahili`,`english`, or `source`,`target`),
/// its format detected from its content.
pub fn read_pairs(path: impl AsRef<Path>) -> Result<PairFile> {
    read_pairs_with(path, &Columns::default())
}

/// [`read_pairs_as`] with the format detected from the content ([`detect_pair_format`]).
pub fn read_pairs_with(path: impl AsRef<Path>, columns: &Columns) -> Result<PairFile> {
    read_pairs_as(path, columns, None)
}

/// Read a pair file in `format`, or (`None`) the format [`detect_pair_format`] finds.
pub fn read_pairs_as(
    path: impl AsRef<Path>,
    columns: &Columns,
    format: Option<PairFormat>,
) -> Result<PairFile> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read pair file {}", path.display()))?;
    let origin = path.display().to_string();
    let format = match format {
        Some(f) => f,
        None => detect_pair_format(&text, &origin, columns)?,
    };
    match format {
        PairFormat::Json => parse_json_pairs(&text, &origin, columns),
        PairFormat::Csv => parse_delimited_pairs(&text, &origin, b',', columns),
        PairFormat::Tsv => parse_delimited_pairs(&text, &origin, b'\t', columns),
        PairFormat::Muse => super::muse::parse_muse_pairs(&text, &origin),
    }
}

/// The format of a pair file, from its content (the extension is not trusted: a MUSE file is
/// often `.txt`, a VecMap one `.tsv`): a leading `[` or `{` is JSON; a first line whose
/// comma- or tab-separated fields include the two column names (or `source`,`target`) is CSV or
/// TSV with that header; a first line of exactly two whitespace-separated words is a MUSE/VecMap
/// dictionary. A first line that fits both (the two column names separated by a space, or two
/// words with a comma in them) is an error asking for `--pairs-format`.
pub fn detect_pair_format(text: &str, origin: &str, columns: &Columns) -> Result<PairFormat> {
    let body = text.trim_start_matches('\u{feff}');
    if body.trim_start().starts_with(['[', '{']) {
        return Ok(PairFormat::Json);
    }
    let first = body
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim_end_matches('\r');
    let names = |sep: char| {
        let fields: Vec<&str> = first.split(sep).map(str::trim).collect();
        [columns.clone(), Columns::generic()]
            .iter()
            .any(|c| fields.contains(&c.source.as_str()) && fields.contains(&c.target.as_str()))
    };
    let header = if first.contains('\t') && names('\t') {
        Some(PairFormat::Tsv)
    } else if names(',') {
        Some(PairFormat::Csv)
    } else {
        None
    };
    let words: Vec<&str> = first.split_whitespace().collect();
    let two_words = words.len() == 2;
    let ambiguous = |why: &str| {
        anyhow!(
            "{origin}: line 1: {first:?} {why}; pass --pairs-format muse|csv|tsv|json to say which"
        )
    };
    let named = [columns.clone(), Columns::generic()]
        .iter()
        .any(|c| words == [c.source.as_str(), c.target.as_str()]);
    match header {
        Some(f) => Ok(f),
        None if two_words && named => Err(ambiguous(
            "names the two columns but is separated by a space: a header (CSV and TSV need a comma or \
             a tab) or a MUSE pair (MUSE dictionaries have no header)",
        )),
        None if two_words && first.contains(',') => {
            Err(ambiguous("could be a MUSE pair with a comma in a word or a CSV row without a header"))
        }
        None if two_words => Ok(PairFormat::Muse),
        // Not a pair line: the CSV/TSV reader says what header it wanted, the MUSE reader
        // (words separated by spaces only) how many fields the line has.
        None if first.contains('\t') => Ok(PairFormat::Tsv),
        None if first.contains(',') => Ok(PairFormat::Csv),
        None => Ok(PairFormat::Muse),
    }
}

/// The pair-file formats (`--pairs-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairFormat {
    /// The authors' JSON array of objects.
    Json,
    /// Comma-separated with a header naming the two columns.
    Csv,
    /// Tab-separated with a header naming the two columns.
    Tsv,
    /// MUSE/VecMap dictionary: `SOURCE TARGET` a line, no header.
    Muse,
}

impl PairFormat {
    /// Every format's name, as `--pairs-format` takes it.
    pub const NAMES: [&'static str; 4] = ["json", "csv", "tsv", "muse"];

    pub fn name(self) -> &'static str {
        match self {
            PairFormat::Json => "json",
            PairFormat::Csv => "csv",
            PairFormat::Tsv => "tsv",
            PairFormat::Muse => "muse",
        }
    }
}

impl std::str::FromStr for PairFormat {
    type Err = anyhow::Error;

    /// `json`, `csv`, `tsv`, `muse` (also `vecmap`, `txt`).
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "json" => PairFormat::Json,
            "csv" => PairFormat::Csv,
            "tsv" | "tab" => PairFormat::Tsv,
            "muse" | "vecmap" | "txt" => PairFormat::Muse,
            other => bail!("unknown pair format `{other}`: use json, csv, tsv or muse"),
        })
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
             name the two language columns in the first row or pass the column names \
             (a MUSE/VecMap dictionary has two words a line and no header: --pairs-format muse)",
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
pub(super) struct Builder<'a> {
    origin: &'a str,
    seen: HashMap<Pair, Location>,
    out: PairFile,
}

impl<'a> Builder<'a> {
    pub(super) fn new(origin: &'a str) -> Self {
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

    pub(super) fn push(
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

    pub(super) fn finish(self) -> PairFile {
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
