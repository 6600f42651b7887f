//! The git commit a binary was built from, for `--version`: `git rev-parse --short HEAD` at build
//! time, `unknown` when git or the `.git` folder is absent (a source tarball, a vendored copy), so
//! such builds still succeed.

use std::path::Path;
use std::process::Command;

/// Sets `LEXALIGN_GIT_COMMIT` for the package being built, and asks cargo to rebuild when HEAD
/// moves (a new commit, another branch checked out).
pub fn emit_git_commit() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let dir = Path::new(&dir);
    let commit = git(dir, &["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=LEXALIGN_GIT_COMMIT={commit}");
    // HEAD names the branch; the branch's ref file (or packed-refs) names the commit.
    let mut watch = vec!["HEAD".to_string(), "packed-refs".to_string()];
    watch.extend(git(dir, &["symbolic-ref", "-q", "HEAD"]));
    for what in watch {
        if let Some(p) = git(dir, &["rev-parse", "--git-path", &what]) {
            let p = dir.join(p);
            if p.exists() {
                println!("cargo:rerun-if-changed={}", p.display());
            }
        }
    }
}

/// One line of git's output in `dir`, or `None` (no git, not a checkout, an error).
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !s.is_empty()).then_some(s)
}
