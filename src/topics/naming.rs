//! Topic labels that name what a topic's papers share.
//!
//! Keywords ([`super::labels`]) are scored on their own statistics (c-TF-IDF, co-occurrence);
//! a label answers another question: from the label alone, would a reader predict what the
//! topic's papers are about? So a label is scored as a search for the topic would be:
//!
//! - **Candidates** are the topic's terms (summary and title words, bigrams) and its English
//!   title phrases ([`title_phrases`]: `Mixture of Experts`, `Large Reconstruction Model`),
//!   where the research vocabulary readers search for lives.
//! - **Score.** A label's parts, read as one query (a paper matches when it holds any part),
//!   retrieve the topic's papers: its F1, `2 |H ∩ C| / (|H| + |C|)`, is high when most papers
//!   holding the label are in the topic (precision) and most of the topic's papers hold it
//!   (recall). A broad head term (`추론`) then earns its place only beside a second part that
//!   makes it specific, and a part is added only when it raises the F1.
//! - **The model decides between close labels.** A few labels are built (one from each of the
//!   best first parts); with the index's model at hand each is embedded as a query, and the
//!   best-scoring one that lands nearest its own topic's centroid is taken, so a search for the
//!   label finds the topic (the check of [`super::label_check`]).
//! - **Distinct.** Topics are named easiest first (by the best F1 they could reach), so a mixed
//!   topic does not take a subject that is another topic's whole; a part that says what a part
//!   of an earlier label says (see [`candidates`]) is not used again, and within a label no two
//!   parts say one thing (a shared word or translation, or mostly the same papers).
//! - **Honest.** A topic whose best label retrieves it poorly (F1 below [`MIXED_F1`]) is
//!   labelled `기타: …`, so the map does not pretend a mixed topic is one subject.

use std::collections::{HashMap, HashSet};

use super::keywords::display_forms;
use super::keywords::Term;
use super::keywords::{english_word, TermEmbedder};
use super::kmeans::Rows;
use super::label_check::{cosines, unit_rows};
use super::labels::{holders_of, intersect, is_generic_word, Corpus};
use super::TopicsError;
use crate::text::words::pieces;

/// Below this F1 the best label describes too few of the topic's papers, or too many of other
/// topics', to name it: the topic is labelled as mixed.
pub const MIXED_F1: f64 = 0.2;
/// Prefix of a mixed topic's label.
pub const MIXED_PREFIX: &str = "기타: ";
/// At most this many parts in a label, and about this many characters.
const MAX_PARTS: usize = 3;
const MAX_CHARS: usize = 40;
/// A part longer than this reads as a sentence, not a name.
const MAX_PART_CHARS: usize = 32;
/// Labels built per topic, one from each of its best first parts.
const ALTERNATIVES: usize = 8;
/// A label lands when it is nearer its own centroid than any other's by this much cosine: a
/// closer call can flip with the batch a label is embedded in (quantised activations are
/// scaled per batch), and the check embeds all labels in one.
const LAND_MARGIN: f32 = 0.002;
/// Two candidates held by this share of the same papers (of the rarer one) say one thing.
const SAME_PAPERS: f64 = 0.5;
/// The best candidates paired with each other (and with the topic's keywords) when no greedy
/// label lands.
const PAIRED: usize = 12;
/// Candidates a label's parts are drawn from.
const POOL: usize = 20;
/// A second or third part must raise the label's F1 by this much.
const MIN_GAIN: f64 = 0.03;
/// A lone Korean word that is not a keyword is a candidate when its own F1 reaches this.
const NAMES_ALONE: f64 = 0.45;
/// A term gives way to a longer phrase holding it whose F1 is at least this share of the word's.
const PHRASE_OVER_WORD: f64 = 0.5;
/// A candidate must be held by this share of the topic's papers (and by two at least, in a
/// topic of two or more).
const MIN_SHARE: f64 = 0.04;
/// A topic's first keywords are its head terms: what its papers most distinctly share.
const HEAD_KEYWORDS: usize = 1;
/// A label holding a head term is preferred while its F1 is at least this share of the best
/// label's that lands.
const HEAD_F1_SHARE: f64 = 0.5;
/// Broad words tried when no label lands: at most this many, each held by the topic's papers
/// at least [`BROAD_LIFT`] times as often as by all papers.
const BROAD: usize = 4;
const BROAD_LIFT: f64 = 1.2;
/// A lone capitalised title word is tried too when it is among the topic's best this many terms.
const BROAD_RANK: usize = 10;

/// The labels of a run, with how well each names its topic.
#[derive(Debug, Clone, PartialEq)]
pub struct Naming {
    /// One label per topic, in the order of the topics given.
    pub labels: Vec<String>,
    /// F1 of each label as a query for its topic's papers.
    pub fit: Vec<f64>,
}

/// English phrases of a title that the word terms miss: three or four adjacent words
/// (`Large Reconstruction Model`, `Multimodal Large Language Models`), inner `of` included
/// (`Mixture of Experts`, `Chain of Thought`). Not all generic, no stop or stock word at either
/// end.
pub fn title_phrases(title: &str) -> Vec<Term> {
    let mut out = Vec::new();
    // Runs of adjacent English pieces (separated by one space), as (piece text, word).
    let mut run: Vec<(&str, Option<super::keywords::Word>)> = Vec::new();
    let mut last_end: Option<usize> = None;
    let mut flush = |run: &mut Vec<(&str, Option<super::keywords::Word>)>| {
        for n in [3, 4] {
            for w in run.windows(n) {
                let (Some(first), Some(last)) = (&w[0].1, &w[n - 1].1) else {
                    continue;
                };
                // Inner pieces: words, or `of`.
                let inner: Option<Vec<(&str, &str, bool)>> = w[1..n - 1]
                    .iter()
                    .map(|(text, word)| match word {
                        Some(b) => Some((b.key.as_str(), b.surface.as_str(), b.generic)),
                        None if text.eq_ignore_ascii_case("of") => Some(("of", *text, true)),
                        None => None,
                    })
                    .collect();
                let Some(inner) = inner else {
                    continue;
                };
                if first.generic && last.generic && inner.iter().all(|x| x.2) {
                    continue;
                }
                let mut key = first.key.clone();
                let mut surface = first.surface.clone();
                for (k, sf, _) in &inner {
                    key = format!("{key} {k}");
                    surface = format!("{surface} {sf}");
                }
                out.push(Term {
                    key: format!("{key} {}", last.key),
                    surface: format!("{surface} {}", last.surface),
                });
            }
        }
        run.clear();
    };
    for p in pieces(title) {
        let adjacent = last_end.is_some_and(|e| title.get(e..p.start) == Some(" "));
        if p.hangul || !adjacent {
            flush(&mut run);
        }
        last_end = Some(p.end);
        if p.hangul {
            continue;
        }
        run.push((p.text, english_word(p.text)));
    }
    flush(&mut run);
    out
}

