//! Text targets: pair files (the authors' JSON, CSV/TSV, MUSE/VecMap dictionaries) and the lexicon readers (kengdic's SQL
//! dump, FreeDict's dictd index + data, CLDR annotation XML). Bytes are read as UTF-8 with
//! replacement characters, as the parsers take `&str`.

use anyhow::Result;
use lexalign_data::lexicon::{cldr, freedict, kengdic};
use lexalign_data::{
    detect_pair_format, muse_pairs_text, parse_delimited_pairs, parse_json_pairs, parse_muse_pairs,
    Columns,
};

use crate::engine::{Ctx, Outcome};
use crate::mutate::Seed;

fn text(input: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(input)
}

/// Splits `a \0 b` (no NUL: all of it is `a`, `b` is empty).
fn split2(input: &[u8]) -> (&[u8], &[u8]) {
    match input.iter().position(|&b| b == 0) {
        Some(i) => (&input[..i], &input[i + 1..]),
        None => (input, &[]),
    }
}

pub const JSON_DICT: &[&[u8]] = &[
    b"\"swahili\"",
    b"\"english\"",
    b"\"source\"",
    b"\"target\"",
    b"null",
    b"true",
    b"[]",
    b"{}",
    b"1e999",
    b"-0",
    b"\"\\u0000\"",
    b"\"\\ud800\"",
    b"\xef\xbb\xbf",
    b",",
    b":",
    b"\"\"",
];

pub fn json_seeds() -> Vec<Seed> {
    [
        "[{\"swahili\": \"mbwa\", \"english\": \"dog\"}, {\"swahili\": \"paka\", \"english\": \"cat\"}, {\"swahili\": \"mbwa\", \"english\": \"dog\"}]",
        "\u{feff}[{\"source\": \"개\", \"target\": \"dog\", \"extra\": 1}]",
        "[{\"swahili\": \"\", \"english\": \"x\"}]",
        "[{\"swahili\": 1, \"english\": null}]",
        "{\"swahili\": \"a\"}",
        "[]",
    ]
    .iter()
    .map(|s| Seed::new(s.as_bytes()))
    .collect()
}

pub fn run_json(_: &Ctx, input: &[u8]) -> Outcome {
    let t = text(input);
    let r = parse_json_pairs(&t, "fuzz.json", &Columns::default())
        .and_then(|_| parse_json_pairs(&t, "fuzz.json", &Columns::new("ko", "en")));
    match r {
        Ok(f) => {
            assert_eq!(f.pairs.len(), f.locations.len());
            let _ = (f.sources(), f.targets());
            f.pairs.iter().for_each(|p| {
                let _ = p.whence();
            });
            Outcome::Ok
        }
        Err(e) => Outcome::Err(e),
    }
}

pub const CSV_DICT: &[&[u8]] = &[
    b"swahili",
    b"english",
    b"source",
    b"target",
    b"\"",
    b"\"\"",
    b",",
    b"\t",
    b"\r\n",
    b"\n",
    b"\xef\xbb\xbf",
    b" ",
];

pub fn csv_seeds() -> Vec<Seed> {
    [
        "swahili,english\nmbwa,dog\npaka,cat\n\"ki,tu\",\"thing \"\"x\"\"\"\nmbwa,dog\n",
        "\u{feff}id\tsource\ttarget\r\n1\t개\tdog\r\n2\t고양이\tcat\r\n",
        "english,swahili,note\ndog,mbwa,\ncat,paka,x\n",
        "swahili,english\nmbwa\n",
        "a,b\n1,2\n",
    ]
    .iter()
    .map(|s| Seed::new(s.as_bytes()))
    .collect()
}

/// The same text as CSV and as TSV.
pub fn run_csv(_: &Ctx, input: &[u8]) -> Outcome {
    let t = text(input);
    let mut last = None;
    let mut ok = false;
    for delim in [b',', b'\t'] {
        match parse_delimited_pairs(&t, "fuzz.csv", delim, &Columns::default()) {
            Ok(f) => {
                assert_eq!(f.pairs.len(), f.locations.len());
                ok = true;
            }
            Err(e) => last = Some(e),
        }
    }
    match (ok, last) {
        (true, _) | (false, None) => Outcome::Ok,
        (false, Some(e)) => Outcome::Err(e),
    }
}

pub const MUSE_DICT: &[&[u8]] = &[
    b" ",
    b"\t",
    b"\r\n",
    b"\n",
    b"\xef\xbb\xbf",
    b"\xc2\xa0",
    b"\xe3\x80\x80",
    b"source",
    b"target",
    b",",
    b"_",
];

