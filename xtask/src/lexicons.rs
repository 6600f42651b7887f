//! The bilingual word lists (kengdic, FreeDict swh-eng, CLDR annotations): checked in place where
//! a lexicon folder exists (`$LEXALIGN_LEXICONS`, `../shared/lexicons` from the current folder or
//! the repository, `<cache>/lexicons`), else fetched from their publishers into
//! `<cache>/lexicons` and checked against the committed `paper/lexicons.sha256`. Same search
//! rule as `lexalign_data::Lexicons::locate`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::paths::Paths;
use lexalign_run::{check_hash, HashCheck};

use crate::util::{self, disp};

pub const ENV_LEXICONS: &str = "LEXALIGN_LEXICONS";
/// kengdic at the last commit that still has `ezcorean_6000.sql`.
pub const KENGDIC_BASE: &str =
    "https://raw.githubusercontent.com/garfieldnate/kengdic/4b98ae98669ada39559906bf4ca2811c59245746";

/// A Debian package, its pinned .deb SHA-256, and (member inside the .deb, path in the folder).
struct Deb {
    spec: &'static str,
    file: &'static str,
    sha256: &'static str,
    members: &'static [(&'static str, &'static str)],
}

const DEBS: &[Deb] = &[
    Deb {
        spec: "dict-freedict-swh-eng=2022.04.21-1",
        file: "dict-freedict-swh-eng_2022.04.21-1_all.deb",
        sha256: "e888c1740ef6ef790c348bb1f918ad9cb5ed680792fbcc43bc9d97b1b3966833",
        members: &[
            (
                "usr/share/dictd/freedict-swh-eng.index",
                "freedict-swh-eng/freedict-swh-eng.index",
            ),
            (
                "usr/share/dictd/freedict-swh-eng.dict.dz",
                "freedict-swh-eng/freedict-swh-eng.dict.dz",
            ),
            (
                "usr/share/doc/dict-freedict-swh-eng/copyright",
                "freedict-swh-eng/copyright",
            ),
        ],
    },
    Deb {
        spec: "unicode-cldr-core=41-0.1",
        file: "unicode-cldr-core_41-0.1_all.deb",
        sha256: "35d30d5d3bee4d8244e95236259c4c2a0db06e21bad696515751fcfeee4d0260",
        members: &[
            (
                "usr/share/unicode/cldr/common/annotations/en.xml",
                "cldr-annotations/en.xml",
            ),
            (
                "usr/share/unicode/cldr/common/annotations/ko.xml",
                "cldr-annotations/ko.xml",
            ),
            (
                "usr/share/unicode/cldr/common/annotations/sw.xml",
                "cldr-annotations/sw.xml",
            ),
            (
                "usr/share/doc/unicode-cldr-core/copyright",
                "cldr-annotations/copyright",
            ),
        ],
    },
];

/// The lexicon folder, checked; fetched into the cache only when no folder is found.
pub fn ensure(paths: &Paths) -> Result<PathBuf> {
    let sums_path = paths.repo.join("paper").join("lexicons.sha256");
    let text = std::fs::read_to_string(&sums_path)
        .with_context(|| format!("cannot read the committed sums {}", disp(&sums_path)))?;
    let sums_name = disp(&sums_path);
    let sums = lexalign_run::parse_sums(&text, &sums_name)?;
    let dir = match find(paths)? {
        Some(d) => d,
        None => fetch(paths, &sums, &sums_name)?,
    };
    for (rel, expected) in &sums {
        let p = dir.join(rel);
        match check_hash(&p, expected)? {
            HashCheck::Ok => {}
            HashCheck::Missing => bail!(
                "{} is missing from the lexicon folder {}: restore it (see ../shared/lexicons/README.md) or delete the folder \
                 and run `cargo xtask setup` again",
                rel,
                disp(&dir)
            ),
            HashCheck::Mismatch { actual } => bail!(
                "the lexicon file {} has SHA-256 {actual}, but {sums_name} expects {expected}: restore the publisher's file \
                 (or delete it and run `cargo xtask setup` again)",
                disp(&p)
            ),
        }
    }
    println!(
        "setup: lexicons: {} ({} files, SHA-256 ok)",
        disp(&dir),
        sums.len()
    );
    Ok(dir)
}

