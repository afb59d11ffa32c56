//! Title → own-paper retrieval quality.
//!
//! Every paper's title, embedded as a query (`query: ` + title), is searched against the index;
//! the paper itself is the one right answer (papers with an identical embedded input count as
//! the same answer: their vectors are identical). Rankings are read to [`FUSION_DEPTH`], so MRR
//! is MRR@100 (a paper ranked below 100 contributes 0).

use rayon::prelude::*;
use serde::Serialize;

use super::{dense, rrf, Bm25, Mode, SearchError, FUSION_DEPTH};
use crate::index::Index;

/// Retrieval quality of one mode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// The mode measured.
    pub mode: Mode,
    /// Number of title queries.
    pub queries: usize,
    /// Share of titles whose own paper ranks first.
    pub recall_at_1: f64,
    /// Share of titles whose own paper is in the top 10.
    pub recall_at_10: f64,
    /// Mean reciprocal rank of the own paper, 0 beyond rank 100.
    pub mrr: f64,
}

/// 1-based rank of paper `i`'s own answer in each mode ([`Mode::ALL`] order), `None` beyond rank
/// 100; `title_vectors` are the title queries of every paper.
pub fn title_ranks(
    index: &Index,
    title_vectors: &[f32],
) -> Result<Vec<[Option<usize>; 3]>, SearchError> {
    if index.is_empty() {
        return Err(SearchError::EmptyIndex);
    }
    let dim = index.dim();
    check_title_vectors(index, title_vectors)?;
    let dense = dense::top_k(index.vectors(), dim, title_vectors, FUSION_DEPTH, None)?;
    let bm25 = Bm25::from_index(index);
    let ranks = index
        .papers()
        .par_iter()
        .enumerate()
        .map(|(i, p)| {
            let lex = bm25.search(&p.paper.title, FUSION_DEPTH, None);
            let fused = rrf(&[&dense[i], &lex], FUSION_DEPTH);
            let rank = |hits: &[super::Hit]| {
                hits.iter()
                    .position(|h| index.papers()[h.row].key == p.key)
                    .map(|r| r + 1)
            };
            [rank(&dense[i]), rank(&lex), rank(&fused)]
        })
        .collect();
    Ok(ranks)
}

/// Recall@1, Recall@10 and MRR@100 of title → own-paper retrieval for each mode.
pub fn evaluate_titles(index: &Index, title_vectors: &[f32]) -> Result<Vec<Metrics>, SearchError> {
    let ranks = title_ranks(index, title_vectors)?;
    Ok(metrics_from_ranks(&ranks))
}

/// Aggregates per-paper ranks ([`title_ranks`]) into one [`Metrics`] per mode.
pub fn metrics_from_ranks(ranks: &[[Option<usize>; 3]]) -> Vec<Metrics> {
    let n = ranks.len().max(1) as f64;
    Mode::ALL
        .iter()
        .enumerate()
        .map(|(m, &mode)| {
            let at = |cut: usize| {
                ranks
                    .iter()
                    .filter(|r| r[m].is_some_and(|x| x <= cut))
                    .count() as f64
                    / n
            };
            let mrr = ranks
                .iter()
                .map(|r| r[m].map_or(0.0, |x| 1.0 / x as f64))
                .sum::<f64>()
                / n;
            Metrics {
                mode,
                queries: ranks.len(),
                recall_at_1: at(1),
                recall_at_10: at(10),
                mrr,
            }
        })
        .collect()
}

/// One title vector per paper, or a [`SearchError::Mismatch`].
pub(crate) fn check_title_vectors(index: &Index, title_vectors: &[f32]) -> Result<(), SearchError> {
    if title_vectors.len() != index.vectors().len() {
        return Err(SearchError::Mismatch {
            what: "title query values (papers × dim)",
            expected: index.vectors().len(),
            found: title_vectors.len(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_aggregate_ranks() {
        let ranks = vec![
            [Some(1), None, Some(1)],
            [Some(2), Some(1), Some(1)],
            [Some(20), Some(5), Some(4)],
            [None, None, Some(100)],
        ];
        let m = metrics_from_ranks(&ranks);
        assert_eq!(m[0].mode, Mode::Dense);
        assert!((m[0].recall_at_1 - 0.25).abs() < 1e-12);
        assert!((m[0].recall_at_10 - 0.5).abs() < 1e-12);
        assert!((m[0].mrr - (1.0 + 0.5 + 0.05) / 4.0).abs() < 1e-12);
        assert!((m[2].recall_at_1 - 0.5).abs() < 1e-12);
        assert!((m[2].recall_at_10 - 0.75).abs() < 1e-12);
    }
}
