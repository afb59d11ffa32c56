//! "For you": papers recommended from a library, as arxiv-sanity recommends them: a linear SVM
//! over the papers' vectors, the liked and saved papers against the rest, trained when asked
//! (milliseconds: the library's papers, those marked "not interested", and an even sample of
//! the index as the rest), then every paper ranked by its margin. With the index's BM25 at
//! hand, the best [`RERANK`] are ranked again by one SVM over the vector and the words
//! ([`super::words`]). The ranking mixes in recency (a bonus in standard deviations of the
//! candidates' margins). Each recommendation names the liked papers it is nearest to, so a
//! reader sees why.

use crate::corpus::dates::day_number;
use crate::index::Index;
use crate::text::vector::dot;
use crate::vectors::{VectorBackend, VectorError};

use super::svm::{self, Dense, Linear};
use super::words::{self, Words};
use super::Library;
use crate::search::Bm25;

/// Candidates of the vector SVM that the joint model (vector and words) ranks again.
pub const RERANK: usize = 1_000;

/// How recommendations are made.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Recommendations wanted.
    pub k: usize,
    /// The SVM's cost (LIBLINEAR's `C`) per class-balanced example.
    pub c: f32,
    /// Papers sampled evenly from the index as the examples of "the rest".
    pub negatives: usize,
    /// Weight of recency beside the margin, in standard deviations of the candidates'
    /// margins: a paper of today gains this many, one `half_life` days older half of it. The
    /// margins' scale changes with the library (one liked paper gives margins near 0), so a
    /// fixed bonus would outweigh the model.
    pub recency: f32,
    /// Days in which the recency bonus halves.
    pub half_life: f32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            k: 20,
            c: 0.1,
            negatives: 2_000,
            recency: 0.25,
            half_life: 30.0,
        }
    }
}

/// One recommended paper.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Recommendation {
    /// Index row.
    pub row: usize,
    /// The SVM's margin plus the recency bonus (scaled by the margins' spread): what the list
    /// is sorted by.
    pub score: f32,
    /// The SVM's margin alone (the joint model's, when words were used).
    pub margin: f32,
    /// The liked papers it is nearest to (row, cosine), nearest first.
    pub near: Vec<(usize, f32)>,
}

