//! `lang-study splits`: the study's pair sets written out, so other tools (MUSE, VecMap, a
//! baseline of one's own) evaluate on exactly the pairs lexalign trains and evaluates on:
//! `<set>.tsv` (header `source<TAB>target`, readable by `lexalign scan --pairs`) for `train`,
//! `dev` (the baselines' development part of `train`), `held_out`, `cldr` and (sw-en) `control`,
//! and with `--muse` also `<set>.muse.txt`, the same pairs as a MUSE/VecMap dictionary (inner
//! spaces of a word written `_`). The scan stage writes the same TSVs through [`write_sets`].

use std::path::{Path, PathBuf};

use anyhow::Result;
use lexalign_data::Pair;

use crate::data::{study_pairs_in, LangPair, StudyPairs};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// ko-en | sw-en
    #[arg(long, value_enum)]
    pub pair: LangPair,
    /// Also write every set as a MUSE/VecMap dictionary (`<set>.muse.txt`).
    #[arg(long)]
    pub muse: bool,
    #[arg(long)]
    pub lexicon_dir: Option<PathBuf>,
    #[arg(long)]
    pub paper_data: Option<PathBuf>,
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: &Args) -> Result<()> {
    lexalign_stages::stage_io::prepare_out_dir(&args.out)?;
    let s = study_pairs_in(
        args.pair,
        args.lexicon_dir.as_deref(),
        args.paper_data.as_deref(),
    )?;
    log::info!("{}", s.describe());
    let written = write_sets(&args.out, &s, args.muse)?;
    let mut prov = lexalign_run::Provenance::collect()
        .stage("splits")
        .seed(s.seed);
    for f in &s.files {
        prov = prov.data_file(f)?;
    }
    prov.setting("sizes", s.sizes())?
        .setting("muse", args.muse)?
        .write(&args.out)?;
    for f in written {
        println!("wrote {}", f.display());
    }
    Ok(())
}

/// Writes every non-empty set; returns the files written.
pub fn write_sets(out: &Path, s: &StudyPairs, muse: bool) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (name, pairs) in [
        ("train", &s.train),
        ("dev", &s.dev),
        ("held_out", &s.test),
        ("cldr", &s.independent),
        ("control", &s.control),
    ] {
        if pairs.is_empty() {
            continue;
        }
        let tsv = out.join(format!("{name}.tsv"));
        lexalign_run::write_atomic(&tsv, tsv_bytes(pairs)?)?;
        written.push(tsv);
        if muse {
            let path = out.join(format!("{name}.muse.txt"));
            let changed = lexalign_data::write_muse_pairs(&path, pairs)?;
            if changed > 0 {
                log::info!(
                    "{}: {changed} word(s) with a space written with `_`",
                    path.display()
                );
            }
            written.push(path);
        }
    }
    Ok(written)
}

/// `source<TAB>target` then one row per pair (csv quoting where a word needs it).
pub(crate) fn tsv_bytes(pairs: &[Pair]) -> Result<Vec<u8>> {
    let mut w = csv::WriterBuilder::new()
        .delimiter(b'\t')
        .from_writer(Vec::new());
    w.write_record(["source", "target"])?;
    for p in pairs {
        w.write_record([&p.source, &p.target])?;
    }
    w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_read_back_alike_as_tsv_and_muse() {
        let t = tempfile::tempdir().unwrap();
        let s = StudyPairs {
            pair: LangPair::KoEn,
            train: vec![Pair::new("물", "water"), Pair::new("물", "waters")],
            test: vec![Pair::new("불", "fire"), Pair::new("개", "dog")],
            independent: vec![Pair::new("고양이", "cat")],
            control: vec![],
            dev: vec![],
            fit: vec![],
            seed: 12,
            split: String::new(),
            independent_dropped: 0,
            lexicons: vec![],
            files: vec![],
        };
        let files = write_sets(t.path(), &s, true).unwrap();
        assert_eq!(files.len(), 6, "{files:?}");
        assert!(!t.path().join("control.tsv").exists());
        for (name, want) in [
            ("train", &s.train),
            ("held_out", &s.test),
            ("cldr", &s.independent),
        ] {
            for f in [format!("{name}.tsv"), format!("{name}.muse.txt")] {
                let got = lexalign_data::read_pairs(t.path().join(&f)).unwrap().pairs;
                assert_eq!(&got, want, "{f}");
            }
        }
    }
}
