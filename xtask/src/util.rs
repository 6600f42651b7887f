//! Small helpers: hashing, `sha256sum` files, running commands with clear errors, symlinks,
//! UTC time and JSON strings (xtask keeps to anyhow, clap and sha2).

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use sha2::{Digest, Sha256};

/// Lower-case hex SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f =
        File::open(path).with_context(|| format!("cannot open {} to hash it", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Outcome of checking a file against its expected SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashCheck {
    Ok,
    Missing,
    Mismatch { actual: String },
}

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

/// Parse `sha256sum` text: `<64 hex>  <path>` per line (`#` comments, blank lines skipped).
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
                "{origin}: line {}: {path:?} must be a relative path inside tli_project/",
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

/// Whether `program` can be started (`program --version` runs).
pub fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Run a command to completion (output inherited); `what` describes it and `hint` says what to do on failure.
pub fn run_status(cmd: &mut Command, what: &str, hint: &str) -> Result<()> {
    let status = cmd.status().map_err(|e| {
        anyhow!(
            "{what}: could not start {:?} ({e}); {hint}",
            cmd.get_program()
        )
    })?;
    if !status.success() {
        bail!("{what} failed ({status}); {hint}");
    }
    Ok(())
}

/// Run a command and return its stdout (stderr passed through on failure).
pub fn run_output(cmd: &mut Command, what: &str, hint: &str) -> Result<String> {
    let out = cmd.stderr(Stdio::piped()).output().map_err(|e| {
        anyhow!(
            "{what}: could not start {:?} ({e}); {hint}",
            cmd.get_program()
        )
    })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim();
        bail!("{what} failed ({}): {last}; {hint}", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Point `link` at `target`, replacing an existing link atomically (temp link + rename).
pub fn replace_symlink(target: &Path, link: &Path) -> Result<()> {
    if std::fs::read_link(link).ok().as_deref() == Some(target) {
        return Ok(());
    }
    if link.exists()
        && std::fs::symlink_metadata(link)
            .map(|m| !m.file_type().is_symlink())
            .unwrap_or(false)
    {
        bail!(
            "{} exists and is not a symlink; move it away so setup can point it at libtorch",
            link.display()
        );
    }
    let tmp = link.with_file_name(format!(
        ".{}.tmp-{}",
        link.file_name()
            .unwrap_or(OsStr::new("link"))
            .to_string_lossy(),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)
        .with_context(|| format!("cannot create symlink {}", tmp.display()))?;
    std::fs::rename(&tmp, link).with_context(|| format!("cannot replace {}", link.display()))?;
    Ok(())
}

/// Write a file atomically (temp file in the same folder + rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_file_name(format!(
        ".{}.tmp-{}",
        path.file_name()
            .unwrap_or(OsStr::new("file"))
            .to_string_lossy(),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))
}

fn civil(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        ((rem % 3600) / 60) as u32,
        (rem % 60) as u32,
    )
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// RFC 3339 UTC, e.g. `2025-06-02T14:00:00Z`.
pub fn utc_rfc3339() -> String {
    let (y, mo, d, h, mi, s) = civil(now_secs());
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// `yyyymmdd-hhmmss` UTC, the run-folder name.
pub fn utc_stamp() -> String {
    let (y, mo, d, h, mi, s) = civil(now_secs());
    format!("{y:04}{mo:02}{d:02}-{h:02}{mi:02}{s:02}")
}

/// A JSON string literal.
pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub fn json_opt(s: Option<&str>) -> String {
    s.map(json_str).unwrap_or_else(|| "null".into())
}

/// A path as a display string.
pub fn disp(p: &Path) -> String {
    p.display().to_string()
}

/// `p` made absolute against the current folder (without resolving symlinks).
pub fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|c| c.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_and_checks() {
        let dir = std::env::temp_dir().join(format!("xtask-hash-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("abc");
        std::fs::write(&f, "abc").unwrap();
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256_file(&f).unwrap(), abc);
        assert_eq!(check_hash(&f, abc).unwrap(), HashCheck::Ok);
        assert_eq!(check_hash(&f, &abc.to_uppercase()).unwrap(), HashCheck::Ok);
        std::fs::write(&f, "abd").unwrap();
        assert!(matches!(
            check_hash(&f, abc).unwrap(),
            HashCheck::Mismatch { .. }
        ));
        assert_eq!(
            check_hash(&dir.join("none"), abc).unwrap(),
            HashCheck::Missing
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sums_parsing() {
        let h = "a".repeat(64);
        let m = parse_sums(&format!("# c\n{h}  data/x.json\n\n{h} *y.csv\n"), "s").unwrap();
        assert_eq!(m.len(), 2);
        assert!(parse_sums("xyz  a\n", "s")
            .unwrap_err()
            .to_string()
            .contains("s: line 1"));
        assert!(parse_sums(&format!("{h}  ../etc/passwd\n"), "s").is_err());
        assert!(parse_sums("", "s").is_err());
        // The committed sums parse.
        let committed =
            std::fs::read_to_string(crate::paths::repo_root().join("paper/paper-data.sha256"))
                .unwrap();
        assert_eq!(
            parse_sums(&committed, "paper/paper-data.sha256")
                .unwrap()
                .len(),
            6
        );
    }

    #[test]
    fn json_strings() {
        assert_eq!(json_str("a\"b\\c\n"), r#""a\"b\\c\n""#);
        assert_eq!(json_opt(None), "null");
    }

    #[test]
    fn time_shapes() {
        assert_eq!(civil(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(utc_stamp().len(), 15);
        assert!(utc_rfc3339().ends_with('Z'));
    }
}
