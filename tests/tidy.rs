//! Tidy checks over the repository, in the spirit of rust-analyzer's `tidy.rs`: rules that keep
//! the code base one-way-to-do-each-thing, checked on every test run (docs/CONVENTIONS.md
//! describes them).
//!
//! 1. No machine-specific paths in tracked text files (the checkout must work anywhere).
//! 2. Each shared helper is defined once, in its home (no second `write_atomic`, `cache_dir`...).
//! 3. Crate dependencies point down the layer graph; pure crates never depend on tch.
//! 4. Every module starts with a `//!` doc saying what it is for.
//!
//! Allow-lists are exact (file, text) pairs with a reason, and an entry that no longer matches
//! anything fails too, so they only ever shrink.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Tracked files (`git ls-files`), relative to the repository root; `None` outside a checkout.
fn tracked_files() -> Option<Vec<String>> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo())
        .args(["ls-files", "-z"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Some(
        text.split('\0')
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .collect(),
    )
}

/// The text of a tracked file, if it is a text file present in the working tree.
fn read_text(rel: &str) -> Option<String> {
    let bytes = std::fs::read(repo().join(rel)).ok()?;
    if bytes.contains(&0) {
        return None;
    }
    String::from_utf8(bytes).ok()
}

fn tracked_or_skip() -> Option<Vec<String>> {
    let files = tracked_files();
    if files.is_none() {
        lexalign_run::missing_fixture(
            "tidy: not a git checkout (or no git), so the tracked files are unknown",
        );
    }
    files
}

// ------------------------------------------------------------------ 1. machine paths

/// Folder prefixes that only exist on some machine. Written in pieces so this file does not
/// match itself.
fn machine_prefixes() -> [String; 4] {
    ["work", "root", "home", "tmp"].map(|d| format!("/{d}/"))
}

/// Every machine-specific path in `text`: `/work/`, `/root/`, `/home/` anywhere, and `/tmp/`
/// followed by a name (a bare `/tmp/` is a generic temp folder). Returns (line, the path).
pub fn machine_paths(text: &str) -> Vec<(usize, String)> {
    let mut hits = Vec::new();
    for (i, line) in text.lines().enumerate() {
        for prefix in machine_prefixes() {
            let mut from = 0;
            while let Some(at) = line[from..].find(&prefix) {
                let start = from + at;
                from = start + prefix.len();
                // Part of a longer path (`/x/work/`) or a word (`framework/`) is not this prefix.
                let before = line[..start].chars().next_back();
                if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
                    continue;
                }
                let rest: String = line[from..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || "_.-/+".contains(*c))
                    .collect();
                if prefix == "/tmp/" && rest.is_empty() {
                    continue;
                }
                hits.push((i + 1, format!("{prefix}{rest}")));
            }
        }
    }
    hits
}

/// (file, path found) pairs that may stay, with why.
const MACHINE_PATH_ALLOWED: &[(&str, &str, &str)] = &[
    (
        "crates/lexalign-tli/tests/fixtures/peft_parity/peft_adapter/adapter_config.json",
        "/root/.cache/lexalign/models",
        "peft's own output, byte for byte (base_model_name_or_path as gen_peft.py passed it); \
         regenerate it with a relative base path to drop this entry",
    ),
    (
        "crates/lexalign-model/tests/fixtures/gemma3_tokenizer_skeleton.json",
        "/tmp/tmpczcm_2c3",
        "transformers' own tokenizer dump (the temp folder it saved to); regenerate it with a \
         fixed _name_or_path to drop this entry",
    ),
];

