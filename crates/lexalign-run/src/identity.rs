//! Which model a run used, decided from evidence instead of a name substring: the SHA-256 of
//! the weights where a sum is known, else the configuration's fingerprint plus the checkpoint's
//! own name (`_name_or_path`), else what the user asserted with `--model-id`.
//!
//! A fingerprint alone cannot tell a fine-tune from its base (Lugha-Llama-8B-wura has exactly
//! Llama-3.1-8B's configuration), hence the name check for a config match.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// The shape-defining fields of a model's HF `config.json` (or a GGUF's derived one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigFingerprint {
    /// `architectures[0]`, e.g. `LlamaForCausalLM`.
    pub architecture: String,
    pub hidden_size: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    pub num_kv_heads: usize,
    pub vocab_size: usize,
    /// RoPE base of the full-attention layers.
    pub rope_theta: f64,
    /// `default`, `linear` or `llama3`.
    pub rope_type: String,
}

/// One model the registry knows.
#[derive(Debug, Clone, Copy)]
pub struct KnownModel {
    /// Stable id recorded in provenance (`lugha-llama-8b-wura`).
    pub id: &'static str,
    /// Its published name (HF repo or GGUF `general.name`), matched case-insensitively against
    /// the checkpoint's own name for a config match.
    pub names: &'static [&'static str],
    pub architecture: &'static str,
    pub hidden_size: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    pub num_kv_heads: usize,
    pub vocab_size: usize,
    pub rope_theta: f64,
    pub rope_type: &'static str,
    /// SHA-256 of the weights file (or of a folder's sorted `sha256sum` manifest), where known.
    pub sha256: Option<&'static str>,
    /// The paper's model (its claims' "re-run with the real model" column).
    pub paper_model: bool,
}

impl KnownModel {
    pub fn fingerprint(&self) -> ConfigFingerprint {
        ConfigFingerprint {
            architecture: self.architecture.into(),
            hidden_size: self.hidden_size,
            num_layers: self.num_layers,
            num_heads: self.num_heads,
            num_kv_heads: self.num_kv_heads,
            vocab_size: self.vocab_size,
            rope_theta: self.rope_theta,
            rope_type: self.rope_type.into(),
        }
    }
}

/// The known models. The embedded GGUFs' sums are `EMBEDDED_MODELS`' pins. No SHA-256 of
/// Lugha-Llama-8B-wura's safetensors is published with the paper's data (its repository pins
/// none), so it is identified by configuration and name only ("config match, weights
/// unverified").
pub const KNOWN_MODELS: &[KnownModel] = &[
    KnownModel {
        id: "lugha-llama-8b-wura",
        names: &["Lugha-Llama/Lugha-Llama-8B-wura", "Lugha-Llama-8B-wura"],
        architecture: "LlamaForCausalLM",
        hidden_size: 4096,
        num_layers: 32,
        num_heads: 32,
        num_kv_heads: 8,
        vocab_size: 128256,
        rope_theta: 500000.0,
        rope_type: "llama3",
        sha256: None,
        paper_model: true,
    },
    KnownModel {
        id: crate::SMOLLM2_135M.name,
        names: &["SmolLM2-135M-Instruct", "SmolLM2 135M Instruct"],
        architecture: "LlamaForCausalLM",
        hidden_size: 576,
        num_layers: 30,
        num_heads: 9,
        num_kv_heads: 3,
        vocab_size: 49152,
        rope_theta: 100000.0,
        rope_type: "default",
        sha256: Some(crate::SMOLLM2_135M.sha256),
        paper_model: false,
    },
    KnownModel {
        id: crate::GEMMA3_270M.name,
        names: &["gemma-3-270m", "Gemma 3 270m"],
        architecture: "Gemma3ForCausalLM",
        hidden_size: 640,
        num_layers: 18,
        num_heads: 4,
        num_kv_heads: 1,
        vocab_size: 262144,
        rope_theta: 1000000.0,
        rope_type: "default",
        sha256: Some(crate::GEMMA3_270M.sha256),
        paper_model: false,
    },
    KnownModel {
        id: crate::QWEN25_CODER_05B.name,
        names: &[
            "Qwen2.5-Coder-0.5B-Instruct",
            "Qwen2.5 Coder 0.5B Instruct AWQ",
        ],
        architecture: "Qwen2ForCausalLM",
        hidden_size: 896,
        num_layers: 24,
        num_heads: 14,
        num_kv_heads: 2,
        vocab_size: 151936,
        rope_theta: 1000000.0,
        rope_type: "default",
        sha256: Some(crate::QWEN25_CODER_05B.sha256),
        paper_model: false,
    },
];

/// The known model called `id`.
pub fn known_model(id: &str) -> Option<&'static KnownModel> {
    KNOWN_MODELS.iter().find(|m| m.id == id)
}

/// How an identity was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityMethod {
    /// The weights' SHA-256 equals the registry's.
    Sha256,
    /// Configuration fingerprint and checkpoint name match; the weights are not verified.
    Config,
    /// `--model-id` on the command line (an unlisted copy); nothing verified but the config
    /// when the id is a known one.
    Asserted,
}

