//! Words and scripts of generated text: word tokens (maximal runs of letters, lower-cased), the
//! Unicode script of each letter, whole-word matching, and the English / Swahili vocabulary the
//! probe audit checks tokens against.
//!
//! The vocabulary (documented in the report): every word token of
//! - English: the Kolibri 0.19.5 interface messages in `en` (running text, so function words are
//!   in), the one-word English translations of FreeDict swh-eng, CLDR sw-en and kengdic, and the
//!   English side of the paper's training and control pairs;
//! - Swahili: the Kolibri messages in `sw_TZ`, FreeDict's Swahili headwords, CLDR's Swahili
//!   names, and the Swahili side of the paper's pairs.

use std::collections::BTreeSet;

use anyhow::Result;
use lexalign_data::{Corpora, KolibriLang, Lexicons, Pair};
use serde::{Deserialize, Serialize};

/// Word tokens of `text`: maximal runs of alphabetic characters, lower-cased.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The script of a letter (`None` for a non-letter). Latin covers ASCII, the Latin-1 and
/// Latin Extended blocks, IPA and the fullwidth forms (Ｔ is a Latin letter in another width).
pub fn script(c: char) -> Option<&'static str> {
    if !c.is_alphabetic() {
        return None;
    }
    let u = c as u32;
    Some(match u {
        0x41..=0x5A
        | 0x61..=0x7A
        | 0xAA
        | 0xBA
        | 0xC0..=0x2AF
        | 0x1D00..=0x1DBF
        | 0x1E00..=0x1EFF
        | 0xFF21..=0xFF3A
        | 0xFF41..=0xFF5A => "Latin",
        0x370..=0x3FF | 0x1F00..=0x1FFF => "Greek",
        0x400..=0x52F | 0x1C80..=0x1C8F | 0x2DE0..=0x2DFF | 0xA640..=0xA69F => "Cyrillic",
        0x530..=0x58F => "Armenian",
        0x590..=0x5FF => "Hebrew",
        0x600..=0x6FF | 0x750..=0x77F | 0x8A0..=0x8FF | 0xFB50..=0xFDFF | 0xFE70..=0xFEFF => {
            "Arabic"
        }
        0x900..=0x97F => "Devanagari",
        0x980..=0xDFF => "other Indic",
        0xE00..=0xE7F => "Thai",
        0x10A0..=0x10FF => "Georgian",
        0x1100..=0x11FF | 0x3130..=0x318F | 0xAC00..=0xD7AF => "Hangul",
        0x3040..=0x30FF | 0x31F0..=0x31FF | 0xFF66..=0xFF9D => "Japanese kana",
        0x2E80..=0x2FDF
        | 0x3005..=0x3007
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xF900..=0xFAFF
        | 0x20000..=0x3FFFF => "Han",
        _ => "other",
    })
}

/// The scripts other than Latin whose letters occur in `text`, sorted.
pub fn foreign_scripts(text: &str) -> BTreeSet<&'static str> {
    text.chars()
        .filter_map(script)
        .filter(|s| *s != "Latin")
        .collect()
}

/// Whether `word` (one or more words) occurs in `text` as whole words, ignoring case.
pub fn contains_word(text: &str, word: &str) -> bool {
    let (t, w) = (text.to_lowercase(), word.to_lowercase());
    if w.is_empty() {
        return false;
    }
    t.match_indices(&w).any(|(i, _)| {
        let before = t[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphabetic());
        let after = t[i + w.len()..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_alphabetic());
        before && after
    })
}

/// Where the vocabulary's words come from, and how many distinct words each side has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VocabularyInfo {
    pub english_words: usize,
    pub swahili_words: usize,
    pub sources: String,
}

/// English and Swahili word sets.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    pub english: BTreeSet<String>,
    pub swahili: BTreeSet<String>,
    pub sources: String,
}

