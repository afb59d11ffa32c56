//! Whether each label names its topic, as the index's own model reads it: a label embedded as a
//! query must land nearer its own topic's centroid than any other topic's.
//!
//! Keyword statistics (NPMI, diversity) score the words a label is drawn from, not whether a
//! reader who sees only the label would find the topic. This check asks the model that
//! answers the reader's searches: a label that lands elsewhere sends a search for it to
//! another topic, and on the archive the labels that missed were the ones readers graded
//! lowest (`매개변수 · 탐색 · 온도` over the speculative-decoding papers).

use serde::Serialize;

use super::keywords::TermEmbedder;
use super::{Topics, TopicsError};
use crate::text::vector::{dot, normalise};

/// The check over every topic of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelCheck {
    /// Topics whose label landed nearest their own centroid.
    pub landed: usize,
    /// Topics checked: every topic of the run, so `landed + misses.len()`.
    pub total: usize,
    /// The topics whose label landed elsewhere.
    pub misses: Vec<Miss>,
}

/// A label nearer another topic's centroid than its own.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Miss {
    /// The topic whose label it is.
    pub topic: u32,
    /// Its label as stored (a mixed topic's prefix kept), though embedded without the prefix.
    pub label: String,
    /// The topic it landed nearest.
    pub nearest: u32,
    /// Cosine of the label to its own centroid.
    pub own: f32,
    /// Cosine of the label to the nearest centroid.
    pub best: f32,
}

impl LabelCheck {
    /// Share of labels that landed (1 when there are no topics).
    pub fn share(&self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            self.landed as f64 / self.total as f64
        }
    }
}

/// Embeds every label of `topics` with `embedder` (as a query, as a search would) and finds
/// the centroid each lands nearest by cosine.
pub fn check(topics: &Topics, embedder: &dyn TermEmbedder) -> Result<LabelCheck, TopicsError> {
    // A mixed topic's label is searched for without its `기타: `: no reader types that.
    let labels: Vec<String> = topics
        .topics
        .iter()
        .map(|t| {
            let l = t.label.as_str();
            l.strip_prefix(super::naming::MIXED_PREFIX)
                .unwrap_or(l)
                .to_string()
        })
        .collect();
    if labels.is_empty() {
        return Ok(LabelCheck {
            landed: 0,
            total: 0,
            misses: Vec::new(),
        });
    }
    let vectors = embedder.embed_terms(&labels)?;
    let dim = vectors.len() / labels.len();
    let centroids = unit_rows(topics.topics.iter().map(|t| t.centroid.as_slice()));
    let mut misses = Vec::new();
    for (i, (topic, v)) in topics
        .topics
        .iter()
        .zip(vectors.chunks_exact(dim))
        .enumerate()
    {
        let scores = cosines(v, &centroids);
        // Ties go to the lower position, so a label tied with its own topic's twin misses
        // only when the twin comes first: the check does not flatter.
        let nearest = scores
            .iter()
            .enumerate()
            .fold(0, |best, (j, &s)| if s > scores[best] { j } else { best });
        if nearest != i {
            misses.push(Miss {
                topic: topic.id,
                label: topic.label.clone(),
                nearest: topics.topics[nearest].id,
                own: scores[i],
                best: scores[nearest],
            });
        }
    }
    Ok(LabelCheck {
        landed: labels.len() - misses.len(),
        total: labels.len(),
        misses,
    })
}

/// Each row scaled to unit length.
pub(super) fn unit_rows<'a>(rows: impl Iterator<Item = &'a [f32]>) -> Vec<Vec<f32>> {
    rows.map(|r| {
        let mut v = r.to_vec();
        normalise(&mut v);
        v
    })
    .collect()
}

/// Cosine of `v` to each of the unit `centroids`: how near a label, searched for, lands to
/// each topic (the check here, and the choice between labels in [`super::naming`]).
pub(super) fn cosines(v: &[f32], centroids: &[Vec<f32>]) -> Vec<f32> {
    let mut v = v.to_vec();
    normalise(&mut v);
    centroids.iter().map(|c| dot(&v, c)).collect()
}
