//! `cargo xtask setup --cuda`: the CUDA libraries torch 2.11.0's `libtorch_cuda.so` links to
//! (cuBLAS, cuDNN, cuSPARSE(Lt), cuFFT, cuRAND, cuSOLVER, NCCL, NVSHMEM, ...), hash-pinned in
//! `xtask/requirements-libtorch-cuda.txt`, installed `--no-deps --require-hashes` into the same
//! venv as torch, where libtorch's own `$ORIGIN/../../nvidia/*/lib` RPATH finds them.
//!
//! Or, instead: an existing torch 2.11 install named by `LIBTORCH=.../site-packages/torch`
//! (e.g. a GPU machine's `pip install torch==2.11.0`), checked and used as it is.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use super::python::pip;
use crate::paths::{self, Paths};
use crate::util::{self, disp};

const CUDA_STAMP: &str = ".lexalign-libtorch-cuda.sha256";

/// The pinned CUDA wheels' requirements file.
pub fn cuda_requirements(paths: &Paths) -> PathBuf {
    paths
        .repo
        .join("xtask")
        .join("requirements-libtorch-cuda.txt")
}

/// What `--cuda` settled on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CudaTorch {
    /// The cache venv, now holding the pinned CUDA wheels.
    Venv(PathBuf),
    /// A torch 2.11 the user pointed `LIBTORCH` at; nothing installed.
    User(PathBuf),
}

/// `--cuda`: use `LIBTORCH` when it names another torch 2.11 whose CUDA libraries resolve,
/// else install the pinned CUDA wheels into the venv. Either way `libtorch_cuda.so` must then
/// resolve every library it needs (checked with `ldd`).
pub(super) fn ensure_cuda(paths: &Paths, vpy: &Path, venv_torch: &Path) -> Result<CudaTorch> {
    let user = std::env::var_os("LIBTORCH")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| !same_dir(p, venv_torch) && !same_dir(p, &paths.libtorch_link()));
    if let Some(dir) = user {
        check_user_torch(&dir)?;
        println!(
            "setup: CUDA: using the torch 2.11 at LIBTORCH={} (libtorch_cuda.so resolves all its libraries); nothing installed",
            disp(&dir)
        );
        return Ok(CudaTorch::User(dir));
    }
    let req = cuda_requirements(paths);
    install_stamped(
        vpy,
        &paths.wheels(),
        &req,
        &paths.venv().join(CUDA_STAMP),
        true,
    )?;
    let lib = venv_torch.join("lib").join("libtorch_cuda.so");
    match missing_libs(&lib) {
        Some(m) if m.is_empty() => {}
        Some(m) => bail!(
            "the CUDA wheels of {} are installed but {} still cannot resolve {}: delete {} and run `cargo xtask setup --cuda` again",
            disp(&req),
            disp(&lib),
            m.join(", "),
            disp(&paths.venv())
        ),
        None => println!("setup: CUDA: ldd is not available, so the libraries were not checked"),
    }
    println!(
        "setup: CUDA: the pinned CUDA libraries are installed next to {}; `cargo xtask doctor` runs a CUDA matmul",
        disp(venv_torch)
    );
    Ok(CudaTorch::Venv(venv_torch.to_path_buf()))
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// A user's torch folder: torch 2.11.x, with a `libtorch_cuda.so` whose libraries all resolve.
pub fn check_user_torch(dir: &Path) -> Result<()> {
    if !dir.join("lib").join("libtorch_cpu.so").is_file() {
        bail!(
            "LIBTORCH={} has no lib/libtorch_cpu.so: point it at a torch 2.11 install's site-packages/torch, or unset it to install the pinned CUDA wheels into the cache venv",
            disp(dir)
        );
    }
    let version = paths::torch_version(dir).unwrap_or_else(|| "unknown".into());
    if !version.starts_with("2.11.") {
        bail!(
            "LIBTORCH={} holds torch {version}, but tch 0.24 needs torch 2.11: install torch==2.11.0 there, or unset LIBTORCH to use the cache venv",
            disp(dir)
        );
    }
    let lib = dir.join("lib").join("libtorch_cuda.so");
    if !lib.is_file() {
        bail!(
            "LIBTORCH={} is a CPU-only torch {version} (no lib/libtorch_cuda.so): install a CUDA build of torch==2.11.0, or unset LIBTORCH",
            disp(dir)
        );
    }
    if let Some(m) = missing_libs(&lib) {
        if !m.is_empty() {
            bail!(
                "LIBTORCH={}: libtorch_cuda.so cannot resolve {} (a `pip install --no-deps` torch?): run `pip install torch==2.11.0` with its dependencies there, or unset LIBTORCH and run `cargo xtask setup --cuda`",
                disp(dir),
                m.join(", ")
            );
        }
    }
    Ok(())
}