/// Why no recommendations could be made.
#[derive(Debug, thiserror::Error)]
pub enum RecommendError {
    /// The library has no liked or saved paper in this index.
    #[error("the library has no liked or saved paper in this index: like some first")]
    NoLikes,
    /// The dense pass failed.
    #[error(transparent)]
    Vectors(#[from] VectorError),
    /// The index's word statistics (BM25) could neither be read nor built.
    #[error("the index's word statistics: {0}")]
    Words(#[from] crate::embed::EmbedError),
}

/// Index rows of the library's papers: (wanted, not interested); ids not in the index are
/// left out.
pub fn library_rows(index: &Index, library: &Library) -> (Vec<usize>, Vec<usize>) {
    let (mut liked, mut hidden) = (Vec::new(), Vec::new());
    for e in &library.papers {
        if let Some(row) = index.row_of(&e.id) {
            if e.mark.is_positive() {
                liked.push(row);
            } else {
                hidden.push(row);
            }
        }
    }
    (liked, hidden)
}

/// The SVM of a reader who likes `liked` and hid `hidden`, against `negatives` rows spread
/// evenly over `vectors` (`dim` wide).
pub fn model(
    vectors: &[f32],
    dim: usize,
    liked: &[usize],
    hidden: &[usize],
    negatives: usize,
    c: f32,
) -> Linear {
    let n = vectors.len() / dim.max(1);
    let (rows, positive) = examples(liked, hidden, sample_rows(n, negatives));
    let x = Dense {
        rows: rows
            .iter()
            .map(|&r| &vectors[r * dim..(r + 1) * dim])
            .collect(),
    };
    svm::train(&x, &positive, c)
}

/// The rows an SVM of a reader is trained on, and which are positive: `liked`, then `hidden`,
/// then the rows of `rest` (an even sample of the index) that are neither.
pub fn examples(
    liked: &[usize],
    hidden: &[usize],
    rest: impl Iterator<Item = usize>,
) -> (Vec<usize>, Vec<bool>) {
    let mut rows: Vec<usize> = liked.to_vec();
    rows.extend(hidden.iter().filter(|r| !liked.contains(r)));
    rows.extend(rest.filter(|r| !liked.contains(r) && !hidden.contains(r)));
    let positive = rows.iter().map(|r| liked.contains(r)).collect();
    (rows, positive)
}

/// Recency bonus of a paper dated `date` when the newest is `newest` (day numbers).
fn recency(o: &Options, date: Option<i64>, newest: i64) -> f32 {
    date.map_or(0.0, |d| {
        o.recency * 0.5f32.powf((newest - d).max(0) as f32 / o.half_life)
    })
}

/// Recommendations for `library` over `index`, the dense pass on `backend`; with `words` (the
/// index's BM25 and the word rows kept between calls), re-ranked by the joint model. Papers
/// the library has marked are never recommended.
pub fn recommend(
    index: &Index,
    backend: &VectorBackend,
    library: &Library,
    o: &Options,
    words: Option<(&Bm25, &mut Words)>,
) -> Result<Vec<Recommendation>, RecommendError> {
    let (liked, hidden) = library_rows(index, library);
    if liked.is_empty() {
        return Err(RecommendError::NoLikes);
    }
    let dim = index.dim();
    let m = model(index.vectors(), dim, &liked, &hidden, o.negatives, o.c);
    let norm = m.w.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm == 0.0 {
        return Ok(Vec::new());
    }
    let q: Vec<f32> = m.w.iter().map(|x| x / norm).collect();
    // The margin's best candidates, deep enough that recency can reorder them and the
    // library's own papers can be dropped.
    let mut depth = o.k * 5 + liked.len() + hidden.len();
    if words.is_some() {
        depth = depth.max(RERANK);
    }
    let hits = backend
        .top_k(index.vectors(), dim, &q, depth.min(index.len()), None)?
        .pop()
        .unwrap_or_default();
    let dates: Vec<Option<i64>> = hits
        .iter()
        .map(|h| {
            index
                .record(h.row)
                .paper
                .date
                .as_deref()
                .and_then(day_number)
        })
        .collect();
    let newest = dates.iter().flatten().copied().max().unwrap_or(0);
    let margins: Vec<f32> = match words {
        Some((bm25, w)) => {
            let rest = sample_rows(index.len(), o.negatives);
            let joint = words::model(w, index, bm25, &liked, &hidden, rest, o.c);
            let rows: Vec<usize> = hits.iter().map(|h| h.row).collect();
            words::margins(w, index, bm25, &joint, &rows)
        }
        None => hits.iter().map(|h| h.score * norm + m.bias).collect(),
    };
    let mean = margins.iter().sum::<f32>() / margins.len().max(1) as f32;
    let spread = (margins.iter().map(|x| (x - mean).powi(2)).sum::<f32>()
        / margins.len().max(1) as f32)
        .sqrt();
    let mut out: Vec<Recommendation> = hits
        .iter()
        .zip(&dates)
        .zip(&margins)
        .filter(|((h, _), _)| !liked.contains(&h.row) && !hidden.contains(&h.row))
        .map(|((h, &date), &margin)| Recommendation {
            row: h.row,
            score: margin + spread * recency(o, date, newest),
            margin,
            near: Vec::new(),
        })
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.row.cmp(&b.row)));
    out.truncate(o.k);
    for r in &mut out {
        r.near = nearest(index, &liked, r.row, 2);
    }
    Ok(out)
}

/// About `count` rows spread evenly over `n`: the SVM's examples of "the rest".
pub fn sample_rows(n: usize, count: usize) -> impl Iterator<Item = usize> {
    (0..n).step_by((n / count.max(1)).max(1))
}

/// The `n` rows of `liked` nearest to `row` by cosine, nearest first.
pub fn nearest(index: &Index, liked: &[usize], row: usize, n: usize) -> Vec<(usize, f32)> {
    let v = index.vector(row);
    let mut near: Vec<(usize, f32)> = liked
        .iter()
        .map(|&l| (l, dot(index.vector(l), v)))
        .collect();
    near.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    near.truncate(n);
    near
}
