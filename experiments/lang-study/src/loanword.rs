//! The loanword / transliteration rule of the breakdowns (issue 31): a source word counts as a
//! loanword of its English gold when their consonant skeletons match.
//!
//! - Hangul is romanised letter by letter with the Revised Romanization tables (initial, vowel,
//!   final; no sound-change rules across syllables); Latin-script words (Swahili) are used as is.
//! - Skeleton: lower-cased; digraphs `ng ph th sh ch kk tt pp ss jj` become one letter; vowels and
//!   `h w y` are dropped; `c k q g` → k, `x` → ks, `t d` → t, `b p f v` → p, `j z s` → s,
//!   `r l` → l; repeats collapse.
//! - Loanword when both skeletons have at least 2 letters and their Levenshtein distance is 0
//!   (the longer has at most 3 letters) or at most 1 (longer ones). 하이픈 "hyphen": `pn` = `pn`.

const INITIAL: [&str; 19] = [
    "g", "kk", "n", "d", "tt", "r", "m", "b", "pp", "s", "ss", "", "j", "jj", "ch", "k", "t", "p",
    "h",
];
const VOWEL: [&str; 21] = [
    "a", "ae", "ya", "yae", "eo", "e", "yeo", "ye", "o", "wa", "wae", "oe", "yo", "u", "wo", "we",
    "wi", "yu", "eu", "ui", "i",
];
const FINAL: [&str; 28] = [
    "", "k", "k", "k", "n", "n", "n", "t", "l", "k", "m", "l", "l", "l", "p", "l", "m", "p", "p",
    "t", "t", "ng", "t", "t", "k", "t", "p", "t",
];

/// Revised Romanization, letter by letter; other characters are kept.
pub fn romanise(word: &str) -> String {
    let mut out = String::new();
    for c in word.chars() {
        let code = c as u32;
        if (0xAC00..=0xD7A3).contains(&code) {
            let s = (code - 0xAC00) as usize;
            out.push_str(INITIAL[s / 588]);
            out.push_str(VOWEL[(s % 588) / 28]);
            out.push_str(FINAL[s % 28]);
        } else {
            out.push(c);
        }
    }
    out
}

/// The consonant skeleton of a Latin-script word.
pub fn skeleton(word: &str) -> String {
    let mut w = word.to_lowercase();
    for (from, to) in [
        ("ng", "n"),
        ("ph", "p"),
        ("th", "t"),
        ("sh", "s"),
        ("ch", "s"),
        ("kk", "k"),
        ("tt", "t"),
        ("pp", "p"),
        ("ss", "s"),
        ("jj", "s"),
    ] {
        w = w.replace(from, to);
    }
    let mut out = String::new();
    for c in w.chars() {
        let m = match c {
            'c' | 'k' | 'q' | 'g' => "k",
            'x' => "ks",
            't' | 'd' => "t",
            'b' | 'p' | 'f' | 'v' => "p",
            'j' | 'z' | 's' => "s",
            'r' | 'l' => "l",
            'm' => "m",
            'n' => "n",
            _ => "",
        };
        for m in m.chars() {
            if !out.ends_with(m) {
                out.push(m);
            }
        }
    }
    out
}

fn levenshtein(a: &[char], b: &[char]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, x) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, y) in b.iter().enumerate() {
            cur.push(
                (prev[j] + (x != y) as usize)
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Whether `source` is a loanword / transliteration of `english` under the module's rule.
pub fn is_loanword(source: &str, english: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (
        skeleton(&romanise(source)).chars().collect(),
        skeleton(english).chars().collect(),
    );
    if a.len().min(b.len()) < 2 {
        return false;
    }
    levenshtein(&a, &b) <= usize::from(a.len().max(b.len()) > 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transliterations_match_and_native_words_do_not() {
        assert_eq!(romanise("하이픈"), "haipeun");
        assert_eq!(romanise("한국"), "hanguk");
        assert!(is_loanword("하이픈", "hyphen"));
        assert!(is_loanword("커피", "coffee"));
        assert!(is_loanword("컴퓨터", "computer"));
        assert!(is_loanword("인터넷", "internet"));
        assert!(!is_loanword("사과", "apple"));
        assert!(!is_loanword("개", "dog"));
        assert!(!is_loanword("바다", "sea"));
        assert!(!is_loanword("시간", "time"));
        assert!(is_loanword("kompyuta", "computer"));
    }
}
