//! Byte-level mutations (AFL-style havoc without coverage feedback): bit flips, random and
//! interesting bytes, inserts, deletes, duplicated ranges, splices with another input,
//! dictionary tokens, small arithmetic, and interesting integers, both at random offsets and at
//! the offsets of the seed's own integer fields (GGUF counts and lengths, safetensors' header
//! length), where a corrupt value matters most.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// One input to mutate: bytes plus the `(offset, width)` of its integer fields (little-endian).
#[derive(Clone, Debug, Default)]
pub struct Seed {
    pub bytes: Vec<u8>,
    pub ints: Vec<(usize, u8)>,
}

impl Seed {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            bytes: bytes.into(),
            ints: Vec::new(),
        }
    }
}

const INTERESTING_BYTES: &[u8] = &[
    0, 1, 2, 7, 8, 9, 0x7f, 0x80, 0xfe, 0xff, b'"', b'\'', b',', b'\t', b'\n', b'\r', b'\\', b'[',
    b']', b'{', b'}', b'(', b')', b':', b';', b'<', b'>', b'&', b'/', b'.', b' ', b'0', b'9', b'-',
    b'e', b'N', 0xc3, 0xe2, 0xf0,
];

/// Interesting values for an integer field of `len`-byte input at `offset`.
fn interesting_u64(rng: &mut ChaCha8Rng, len: usize, offset: usize) -> u64 {
    const FIXED: &[u64] = &[
        0,
        1,
        2,
        3,
        4,
        7,
        8,
        12,
        13,
        16,
        24,
        31,
        32,
        33,
        63,
        64,
        127,
        128,
        255,
        256,
        0x7fff,
        0x8000,
        0xffff,
        0x1_0000,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_ffff,
        1 << 32,
        1 << 40,
        1 << 60,
        1 << 62,
        (1 << 63) - 1,
        1 << 63,
        u64::MAX - 1,
        u64::MAX,
    ];
    let left = len.saturating_sub(offset) as u64;
    match rng.gen_range(0..10) {
        0 => left,
        1 => left.wrapping_add(1),
        2 => left.wrapping_sub(1),
        3 => len as u64,
        4 => rng.gen_range(0..=len as u64 + 64),
        _ => FIXED[rng.gen_range(0..FIXED.len())],
    }
}

fn write_int(buf: &mut [u8], offset: usize, width: u8, v: u64) {
    let w = width as usize;
    if offset + w <= buf.len() {
        buf[offset..offset + w].copy_from_slice(&v.to_le_bytes()[..w]);
    }
}

fn read_int(buf: &[u8], offset: usize, width: u8) -> u64 {
    let mut b = [0u8; 8];
    let w = width as usize;
    b[..w].copy_from_slice(&buf[offset..offset + w]);
    u64::from_le_bytes(b)
}

fn width(rng: &mut ChaCha8Rng) -> u8 {
    [1u8, 2, 4, 8][rng.gen_range(0..4)]
}

/// Writes an interesting integer (or nudges the value by a small delta) at one of the seed's own
/// integer fields.
pub fn mutate_known_int(rng: &mut ChaCha8Rng, buf: &mut [u8], ints: &[(usize, u8)]) {
    if ints.is_empty() {
        return;
    }
    let (off, w) = ints[rng.gen_range(0..ints.len())];
    if off + w as usize > buf.len() {
        return;
    }
    let v = if rng.gen_bool(0.25) {
        let old = read_int(buf, off, w);
        let d = rng.gen_range(1..=16u64);
        if rng.gen() {
            old.wrapping_add(d)
        } else {
            old.wrapping_sub(d)
        }
    } else {
        interesting_u64(rng, buf.len(), off)
    };
    write_int(buf, off, w, v);
}

