//! Device and dtype selection.
//!
//! Why the explicit `dlopen`: torch-sys links `libtorch_cuda` but the linker drops it under
//! `--as-needed` (no symbol of it is referenced directly), so without loading it by hand a
//! CUDA-capable libtorch reports no GPU.

use anyhow::{bail, Result};
use std::str::FromStr;
use std::sync::OnceLock;
use tch::{Device, Kind};

static CUDA_LOADED: OnceLock<Result<(), String>> = OnceLock::new();

/// Loads `libtorch_cuda.so` once (found through the binary's rpath or `LD_LIBRARY_PATH`).
/// Returns why it could not be loaded (e.g. a CPU-only machine lacking the CUDA libraries).
pub fn load_cuda() -> Result<(), String> {
    CUDA_LOADED
        .get_or_init(|| {
            {
                let name = "libtorch_cuda.so";
                let c = std::ffi::CString::new(name).unwrap();
                // SAFETY: plain dlopen of a shared library by name; the handle is kept for the process.
                let h = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
                if !h.is_null() {
                    return Ok(());
                }
            }
            // SAFETY: dlerror returns a thread-local C string or null.
            let err = unsafe { libc::dlerror() };
            let msg = if err.is_null() {
                "unknown dlopen error".to_string()
            } else {
                unsafe { std::ffi::CStr::from_ptr(err) }
                    .to_string_lossy()
                    .into_owned()
            };
            Err(msg)
        })
        .clone()
}

/// Whether a CUDA device is usable (after trying to load libtorch_cuda).
pub fn cuda_available() -> bool {
    if let Err(e) = load_cuda() {
        log::debug!("libtorch_cuda not loaded: {e}");
    }
    tch::Cuda::is_available()
}

/// `--device auto|cpu|cuda|cuda:N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceArg {
    Auto,
    Cpu,
    Cuda(usize),
}

impl FromStr for DeviceArg {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "auto" => DeviceArg::Auto,
            "cpu" => DeviceArg::Cpu,
            "cuda" => DeviceArg::Cuda(0),
            _ => match s.strip_prefix("cuda:").and_then(|n| n.parse().ok()) {
                Some(n) => DeviceArg::Cuda(n),
                None => bail!("unknown device `{s}`: use auto, cpu, cuda or cuda:N"),
            },
        })
    }
}

impl DeviceArg {
    pub fn resolve(self) -> Result<Device> {
        match self {
            DeviceArg::Cpu => Ok(Device::Cpu),
            DeviceArg::Auto => Ok(if cuda_available() {
                Device::Cuda(0)
            } else {
                Device::Cpu
            }),
            DeviceArg::Cuda(n) => {
                if !cuda_available() {
                    let why = load_cuda()
                        .err()
                        .unwrap_or_else(|| "no CUDA device visible".into());
                    bail!("--device cuda was asked for but CUDA is not usable here ({why}); use --device cpu");
                }
                let count = tch::Cuda::device_count() as usize;
                if n >= count {
                    bail!("--device cuda:{n} does not exist ({count} CUDA device(s))");
                }
                Ok(Device::Cuda(n))
            }
        }
    }
}

/// `--dtype f32|bf16|f16`.
pub fn parse_kind(s: &str) -> Result<Kind> {
    Ok(match s {
        "f32" | "float32" => Kind::Float,
        "bf16" | "bfloat16" => Kind::BFloat16,
        "f16" | "float16" => Kind::Half,
        other => bail!("unknown dtype `{other}`: use f32, bf16 or f16"),
    })
}

pub fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Float => "f32",
        Kind::BFloat16 => "bf16",
        Kind::Half => "f16",
        Kind::Double => "f64",
        _ => "other",
    }
}

pub fn device_name(d: Device) -> String {
    match d {
        Device::Cpu => "cpu".into(),
        Device::Cuda(n) => format!("cuda:{n}"),
        other => format!("{other:?}"),
    }
}

/// The compute dtype of `--dtype` on `device`, and a note for the provenance when it is not
/// what was written.
///
/// `auto` is the authors' bf16 on a GPU and f32 on the CPU (fast, and the numbers the committed
/// snapshots hold). An explicit `bf16` runs bf16 on the CPU too: libtorch's CPU kernels support it
/// (AVX512-BF16 where the CPU has it), and it is how the bf16 path is tested without a GPU. An
/// explicit `f16` on the CPU still falls back to f32 (several CPU kernels lack f16).
pub fn compute_kind(dtype: &str, device: Device) -> Result<(Kind, Option<String>)> {
    if dtype == "auto" {
        return Ok(effective_kind(Kind::BFloat16, device));
    }
    let k = parse_kind(dtype)?;
    Ok(match (k, device) {
        (Kind::Half, Device::Cpu) => (
            Kind::Float,
            Some("f16 compute requested on CPU: using f32".into()),
        ),
        _ => (k, None),
    })
}

/// The `auto` rule: half precision on a GPU, f32 on the CPU (the provenance records the
/// fallback). An explicit `--dtype` goes through [`compute_kind`] instead.
pub fn effective_kind(requested: Kind, device: Device) -> (Kind, Option<String>) {
    if device == Device::Cpu && requested != Kind::Float {
        (Kind::Float, Some(format!("{} compute requested on CPU: using f32 (auto; pass --dtype bf16 to run bf16 on the CPU)", kind_name(requested))))
    } else {
        (requested, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_is_f32_on_cpu_but_explicit_bf16_runs_bf16() {
        let (k, note) = compute_kind("auto", Device::Cpu).unwrap();
        assert_eq!(k, Kind::Float);
        assert!(note.unwrap().contains("auto"));
        assert_eq!(
            compute_kind("auto", Device::Cuda(0)).unwrap(),
            (Kind::BFloat16, None)
        );
        assert_eq!(
            compute_kind("bf16", Device::Cpu).unwrap(),
            (Kind::BFloat16, None)
        );
        assert_eq!(
            compute_kind("bfloat16", Device::Cpu).unwrap(),
            (Kind::BFloat16, None)
        );
        assert_eq!(
            compute_kind("f32", Device::Cpu).unwrap(),
            (Kind::Float, None)
        );
        assert_eq!(compute_kind("f16", Device::Cpu).unwrap().0, Kind::Float);
        assert_eq!(
            compute_kind("f16", Device::Cuda(0)).unwrap(),
            (Kind::Half, None)
        );
        assert!(compute_kind("f64", Device::Cpu).is_err());
    }
}
