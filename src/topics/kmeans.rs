//! k-means: greedy k-means++ starts, Lloyd iterations through a swappable assignment step, the
//! objective, and the choice of k by silhouette on a seeded sample.
//!
//! Each start is seeded by greedy k-means++ ([`kmeans_plus_plus`]: at every step `2 + ln k`
//! candidates are drawn with probability proportional to D² and the one that lowers the
//! potential most is kept, as scikit-learn does). Lloyd iterations follow until no assignment
//! changes or the centroids move less than scikit-learn's tolerance.
//!
//! The assignment step is [`Blocked`]: blocks of rows against all centroids as one matrix
//! product (the `gemm` crate), exact. linfa-clustering's loop, used before, assigns row by row
//! and was the bottleneck at 100,000 rows; [`Direct`] keeps that row-by-row form as the
//! reference the blocked one is tested against, and [`Assign`] is where a GPU kernel plugs in.

use std::ops::RangeInclusive;

use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256Plus;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::TopicsError;
use crate::text::vector::squared_distance;
pub(crate) use crate::vectors::assign::matmul_t;
pub use crate::vectors::assign::{default_assign, Assign, Blocked, Direct, Rows};

/// The k-means objective: sum over rows of the squared distance to the nearest centroid.
pub fn objective(
    data: Rows<'_>,
    centroids: Rows<'_>,
    assign: &dyn Assign,
) -> Result<f64, TopicsError> {
    let mut labels = vec![0u32; data.len()];
    let mut dist2 = vec![0f32; data.len()];
    assign.assign(data, centroids, &mut labels, &mut dist2)?;
    Ok(dist2.iter().map(|&d| d as f64).sum())
}

/// Settings of one k-means fit.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansConfig {
    /// Number of clusters, from 1 to the number of distinct rows ([`check_k`] refuses others).
    pub k: usize,
    /// Independent k-means++ starts; the lowest objective wins.
    pub runs: usize,
    /// Seed of the first start; start `r` uses the seed's stream jumped `r` times.
    pub seed: u64,
    /// Iteration cap of the Lloyd loop.
    pub max_iter: u64,
    /// Convergence threshold on the centroid shift, relative to the data's variance
    /// (scikit-learn's `tol`).
    pub tolerance: f32,
}

impl KMeansConfig {
    /// `k` clusters with the given seed and runs, default iteration cap and tolerance.
    pub fn new(k: usize, runs: usize, seed: u64) -> Self {
        KMeansConfig {
            k,
            runs,
            seed,
            max_iter: 300,
            tolerance: 1e-4,
        }
    }
}

/// A fitted clustering: the centroids, each row's cluster, and which start won.
#[derive(Debug, Clone, PartialEq)]
pub struct Clustering {
    /// Row-major `[k, dim]` centroids, each the mean of its members.
    pub centroids: Vec<f32>,
    /// Cluster of every row.
    pub labels: Vec<u32>,
    /// Sum of squared distances of rows to their centroid.
    pub objective: f64,
    /// The start (0-based) that won.
    pub best_run: usize,
    /// Lloyd iterations of the winning start.
    pub iterations: usize,
    /// Number of clusters: the rows of `centroids`, and the range of `labels`.
    k: usize,
}

impl Clustering {
    /// Number of clusters: the `k` the fit was asked for.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Rows labelled with each cluster, indexed by cluster; they sum to the number of rows.
    pub fn sizes(&self) -> Vec<usize> {
        let mut sizes = vec![0; self.k];
        for &l in &self.labels {
            sizes[l as usize] += 1;
        }
        sizes
    }

    /// Centroid of cluster `c`.
    pub fn centroid(&self, c: usize) -> &[f32] {
        let dim = self.centroids.len() / self.k.max(1);
        &self.centroids[c * dim..(c + 1) * dim]
    }
}

/// Number of distinct rows (bitwise), counting at most `stop_at` before giving up.
pub fn distinct_rows(data: Rows<'_>, stop_at: usize) -> usize {
    let mut seen = std::collections::HashSet::new();
    for i in 0..data.len() {
        let key: Vec<u32> = data.row(i).iter().map(|x| x.to_bits()).collect();
        seen.insert(key);
        if seen.len() >= stop_at {
            break;
        }
    }
    seen.len()
}

