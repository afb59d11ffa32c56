//! Title → own-paper retrieval quality.
//!
//! Every paper's title, embedded as a query (`query: ` + title), is searched against the index;
//! the paper itself is the one right answer (papers with an identical embedded input count as
//! the same answer: their vectors are identical). Rankings are read to [`FUSION_DEPTH`], so MRR
//! is MRR@100 (a paper ranked below 100 contributes 0).

use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;

use super::{fuse, Bm25, Mode, SearchError, VectorBackend, FUSION_DEPTH};
use crate::index::Index;

/// Retrieval quality of one mode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// The ranking measured: dense, lexical (BM25) or the two fused.
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
/// 100; `title_vectors` are the title queries of every paper. BM25 is the index's own
/// ([`super::lexical_store::load_or_build`]: the glossary and the lexicon learned from all its
/// papers).
pub fn title_ranks(
    index: &Index,
    backend: &VectorBackend,
    title_vectors: &[f32],
) -> Result<Vec<[Option<usize>; 3]>, SearchError> {
    let dense = title_dense(index, backend, title_vectors)?;
    let bm25 = super::lexical_store::load_or_build(index, None)?;
    let rows: Vec<usize> = (0..index.len()).collect();
    Ok(ranks_with(index, &dense, &bm25, &rows))
}

/// The dense ranking of every paper's title, read to [`FUSION_DEPTH`]; an empty index or title
/// vectors of the wrong shape are errors.
fn title_dense(
    index: &Index,
    backend: &VectorBackend,
    title_vectors: &[f32],
) -> Result<Vec<Vec<super::Hit>>, SearchError> {
    if index.is_empty() {
        return Err(SearchError::EmptyIndex);
    }
    check_title_vectors(index, title_vectors)?;
    Ok(backend.top_k(
        index.vectors(),
        index.dim(),
        title_vectors,
        FUSION_DEPTH,
        None,
    )?)
}

/// Ranks (as [`title_ranks`]) of the titles of `rows`, with dense results `dense` (one list per
/// paper) and lexical results from `bm25`.
fn ranks_with(
    index: &Index,
    dense: &[Vec<super::Hit>],
    bm25: &Bm25,
    rows: &[usize],
) -> Vec<[Option<usize>; 3]> {
    rows.par_iter()
        .map(|&i| {
            let p = &index.papers()[i];
            let lex = bm25.search(&p.paper.title, FUSION_DEPTH, None);
            let fused = fuse(&dense[i], &lex, FUSION_DEPTH);
            let rank = |hits: &[super::Hit]| {
                hits.iter()
                    .position(|h| index.papers()[h.row].key == p.key)
                    .map(|r| r + 1)
            };
            [rank(&dense[i]), rank(&lex), rank(&fused)]
        })
        .collect()
}

/// Where BM25's query translations come from, for [`translation_table`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Translations {
    /// Query words only.
    None,
    /// Pairs the summaries state in brackets.
    Brackets,
    /// Brackets and the hand-picked glossary (the rule before the lexicon was learned).
    BracketsGlossary,
    /// The learned lexicon: brackets and the title↔summary alignment.
    Learned,
    /// The learned lexicon and the glossary (what search uses).
    LearnedGlossary,
}

impl Translations {
    /// Every source, in table order.
    pub const ALL: [Translations; 5] = [
        Translations::None,
        Translations::Brackets,
        Translations::BracketsGlossary,
        Translations::Learned,
        Translations::LearnedGlossary,
    ];

    /// The source's name in the first column of the translations table (`learned + glossary`).
    pub fn name(self) -> &'static str {
        match self {
            Translations::None => "none",
            Translations::Brackets => "brackets",
            Translations::BracketsGlossary => "brackets + glossary",
            Translations::Learned => "learned",
            Translations::LearnedGlossary => "learned + glossary",
        }
    }
}

/// Title retrieval with each source of translations.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TranslationRow {
    /// Where the translations come from.
    pub translations: Translations,
    /// Pairs in the lexicon (both directions), glossary excluded.
    pub lexicon_pairs: usize,
    /// Dense, lexical and hybrid metrics ([`Mode::ALL`] order).
    pub metrics: Vec<Metrics>,
}

