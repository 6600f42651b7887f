//! The saved-vectors folder read back with the safetensors crate and the `.vec` reader.

use super::*;
use safetensors::SafeTensors;

fn words(w: &[&str]) -> Vec<String> {
    w.iter().map(|s| s.to_string()).collect()
}

#[test]
fn safetensors_tsv_vec_and_dictionary_read_back() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("v");
    let args = SaveVectorsArgs {
        save_vectors: Some(dir.clone()),
        vec: true,
    };
    let mut sink = VectorSink::open(&args).unwrap().unwrap();
    let (src, tgt) = (words(&["물", "불"]), words(&["water", "fire", "ice cream"]));
    let a = [0.1f32, 0.2, -0.3, 1.0 / 3.0];
    let b = [1.0f32, 2.0, 3.0, 4.0, 5.0, -6.5];
    sink.add(
        &tensor_name("mean", 3, None, "source"),
        "source",
        &src,
        2,
        &a,
    )
    .unwrap();
    sink.add(
        &tensor_name("mean", 3, None, "target"),
        "target",
        &tgt,
        2,
        &b,
    )
    .unwrap();
    sink.add(
        &tensor_name("mean", 4, None, "source"),
        "source",
        &src,
        2,
        &a,
    )
    .unwrap();
    let e = format!("{:#}", sink.add("x", "source", &tgt, 2, &b).unwrap_err());
    assert!(e.contains("word list source differs"), "{e}");
    let pairs = vec![
        lexalign_data::Pair::new("물", "water"),
        lexalign_data::Pair::new("불", "fire"),
    ];
    let meta = BTreeMap::from([("model".to_string(), "m".to_string())]);
    let out = sink.finish(meta, &pairs).unwrap();

    let bytes = std::fs::read(&out).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let view = st.tensor("mean.layer3.target").unwrap();
    assert_eq!(view.shape(), &[3, 2]);
    let got: Vec<f32> = view
        .data()
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(got, b);
    assert_eq!(st.tensor("mean.layer4.source").unwrap().shape(), &[2, 2]);
    let (_, md) = SafeTensors::read_metadata(&bytes).unwrap();
    let md = md.metadata().clone().unwrap();
    assert_eq!(md["model"], "m");
    assert_eq!(
        serde_json::from_str::<Vec<String>>(&md["words.target"]).unwrap(),
        tgt
    );

    let tsv = std::fs::read_to_string(dir.join("words.tsv")).unwrap();
    assert!(
        tsv.starts_with("list\tindex\tword\nsource\t0\t물\n")
            && tsv.contains("target\t2\tice cream\n"),
        "{tsv}"
    );
    let v = lexalign_data::parse_vec(
        &std::fs::read_to_string(dir.join("mean.layer3.target.vec")).unwrap(),
        "t",
    )
    .unwrap();
    assert_eq!(
        (v.words.clone(), v.data.clone()),
        (words(&["water", "fire", "ice_cream"]), b.to_vec())
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("pairs.muse.txt")).unwrap(),
        "물\twater\n불\tfire\n"
    );
    // Only the outputs are left (no hidden data file).
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 6, "{names:?}");
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
}

#[test]
fn non_finite_vectors_are_refused_by_word() {
    let t = tempfile::tempdir().unwrap();
    let args = SaveVectorsArgs {
        save_vectors: Some(t.path().join("v")),
        vec: false,
    };
    let mut sink = VectorSink::open(&args).unwrap().unwrap();
    let e = format!(
        "{:#}",
        sink.add("n", "source", &words(&["a", "b"]), 1, &[0.0, f32::NAN])
            .unwrap_err()
    );
    assert!(e.contains("\"b\"") && e.contains("non-finite"), "{e}");
    assert!(VectorSink::open(&SaveVectorsArgs::default())
        .unwrap()
        .is_none());
}