/// A label candidate of one topic.
struct Candidate<'a> {
    /// The candidate's display form (`Gaussian Splatting`), as it would appear in the label.
    term: &'a str,
    /// Every paper holding it, sorted.
    all: Vec<u32>,
    /// The topic's papers holding it, sorted.
    inside: Vec<u32>,
    /// Its content words and their translations.
    concept: Vec<String>,
    /// All its words, generic ones too, and their translations.
    full: Vec<String>,
    /// A broad word an earlier label holds: it may qualify a part of this topic's own, never
    /// stand alone or beside another such word, so the label stays distinct.
    reused: bool,
}

/// Every word of `term` with its translations, generic words included.
fn full_concept(corpus: &Corpus<'_>, term: &str) -> Vec<String> {
    let mut out: Vec<String> = crate::text::words::tokenize(term)
        .iter()
        .flat_map(|w| corpus.concept(w))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Whether a Korean term's last word still carries an ending the stemmer left (`벤치마크인`,
/// `평가할`, `모달리티 간의`, `짧은`, `보였다`), or a word of it is a connective that only links
/// a sentence's parts (`관한 연구`, "research about"): read as a label, it is a fragment.
fn ends_inflected(term: &str) -> bool {
    if has_connective(term) {
        return true;
    }
    // Nouns with those endings: loanwords (`파이프라인`, `도메인`, `트리플레인`) and a few
    // Sino-Korean words (`주의`, attention; `정의`, definition).
    const NOUN_ENDINGS: &[&str] = &["라인", "레인", "메인", "체인", "자인"];
    const NOUNS: &[&str] = &["주의", "정의", "임의", "논의", "합의", "회의"];
    let last = term.rsplit(' ').next().unwrap_or(term);
    if NOUNS.contains(&last) || NOUN_ENDINGS.iter().any(|e| last.ends_with(e)) {
        return false;
    }
    const ENDINGS: &[char] = &[
        '할', '인', '의', '을', '를', '은', '는', '된', '한', '운', '적', '와', '과', '로', '다',
    ];
    // Two-syllable words end so too when they are adjectives or take a particle (`짧은`,
    // `작은`, `맵을`, `간의`); of those endings, only these leave few nouns behind (`마을`).
    const SHORT_ENDINGS: &[char] = &['은', '는', '을', '를', '의', '다'];
    match last.chars().count() {
        0 | 1 => false,
        2 => last.ends_with(SHORT_ENDINGS),
        _ => last.ends_with(ENDINGS),
    }
}

/// Whether a word of `term` is a connective that only links a sentence's parts (`관한 연구`,
/// "research about"): such a phrase is a fragment wherever it is shown.
pub(super) fn has_connective(term: &str) -> bool {
    const CONNECTIVES: &[&str] = &["관한", "대한", "위한", "통한", "따른", "의한", "인한"];
    term.split(' ').any(|w| CONNECTIVES.contains(&w))
}

/// Whether `term` names something out of context: a phrase, or an English word written as a
/// name (`NeRF`, `LoRA`, `RLHF`, `GPT-4o`, `Text-to-3D`). A lone title word
/// (`Long`, `Vision`, `Context`) or a fragment (`ision` of `GPT-4V(ision)`) is not.
fn reads_as_name(term: &str) -> bool {
    term.contains(' ')
        || term.chars().any(|c| c.is_ascii_digit() || c == '-')
        || term.chars().skip(1).any(char::is_uppercase)
}

/// F1 of a query that retrieves `all` papers, `inside` of them in a topic of `size`.
fn f1(inside: usize, all: usize, size: usize) -> f64 {
    if inside == 0 {
        0.0
    } else {
        2.0 * inside as f64 / (all + size) as f64
    }
}

/// Union of two sorted lists.
fn union(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// The title phrases of all papers: which papers hold each, and its most frequent spelling.
struct Phrases<'a> {
    holders: HashMap<&'a str, Vec<u32>>,
    display: HashMap<String, String>,
}

/// What a topic is named from: every paper's terms and title phrases, and the display form of
/// each key.
pub struct Sources<'a> {
    /// Term statistics of the papers (`docs`' holders, concepts, translations).
    pub corpus: &'a Corpus<'a>,
    /// The terms of each paper (title and summary).
    pub docs: &'a [Vec<Term>],
    /// The title phrases of each paper ([`title_phrases`]).
    pub titles: &'a [Vec<Term>],
    /// Display form of each term key.
    pub display: &'a HashMap<String, String>,
    /// Each topic's keywords (display forms), by topic position.
    pub keywords: &'a [Vec<String>],
}

