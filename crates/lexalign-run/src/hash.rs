//! SHA-256 of bytes, files and folders, `sha256sum` files, and checking a file against its sum.
//! The one home for hashing: setup, the binaries and the report all use these.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Lower-case hex SHA-256 of a file, read in chunks (model files are hundreds of MB).
pub fn sha256_file(path: impl AsRef<Path>) -> Result<String> {
    copy_hashed(&[path], &mut std::io::sink())
}

/// Lower-case hex SHA-256 of bytes in memory.
pub fn sha256_bytes(bytes: impl AsRef<[u8]>) -> String {
    hex(&Sha256::digest(bytes.as_ref()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Copy `sources` one after the other into `w` and return the SHA-256 of all that was written
/// (reassembling a file from chunks and checking it in one pass).
pub fn copy_hashed(sources: &[impl AsRef<Path>], w: &mut impl std::io::Write) -> Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    for src in sources {
        let src = src.as_ref();
        let mut f = File::open(src).with_context(|| format!("cannot open {}", src.display()))?;
        loop {
            let n = f
                .read(&mut buf)
                .with_context(|| format!("cannot read {}", src.display()))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            w.write_all(&buf[..n])?;
        }
    }
    Ok(hex(&hasher.finalize()))
}

/// A file (or folder) and its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileHash {
    pub path: String,
    pub sha256: String,
}

/// A file's SHA-256, or for a folder (an HF checkpoint) the SHA-256 of its sorted
/// `sha256sum`-style manifest (`<hash>  <relative path>` lines, sorted by path).
pub fn hash_path(path: &Path) -> Result<FileHash> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    let sha256 = if meta.is_dir() {
        let mut files = Vec::new();
        collect_files(path, path, &mut files)?;
        files.sort();
        let mut manifest = String::new();
        for rel in files {
            let h = sha256_file(path.join(&rel))?;
            manifest.push_str(&format!("{h}  {rel}\n"));
        }
        sha256_bytes(manifest)
    } else {
        sha256_file(path)?
    };
    Ok(FileHash {
        path: path.display().to_string(),
        sha256,
    })
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let p = entry.path();
        if p.is_dir() {
            collect_files(root, &p, out)?;
        } else {
            let rel = p.strip_prefix(root).unwrap_or(&p);
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}

/// Outcome of checking a file against its expected SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashCheck {
    Ok,
    Missing,
    Mismatch { actual: String },
}

/// Compare the file at `path` with `expected` (hex, either case); a missing file is not an error.
pub fn check_hash(path: &Path, expected: &str) -> Result<HashCheck> {
    if !path.exists() {
        return Ok(HashCheck::Missing);
    }
    let actual = sha256_file(path)?;
    Ok(if actual.eq_ignore_ascii_case(expected) {
        HashCheck::Ok
    } else {
        HashCheck::Mismatch { actual }
    })
}

/// Parse `sha256sum` text: `<64 hex>  <path>` per line (`#` comments and blank lines skipped;
/// `<hash> *<path>` binary-mode lines accepted). Paths must be relative and stay inside the
/// folder they are relative to. `origin` names the text in errors.
pub fn parse_sums(text: &str, origin: &str) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (hash, path) = line
            .split_once("  ")
            .or_else(|| line.split_once(" *"))
            .ok_or_else(|| {
                anyhow!(
                    "{origin}: line {}: expected '<sha256>  <path>', got {line:?}",
                    i + 1
                )
            })?;
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!(
                "{origin}: line {}: {hash:?} is not a SHA-256 hex digest",
                i + 1
            );
        }
        if path.starts_with('/') || path.split('/').any(|c| c == "..") {
            bail!(
                "{origin}: line {}: {path:?} must be a relative path inside the folder the sums describe",
                i + 1
            );
        }
        out.insert(path.to_string(), hash.to_ascii_lowercase());
    }
    if out.is_empty() {
        bail!("{origin}: no sums listed");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn sha256_known_values() {
        assert_eq!(
            sha256_bytes(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("abc");
        std::fs::write(&p, "abc").unwrap();
        assert_eq!(sha256_file(&p).unwrap(), ABC);
        let err = sha256_file(dir.path().join("missing")).unwrap_err();
        assert!(format!("{err:#}").contains("missing"));
    }

    #[test]
    fn folder_hash_is_the_manifest_hash() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/b"), "abc").unwrap();
        std::fs::write(dir.path().join("a"), "").unwrap();
        let manifest = format!("{}  a\n{ABC}  sub/b\n", sha256_bytes(""));
        assert_eq!(
            hash_path(dir.path()).unwrap().sha256,
            sha256_bytes(manifest)
        );
    }

    #[test]
    fn copy_hashed_concatenates() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, "ab").unwrap();
        std::fs::write(&b, "c").unwrap();
        let mut out = Vec::new();
        assert_eq!(copy_hashed(&[&a, &b], &mut out).unwrap(), ABC);
        assert_eq!(out, b"abc");
    }

    #[test]
    fn checks() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("abc");
        std::fs::write(&f, "abc").unwrap();
        assert_eq!(check_hash(&f, ABC).unwrap(), HashCheck::Ok);
        assert_eq!(check_hash(&f, &ABC.to_uppercase()).unwrap(), HashCheck::Ok);
        std::fs::write(&f, "abd").unwrap();
        assert!(matches!(
            check_hash(&f, ABC).unwrap(),
            HashCheck::Mismatch { .. }
        ));
        assert_eq!(
            check_hash(&dir.path().join("none"), ABC).unwrap(),
            HashCheck::Missing
        );
    }

    #[test]
    fn sums_parsing() {
        let h = "a".repeat(64);
        let m = parse_sums(&format!("# c\n{h}  data/x.json\n\n{h} *y.csv\n"), "s").unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m["y.csv"], h);
        let e = parse_sums("xyz  a\n", "s").unwrap_err().to_string();
        assert!(e.contains("s: line 1"), "{e}");
        assert!(parse_sums("abc data/x.json\n", "s").is_err());
        assert!(parse_sums(&format!("{h}  ../etc/passwd\n"), "s").is_err());
        assert!(parse_sums(&format!("{h}  /etc/passwd\n"), "s").is_err());
        assert!(parse_sums("", "s").is_err());
        // The committed sums parse.
        let committed = include_str!("../../../paper/paper-data.sha256");
        assert_eq!(
            parse_sums(committed, "paper/paper-data.sha256")
                .unwrap()
                .len(),
            9
        );
    }
}
