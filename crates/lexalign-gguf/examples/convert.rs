//! `cargo run -p lexalign-gguf --example convert -- <model.gguf> <out_dir>`: GGUF -> HF folder.
fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [gguf, out] = args.as_slice() else {
        anyhow::bail!("usage: convert <model.gguf> <out_dir>");
    };
    lexalign_gguf::convert_to_hf_dir(gguf, out)
}