/// Labels of the topics whose papers are `rows[c]` (sorted rows of `sources.docs`) and whose
/// centroids are `centroids`, named largest first; with `embedder`, the label chosen among
/// close ones is one that, searched for, lands nearest its own centroid.
pub fn name(
    sources: &Sources<'_>,
    rows: &[Vec<u32>],
    centroids: Rows<'_>,
    embedder: Option<&dyn TermEmbedder>,
) -> Result<Naming, TopicsError> {
    let k = rows.len();
    let phrases = Phrases {
        holders: holders_of(sources.titles),
        display: display_forms(sources.titles),
    };
    // Each topic's terms by their own F1: what its candidates are drawn from, before and after
    // the claims of earlier labels.
    let ranked: Vec<Vec<(&str, f64)>> = rows
        .iter()
        .map(|topic| rank(sources, &phrases, topic))
        .collect();
    let centroids = unit_rows((0..centroids.len()).map(|c| centroids.row(c)));

    // The topics easiest to name claim their words first: a mixed topic must not take the
    // name of a subject that is another topic's whole (`Mixture of Experts`).
    let ease: Vec<f64> = (0..k)
        .map(|c| {
            let cands = candidates(sources, &phrases, c, &rows[c], &ranked[c], &[]);
            build(&cands, rows[c].len(), &[])
                .iter()
                .map(|a| a.1)
                .fold(0.0, f64::max)
        })
        .collect();
    let key_of: HashMap<&str, &str> = sources
        .display
        .iter()
        .map(|(k, d)| (d.as_str(), k.as_str()))
        .collect();
    let mut by_ease: Vec<usize> = (0..k).collect();
    by_ease.sort_by(|&a, &b| ease[b].total_cmp(&ease[a]).then(a.cmp(&b)));
    // The full concepts of the parts of the labels made so far.
    let mut claimed: Vec<Vec<String>> = Vec::new();
    let mut labels = vec![String::new(); k];
    let mut fit = vec![0.0; k];
    for &c in &by_ease {
        let size = rows[c].len();
        let mut cands = candidates(sources, &phrases, c, &rows[c], &ranked[c], &claimed);
        let keywords = sources.keywords.get(c).map_or(&[][..], Vec::as_slice);
        let mut extra =
            keyword_candidates(sources, &phrases, &key_of, c, &rows[c], &claimed, &cands);
        let heads = heads(keywords, &mut cands, &mut extra);
        let mut alternatives = build(&cands, size, &heads);
        let first_pick = choose(&alternatives, &cands, c, &centroids, embedder, &heads)?;
        let mut pick = first_pick.map(|(i, landed, _)| (i, landed));
        // Nothing landed, or no candidate was left: keywords and broad words widen the search.
        if !pick.is_some_and(|(_, landed)| landed) && embedder.is_some() {
            let first = pick.map(|(i, _)| alternatives[i].clone());
            let first_margin = first_pick.map_or(f32::NEG_INFINITY, |(_, _, m)| m);
            // The keyword candidates left after the head terms moved into `cands`.
            extra.extend(broad_candidates(
                sources,
                &phrases,
                &ranked[c],
                &rows[c],
                &claimed,
                &cands,
                sources.docs.len(),
            ));
            let pool: Vec<usize> = (0..cands.len().min(PAIRED))
                .chain(cands.len()..cands.len() + extra.len())
                .collect();
            cands.extend(extra);
            alternatives = pairs(&cands, &pool, size);
            // And the topic's first keywords together, the closest to its centroid.
            let firsts: Vec<usize> = sources
                .keywords
                .get(c)
                .into_iter()
                .flatten()
                .filter_map(|t| cands.iter().position(|x| x.term == t.as_str()))
                .take(3)
                .collect();
            for n in 2..=firsts.len() {
                let parts = &firsts[..n];
                let chars: usize = parts
                    .iter()
                    .map(|&i| cands[i].term.chars().count() + 3)
                    .sum();
                let clash = parts.iter().enumerate().any(|(i, &a)| {
                    parts[i + 1..]
                        .iter()
                        .any(|&b| same_thing(&cands[a], &cands[b]))
                }) || !has_own_part(&cands, parts.iter().copied());
                if chars <= MAX_CHARS + 3 && !clash {
                    alternatives.push((parts.to_vec(), label_f1(&cands, parts, size)));
                }
            }
            let mut wide = choose(&alternatives, &cands, c, &centroids, embedder, &heads)?;
            if let Some((i, false, m)) = wide {
                // Still none lands: the closest label may with one more part, or come closer.
                let grown = grow(&alternatives[i].0, &cands, &pool, size);
                let more = choose(&grown, &cands, c, &centroids, embedder, &heads)?;
                if let Some((j, landed, n)) = more.filter(|&(_, landed, n)| landed || n > m) {
                    wide = Some((alternatives.len() + j, landed, n));
                    alternatives.extend(grown);
                }
            }
            pick = match wide {
                Some((i, true, _)) => Some((i, true)),
                // None lands by the margin, but this one is still nearest its own centroid,
                // while the greedy label is nearer another's: a search for it finds the topic.
                Some((i, false, m)) if m > 0.0 && first_margin <= 0.0 => Some((i, false)),
                // Nothing lands: the closest of the greedy labels stays.
                _ => first.map(|f| {
                    alternatives.push(f);
                    (alternatives.len() - 1, false)
                }),
            };
        }
        let Some((pick, _)) = pick else {
            // No candidate is left (all claimed, or none held twice): the first keyword.
            labels[c] = sources
                .keywords
                .get(c)
                .and_then(|k| k.first())
                .cloned()
                .unwrap_or_else(|| "(no keywords)".to_string());
            continue;
        };
        let parts = &alternatives[pick].0;
        for &i in parts {
            claimed.push(cands[i].full.clone());
        }
        let text = join(parts, &cands, &heads);
        // A broad word another label holds does not set this topic apart: whether the topic
        // is mixed is for its own parts to say.
        let own: Vec<usize> = parts
            .iter()
            .copied()
            .filter(|&i| !cands[i].reused)
            .collect();
        let score = label_f1(&cands, &own, size);
        labels[c] = if score < MIXED_F1 {
            format!("{MIXED_PREFIX}{text}")
        } else {
            text
        };
        fit[c] = score;
    }
    Ok(Naming { labels, fit })
}

/// The terms and phrases of the topic of papers `topic` held by enough of its papers, with
/// their own F1, best first.
fn rank<'s>(sources: &Sources<'s>, phrases: &Phrases<'s>, topic: &[u32]) -> Vec<(&'s str, f64)> {
    let size = topic.len();
    let mut count: HashMap<&str, usize> = HashMap::new();
    for &r in topic {
        let mut seen: HashSet<&str> = HashSet::new();
        let r = r as usize;
        let terms = sources.docs.get(r).into_iter().flatten();
        let titles = sources.titles.get(r).into_iter().flatten();
        for t in terms.chain(titles) {
            if seen.insert(t.key.as_str()) {
                *count.entry(t.key.as_str()).or_default() += 1;
            }
        }
    }
    // A term of one paper names no topic, unless the topic is that one paper.
    let min = ((MIN_SHARE * size as f64).ceil() as usize).clamp(2.min(size), usize::MAX);
    let mut scored: Vec<(&str, f64)> = count
        .into_iter()
        .filter(|&(_, n)| n >= min)
        .map(|(key, n)| {
            let all = sources
                .corpus
                .holders(key)
                .len()
                .max(phrases.holders.get(key).map_or(0, Vec::len));
            (key, f1(n, all, size))
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    scored
}

/// Whether a part of an earlier label (their full concepts in `claimed`) blocks a candidate of
/// full concept `full`: it says the same thing, or a part of it, when one's concept holds the
/// other's. `비디오 생성` blocks `비디오` and `video generation`, not `비디오 이해`: a topic's
/// head word is not pushed out of its own label by a sibling's.
fn claimed_by(claimed: &[Vec<String>], full: &[String]) -> bool {
    let held = |a: &[String], b: &[String]| a.iter().all(|w| b.contains(w));
    claimed.iter().any(|p| held(p, full) || held(full, p))
}

/// The best [`POOL`] candidates of the topic of papers `topic` among its `ranked` terms
/// ([`rank`]), none that an earlier label has claimed ([`claimed_by`]).
fn candidates<'a>(
    sources: &Sources<'a>,
    phrases: &'a Phrases<'a>,
    c: usize,
    topic: &[u32],
    ranked: &[(&str, f64)],
    claimed: &[Vec<String>],
) -> Vec<Candidate<'a>> {
    let display = |key: &str| {
        sources
            .display
            .get(key)
            .or_else(|| phrases.display.get(key))
            .map(String::as_str)
    };
    let longer: Vec<(&str, f64)> = ranked
        .iter()
        .filter(|(key, _)| key.contains(' '))
        .copied()
        .collect();
    let mut out: Vec<Candidate<'a>> = Vec::new();
    for &(key, score) in ranked {
        if out.len() == POOL {
            break;
        }
        let Some(term) = display(key) else {
            continue;
        };
        let listed = sources
            .keywords
            .get(c)
            .is_some_and(|k| k.iter().any(|k| k == term));
        // A lone word is a label part when it reads as a name, when the topic's keywords
        // (chosen for their closeness to the centroid and their co-occurrence) list it, or when
        // it is a Korean noun that alone retrieves the topic well (`에이전트`; an English title word
        // alone is often an adjective, `Multimodal`): the summaries' common words (`종합`,
        // `반면`) and lone title words (`Long`) can retrieve a mixed topic's papers as well as
        // a name can, without naming anything.
        let korean = term.chars().any(crate::text::words::is_hangul);
        let strong_korean = score >= NAMES_ALONE && korean;
        let may_stand = key.contains(' ') || reads_as_name(term) || listed || strong_korean;
        if term.chars().count() > MAX_PART_CHARS || (is_generic_word(key) && !listed) || !may_stand
        {
            continue;
        }
        // A word or phrase is said better by a longer phrase holding it that describes the
        // topic nearly as well (`Gaussian Splatting`, not `Splatting · Gaussian`; `Neural
        // Radiance Fields`, not `Neural Radiance`).
        let inner = format!(" {key} ");
        if longer.iter().any(|&(p, s)| {
            s >= PHRASE_OVER_WORD * score
                && p.len() > key.len()
                && format!(" {p} ").contains(&inner)
        }) {
            continue;
        }
        if korean && ends_inflected(term) {
            continue;
        }
        let full = full_concept(sources.corpus, term);
        if claimed_by(claimed, &full) {
            continue;
        }
        out.push(candidate(sources, phrases, key, term, topic, full));
    }
    out
}

