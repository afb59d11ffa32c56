//! Topics over time (BERTopic's `topics_over_time`): each topic's keywords per period, so a
//! reader sees how its vocabulary moved.
//!
//! A period is a month (`YYYY-MM`), or a quarter (`YYYY-Qn`) when the archive spans more than
//! [`MONTHS_BEFORE_QUARTERS`] months. Within a topic, each period's papers form a class whose
//! terms are scored by c-TF-IDF against the whole archive's term counts (the same weighting as
//! the topic keywords), and the best [`PER_PERIOD`] that are not generic are kept. Periods with
//! fewer than [`MIN_PAPERS`] papers of the topic are left out: two papers are an anecdote.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::keywords::Term;
use super::labels::Corpus;

/// Longest archive (in months) shown month by month; longer ones by quarter.
pub const MONTHS_BEFORE_QUARTERS: usize = 24;
/// Keywords per topic and period.
pub const PER_PERIOD: usize = 5;
/// Fewest papers of a topic in a period for the period to be listed.
pub const MIN_PAPERS: usize = 3;

/// One topic's keywords in one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeriodKeywords {
    /// The month, `YYYY-MM`, or the quarter, `YYYY-Qn`, for archives longer than
    /// [`MONTHS_BEFORE_QUARTERS`] months.
    pub period: String,
    /// Papers of the topic in the period.
    pub papers: usize,
    /// Best terms of the period, best first.
    pub keywords: Vec<String>,
}

/// The period of a `YYYY-MM` month.
pub fn period_of(month: &str, quarters: bool) -> String {
    if !quarters {
        return month.to_string();
    }
    let m: u32 = month.get(5..7).and_then(|m| m.parse().ok()).unwrap_or(1);
    format!(
        "{}-Q{}",
        month.get(..4).unwrap_or("????"),
        (m.clamp(1, 12) - 1) / 3 + 1
    )
}

/// Whether `months` (sorted `YYYY-MM`) span more than [`MONTHS_BEFORE_QUARTERS`] months.
pub fn use_quarters(months: &[&str]) -> bool {
    let n = |m: &str| -> Option<i64> {
        Some(m.get(..4)?.parse::<i64>().ok()? * 12 + m.get(5..7)?.parse::<i64>().ok()?)
    };
    match (
        months.first().and_then(|m| n(m)),
        months.last().and_then(|m| n(m)),
    ) {
        (Some(a), Some(b)) => (b - a + 1) as usize > MONTHS_BEFORE_QUARTERS,
        _ => false,
    }
}

/// Whether the papers' `months` (any order, some unknown) are shown by quarter.
fn quarters_for(months: &[Option<&str>]) -> bool {
    let mut all: Vec<&str> = months.iter().flatten().copied().collect();
    all.sort_unstable();
    all.dedup();
    use_quarters(&all)
}

/// Sets each listed period's paper count to the topic's whole count, for keywords read from a
/// sample: `months[i]` is paper `i`'s month, `members[c]` the papers of topic `c`.
pub fn count_papers(
    periods: &mut [Vec<PeriodKeywords>],
    months: &[Option<&str>],
    members: &[Vec<usize>],
) {
    let quarters = quarters_for(months);
    for (listed, rows) in periods.iter_mut().zip(members) {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for &r in rows {
            if let Some(Some(m)) = months.get(r) {
                *counts.entry(period_of(m, quarters)).or_insert(0) += 1;
            }
        }
        for p in listed.iter_mut() {
            p.papers = counts.get(&p.period).copied().unwrap_or(p.papers);
        }
    }
}

