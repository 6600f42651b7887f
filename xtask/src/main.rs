//! Project automation (placeholder while the subcommands are written).
fn main() -> anyhow::Result<()> {
    anyhow::bail!("cargo xtask is being written; see GitHub issue #2")
}
