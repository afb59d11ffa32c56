//! BM25's top k without scoring every document a query's common words hold: MaxScore, term at
//! a time.
//!
//! At a million papers a common word's list holds half the index, and a query of common words
//! (`강화 학습으로 추론 능력 향상`) scored millions of postings. Concepts are taken best bound
//! first (the rare ones, with short lists); once the k-th best score so far is above what the
//! concepts left could add, no document they alone hold can reach the top k, so their lists
//! are only looked up for the documents that still can. Each document's score is summed in
//! the same concept order either way, so the hits and their scores are those of scoring every
//! document ([`all_scores`]), bit for bit (tests compare them).

use std::cell::RefCell;

use super::dense::TopK;
use super::lexical::term_score;
use super::Hit;

/// Relative room left for rounding when bounds are compared with sums: a sum of n rounded
/// terms is within about n ulps of the exact one, far inside this for any query (a query of
/// a thousand concepts would still be inside it).
const SLACK: f32 = 1e-4;

/// Most documents the k-th best is taken among, while concepts are added.
const PART: usize = 1 << 16;

/// A posting list as held: pairs in memory, or the mapped file's little-endian u32 pairs.
/// Documents ascending either way.
#[derive(Clone, Copy)]
pub(crate) enum ListView<'a> {
    /// (document, term frequency) pairs.
    Pairs(&'a [(u32, u32)]),
    /// The same pairs as 8 bytes each, in the file's order.
    Bytes(&'a [u8]),
}

impl<'a> ListView<'a> {
    /// Documents in the list.
    pub(crate) fn len(&self) -> usize {
        match self {
            ListView::Pairs(p) => p.len(),
            ListView::Bytes(b) => b.len() / 8,
        }
    }

    /// Whether no document holds the term.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    fn doc(&self, i: usize) -> u32 {
        match self {
            ListView::Pairs(p) => p[i].0,
            ListView::Bytes(b) => le(b, 8 * i),
        }
    }

    #[inline]
    fn tf(&self, i: usize) -> u32 {
        match self {
            ListView::Pairs(p) => p[i].1,
            ListView::Bytes(b) => le(b, 8 * i + 4),
        }
    }

    /// Calls `f` with each (document, term frequency), documents ascending; the match is
    /// outside the loop, so each arm is a plain loop.
    #[inline]
    pub(crate) fn for_each(self, mut f: impl FnMut(u32, u32)) {
        match self {
            ListView::Pairs(p) => p.iter().for_each(|&(d, tf)| f(d, tf)),
            ListView::Bytes(b) => b.chunks_exact(8).for_each(|c| f(le(c, 0), le(c, 4))),
        }
    }
}

#[inline]
fn le(b: &[u8], at: usize) -> u32 {
    let mut x = [0u8; 4];
    x.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(x)
}

/// One query concept ready to score: the lists of its forms, its IDF, and the most it adds
/// to any document's score.
pub(crate) struct Concept<'a> {
    pub lists: Vec<ListView<'a>>,
    pub idf: f32,
    /// `term_score` at the sum of its forms' largest term frequencies and the shortest
    /// document's length term: no document gets more from this concept.
    pub bound: f32,
}

