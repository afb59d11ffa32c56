//! How good the recommendations are, measured on judged queries read as readers' interests.
//!
//! Each judged query is one reader. The reader likes the papers graded 2 for it dated before a
//! split day; the papers graded 2 from that day on are the ones a good recommender puts first
//! among all the papers of that day on. Five recommenders rank those papers:
//!
//! - `svm` — the first stage of papermap's ([`super::recommend`]): a linear SVM over the
//!   index's vectors;
//! - `centroid` — the mean of the liked papers' vectors, ranked by cosine;
//! - `tfidf-svm` — arxiv-sanity's recipe: tf-idf of title and summary (unigrams and bigrams,
//!   sublinear tf, `min_df` 5, `max_df` 0.1, 20,000 features, l2-normalised) and a linear SVM
//!   with `C` = 0.01 and balanced classes, the liked papers against every other paper;
//! - `hybrid-svm` — that tf-idf row and the vector side by side in one such SVM;
//! - `svm+words` — what papermap serves: `svm`'s best [`recommend::RERANK`] ranked again by
//!   the SVM over vector and words of [`super::words`].
//!
//! Scored by nDCG@10 (the later graded-2 papers as the relevant ones) and recall@20.

use std::collections::HashMap;

use crate::index::Index;
use crate::search::eval::{ndcg, JudgedQuery};
use crate::search::{tokenize, Bm25};
use crate::text::vector::dot;

use super::recommend::{self, Options};
use super::svm::{self, Examples, Sparse};
use super::words;

/// One recommender's scores, averaged over the readers.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Scores {
    /// The recommender's name.
    pub method: &'static str,
    /// Mean nDCG@10.
    pub ndcg_at_10: f64,
    /// Mean recall@20.
    pub recall_at_20: f64,
}

/// The readers evaluated and each recommender's scores.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Report {
    /// The split day: liked before it, recommended from it on.
    pub split: String,
    /// Readers with a liked paper before the split and one to find after it.
    pub readers: usize,
    /// Papers dated from the split on: what each reader's recommendations rank.
    pub candidates: usize,
    /// Mean liked papers per reader.
    pub liked: f64,
    /// Mean papers to find per reader.
    pub targets: f64,
    /// One row per recommender.
    pub scores: Vec<Scores>,
    /// Mean time to train papermap's SVM for one reader, in milliseconds (what a request for
    /// recommendations waits before its dense pass).
    pub train_ms: f64,
}

/// Evaluates the five recommenders on `index` with the readers of `judged`, split at `split`
/// (`YYYY-MM-DD`).
pub fn evaluate(
    index: &Index,
    bm25: &Bm25,
    judged: &[JudgedQuery],
    split: &str,
    o: &Options,
) -> Report {
    let n = index.len();
    let dim = index.dim();
    let dates = index.dates();
    let later: Vec<usize> = (0..n)
        .filter(|&i| dates[i].as_deref().is_some_and(|d| d >= split))
        .collect();
    let tfidf = tfidf(index);
    let methods = ["svm", "centroid", "tfidf-svm", "hybrid-svm", "svm+words"];
    // Both views in one model: the tf-idf row and the unit vector side by side.
    let hybrid = Sparse {
        rows: (0..n)
            .map(|r| {
                let mut row = tfidf.rows[r].clone();
                row.extend(
                    index
                        .vector(r)
                        .iter()
                        .enumerate()
                        .map(|(j, &x)| ((tfidf.dim + j) as u32, x)),
                );
                row
            })
            .collect(),
        dim: tfidf.dim + dim,
    };
    let mut sums = vec![(0f64, 0f64); methods.len()];
    let mut word_rows = words::Words::default();
    let (mut readers, mut liked_sum, mut target_sum) = (0, 0, 0);
    let mut train_s = 0f64;
    for q in judged {
        let mut liked = Vec::new();
        let mut targets: HashMap<String, u8> = HashMap::new();
        for (id, &g) in &q.grades {
            let Some(row) = index.row_of(id) else {
                continue;
            };
            if g != 2 {
                continue;
            }
            match dates[row].as_deref() {
                Some(d) if d < split => liked.push(row),
                Some(_) => {
                    targets.insert(id.clone(), 2);
                }
                None => {}
            }
        }
        if liked.is_empty() || targets.is_empty() {
            continue;
        }
        liked.sort_unstable();
        readers += 1;
        liked_sum += liked.len();
        target_sum += targets.len();
        let vectors = index.vectors();
        let t = std::time::Instant::now();
        let m = recommend::model(vectors, dim, &liked, &[], o.negatives, o.c);
        train_s += t.elapsed().as_secs_f64();
        let svm_scores: Vec<f32> = later.iter().map(|&r| dot(&m.w, index.vector(r))).collect();
        let mut centroid = vec![0f32; dim];
        for &r in &liked {
            for (c, x) in centroid.iter_mut().zip(index.vector(r)) {
                *c += x;
            }
        }
        let centroid_scores: Vec<f32> = later
            .iter()
            .map(|&r| dot(&centroid, index.vector(r)))
            .collect();
        let positive: Vec<bool> = (0..n).map(|r| liked.binary_search(&r).is_ok()).collect();
        let t = svm::train(&tfidf, &positive, 0.01);
        let tfidf_scores: Vec<f32> = later.iter().map(|&r| tfidf.dot(r, &t.w)).collect();
        let h = svm::train(&hybrid, &positive, 0.01);
        let hybrid_scores: Vec<f32> = later.iter().map(|&r| hybrid.dot(r, &h.w)).collect();
        // The product's path: the vector SVM's best candidates, re-ranked by the joint model.
        let mut by_svm: Vec<usize> = (0..later.len()).collect();
        by_svm.sort_by(|&a, &b| svm_scores[b].total_cmp(&svm_scores[a]).then(a.cmp(&b)));
        by_svm.truncate(recommend::RERANK);
        let jm = words::model(
            &mut word_rows,
            index,
            bm25,
            &liked,
            &[],
            recommend::sample_rows(n, o.negatives),
            o.c,
        );
        let rows: Vec<usize> = by_svm.iter().map(|&i| later[i]).collect();
        let joint = words::margins(&mut word_rows, index, bm25, &jm, &rows);
        let mut words_scores = vec![f32::NEG_INFINITY; later.len()];
        for (&i, m) in by_svm.iter().zip(joint) {
            words_scores[i] = m;
        }
        for (s, scores) in sums.iter_mut().zip([
            svm_scores,
            centroid_scores,
            tfidf_scores,
            hybrid_scores,
            words_scores,
        ]) {
            let ranked = rank(index, &later, &scores);
            let ids: Vec<&str> = ranked.iter().map(String::as_str).collect();
            s.0 += ndcg(&ids, &targets, 10);
            let found = ids
                .iter()
                .take(20)
                .filter(|id| targets.contains_key(**id))
                .count();
            s.1 += found as f64 / targets.len() as f64;
        }
    }
    let per = |x: f64| {
        if readers == 0 {
            0.0
        } else {
            x / readers as f64
        }
    };
    Report {
        split: split.to_string(),
        readers,
        candidates: later.len(),
        liked: per(liked_sum as f64),
        targets: per(target_sum as f64),
        scores: methods
            .iter()
            .zip(&sums)
            .map(|(&method, &(nd, rec))| Scores {
                method,
                ndcg_at_10: per(nd),
                recall_at_20: per(rec),
            })
            .collect(),
        train_ms: per(train_s * 1e3),
    }
}