/// Checks that `k` clusters can be fitted to `data`.
pub fn check_k(data: Rows<'_>, k: usize) -> Result<(), TopicsError> {
    let n = data.len();
    if n == 0 {
        return Err(TopicsError::Empty);
    }
    if k == 0 {
        return Err(TopicsError::BadK("k must be at least 1".into()));
    }
    if k > n {
        return Err(TopicsError::TooManyTopics { k, papers: n });
    }
    let distinct = distinct_rows(data, k);
    if distinct < k {
        return Err(TopicsError::TooFewDistinct {
            k,
            distinct,
            papers: n,
        });
    }
    if data.as_slice().iter().any(|x| !x.is_finite()) {
        return Err(TopicsError::NonFinite);
    }
    Ok(())
}

/// Fits k-means: `cfg.runs` starts (greedy k-means++ seeds, then Lloyd iterations
/// through `assign`); returns the start with the lowest objective (earliest on ties).
pub fn fit(
    data: Rows<'_>,
    cfg: &KMeansConfig,
    assign: &dyn Assign,
) -> Result<Clustering, TopicsError> {
    check_k(data, cfg.k)?;
    if cfg.runs == 0 {
        return Err(TopicsError::BadParam("runs must be at least 1".into()));
    }
    // scikit-learn's convergence rule: the total squared centroid shift of one iteration at
    // most `tolerance` times the mean per-column variance of the data.
    let tol = cfg.tolerance as f64 * mean_column_variance(data);
    let mut results = (0..cfg.runs)
        .into_par_iter()
        .map(|run| {
            let mut rng = Xoshiro256Plus::seed_from_u64(cfg.seed);
            for _ in 0..run {
                rng.jump();
            }
            let start = std::time::Instant::now();
            let seeds = kmeans_plus_plus(data, cfg.k, &mut rng, assign)?;
            super::lap(start, &format!("k-means run {run}: k-means++ seeds"));
            let mut c = lloyd(data, seeds, cfg.k, cfg.max_iter as usize, tol, assign)?;
            super::lap(
                start,
                &format!("k-means run {run}: {} Lloyd iterations", c.iterations),
            );
            c.best_run = run;
            Ok(c)
        })
        .collect::<Result<Vec<Clustering>, TopicsError>>()?;
    let best = (0..results.len())
        .min_by(|&a, &b| {
            results[a]
                .objective
                .total_cmp(&results[b].objective)
                .then(a.cmp(&b))
        })
        .ok_or(TopicsError::KMeans {
            what: "no run finished",
            source: None,
        })?;
    Ok(results.swap_remove(best))
}

/// A uniform number in `[0, 1)`.
fn uniform(rng: &mut Xoshiro256Plus) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Greedy k-means++ seeding: the first centroid uniformly, then at each step `2 + ln k` rows
/// drawn with probability proportional to their squared distance to the nearest centroid so far,
/// keeping the one that minimises the total; row-major `[k, dim]`. The distances to a step's
/// candidates come from `assign` in one call (a matrix product on CPU or GPU).
pub fn kmeans_plus_plus(
    data: Rows<'_>,
    k: usize,
    rng: &mut Xoshiro256Plus,
    assign: &dyn Assign,
) -> Result<Vec<f32>, TopicsError> {
    let (n, dim) = (data.len(), data.dim());
    let mut centroids = Vec::with_capacity(k * dim);
    if n == 0 || k == 0 {
        return Ok(centroids);
    }
    let trials = 2 + (k as f64).ln().floor() as usize;
    let first = ((uniform(rng) * n as f64) as usize).min(n - 1);
    centroids.extend_from_slice(data.row(first));
    let mut closest = assign.distances(data, Rows::new(data.row(first), dim)?)?;
    let mut cumulative = Vec::with_capacity(n);
    for _ in 1..k {
        cumulative.clear();
        let mut total = 0f64;
        for &d in &closest {
            total += d as f64;
            cumulative.push(total);
        }
        if total <= 0.0 {
            // Every row sits on a centroid: any row will do (callers check distinct rows first).
            centroids.extend_from_slice(data.row(0));
            continue;
        }
        let cands: Vec<usize> = (0..trials)
            .map(|_| {
                let target = uniform(rng) * total;
                cumulative.partition_point(|&c| c <= target).min(n - 1)
            })
            .collect();
        let points: Vec<f32> = cands.iter().flat_map(|&c| data.row(c).to_vec()).collect();
        // The first candidate with the lowest potential, as the sequential loop chose before.
        let best = assign.seed_step(data, &mut closest, Rows::new(&points, dim)?)?;
        centroids.extend_from_slice(data.row(cands[best]));
    }
    Ok(centroids)
}