pub fn muse_seeds() -> Vec<Seed> {
    [
        "물 water\n물 waters\n불\tfire\n\n개 dog\n",
        "\u{feff}mbwa\tdog\r\npaka\tcat\r\n",
        "물 water\n불\n",
        "물 water\n불 fire flame\n",
        "물 \twater\n",
        "source target\na b\n",
    ]
    .iter()
    .map(|s| Seed::new(s.as_bytes()))
    .collect()
}

/// Format detection, then the MUSE reader; a file it reads is written and read back to the
/// same pairs (the writer and the reader agree on what a word is).
pub fn run_muse(_: &Ctx, input: &[u8]) -> Outcome {
    let t = text(input);
    let _ = detect_pair_format(&t, "fuzz.txt", &Columns::default());
    match parse_muse_pairs(&t, "fuzz.txt") {
        Ok(f) => {
            assert_eq!(f.pairs.len(), f.locations.len());
            let written =
                muse_pairs_text(&f.pairs).expect("pairs read from a dictionary can be written");
            let back =
                parse_muse_pairs(&written, "fuzz.txt").expect("a written dictionary reads back");
            assert_eq!(back.pairs, f.pairs, "MUSE write/read round trip");
            Outcome::Ok
        }
        Err(e) => Outcome::Err(e),
    }
}

pub const KENGDIC_DICT: &[&[u8]] = &[
    b"COPY m_korean (id, word, def, level) FROM stdin;",
    b"\\N",
    b"\\.",
    b"\\x4",
    b"\\777",
    b"\\0",
    b"\\",
    b"\t",
    b"\r\n",
    b"\n",
    "사과".as_bytes(),
    b"to ",
    b"A",
    b"D",
];

pub fn kengdic_seeds() -> Vec<Seed> {
    let dump = "\u{feff}-- PostgreSQL dump\r\nSET x = 1;\r\n\
        COPY m_korean (id, word, syn, def, posn, pos, submitter, doe, wordsize, hanja, wordid, extradata, level) FROM stdin;\r\n\
        1\t사과\t\\N\tan apple\t1\tn\tx\t2010\t2\t沙果\t1\t\\N\tA\r\n\
        2\t가다\t\\N\tto go\t1\tv\tx\t2010\t2\t\\N\t2\t\\N\tB\r\n\
        3\t책\t\\N\t\\x62ook\\041\t1\tn\tx\t2010\t1\t冊\t3\t\\N\tC\r\n\
        4\tabc\t\\N\tfoo\t1\tn\tx\t2010\t3\t\\N\t4\t\\N\tD\r\n\
        5\t집\t\\N\thouse\r\nhome\t1\tn\tx\t2010\t1\t\\N\t5\t\\N\tA\r\n\
        6\t사과\t\\N\tapple\t1\tn\tx\t2010\t2\t\\N\t6\t\\N\tE\r\n\
        \\.\r\n-- end\r\n";
    let small = "COPY m_korean (word, def, level) FROM stdin;\n물\twater\tA\n\\N\tx\tB\n\\.\n";
    let truncated = "COPY m_korean (word, def, level) FROM stdin;\n물\twater\tA\n";
    vec![
        Seed::new(dump.as_bytes()),
        Seed::new(small.as_bytes()),
        Seed::new(truncated.as_bytes()),
    ]
}

pub fn run_kengdic(_: &Ctx, input: &[u8]) -> Outcome {
    let t = text(input);
    let r: Result<()> = kengdic::parse(&t, "fuzz.sql").map(|l| {
        let _ = (l.gold(), l.pairs.len());
    });
    r.into()
}

