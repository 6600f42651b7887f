//! The prompts and the answer normalisation of `lang-study behaviour`'s word translation.
//!
//! Template (zero-shot): `The Korean word "사랑" in English is "`; few-shot prefixes 5 lines of
//! the same template completed with in-context pairs from the training split (`... is "love".`).
//! A candidate is scored as its word followed by the closing quote, so that a word is not
//! rewarded for being the prefix of a longer one. The greedy answer is the text before the first
//! closing quote or line break; it is correct when its first word (case folded, punctuation
//! trimmed, an English leading article dropped) or the whole answer equals a gold translation
//! normalised the same way.

use lexalign_data::Pair;

/// The language names of a direction's source and target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Direction {
    pub source: &'static str,
    pub target: &'static str,
    /// e.g. `ko-en`.
    pub code: &'static str,
}

/// `The {source} word "{word}" in {target} is "`.
pub fn query(d: Direction, word: &str) -> String {
    format!("The {} word \"{word}\" in {} is \"", d.source, d.target)
}

/// The prompt: `shots` completed lines, then the query.
pub fn prompt(d: Direction, shots: &[(String, String)], word: &str) -> String {
    let mut s = String::new();
    for (src, tgt) in shots {
        s.push_str(&query(d, src));
        s.push_str(tgt);
        s.push_str("\".\n");
    }
    s.push_str(&query(d, word));
    s
}

/// A candidate's scored text: the word and the closing quote.
pub fn candidate_text(word: &str) -> String {
    format!("{word}\"")
}

/// Whether a greedy continuation is complete enough to judge (a closing quote or line break).
pub fn answer_done(text: &str) -> bool {
    text.contains('"') || text.contains('\n')
}

/// Lowercased words of `s` with punctuation trimmed and an English leading article dropped.
fn words(s: &str) -> Vec<String> {
    let mut w: Vec<String> = s
        .split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect();
    if w.len() > 1 && matches!(w[0].as_str(), "a" | "an" | "the") {
        w.remove(0);
    }
    w
}

/// The answer part of a continuation: before the first closing quote or line break.
pub fn answer(text: &str) -> &str {
    text.split(['"', '\n']).next().unwrap_or("")
}

/// The normalised first word of the answer (empty when there is none).
pub fn first_word(text: &str) -> String {
    words(answer(text)).into_iter().next().unwrap_or_default()
}

/// Whether the continuation translates to one of `gold`.
pub fn is_correct(text: &str, gold: &[String]) -> bool {
    let got = words(answer(text));
    let Some(first) = got.first() else {
        return false;
    };
    gold.iter().any(|g| {
        let g = words(g);
        !g.is_empty() && (g == got || (g.len() == 1 && &g[0] == first))
    })
}

/// Groups pairs by source word (first-seen order): each source with all its gold targets.
pub fn group_by_source(pairs: &[Pair]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for p in pairs {
        match out.iter_mut().find(|(s, _)| *s == p.source) {
            Some((_, g)) if !g.contains(&p.target) => g.push(p.target.clone()),
            Some(_) => {}
            None => out.push((p.source.clone(), vec![p.target.clone()])),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KO_EN: Direction = Direction {
        source: "Korean",
        target: "English",
        code: "ko-en",
    };

    #[test]
    fn prompts() {
        assert_eq!(
            query(KO_EN, "사랑"),
            "The Korean word \"사랑\" in English is \""
        );
        let p = prompt(KO_EN, &[("물".into(), "water".into())], "사랑");
        assert_eq!(p, "The Korean word \"물\" in English is \"water\".\nThe Korean word \"사랑\" in English is \"");
        assert_eq!(candidate_text("love"), "love\"");
    }

    #[test]
    fn normalised_answers() {
        let gold = vec!["house".to_string(), "to eat".to_string()];
        assert!(is_correct("House\".", &gold));
        assert!(is_correct("the house\"", &gold));
        assert!(is_correct("house, home\"", &gold));
        assert!(is_correct("To eat\"", &gold));
        assert!(!is_correct("to\"", &gold));
        assert!(!is_correct("\"", &gold));
        assert!(!is_correct("mouse\"", &gold));
        assert_eq!(first_word("The Cat\" is"), "cat");
        assert!(answer_done("cat\"") && answer_done("cat\n") && !answer_done("ca"));
    }

    #[test]
    fn groups() {
        let pairs = vec![
            Pair::new("a", "x"),
            Pair::new("b", "y"),
            Pair::new("a", "z"),
            Pair::new("a", "x"),
        ];
        assert_eq!(
            group_by_source(&pairs),
            vec![
                ("a".into(), vec!["x".into(), "z".into()]),
                ("b".into(), vec!["y".into()])
            ]
        );
    }
}