/// Mean over columns of the per-column variance (scikit-learn scales its tolerance by it).
fn mean_column_variance(data: Rows<'_>) -> f64 {
    let (n, dim) = (data.len(), data.dim());
    if n == 0 {
        return 0.0;
    }
    let mut sum = vec![0f64; dim];
    let mut sq = vec![0f64; dim];
    for i in 0..n {
        for (j, &x) in data.row(i).iter().enumerate() {
            sum[j] += x as f64;
            sq[j] += x as f64 * x as f64;
        }
    }
    let var: f64 = (0..dim)
        .map(|j| (sq[j] / n as f64 - (sum[j] / n as f64).powi(2)).max(0.0))
        .sum();
    var / dim as f64
}

/// Lloyd iterations from `centroids` until no assignment changes, the centroids move less than
/// `tol` in total squared shift, or `max_iter`. Labels always come from a final assignment to the
/// returned centroids (so the objective is exact for them); the centroids are the means of the
/// previous assignment, which is the same one unless the tolerance stopped the loop. A cluster
/// left empty is re-seeded with the row farthest from its centroid, taken from a cluster with at
/// least two members, so no cluster stays empty while there are enough distinct rows.
pub fn lloyd(
    data: Rows<'_>,
    mut centroids: Vec<f32>,
    k: usize,
    max_iter: usize,
    tol: f64,
    assign: &dyn Assign,
) -> Result<Clustering, TopicsError> {
    let (n, dim) = (data.len(), data.dim());
    let mut labels = vec![u32::MAX; n];
    let mut next = vec![0u32; n];
    let mut dist2 = vec![0f32; n];
    let mut iterations = 0;
    let mut converged = false;
    loop {
        let cview = Rows::new(&centroids, dim)?;
        assign.assign(data, cview, &mut next, &mut dist2)?;
        if iterations >= max_iter || converged {
            std::mem::swap(&mut labels, &mut next);
            break;
        }
        let mut counts = vec![0usize; k];
        for &l in &next {
            counts[l as usize] += 1;
        }
        reseed_empty(&mut next, &mut dist2, &mut counts);
        let changed = next != labels;
        std::mem::swap(&mut labels, &mut next);
        if !changed {
            break;
        }
        iterations += 1;
        let sums = labels
            .par_chunks(4096)
            .enumerate()
            .fold(
                || vec![0f64; k * dim],
                |mut acc, (b, ls)| {
                    for (r, &l) in ls.iter().enumerate() {
                        let s = &mut acc[l as usize * dim..(l as usize + 1) * dim];
                        for (a, &x) in s.iter_mut().zip(data.row(b * 4096 + r)) {
                            *a += x as f64;
                        }
                    }
                    acc
                },
            )
            .reduce(
                || vec![0f64; k * dim],
                |mut a, b| {
                    a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                    a
                },
            );
        // A re-seeded cluster holds exactly its new row, so its mean is that row.
        let mut shift = 0f64;
        for (c, &count) in counts.iter().enumerate() {
            if count == 0 {
                continue; // no row to take (too few distinct rows): keep the old centroid
            }
            let inv = 1.0 / count as f64;
            for j in 0..dim {
                let new = (sums[c * dim + j] * inv) as f32;
                shift += ((new - centroids[c * dim + j]) as f64).powi(2);
                centroids[c * dim + j] = new;
            }
        }
        converged = shift <= tol;
    }
    let objective = dist2.iter().map(|&d| d as f64).sum();
    Ok(Clustering {
        centroids,
        labels,
        objective,
        best_run: 0,
        iterations,
        k,
    })
}

