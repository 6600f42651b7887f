//! The fuzz loop: pick an input from the corpus, mutate it, run the target under
//! `catch_unwind` with the allocation guard measuring its peak, count and save findings.
//!
//! No coverage instrumentation exists on stable Rust without a second toolchain, so the
//! feedback is cheap and coarse: an input is kept in the corpus when the target accepts it
//! (it reached deeper code) or when it fails with an error kind not seen before (error texts
//! with numbers and quoted words blanked out).

use std::collections::HashSet;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::guard;
use crate::mutate::{mutate_known_int, mutate_once, Seed};

/// What one target call did.
pub enum Outcome {
    /// The input was accepted.
    Ok,
    /// Refused with an error (the expected result for most mutants).
    Err(anyhow::Error),
    /// Not run (e.g. a mutant that would make the loader read files outside the sandbox).
    Skip,
}

impl From<Result<()>> for Outcome {
    fn from(r: Result<()>) -> Self {
        match r {
            Ok(()) => Outcome::Ok,
            Err(e) => Outcome::Err(e),
        }
    }
}

/// Scratch space of a target (a private temporary folder for the file-based readers).
pub struct Ctx {
    pub dir: tempfile::TempDir,
}

/// The scratch folder for file-based targets: `$LEXALIGN_FUZZ_TMP`, else `/dev/shm` where it
/// exists (tmpfs: rewriting a small file on ext4 forces a block allocation each time, which
/// makes the GGUF targets 25x slower), else the system temporary folder.
fn scratch() -> Result<tempfile::TempDir> {
    let root = match std::env::var_os("LEXALIGN_FUZZ_TMP") {
        Some(d) => PathBuf::from(d),
        None if Path::new("/dev/shm").is_dir() => PathBuf::from("/dev/shm"),
        None => std::env::temp_dir(),
    };
    let b = || {
        tempfile::Builder::new()
            .prefix("lexalign-fuzz-")
            .tempdir_in(&root)
    };
    b().or_else(|_| tempfile::Builder::new().prefix("lexalign-fuzz-").tempdir())
        .with_context(|| format!("creating a scratch folder in {}", root.display()))
}

/// One fuzz target.
pub struct Target {
    pub name: &'static str,
    pub about: &'static str,
    /// Small valid inputs (and interesting invalid ones), made in code.
    pub seeds: fn() -> Vec<Seed>,
    pub dict: &'static [&'static [u8]],
    /// Mutants are cut to this many bytes (keeps execs fast and inputs small).
    pub max_len: usize,
    pub run: fn(&Ctx, &[u8]) -> Outcome,
}

/// How long and how hard to fuzz one target.
#[derive(Clone, Debug)]
pub struct Budget {
    pub execs: u64,
    pub seconds: Option<f64>,
    pub seed: u64,
    /// Peak heap bytes one exec may take above what was live before it.
    pub alloc_budget: usize,
    /// Where findings are saved (`<out>/<target>/`).
    pub out: PathBuf,
}

/// One saved finding.
#[derive(Clone, Debug)]
pub struct Finding {
    pub kind: &'static str,
    pub message: String,
    pub file: PathBuf,
}

/// The figures of one run.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub target: String,
    pub execs: u64,
    pub ok: u64,
    pub errors: u64,
    pub skipped: u64,
    pub panics: u64,
    pub over_alloc: u64,
    pub max_peak: usize,
    pub corpus: usize,
    pub error_kinds: usize,
    pub seconds: f64,
    pub slowest_exec: f64,
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn failed(&self) -> bool {
        self.panics > 0 || self.over_alloc > 0
    }
}

thread_local! {
    static LAST_PANIC: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}
static HOOK: Mutex<bool> = Mutex::new(false);

/// A panic hook that records the message and location instead of printing them (the engine
/// prints one line per finding). Installed once.
fn install_quiet_hook() {
    let mut done = HOOK.lock().unwrap_or_else(|e| e.into_inner());
    if *done {
        return;
    }
    *done = true;
    let default = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if std::env::var_os("LEXALIGN_FUZZ_LOUD").is_some() {
            default(info);
        }
        let msg = match info.payload().downcast_ref::<&str>() {
            Some(s) => s.to_string(),
            None => info
                .payload()
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_default(),
        };
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{msg}{at}")));
    }));
}