impl<'a> Concept<'a> {
    /// `lists` with the largest term frequency of each, the IDF, and the smallest length term
    /// of any document.
    pub(crate) fn new(lists: Vec<(ListView<'a>, u32)>, idf: f32, least_norm: f32) -> Concept<'a> {
        let most: u32 = lists.iter().map(|l| l.1).fold(0, u32::saturating_add);
        let bound = if most == 0 {
            0.0
        } else {
            term_score(idf, most, least_norm)
        };
        Concept {
            lists: lists.into_iter().map(|l| l.0).collect(),
            idf,
            bound,
        }
    }
}

/// Orders `concepts` for scoring: best bound first, query order on ties. Scores are summed in
/// this order, by [`top_k`] and [`all_scores`] alike.
pub(crate) fn order(concepts: &mut [Concept<'_>]) {
    concepts.sort_by(|a, b| b.bound.total_cmp(&a.bound));
}

/// Per-thread buffers with an entry per document, zero between queries: allocating and zeroing
/// 8 MB per query was a tenth of BM25's time at a million papers.
#[derive(Default)]
struct Scratch {
    /// Scores so far.
    acc: Vec<f32>,
    /// A concept's summed term frequencies, while its forms are added.
    tf: Vec<u32>,
    /// Documents whose score became positive, in the order they did.
    touched: Vec<u32>,
    /// Scores copied for selecting the k-th.
    values: Vec<f32>,
    /// Set while a query runs: a query that stopped half-way (a panic) leaves it set, and the
    /// next one zeroes the buffers whole.
    busy: bool,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

#[cfg(test)]
thread_local! {
    /// Queries of this thread (not eager) whose common concepts were only looked up: tests
    /// check that both ways are taken.
    pub(crate) static SPLITS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Every document's score, concepts summed in `concepts`' order (see [`order`]).
pub(crate) fn all_scores(concepts: &[Concept<'_>], norms: &[f32]) -> Vec<f32> {
    let n = norms.len();
    let mut acc = vec![0f32; n];
    let mut tf = Vec::new();
    let mut touched = Vec::new();
    for c in concepts {
        add(c, norms, &mut acc, &mut tf, &mut touched);
    }
    acc
}

/// When [`top_k`] stops adding whole lists.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cut {
    /// Where looking the rest up costs less than adding it.
    WherePays,
    /// Wherever the bounds allow, checking the k-th best after every concept whatever that
    /// costs: so tests take every path of the bounds.
    #[cfg_attr(not(test), allow(dead_code))]
    WheneverBounded,
}

/// The top `k` documents with a positive score, best first (ties: lower row), `exclude` left
/// out: those of [`all_scores`], found without scoring every document.
pub(crate) fn top_k(
    concepts: &[Concept<'_>],
    norms: &[f32],
    k: usize,
    exclude: Option<usize>,
    cut: Cut,
) -> Vec<Hit> {
    if k == 0 || concepts.is_empty() {
        return Vec::new();
    }
    let eager = cut == Cut::WheneverBounded;
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut s) => top_k_in(&mut s, concepts, norms, k, exclude, eager),
        // Not reentrant; a nested call (none today) would take buffers of its own.
        Err(_) => top_k_in(&mut Scratch::default(), concepts, norms, k, exclude, eager),
    })
}

fn top_k_in(
    s: &mut Scratch,
    concepts: &[Concept<'_>],
    norms: &[f32],
    k: usize,
    exclude: Option<usize>,
    eager: bool,
) -> Vec<Hit> {
    let n = norms.len();
    if s.busy || s.acc.len() != n {
        s.acc = vec![0f32; n];
        s.tf = vec![0u32; n];
        s.touched.clear();
    }
    s.busy = true;
    let Scratch {
        acc,
        tf,
        touched,
        values,
        ..
    } = s;
    let excluded = |d: u32| Some(d as usize) == exclude;
    // The sum of the bounds of the concepts added: no document has more so far.
    let mut done = 0f32;
    let mut split: Option<(usize, f32, Vec<u32>)> = None;
    for (j, c) in concepts.iter().enumerate() {
        add(c, norms, acc, tf, touched);
        let rest: f32 = concepts[j + 1..].iter().map(|c| c.bound).sum();
        done += c.bound;
        // No score so far exceeds `done`, so the k-th cannot pass `rest` before it does. The
        // k-th best is taken among the documents touched first (those of the best-bound
        // concepts): a lower bound of the k-th among all, taken over at most [`PART`] of
        // them and a sixteenth of the postings left to add, so a check that fails costs
        // little.
        let left = postings(&concepts[j + 1..]);
        let part = if eager {
            touched.len()
        } else {
            touched.len().min(left / 16).min(PART)
        };
        if left == 0 || (rest >= done && !eager) || part < k {
            continue;
        }
        let floor = kth(acc, &touched[..part], k, &excluded, values);
        if floor <= rest * (1.0 + SLACK) {
            continue;
        }
        // Only documents that can still reach the k-th best are looked up further; that is
        // worth it while the look-ups cost less than adding the lists.
        let mut live: Vec<u32> = touched
            .iter()
            .copied()
            .filter(|&d| !excluded(d) && reach(acc[d as usize], rest) >= floor)
            .collect();
        if eager || lookups(&concepts[j + 1..], live.len()) < left {
            live.sort_unstable();
            live.dedup();
            #[cfg(test)]
            if !eager {
                SPLITS.with(|s| s.set(s.get() + 1));
            }
            split = Some((j + 1, floor, live));
            break;
        }
    }
    // TopK keeps the best k by (score, lower row) whatever order they come in; `>=` lets a
    // tie with the k-th in, for TopK to settle.
    let mut top = TopK::new(k);
    let mut floor = f32::NEG_INFINITY;
    let mut push = |row: usize, score: f32| {
        if score > 0.0 && score >= floor && Some(row) != exclude {
            top.push(score, row);
            floor = top.floor();
        }
    };
    match split {
        Some((from, mut kth_best, mut live)) => {
            let mut sums: Vec<u32> = Vec::new();
            for (j, c) in concepts.iter().enumerate().skip(from) {
                sums.clear();
                sums.resize(live.len(), 0);
                for &list in &c.lists {
                    look_up(list, &live, &mut sums);
                }
                for (&d, &t) in live.iter().zip(&sums) {
                    if t != 0 {
                        acc[d as usize] += term_score(c.idf, t, norms[d as usize]);
                    }
                }
                let rest: f32 = concepts[j + 1..].iter().map(|c| c.bound).sum();
                if live.len() >= k {
                    values.clear();
                    values.extend(live.iter().map(|&d| acc[d as usize]));
                    let at = values.len() - k;
                    values.select_nth_unstable_by(at, |a, b| a.total_cmp(b));
                    kth_best = kth_best.max(values[at]);
                }
                live.retain(|&d| reach(acc[d as usize], rest) >= kth_best);
            }
            for &d in &live {
                push(d as usize, acc[d as usize]);
            }
            for &d in touched.iter() {
                acc[d as usize] = 0.0;
            }
        }
        // Each document once: its score is taken as it is pushed.
        None if touched.len() < n / 4 => {
            for &d in touched.iter() {
                push(d as usize, std::mem::take(&mut acc[d as usize]));
            }
        }
        None => {
            for (row, &score) in acc.iter().enumerate() {
                push(row, score);
            }
            acc.fill(0.0);
        }
    }
    touched.clear();
    s.busy = false;
    top.into_sorted()
}

/// The most a document scored `score` so far can end with, `rest` still to add (rounding
/// included).
#[inline]
fn reach(score: f32, rest: f32) -> f32 {
    (score + rest) * (1.0 + SLACK)
}

/// The `k`-th best score among `touched` (at least `k` of them), `excluded` left out; 0 when
/// fewer than `k` are left.
fn kth(
    acc: &[f32],
    touched: &[u32],
    k: usize,
    excluded: &impl Fn(u32) -> bool,
    values: &mut Vec<f32>,
) -> f32 {
    values.clear();
    values.extend(
        touched
            .iter()
            .filter(|&&d| !excluded(d))
            .map(|&d| acc[d as usize]),
    );
    if values.len() < k {
        return 0.0;
    }
    let at = values.len() - k;
    values.select_nth_unstable_by(at, |a, b| a.total_cmp(b));
    values[at]
}

/// Adds concept `c` to every document that holds one of its forms; `tf` is zero before and
/// after, and documents whose score becomes positive are appended to `touched`.
fn add(c: &Concept<'_>, norms: &[f32], acc: &mut [f32], tf: &mut Vec<u32>, touched: &mut Vec<u32>) {
    if c.lists.len() > 1 && tf.len() != acc.len() {
        *tf = vec![0u32; acc.len()];
    }
    let mut score = |d: u32, t: u32| {
        let a = &mut acc[d as usize];
        if *a == 0.0 {
            touched.push(d);
        }
        *a += term_score(c.idf, t, norms[d as usize]);
    };
    match c.lists.as_slice() {
        [] => {}
        [list] => list.for_each(|d, t| {
            if t != 0 {
                score(d, t);
            }
        }),
        lists => {
            // A concept's forms are summed into one term frequency per document first.
            for list in lists {
                list.for_each(|d, t| {
                    let s = &mut tf[d as usize];
                    *s = s.saturating_add(t);
                });
            }
            for list in lists {
                list.for_each(|d, _| {
                    let t = std::mem::take(&mut tf[d as usize]);
                    if t != 0 {
                        score(d, t);
                    }
                });
            }
        }
    }
}

/// Postings that adding `concepts` reads (a concept of several forms reads its lists twice).
fn postings(concepts: &[Concept<'_>]) -> usize {
    concepts
        .iter()
        .map(|c| {
            let len: usize = c.lists.iter().map(ListView::len).sum();
            if c.lists.len() > 1 {
                2 * len
            } else {
                len
            }
        })
        .sum()
}

/// Postings-equivalent cost of looking `live` documents up in `concepts`' lists: each list
/// walks its shorter side and gallops in the longer, and a look-up costs a few postings.
fn lookups(concepts: &[Concept<'_>], live: usize) -> usize {
    const LOOKUP: usize = 4;
    concepts
        .iter()
        .flat_map(|c| &c.lists)
        .map(|l| {
            let (short, long) = (l.len().min(live), l.len().max(live));
            let steps = (long / short.max(1)).max(1).ilog2() as usize + 1;
            short * steps * LOOKUP
        })
        .sum()
}

/// Adds to `sums[i]` the term frequency `list` gives document `live[i]` (`live` ascending),
/// walking the shorter of the two and galloping in the other.
fn look_up(list: ListView<'_>, live: &[u32], sums: &mut [u32]) {
    if list.len() <= live.len() {
        let mut at = 0;
        list.for_each(|d, t| {
            at = gallop(live.len(), at, d, |i| live[i]);
            if at < live.len() && live[at] == d {
                sums[at] = sums[at].saturating_add(t);
            }
        });
    } else {
        let mut at = 0;
        for (&d, sum) in live.iter().zip(sums.iter_mut()) {
            at = gallop(list.len(), at, d, |i| list.doc(i));
            if at < list.len() && list.doc(at) == d {
                *sum = sum.saturating_add(list.tf(at));
            }
        }
    }
}

/// The first position at or after `from` whose key (`key`, ascending over `0..len`) is at
/// least `target`, or `len`: doubling steps, then halving.
#[inline]
fn gallop(len: usize, from: usize, target: u32, key: impl Fn(usize) -> u32) -> usize {
    let (mut lo, mut step) = (from, 1usize);
    let mut hi = loop {
        let probe = lo.saturating_add(step - 1);
        if probe >= len {
            break len;
        }
        if key(probe) >= target {
            break probe;
        }
        lo = probe + 1;
        step = step.saturating_mul(2);
    };
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if key(mid) < target {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Documents in any of `lists` (each ascending, of documents below `n`).
pub(crate) fn union_len<'a>(lists: impl Iterator<Item = ListView<'a>>, n: usize) -> usize {
    let mut seen = vec![0u64; n.div_ceil(64)];
    let mut count = 0;
    for list in lists {
        list.for_each(|d, _| {
            let (w, bit) = (d as usize / 64, 1u64 << (d % 64));
            if let Some(word) = seen.get_mut(w) {
                count += usize::from(*word & bit == 0);
                *word |= bit;
            }
        });
    }
    count
}