/// Moves, for each empty cluster, the farthest row of a cluster with two or more members into it.
fn reseed_empty(labels: &mut [u32], dist2: &mut [f32], counts: &mut [usize]) {
    let empty: Vec<usize> = (0..counts.len()).filter(|&c| counts[c] == 0).collect();
    if empty.is_empty() {
        return;
    }
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.sort_by(|&a, &b| dist2[b].total_cmp(&dist2[a]).then(a.cmp(&b)));
    let mut it = order.into_iter();
    for c in empty {
        for row in it.by_ref() {
            let from = labels[row] as usize;
            if counts[from] >= 2 {
                counts[from] -= 1;
                counts[c] += 1;
                labels[row] = c as u32;
                dist2[row] = 0.0;
                break;
            }
        }
    }
}

/// Default range `--k auto` scans.
pub const DEFAULT_K_RANGE: RangeInclusive<usize> = 8..=60;

/// Default number of rows the silhouette is computed on.
pub const DEFAULT_SILHOUETTE_SAMPLE: usize = 1000;

/// One point of the curve `--k auto` chose from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// The k this point was fitted with, within the range scanned.
    pub k: usize,
    /// Mean silhouette on the sample (−1..1, higher is better).
    pub silhouette: f64,
    /// k-means objective on all rows, of the one start scanned.
    pub objective: f64,
    /// The criterion k is chosen by (higher is better); the silhouette when none is given.
    #[serde(default)]
    pub score: f64,
}

/// How `--k auto` chose k.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoK {
    /// The criterion, in words.
    pub criterion: String,
    /// Rows in the silhouette sample.
    pub sample: usize,
    /// Every k tried, in increasing order.
    pub curve: Vec<CurvePoint>,
    /// The k chosen: highest silhouette, smallest k on ties.
    pub chosen: usize,
}

/// A named score of a clustering, higher is better, by which `--k auto` chooses.
pub type Criterion<'a> = (&'a str, &'a dyn Fn(&Clustering) -> f64);

/// The k values `--k auto` tries: every k while the range is short (at most 24 values), else
/// every k up to 16 and then steps of about 8 % (16, 17, 19, 20, 22, … 56, 60): the reader
/// score moves slowly with k, so a finer grid costs time and changes nothing.
pub fn k_grid(lo: usize, hi: usize) -> Vec<usize> {
    if hi < lo {
        return Vec::new();
    }
    if hi - lo < 24 {
        return (lo..=hi).collect();
    }
    let mut out = Vec::new();
    let mut k = lo;
    while k <= hi {
        out.push(k);
        k = if k < 16 {
            k + 1
        } else {
            (k + 1).max((k as f64 * 1.08).round() as usize)
        };
    }
    if out.last() != Some(&hi) {
        out.push(hi);
    }
    out
}

/// `m` distinct rows out of `n`, chosen by a seeded shuffle, in increasing order.
pub fn seeded_sample(n: usize, m: usize, seed: u64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    if m < n {
        let mut rng = Xoshiro256Plus::seed_from_u64(seed ^ 0x9E37_79B9_7F4A_7C15);
        for i in 0..m {
            let j = i + (rng.next_u64() % (n - i) as u64) as usize;
            idx.swap(i, j);
        }
        idx.truncate(m);
        idx.sort_unstable();
    }
    idx
}

/// Euclidean distances between the sampled rows, row-major `[m, m]`.
pub fn sample_distances(data: Rows<'_>, sample: &[usize]) -> Vec<f32> {
    let m = sample.len();
    let mut out = vec![0f32; m * m];
    out.par_chunks_mut(m.max(1))
        .enumerate()
        .for_each(|(a, row)| {
            let x = data.row(sample[a]);
            for (b, d) in row.iter_mut().enumerate() {
                *d = squared_distance(x, data.row(sample[b])).max(0.0).sqrt();
            }
        });
    out
}