/// The ids of `rows`, best score first (ties: lower row), the first 20.
fn rank(index: &Index, rows: &[usize], scores: &[f32]) -> Vec<String> {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(rows[a].cmp(&rows[b])));
    order
        .iter()
        .take(20)
        .map(|&i| index.paper(rows[i]).arxiv_id.clone())
        .collect()
}

/// arxiv-sanity's tf-idf of every paper's title and summary (see the module's comment).
fn tfidf(index: &Index) -> Sparse {
    let n = index.len();
    let docs: Vec<Vec<String>> = (0..n)
        .map(|i| {
            let p = index.paper(i);
            let words = tokenize(&format!("{} {}", p.title, p.summary));
            let mut terms = words.clone();
            terms.extend(words.windows(2).map(|w| format!("{} {}", w[0], w[1])));
            terms
        })
        .collect();
    let mut df: HashMap<&str, usize> = HashMap::new();
    let mut total: HashMap<&str, usize> = HashMap::new();
    for d in &docs {
        let mut seen: Vec<&str> = d.iter().map(String::as_str).collect();
        for t in &seen {
            *total.entry(t).or_default() += 1;
        }
        seen.sort_unstable();
        seen.dedup();
        for t in seen {
            *df.entry(t).or_default() += 1;
        }
    }
    let max_df = (n as f64 * 0.1).floor() as usize;
    let mut vocab: Vec<(&str, usize)> = df
        .iter()
        .filter(|&(_, &c)| c >= 5 && c <= max_df)
        .map(|(&t, _)| (t, total[t]))
        .collect();
    vocab.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    vocab.truncate(20_000);
    let ids: HashMap<&str, u32> = vocab
        .iter()
        .enumerate()
        .map(|(i, &(t, _))| (t, i as u32))
        .collect();
    let idf: Vec<f32> = vocab
        .iter()
        .map(|&(t, _)| ((1.0 + n as f32) / (1.0 + df[t] as f32)).ln() + 1.0)
        .collect();
    let rows = docs
        .iter()
        .map(|d| {
            let mut tf: HashMap<u32, u32> = HashMap::new();
            for t in d {
                if let Some(&j) = ids.get(t.as_str()) {
                    *tf.entry(j).or_default() += 1;
                }
            }
            let mut row: Vec<(u32, f32)> = tf
                .into_iter()
                .map(|(j, c)| (j, (1.0 + (c as f32).ln()) * idf[j as usize]))
                .collect();
            row.sort_unstable_by_key(|p| p.0);
            let norm = row.iter().map(|p| p.1 * p.1).sum::<f32>().sqrt();
            if norm > 0.0 {
                row.iter_mut().for_each(|p| p.1 /= norm);
            }
            row
        })
        .collect();
    Sparse {
        rows,
        dim: vocab.len(),
    }
}
