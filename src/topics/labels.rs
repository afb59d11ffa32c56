//! Keywords a reader can tell apart, and the term statistics labels are chosen from.
//!
//! c-TF-IDF and MMR ([`super::keywords`]) rank each topic's terms on their own, so the same
//! strong terms (`LLM`, `벤치마크`, `추론`) top several topics, and a concept shows up in both
//! languages (`확산 모델 · 디퓨전 · Diffusion Transformer`). Here the topics are read together:
//!
//! - **Concepts.** A term's concept is the set of its content words, each mapped through the
//!   English↔Korean pairs of the search lexicon (the glossary and the `한국어(English)` brackets
//!   the summaries state) to one representative; two terms sharing a content word or its
//!   translation are one concept, and a topic lists one of them.
//! - **One owner per keyword.** A term is listed by the topic where it scores highest, and by a
//!   second one only within 80 % of that score, so the keyword lists of k topics do not repeat
//!   each other (topic diversity); generic terms are listed only by a topic about them.
//! - **Coherence.** Among a topic's candidates, keywords are picked greedily by their c-TF-IDF
//!   rank and their co-occurrence (NPMI over the topic's papers) with the keywords already
//!   picked, so a topic is described by terms its papers use together.
//! - **Generic terms** (in more than [`GENERIC_DF`] of all papers, or on the generic word lists)
//!   are listed only by a topic about them (its share of the topic's papers at least
//!   [`ABOUT_RATIO`] times its share of all).
//!
//! Labels are chosen apart from keywords, by how well they retrieve their topic's papers
//! ([`super::naming`]).

use std::collections::{HashMap, HashSet};

use super::keywords::{Scored, Term};

/// A term in more than this share of all papers is generic (it names the field, not a topic),
/// or in more than 1.5/k of them when there are few topics (a topic's own word can cover 1/k).
pub const GENERIC_DF: f64 = 0.08;
/// A generic term may label a topic whose papers use it this many times more often than all.
pub const ABOUT_RATIO: f64 = 3.0;
/// A keyword is listed by a second topic only when it scores this share of its best there.
const SECOND_OWNER: f64 = 0.8;
/// Weight of co-occurrence against c-TF-IDF rank when keywords are picked.
const COHERENCE_WEIGHT: f64 = 0.5;

/// Which documents hold each term, and the translation pairs, shared by every topic.
pub struct Corpus<'a> {
    /// Documents (papers) holding each term key, as sorted row lists.
    holders: HashMap<&'a str, Vec<u32>>,
    /// Papers in all (`docs.len()`): the denominator of document shares and NPMI.
    n: usize,
    /// Translation pairs: word → its translations (both directions).
    translations: crate::text::Lexicon,
    /// Share of papers above which a term is generic ([`GENERIC_DF`], or 1.5/k).
    generic_df: f64,
}

