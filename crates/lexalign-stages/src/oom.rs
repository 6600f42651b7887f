//! Out of memory is advice, not a panic: libtorch's CUDA (or CPU allocator) out-of-memory error,
//! which tch raises as a panic from the forward, becomes an error that suggests a smaller
//! `--batch-size`.

use anyhow::{anyhow, Result};
use std::panic::{self, AssertUnwindSafe};

/// Whether an error text is an allocator's out-of-memory error.
fn is_oom(text: &str) -> bool {
    let t = text.to_lowercase();
    t.contains("out of memory")
        || t.contains("can't allocate memory")
        || t.contains("failed to allocate")
}

/// The message for an error text that is an out-of-memory error (else `None`): names the
/// device and the batch size, quotes libtorch's own line and suggests what to lower.
pub fn oom_message(text: &str, batch_size: usize, device: &str) -> Option<String> {
    if !is_oom(text) {
        return None;
    }
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| is_oom(l))
        .unwrap_or(text.trim());
    let advice = if batch_size > 1 {
        format!("try a smaller --batch-size (e.g. {})", batch_size / 2)
    } else {
        "even --batch-size 1 does not fit: try --quant nf4, --dtype bf16 or a device with more memory".to_string()
    };
    Some(format!(
        "out of memory on {device} with --batch-size {batch_size}: {advice} (libtorch: {line})"
    ))
}

/// The text of a panic payload (`panic!` with a `&str` or a `String`).
fn payload_text(p: &(dyn std::any::Any + Send)) -> Option<&str> {
    p.downcast_ref::<&str>()
        .copied()
        .or_else(|| p.downcast_ref::<String>().map(String::as_str))
}

/// Runs `f` (the stage's forwards). An out-of-memory panic from tch, or an error that says out
/// of memory, becomes an error from [`oom_message`]; any other panic goes on unwinding.
pub fn with_oom_hint<T>(
    batch_size: usize,
    device: &str,
    f: impl FnOnce() -> Result<T>,
) -> Result<T> {
    quiet_oom_panics();
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => match oom_message(&format!("{e:#}"), batch_size, device) {
            Some(m) => Err(e.context(m)),
            None => Err(e),
        },
        Err(payload) => {
            match payload_text(payload.as_ref()).and_then(|t| oom_message(t, batch_size, device)) {
                Some(m) => Err(anyhow!(m)),
                None => panic::resume_unwind(payload),
            }
        }
    }
}

/// The default panic hook would print an out-of-memory panic (and a backtrace note) before it is
/// turned into an error; this hook stays quiet for those and hands every other panic on.
fn quiet_oom_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if payload_text(info.payload()).is_some_and(is_oom) {
                return;
            }
            previous(info);
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const CUDA_OOM: &str = "called `Result::unwrap()` on an `Err` value: Torch(\"CUDA out of memory. Tried to allocate \
        20.00 GiB. GPU 0 has a total capacity of 139.72 GiB of which 3.12 GiB is free.\\nException raised from malloc\")";

    #[test]
    fn a_cuda_oom_text_becomes_batch_size_advice() {
        let m = oom_message(CUDA_OOM, 64, "cuda:0").unwrap();
        assert!(
            m.contains("out of memory on cuda:0 with --batch-size 64")
                && m.contains("smaller --batch-size (e.g. 32)"),
            "{m}"
        );
        assert!(
            m.contains("Tried to allocate 20.00 GiB"),
            "libtorch's line is quoted: {m}"
        );
        let m = oom_message(
            "DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 bytes",
            1,
            "cpu",
        )
        .unwrap();
        assert!(m.contains("even --batch-size 1 does not fit"), "{m}");
        assert!(oom_message("shape mismatch: [2, 3] vs [3, 2]", 64, "cpu").is_none());
    }

    #[test]
    fn an_oom_panic_becomes_an_error_and_other_panics_unwind() {
        let e = with_oom_hint(8, "cuda:0", || -> Result<()> { panic!("{CUDA_OOM}") }).unwrap_err();
        assert!(
            format!("{e:#}").contains("try a smaller --batch-size (e.g. 4)"),
            "{e:#}"
        );
        let e = with_oom_hint(8, "cuda:0", || -> Result<()> {
            Err(anyhow!("CUDA out of memory. Tried to allocate 2 MiB"))
        })
        .unwrap_err();
        assert!(format!("{e:#}").contains("--batch-size 8"), "{e:#}");
        assert_eq!(with_oom_hint(8, "cpu", || Ok(5)).unwrap(), 5);
        let other = panic::catch_unwind(|| {
            with_oom_hint(8, "cpu", || -> Result<()> { panic!("index out of range") })
        });
        assert!(
            other.is_err(),
            "a panic that is not out of memory keeps unwinding"
        );
    }
}