/// One random havoc step on `buf` (`other`: an input to splice from; `dict`: tokens of the format).
pub fn mutate_once(rng: &mut ChaCha8Rng, buf: &mut Vec<u8>, other: &[u8], dict: &[&[u8]]) {
    let n = buf.len();
    match rng.gen_range(0..13) {
        0 if n > 0 => {
            let i = rng.gen_range(0..n);
            buf[i] ^= 1 << rng.gen_range(0..8);
        }
        1 if n > 0 => {
            let i = rng.gen_range(0..n);
            buf[i] = rng.gen();
        }
        2 if n > 0 => {
            let i = rng.gen_range(0..n);
            buf[i] = INTERESTING_BYTES[rng.gen_range(0..INTERESTING_BYTES.len())];
        }
        3 => {
            let i = rng.gen_range(0..=n);
            let k = rng.gen_range(1..=8);
            let bytes: Vec<u8> = (0..k)
                .map(|_| {
                    if rng.gen_bool(0.5) {
                        INTERESTING_BYTES[rng.gen_range(0..INTERESTING_BYTES.len())]
                    } else {
                        rng.gen()
                    }
                })
                .collect();
            buf.splice(i..i, bytes);
        }
        4 if n > 0 => {
            let i = rng.gen_range(0..n);
            let k = rng.gen_range(1..=16.min(n - i));
            buf.drain(i..i + k);
        }
        5 if n > 0 => {
            // Duplicate a range somewhere else.
            let i = rng.gen_range(0..n);
            let k = rng.gen_range(1..=64.min(n - i));
            let chunk = buf[i..i + k].to_vec();
            let at = rng.gen_range(0..=n);
            buf.splice(at..at, chunk);
        }
        6 if !other.is_empty() => {
            // Splice: a range of another input, inserted or overwriting.
            let i = rng.gen_range(0..other.len());
            let k = rng.gen_range(1..=256.min(other.len() - i));
            let chunk = &other[i..i + k];
            let at = rng.gen_range(0..=n);
            if rng.gen() {
                buf.splice(at..at, chunk.iter().copied());
            } else {
                let end = (at + k).min(n);
                buf.splice(at..end, chunk.iter().copied());
            }
        }
        7 if !other.is_empty() && rng.gen_bool(0.3) => {
            // Crossover: our head, their tail.
            let cut = rng.gen_range(0..=n);
            let from = rng.gen_range(0..other.len());
            buf.truncate(cut);
            buf.extend_from_slice(&other[from..]);
        }
        8 if n > 0 => {
            let w = width(rng);
            if n >= w as usize {
                let i = rng.gen_range(0..=n - w as usize);
                let v = interesting_u64(rng, n, i);
                write_int(buf, i, w, v);
            }
        }
        9 if n > 0 => {
            let w = width(rng);
            if n >= w as usize {
                let i = rng.gen_range(0..=n - w as usize);
                let old = read_int(buf, i, w);
                let d = rng.gen_range(1..=35u64);
                let v = if rng.gen() {
                    old.wrapping_add(d)
                } else {
                    old.wrapping_sub(d)
                };
                write_int(buf, i, w, v);
            }
        }
        10 | 11 if !dict.is_empty() => {
            let tok = dict[rng.gen_range(0..dict.len())];
            let at = rng.gen_range(0..=n);
            if rng.gen_bool(0.7) {
                buf.splice(at..at, tok.iter().copied());
            } else {
                let end = (at + tok.len()).min(n);
                buf.splice(at..end, tok.iter().copied());
            }
        }
        12 if n > 1 => {
            // Truncate.
            buf.truncate(rng.gen_range(0..n));
        }
        _ => {
            let i = rng.gen_range(0..=n);
            buf.insert(i, rng.gen());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn known_ints_stay_in_place_and_hit_huge_values() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut huge = false;
        for _ in 0..2000 {
            let mut b = vec![0u8; 16];
            mutate_known_int(&mut rng, &mut b, &[(4, 8)]);
            assert_eq!(&b[..4], &[0, 0, 0, 0]);
            assert_eq!(&b[12..], &[0, 0, 0, 0]);
            huge |= read_int(&b, 4, 8) >= 1 << 60;
        }
        assert!(huge);
    }

    #[test]
    fn havoc_never_panics() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut b = b"hello".to_vec();
        for _ in 0..20_000 {
            mutate_once(&mut rng, &mut b, b"other input", &[b"tok"]);
            if b.len() > 4096 {
                b.truncate(64);
            }
        }
        let mut e = Vec::new();
        for _ in 0..1000 {
            mutate_once(&mut rng, &mut e, &[], &[]);
            e.clear();
        }
    }
}