#[test]
fn no_machine_paths_in_tracked_files() {
    let Some(files) = tracked_or_skip() else {
        return;
    };
    let mut bad = Vec::new();
    let mut used = vec![false; MACHINE_PATH_ALLOWED.len()];
    // This file names the patterns it looks for.
    for f in files.iter().filter(|f| *f != "tests/tidy.rs") {
        let Some(text) = read_text(f) else { continue };
        for (line, path) in machine_paths(&text) {
            match MACHINE_PATH_ALLOWED
                .iter()
                .position(|(af, ap, _)| af == f && *ap == path)
            {
                Some(i) => used[i] = true,
                None => bad.push(format!("{f}:{line}: {path}")),
            }
        }
    }
    for (i, (f, p, _)) in MACHINE_PATH_ALLOWED.iter().enumerate() {
        if !used[i] {
            bad.push(format!(
                "stale allow-list entry ({f}, {p}): remove it from tests/tidy.rs"
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "machine-specific paths in tracked files (use an environment variable, a path relative \
         to the repository or a placeholder; see docs/CONVENTIONS.md):\n  {}",
        bad.join("\n  ")
    );
}

#[test]
fn machine_path_checker() {
    let work = format!("let p = \"{}work/refvenv/bin/python\";", '/');
    assert_eq!(
        machine_paths(&format!("ok\n{work}\n")),
        vec![(2, format!("{}work/refvenv/bin/python", '/'))]
    );
    let tmp = format!("{}tmp/", '/');
    assert_eq!(machine_paths(&format!("out {tmp}smol-hf")).len(), 1);
    assert!(machine_paths(&format!("a temp folder such as {tmp} is generic")).is_empty());
    assert!(machine_paths("framework/ and ~/.cache/lexalign and $XDG_CACHE_HOME").is_empty());
    assert!(machine_paths(&format!("see {}home/me/x and {}root/.cache", '/', '/')).len() == 2);
}

// ------------------------------------------------------------------ 2. one home per helper

/// Shared helpers and types: (what, the one file that may define it).
const HOMES: &[(&str, &str)] = &[
    ("fn write_atomic", "crates/lexalign-run/src/fsutil.rs"),
    ("fn write_atomic_with", "crates/lexalign-run/src/fsutil.rs"),
    ("fn swap_dir", "crates/lexalign-run/src/fsutil.rs"),
    ("fn replace_symlink", "crates/lexalign-run/src/fsutil.rs"),
    ("struct RunDir", "crates/lexalign-run/src/rundir.rs"),
    ("fn unique_run_dir", "crates/lexalign-run/src/rundir.rs"),
    ("fn cache_dir", "crates/lexalign-run/src/cache.rs"),
    ("fn cache_dir_with", "crates/lexalign-run/src/cache.rs"),
    ("fn sha256_file", "crates/lexalign-run/src/hash.rs"),
    ("fn sha256_bytes", "crates/lexalign-run/src/hash.rs"),
    ("fn hash_path", "crates/lexalign-run/src/hash.rs"),
    ("fn check_hash", "crates/lexalign-run/src/hash.rs"),
    ("fn parse_sums", "crates/lexalign-run/src/hash.rs"),
    ("fn resolve_model", "crates/lexalign-gguf/src/locate.rs"),
    ("struct Pair", "crates/lexalign-data/src/pairs/mod.rs"),
    // The eval row (tli and the report alias it `EvalRow`).
    (
        "struct QuantitativeRow",
        "crates/lexalign-data/src/paper.rs",
    ),
    ("struct EvalStats", "crates/lexalign-published/src/eval.rs"),
    // The bench's result line: printed by `lexalign bench` and the anchors, parsed by xtask.
    ("struct BenchLine", "crates/lexalign-run/src/bench_line.rs"),
    // The study's CSV rows: written by lang-study, read by the report.
    ("struct ChangeRow", "crates/lexalign-data/src/study_rows.rs"),
    ("struct CkaRow", "crates/lexalign-data/src/study_rows.rs"),
    (
        "struct CkaChangeRow",
        "crates/lexalign-data/src/study_rows.rs",
    ),
    // The language-model rows: written by `lexalign generate` / `lm-loss`, read by their tests.
    (
        "struct GenerationRow",
        "crates/lexalign-data/src/lm_rows.rs",
    ),
    ("struct LmLossRow", "crates/lexalign-data/src/lm_rows.rs"),
    // One reader/writer of typed CSV and JSON Lines run files.
    ("fn read_jsonl", "crates/lexalign-data/src/typed_files.rs"),
    (
        "struct ScriptGenRow",
        "crates/lexalign-data/src/authors_rows.rs",
    ),
    (
        "struct TsneRankRow",
        "crates/lexalign-data/src/authors_rows.rs",
    ),
    (
        "struct ScriptsSummary",
        "crates/lexalign-published/src/probe/scripts.rs",
    ),
    (
        "struct BaselineRow",
        "crates/lexalign-data/src/study_rows.rs",
    ),
    (
        "struct BaselineTestRow",
        "crates/lexalign-data/src/study_rows.rs",
    ),
    // Dense linear algebra and the linear-map baselines (issue 26): one implementation.
    ("fn sym_eig", "crates/lexalign-metrics/src/linalg.rs"),
    ("fn svd_square", "crates/lexalign-metrics/src/svd.rs"),
    ("fn procrustes", "crates/lexalign-metrics/src/linear_map.rs"),
    (
        "fn k_occurrence_skew",
        "crates/lexalign-metrics/src/hubness.rs",
    ),
    // One config type per model family; the GGUF side only derives its `config.json`.
    ("struct ModelConfig", "crates/lexalign-model/src/config.rs"),
    (
        "struct LoraConfig",
        "crates/lexalign-lora-config/src/lib.rs",
    ),
    (
        "fn shuffled_partners",
        "crates/lexalign-metrics/src/baseline.rs",
    ),
    // Open-pool retrieval (issue 31): one implementation, one row type per output file.
    (
        "struct PreparedPool",
        "crates/lexalign-metrics/src/open_pool.rs",
    ),
    (
        "struct OpenPoolRow",
        "crates/lexalign-data/src/open_pool_rows.rs",
    ),
    (
        "struct BreakdownRow",
        "crates/lexalign-data/src/open_pool_rows.rs",
    ),
    ("fn holm", "crates/lexalign-stats/src/multiple.rs"),
];

/// Names of retired copies: defined nowhere, ever again (what, what to use instead). Kept apart
/// from [`HOMES`], whose every entry must be defined in its home.
const RETIRED: &[(&str, &str)] = &[
    ("fn write_file_atomic", "lexalign_run::write_atomic"),
    ("fn replace_dir", "lexalign_run::temp_dir_beside + swap_dir"),
    ("struct RunDirs", "lexalign_run::RunDir"),
    ("struct EvalRow", "lexalign_data::QuantitativeRow (tli and the report alias it `EvalRow`)"),
    ("struct LlamaConfig", "lexalign_model::ModelConfig (one config type per family)"),
    ("fn derangement", "lexalign_metrics::shuffled_partners"),
    ("fn shuffle_order", "lexalign_metrics::shuffled_partners (tli-eval once had its own ChaCha20 shuffle with fixed points)"),
];

/// Second definitions still waiting for their issue-16 clean-up: (what, file, why).
const SECOND_DEFINITIONS_ALLOWED: &[(&str, &str, &str)] = &[];

/// Lines of `text` that define `what` (`fn name` / `struct Name`, any visibility), 1-based.
pub fn definitions(text: &str, what: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut from = 0;
        while let Some(at) = code[from..].find(what) {
            let start = from + at;
            from = start + what.len();
            let before = code[..start].chars().next_back();
            let after = code[from..].chars().next();
            let word_start = before.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
            let word_end = after.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
            if word_start && word_end {
                out.push(i + 1);
                break;
            }
        }
    }
    out
}

#[test]
fn shared_helpers_are_defined_once() {
    let Some(files) = tracked_or_skip() else {
        return;
    };
    let mut bad = Vec::new();
    let mut used = vec![false; SECOND_DEFINITIONS_ALLOWED.len()];
    for f in files
        .iter()
        .filter(|f| f.ends_with(".rs") && *f != "tests/tidy.rs")
    {
        let Some(text) = read_text(f) else { continue };
        for (what, use_instead) in RETIRED {
            for line in definitions(&text, what) {
                bad.push(format!(
                    "{f}:{line}: `{what}` is a retired copy: use {use_instead}"
                ));
            }
        }
        for (what, home) in HOMES {
            for line in definitions(&text, what) {
                if f == home {
                    continue;
                }
                match SECOND_DEFINITIONS_ALLOWED
                    .iter()
                    .position(|(w, af, _)| w == what && af == f)
                {
                    Some(i) => used[i] = true,
                    None => bad.push(format!(
                        "{f}:{line}: a second `{what}` (its home is {home})"
                    )),
                }
            }
        }
    }
    for (i, (w, f, _)) in SECOND_DEFINITIONS_ALLOWED.iter().enumerate() {
        if !used[i] {
            bad.push(format!(
                "stale allow-list entry ({w}, {f}): remove it from tests/tidy.rs"
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "shared helpers defined outside their home (call the shared one instead):\n  {}",
        bad.join("\n  ")
    );
}

#[test]
fn every_home_defines_its_item_once() {
    let mut bad = Vec::new();
    for (what, home) in HOMES {
        match read_text(home).map(|t| definitions(&t, what).len()) {
            None => bad.push(format!("{home}: missing (the home of `{what}`)")),
            Some(1) => {}
            Some(n) => bad.push(format!(
                "{home}: {n} definitions of `{what}`, want exactly 1"
            )),
        }
    }
    assert!(
        bad.is_empty(),
        "stale or doubled one-home entries in tests/tidy.rs:\n  {}",
        bad.join("\n  ")
    );
}

#[test]
fn every_module_says_why_it_exists() {
    let Some(files) = tracked_or_skip() else {
        return;
    };
    let bad: Vec<&String> = files
        .iter()
        .filter(|f| f.ends_with(".rs") && !f.ends_with("build.rs") && !f.contains("/fixtures/"))
        .filter(|f| read_text(f).is_some_and(|t| !t.trim_start().starts_with("//!")))
        .collect();
    assert!(bad.is_empty(), "modules without a `//!` doc comment at the top (say what the module is for and why):\n  {bad:?}");
}

#[test]
fn definition_checker() {
    let src =
        "pub fn write_atomic(p: &Path) {}\nfn write_atomic_with<F>() {}\n// fn write_atomic\n\
               let s = write_atomic(p);\npub(crate) struct Pair {\nstruct PairFile;\n";
    assert_eq!(definitions(src, "fn write_atomic"), vec![1]);
    assert_eq!(definitions(src, "fn write_atomic_with"), vec![2]);
    assert_eq!(definitions(src, "struct Pair"), vec![5]);
}

// ------------------------------------------------------------------ 3. dependencies point down

/// The layer of each workspace crate: a crate may depend only on crates of a lower layer.
/// run < data/stats/quant/gguf/lora-config < metrics/published (they use stats) < model/laser/e5
/// (the tch encoders) < scan/tli < report/cli < experiments.
const LAYERS: &[(&str, u32)] = &[
    ("lexalign-build", 0),
    ("lexalign-run", 0),
    ("lexalign-data", 10),
    ("lexalign-stats", 10),
    ("lexalign-quant", 10),
    ("lexalign-gguf", 10),
    ("lexalign-lora-config", 10),
    ("lexalign-metrics", 15),
    ("lexalign-published", 15),
    ("lexalign-model", 20),
    ("lexalign-laser", 20),
    ("lexalign-e5", 20),
    ("lexalign-scan", 30),
    ("lexalign-tli", 30),
    // Fuzz targets over data/gguf, and over model with `--features tch`.
    ("lexalign-fuzz", 30),
    ("lexalign-report", 40),
    ("lexalign-stages", 40),
    // The `lexalign` binary: flag parsing over the stage library, above the experiments.
    ("lexalign-cli", 60),
];
/// Every `experiments/*` crate.
const EXPERIMENT_LAYER: u32 = 50;
/// Crates that must build without libtorch: no tch among their dependencies.
const PURE: &[&str] = &[
    "lexalign-build",
    "lexalign-run",
    "lexalign-data",
    "lexalign-stats",
    "lexalign-quant",
    "lexalign-gguf",
    "lexalign-metrics",
    "lexalign-lora-config",
    "lexalign-published",
    "lexalign-report",
    "xtask",
];

/// (package name, dependencies) of a Cargo.toml: the names under `[dependencies]` and
/// `[build-dependencies]` (dev-dependencies may point anywhere: tests sit above everything).
pub fn manifest_deps(toml: &str) -> (Option<String>, Vec<String>) {
    let mut name = None;
    let mut deps = Vec::new();
    let mut section = String::new();
    for line in toml.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.starts_with('[') {
            section = line.trim_matches(|c| c == '[' || c == ']').to_string();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if section == "package" && key == "name" {
            name = Some(value.trim().trim_matches('"').to_string());
        }
        if section == "dependencies" || section == "build-dependencies" {
            deps.push(key.split('.').next().unwrap_or(key).trim().to_string());
        }
    }
    (name, deps)
}

/// What is wrong with one crate's dependencies, given its layer (`None`: unknown crate).
pub fn dependency_problems(name: &str, layer: Option<u32>, deps: &[String]) -> Vec<String> {
    let layer_of = |n: &str| LAYERS.iter().find(|(c, _)| *c == n).map(|(_, l)| *l);
    let mut bad = Vec::new();
    let Some(layer) = layer else {
        return vec![format!(
            "{name} has no layer: add it to LAYERS in tests/tidy.rs (and docs/CONVENTIONS.md)"
        )];
    };
    for d in deps {
        if d == "tch" || d == "torch-sys" {
            if PURE.contains(&name) {
                bad.push(format!("{name} is a pure crate but depends on {d}"));
            }
            continue;
        }
        if !d.starts_with("lexalign-") {
            continue;
        }
        match layer_of(d) {
            Some(l) if l < layer => {
                if PURE.contains(&name) && !PURE.contains(&d.as_str()) {
                    bad.push(format!(
                        "{name} is a pure crate but depends on {d}, which links tch"
                    ));
                }
            }
            Some(l) => bad.push(format!(
                "{name} (layer {layer}) depends on {d} (layer {l}): dependencies must point down"
            )),
            None => bad.push(format!(
                "{name} depends on {d}, which has no layer in tests/tidy.rs"
            )),
        }
    }
    bad
}

#[test]
fn dependencies_point_down() {
    let root = repo();
    let mut manifests: BTreeMap<PathBuf, String> = BTreeMap::new();
    for dir in ["crates", "experiments"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = e.unwrap().path().join("Cargo.toml");
            if let Ok(t) = std::fs::read_to_string(&p) {
                manifests.insert(p, t);
            }
        }
    }
    let xtask = root.join("xtask/Cargo.toml");
    manifests.insert(xtask.clone(), std::fs::read_to_string(&xtask).unwrap());
    let mut bad = Vec::new();
    for (path, text) in &manifests {
        let (Some(name), deps) = manifest_deps(text) else {
            bad.push(format!("{}: no package name", path.display()));
            continue;
        };
        let in_experiments = path.starts_with(root.join("experiments"));
        let layer = if name == "xtask" {
            // xtask builds before libtorch exists: only pure crates, below everything else.
            Some(EXPERIMENT_LAYER)
        } else if in_experiments {
            Some(EXPERIMENT_LAYER)
        } else {
            LAYERS.iter().find(|(c, _)| *c == name).map(|(_, l)| *l)
        };
        bad.extend(
            dependency_problems(&name, layer, &deps)
                .into_iter()
                .map(|p| format!("{}: {p}", rel(path))),
        );
    }
    assert!(
        bad.is_empty(),
        "crate dependencies:\n  {}",
        bad.join("\n  ")
    );
}

fn rel(p: &Path) -> String {
    p.strip_prefix(repo()).unwrap_or(p).display().to_string()
}

#[test]
fn dependency_checker() {
    let toml = "[package]\nname = \"lexalign-gguf\"\n\n[dependencies]\nanyhow.workspace = true\n\
                lexalign-model = { path = \"x\" }\ntch.workspace = true # no\n\n[dev-dependencies]\n\
                lexalign-cli.workspace = true\n";
    let (name, deps) = manifest_deps(toml);
    assert_eq!(name.as_deref(), Some("lexalign-gguf"));
    assert_eq!(deps, ["anyhow", "lexalign-model", "tch"]);
    let bad = dependency_problems("lexalign-gguf", Some(10), &deps);
    assert_eq!(bad.len(), 2, "{bad:?}");
    assert!(
        bad[0].contains("must point down") && bad[1].contains("pure crate"),
        "{bad:?}"
    );
    assert!(
        dependency_problems("xtask", Some(EXPERIMENT_LAYER), &["lexalign-model".into()])[0]
            .contains("links tch")
    );
    assert!(dependency_problems("lexalign-new", None, &[])[0].contains("no layer"));
    assert!(dependency_problems(
        "lexalign-tli",
        Some(30),
        &["lexalign-model".into(), "tch".into()]
    )
    .is_empty());
}
