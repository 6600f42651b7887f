//! The audit on small synthetic tables.

use super::*;
use lexalign_data::parse_probe;

const HEAD: &str = "| Prompt Template | Prompt | Base Model Output | TLI-Tuned Model Output |\n|---|---|---|---|\n";

fn vocab() -> Vocabulary {
    Vocabulary::from_texts(
        ["the english word for is he my friend very a dog good meaning"],
        ["mbwa ni rafiki yangu swahili"],
        "test",
    )
}

fn table(rows: &[(&str, &str)]) -> Vec<ProbeRow> {
    let mut t = format!("## Probing for: `mbwa` <-> `dog`\n\n{HEAD}");
    for (b, u) in rows {
        t.push_str(&format!(
            "| Direct Translation (Sw-En) | `The English word for 'mbwa' is` | `{b}` | `{u}` |\n"
        ));
    }
    parse_probe(&t).unwrap()
}

#[test]
fn a_working_model_and_a_broken_one() {
    let rows = table(&[
        ("Привет 軍 promotion", "dog. A good dog."),
        ("мир", "the dog"),
        ("ابن xq", "Mbwa ni dog"),
        ("zzz", "zzz"),
    ]);
    let a = audit(&rows, &vocab()).unwrap();
    assert_eq!((a.rows, a.pairs, a.identical_outputs), (4, 1, 1));
    assert_eq!(a.base.with_pair_word, 0);
    assert_eq!(a.tuned.with_pair_word, 3);
    assert_eq!(a.base.with_foreign_script, 3);
    assert_eq!(a.base.scripts["Cyrillic"], 2);
    assert_eq!(a.base.scripts["Han"], 1);
    assert_eq!(a.base.scripts["Arabic"], 1);
    assert_eq!(a.tuned.with_foreign_script, 0);
    // base: привет 軍 promotion мир ابن xq zzz: 7 tokens, none known.
    assert_eq!((a.base.tokens, a.base.known_tokens), (7, 0));
    assert_eq!(a.base.known_share, 0.0);
    // tuned: dog a good dog | the dog | mbwa ni dog | zzz: 10 tokens, 9 known, 2 Swahili.
    assert_eq!(
        (a.tuned.tokens, a.tuned.known_tokens, a.tuned.swahili_tokens),
        (10, 9, 2)
    );
    let t = |x: &PairedTest| (x.base_only, x.tuned_only);
    assert_eq!(t(&a.pair_word_test), (0, 3));
    assert_eq!(t(&a.foreign_script_test), (3, 0));
    assert!((a.pair_word_test.p - 0.25).abs() < 1e-12);
    assert!((a.foreign_script_test.p - 0.25).abs() < 1e-12);
    assert_eq!(
        (a.known_share_test.tuned_only, a.known_share_test.base_only),
        (3, 0)
    );
    // The prompt "The English word for 'mbwa' is" (4 times): 6 tokens each, all known, with the pair word.
    assert_eq!(
        (
            a.prompts.tokens,
            a.prompts.known_tokens,
            a.prompts.with_pair_word
        ),
        (24, 24, 4)
    );
}

#[test]
fn empty_outputs_and_no_rows() {
    let rows = table(&[("", "...")]);
    let a = audit(&rows, &vocab()).unwrap();
    assert_eq!((a.base.empty, a.tuned.empty), (1, 1));
    assert_eq!(a.base.known_share, 0.0);
    assert_eq!(a.known_share_test.p, 1.0);
    assert!(audit(&[], &vocab()).is_err());
}