impl<'a> Corpus<'a> {
    /// Statistics of `docs` (the terms of each paper) and `texts` (their text, for the mined
    /// translation pairs), for `k` topics.
    pub fn new(docs: &'a [Vec<Term>], texts: &[String], k: usize) -> Corpus<'a> {
        Corpus {
            holders: holders_of(docs),
            n: docs.len(),
            translations: crate::text::Lexicon::mined(texts),
            generic_df: GENERIC_DF.max(1.5 / k.max(1) as f64),
        }
    }

    /// Whether `key` (display form `term`) is generic: in more than the generic share of all
    /// papers, or made of generic words only.
    pub fn is_generic(&self, key: &str, term: &str) -> bool {
        self.df(key) > self.generic_df
            || crate::text::words::tokenize(term)
                .iter()
                .all(|w| is_generic_word(w))
    }

    /// Whether a generic term may still describe a topic of papers `rows`: the topic is about
    /// it (its share there at least [`ABOUT_RATIO`] times its share of all papers).
    fn about(&self, key: &str, rows: &[u32]) -> bool {
        self.df_in(key, rows) >= ABOUT_RATIO * self.df(key)
    }

    /// Share of all papers holding `key`.
    pub fn df(&self, key: &str) -> f64 {
        self.holders.get(key).map_or(0.0, |h| h.len() as f64) / self.n.max(1) as f64
    }

    /// Share of `rows` (sorted) holding `key`.
    fn df_in(&self, key: &str, rows: &[u32]) -> f64 {
        let Some(h) = self.holders.get(key) else {
            return 0.0;
        };
        intersection(h, rows) as f64 / rows.len().max(1) as f64
    }

    /// NPMI of two terms over all papers, -1 when they never meet.
    pub fn npmi(&self, a: &str, b: &str) -> f64 {
        let (Some(ha), Some(hb)) = (self.holders.get(a), self.holders.get(b)) else {
            return -1.0;
        };
        let n = self.n.max(1) as f64;
        let (pa, pb) = (ha.len() as f64 / n, hb.len() as f64 / n);
        let pab = intersection(ha, hb) as f64 / n;
        if pab == 0.0 {
            -1.0
        } else if pab >= 1.0 {
            1.0
        } else {
            (pab / (pa * pb)).ln() / -pab.ln()
        }
    }

    /// The papers holding `key`, sorted (empty for a term no paper holds).
    pub(super) fn holders(&self, key: &str) -> &[u32] {
        self.holders.get(key).map_or(&[], Vec::as_slice)
    }

    /// The papers among `rows` (sorted) that hold `key`, sorted; `None` for a term no paper
    /// holds.
    fn holders_in(&self, key: &str, rows: &[u32]) -> Option<Vec<u32>> {
        self.holders.get(key).map(|h| intersect(h, rows))
    }

    /// The concept of a term: its content words and their translations (generic words count
    /// only when the term has nothing else). Two terms whose concepts meet say one thing.
    pub fn concept(&self, term: &str) -> Vec<String> {
        let words = crate::text::words::tokenize(term);
        let content: Vec<&String> = words.iter().filter(|w| !is_generic_word(w)).collect();
        let pick: Vec<&String> = if content.is_empty() {
            words.iter().collect()
        } else {
            content
        };
        // Word-for-word translations only: a phrase (`text-to-speech` for both `음성` and
        // `합성`) would make one concept of two words.
        let word = |t: &&String| !t.contains(['-', ' ']);
        let mut out: Vec<String> = Vec::new();
        for w in pick {
            out.push(w.clone());
            out.extend(
                crate::text::glossary::translations(w)
                    .iter()
                    .filter(word)
                    .cloned(),
            );
            out.extend(
                self.translations
                    .translations(w)
                    .iter()
                    .filter(word)
                    .cloned(),
            );
        }
        out.sort();
        out.dedup();
        out
    }
}

/// The documents holding each term key of `docs`, as sorted row lists (each document once per
/// key).
pub(super) fn holders_of(docs: &[Vec<Term>]) -> HashMap<&str, Vec<u32>> {
    let (holders, _) = crate::text::postings::build(docs, |d, terms| {
        let mut seen = HashSet::new();
        let keys = terms
            .iter()
            .filter(|t| seen.insert(t.key.as_str()))
            .map(|t| (t.key.as_str(), d))
            .collect();
        (keys, ())
    });
    holders
}

/// NPMI of two terms within a topic of `n` papers, from the topic's papers holding each (`None`
/// for a term no paper holds); -1 when they never meet.
fn npmi_in(ia: Option<&[u32]>, ib: Option<&[u32]>, n: usize) -> f64 {
    let (Some(ia), Some(ib)) = (ia, ib) else {
        return -1.0;
    };
    let n = n.max(1) as f64;
    let (pa, pb) = (ia.len() as f64 / n, ib.len() as f64 / n);
    let pab = intersection(ia, ib) as f64 / n;
    if pab == 0.0 || pa == 0.0 || pb == 0.0 {
        -1.0
    } else if pab >= 1.0 {
        1.0
    } else {
        (pab / (pa * pb)).ln() / -pab.ln()
    }
}

/// Words of every paper in this field: the keyword module's generic lists and a few more that
/// the labels showed (`텍스트`, `벤치마크`...).
pub(super) fn is_generic_word(w: &str) -> bool {
    const MORE: &[&str] = &[
        "텍스트",
        "벤치마크",
        "평가",
        "추론",
        "llm",
        "text",
        "benchmark",
        "evaluation",
        "ai",
        "new",
        "novel",
        "state-of-the-art",
        "sota",
        "result",
        "results",
        "task",
        "tasks",
        "모델링",
        "예측",
        "최적화",
        "method",
        "methods",
        "approach",
    ];
    super::keywords::is_generic(w) || MORE.contains(&w)
}

/// A list this many times longer than the other is searched, not walked: a topic's few
/// thousand rows against the postings of a term in half of a million papers.
const GALLOP_RATIO: usize = 16;

/// Number of common elements of two sorted lists.
fn intersection(a: &[u32], b: &[u32]) -> usize {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if long.len() > GALLOP_RATIO * short.len() {
        return gallop(short, long).count();
    }
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

/// The elements of sorted `short` that sorted `long` holds, each found by a galloping search
/// from where the previous one was: `O(|short| · log(|long| / |short|))`.
fn gallop<'a>(short: &'a [u32], long: &'a [u32]) -> impl Iterator<Item = u32> + 'a {
    let mut from = 0;
    short.iter().copied().filter(move |&x| {
        let rest = &long[from.min(long.len())..];
        let mut step = 1;
        while step < rest.len() && rest[step] < x {
            step *= 2;
        }
        let window = &rest[..(step + 1).min(rest.len())];
        match window.binary_search(&x) {
            Ok(i) => {
                from += i + 1;
                true
            }
            Err(i) => {
                from += i;
                false
            }
        }
    })
}

/// Common elements of two sorted lists.
pub(super) fn intersect(a: &[u32], b: &[u32]) -> Vec<u32> {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if long.len() > GALLOP_RATIO * short.len() {
        return gallop(short, long).collect();
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// Final keywords (at most `keep`) of every topic.
///
/// `ranked[c]` are topic `c`'s candidates, best first (MMR order or c-TF-IDF order), with their
/// c-TF-IDF scores; `rows[c]` are its papers (sorted).
pub fn refine(
    corpus: &Corpus<'_>,
    ranked: &[Vec<Scored>],
    rows: &[Vec<u32>],
    keep: usize,
) -> Vec<Vec<String>> {
    // The best score of every key over all topics.
    let mut best: HashMap<&str, f64> = HashMap::new();
    for cands in ranked {
        for s in cands {
            let b = best.entry(s.key.as_str()).or_insert(0.0);
            *b = b.max(s.score);
        }
    }
    // Topics pick their keywords independently of each other: in parallel.
    use rayon::prelude::*;
    let keywords: Vec<Vec<(String, String)>> = ranked
        .par_iter()
        .enumerate()
        .map(|(c, cands)| {
            let owned = |s: &Scored| s.score >= SECOND_OWNER * best[s.key.as_str()];
            // Only the topic's own terms, and no generic one unless the topic is about it: a topic
            // short of such terms lists fewer keywords rather than repeat another's.
            let order: Vec<&Scored> = cands
                .iter()
                .filter(|s| owned(s))
                .filter(|s| !corpus.is_generic(&s.key, &s.term) || corpus.about(&s.key, &rows[c]))
                .collect();
            let concepts: Vec<Vec<String>> =
                order.iter().map(|s| corpus.concept(&s.term)).collect();
            // Each candidate's papers within the topic, found once for all the pairs it is in.
            let inside: Vec<Option<Vec<u32>>> = order
                .iter()
                .map(|s| corpus.holders_in(&s.key, &rows[c]))
                .collect();
            let in_topic = rows[c].len();
            let mut chosen: Vec<usize> = Vec::new();
            let mut open: Vec<usize> = (0..order.len()).collect();
            while chosen.len() < keep && !open.is_empty() {
                open.retain(|&i| {
                    !chosen
                        .iter()
                        .any(|&j| concepts[i].iter().any(|w| concepts[j].contains(w)))
                });
                // Rank part: 1 for the first open candidate, falling linearly.
                let pick = open
                    .iter()
                    .enumerate()
                    .map(|(pos, &i)| {
                        let rank = 1.0 - pos as f64 / open.len().max(1) as f64;
                        let coherence = if chosen.is_empty() {
                            0.0
                        } else {
                            chosen
                                .iter()
                                .map(|&j| {
                                    npmi_in(inside[i].as_deref(), inside[j].as_deref(), in_topic)
                                })
                                .sum::<f64>()
                                / chosen.len() as f64
                        };
                        (i, rank + COHERENCE_WEIGHT * coherence)
                    })
                    .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
                match pick {
                    Some((i, _)) => chosen.push(i),
                    None => break,
                }
            }
            chosen
                .iter()
                .map(|&i| (order[i].key.clone(), order[i].term.clone()))
                .collect::<Vec<_>>()
        })
        .collect();

    keywords
        .into_iter()
        .map(|ks| ks.into_iter().map(|(_, t)| t).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topics::keywords::terms;

    fn scored(term: &str, score: f64) -> Scored {
        Scored {
            term: term.to_string(),
            key: term.to_lowercase(),
            score,
        }
    }

    #[test]
    fn translations_are_one_concept_and_keywords_have_one_owner() {
        let texts: Vec<String> = [
            "비디오 생성 video generation 확산 모델 diffusion",
            "비디오 video 확산 diffusion 편집",
            "음성 speech 합성 tts 오디오",
            "음성 speech 오디오 audio",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let docs: Vec<Vec<Term>> = texts.iter().map(|t| terms(t)).collect();
        let corpus = Corpus::new(&docs, &texts, 2);
        let meet = |a: &str, b: &str| {
            let (ca, cb) = (corpus.concept(a), corpus.concept(b));
            ca.iter().any(|w| cb.contains(w))
        };
        assert!(meet("video", "비디오") && meet("확산", "diffusion") && meet("음성", "speech"));
        assert!(!meet("video", "speech"));
        let ranked = vec![
            vec![
                scored("video", 0.9),
                scored("비디오", 0.8),
                scored("diffusion", 0.7),
                scored("편집", 0.5),
            ],
            vec![
                scored("video", 0.3),
                scored("음성", 0.9),
                scored("speech", 0.8),
                scored("오디오", 0.6),
                scored("합성", 0.5),
            ],
        ];
        let rows = vec![vec![0, 1], vec![2, 3]];
        let kw = refine(&corpus, &ranked, &rows, 3);
        // One language per concept within a topic.
        assert!(!(kw[0].contains(&"video".to_string()) && kw[0].contains(&"비디오".to_string())));
        assert!(!(kw[1].contains(&"음성".to_string()) && kw[1].contains(&"speech".to_string())));
        // The second topic does not list `video` while it has terms of its own: the first owns it.
        assert!(!kw[1].contains(&"video".to_string()), "{kw:?}");
        assert_eq!(kw[1].len(), 3, "{kw:?}");
    }
}