/// What provenance records as `model_identity`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelIdentity {
    pub id: String,
    pub method: IdentityMethod,
    /// Human note, e.g. "config match, weights unverified".
    pub detail: String,
    /// Whether it is the paper's model.
    pub paper_model: bool,
}

/// Identifies a model from its weights' `sha256`, its configuration and its own `name`, or the
/// `asserted` id. An assertion naming a known model whose configuration differs is refused
/// (the flag would otherwise turn any run into the paper's). `None`: nothing is known.
pub fn identify(
    sha256: &str,
    fp: &ConfigFingerprint,
    name: &str,
    asserted: Option<&str>,
) -> Result<Option<ModelIdentity>> {
    let id = |m: &KnownModel, method, detail: &str| ModelIdentity {
        id: m.id.into(),
        method,
        detail: detail.into(),
        paper_model: m.paper_model,
    };
    if let Some(m) = KNOWN_MODELS.iter().find(|m| m.sha256 == Some(sha256)) {
        return Ok(Some(id(m, IdentityMethod::Sha256, "weights SHA-256 match")));
    }
    if let Some(a) = asserted {
        return match known_model(a) {
            Some(m) if m.fingerprint() != *fp => bail!(
                "--model-id {a}: this model's configuration ({}) is not {a}'s ({}); drop --model-id or give the right model",
                describe(fp),
                describe(&m.fingerprint())
            ),
            Some(m) => Ok(Some(id(m, IdentityMethod::Asserted, "asserted by --model-id, config match, weights unverified"))),
            None => Ok(Some(ModelIdentity {
                id: a.into(),
                method: IdentityMethod::Asserted,
                detail: "asserted by --model-id, not in the registry".into(),
                paper_model: false,
            })),
        };
    }
    let lname = name.to_ascii_lowercase();
    let named = |m: &&KnownModel| {
        m.names
            .iter()
            .any(|n| lname.contains(&n.to_ascii_lowercase()))
    };
    Ok(KNOWN_MODELS
        .iter()
        .filter(named)
        .find(|m| m.fingerprint() == *fp)
        .map(|m| {
            id(
                m,
                IdentityMethod::Config,
                "config match, weights unverified",
            )
        }))
}

fn describe(fp: &ConfigFingerprint) -> String {
    format!(
        "{} hidden {} layers {} heads {}/{} vocab {} rope {} {}",
        fp.architecture,
        fp.hidden_size,
        fp.num_layers,
        fp.num_heads,
        fp.num_kv_heads,
        fp.vocab_size,
        fp.rope_theta,
        fp.rope_type
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lugha_fp() -> ConfigFingerprint {
        known_model("lugha-llama-8b-wura").unwrap().fingerprint()
    }

    #[test]
    fn sha_then_assertion_then_config_and_name() {
        let smol = known_model("smollm2-135m").unwrap();
        let by_sha = identify(smol.sha256.unwrap(), &lugha_fp(), "renamed", None)
            .unwrap()
            .unwrap();
        assert_eq!(
            (by_sha.id.as_str(), by_sha.method),
            ("smollm2-135m", IdentityMethod::Sha256)
        );
        // A config match needs the checkpoint's own name: Llama-3.1-8B has the same shape.
        let c = identify("ab", &lugha_fp(), "Lugha-Llama/Lugha-Llama-8B-wura", None)
            .unwrap()
            .unwrap();
        assert_eq!((c.method, c.paper_model), (IdentityMethod::Config, true));
        assert_eq!(c.detail, "config match, weights unverified");
        assert_eq!(
            identify("ab", &lugha_fp(), "meta-llama/Llama-3.1-8B", None).unwrap(),
            None
        );
        // The name with another shape (a renamed SmolLM2) is not the paper's model.
        assert_eq!(
            identify("ab", &smol.fingerprint(), "Lugha-Llama-8B-wura", None).unwrap(),
            None
        );
        let a = identify("ab", &lugha_fp(), "my-copy", Some("lugha-llama-8b-wura"))
            .unwrap()
            .unwrap();
        assert_eq!((a.method, a.paper_model), (IdentityMethod::Asserted, true));
        let err =
            identify("ab", &smol.fingerprint(), "x", Some("lugha-llama-8b-wura")).unwrap_err();
        assert!(
            err.to_string().contains("is not lugha-llama-8b-wura's"),
            "{err}"
        );
        let u = identify("ab", &smol.fingerprint(), "x", Some("my-model"))
            .unwrap()
            .unwrap();
        assert_eq!((u.id.as_str(), u.paper_model), ("my-model", false));
    }

    #[test]
    fn registry_pins_the_embedded_sums() {
        for e in crate::EMBEDDED_MODELS {
            assert_eq!(known_model(e.name).unwrap().sha256, Some(e.sha256));
        }
        assert_eq!(KNOWN_MODELS.iter().filter(|m| m.paper_model).count(), 1);
    }
}
