//! The open retrieval pool's word lists (issue 31): single words of one language taken from the
//! lexicons and corpora of `../shared`, and `--extra-candidates` word files.
//!
//! Rule (documented in docs/CONVENTIONS.md):
//! - A word is a maximal run of letters (`char::is_alphabetic`); English and Swahili keep runs of
//!   ASCII letters of length >= 2, lowercased; Korean keeps runs of Hangul syllables
//!   (U+AC00..U+D7A3) of length >= 1.
//! - English: the kengdic SQL dump (its glosses), FreeDict's English senses, CLDR `en.xml`
//!   annotation texts, the Kolibri and UDHR English. Korean: the kengdic dump, CLDR `ko.xml`,
//!   Kolibri and UDHR Korean. Swahili: FreeDict's headwords, CLDR `sw.xml`, Kolibri and UDHR Swahili.
//! - Deduplicated and sorted; every word of the study's pair sets (either side) is removed; a
//!   ChaCha8 shuffle with the given seed then takes the reference vocabulary first and the extra
//!   candidates next, each sorted again ([`split_vocabulary`]).

use crate::{Corpora, Lexicons};
use anyhow::{bail, ensure, Context, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::collections::BTreeSet;
use std::path::Path;

/// A language of the open pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VocabLang {
    English,
    Korean,
    Swahili,
}

fn is_hangul(c: char) -> bool {
    ('\u{AC00}'..='\u{D7A3}').contains(&c)
}

/// The words of `text` in `lang` under the module's rule.
pub fn words_of(text: &str, lang: VocabLang) -> Vec<String> {
    text.split(|c: char| !c.is_alphabetic())
        .filter_map(|w| match lang {
            VocabLang::Korean => (!w.is_empty() && w.chars().all(is_hangul)).then(|| w.to_string()),
            _ => (w.len() >= 2 && w.chars().all(|c| c.is_ascii_alphabetic()))
                .then(|| w.to_ascii_lowercase()),
        })
        .collect()
}

/// The texts inside `<annotation ...>...</annotation>` elements of a CLDR file.
pub fn annotation_texts(xml: &str) -> Vec<&str> {
    xml.split("<annotation ")
        .skip(1)
        .filter_map(|el| {
            let body = &el[el.find('>')? + 1..];
            Some(&body[..body.find("</annotation>")?])
        })
        .collect()
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("reading {} for the open pool's vocabulary", path.display()))
}

/// Every word of `lang` in the lexicons and corpora (sorted, deduplicated).
pub fn vocabulary(lex: &Lexicons, corpora: &Corpora, lang: VocabLang) -> Result<BTreeSet<String>> {
    use crate::lexicon::{CLDR_EN, CLDR_KO, CLDR_SW, KENGDIC_SQL};
    let mut texts: Vec<String> = Vec::new();
    let cldr = match lang {
        VocabLang::English => CLDR_EN,
        VocabLang::Korean => CLDR_KO,
        VocabLang::Swahili => CLDR_SW,
    };
    texts.extend(
        annotation_texts(&read(&lex.path(cldr))?)
            .into_iter()
            .map(str::to_string),
    );
    match lang {
        VocabLang::English | VocabLang::Korean => texts.push(read(&lex.path(KENGDIC_SQL))?),
        VocabLang::Swahili => {}
    }
    if lang != VocabLang::Korean {
        let fd = lex.freedict_swh_eng()?;
        let side = |p: &crate::Pair| {
            if lang == VocabLang::English {
                p.target.clone()
            } else {
                p.source.clone()
            }
        };
        texts.extend(fd.pairs.iter().map(side));
    }
    let pick = |t: &crate::Trilingual| match lang {
        VocabLang::English => t.en.clone(),
        VocabLang::Korean => t.ko.clone(),
        VocabLang::Swahili => t.sw.clone(),
    };
    match lang {
        // Every message of the locale (more than the three-way rows).
        VocabLang::English => texts.extend(corpora.kolibri_messages(crate::KolibriLang::English)?),
        VocabLang::Swahili => texts.extend(corpora.kolibri_messages(crate::KolibriLang::Swahili)?),
        VocabLang::Korean => texts.extend(corpora.kolibri_rows()?.iter().map(pick)),
    }
    texts.extend(corpora.udhr_segments()?.iter().map(pick));
    Ok(texts.iter().flat_map(|t| words_of(t, lang)).collect())
}

