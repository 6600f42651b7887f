//! Workspace-level invariants that the README and CI promise.

use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("cannot read {rel}: {e}"))
}

#[test]
fn ci_runs_exactly_the_readme_test_command() {
    let readme = read("README.md");
    assert!(
        readme.contains("cargo xtask reproduce"),
        "README must give the reproduce command"
    );
    assert!(
        readme.contains("cargo xtask test"),
        "README must give the test command"
    );
    let ci = read(".ci/run");
    let commands: Vec<&str> = ci
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty()
                && !l.starts_with('#')
                && !l.starts_with("set ")
                && !l.starts_with("cd ")
                && !l.starts_with("export ")
        })
        .collect();
    assert_eq!(
        commands,
        vec!["cargo xtask test"],
        ".ci/run must call the README's test command and nothing weaker"
    );
}

#[test]
fn the_claims_registry_lists_the_papers_claims_and_the_rope_claim() {
    let text = read("paper/claims.toml");
    let n = text.lines().filter(|l| l.trim() == "[[claim]]").count();
    assert_eq!(
        n, 16,
        "paper/claims.toml should hold the paper's 15 claims and the implicit RoPE claim (31)"
    );
}

#[test]
fn the_paper_data_is_never_copied_into_the_repo() {
    // The authors' files are data from elsewhere: they are read from ../shared or the cache.
    let out = std::process::Command::new("git")
        .args(["ls-files"])
        .current_dir(root())
        .output();
    let Ok(out) = out else { return };
    let files = String::from_utf8_lossy(&out.stdout);
    for name in [
        "word_pairs.json",
        "control_word_pairs.json",
        "quantitative_results.csv",
        "layer_alignment_results.csv",
    ] {
        assert!(
            !files.lines().any(|f| f.ends_with(name)),
            "{name} must not be committed"
        );
    }
}