/// Title → own-paper retrieval under each source of translations, learning the lexicon from
/// the papers dated before `learn_before` (all papers when `None`) and evaluating the titles of
/// the papers dated from then on (all when `None`) against the whole index: a time split keeps
/// the evaluated titles out of what the lexicon learned from. Papers without a date count as
/// before the split. With `encoder`, the model's word vectors admit the alignment's wider
/// candidates to the learned lexicon, as for the index's own ([`super::lexical::learn_lexicon`]).
pub fn translation_table(
    index: &Index,
    backend: &VectorBackend,
    title_vectors: &[f32],
    learn_before: Option<&str>,
    encoder: Option<&crate::embed::Encoder>,
) -> Result<Vec<TranslationRow>, SearchError> {
    let later = |row: usize| {
        learn_before.is_none_or(|d| index.paper(row).date.as_deref().is_some_and(|p| p >= d))
    };
    let learn = |row: usize| learn_before.is_none() || !later(row);
    let rows: Vec<usize> = (0..index.len()).filter(|&r| later(r)).collect();
    if rows.is_empty() {
        return Err(SearchError::EmptyIndex);
    }
    let dense = title_dense(index, backend, title_vectors)?;
    let mut bm25 = Bm25::from_index_text(index);
    let papers: Vec<(&str, &str)> = (0..index.len())
        .filter(|&r| learn(r))
        .map(|r| {
            (
                index.paper(r).title.as_str(),
                index.paper(r).summary.as_str(),
            )
        })
        .collect();
    let summaries: Vec<&str> = papers.iter().map(|&(_, s)| s).collect();
    // The learned lexicon is built from its parts (as `lexical::learn_lexicon` does) so that the
    // brackets are mined once for both rows.
    let brackets = crate::text::Lexicon::mined(&summaries);
    let learned = super::lexical::lexicon_from_parts(&brackets, &papers, encoder)?;
    Ok(Translations::ALL
        .iter()
        .map(|&t| {
            let (lexicon, glossary) = match t {
                Translations::None => (crate::text::Lexicon::default(), false),
                Translations::Brackets => (brackets.clone(), false),
                Translations::BracketsGlossary => (brackets.clone(), true),
                Translations::Learned => (learned.clone(), false),
                Translations::LearnedGlossary => (learned.clone(), true),
            };
            let pairs = lexicon.pairs().len();
            bm25.set_translations(lexicon, glossary);
            let ranks = ranks_with(index, &dense, &bm25, &rows);
            TranslationRow {
                translations: t,
                lexicon_pairs: pairs,
                metrics: metrics_from_ranks(&ranks),
            }
        })
        .collect())
}

/// Recall@1, Recall@10 and MRR@100 of title → own-paper retrieval for each mode.
pub fn evaluate_titles(
    index: &Index,
    backend: &VectorBackend,
    title_vectors: &[f32],
) -> Result<Vec<Metrics>, SearchError> {
    let ranks = title_ranks(index, backend, title_vectors)?;
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

/// One title vector per paper, or a [`crate::vectors::VectorError::Mismatch`].
pub(crate) fn check_title_vectors(index: &Index, title_vectors: &[f32]) -> Result<(), SearchError> {
    check_per_paper(index, title_vectors, "title query values (papers × dim)")
}

/// One vector per paper of the index in `values` (row-major), or a
/// [`crate::vectors::VectorError::Mismatch`] naming `what` they are.
pub(crate) fn check_per_paper(
    index: &Index,
    values: &[f32],
    what: &'static str,
) -> Result<(), SearchError> {
    if values.len() != index.vectors().len() {
        return Err(crate::vectors::VectorError::Mismatch {
            what,
            expected: index.vectors().len(),
            found: values.len(),
        }
        .into());
    }
    Ok(())
}

/// A query people type, with graded judgments of papers read for it.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct JudgedQuery {
    /// Query id (`q01`), which judgment lines name in their `qid` field.
    pub id: String,
    /// The text as typed.
    pub query: String,
    /// Language tag (`en`, `ko`, `mixed`).
    #[serde(default)]
    pub lang: String,
    /// Graded relevance of the papers judged: 2 squarely about it, 1 partly, 0 not.
    #[serde(skip)]
    pub grades: std::collections::HashMap<String, u8>,
}

/// nDCG@10 of one mode over a set of judged queries.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueryMetrics {
    /// The ranking measured: dense, lexical (BM25) or the two fused.
    pub mode: Mode,
    /// Queries averaged over, all of them (a query with no judgments scores 0).
    pub queries: usize,
    /// Mean nDCG@10 (gain `2^grade − 1`, log2 discount, unjudged papers count 0).
    pub ndcg_at_10: f64,
    /// Share of the top-10 results that were judged (how complete the pool is for this mode).
    pub judged_at_10: f64,
}