/// Mean silhouette of the sample under `labels` (of all rows), given the sample's distance
/// matrix; a sampled row alone in its cluster within the sample scores 0 (as scikit-learn).
pub fn silhouette(dist: &[f32], sample: &[usize], labels: &[u32], k: usize) -> f64 {
    let m = sample.len();
    if m < 2 || k < 2 {
        return 0.0;
    }
    let lab: Vec<usize> = sample.iter().map(|&i| labels[i] as usize).collect();
    let mut count = vec![0usize; k];
    for &l in &lab {
        count[l] += 1;
    }
    let total: f64 = (0..m)
        .into_par_iter()
        .map(|a| {
            let mut sums = vec![0f64; k];
            for b in 0..m {
                sums[lab[b]] += dist[a * m + b] as f64;
            }
            let own = lab[a];
            if count[own] < 2 {
                return 0.0;
            }
            let ai = sums[own] / (count[own] - 1) as f64;
            let bi = (0..k)
                .filter(|&c| c != own && count[c] > 0)
                .map(|c| sums[c] / count[c] as f64)
                .fold(f64::INFINITY, f64::min);
            if !bi.is_finite() {
                return 0.0;
            }
            let den = ai.max(bi);
            if den > 0.0 {
                (bi - ai) / den
            } else {
                0.0
            }
        })
        .sum();
    total / m as f64
}

