//! The readers on the real files in ../shared/lexicons (required under CI) and on malformed
//! copies written to temporary folders.

use std::io::Write;
use std::path::Path;

use super::*;

/// The real folder; under CI (env CI set) a missing folder fails the test, elsewhere it skips.
fn real() -> Option<Lexicons> {
    match Lexicons::locate(None) {
        Ok(l) => Some(l),
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!("CI is set but the lexicon folder is missing ({e:#}); lay out ../shared/lexicons or set {ENV_LEXICONS}")
        }
        Err(e) => {
            eprintln!("skipping: the lexicon folder was not found ({e:#})");
            None
        }
    }
}

#[test]
fn committed_sums_match_the_readme() {
    let sums = parse_sums(LEXICON_SUMS, SUMS_NAME).unwrap();
    assert_eq!(
        sums[KENGDIC_SQL],
        "0f0aa3e5a93d0af0e6dd344d578411e66ced697440daa3414e4b5a2e8577571c"
    );
    for f in [FREEDICT_INDEX, FREEDICT_DICT, CLDR_EN, CLDR_KO, CLDR_SW] {
        assert!(sums.contains_key(f), "{f}");
    }
}

#[test]
fn real_kengdic_matches_the_readme_facts() {
    let Some(l) = real() else { return };
    l.verify().unwrap();
    let k = l.kengdic().unwrap();
    let s = &k.stats;
    assert_eq!(s.sources, 1666, "{s:?}");
    let levels: Vec<(&str, usize)> = s.levels.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(levels, vec![("A", 450), ("B", 597), ("C", 608), ("D", 11)]);
    assert_eq!(
        s.counts["rows"], 5666,
        "5,667 lines, one row broken over two"
    );
    assert_eq!(s.counts["rows continued over a line break"], 1);
    // Glosses repeat: several headwords share "korea".
    let korea: Vec<&str> = k
        .pairs
        .iter()
        .filter(|p| p.target == "korea")
        .map(|p| p.source.as_str())
        .collect();
    for w in ["한국", "대한민국", "우리나라"] {
        assert!(korea.contains(&w), "{korea:?}");
    }
    let p = k.pairs.iter().find(|p| p.source == "발달하다").unwrap();
    assert_eq!(p.target, "advance");
    assert!(
        p.whence().contains("ezcorean_6000.sql: line "),
        "{}",
        p.whence()
    );
    assert_eq!(s.files.len(), 1);
    // 600 evaluated pairs held out, the rest for training, string-disjoint.
    let split = crate::split_disjoint(&k.pairs, None, 600, 0).unwrap();
    eprintln!("kengdic: {} pairs; {}", k.pairs.len(), split.describe());
    assert_eq!(split.test.len(), 600);
    assert!(crate::overlap(&split.train, &split.test).is_empty());
}

#[test]
fn real_freedict_and_cldr() {
    let Some(l) = real() else { return };
    let f = l.freedict_swh_eng().unwrap();
    eprintln!("freedict: {:?}", f.stats);
    assert_eq!(f.stats.counts["index headwords"], 2675);
    let gold = f.gold();
    assert!(
        gold["acha"].contains("leave") && gold["acha"].contains("quit"),
        "{:?}",
        gold["acha"]
    );
    assert!(gold["afisa"].contains("officer") && gold["ofisa"].contains("officer"));
    assert!(gold["adui"].contains("opponent"), "parenthetical dropped");
    assert!(
        !gold.contains_key("wezi"),
        "plural-only entries have no sense line"
    );
    let ko = l.cldr_ko_en().unwrap();
    let sw = l.cldr_sw_en().unwrap();
    eprintln!("cldr: {:?}\n{:?}", ko.stats, sw.stats);
    // README: 502 ko-en among the 1,670 cps all three files name; ko.xml and en.xml also share
    // 240 draft symbol names, 16 of them one word.
    assert_eq!(ko.pairs.len(), 518);
    assert_eq!(ko.stats.counts["pairs whose ko name is a draft"], 16);
    assert_eq!(sw.pairs.len(), 428);
    assert!(ko
        .pairs
        .iter()
        .any(|p| p.source == "하이픈" && p.target == "hyphen"));
    assert!(sw.pairs.iter().any(|p| p.target == "t-shirt"));
    let split = crate::split_disjoint(&sw.pairs, Some(300), 100, 1).unwrap();
    eprintln!("cldr sw-en: {}", split.describe());
}