/// Libraries `ldd` reports as `not found` for `lib` (`None` when ldd cannot run).
pub fn missing_libs(lib: &Path) -> Option<Vec<String>> {
    let o = Command::new("ldd").arg(lib).output().ok()?;
    Some(
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| l.contains("not found"))
            .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
            .collect(),
    )
}

/// Install the wheels of `req` (`--no-deps --require-hashes`) into the venv of `vpy`, from
/// `wheels` when they are there, else downloaded into `wheels` first. A stamp holding the
/// requirements' SHA-256 makes a re-run a no-op. `download: false` never asks the index.
pub fn install_stamped(
    vpy: &Path,
    wheels: &Path,
    req: &Path,
    stamp: &Path,
    download: bool,
) -> Result<()> {
    let text = std::fs::read(req).with_context(|| format!("cannot read {}", disp(req)))?;
    let want = lexalign_run::sha256_bytes(&text);
    if std::fs::read_to_string(stamp)
        .map(|s| s.trim() == want)
        .unwrap_or(false)
    {
        return Ok(());
    }
    let offline = |quiet: bool| {
        let mut c = pip(vpy);
        c.args([
            "install",
            "--no-deps",
            "--require-hashes",
            "--no-index",
            "--no-cache-dir",
            "--find-links",
        ])
        .arg(wheels)
        .arg("-r")
        .arg(req);
        if quiet {
            c.stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
        }
        c.status().map(|s| s.success()).unwrap_or(false)
    };
    if !(wheels.is_dir() && offline(true)) {
        if !download {
            offline(false); // shows pip's reason
            bail!(
                "the wheels in {} do not match the names and hashes in {}: put the pinned wheels there (or delete the named wheel) and run `cargo xtask setup` again",
                disp(wheels),
                disp(req)
            );
        }
        println!(
            "setup: downloading the wheels pinned in {} into {} (the CUDA set: about 1.9 GB)",
            disp(req),
            disp(wheels)
        );
        std::fs::create_dir_all(wheels)
            .with_context(|| format!("cannot create {}", disp(wheels)))?;
        util::run_status(
            pip(vpy)
                .args(["download", "--no-deps", "--require-hashes", "--only-binary=:all:", "--no-cache-dir", "-d"])
                .arg(wheels)
                .arg("-r")
                .arg(req),
            &format!("downloading the wheels pinned in {}", disp(req)),
            &format!(
                "check the network or pip's index settings (or put the wheels listed in {} into {}) and run `cargo xtask setup` again",
                disp(req),
                disp(wheels)
            ),
        )?;
        if !offline(false) {
            bail!(
                "pip could not install the wheels in {} with the hashes in {}: delete the named wheel and run `cargo xtask setup` again",
                disp(wheels),
                disp(req)
            );
        }
    }
    lexalign_run::write_atomic(stamp, want.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every nvidia-* library torch 2.11.0 requires on Linux, one exact version and one hash each.
    #[test]
    fn cuda_requirements_pin_torch_2_11s_nvidia_set() {
        let text = std::fs::read_to_string(
            paths::repo_root().join("xtask/requirements-libtorch-cuda.txt"),
        )
        .unwrap();
        let pins: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#') && l.contains("=="))
            .map(|l| l.split("==").next().unwrap().trim())
            .collect();
        let want = [
            "nvidia-cublas",
            "nvidia-cuda-nvrtc",
            "nvidia-cufft",
            "nvidia-cufile",
            "nvidia-curand",
            "nvidia-cusolver",
            "nvidia-cusparse",
            "nvidia-nvjitlink",
            "nvidia-nvtx",
            "nvidia-cudnn-cu13",
            "nvidia-cusparselt-cu13",
            "nvidia-nccl-cu13",
            "nvidia-nvshmem-cu13",
        ];
        assert_eq!(pins, want);
        assert_eq!(text.matches("--hash=sha256:").count(), want.len());
        for v in [
            "nvidia-cublas==13.1.0.3 ",
            "nvidia-cudnn-cu13==9.19.0.56 ",
            "nvidia-nccl-cu13==2.28.9 ",
        ] {
            assert!(text.contains(v), "{v}");
        }
        // The runtime and CUPTI stay in the base set (installed without --cuda).
        let base =
            std::fs::read_to_string(paths::repo_root().join("xtask/requirements-libtorch.txt"))
                .unwrap();
        assert!(!text.contains("nvidia-cuda-runtime") && base.contains("nvidia-cuda-runtime=="));
    }

    /// A minimal valid wheel (one module, dist-info with METADATA, WHEEL and RECORD) by hand,
    /// so no zip crate is needed: stored (uncompressed) entries.
    fn fake_wheel(dir: &Path, name: &str, version: &str) -> PathBuf {
        let dist = format!("{name}-{version}.dist-info");
        let files: Vec<(String, Vec<u8>)> = vec![
            (format!("{name}/__init__.py"), b"FAKE = 1\n".to_vec()),
            (format!("{dist}/METADATA"), format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n").into_bytes()),
            (format!("{dist}/WHEEL"), b"Wheel-Version: 1.0\nGenerator: lexalign-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n".to_vec()),
            (format!("{dist}/RECORD"), format!("{name}/__init__.py,,\n{dist}/METADATA,,\n{dist}/WHEEL,,\n{dist}/RECORD,,\n").into_bytes()),
        ];
        let path = dir.join(format!("{name}-{version}-py3-none-any.whl"));
        std::fs::write(&path, stored_zip(&files)).unwrap();
        path
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut c = 0xFFFF_FFFFu32;
        for &b in data {
            c ^= b as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0xEDB8_8320
                } else {
                    c >> 1
                };
            }
        }
        !c
    }

    fn stored_zip(files: &[(String, Vec<u8>)]) -> Vec<u8> {
        let (mut out, mut central) = (Vec::new(), Vec::new());
        for (name, data) in files {
            let (crc, len, off) = (crc32(data), data.len() as u32, out.len() as u32);
            let common = |v: &mut Vec<u8>| {
                v.extend_from_slice(&20u16.to_le_bytes()); // version needed
                v.extend_from_slice(&0u16.to_le_bytes()); // flags
                v.extend_from_slice(&0u16.to_le_bytes()); // stored
                v.extend_from_slice(&0u32.to_le_bytes()); // time, date
                v.extend_from_slice(&crc.to_le_bytes());
                v.extend_from_slice(&len.to_le_bytes());
                v.extend_from_slice(&len.to_le_bytes());
                v.extend_from_slice(&(name.len() as u16).to_le_bytes());
                v.extend_from_slice(&0u16.to_le_bytes()); // extra
            };
            out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
            common(&mut out);
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(data);
            central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
            central.extend_from_slice(&20u16.to_le_bytes()); // made by
            common(&mut central);
            central.extend_from_slice(&[0u8; 6]); // comment len, disk, internal attrs
            central.extend_from_slice(&0u32.to_le_bytes()); // external attrs
            central.extend_from_slice(&off.to_le_bytes());
            central.extend_from_slice(name.as_bytes());
        }
        let (cd_off, cd_len, n) = (out.len() as u32, central.len() as u32, files.len() as u16);
        out.extend_from_slice(&central);
        out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        out.extend_from_slice(&[0u8; 4]);
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&cd_len.to_le_bytes());
        out.extend_from_slice(&cd_off.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out
    }

    /// The install path of `--cuda`, offline from a wheel folder, on a fake wheel in a throw-away
    /// venv: a right hash installs (and stamps, so a re-run does nothing), a wrong one is refused.
    #[test]
    fn install_stamped_installs_pinned_wheels_offline_and_refuses_a_wrong_hash() {
        let Ok(py) = super::super::python::system_python() else {
            eprintln!("skipped: no Python 3.10-3.14 here");
            return;
        };
        let tmp = tempfile::tempdir().unwrap();
        let venv = tmp.path().join("venv");
        let ok = Command::new(&py)
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            eprintln!("skipped: `{py} -m venv` failed here");
            return;
        }
        let vpy = venv.join("bin/python");
        let wheels = tmp.path().join("wheels");
        std::fs::create_dir_all(&wheels).unwrap();
        let whl = fake_wheel(&wheels, "nvidia_fake_cublas", "13.1.0.3");
        let sha = lexalign_run::sha256_file(&whl).unwrap();
        let req = tmp.path().join("req.txt");
        std::fs::write(
            &req,
            format!("nvidia-fake-cublas==13.1.0.3 \\\n    --hash=sha256:{sha}\n"),
        )
        .unwrap();
        let stamp = venv.join(CUDA_STAMP);
        install_stamped(&vpy, &wheels, &req, &stamp, false).unwrap();
        let found = Command::new(&vpy)
            .args(["-c", "import nvidia_fake_cublas as m; print(m.FAKE)"])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&found.stdout).trim(), "1");
        assert!(std::fs::read_to_string(&stamp).unwrap().len() == 64);
        // The stamp makes a second run a no-op even with the wheel folder gone.
        std::fs::remove_file(&whl).unwrap();
        install_stamped(&vpy, &wheels, &req, &stamp, false).unwrap();

        // A wrong hash: nothing is installed, nothing stamped, the error names the files
        // (download off: the test never asks an index about a made-up name).
        fake_wheel(&wheels, "nvidia_fake_cudnn", "9.19.0.56");
        let req2 = tmp.path().join("req2.txt");
        std::fs::write(
            &req2,
            format!(
                "nvidia-fake-cudnn==9.19.0.56 \\\n    --hash=sha256:{}\n",
                "0".repeat(64)
            ),
        )
        .unwrap();
        let stamp2 = venv.join("other.stamp");
        let err = install_stamped(&vpy, &wheels, &req2, &stamp2, false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("req2.txt"), "{err}");
        assert!(!stamp2.exists());
    }

    #[test]
    fn a_user_torch_must_be_2_11_with_cuda() {
        let tmp = tempfile::tempdir().unwrap();
        let t = tmp.path().join("torch");
        std::fs::create_dir_all(t.join("lib")).unwrap();
        let err = check_user_torch(&t).unwrap_err().to_string();
        assert!(err.contains("no lib/libtorch_cpu.so"), "{err}");
        std::fs::write(t.join("lib/libtorch_cpu.so"), b"").unwrap();
        std::fs::write(t.join("version.py"), "__version__ = '2.10.0+cu128'\n").unwrap();
        let err = check_user_torch(&t).unwrap_err().to_string();
        assert!(
            err.contains("torch 2.10.0+cu128") && err.contains("needs torch 2.11"),
            "{err}"
        );
        std::fs::write(t.join("version.py"), "__version__ = '2.11.0+cpu'\n").unwrap();
        let err = check_user_torch(&t).unwrap_err().to_string();
        assert!(err.contains("CPU-only"), "{err}");
    }
}