/// An error's kind: its text with digits and quoted parts blanked and the scratch path removed.
pub fn error_kind(e: &anyhow::Error, scratch: &Path) -> String {
    let text = format!("{e:#}").replace(&scratch.display().to_string(), "");
    let mut out = String::with_capacity(text.len().min(256));
    let mut quote: Option<char> = None;
    let mut last_digit = false;
    for c in text.chars().take(400) {
        if let Some(q) = quote {
            if c == q {
                quote = None;
                out.push(c);
            }
            continue;
        }
        match c {
            '"' | '\'' | '`' => {
                quote = Some(c);
                out.push(c);
            }
            c if c.is_ascii_digit() => {
                if !last_digit {
                    out.push('#');
                }
                last_digit = true;
                continue;
            }
            c => out.push(c),
        }
        last_digit = false;
    }
    out
}

/// The watchdog's view of the exec in progress: start time in ms since `EPOCH` (0 = idle).
static EXEC_STARTED_MS: AtomicU64 = AtomicU64::new(0);

fn now_ms(epoch: Instant) -> u64 {
    epoch.elapsed().as_millis() as u64 + 1
}

/// Starts (once) a thread that aborts the process, naming the saved input, when one exec runs
/// longer than `limit` (a hang is a finding too).
pub fn start_watchdog(limit: Duration, epoch: Instant) {
    static STARTED: Mutex<bool> = Mutex::new(false);
    let mut s = STARTED.lock().unwrap_or_else(|e| e.into_inner());
    if *s {
        return;
    }
    *s = true;
    let _ = std::thread::Builder::new()
        .name("fuzz-watchdog".into())
        .spawn(move || loop {
            std::thread::sleep(Duration::from_millis(500));
            let started = EXEC_STARTED_MS.load(Relaxed);
            if started != 0 && now_ms(epoch).saturating_sub(started) > limit.as_millis() as u64 {
                eprintln!(
                    "lexalign-fuzz: one exec has run for more than {:.0} s (a hang)",
                    limit.as_secs_f64()
                );
                guard::dump_current_input();
                std::process::abort();
            }
        });
}

/// The `i`-th input: the seeds first, unmutated, then mutants of a seed (with its integer-field
/// map) or of any corpus entry, cut to the target's length limit.
fn next_input(
    rng: &mut ChaCha8Rng,
    input: &mut Vec<u8>,
    i: usize,
    seeds: &[Seed],
    corpus: &[Vec<u8>],
    target: &Target,
) {
    input.clear();
    let n_seeds = seeds.len();
    if i < n_seeds {
        input.extend_from_slice(&seeds[i].bytes);
    } else {
        // A seed (with its integer-field map) a third of the time, else any corpus entry.
        let from_seed = rng.gen_bool(0.35);
        let idx = if from_seed {
            rng.gen_range(0..n_seeds)
        } else {
            rng.gen_range(0..corpus.len())
        };
        input.extend_from_slice(&corpus[idx]);
        if from_seed && !seeds[idx].ints.is_empty() && rng.gen_bool(0.6) {
            for _ in 0..rng.gen_range(1..=2) {
                mutate_known_int(rng, input, &seeds[idx].ints);
            }
            if rng.gen_bool(0.5) {
                let other = &corpus[rng.gen_range(0..corpus.len())];
                mutate_once(rng, input, other, target.dict);
            }
        } else {
            let rounds = 1 << rng.gen_range(0..4);
            for _ in 0..rounds {
                let other = &corpus[rng.gen_range(0..corpus.len())];
                mutate_once(rng, input, other, target.dict);
            }
        }
        input.truncate(target.max_len);
    }
}

