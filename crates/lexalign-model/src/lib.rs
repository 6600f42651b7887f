//! A decoder (Llama, Mistral, Qwen2/3, Gemma 3) in tch, built to measure and change how words of two languages line up
//! in its hidden states: per-layer pooled word embeddings, 4-bit (NF4/FP4) base weights as
//! bitsandbytes stores them, and peft-compatible LoRA adapters.

pub mod config;
pub mod continuation;
pub mod decoder;
pub mod device;
pub mod embed;
pub mod family;
pub mod finite;
pub mod generate;
pub mod gguf_source;
pub mod head;
pub mod layer_store;
pub mod linear;
pub mod lm_loss;
pub mod load;
pub mod logit_lens;
pub mod norm;
pub mod pack;
pub mod pooling;
pub mod quant4;
pub mod rope;
pub mod safetensors_dir;
pub mod shapes;
pub mod tokenize;

pub use config::ModelConfig;
pub use decoder::Decoder;
pub use device::DeviceArg;
pub use embed::PoolRequest;
pub use family::Family;
pub use generate::{GenerateConfig, Sampling};
pub use load::{load, LoadOptions, LoadedModel, QuantMode};
pub use pooling::Pooling;

/// The libtorch version torch-sys was built for (tch 0.24 pins torch 2.11.0 and checks it at build time).
pub const TORCH_VERSION: &str = "2.11.0";
pub use tch;
pub mod lora;