/// `$LEXALIGN_LEXICONS` (must exist), else the first existing default folder.
fn find(paths: &Paths) -> Result<Option<PathBuf>> {
    if let Some(p) = std::env::var_os(ENV_LEXICONS).filter(|v| !v.is_empty()) {
        let p = PathBuf::from(p);
        if !p.is_dir() {
            bail!(
                "{ENV_LEXICONS}={} is not a folder: point it at the lexicon folder or unset it",
                disp(&p)
            );
        }
        return Ok(Some(p));
    }
    let mut candidates = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        candidates.push(cwd.join("..").join("shared").join("lexicons"));
    }
    candidates.push(paths.repo.join("..").join("shared").join("lexicons"));
    candidates.push(paths.cache.join("lexicons"));
    Ok(candidates.into_iter().find(|c| c.is_dir()))
}

/// Fetch every file into `<cache>/lexicons` (built in a `.part` folder, renamed when all check).
pub fn fetch(paths: &Paths, sums: &BTreeMap<String, String>, sums_name: &str) -> Result<PathBuf> {
    let dest = paths.cache.join("lexicons");
    let part = paths
        .cache
        .join(format!(".lexicons.part-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&part);
    std::fs::create_dir_all(&part).with_context(|| format!("cannot create {}", disp(&part)))?;
    let sql = "ezcorean_6000.sql";
    let want = |rel: &str| {
        sums.get(rel)
            .cloned()
            .with_context(|| format!("{sums_name} lists no SHA-256 for {rel}"))
    };
    let kengdic = BTreeMap::from([(sql.to_string(), want(&format!("kengdic/{sql}"))?)]);
    let hint = format!("check the network, or set {ENV_LEXICONS} to a folder holding the word lists (../shared/lexicons' README says how to get them)");
    crate::setup::download_hashed(
        KENGDIC_BASE,
        &part.join("kengdic"),
        &kengdic,
        sums_name,
        &hint,
    )
    .with_context(|| format!("fetching kengdic's {sql}"))?;
    let debs = part.join(".debs");
    std::fs::create_dir_all(&debs).with_context(|| format!("cannot create {}", disp(&debs)))?;
    for deb in DEBS {
        let hint = format!(
            "run `apt-get update` (the package must be in the apt sources) or set {ENV_LEXICONS} to a folder holding the word lists, \
             then run `cargo xtask setup` again"
        );
        println!("setup: apt-get download {}", deb.spec);
        util::run_status(
            Command::new("apt-get")
                .args(["download", deb.spec])
                .current_dir(&debs),
            &format!("`apt-get download {}`", deb.spec),
            &hint,
        )?;
        let file = debs.join(deb.file);
        if let HashCheck::Mismatch { actual } = check_hash(&file, deb.sha256)? {
            bail!(
                "{} has SHA-256 {actual}, expected {}: {hint}",
                disp(&file),
                deb.sha256
            );
        }
        if !file.exists() {
            bail!(
                "`apt-get download {}` left no {}: {hint}",
                deb.spec,
                disp(&file)
            );
        }
        let x = debs.join(deb.file.trim_end_matches(".deb"));
        util::run_status(
            Command::new("dpkg-deb").arg("-x").arg(&file).arg(&x),
            &format!("`dpkg-deb -x {}`", disp(&file)),
            "install dpkg (dpkg-deb) or set LEXALIGN_LEXICONS to a folder holding the word lists",
        )?;
        for (member, rel) in deb.members {
            let to = part.join(rel);
            std::fs::create_dir_all(to.parent().expect("has a folder"))
                .with_context(|| format!("cannot create the folder of {}", disp(&to)))?;
            copy(&x.join(member), &to)?;
            if let HashCheck::Mismatch { actual } = check_hash(&to, &want(rel)?)? {
                bail!(
                    "{member} from {} has SHA-256 {actual}, but {sums_name} expects {}: the package is not the pinned one",
                    deb.file,
                    want(rel)?
                );
            }
        }
    }
    std::fs::remove_dir_all(&debs).with_context(|| format!("cannot remove {}", disp(&debs)))?;
    std::fs::rename(&part, &dest)
        .with_context(|| format!("cannot move {} to {}", disp(&part), disp(&dest)))?;
    Ok(dest)
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to)
        .map(|_| ())
        .with_context(|| format!("cannot copy {} to {}", disp(from), disp(to)))
}