/// Reads queries (JSON Lines: `id`, `query`, `lang`) and judgments (JSON Lines: `qid`,
/// `arxiv_id`, `rel`); a malformed line is an error naming the file and line.
pub fn read_judged(queries: &Path, judgments: &Path) -> Result<Vec<JudgedQuery>, SearchError> {
    let lines = |path: &Path| -> Result<Vec<(usize, serde_json::Value)>, SearchError> {
        let text = std::fs::read_to_string(path).map_err(|e| SearchError::Judgments {
            path: path.to_path_buf(),
            line: 0,
            source: Box::new(e),
        })?;
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str(l)
                    .map(|v| (i + 1, v))
                    .map_err(|e| SearchError::Judgments {
                        path: path.to_path_buf(),
                        line: i + 1,
                        source: Box::new(e),
                    })
            })
            .collect()
    };
    let mut out = Vec::new();
    for (line, v) in lines(queries)? {
        let q: JudgedQuery = serde_json::from_value(v).map_err(|e| SearchError::Judgments {
            path: queries.to_path_buf(),
            line,
            source: Box::new(e),
        })?;
        out.push(q);
    }
    #[derive(serde::Deserialize)]
    struct Judgment {
        qid: String,
        arxiv_id: String,
        rel: u8,
    }
    for (line, v) in lines(judgments)? {
        let j: Judgment = serde_json::from_value(v).map_err(|e| SearchError::Judgments {
            path: judgments.to_path_buf(),
            line,
            source: Box::new(e),
        })?;
        if let Some(q) = out.iter_mut().find(|q| q.id == j.qid) {
            q.grades.insert(j.arxiv_id, j.rel);
        }
    }
    Ok(out)
}

/// nDCG@`k` of a ranking against graded judgments: gain `2^grade − 1`, discount
/// `1 / log2(rank + 1)`, normalised by the ideal ordering of every judged paper.
pub fn ndcg(ranked: &[&str], grades: &std::collections::HashMap<String, u8>, k: usize) -> f64 {
    let gain = |g: u8| (1u32 << g) as f64 - 1.0;
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .map(|(r, id)| gain(grades.get(*id).copied().unwrap_or(0)) / ((r + 2) as f64).log2())
        .sum();
    let mut ideal: Vec<u8> = grades.values().copied().collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(r, &g)| gain(g) / ((r + 2) as f64).log2())
        .sum();
    if idcg > 0.0 {
        dcg / idcg
    } else {
        0.0
    }
}

/// nDCG@10 per mode ([`Mode::ALL`] order) of `queries`, whose query vectors are the rows of
/// `vectors`.
pub fn evaluate_queries(
    index: &Index,
    bm25: &Bm25,
    backend: &VectorBackend,
    queries: &[JudgedQuery],
    vectors: &[f32],
) -> Result<Vec<QueryMetrics>, SearchError> {
    let dim = index.dim();
    Mode::ALL
        .iter()
        .map(|&mode| {
            let (mut total, mut judged) = (0.0, 0usize);
            for (i, q) in queries.iter().enumerate() {
                let v = &vectors[i * dim..(i + 1) * dim];
                let hits = super::search_with(index, bm25, backend, &q.query, Some(v), mode, 10)?;
                let ids: Vec<&str> = hits
                    .iter()
                    .map(|h| index.paper(h.row).arxiv_id.as_str())
                    .collect();
                judged += ids.iter().filter(|id| q.grades.contains_key(**id)).count();
                total += ndcg(&ids, &q.grades, 10);
            }
            let n = queries.len().max(1) as f64;
            Ok(QueryMetrics {
                mode,
                queries: queries.len(),
                ndcg_at_10: total / n,
                judged_at_10: judged as f64 / (10.0 * n),
            })
        })
        .collect()
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

    #[test]
    fn ndcg_rewards_graded_hits_at_the_top() {
        let grades: std::collections::HashMap<String, u8> = [("a", 2), ("b", 1), ("c", 0)]
            .map(|(k, v)| (k.to_string(), v))
            .into();
        assert!((ndcg(&["a", "b", "x"], &grades, 10) - 1.0).abs() < 1e-12);
        let swapped = ndcg(&["b", "a"], &grades, 10);
        assert!(swapped < 1.0 && swapped > 0.5, "{swapped}");
        assert_eq!(ndcg(&["x", "c"], &grades, 10), 0.0);
        assert!(ndcg(&["x", "a"], &grades, 10) < ndcg(&["a", "x"], &grades, 10));
    }
}