impl Vocabulary {
    /// Every word token of the English and Swahili texts.
    pub fn from_texts<'a>(
        english: impl IntoIterator<Item = &'a str>,
        swahili: impl IntoIterator<Item = &'a str>,
        sources: &str,
    ) -> Self {
        let set =
            |it: &mut dyn Iterator<Item = &'a str>| it.flat_map(words).collect::<BTreeSet<_>>();
        Self {
            english: set(&mut english.into_iter()),
            swahili: set(&mut swahili.into_iter()),
            sources: sources.to_string(),
        }
    }

    /// The documented vocabulary (module doc): lexicons and corpora found by lexalign-data's
    /// `locate` rule, plus the paper's `pairs`. `Ok(None)` (with a warning) when either folder
    /// is not found; a folder found with changed files is an error.
    pub fn locate(pairs: &[Pair]) -> Result<Option<Self>> {
        let (lex, corpora) = match (Lexicons::locate(None), Corpora::locate(None)) {
            (Ok(l), Ok(c)) => (l, c),
            (Err(e), _) | (_, Err(e)) => {
                log::warn!("the probe audit is skipped: {e:#}");
                return Ok(None);
            }
        };
        let fd = lex.freedict_swh_eng()?;
        let cldr = lex.cldr_sw_en()?;
        let keng = lex.kengdic()?;
        let en_msgs = corpora.kolibri_messages(KolibriLang::English)?;
        let sw_msgs = corpora.kolibri_messages(KolibriLang::Swahili)?;
        let en = en_msgs
            .iter()
            .map(String::as_str)
            .chain(
                fd.pairs
                    .iter()
                    .chain(&cldr.pairs)
                    .chain(&keng.pairs)
                    .map(|p| p.target.as_str()),
            )
            .chain(pairs.iter().map(|p| p.target.as_str()));
        let sw = sw_msgs
            .iter()
            .map(String::as_str)
            .chain(
                fd.pairs
                    .iter()
                    .chain(&cldr.pairs)
                    .map(|p| p.source.as_str()),
            )
            .chain(pairs.iter().map(|p| p.source.as_str()));
        Ok(Some(Self::from_texts(en, sw, SOURCES)))
    }

    pub fn info(&self) -> VocabularyInfo {
        VocabularyInfo {
            english_words: self.english.len(),
            swahili_words: self.swahili.len(),
            sources: self.sources.clone(),
        }
    }
}

/// How [`Vocabulary::locate`] builds the vocabulary, for the report.
pub const SOURCES: &str = "word tokens (letter runs, lower-cased) of the Kolibri 0.19.5 interface messages (en, sw_TZ), \
the one-word translations of FreeDict swh-eng, CLDR sw-en and kengdic (English side) with FreeDict's and CLDR's Swahili words, \
and the paper's 686 training and control pairs";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_scripts_and_whole_words() {
        assert_eq!(
            words("He's very kind.FirstName 軍üslü"),
            vec!["he", "s", "very", "kind", "firstname", "軍üslü"]
        );
        assert_eq!(script('a'), Some("Latin"));
        assert_eq!(script('ệ'), Some("Latin"));
        assert_eq!(script('Ｔ'), Some("Latin"));
        assert_eq!(script('я'), Some("Cyrillic"));
        assert_eq!(script('軍'), Some("Han"));
        assert_eq!(script('ン'), Some("Japanese kana"));
        assert_eq!(script('춘'), Some("Hangul"));
        assert_eq!(script('ی'), Some("Arabic"));
        assert_eq!(script('ί'), Some("Greek"));
        assert_eq!(script('1'), None);
        assert_eq!(script('。'), None);
        let f: Vec<_> = foreign_scripts("abc интервью 軍 x").into_iter().collect();
        assert_eq!(f, vec!["Cyrillic", "Han"]);
        assert!(foreign_scripts("The word is Monday.").is_empty());
        assert!(contains_word("It is Monday.", "monday"));
        assert!(!contains_word("Mondays", "monday"));
        assert!(contains_word(
            "so little by little fills the measure!",
            "little by little fills the measure"
        ));
        assert!(!contains_word("anything", ""));
    }

    #[test]
    fn vocabulary_from_texts() {
        let v = Vocabulary::from_texts(["The dog runs."], ["Mbwa anakimbia"], "test");
        assert!(v.english.contains("the") && v.english.contains("dog"));
        assert!(v.swahili.contains("mbwa"));
        assert_eq!(v.info().english_words, 3);
    }
}
