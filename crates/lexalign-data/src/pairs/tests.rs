//! Pair-file reading: formats, columns, errors that name the file and line, duplicates.

use super::*;
use anyhow::Result;

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