/// The candidate of `key`, shown as `term`, for the topic of papers `topic`.
fn candidate<'a>(
    sources: &Sources<'_>,
    phrases: &Phrases<'_>,
    key: &str,
    term: &'a str,
    topic: &[u32],
    full: Vec<String>,
) -> Candidate<'a> {
    // A term and a phrase with the same key are one candidate, held by either.
    let all = union(
        sources.corpus.holders(key),
        phrases.holders.get(key).map_or(&[][..], Vec::as_slice),
    );
    let inside = intersect(&all, topic);
    Candidate {
        term,
        all,
        inside,
        concept: sources.corpus.concept(term),
        full,
        reused: false,
    }
}

/// The topic's keywords as candidates (those no earlier label claimed and not already among
/// `cands`): chosen for their closeness to the centroid, they widen the search when no label
/// built from the best-retrieving terms lands.
fn keyword_candidates<'a>(
    sources: &Sources<'a>,
    phrases: &Phrases<'_>,
    key_of: &HashMap<&str, &str>,
    c: usize,
    topic: &[u32],
    claimed: &[Vec<String>],
    cands: &[Candidate<'a>],
) -> Vec<Candidate<'a>> {
    sources
        .keywords
        .get(c)
        .into_iter()
        .flatten()
        .filter(|t| !cands.iter().any(|x| x.term == t.as_str()))
        // A keyword may be an adjective (`짧은`): fine in a list, a fragment as a label part.
        .filter(|t| !(t.chars().any(crate::text::words::is_hangul) && ends_inflected(t)))
        .filter_map(|t| {
            let key = key_of.get(t.as_str())?;
            let full = full_concept(sources.corpus, t);
            if claimed_by(claimed, &full) {
                return None;
            }
            Some(candidate(sources, phrases, key, t, topic, full))
        })
        .collect()
}