fn copy_real(dir: &Path) -> Option<Lexicons> {
    let l = real()?;
    for rel in parse_sums(LEXICON_SUMS, SUMS_NAME).unwrap().keys() {
        let to = dir.join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(l.path(rel), &to).unwrap();
        let mut perm = std::fs::metadata(&to).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perm.set_readonly(false);
        std::fs::set_permissions(&to, perm).unwrap();
    }
    Some(Lexicons::at(dir).unwrap())
}

#[test]
fn wrong_sha_names_file_and_both_sums() {
    let dir = tempfile::tempdir().unwrap();
    let Some(l) = copy_real(dir.path()) else {
        return;
    };
    let p = l.path(CLDR_SW);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&p)
        .unwrap()
        .write_all(b"\n")
        .unwrap();
    let actual = lexalign_run::sha256_file(&p).unwrap();
    let e = format!("{:#}", l.cldr_sw_en().unwrap_err());
    assert!(e.contains("sw.xml") && e.contains(&actual), "{e}");
    assert!(
        e.contains("f68c46aa498923141b882532adae29c64d269c71f72ae82756a2fd6bbe7e5834"),
        "{e}"
    );
    l.cldr_ko_en().unwrap();
    let e = format!("{:#}", l.verify().unwrap_err());
    assert!(e.contains("sw.xml") && !e.contains("ko.xml has"), "{e}");
}

#[test]
fn truncated_dict_dz_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let Some(l) = copy_real(dir.path()) else {
        return;
    };
    let p = l.path(FREEDICT_DICT);
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let e = format!(
        "{:#}",
        freedict::read(l.path(FREEDICT_INDEX), &p).unwrap_err()
    );
    assert!(
        e.contains("freedict-swh-eng.dict.dz") && e.contains("truncated"),
        "{e}"
    );
}

#[test]
fn freedict_index_problems_name_the_line() {
    let data = b"x /x/ <n>\n\ndog, hound\n".to_vec();
    let lex = freedict::parse("mbwa\tA\tW\n", "i.index", &data, "d.dict").unwrap();
    assert_eq!(
        lex.pairs,
        vec![Pair::new("mbwa", "dog"), Pair::new("mbwa", "hound")]
    );
    assert_eq!(lex.pairs[0].whence(), "i.index: line 1");
    let e = format!(
        "{:#}",
        freedict::parse("mbwa\tA\n", "i.index", &data, "d").unwrap_err()
    );
    assert!(
        e.contains("i.index: line 1") && e.contains("2 tab-separated fields"),
        "{e}"
    );
    let e = format!(
        "{:#}",
        freedict::parse("a\tA\tW\nb\tA\tBA\n", "i.index", &data, "d.dict").unwrap_err()
    );
    assert!(
        e.contains("i.index: line 2") && e.contains("past the end of d.dict"),
        "{e}"
    );
    let e = format!(
        "{:#}",
        freedict::parse("a\tA\t#\n", "i.index", &data, "d").unwrap_err()
    );
    assert!(e.contains("line 1") && e.contains("base64"), "{e}");
    assert_eq!(freedict::b64("DX+"), Some(3 * 4096 + 23 * 64 + 62));
}

#[test]
fn freedict_sense_rules() {
    let e = "adui /adˈui/ <n> (pl: {maadui})\n1.\nenemy\n2.\nopponent (in games or sports), to rival\n; the foe\n   See also: {x}\n";
    assert_eq!(
        freedict::senses(e),
        vec!["enemy", "opponent", "to rival", "the foe"]
    );
    let enc = |mut n: usize| {
        let abc = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut s = Vec::new();
        loop {
            s.insert(0, abc[n % 64]);
            n /= 64;
            if n == 0 {
                break String::from_utf8(s).unwrap();
            }
        }
    };
    assert_eq!(freedict::b64(&enc(141554)), Some(141554));
    let index = format!("adui\tA\t{}\n", enc(e.len()));
    let lex = freedict::parse(&index, "i", e.as_bytes(), "d").unwrap();
    let t: Vec<&str> = lex.pairs.iter().map(|p| p.target.as_str()).collect();
    assert_eq!(t, vec!["enemy", "opponent", "rival", "foe"]);
}

