//! Bad input without the real model: a tiny E5S1 image written here (hidden 32, one layer, random
//! weights) loads and embeds; truncated copies at every length, a wrong magic, an unknown version,
//! a tensor pointing past the end, a non-finite scale and empty texts are errors that say what is
//! wrong, never panics.

use lexalign_e5::format::E5File;
use lexalign_e5::{Role, E5};
use std::path::Path;
use tch::Device;

const H: usize = 32;
const FF: usize = 64;

/// A Q4_0 tensor of `n` weights: scale 0.01, nibbles from a counter.
fn q4(n: usize, seed: u8) -> Vec<u8> {
    let mut out = Vec::new();
    for b in 0..n / 32 {
        out.extend(half::f16::from_f32(0.01).to_le_bytes());
        out.extend(
            (0..16u8).map(|j| j.wrapping_mul(7).wrapping_add(seed).wrapping_add(b as u8) ^ 0x5a),
        );
    }
    out
}

fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The tiny image; `tensors` come after the directory, in its order.
fn image() -> Vec<u8> {
    let pieces = ["<s>", "<pad>", "</s>", "<unk>", "▁", "▁a", "b", "▁ab", "c"];
    let vocab = pieces.len();
    let mut tensors: Vec<(String, u8, usize, Vec<u8>)> = vec![
        ("emb.word".into(), 1, vocab * H, q4(vocab * H, 1)),
        (
            "emb.pos".into(),
            0,
            8 * H,
            f32s(
                &(0..8 * H)
                    .map(|i| (i as f32 * 0.37).sin() * 0.1)
                    .collect::<Vec<_>>(),
            ),
        ),
        ("emb.type".into(), 0, H, f32s(&[0.01; H])),
        ("emb.ln.w".into(), 0, H, f32s(&[1.0; H])),
        ("emb.ln.b".into(), 0, H, f32s(&[0.0; H])),
    ];
    for (name, rows, cols) in [
        ("q", H, H),
        ("k", H, H),
        ("v", H, H),
        ("ao", H, H),
        ("fi", FF, H),
        ("fo", H, FF),
    ] {
        tensors.push((
            format!("l0.{name}.w"),
            1,
            rows * cols,
            q4(rows * cols, name.len() as u8),
        ));
        tensors.push((format!("l0.{name}.b"), 0, rows, f32s(&vec![0.02; rows])));
    }
    for ln in ["aln", "oln"] {
        tensors.push((format!("l0.{ln}.w"), 0, H, f32s(&[1.0; H])));
        tensors.push((format!("l0.{ln}.b"), 0, H, f32s(&[0.0; H])));
    }
    let mut b = b"E5S1".to_vec();
    b.extend(1u32.to_le_bytes());
    for v in [H, 1, 2, FF, vocab, 8, 1] {
        b.extend((v as i32).to_le_bytes());
    }
    b.extend(1e-12f32.to_le_bytes());
    b.extend(32i32.to_le_bytes());
    for v in [vocab, 0, 2, 1, 3] {
        b.extend((v as i32).to_le_bytes());
    }
    let blob: Vec<u8> = pieces.iter().flat_map(|p| p.bytes()).collect();
    b.extend((blob.len() as u64).to_le_bytes());
    let mut off = 0u32;
    b.extend(off.to_le_bytes());
    for p in pieces {
        off += p.len() as u32;
        b.extend(off.to_le_bytes());
    }
    b.extend(f32s(&[0.0, 0.0, 0.0, 0.0, -2.0, -1.0, -3.0, -1.0, -4.0]));
    b.extend(&blob);
    let norm: Vec<u8> = [
        9u32.to_le_bytes().to_vec(),
        vec![1],
        32u32.to_le_bytes().to_vec(),
    ]
    .concat();
    b.extend(1i32.to_le_bytes());
    b.extend((norm.len() as u32).to_le_bytes());
    b.extend(&norm);
    b.extend((tensors.len() as i32).to_le_bytes());
    let dir_len: usize = tensors.iter().map(|(n, ..)| 2 + n.len() + 1 + 4 + 16).sum();
    let mut data_off = b.len() + dir_len;
    for (name, dt, n, bytes) in &tensors {
        b.extend((name.len() as u16).to_le_bytes());
        b.extend(name.as_bytes());
        b.push(*dt);
        b.extend((*n as u32).to_le_bytes());
        b.extend((data_off as u64).to_le_bytes());
        b.extend((bytes.len() as u64).to_le_bytes());
        data_off += bytes.len();
    }
    for (.., bytes) in tensors {
        b.extend(bytes);
    }
    b
}