/// The reference vocabulary (`n_reference` words) and the extra candidates (`n_extra`, or every
/// word left after the reference when fewer are left: the caller records the pool's size),
/// disjoint, each sorted, from `vocab` less `exclude`; fails when no word is left for the pool.
pub fn split_vocabulary(
    vocab: &BTreeSet<String>,
    exclude: &BTreeSet<&str>,
    n_reference: usize,
    n_extra: usize,
    seed: u64,
) -> Result<(Vec<String>, Vec<String>)> {
    let mut left: Vec<&String> = vocab
        .iter()
        .filter(|w| !exclude.contains(w.as_str()))
        .collect();
    ensure!(
        left.len() > n_reference,
        "the open pool needs {n_reference} reference words and some extra candidates but only {} words are left once the study's words are removed; lower --reference-words or add --extra-candidates",
        left.len()
    );
    let n_extra = n_extra.min(left.len() - n_reference);
    left.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    let mut reference: Vec<String> = left[..n_reference].iter().map(|w| w.to_string()).collect();
    let mut extra: Vec<String> = left[n_reference..n_reference + n_extra]
        .iter()
        .map(|w| w.to_string())
        .collect();
    reference.sort();
    extra.sort();
    Ok((reference, extra))
}

/// An `--extra-candidates` file: one word per line, UTF-8, no blank line, at least one word.
pub fn read_extra_candidates(path: &Path) -> Result<Vec<String>> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading the word list {}", path.display()))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{}: not UTF-8 (first bad byte at offset {}); save the word list as UTF-8",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    if text.trim().is_empty() {
        bail!(
            "{}: the word list is empty; give one word per line",
            path.display()
        );
    }
    let mut words = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let w = line.trim();
        if w.is_empty() {
            bail!(
                "{} line {}: blank line; give one word per line with no blank lines",
                path.display(),
                i + 1
            );
        }
        words.push(w.to_string());
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_follow_the_rule() {
        assert_eq!(
            words_of("To advance, a Dog's 3rd-rate x", VocabLang::English),
            ["to", "advance", "dog", "rd", "rate"]
        );
        assert_eq!(
            words_of("한국 대한민국(n) 개 abc 漢字", VocabLang::Korean),
            ["한국", "대한민국", "개"]
        );
        assert_eq!(annotation_texts("<annotation cp=\"x\">dog | pet</annotation><annotation cp=\"y\" type=\"tts\">dog</annotation>"), ["dog | pet", "dog"]);
    }

    #[test]
    fn split_is_seeded_disjoint_and_excludes() {
        let vocab: BTreeSet<String> = (0..50).map(|i| format!("w{i:02}")).collect();
        let ex: BTreeSet<&str> = ["w00", "w01"].into();
        let (r, e) = split_vocabulary(&vocab, &ex, 10, 30, 31).unwrap();
        assert_eq!((r.len(), e.len()), (10, 30));
        assert!(r.iter().chain(&e).all(|w| !ex.contains(w.as_str())));
        assert!(r.iter().all(|w| !e.contains(w)));
        assert_eq!(split_vocabulary(&vocab, &ex, 10, 30, 31).unwrap(), (r, e));
        // Fewer words than asked: every word left after the reference is an extra candidate.
        assert_eq!(
            split_vocabulary(&vocab, &ex, 10, 40, 31).unwrap().1.len(),
            38
        );
        assert!(split_vocabulary(&vocab, &ex, 48, 1, 31).is_err());
    }

    #[test]
    fn word_list_errors_name_the_problem() {
        let dir = std::env::temp_dir().join(format!("lexalign-vocab-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = |name: &str, bytes: &[u8]| {
            let p = dir.join(name);
            std::fs::write(&p, bytes).unwrap();
            read_extra_candidates(&p).map_err(|e| e.to_string())
        };
        assert!(f("empty", b"").unwrap_err().contains("empty"));
        assert!(f("blank", b"dog\n\ncat\n")
            .unwrap_err()
            .contains("line 2: blank line"));
        assert!(f("latin1", b"caf\xe9\n").unwrap_err().contains("not UTF-8"));
        assert_eq!(f("ok", "dog\n개\r\n".as_bytes()).unwrap(), ["dog", "개"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