const SQL_HEAD: &str = "\u{feff}--\r\nCOPY m_korean (wordid, word, syn, def, pos, submitter, doe, wordsize, \"level\", posn, hanja) FROM stdin;\r\n";

#[test]
fn kengdic_rows_and_escapes() {
    let text = format!(
        "{SQL_HEAD}1\t개\t\\N\tThe Dog\t1\tjoe\t\\N\t\\N\tA\t1\t\\N\r\n\
         2\t고양이\t\\N\tcat, kitty\t1\tjoe\t\\N\t\\N\tB\t1\t\\N\r\n\
         3\t달리다\t\\N\tto run\t1\tjoe\t\\N\t\\N\tE\t1\t\\N\r\n\
         4\t개\t\\N\tdog\t1\tjoe\t\\N\t\\N\tC\t1\t\\N\r\n\
         5\tcute\t\\N\tcute\t1\tjoe\t\\N\t\\N\tC\t1\t\\N\r\n\
         6\t집\t\\N\tho\\\\use\t1\tjoe\t\\N\t\\N\tD\t1\t\\N\r\n\
         7\t말\t\\N\t(1) horse  \r\n(2) word\t1\tjoe\t\\N\t\\N\tB\t1\t\\N\r\n\\.\r\n"
    );
    let lex = kengdic::parse(&text, "k.sql").unwrap();
    assert_eq!(lex.pairs, vec![Pair::new("개", "dog")]);
    assert_eq!(lex.pairs[0].whence(), "k.sql: line 3");
    assert_eq!(lex.stats.levels["A"], 1);
    assert_eq!(lex.stats.counts["rows"], 7);
    assert_eq!(lex.stats.counts["skipped: repeat of a kept pair"], 1);
    assert_eq!(lex.stats.counts["rows continued over a line break"], 1);
    assert_eq!(
        kengdic::unescape("a\\tb\\nc\\\\d\\101", "f", 1)
            .unwrap()
            .as_deref(),
        Some("a\tb\nc\\dA")
    );
    assert_eq!(kengdic::unescape("\\N", "f", 1).unwrap(), None);
}

#[test]
fn bad_sql_rows_are_refused() {
    let bad = format!("{SQL_HEAD}1\t개\t\\N\tdog\t1\tjoe\t\\N\t\\N\tA\t1\t\\N\textra\r\n\\.\r\n");
    let e = format!("{:#}", kengdic::parse(&bad, "k.sql").unwrap_err());
    assert!(
        e.contains("k.sql: line 3") && e.contains("12 tab-separated fields"),
        "{e}"
    );
    let short =
        format!("{SQL_HEAD}1\t개\tdog\r\n2\t개\t\\N\tdog\t1\tjoe\t\\N\t\\N\tA\t1\t\\N\r\n\\.\r\n");
    let e = format!("{:#}", kengdic::parse(&short, "k.sql").unwrap_err());
    assert!(
        e.contains("k.sql: line 3") && e.contains("has 3 tab-separated fields"),
        "{e}"
    );
    let unterminated = format!("{SQL_HEAD}1\t개\t\\N\tdog\t1\tjoe\t\\N\t\\N\tA\t1\t\\N\r\n");
    let e = format!("{:#}", kengdic::parse(&unterminated, "k.sql").unwrap_err());
    assert!(e.contains("k.sql") && e.contains("truncated"), "{e}");
    let e = format!("{:#}", kengdic::parse("hello\n", "k.sql").unwrap_err());
    assert!(e.contains("k.sql") && e.contains("COPY m_korean"), "{e}");
    let lone = format!("{SQL_HEAD}1\t개\t\\N\tdog\\\t1\tjoe\t\\N\t\\N\tA\t1\t\\N\r\n\\.\r\n");
    let e = format!("{:#}", kengdic::parse(&lone, "k.sql").unwrap_err());
    assert!(e.contains("line 3") && e.contains("backslash"), "{e}");
    // A real-file copy with one row cut short is refused too.
    let dir = tempfile::tempdir().unwrap();
    if let Some(l) = real() {
        let text = read_utf8(&l.path(KENGDIC_SQL)).unwrap().replacen(
            "\tAustralia\t7\t",
            "\tAustralia\t",
            1,
        );
        let p = dir.path().join("ezcorean_6000.sql");
        std::fs::write(&p, text).unwrap();
        let e = format!("{:#}", kengdic::read(&p).unwrap_err());
        assert!(e.contains("ezcorean_6000.sql: line 16"), "{e}");
    }
}

