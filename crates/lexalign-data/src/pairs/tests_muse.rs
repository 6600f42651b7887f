//! MUSE/VecMap dictionaries: reading, writing, format detection, and the bad lines that must be
//! errors naming the file and line.

use super::*;
use anyhow::Result;

fn err<T: std::fmt::Debug>(r: Result<T>) -> String {
    format!("{:#}", r.unwrap_err())
}

#[test]
fn muse_lines_with_space_or_tab_and_repeated_sources() {
    let f = parse_muse_pairs("물 water\n물\twaters\r\n\n개  dog\n", "ko-en.txt").unwrap();
    assert_eq!(
        f.pairs,
        vec![
            Pair::new("물", "water"),
            Pair::new("물", "waters"),
            Pair::new("개", "dog")
        ]
    );
    assert_eq!(
        f.locations,
        vec![Location::Line(1), Location::Line(2), Location::Line(4)]
    );
    assert_eq!(f.pairs[2].whence(), "ko-en.txt: line 4");
}

#[test]
fn bad_muse_lines_name_file_and_line() {
    let e = err(parse_muse_pairs("물 water\n불\n", "d.txt"));
    assert!(
        e.contains("d.txt: line 2") && e.contains("one field"),
        "{e}"
    );
    let e = err(parse_muse_pairs("물 water\n불 fire flame\n", "d.txt"));
    assert!(e.contains("d.txt: line 2") && e.contains("3 fields"), "{e}");
    let e = err(parse_muse_pairs("물 water\n\n불 \tfire\n", "d.txt"));
    assert!(
        e.contains("d.txt: line 3") && e.contains("mixes a tab and spaces"),
        "{e}"
    );
    let e = err(parse_muse_pairs(" 불 fire\n", "d.txt"));
    assert!(
        e.contains("d.txt: line 1") && e.contains("starts with whitespace"),
        "{e}"
    );
    let e = err(parse_muse_pairs(
        "\u{feff}물 water\n\u{feff}불 fire\n",
        "d.txt",
    ));
    assert!(
        e.contains("d.txt: line 2") && e.contains("byte-order mark"),
        "{e}"
    );
    let e = err(parse_muse_pairs("\n \n", "d.txt"));
    assert!(e.contains("d.txt") && e.contains("no pairs"), "{e}");
}

#[test]
fn bad_muse_lines_through_read_pairs() {
    let dir = tempfile::tempdir().unwrap();
    for (text, line, what) in [
        ("물 water\n불\n", "line 2", "one field"),
        ("물 water\n불 fire flame\n", "line 2", "3 fields"),
        ("물\twater\n불\t fire\n", "line 2", "mixes a tab and spaces"),
        ("물 water fall\n", "line 1", "3 fields"),
    ] {
        let p = dir.path().join("ko-en.txt");
        std::fs::write(&p, text).unwrap();
        let e = err(read_pairs(&p));
        assert!(
            e.contains(&format!("{}: {line}", p.display())) && e.contains(what),
            "{text:?}: {e}"
        );
    }
}

#[test]
fn detection_by_content() {
    let c = Columns::default();
    let d = |t: &str| detect_pair_format(t, "f", &c);
    assert_eq!(
        d("[{\"swahili\":\"a\",\"english\":\"b\"}]").unwrap(),
        PairFormat::Json
    );
    assert_eq!(d("swahili,english\na,b\n").unwrap(), PairFormat::Csv);
    assert_eq!(d("id,english,swahili\n").unwrap(), PairFormat::Csv);
    assert_eq!(d("source\ttarget\na\tb\n").unwrap(), PairFormat::Tsv);
    assert_eq!(d("\u{feff}물 water\n").unwrap(), PairFormat::Muse);
    assert_eq!(d("\n물\twater\n").unwrap(), PairFormat::Muse);
    // Ambiguous: column names separated by a space; two words with a comma.
    let e = err(d("source target\na b\n"));
    assert!(
        e.contains("f: line 1") && e.contains("--pairs-format"),
        "{e}"
    );
    let e = err(d("a,b c\n"));
    assert!(e.contains("--pairs-format") && e.contains("comma"), "{e}");
    // The case: a MUSE file is no longer refused for lacking a header.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ko-en.txt");
    std::fs::write(&p, "물 water\n불 fire\n").unwrap();
    assert_eq!(
        read_pairs(&p).unwrap().pairs,
        vec![Pair::new("물", "water"), Pair::new("불", "fire")]
    );
}

#[test]
fn forcing_a_format_overrides_detection() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("d.txt");
    std::fs::write(&p, "source target\n물 water\n").unwrap();
    assert!(read_pairs(&p).is_err());
    let f = read_pairs_as(&p, &Columns::default(), Some(PairFormat::Muse)).unwrap();
    assert_eq!(f.pairs[0], Pair::new("source", "target"));
    let e = err(read_pairs_as(
        &p,
        &Columns::default(),
        Some(PairFormat::Json),
    ));
    assert!(e.contains("malformed JSON"), "{e}");
    assert_eq!("vecmap".parse::<PairFormat>().unwrap(), PairFormat::Muse);
    assert!(err("xml".parse::<PairFormat>()).contains("json, csv, tsv or muse"));
}

/// The same pairs as MUSE, TSV and the authors' JSON read to the same list (so every result
/// computed from them is the same).
#[test]
fn muse_tsv_and_json_read_alike() {
    let dir = tempfile::tempdir().unwrap();
    let pairs = vec![
        Pair::new("mbwa", "dog"),
        Pair::new("paka", "cat"),
        Pair::new("mbwa", "hound"),
    ];
    let muse = dir.path().join("p.txt");
    write_muse_pairs(&muse, &pairs).unwrap();
    let tsv = dir.path().join("p.tsv");
    std::fs::write(
        &tsv,
        "swahili\tenglish\nmbwa\tdog\npaka\tcat\nmbwa\thound\n",
    )
    .unwrap();
    let json = dir.path().join("p.json");
    let items: Vec<_> = pairs
        .iter()
        .map(|p| serde_json::json!({"swahili": p.source, "english": p.target}))
        .collect();
    std::fs::write(&json, serde_json::to_string(&items).unwrap()).unwrap();
    for f in [&muse, &tsv, &json] {
        assert_eq!(read_pairs(f).unwrap().pairs, pairs, "{}", f.display());
    }
}

#[test]
fn writer_joins_inner_whitespace_with_underscores() {
    assert_eq!(muse_word(" ice  cream "), "ice_cream");
    let text = muse_pairs_text(&[
        Pair::new("아이스 크림", "ice cream"),
        Pair::new("물", "water"),
    ])
    .unwrap();
    assert_eq!(text, "아이스_크림\tice_cream\n물\twater\n");
    assert_eq!(
        parse_muse_pairs(&text, "w").unwrap().pairs,
        vec![
            Pair::new("아이스_크림", "ice_cream"),
            Pair::new("물", "water")
        ]
    );
    let dir = tempfile::tempdir().unwrap();
    let n = write_muse_pairs(&dir.path().join("d.txt"), &[Pair::new("a b", "c")]).unwrap();
    assert_eq!(n, 1);
    assert!(err(muse_pairs_text(&[Pair::new(" ", "c")])).contains("empty word"));
}
