//! The Hugging Face cache lookup on synthetic cache folders in a temp dir.

use super::*;

/// `hub/models--ORG--NAME` with one snapshot `hash` holding `files`; `refs/main` when `main`.
fn repo_dir(hub: &Path, repo: &str, hash: &str, files: &[&str], main: bool) -> PathBuf {
    let dir = hub.join(format!("models--{}", repo.replace('/', "--")));
    let snap = dir.join("snapshots").join(hash);
    std::fs::create_dir_all(&snap).unwrap();
    for f in files {
        std::fs::write(snap.join(f), "x").unwrap();
    }
    if main {
        std::fs::create_dir_all(dir.join("refs")).unwrap();
        std::fs::write(dir.join("refs").join("main"), format!("{hash}\n")).unwrap();
    }
    snap
}

fn err(r: Result<PathBuf>) -> String {
    format!("{:#}", r.unwrap_err())
}

#[test]
fn repo_ids_are_recognised_and_paths_are_not() {
    for ok in [
        "HuggingFaceTB/SmolLM2-135M",
        "google/gemma-3-270m",
        "a_b/c.d",
    ] {
        assert!(is_repo_id(ok), "{ok}");
    }
    for bad in [
        "smollm2-135m",
        "/abs/x",
        "a/b/c",
        "./x",
        "../x",
        "a/",
        "/b",
        "a b/c",
    ] {
        assert!(!is_repo_id(bad), "{bad}");
    }
}

#[test]
fn refs_main_picks_its_snapshot() {
    let t = tempfile::tempdir().unwrap();
    let hub = t.path().join("hub");
    repo_dir(
        &hub,
        "org/old",
        "aaa",
        &["config.json", "model.safetensors"],
        false,
    );
    let snap = repo_dir(
        &hub,
        "org/m",
        "abc123",
        &["config.json", "model.safetensors", "tokenizer.json"],
        true,
    );
    repo_dir(
        &hub,
        "org/m",
        "zzz999",
        &["config.json", "model.safetensors"],
        false,
    );
    assert_eq!(
        resolve_repo_in("org/m", std::slice::from_ref(&hub)).unwrap(),
        snap
    );
    // Without refs/main, the only complete snapshot.
    assert!(resolve_repo_in("org/old", &[hub])
        .unwrap()
        .ends_with("snapshots/aaa"));
}

#[test]
fn a_gguf_snapshot_resolves_to_its_file() {
    let t = tempfile::tempdir().unwrap();
    let snap = repo_dir(
        t.path(),
        "org/q",
        "h1",
        &["README.md", "m-Q4_K_M.gguf"],
        true,
    );
    assert_eq!(
        resolve_repo_in("org/q", &[t.path().to_path_buf()]).unwrap(),
        snap.join("m-Q4_K_M.gguf")
    );
    repo_dir(t.path(), "org/two", "h2", &["a.gguf", "b.gguf"], true);
    let e = err(resolve_repo_in("org/two", &[t.path().to_path_buf()]));
    assert!(e.contains("2 .gguf files"), "{e}");
}

#[test]
fn first_cache_holding_the_repo_wins() {
    let t = tempfile::tempdir().unwrap();
    let (a, b) = (t.path().join("a"), t.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    let snap = repo_dir(
        &b,
        "org/m",
        "h",
        &["config.json", "model-00001-of-00002.safetensors"],
        true,
    );
    assert_eq!(resolve_repo_in("org/m", &[a, b]).unwrap(), snap);
}

#[test]
fn missing_repo_lists_every_folder_looked_in() {
    let t = tempfile::tempdir().unwrap();
    let dirs = vec![t.path().join("one"), t.path().join("two")];
    let e = err(resolve_repo_in("org/none", &dirs));
    for d in &dirs {
        assert!(
            e.contains(&d.join("models--org--none").display().to_string()),
            "{e}"
        );
    }
    assert!(e.contains("never downloads"), "{e}");
}

#[test]
fn incomplete_snapshots_are_errors_naming_the_folder() {
    let t = tempfile::tempdir().unwrap();
    let hub = t.path().to_path_buf();
    // refs/main points at a snapshot without weights (a cut-short download).
    repo_dir(
        &hub,
        "org/cut",
        "h",
        &["config.json", "tokenizer.json"],
        true,
    );
    let e = err(resolve_repo_in("org/cut", std::slice::from_ref(&hub)));
    assert!(
        e.contains("not a complete model")
            && e.contains("snapshots/h")
            && e.contains("0 .safetensors"),
        "{e}"
    );
    // No refs/main and no complete snapshot: the repository's folder is named.
    repo_dir(&hub, "org/empty", "h", &["config.json"], false);
    let e = err(resolve_repo_in("org/empty", std::slice::from_ref(&hub)));
    assert!(
        e.contains("models--org--empty") && e.contains("no complete snapshot"),
        "{e}"
    );
    // A dangling link into blobs/ (the blob never arrived) is not a weight file.
    let snap = repo_dir(&hub, "org/dangling", "h", &["config.json"], true);
    std::os::unix::fs::symlink(hub.join("blobs-missing"), snap.join("model.safetensors")).unwrap();
    assert!(err(resolve_repo_in("org/dangling", &[hub])).contains("0 .safetensors"));
}

#[test]
fn cache_folders_follow_huggingface_hub() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| OsString::from(*v))
        }
    };
    let all = hub_dirs_with(env(&[
        ("HF_HUB_CACHE", "/c"),
        ("HF_HOME", "/h"),
        ("XDG_CACHE_HOME", "/x"),
        ("HOME", "/u"),
    ]));
    let want: Vec<PathBuf> = [
        "/c",
        "/h/hub",
        "/x/huggingface/hub",
        "/u/.cache/huggingface/hub",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    assert_eq!(all, want);
    assert_eq!(
        hub_dirs_with(env(&[("HF_HUB_CACHE", ""), ("HOME", "/u")])),
        vec![PathBuf::from("/u/.cache/huggingface/hub")]
    );
    assert!(hub_dirs_with(env(&[])).is_empty());
}