/// Positions in `cands` of the topic's head terms, its first [`HEAD_KEYWORDS`] `keywords`; one
/// the F1 ranking left out is moved there out of `extra` (the topic's [`keyword_candidates`]),
/// unless it is too long to be a label part. The first keyword is what the topic's papers most
/// distinctly share (`벤치마크` over benchmark papers, `음성 생성` over speech papers), and
/// readers grade a label by whether it names that; a narrower part with a higher F1
/// (`GPT-4o · Evaluating`, `오디오 · 음악 생성`) names a corner of it.
fn heads<'a>(
    keywords: &[String],
    cands: &mut Vec<Candidate<'a>>,
    extra: &mut Vec<Candidate<'a>>,
) -> Vec<usize> {
    let mut out = Vec::new();
    for t in keywords.iter().take(HEAD_KEYWORDS) {
        if let Some(i) = cands.iter().position(|x| x.term == t.as_str()) {
            out.push(i);
        } else if let Some(i) = extra
            .iter()
            .position(|x| x.term == t.as_str() && t.chars().count() <= MAX_PART_CHARS)
        {
            // In order: the rest of `extra` stays as the keywords list it.
            cands.push(extra.remove(i));
            out.push(cands.len() - 1);
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The topic's broad words (`LLM`, `추론`) and capitalised title words (`Llama`) as
/// candidates, when no label of its specific terms lands. A topic of general LLM papers sits
/// between the specific ones, and its centroid is nearest to the broad word they all share
/// (`LLM` lands where `추론 능력` is nearer a neighbour's); a broad word must be held by the
/// topic's papers [`BROAD_LIFT`] times as often as by all papers, and the F1 still decides
/// whether the label is marked mixed.
fn broad_candidates<'a>(
    sources: &Sources<'a>,
    phrases: &'a Phrases<'a>,
    ranked: &[(&'a str, f64)],
    topic: &[u32],
    claimed: &[Vec<String>],
    cands: &[Candidate<'a>],
    papers: usize,
) -> Vec<Candidate<'a>> {
    let mut out = Vec::new();
    for (at, &(key, _)) in ranked.iter().enumerate() {
        if out.len() == BROAD {
            break;
        }
        let Some(term) = sources
            .display
            .get(key)
            .or_else(|| phrases.display.get(key))
            .map(String::as_str)
        else {
            continue;
        };
        let korean = term.chars().any(crate::text::words::is_hangul);
        // A capitalised title word among the topic's best terms may be a name that
        // [`reads_as_name`] cannot tell from a plain word (`Llama`, `Mamba`).
        let title_word = at < BROAD_RANK
            && !korean
            && !key.contains(' ')
            && term.starts_with(|c: char| c.is_ascii_uppercase());
        if !is_generic_word(key) && !title_word {
            continue;
        }
        if !reads_as_name(term) && !korean && !title_word {
            continue;
        }
        if cands.iter().any(|x| x.term == term) || ends_inflected(term) {
            continue;
        }
        // A broad word is part of many names (`LLM Quantization`), so only the same word in an
        // earlier label claims it, and then only as a label of its own: a mixed topic of LLM
        // papers lands as `LLM · 해석` where `해석` alone lands on a text-to-image topic, and
        // a sibling's `LLM · 다운스트림` still reads differently.
        let full = full_concept(sources.corpus, term);
        let reused = claimed.contains(&full);
        let mut cand = candidate(sources, phrases, key, term, topic, full);
        cand.reused = reused;
        let inside = cand.inside.len() as f64 / topic.len().max(1) as f64;
        let everywhere = cand.all.len() as f64 / papers.max(1) as f64;
        if inside >= BROAD_LIFT * everywhere {
            out.push(cand);
        }
    }
    out
}

/// Up to [`ALTERNATIVES`] labels (candidate positions and F1), each started from one of the
/// best candidates or from a head term (`heads`), and grown greedily while a part raises the
/// F1 by [`MIN_GAIN`].
fn build(cands: &[Candidate<'_>], size: usize, heads: &[usize]) -> Vec<(Vec<usize>, f64)> {
    let mut out: Vec<(Vec<usize>, f64)> = Vec::new();
    let mut starts: Vec<usize> = (0..cands.len().min(ALTERNATIVES)).collect();
    starts.extend(heads.iter().filter(|h| **h >= ALTERNATIVES));
    for start in starts {
        let mut parts = vec![start];
        let mut all = cands[start].all.clone();
        let mut inside = cands[start].inside.clone();
        let mut score = f1(inside.len(), all.len(), size);
        let mut chars = cands[start].term.chars().count();
        while parts.len() < MAX_PARTS {
            let next = cands
                .iter()
                .enumerate()
                .filter(|(i, c)| {
                    !parts.contains(i)
                        && chars + 3 + c.term.chars().count() <= MAX_CHARS
                        && !parts.iter().any(|&p| same_thing(&cands[p], c))
                })
                .map(|(i, c)| {
                    let a = union(&all, &c.all).len();
                    let n = union(&inside, &c.inside).len();
                    (i, f1(n, a, size))
                })
                .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
            match next {
                Some((i, s)) if s >= score + MIN_GAIN => {
                    all = union(&all, &cands[i].all);
                    inside = union(&inside, &cands[i].inside);
                    chars += 3 + cands[i].term.chars().count();
                    parts.push(i);
                    score = s;
                }
                _ => break,
            }
        }
        out.push((parts, score));
    }
    // Each label's shorter forms too (its first part, its first two): the model may find
    // that fewer words name the topic better.
    let grown = out.clone();
    for (parts, _) in &grown {
        for n in 1..parts.len() {
            let head = parts[..n].to_vec();
            let score = label_f1(cands, &head, size);
            out.push((head, score));
        }
    }
    let mut seen: Vec<Vec<usize>> = Vec::new();
    out.retain(|(p, _)| {
        let mut q = p.clone();
        q.sort_unstable();
        let new = !seen.contains(&q);
        seen.push(q);
        new
    });
    out
}

/// Whether two candidates say one thing: they share a word or its translation, or mostly the
/// same papers of the topic hold them (`3DGS` and `가우시안 스플래팅`, `자연어 처리` and `Natural
/// Language Processing`, whose words the lexicon does not pair).
fn same_thing(a: &Candidate<'_>, b: &Candidate<'_>) -> bool {
    let shared = intersect(&a.inside, &b.inside).len() as f64;
    a.concept.iter().any(|w| b.concept.contains(w))
        || !(a.reused || b.reused)
            && shared >= SAME_PAPERS * a.inside.len().min(b.inside.len()) as f64
}

/// Whether the label of `parts` holds a part of its topic's own, not only broad words that
/// earlier labels hold: without one it could repeat an earlier label.
fn has_own_part(cands: &[Candidate<'_>], parts: impl IntoIterator<Item = usize>) -> bool {
    parts.into_iter().any(|i| !cands[i].reused)
}

/// F1 of the label made of `parts`.
fn label_f1(cands: &[Candidate<'_>], parts: &[usize], size: usize) -> f64 {
    let mut all: Vec<u32> = Vec::new();
    let mut inside: Vec<u32> = Vec::new();
    for &p in parts {
        all = union(&all, &cands[p].all);
        inside = union(&inside, &cands[p].inside);
    }
    f1(inside.len(), all.len(), size)
}

/// The label shown for `parts`: a head term first, then the parts the most of the topic's
/// papers hold. A reader takes a label's first part for its subject, and the greedy order
/// (the start, then each part that raised the F1) put corners first: `2D · 텍스처 · 3D 자산`
/// over Text-to-3D papers, `개인화 · 이미지 생성` over text-to-image ones.
fn join(parts: &[usize], cands: &[Candidate<'_>], heads: &[usize]) -> String {
    let mut order = parts.to_vec();
    order.sort_by_key(|&i| {
        (
            !heads.contains(&i),
            std::cmp::Reverse(cands[i].inside.len()),
        )
    });
    order
        .iter()
        .map(|&i| cands[i].term)
        .collect::<Vec<_>>()
        .join(" · ")
}

/// Which alternative topic `c` takes, whether it lands, and its margin (its cosine to its own
/// centroid less the nearest other's; −∞ without an embedder): the best-scoring one that,
/// embedded as a query, lands nearest `centroids[c]` by [`LAND_MARGIN`]; when none lands, the
/// one that comes closest; without an embedder, the best-scoring one.
fn choose(
    alternatives: &[(Vec<usize>, f64)],
    cands: &[Candidate<'_>],
    c: usize,
    centroids: &[Vec<f32>],
    embedder: Option<&dyn TermEmbedder>,
    heads: &[usize],
) -> Result<Option<(usize, bool, f32)>, TopicsError> {
    let best_score = |set: &mut dyn Iterator<Item = usize>| {
        set.max_by(|&a, &b| {
            alternatives[a]
                .1
                .total_cmp(&alternatives[b].1)
                .then(b.cmp(&a))
        })
    };
    let Some(embedder) = embedder.filter(|_| !alternatives.is_empty()) else {
        return Ok(best_score(&mut (0..alternatives.len())).map(|i| (i, false, f32::NEG_INFINITY)));
    };
    let texts: Vec<String> = alternatives
        .iter()
        .map(|(p, _)| join(p, cands, heads))
        .collect();
    let flat = embedder.embed_terms(&texts)?;
    let dim = flat.len() / texts.len();
    if dim == 0 || centroids.first().is_some_and(|v| v.len() != dim) {
        return Ok(best_score(&mut (0..alternatives.len())).map(|i| (i, false, f32::NEG_INFINITY)));
    }
    let margins: Vec<f32> = flat
        .chunks_exact(dim)
        .map(|v| {
            let scores = cosines(v, centroids);
            let other = scores
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != c)
                .map(|(_, &s)| s)
                .fold(f32::NEG_INFINITY, f32::max);
            scores[c] - other
        })
        .collect();
    let landing: Vec<usize> = (0..alternatives.len())
        .filter(|&i| margins[i] > LAND_MARGIN)
        .collect();
    if let Some(i) = best_score(&mut landing.iter().copied()) {
        // A label holding a head term, unless it retrieves the topic far worse.
        let floor = HEAD_F1_SHARE * alternatives[i].1;
        let led = landing.iter().copied().filter(|&j| {
            alternatives[j].1 >= floor && alternatives[j].0.iter().any(|p| heads.contains(p))
        });
        let i = best_score(&mut led.into_iter()).unwrap_or(i);
        return Ok(Some((i, true, margins[i])));
    }
    Ok((0..alternatives.len())
        .max_by(|&a, &b| margins[a].total_cmp(&margins[b]).then(b.cmp(&a)))
        .map(|i| (i, false, margins[i])))
}

/// The label of `parts` with one more part from `pool` (one that says another thing and keeps
/// the label short), each way.
fn grow(
    parts: &[usize],
    cands: &[Candidate<'_>],
    pool: &[usize],
    size: usize,
) -> Vec<(Vec<usize>, f64)> {
    if parts.len() >= MAX_PARTS {
        return Vec::new();
    }
    let chars: usize = parts
        .iter()
        .map(|&i| cands[i].term.chars().count() + 3)
        .sum();
    pool.iter()
        .filter(|&&p| {
            !parts.contains(&p)
                && chars + cands[p].term.chars().count() <= MAX_CHARS
                && !parts.iter().any(|&q| same_thing(&cands[q], &cands[p]))
                && has_own_part(cands, parts.iter().copied().chain([p]))
        })
        .map(|&p| {
            let mut more = parts.to_vec();
            more.push(p);
            let score = label_f1(cands, &more, size);
            (more, score)
        })
        .collect()
}

/// Every label of one or two of the candidates at `pool`: the wider search when none of the
/// greedy labels lands.
fn pairs(cands: &[Candidate<'_>], pool: &[usize], size: usize) -> Vec<(Vec<usize>, f64)> {
    let mut out = Vec::new();
    for (n, &a) in pool.iter().enumerate() {
        if has_own_part(cands, [a]) {
            out.push((vec![a], label_f1(cands, &[a], size)));
        }
        for &b in &pool[n + 1..] {
            let clash = same_thing(&cands[a], &cands[b]) || !has_own_part(cands, [a, b]);
            let long = cands[a].term.chars().count() + 3 + cands[b].term.chars().count();
            if !clash && long <= MAX_CHARS {
                out.push((vec![a, b], label_f1(cands, &[a, b], size)));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(title: &str) -> Vec<String> {
        title_phrases(title).into_iter().map(|t| t.key).collect()
    }

    #[test]
    fn title_phrases_are_three_words_or_joined_by_of() {
        let k =
            keys("Scaling Mixture of Experts with a Large Reconstruction Model: Chain of Thought");
        assert!(k.contains(&"mixture of expert".to_string()), "{k:?}");
        assert!(
            k.contains(&"large reconstruction model".to_string()),
            "{k:?}"
        );
        assert!(k.contains(&"chain of thought".to_string()), "{k:?}");
        // Not across the colon, not through `with` or `a`.
        assert!(
            !k.iter()
                .any(|t| t.contains("with") || t.ends_with(" chain")),
            "{k:?}"
        );
        assert!(keys("Large Language Models").is_empty(), "all generic");
    }

    #[test]
    fn sentence_fragments_are_not_label_parts() {
        for fragment in [
            "짧은",
            "작은",
            "맵을",
            "모달리티 간의",
            "벤치마크인",
            "평가할",
            "보였다",
            "했다",
            "관한 연구",
            "위한 방법",
        ] {
            assert!(ends_inflected(fragment), "{fragment}");
        }
        for noun in [
            "주의",
            "파이프라인",
            "도메인",
            "로봇",
            "정책",
            "효과",
            "결과",
            "경로",
            "에이전트",
            "비디오 생성",
            "효율적 추론",
        ] {
            assert!(!ends_inflected(noun), "{noun}");
        }
    }

    #[test]
    fn f1_and_union() {
        assert_eq!(union(&[1, 3, 5], &[2, 3, 6]), vec![1, 2, 3, 5, 6]);
        assert_eq!(f1(0, 10, 10), 0.0);
        assert!((f1(10, 10, 10) - 1.0).abs() < 1e-12);
        // Held by all of a topic's 10 papers and 30 others: precision 0.25, recall 1.
        assert!((f1(10, 40, 10) - 0.4).abs() < 1e-12);
    }

    /// Two topics of four papers each and two of mixed ones.
    fn sample() -> (Vec<String>, Vec<String>) {
        let titles = [
            "Speculative Decoding with Draft Heads",
            "Faster Speculative Decoding by Tree Drafts",
            "Speculative Decoding for Long Context",
            "Lossless Acceleration via Speculative Decoding",
            "Mixture of Experts Routing at Scale",
            "Sparse Mixture of Experts for Vision",
            "Load Balancing in Mixture of Experts",
            "Expert Pruning for Mixture of Experts",
        ];
        let summaries = [
            "초안 모델이 토큰을 제안하고 검증합니다 (speculative decoding)",
            "트리 초안으로 추론을 가속합니다",
            "긴 문맥에서 초안 토큰을 검증합니다",
            "손실 없는 추론 가속",
            "전문가 라우팅 방법",
            "희소 전문가 모델",
            "전문가 부하 균형",
            "전문가 가지치기",
        ];
        (
            titles.iter().map(|s| s.to_string()).collect(),
            summaries.iter().map(|s| s.to_string()).collect(),
        )
    }

    /// What [`Sources`] borrows, made from papers' titles and summaries.
    struct Fixture {
        texts: Vec<String>,
        docs: Vec<Vec<Term>>,
        phrases: Vec<Vec<Term>>,
        display: HashMap<String, String>,
    }

    impl Fixture {
        fn new(titles: &[String], summaries: &[String]) -> Fixture {
            let texts: Vec<String> = titles
                .iter()
                .zip(summaries)
                .map(|(t, s)| format!("{t}\n{s}"))
                .collect();
            let docs: Vec<Vec<Term>> = texts
                .iter()
                .map(|t| super::super::keywords::terms(t))
                .collect();
            let phrases = titles.iter().map(|t| title_phrases(t)).collect();
            let display = super::super::keywords::display_forms(&docs);
            Fixture {
                texts,
                docs,
                phrases,
                display,
            }
        }
    }

    #[test]
    fn labels_name_what_the_papers_share_and_stay_distinct() {
        let (titles, summaries) = sample();
        let f = Fixture::new(&titles, &summaries);
        let corpus = Corpus::new(&f.docs, &f.texts, 2);
        let sources = Sources {
            corpus: &corpus,
            docs: &f.docs,
            titles: &f.phrases,
            display: &f.display,
            keywords: &[],
        };
        let rows = vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7]];
        let centroids = [1.0f32, 0.0, 0.0, 1.0];
        let named = name(&sources, &rows, Rows::new(&centroids, 2).unwrap(), None).unwrap();
        let l = &named.labels;
        assert!(
            l[0].to_lowercase().contains("speculative decoding"),
            "{l:?}"
        );
        assert!(l[1].to_lowercase().contains("mixture of experts"), "{l:?}");
        assert!(named.fit.iter().all(|&f| f >= MIXED_F1), "{named:?}");
        let words: Vec<&str> = l.iter().flat_map(|l| l.split(" · ")).collect();
        let unique: HashSet<&&str> = words.iter().collect();
        assert_eq!(unique.len(), words.len(), "{l:?}");
    }

    /// [`sample`] and a third topic of `papers` (title, summary).
    fn sample_and(papers: &[(&str, &str)]) -> (Vec<String>, Vec<String>) {
        let (mut titles, mut summaries) = sample();
        for (t, s) in papers {
            titles.push(t.to_string());
            summaries.push(s.to_string());
        }
        (titles, summaries)
    }

    /// [`sample`] and a third topic of general LLM papers, each on its own subject.
    fn with_llm_topic() -> (Vec<String>, Vec<String>) {
        sample_and(&[
            ("Evaluating LLM Honesty", "LLM 정직성 평가"),
            ("Probing LLM Knowledge", "LLM 지식 탐색"),
            ("How LLM Agents Plan", "LLM 에이전트 계획"),
            ("Teaching LLM Arithmetic", "LLM 산술 학습"),
        ])
    }

    /// Embeds a text by the subject it names: `LLM` nearest the third centroid, the first two
    /// topics' words nearest theirs, anything else nearest the first.
    struct BySubject;

    impl TermEmbedder for BySubject {
        fn embed_terms(&self, terms: &[String]) -> Result<Vec<f32>, TopicsError> {
            Ok(terms
                .iter()
                .flat_map(|t| {
                    let l = t.to_lowercase();
                    if t.contains("LLM") {
                        [0.0, 0.0, 1.0]
                    } else if l.contains("mixture") || l.contains("expert") || t.contains("전문가")
                    {
                        [0.0, 1.0, 0.0]
                    } else {
                        [1.0, 0.0, 0.0]
                    }
                })
                .collect())
        }
    }

    #[test]
    fn a_general_topic_takes_the_broad_word_its_papers_share_when_nothing_else_lands() {
        let (titles, summaries) = with_llm_topic();
        let rows = vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![8, 9, 10, 11]];
        // Without keywords `LLM` is only a broad word of the third topic; as its first keyword
        // it is its head term. Either way it is the one part that lands there.
        let none: Vec<Vec<String>> = vec![Vec::new(); 3];
        let head = vec![Vec::new(), Vec::new(), vec!["LLM".to_string()]];
        for keywords in [&none, &head] {
            let l = &labels_of_three(&titles, &summaries, rows.clone(), keywords, &BySubject);
            assert!(l[2].split(" · ").any(|p| p == "LLM"), "{l:?}");
            assert!(
                l[0].to_lowercase().contains("speculative decoding"),
                "{l:?}"
            );
            assert!(!l[0].contains("LLM") && !l[1].contains("LLM"), "{l:?}");
        }
    }

    /// Embeds a text holding `LLM` and `해석` nearest the third centroid, one holding only
    /// `LLM` nearest the second, anything else nearest the first.
    struct LlmAndReading;

    impl TermEmbedder for LlmAndReading {
        fn embed_terms(&self, terms: &[String]) -> Result<Vec<f32>, TopicsError> {
            Ok(terms
                .iter()
                .flat_map(|t| match (t.contains("LLM"), t.contains("해석")) {
                    (true, true) => [0.0, 0.0, 1.0],
                    (true, false) => [0.0, 1.0, 0.0],
                    _ => [1.0, 0.0, 0.0],
                })
                .collect())
        }
    }

    #[test]
    fn a_broad_word_an_earlier_label_holds_may_qualify_a_later_topics_own_part() {
        // The second topic's label is `LLM`, named first; the third topic's papers are LLM
        // papers too, and only `LLM` with their own `해석` lands there.
        let (titles, summaries) = sample_and(&[
            ("Evaluating LLM Honesty", "LLM 정직성 평가"),
            ("Probing LLM Knowledge", "LLM 지식 탐색"),
            ("How LLM Agents Plan", "LLM 에이전트 계획"),
            ("Teaching LLM Arithmetic", "LLM 산술 학습"),
            ("Reading Neurons", "뉴런 해석 (LLM)"),
            ("Circuit Discovery", "회로 해석 (LLM)"),
            ("Steering Vectors", "조향 벡터 (LLM)"),
            ("Sparse Autoencoders", "희소 오토인코더 (LLM)"),
        ]);
        let rows = vec![vec![0, 1, 2, 3], (8..12).collect(), (12..16).collect()];
        let keywords = vec![Vec::new(), vec!["LLM".to_string()], Vec::new()];
        let l = &labels_of_three(&titles, &summaries, rows, &keywords, &LlmAndReading);
        assert!(l[1].split(" · ").any(|p| p == "LLM"), "{l:?}");
        let parts: Vec<&str> = l[2].split(" · ").collect();
        assert!(parts.contains(&"LLM") && parts.contains(&"해석"), "{l:?}");
        assert_ne!(l[1], l[2], "{l:?}");
    }

    #[test]
    fn a_reused_broad_word_never_stands_alone_or_beside_another() {
        let reused = |term| Candidate {
            reused: true,
            ..cand(term, Vec::new())
        };
        let cands = [reused("LLM"), reused("추론"), cand("해석", Vec::new())];
        let labels: Vec<Vec<&str>> = pairs(&cands, &[0, 1, 2], 4)
            .into_iter()
            .map(|(p, _)| p.iter().map(|&i| cands[i].term).collect())
            .collect();
        assert_eq!(
            labels,
            [vec!["LLM", "해석"], vec!["추론", "해석"], vec!["해석"]]
        );
    }

    /// A candidate held by the papers `inside` (and no others), its only word itself.
    fn cand(term: &str, inside: Vec<u32>) -> Candidate<'_> {
        Candidate {
            term,
            all: inside.clone(),
            inside,
            concept: vec![term.to_string()],
            full: vec![term.to_string()],
            reused: false,
        }
    }

    /// The labels, chosen with `embedder`, of three topics of papers `rows` (titles and
    /// summaries given) with `keywords`, whose centroids are the three axes.
    fn labels_of_three(
        titles: &[String],
        summaries: &[String],
        rows: Vec<Vec<u32>>,
        keywords: &[Vec<String>],
        embedder: &dyn TermEmbedder,
    ) -> Vec<String> {
        let f = Fixture::new(titles, summaries);
        let corpus = Corpus::new(&f.docs, &f.texts, 3);
        let centroids = [1.0f32, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
        let sources = Sources {
            corpus: &corpus,
            docs: &f.docs,
            titles: &f.phrases,
            display: &f.display,
            keywords,
        };
        name(
            &sources,
            &rows,
            Rows::new(&centroids, 3).unwrap(),
            Some(embedder),
        )
        .unwrap()
        .labels
    }

    /// [`BySubject`], but `LLM` lands only just nearer the third centroid than the first, by
    /// less than [`LAND_MARGIN`].
    struct BarelyLlm;

    impl TermEmbedder for BarelyLlm {
        fn embed_terms(&self, terms: &[String]) -> Result<Vec<f32>, TopicsError> {
            let (a, b) = (0.7f32, 0.7015f32);
            let n = (a * a + b * b).sqrt();
            Ok(terms
                .iter()
                .flat_map(|t| {
                    if t.contains("LLM") {
                        [a / n, 0.0, b / n]
                    } else {
                        BySubject
                            .embed_terms(std::slice::from_ref(t))
                            .map_or([1.0, 0.0, 0.0], |v| [v[0], v[1], v[2]])
                    }
                })
                .collect())
        }
    }

    #[test]
    fn a_label_that_lands_at_all_beats_one_nearer_another_topic() {
        let (titles, summaries) = with_llm_topic();
        let rows = vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![8, 9, 10, 11]];
        // No label of the third topic lands by the margin; every one but `LLM` lands on the
        // first topic, and `LLM` still finds its own.
        let none = vec![Vec::new(); 3];
        let l = &labels_of_three(&titles, &summaries, rows, &none, &BarelyLlm);
        assert!(l[2].split(" · ").any(|p| p.ends_with("LLM")), "{l:?}");
    }

    /// Embeds every text nearest the first of two centroids.
    struct AllFirst;

    impl TermEmbedder for AllFirst {
        fn embed_terms(&self, terms: &[String]) -> Result<Vec<f32>, TopicsError> {
            Ok(terms.iter().flat_map(|_| [1.0, 0.0]).collect())
        }
    }

    #[test]
    fn a_label_holding_the_head_term_wins_unless_it_retrieves_far_worse() {
        let cands = [cand("GPT-4o", Vec::new()), cand("벤치마크", Vec::new())];
        let centroids = [vec![1.0f32, 0.0], vec![0.0, 1.0]];
        let pick = |f1_head: f64| {
            let alternatives = [(vec![0], 0.6), (vec![1], f1_head)];
            choose(&alternatives, &cands, 0, &centroids, Some(&AllFirst), &[1])
                .unwrap()
                .map(|(i, landed, _)| (i, landed))
        };
        // Both land: the head term's label while its F1 is at least half the best one's.
        assert_eq!(pick(0.35), Some((1, true)));
        assert_eq!(pick(0.25), Some((0, true)));
        // Without head terms the best F1 is taken.
        let alternatives = [(vec![0], 0.6), (vec![1], 0.35)];
        let plain = choose(&alternatives, &cands, 0, &centroids, Some(&AllFirst), &[])
            .unwrap()
            .map(|(i, landed, _)| (i, landed));
        assert_eq!(plain, Some((0, true)));
    }

    /// Embeds the first two topics' words nearest their centroids, and any other text between
    /// the first and third centroids, nearer the third the more parts it has and when it holds
    /// `LLM`: only a label of three parts, `LLM` one of them, lands on the third topic.
    struct ThreeParts;

    impl TermEmbedder for ThreeParts {
        fn embed_terms(&self, terms: &[String]) -> Result<Vec<f32>, TopicsError> {
            Ok(terms
                .iter()
                .flat_map(|t| {
                    let parts = t.split(" · ").count() as f32;
                    let llm = if t.contains("LLM") { 0.3 } else { 0.0 };
                    match BySubject.embed_terms(std::slice::from_ref(t)) {
                        Ok(v) if v[1] == 1.0 => [0.0, 1.0, 0.0],
                        _ if t.to_lowercase().contains("speculative") => [1.0, 0.0, 0.0],
                        _ => [1.0, 0.0, 0.3 * parts + llm],
                    }
                })
                .collect())
        }
    }

    #[test]
    fn when_no_label_of_one_or_two_parts_lands_the_closest_grows_a_third() {
        // The third topic's papers in three pairs; `LLM`, a broad word, is tried only when no
        // greedy label (`정직 · 지식`) lands, and then no pair of parts lands either.
        let (titles, summaries) = sample_and(&[
            ("Honest Answers", "정직성 검사"),
            ("Honest Refusals", "정직성 측정"),
            ("Stored Facts", "지식 편집"),
            ("Recalled Facts", "지식 회상"),
            ("Unlearning", "LLM 유도"),
            ("Machine Unlearning", "LLM 평가"),
        ]);
        let rows = vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7], (8..14).collect()];
        let none = vec![Vec::new(); 3];
        let l = &labels_of_three(&titles, &summaries, rows, &none, &ThreeParts);
        let parts: Vec<&str> = l[2].split(" · ").collect();
        assert_eq!(parts.len(), 3, "{l:?}");
        assert!(parts.contains(&"LLM"), "{l:?}");
        assert!(
            l[0].to_lowercase().contains("speculative decoding"),
            "{l:?}"
        );
    }

    #[test]
    fn a_label_shows_its_head_term_first_then_the_parts_most_papers_hold() {
        let cands = [
            cand("2D", vec![0, 1]),
            cand("텍스처", vec![2, 3, 4]),
            cand("3D 자산", vec![5]),
        ];
        assert_eq!(join(&[0, 1, 2], &cands, &[2]), "3D 자산 · 텍스처 · 2D");
        assert_eq!(join(&[0, 1, 2], &cands, &[]), "텍스처 · 2D · 3D 자산");
    }
}
