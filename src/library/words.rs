//! The words beside the vector: a paper as arxiv-sanity's recommender sees it (its title and
//! summary as tf-idf), joined to its embedding in one SVM.
//!
//! On the judged readers (`papermap eval library`), arxiv-sanity's tf-idf SVM ranked later
//! papers better than the SVM over the vectors (nDCG@10 0.721 against 0.601), and one SVM over
//! both better still. An index keeps no per-paper word rows, and a million papers' rows would
//! not fit the milliseconds a recommendation has, so the joint model re-ranks the vector SVM's
//! best candidates, and each paper's row is made from its text when it is needed: the
//! library's papers, the sample of "the rest" and the candidates, a few thousand texts, kept
//! for the next request. The idf is the one the index's BM25 already keeps, so Korean and
//! English words weigh as search weighs them. A word met only by candidates gets no weight,
//! since the model never saw it.

use std::collections::HashMap;

use crate::index::Index;
use crate::search::{tokenize, Bm25};

use super::svm::{self, Linear, Sparse};

/// Most papers whose word rows a [`Words`] keeps; past it, it starts again (the sample of
/// "the rest" is made again at the next request, 2,000 texts).
const KEEP: usize = 50_000;

/// Papers' word rows, kept between requests on one index: the sample of "the rest" is the same
/// for every reader, and tokenising a text is most of a row's cost.
#[derive(Default)]
pub struct Words {
    ids: HashMap<String, u32>,
    rows: HashMap<usize, Vec<(u32, f32)>>,
}

impl Words {
    /// Paper `row` as one example: its unit vector, then its words as `(1 + ln tf) · idf` at
    /// unit length (features numbered after the vector's, as first met).
    pub fn row(&mut self, index: &Index, bm25: &Bm25, row: usize) -> Vec<(u32, f32)> {
        let dim = index.dim() as u32;
        if !self.rows.contains_key(&row) {
            if self.rows.len() >= KEEP {
                self.rows.clear();
            }
            let words = self.words(index, bm25, row);
            self.rows.insert(row, words);
        }
        let mut out: Vec<(u32, f32)> = index
            .vector(row)
            .iter()
            .enumerate()
            .map(|(j, &x)| (j as u32, x))
            .collect();
        if let Some(words) = self.rows.get(&row) {
            out.extend(words.iter().map(|&(j, x)| (dim + j, x)));
        }
        out
    }

    fn words(&mut self, index: &Index, bm25: &Bm25, row: usize) -> Vec<(u32, f32)> {
        // By row: a large index's papers are not all parsed for a few thousand texts.
        let p = &index.record(row).paper;
        let mut tf: HashMap<String, u32> = HashMap::new();
        for w in tokenize(&format!("{} {}", p.title, p.summary)) {
            *tf.entry(w).or_default() += 1;
        }
        // In word order, not the map's (random per process) nor the ids' (the order words were
        // first met): a margin sums a row in this order, so every run and every server ranks
        // alike to the last bit.
        let mut tf: Vec<(String, u32)> = tf.into_iter().collect();
        tf.sort_unstable();
        let mut out: Vec<(u32, f32)> = Vec::with_capacity(tf.len());
        for (w, c) in tf {
            let x = (1.0 + (c as f32).ln()) * bm25.idf(&w);
            if x <= 0.0 {
                continue;
            }
            let next = self.ids.len() as u32;
            let id = *self.ids.entry(w).or_insert(next);
            out.push((id, x));
        }
        let norm = out.iter().map(|p| p.1 * p.1).sum::<f32>().sqrt();
        if norm > 0.0 {
            out.iter_mut().for_each(|p| p.1 /= norm);
        }
        out
    }

    /// Number of features met so far, the vector's included.
    pub fn dim(&self, index: &Index) -> usize {
        index.dim() + self.ids.len()
    }
}

/// The joint SVM of a reader who likes `liked` and hid `hidden`, trained on those and on
/// `rest` (an even sample of the index).
pub fn model(
    words: &mut Words,
    index: &Index,
    bm25: &Bm25,
    liked: &[usize],
    hidden: &[usize],
    rest: impl Iterator<Item = usize>,
    c: f32,
) -> Linear {
    let (rows, positive) = super::recommend::examples(liked, hidden, rest);
    let x: Vec<Vec<(u32, f32)>> = rows.iter().map(|&r| words.row(index, bm25, r)).collect();
    let x = Sparse {
        rows: x,
        dim: words.dim(index),
    };
    svm::train(&x, &positive, c)
}

/// Margins of `rows` under `m`; words the model never saw weigh nothing.
pub fn margins(
    words: &mut Words,
    index: &Index,
    bm25: &Bm25,
    m: &Linear,
    rows: &[usize],
) -> Vec<f32> {
    rows.iter()
        .map(|&r| {
            words
                .row(index, bm25, r)
                .iter()
                .filter_map(|&(j, x)| m.w.get(j as usize).map(|w| w * x))
                .sum::<f32>()
                + m.bias
        })
        .collect()
}