/// dictd base64 (most significant digit first).
fn b64(mut v: u64) -> String {
    const D: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    loop {
        out.push(D[(v % 64) as usize]);
        v /= 64;
        if v == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ascii")
}

pub const FREEDICT_DICT: &[&[u8]] = &[
    b"00databaseinfo",
    b"\t",
    b"\n",
    b"\0",
    b"/",
    b"+",
    b"A",
    b"//////////",
    b"1.\n",
    b"; ",
    b"(",
    b")",
    b"   See also: {x}\n",
    b"to ",
    b"\x1f\x8b\x08\x00",
];

pub fn freedict_seeds() -> Vec<Seed> {
    let entries = [
        ("00databaseinfo", "00databaseinfo\nThis is the FreeDict swh-eng dictionary.\n"),
        ("afisa", "afisa /ɑfisɑ/ <n> (pl: maafisa)\n1.\nofficer, official (government)\n; the clerk; to serve\n   See also: {ofisa}\n"),
        ("ofisa", "afisa /ɑfisɑ/ <n>\nofficer\n"),
        ("mbwa", "mbwa <n>\ndog (animal (pet)), hound\n Plural of {x}: y\n2.\nthe dog\n"),
        ("kwa heri", "kwa heri\ngoodbye\n"),
    ];
    let mut data = String::new();
    let mut index = String::new();
    for (head, body) in entries {
        index.push_str(&format!(
            "{head}\t{}\t{}\n",
            b64(data.len() as u64),
            b64(body.len() as u64)
        ));
        data.push_str(body);
    }
    let mut whole = index.clone().into_bytes();
    whole.push(0);
    whole.extend_from_slice(data.as_bytes());
    let mut gz = index.into_bytes();
    gz.push(0);
    {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data.as_bytes()).expect("in memory");
        gz.extend_from_slice(&e.finish().expect("in memory"));
    }
    vec![
        Seed::new(whole),
        Seed::new(gz),
        Seed::new(b"x\tA\tB\n\0abc".to_vec()),
    ]
}

/// `index \0 data`; gzip data (magic 1f 8b) is decompressed first, as the reader does with `.dz`.
pub fn run_freedict(_: &Ctx, input: &[u8]) -> Outcome {
    let (index, data) = split2(input);
    let index = text(index);
    let r = (|| -> Result<()> {
        let data = if data.starts_with(&[0x1f, 0x8b]) {
            freedict::gunzip(data, "fuzz.dict.dz")?
        } else {
            data.to_vec()
        };
        let l = freedict::parse(&index, "fuzz.index", &data, "fuzz.dict.dz")?;
        let _ = l.gold();
        Ok(())
    })();
    r.into()
}

pub const CLDR_DICT: &[&[u8]] = &[
    b"<annotation cp=\"x\" type=\"tts\">",
    b"</annotation>",
    b"type=\"tts\"",
    b" draft=\"contributed\"",
    b"<!DOCTYPE ldml [<!ENTITY a \"aaaa\">]>",
    b"&a;",
    b"&amp;",
    b"<!-- -->",
    b"<![CDATA[x]]>",
    b"\0",
    b"cp=\"",
    b"<",
    b">",
    b"\"",
    b" ",
];

pub fn cldr_seeds() -> Vec<Seed> {
    let doc = |lang: &str, body: &str| {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<!DOCTYPE ldml SYSTEM \"../../common/dtd/ldml.dtd\">\n\
             <ldml>\n<identity><language type=\"{lang}\"/></identity>\n<annotations>\n{body}</annotations>\n</ldml>\n"
        )
    };
    let ko = doc(
        "ko",
        "<annotation cp=\"🐶\">개 | 강아지</annotation>\n<annotation cp=\"🐶\" type=\"tts\">개</annotation>\n\
         <annotation cp=\"🐱\" type=\"tts\" draft=\"contributed\">고양이</annotation>\n\
         <annotation cp=\"👕\" type=\"tts\">티셔츠</annotation>\n\
         <!-- <annotation cp=\"x\" type=\"tts\">no</annotation> -->\n",
    );
    let en = doc(
        "en",
        "<annotation cp=\"🐶\" type=\"tts\">Dog</annotation>\n<annotation cp=\"🐱\" type=\"tts\">cat face</annotation>\n\
         <annotation cp=\"👕\" type=\"tts\">t-shirt</annotation>\n<annotation cp=\"🍎\" type=\"tts\">apple</annotation>\n",
    );
    let both = |a: &str, b: &str| {
        let mut v = a.as_bytes().to_vec();
        v.push(0);
        v.extend_from_slice(b.as_bytes());
        Seed::new(v)
    };
    let dtd = "<!DOCTYPE ldml [<!ENTITY n \"name\">]><ldml><annotation cp=\"a\" type=\"tts\">&n;</annotation></ldml>";
    vec![
        both(&ko, &en),
        both(&en, &en),
        both(dtd, &en),
        both("<ldml/>", &en),
    ]
}

/// `other.xml \0 en.xml`.
pub fn run_cldr(_: &Ctx, input: &[u8]) -> Outcome {
    let (a, b) = split2(input);
    let (a, b) = (text(a), text(b));
    let r: Result<()> = cldr::pair_names(&a, "ko.xml", &b, "en.xml").map(|l| {
        let _ = l.gold();
    });
    r.into()
}
