//! Pure-Rust GGUF support for lexalign (no tch).
//!
//! * [`Gguf`]: memory-mapped GGUF v2/v3 reader (metadata, tensor infos, raw bytes).
//! * [`dequant`]: ggml block dequantisation to f32, bit-identical to ggml / the `gguf` Python package.
//! * [`LlamaGguf`]: a llama GGUF seen the way transformers loads it: HF tensor names and shapes,
//!   q/k rows un-permuted, the HF `config.json` its metadata gives ([`GgufModelConfig`]) and the tokenizer.
//! * [`tokenizer_from_gguf`]: the `tokenizers` tokenizer transformers builds from GGUF metadata.
//! * [`convert_to_hf_dir`]: GGUF -> HF folder (`model.safetensors`, `config.json`, tokenizer files).

// `is_multiple_of` needs Rust 1.87; the workspace MSRV is 1.85.
#![allow(unknown_lints, clippy::manual_is_multiple_of)]

pub mod arch;
pub mod convert;
pub mod dequant;
pub mod hf_cache;
pub mod hf_config;
pub mod llama;
pub mod locate;
pub mod reader;
pub mod spm;
pub mod tokenizer;
pub mod value;

pub use arch::Arch;
pub use convert::convert_to_hf_dir;
pub use dequant::GgmlType;
pub use hf_config::GgufModelConfig;
pub use llama::{gguf_to_hf_name, reverse_permute_rows, HfTensor, LlamaGguf};
pub use locate::{default_model_path, embedded_model_path, resolve_model, DEFAULT_MODEL_FILE};
pub use reader::{Gguf, TensorInfo};
pub use tokenizer::{tokenizer_from_gguf, GgufTokenizer, TokenizerInfo};
pub use value::{MetaValue, ValueType};
