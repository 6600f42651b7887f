//! The fuzz targets, by name.

pub mod gguf;
#[cfg(feature = "tch")]
pub mod model;
pub mod text;

use crate::engine::Target;

/// Every target this build has (the lexalign-model ones only with `--features tch`).
pub fn all() -> Vec<Target> {
    #[allow(unused_mut)]
    let mut v = vec![
        Target { name: "gguf-header", about: "GGUF reader: header, metadata, tensor infos and bytes, dequantisation, llama config and HF tensors", seeds: gguf::header_seeds, dict: gguf::DICT, max_len: 8 << 10, run: gguf::run_header },
        Target { name: "gguf-tokenizer", about: "tokenizer_from_gguf_full (byte-level BPE and Gemma SentencePiece) and one encode", seeds: gguf::tokenizer_seeds, dict: gguf::DICT, max_len: 4 << 10, run: gguf::run_tokenizer },
        Target { name: "pairs-json", about: "parse_json_pairs (the authors' JSON)", seeds: text::json_seeds, dict: text::JSON_DICT, max_len: 4 << 10, run: text::run_json },
        Target { name: "pairs-csv", about: "parse_delimited_pairs (CSV and TSV)", seeds: text::csv_seeds, dict: text::CSV_DICT, max_len: 4 << 10, run: text::run_csv },
        Target { name: "pairs-muse", about: "detect_pair_format + parse_muse_pairs (MUSE/VecMap dictionaries), write/read round trip", seeds: text::muse_seeds, dict: text::MUSE_DICT, max_len: 4 << 10, run: text::run_muse },
        Target { name: "lexicon-kengdic", about: "kengdic::parse (PostgreSQL COPY dump)", seeds: text::kengdic_seeds, dict: text::KENGDIC_DICT, max_len: 4 << 10, run: text::run_kengdic },
        Target { name: "lexicon-freedict", about: "freedict::parse (+ gunzip): dictd index and data", seeds: text::freedict_seeds, dict: text::FREEDICT_DICT, max_len: 4 << 10, run: text::run_freedict },
        Target { name: "lexicon-cldr", about: "cldr::pair_names (annotation XML, two files)", seeds: text::cldr_seeds, dict: text::CLDR_DICT, max_len: 4 << 10, run: text::run_cldr },
    ];
    #[cfg(feature = "tch")]
    v.extend([
        Target {
            name: "safetensors-dir",
            about: "SafetensorsDir::open + get: model.safetensors or a sharded index",
            seeds: model::dir_seeds,
            dict: model::ST_DICT,
            max_len: 4 << 10,
            run: model::run_dir,
        },
        Target {
            name: "adapter-config",
            about: "LoraConfig::from_file (peft adapter_config.json), validate, to_json round trip",
            seeds: model::config_seeds,
            dict: model::CONFIG_DICT,
            max_len: 4 << 10,
            run: model::run_config,
        },
        Target {
            name: "adapter-weights",
            about: "lora::read_safetensors (adapter_model.safetensors)",
            seeds: model::weights_seeds,
            dict: model::ST_DICT,
            max_len: 4 << 10,
            run: model::run_weights,
        },
    ]);
    v
}

/// The names of the targets that need `--features tch` (listed so a pure build can say so).
pub const TCH_TARGETS: &[&str] = &["safetensors-dir", "adapter-config", "adapter-weights"];