/// Fits every k in `range` with one seeded start each, scores it by mean silhouette on a seeded
/// sample of `sample_size` rows, and refits the best k with `base.runs` starts (its first start
/// is the scanned one, so the refit is never worse); returns the curve and that clustering.
pub fn choose_k(
    data: Rows<'_>,
    range: RangeInclusive<usize>,
    base: &KMeansConfig,
    sample_size: usize,
    assign: &dyn Assign,
    criterion: Option<Criterion<'_>>,
) -> Result<(AutoK, Clustering), TopicsError> {
    let (lo, hi) = (*range.start(), *range.end());
    if data.is_empty() {
        return Err(TopicsError::Empty);
    }
    if lo < 2 || lo > hi {
        return Err(TopicsError::BadK(format!(
            "k range {lo}..{hi} is not a range of at least 2 clusters (write e.g. 8..40)"
        )));
    }
    // At least two papers per topic on average, or silhouettes mean little; clip the top of the
    // range to what the data allows and refuse a range that lies wholly beyond it.
    let distinct = distinct_rows(data, 2 * hi);
    let top = hi.min(distinct / 2);
    if top < lo {
        return Err(TopicsError::AutoRange {
            lo,
            hi,
            papers: data.len(),
            distinct,
        });
    }
    let clipped = if top < hi {
        format!(" (range clipped to {lo}..{top}: at least 2 distinct papers per topic)")
    } else {
        String::new()
    };
    let hi = top;
    let sample = seeded_sample(data.len(), sample_size.max(2), base.seed);
    let dist = sample_distances(data, &sample);
    let mut curve = Vec::with_capacity(hi - lo + 1);
    let mut best: Option<(f64, Clustering)> = None;
    for k in k_grid(lo, hi) {
        let cfg = KMeansConfig {
            k,
            runs: 1,
            ..base.clone()
        };
        let c = fit(data, &cfg, assign)?;
        let sil = silhouette(&dist, &sample, &c.labels, k);
        let score = criterion.map_or(sil, |(_, f)| f(&c));
        curve.push(CurvePoint {
            k,
            silhouette: sil,
            objective: c.objective,
            score,
        });
        if best.as_ref().is_none_or(|(b, _)| score > *b) {
            best = Some((score, c));
        }
    }
    let (_, mut clustering) = best.ok_or(TopicsError::KMeans {
        what: "empty k range",
        source: None,
    })?;
    if base.runs > 1 {
        let cfg = KMeansConfig {
            k: clustering.k(),
            ..base.clone()
        };
        clustering = fit(data, &cfg, assign)?;
    }
    let auto = AutoK {
        criterion: match criterion {
            Some((name, _)) => {
                format!("{name}; one k-means start per k; smallest k on ties{clipped}")
            }
            None => format!(
                "highest mean silhouette (Euclidean) on a seeded sample of {} papers, one k-means \
                 start per k; smallest k on ties{clipped}",
                sample.len()
            ),
        },
        sample: sample.len(),
        curve,
        chosen: clustering.k(),
    };
    Ok((auto, clustering))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three tight, well separated blobs in 4-D.
    fn blobs() -> Vec<f32> {
        let mut v = Vec::new();
        for c in 0..3 {
            for i in 0..10 {
                let mut p = [0f32; 4];
                p[c] = 10.0;
                p[3] = (i as f32) * 0.01;
                v.extend_from_slice(&p);
            }
        }
        v
    }

    #[test]
    fn blocked_assignment_equals_row_by_row() {
        // 1,000 rows (several blocks plus a partial one) of pseudo-random 37-D data, 23 centroids.
        let mut rng = Xoshiro256Plus::seed_from_u64(5);
        let (n, k, dim) = (1000, 23, 37);
        let data: Vec<f32> = (0..n * dim)
            .map(|_| uniform(&mut rng) as f32 - 0.5)
            .collect();
        let cents: Vec<f32> = (0..k * dim)
            .map(|_| uniform(&mut rng) as f32 - 0.5)
            .collect();
        let (rows, c) = (
            Rows::new(&data, dim).unwrap(),
            Rows::new(&cents, dim).unwrap(),
        );
        let (mut l1, mut d1) = (vec![0u32; n], vec![0f32; n]);
        let (mut l2, mut d2) = (vec![0u32; n], vec![0f32; n]);
        Direct.assign(rows, c, &mut l1, &mut d1).unwrap();
        Blocked.assign(rows, c, &mut l2, &mut d2).unwrap();
        assert_eq!(l1, l2);
        assert_eq!(
            d1, d2,
            "distances are recomputed directly, so they are identical"
        );
        assert!(l1.iter().collect::<std::collections::HashSet<_>>().len() > 10);
    }

    #[test]
    fn tolerance_stops_early_with_consistent_labels() {
        let mut rng = Xoshiro256Plus::seed_from_u64(9);
        let (n, dim) = (2000, 8);
        let data: Vec<f32> = (0..n * dim).map(|_| uniform(&mut rng) as f32).collect();
        let rows = Rows::new(&data, dim).unwrap();
        let seeds = kmeans_plus_plus(rows, 12, &mut rng, &Blocked).unwrap();
        let exact = lloyd(rows, seeds.clone(), 12, 300, 0.0, &Blocked).unwrap();
        let loose = lloyd(rows, seeds, 12, 300, 1e-2, &Blocked).unwrap();
        assert!(loose.iterations < exact.iterations);
        assert!(loose.objective <= exact.objective * 1.05);
        // Labels always name the nearest of the returned centroids.
        let c = Rows::new(&loose.centroids, dim).unwrap();
        let (mut l, mut d) = (vec![0u32; n], vec![0f32; n]);
        Direct.assign(rows, c, &mut l, &mut d).unwrap();
        assert_eq!(l, loose.labels);
    }

    #[test]
    fn lloyd_reaches_exact_means_and_objective() {
        let data = blobs();
        let rows = Rows::new(&data, 4).unwrap();
        let c = fit(rows, &KMeansConfig::new(3, 2, 1), &Direct).unwrap();
        assert_eq!(c.sizes(), vec![10, 10, 10]);
        let obj = objective(rows, Rows::new(&c.centroids, 4).unwrap(), &Direct).unwrap();
        assert!((obj - c.objective).abs() < 1e-6, "{obj} vs {}", c.objective);
    }

    #[test]
    fn empty_clusters_are_reseeded() {
        let data = blobs();
        let rows = Rows::new(&data, 4).unwrap();
        // Three identical starting centroids: two clusters start empty.
        let start: Vec<f32> = [0f32, 0.0, 0.0, 0.0].repeat(3);
        let c = lloyd(rows, start, 3, 100, 0.0, &Direct).unwrap();
        assert!(c.sizes().iter().all(|&s| s > 0), "{:?}", c.sizes());
    }

    #[test]
    fn silhouette_prefers_the_true_k() {
        let data = blobs();
        let rows = Rows::new(&data, 4).unwrap();
        let (auto, c) =
            choose_k(rows, 2..=6, &KMeansConfig::new(2, 2, 3), 30, &Direct, None).unwrap();
        assert_eq!(auto.chosen, 3, "{:?}", auto.curve);
        assert_eq!(c.k(), 3);
        assert_eq!(auto.curve.len(), 5);
    }

    #[test]
    fn sample_is_seeded_sorted_and_distinct() {
        let a = seeded_sample(100, 10, 7);
        assert_eq!(a, seeded_sample(100, 10, 7));
        assert_eq!(a.len(), 10);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(seeded_sample(5, 10, 7), vec![0, 1, 2, 3, 4]);
    }
}