/// Fuzzes one target within `budget`.
pub fn run(target: &Target, budget: &Budget, epoch: Instant) -> Result<Report> {
    install_quiet_hook();
    let ctx = Ctx { dir: scratch()? };
    let out = budget.out.join(target.name);
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    // Written before each exec only by the guard/watchdog paths (abort): the live input.
    let current = out.join("current-input.bin");
    guard::set_crash_file(&current);

    let seeds = (target.seeds)();
    assert!(!seeds.is_empty(), "target {} has no seeds", target.name);
    let mut corpus: Vec<Vec<u8>> = seeds.iter().map(|s| s.bytes.clone()).collect();
    let n_seeds = corpus.len();
    const CORPUS_CAP: usize = 1024;
    let mut kinds: HashSet<String> = HashSet::new();
    let mut rng = ChaCha8Rng::seed_from_u64(budget.seed ^ fxhash(target.name));
    let mut report = Report {
        target: target.name.into(),
        ..Default::default()
    };
    let started = Instant::now();
    let deadline = budget.seconds.map(|s| started + Duration::from_secs_f64(s));
    let mut input: Vec<u8> = Vec::with_capacity(target.max_len + 512);

    // Seeds first, unmutated, then mutants.
    while report.execs < budget.execs {
        if report.execs % 64 == 0 && deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        next_input(
            &mut rng,
            &mut input,
            report.execs as usize,
            &seeds,
            &corpus,
            target,
        );
        guard::set_current_input(&input);
        let base = guard::live();
        guard::reset_peak();
        let t0 = Instant::now();
        EXEC_STARTED_MS.store(now_ms(epoch), Relaxed);
        let result = panic::catch_unwind(AssertUnwindSafe(|| (target.run)(&ctx, &input)));
        EXEC_STARTED_MS.store(0, Relaxed);
        let dt = t0.elapsed().as_secs_f64();
        let peak = guard::peak_since(base);
        guard::set_current_input(&[]);
        report.execs += 1;
        report.slowest_exec = report.slowest_exec.max(dt);
        report.max_peak = report.max_peak.max(peak);

        let mut keep = false;
        match result {
            Ok(Outcome::Ok) => {
                report.ok += 1;
                keep = rng.gen_bool(0.05);
            }
            Ok(Outcome::Err(e)) => {
                report.errors += 1;
                let kind = error_kind(&e, ctx.dir.path());
                if kinds.len() < 100_000 && !kinds.contains(&kind) {
                    if std::env::var_os("LEXALIGN_FUZZ_KINDS").is_some() {
                        eprintln!("new error kind: {kind}");
                    }
                    kinds.insert(kind);
                    keep = true;
                }
            }
            Ok(Outcome::Skip) => report.skipped += 1,
            Err(_) => {
                report.panics += 1;
                let msg = LAST_PANIC
                    .with(|p| p.borrow_mut().take())
                    .unwrap_or_else(|| "(no message)".into());
                save(&mut report, &out, "panic", msg, &input);
            }
        }
        if peak > budget.alloc_budget {
            report.over_alloc += 1;
            let msg = format!(
                "one exec peaked at {peak} heap bytes (budget {})",
                budget.alloc_budget
            );
            save(&mut report, &out, "alloc", msg, &input);
        }
        if keep && !input.is_empty() {
            if corpus.len() < CORPUS_CAP {
                corpus.push(input.clone());
            } else {
                let j = rng.gen_range(n_seeds..CORPUS_CAP);
                corpus[j] = input.clone();
            }
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
    report.corpus = corpus.len();
    report.error_kinds = kinds.len();
    Ok(report)
}

/// Saves a finding's input (the first 20 of each kind per run).
fn save(report: &mut Report, out: &Path, kind: &'static str, message: String, input: &[u8]) {
    let n = report.findings.iter().filter(|f| f.kind == kind).count();
    if n >= 20 {
        return;
    }
    let file = out.join(format!(
        "{kind}-{}-{:016x}.bin",
        report.execs,
        fxhash_bytes(input)
    ));
    if let Err(e) = std::fs::write(&file, input) {
        eprintln!("lexalign-fuzz: cannot save {}: {e}", file.display());
    }
    eprintln!(
        "lexalign-fuzz: {}: {kind} at exec {}: {message}\n  input saved to {}",
        report.target,
        report.execs,
        file.display()
    );
    report.findings.push(Finding {
        kind,
        message,
        file,
    });
}

fn fxhash(s: &str) -> u64 {
    fxhash_bytes(s.as_bytes())
}

/// FNV-1a (stable across runs and platforms, unlike `DefaultHasher`'s promise).
pub fn fxhash_bytes(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &x in b {
        h ^= x as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// Runs one input once, without catching a panic (for reproducing a saved finding).
pub fn replay(target: &Target, input: &[u8]) -> Result<String> {
    let ctx = Ctx { dir: scratch()? };
    let base = guard::live();
    guard::reset_peak();
    let r = (target.run)(&ctx, input);
    let peak = guard::peak_since(base);
    Ok(match r {
        Outcome::Ok => format!("accepted (peak {peak} heap bytes)"),
        Outcome::Err(e) => format!("refused (peak {peak} heap bytes): {e:#}"),
        Outcome::Skip => "skipped".into(),
    })
}
