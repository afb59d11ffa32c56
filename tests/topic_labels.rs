//! Topic labels on the real archive with the real model: searched for, the labels must land
//! nearest their own topics (the label check) above a floor, and no label part may repeat.
//!
//! The vectors are the archive's stored summary vectors (`tests/data/make_summary_vectors.py`:
//! embedding the archive takes minutes), the papers the archive's digests, the label queries
//! the real model's.
mod common;

use std::collections::HashMap;

use common::real_model;
use papermap::corpus::{self, Paper};
use papermap::embed::{Encoder, EncoderOptions};
use papermap::topics::kmeans::Rows;
use papermap::topics::{self, naming, KChoice, Params};

const DIM: usize = 384;

/// The archive's papers that have a stored summary vector, and those vectors.
fn archive() -> (Vec<Paper>, Vec<f32>) {
    let stored = common::archive_summary_vectors();
    let row_of: HashMap<&str, usize> = stored
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let corpus = corpus::load(&[common::shared().join("data/archive")]).expect("archive loads");
    let (mut papers, mut vectors) = (Vec::new(), Vec::new());
    for p in corpus.papers {
        let Some(&r) = row_of.get(p.arxiv_id.as_str()) else {
            continue;
        };
        vectors.extend_from_slice(&stored.summaries[r * DIM..(r + 1) * DIM]);
        papers.push(p);
    }
    (papers, vectors)
}

#[test]
fn labels_searched_for_land_in_their_own_topic_on_the_archive() {
    let (papers, vectors) = archive();
    assert!(papers.len() > 4300, "{} papers", papers.len());
    let encoder = Encoder::load(&real_model(), &EncoderOptions::default()).expect("model");
    let refs: Vec<&Paper> = papers.iter().collect();
    for k in [20, 36] {
        let params = Params {
            k: KChoice::Fixed(k),
            map: false,
            ..Params::default()
        };
        let t = topics::compute(
            &refs,
            Rows::new(&vectors, DIM).expect("rows"),
            &params,
            None,
            Some(&encoder),
            &papermap::vectors::VectorBackend::Cpu,
        )
        .expect("topics");
        let check = topics::label_check::check(&t, &encoder).expect("check");
        let labels: Vec<&str> = t.topics.iter().map(|t| t.label.as_str()).collect();
        eprintln!("k = {k}: {} of {} labels land", check.landed, check.total);
        // The floor: 90 % land. These are summary-only vectors (the index embeds title and
        // summary, where k = 36 lands 36 of 36), so the check is a guard, not the target.
        assert!(
            check.landed * 10 >= check.total * 9,
            "k = {k}: {} of {} labels land: {:?}\n{labels:?}",
            check.landed,
            check.total,
            check.misses
        );
        // No label part is used twice, and few topics are too mixed to name.
        let mut parts: Vec<&str> = labels
            .iter()
            .map(|l| l.strip_prefix(naming::MIXED_PREFIX).unwrap_or(l))
            .flat_map(|l| l.split(" · "))
            .collect();
        let n = parts.len();
        parts.sort_unstable();
        parts.dedup();
        assert_eq!(parts.len(), n, "k = {k}: a part repeats: {labels:?}");
        let mixed = labels
            .iter()
            .filter(|l| l.starts_with(naming::MIXED_PREFIX))
            .count();
        assert!(mixed * 5 <= k, "k = {k}: {mixed} mixed: {labels:?}");
    }
}