fn load(bytes: &[u8]) -> anyhow::Result<E5> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.bin");
    std::fs::write(&p, bytes).unwrap();
    E5::load(&p, Device::Cpu)
}

#[test]
fn the_tiny_image_embeds() {
    let e5 = load(&image()).unwrap();
    assert_eq!(e5.tokenizer.content_ids("ab\tc"), vec![7, 4, 8]);
    let v = e5.embed(&["ab", "c ab", "ab"], Role::Query, 2).unwrap();
    assert_eq!(v.size(), [3, H as i64]);
    let norms = v
        .square()
        .sum_dim_intlist([1i64].as_slice(), false, tch::Kind::Float);
    assert!((norms - 1.0).abs().max().double_value(&[]) < 1e-5);
    assert!((v.get(0) - v.get(2)).abs().max().double_value(&[]) < 1e-6);
    // Past the 8-position window (6 content tokens a window): split, not refused.
    let long = "ab ".repeat(20);
    let w = e5.embed(&[long.as_str()], Role::Passage, 4).unwrap();
    assert_eq!(w.size(), [1, H as i64]);
    for bad in ["", "   ", "a\0b"] {
        let err = e5
            .embed(&["ab", bad], Role::Query, 2)
            .unwrap_err()
            .to_string();
        assert!(err.contains("text 1"), "{err}");
    }
}

#[test]
fn every_truncation_is_an_error() {
    let img = image();
    for len in (0..img.len()).step_by(7).chain([img.len() - 1]) {
        let err = E5File::parse(img[..len].to_vec(), Path::new("m.bin"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("m.bin") && (err.contains("truncated") || err.contains("magic")),
            "at {len}: {err}"
        );
    }
}

#[test]
fn damaged_files_are_errors() {
    let img = image();
    let mut magic = img.clone();
    magic[..4].copy_from_slice(b"GGUF");
    let err = E5File::parse(magic, Path::new("m.bin"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("magic \"E5S1\""), "{err}");
    // A header asking for more layers than the file holds: loading names the missing tensor.
    let mut layers = img.clone();
    layers[12..16].copy_from_slice(&2i32.to_le_bytes());
    let err = load(&layers).err().unwrap().to_string();
    assert!(err.contains("no tensor `l1.q.w`"), "{err}");
    let mut version = img.clone();
    version[4] = 9;
    assert!(E5File::parse(version, Path::new("m.bin"))
        .unwrap_err()
        .to_string()
        .contains("version 9"));
    let mut heads = img.clone();
    heads[16..20].copy_from_slice(&5i32.to_le_bytes());
    assert!(E5File::parse(heads, Path::new("m.bin"))
        .unwrap_err()
        .to_string()
        .contains("inconsistent header"));
    // The first tensor's offset (right after its name "emb.word", dtype and count) past the end.
    let at = img.windows(8).position(|w| w == b"emb.word").unwrap() + 8 + 1 + 4;
    let mut off = img.clone();
    off[at..at + 8].copy_from_slice(&(img.len() as u64).to_le_bytes());
    let err = E5File::parse(off, Path::new("m.bin"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("tensor `emb.word`") && err.contains("truncated or damaged"),
        "{err}"
    );
    // A NaN scale in a layer's weights: loading fails naming the tensor.
    let f = E5File::parse(img.clone(), Path::new("m.bin")).unwrap();
    let q = f
        .tensors
        .iter()
        .find(|t| t.name == "l0.q.w")
        .unwrap()
        .offset;
    let mut nan = img;
    nan[q..q + 2].copy_from_slice(&half::f16::NAN.to_le_bytes());
    let err = load(&nan).err().unwrap().to_string();
    assert!(err.contains("l0.q.w"), "{err}");
    let err = format!("{:#}", load(&nan).err().unwrap());
    assert!(err.contains("scale NaN"), "{err}");
}