/// Keywords per period of every topic. `docs[i]`: terms of paper `i`, `months[i]` its month,
/// `topic_rows[c]`: the papers of topic `c`; `display` maps a term key to its display form.
pub fn over_time(
    docs: &[Vec<Term>],
    months: &[Option<&str>],
    topic_rows: &[Vec<u32>],
    corpus: &Corpus<'_>,
    display: &(dyn Fn(&str) -> String + Sync),
) -> Vec<Vec<PeriodKeywords>> {
    let quarters = quarters_for(months);
    // Archive-wide term counts and the mean class size, as in the topic c-TF-IDF.
    use rayon::prelude::*;
    let total: HashMap<&str, u64> = docs
        .par_chunks(4096)
        .map(|chunk| {
            let mut total: HashMap<&str, u64> = HashMap::new();
            for t in chunk.iter().flatten() {
                *total.entry(t.key.as_str()).or_default() += 1;
            }
            total
        })
        .reduce(HashMap::new, |mut a, b| {
            for (key, n) in b {
                *a.entry(key).or_default() += n;
            }
            a
        });
    let words: u64 = total.values().sum();
    let avg = words as f64 / topic_rows.len().max(1) as f64;
    topic_rows
        .par_iter()
        .map(|rows| {
            let mut by_period: BTreeMap<String, Vec<u32>> = BTreeMap::new();
            for &r in rows {
                if let Some(m) = months[r as usize] {
                    by_period.entry(period_of(m, quarters)).or_default().push(r);
                }
            }
            by_period
                .into_iter()
                .filter(|(_, rs)| rs.len() >= MIN_PAPERS)
                .map(|(period, rs)| {
                    let mut tf: HashMap<&str, u32> = HashMap::new();
                    let mut df: HashMap<&str, u32> = HashMap::new();
                    let mut n_words = 0u64;
                    for &r in &rs {
                        let mut seen = HashSet::new();
                        for t in &docs[r as usize] {
                            *tf.entry(t.key.as_str()).or_default() += 1;
                            n_words += 1;
                            if seen.insert(t.key.as_str()) {
                                *df.entry(t.key.as_str()).or_default() += 1;
                            }
                        }
                    }
                    // Generic terms are skipped as the ranking is read (below), not filtered
                    // out first: the same keywords, without judging every term of the period.
                    let mut scored: Vec<(&str, f64)> = tf
                        .iter()
                        .filter(|(k, _)| df.get(*k).copied().unwrap_or(0) >= 2)
                        .map(|(k, &n)| {
                            let f = total.get(k).copied().unwrap_or(1).max(1) as f64;
                            (*k, n as f64 / n_words.max(1) as f64 * (1.0 + avg / f).ln())
                        })
                        .collect();
                    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
                    let mut keywords: Vec<String> = Vec::new();
                    let mut concepts: Vec<String> = Vec::new();
                    for (k, _) in scored {
                        if keywords.len() == PER_PERIOD {
                            break;
                        }
                        let term = display(k);
                        // A sentence's fragment (`관한 연구`) says nothing about a period either.
                        if corpus.is_generic(k, &term) || super::naming::has_connective(&term) {
                            continue;
                        }
                        let c = corpus.concept(&term);
                        if c.iter().any(|w| concepts.contains(w)) {
                            continue;
                        }
                        concepts.extend(c);
                        keywords.push(term);
                    }
                    PeriodKeywords {
                        period,
                        papers: rs.len(),
                        keywords,
                    }
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_a_sample_become_the_topics_counts() {
        let months = [
            Some("2024-01"),
            Some("2024-01"),
            None,
            Some("2024-02"),
            Some("2024-01"),
        ];
        let members = vec![vec![0, 1, 2, 3], vec![4]];
        let listed = |period: &str, papers| PeriodKeywords {
            period: period.into(),
            papers,
            keywords: vec!["x".into()],
        };
        let mut periods = vec![vec![listed("2024-01", 1), listed("2024-02", 1)], vec![]];
        count_papers(&mut periods, &months, &members);
        assert_eq!(periods[0], vec![listed("2024-01", 2), listed("2024-02", 1)]);
        assert!(periods[1].is_empty());
    }

    #[test]
    fn periods_are_months_or_quarters() {
        assert_eq!(period_of("2024-05", false), "2024-05");
        assert_eq!(period_of("2024-05", true), "2024-Q2");
        assert_eq!(period_of("2024-12", true), "2024-Q4");
        assert!(!use_quarters(&["2023-11", "2025-02"]));
        assert!(use_quarters(&["2022-01", "2024-02"]));
    }
}
