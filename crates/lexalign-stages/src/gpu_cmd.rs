//! `lexalign gpu probe|compare`: the checks `cargo xtask doctor` and `cargo xtask gpu-check` run
//! (xtask never links tch, so they live in the binary). Each prints one line; the exit status is
//! 0 when the check passed, 1 when it failed, 3 when no CUDA device is present.

use anyhow::Result;
use clap::Subcommand;
use lexalign_model::device::{cuda_available, load_cuda};
use lexalign_model::tch::{self, Device, Kind, Tensor};
use lexalign_model::{LoadOptions, Pooling, QuantMode};

/// Exit status for "no CUDA device here" (distinct from a failed check).
pub const NO_CUDA: i32 = 3;

/// Largest |CUDA - CPU| of pooled, L2-normalised vectors in f32.
pub const F32_TOL: f64 = 1e-4;
/// The same in bf16: a few bf16 roundings (2^-8 relative) of entries of about 0.1, through every
/// layer; CPU and CUDA bf16 kernels accumulate in different orders.
pub const BF16_TOL: f64 = 5e-2;

#[derive(Debug, Clone, Subcommand)]
pub enum GpuCmd {
    /// A 512x512 f32 matmul on cuda:0 against the CPU.
    Probe,
    /// Pooled vectors (mean, every hidden state) of a fixed word list on CPU and CUDA.
    Compare {
        /// Embedded model name or path.
        #[arg(long)]
        model: Option<std::path::PathBuf>,
        /// f32 | bf16 (the same dtype on both devices).
        #[arg(long, default_value = "f32", value_parser = ["f32", "bf16"])]
        dtype: String,
    },
}

/// Why CUDA is not usable, or `None` when it is.
pub fn no_cuda_reason() -> Option<String> {
    if cuda_available() {
        return None;
    }
    Some(match load_cuda() {
        Err(e) => format!("libtorch_cuda.so could not be loaded ({e})"),
        Ok(()) => {
            "libtorch_cuda.so loaded, but no CUDA device is visible (no GPU or no driver)".into()
        }
    })
}

pub fn run_gpu(cmd: &GpuCmd) -> Result<i32> {
    if let Some(why) = no_cuda_reason() {
        println!("no CUDA device is present: {why}");
        return Ok(NO_CUDA);
    }
    match cmd {
        GpuCmd::Probe => {
            tch::manual_seed(0);
            let a = Tensor::randn([512, 512], (Kind::Float, Device::Cpu));
            let b = Tensor::randn([512, 512], (Kind::Float, Device::Cpu));
            let cpu = a.matmul(&b);
            let gpu = a
                .to_device(Device::Cuda(0))
                .matmul(&b.to_device(Device::Cuda(0)))
                .to_device(Device::Cpu);
            let d = (cpu - gpu).abs().max().double_value(&[]);
            let ok = d < 1e-2; // TF32 may be on for f32 matmuls; an error would be NaN or large
            println!(
                "CUDA matmul {}: 512x512 f32 on cuda:0 of {} device(s), max |GPU - CPU| {d:.2e}",
                if ok { "ok" } else { "FAILED" },
                tch::Cuda::device_count()
            );
            Ok(if ok { 0 } else { 1 })
        }
        GpuCmd::Compare { model, dtype } => compare(model.as_deref(), dtype),
    }
}

const WORDS: &[&str] = &[
    "maji", "water", "mti", "tree", "nyumba", "house", "mtoto", "child", "chakula", "food",
    "kitabu", "book", "shule", "school", "rafiki", "friend", "jua", "sun", "mwezi", "moon",
    "barabara", "road", "mlima", "mountain",
];

fn compare(model: Option<&std::path::Path>, dtype: &str) -> Result<i32> {
    let path = lexalign_gguf::resolve_model(model)?;
    let kind = if dtype == "bf16" {
        Kind::BFloat16
    } else {
        Kind::Float
    };
    let tol = if dtype == "bf16" { BF16_TOL } else { F32_TOL };
    let load = |device| {
        lexalign_model::load(
            &path,
            &LoadOptions {
                device,
                kind,
                quant: QuantMode::None,
                ..LoadOptions::default()
            },
        )
    };
    let cpu = load(Device::Cpu)?;
    let layers: Vec<usize> = (0..cpu.model.num_hidden_states()).collect();
    let a = cpu.embed(WORDS, &layers, Pooling::Mean, 8, |_| {})?;
    drop(cpu);
    let gpu = load(Device::Cuda(0))?;
    let b = gpu.embed(WORDS, &layers, Pooling::Mean, 8, |_| {})?;
    let mut worst = (0.0f64, 0usize);
    for l in 0..layers.len() {
        let d = (a.vectors(l)? - b.vectors(l)?)
            .abs()
            .max()
            .double_value(&[]);
        if d.is_nan() || worst.0.is_nan() || d > worst.0 {
            worst = (d, l);
        }
    }
    let ok = worst.0 <= tol;
    println!(
        "pooled vectors CUDA vs CPU {} ({dtype}, {}): {} words x {} hidden states, max |diff| {:.2e} at hidden state {} (tolerance {tol:.0e})",
        if ok { "ok" } else { "FAILED" },
        path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
        WORDS.len(),
        layers.len(),
        worst.0,
        worst.1
    );
    Ok(if ok { 0 } else { 1 })
}
