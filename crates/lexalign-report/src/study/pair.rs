//! The study's two language pairs and the names of their stage folders (docs/CONVENTIONS.md,
//! "Run-folder file formats"), with the command that produces a missing stage.

/// One language pair of the study and its stage folders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LangPair {
    KoEn,
    SwEn,
}

impl LangPair {
    /// Prefix of the value keys and figure names.
    pub fn key(self) -> &'static str {
        match self {
            LangPair::KoEn => "koen",
            LangPair::SwEn => "swen",
        }
    }
    pub fn flag(self) -> &'static str {
        match self {
            LangPair::KoEn => "ko-en",
            LangPair::SwEn => "sw-en",
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            LangPair::KoEn => "Korean-English",
            LangPair::SwEn => "Swahili-English",
        }
    }
    pub fn source_language(self) -> &'static str {
        match self {
            LangPair::KoEn => "Korean",
            LangPair::SwEn => "Swahili",
        }
    }
    pub fn scan_stage(self) -> &'static str {
        match self {
            LangPair::KoEn => "koen-scan",
            LangPair::SwEn => "swen-scan",
        }
    }
    /// (train stage, short key of its adapter in the value keys).
    pub fn train_stages(self) -> &'static [(&'static str, &'static str)] {
        match self {
            LangPair::KoEn => &[("koen-tli-train-l2", "l2"), ("koen-tli-train-best", "best")],
            LangPair::SwEn => &[("swen-tli-train", "l2")],
        }
    }
    pub fn eval_stage(self) -> &'static str {
        match self {
            LangPair::KoEn => "koen-eval",
            LangPair::SwEn => "swen-eval",
        }
    }
    /// Evaluation sets in table order (`control`: the paper's controls, sw-en only).
    pub fn sets(self) -> &'static [&'static str] {
        match self {
            LangPair::KoEn => &["trained", "held-out", "cldr"],
            LangPair::SwEn => &["trained", "held-out", "cldr", "control"],
        }
    }
    /// How a missing stage is produced.
    pub fn command(self, stage: &str) -> String {
        let sub = if stage.ends_with("-scan") {
            format!(
                "scan --pair {} --negative-control smollm2-135m",
                self.flag()
            )
        } else if stage.ends_with("-eval") {
            let adapters: Vec<String> = self
                .train_stages()
                .iter()
                .map(|(t, _)| format!("--adapter runs/<id>/{t}/adapter"))
                .collect();
            format!("eval --pair {} {}", self.flag(), adapters.join(" "))
        } else if stage.ends_with("-best") {
            format!(
                "train --pair {} --target-layer best --scan runs/<id>/{}",
                self.flag(),
                self.scan_stage()
            )
        } else {
            format!("train --pair {} --target-layer 2", self.flag())
        };
        format!("lang-study {sub} --out runs/<id>/{stage}")
    }
}
