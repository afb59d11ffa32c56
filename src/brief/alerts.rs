//! The day's papers a reader's library points at, listed first in the brief: those the
//! library's recommender wants ([`crate::library::recommend`]), those matching a saved search,
//! and those by a followed author.

use std::collections::HashSet;

use serde::Serialize;

use super::PaperRef;
use crate::index::Index;
use crate::library::recommend::{library_rows, nearest, sample_rows, Options};
use crate::library::words::{self, Words};
use crate::library::Library;
use crate::search::{tokenize, Bm25};

/// Share of the index whose margins a recommended paper of the day must reach: the reader's
/// top 5 %. A margin's sign is no rule: a library of one liked paper leaves every margin
/// below 0 (the regulariser outweighs one example), where its ranking is already useful.
pub const RECOMMENDED_SHARE: f64 = 0.05;

/// Why a paper of the day is listed for the reader.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Reason {
    /// The library's SVM ranks it among the best [`RECOMMENDED_SHARE`] of the index.
    Recommended {
        /// The SVM's margin.
        margin: f32,
        /// The liked paper nearest to it.
        near: PaperRef,
    },
    /// It holds every word of a saved search (or a translation of it).
    Search {
        /// The saved search.
        query: String,
    },
    /// A followed author wrote it.
    Author {
        /// The author, as the library names them.
        name: String,
    },
}

/// A paper of the day and why the reader would want it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// The paper.
    pub paper: PaperRef,
    /// Why, strongest first: recommended, then saved searches, then authors.
    pub reasons: Vec<Reason>,
}

/// The papers of `rows` (a day) that `library` points at: most reasons first, then the larger
/// margin, then index order. Papers the library already marks are left out. `bm25` supplies
/// the translations a saved search is matched with, as `papermap search` expands it.
pub fn alerts(index: &Index, rows: &[usize], library: &Library, bm25: &Bm25) -> Vec<Alert> {
    let (liked, hidden) = library_rows(index, library);
    let o = Options::default();
    // The recommendations' joint model (vector and words), as `papermap library recommend`
    // ranks with it.
    let mut words = Words::default();
    let svm = (!liked.is_empty()).then(|| {
        // The model's "rest", and the sample whose margins set the bar: the margin at the top
        // RECOMMENDED_SHARE of it.
        let sample: Vec<usize> = sample_rows(index.len(), o.negatives).collect();
        let rest = sample.iter().copied();
        let m = words::model(&mut words, index, bm25, &liked, &hidden, rest, o.c);
        let mut sample = words::margins(&mut words, index, bm25, &m, &sample);
        sample.sort_by(|a, b| b.total_cmp(a));
        let at = ((sample.len() as f64 * RECOMMENDED_SHARE) as usize)
            .min(sample.len().saturating_sub(1));
        let bar = sample.get(at).copied().unwrap_or(f32::INFINITY);
        (m, bar)
    });
    let searches: Vec<(&String, Vec<Vec<String>>)> = library
        .searches
        .iter()
        .map(|q| (q, bm25.concepts(q)))
        .filter(|(_, c)| !c.is_empty())
        .collect();
    let mut out: Vec<(Alert, f32, usize)> = Vec::new();
    for &row in rows {
        if liked.contains(&row) || hidden.contains(&row) {
            continue;
        }
        let record = index.record(row);
        let paper = &record.paper;
        let mut reasons = Vec::new();
        let mut margin = f32::NEG_INFINITY;
        if let Some((m, bar)) = &svm {
            let s = words::margins(&mut words, index, bm25, m, &[row])[0];
            if s >= *bar {
                margin = s;
                if let Some(&(l, _)) = nearest(index, &liked, row, 1).first() {
                    reasons.push(Reason::Recommended {
                        margin: s,
                        near: PaperRef::of(index, l),
                    });
                }
            }
        }
        if !searches.is_empty() {
            let words: HashSet<String> = tokenize(&format!("{} {}", paper.title, paper.summary))
                .into_iter()
                .collect();
            for (q, concepts) in &searches {
                if concepts
                    .iter()
                    .all(|forms| forms.iter().any(|f| words.contains(f)))
                {
                    reasons.push(Reason::Search {
                        query: q.to_string(),
                    });
                }
            }
        }
        for name in &library.authors {
            if paper
                .authors
                .iter()
                .any(|a| a.trim().eq_ignore_ascii_case(name.trim()))
            {
                reasons.push(Reason::Author { name: name.clone() });
            }
        }
        if !reasons.is_empty() {
            out.push((
                Alert {
                    paper: PaperRef::of(index, row),
                    reasons,
                },
                margin,
                row,
            ));
        }
    }
    out.sort_by(|a, b| {
        b.0.reasons
            .len()
            .cmp(&a.0.reasons.len())
            .then(b.1.total_cmp(&a.1))
            .then(a.2.cmp(&b.2))
    });
    out.into_iter().map(|(a, _, _)| a).collect()
}