const EN: &str = r#"<?xml version="1.0" encoding="UTF-8" ?>
<!DOCTYPE ldml SYSTEM "../../common/dtd/ldml.dtd">
<ldml><annotations>
<annotation cp="🐶">dog | face | pet</annotation>
<annotation cp="🐶" type="tts">Dog</annotation>
<!-- <annotation cp="🐱" type="tts">cat</annotation> -->
<annotation cp="🐭" type="tts">mouse face</annotation>
<annotation cp="🐮" type="tts">cow</annotation>
</annotations></ldml>
"#;

#[test]
fn cldr_pairs_by_cp() {
    let sw = "<ldml><annotations>\n<annotation cp=\"🐮\" type=\"tts\">ng’ombe</annotation>\n\
              <annotation cp=\"🐶\" type=\"tts\">mbwa</annotation>\n<annotation cp=\"🐭\" type=\"tts\">panya</annotation>\n\
              <annotation cp=\"🐱\" type=\"tts\">paka</annotation>\n</annotations></ldml>";
    let lex = cldr::pair_names(sw, "sw.xml", EN, "en.xml").unwrap();
    assert_eq!(
        lex.pairs,
        vec![Pair::new("ng’ombe", "cow"), Pair::new("mbwa", "dog")]
    );
    assert_eq!(lex.pairs[1].whence(), "sw.xml: line 3");
    assert_eq!(lex.stats.name, "cldr sw-en");
    assert_eq!(lex.stats.counts["skipped: cp not in en"], 1);
}

#[test]
fn xml_without_annotations_is_refused() {
    let e = format!(
        "{:#}",
        cldr::tts_names("<ldml><identity/></ldml>", "ko.xml").unwrap_err()
    );
    assert!(
        e.contains("ko.xml")
            && e.contains("annotation")
            && e.contains("not a CLDR annotations file"),
        "{e}"
    );
    let e = format!(
        "{:#}",
        cldr::tts_names(
            "<ldml><annotations>\n<annotation cp=\"a\">x</annotation>",
            "ko.xml"
        )
        .unwrap_err()
    );
    assert!(e.contains("ko.xml") && e.contains("malformed XML"), "{e}");
    let dup = "<ldml>\n<annotation cp=\"a\" type=\"tts\">x</annotation>\n<annotation cp=\"a\" type=\"tts\">y</annotation></ldml>";
    let e = format!("{:#}", cldr::tts_names(dup, "ko.xml").unwrap_err());
    assert!(e.contains("ko.xml: line 3") && e.contains("line 2"), "{e}");
    let nocp = "<ldml>\n<annotation type=\"tts\">x</annotation></ldml>";
    let e = format!("{:#}", cldr::tts_names(nocp, "ko.xml").unwrap_err());
    assert!(e.contains("ko.xml: line 2") && e.contains("cp"), "{e}");
}

#[test]
fn locate_explicit_and_missing() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        Lexicons::locate(Some(dir.path())).unwrap().root(),
        dir.path()
    );
    let e = format!(
        "{:#}",
        Lexicons::locate(Some(&dir.path().join("nope"))).unwrap_err()
    );
    assert!(e.contains("nope") && e.contains(ENV_LEXICONS), "{e}");
    let e = format!(
        "{:#}",
        Lexicons::at(dir.path()).unwrap().kengdic().unwrap_err()
    );
    assert!(e.contains("ezcorean_6000.sql is missing"), "{e}");
}

#[test]
fn one_word_rule() {
    assert_eq!(one_english_word(" To Advance ").as_deref(), Some("advance"));
    assert_eq!(one_english_word("the").as_deref(), Some("the"));
    assert_eq!(one_english_word("a utensil or tool"), None);
    assert_eq!(one_english_word("x-ray"), None);
}
