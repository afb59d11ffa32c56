//! A 2-D map that keeps neighbourhoods, so a topic shows as a region: Barnes-Hut t-SNE
//! (linfa-tsne), computed once per topics run and stored with the topics.
//!
//! PCA (the report's fallback) keeps only the two widest directions of a 384-d cloud, and the
//! topics of one field overlap there. t-SNE places each paper near its nearest neighbours. It is
//! fitted on at most [`FIT_SAMPLE`] papers (a seeded sample, with the sample's perplexity);
//! every other paper is placed at the similarity-weighted mean of its [`PLACE_NEIGHBOURS`]
//! nearest sampled papers (cosine of the unit vectors), which is linear in the archive
//! (measured in docs/topics.md: trustworthiness against PCA, time at 5,000 and 100,000 papers).
//! Coordinates are scaled to [0, 1] on both axes. Two runs on the same vectors do not give the
//! same map (see [`layout`]); the stored one is what every page draws.

use linfa::traits::Transformer;
use ndarray::Array2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::kmeans::{matmul_t, seeded_sample, Rows};
use super::TopicsError;

/// Papers t-SNE is fitted on; the rest are placed by their neighbours.
pub const FIT_SAMPLE: usize = 5_000;
/// Sampled neighbours that place a paper outside the sample.
pub const PLACE_NEIGHBOURS: usize = 5;
/// t-SNE perplexity (scikit-learn's default), lowered for small archives.
pub const PERPLEXITY: f64 = 30.0;
/// Gradient-descent iterations of each t-SNE fit (its `max_iter`).
pub const ITERATIONS: usize = 500;
/// Dimensions the vectors are reduced to (PCA) before t-SNE, as is usual: the neighbour search
/// of Barnes-Hut t-SNE degrades towards all pairs in 384 dimensions.
pub const PCA_DIMS: usize = 50;

/// The stored layout: one point per paper row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layout {
    /// How it was made, in words.
    pub method: String,
    /// Papers the layout was fitted on (the rest placed by neighbours).
    pub fitted: usize,
    /// `[x, y]` per paper row, each in [0, 1].
    pub xy: Vec<[f32; 2]>,
}

/// The t-SNE layout of `vectors` (unit rows); `None` when there are too few papers for
/// t-SNE to mean anything (fewer than 12), where the report's PCA serves.
pub fn layout(
    vectors: Rows<'_>,
    seed: u64,
    backend: &crate::vectors::VectorBackend,
) -> Result<Option<Layout>, TopicsError> {
    let n = vectors.len();
    let dim = vectors.dim();
    if n < 12 {
        return Ok(None);
    }
    let sample = seeded_sample(n, FIT_SAMPLE.min(n), seed);
    let mut rows = Vec::with_capacity(sample.len() * dim);
    for &r in &sample {
        rows.extend_from_slice(vectors.row(r));
    }
    let reduced = backend.project(&rows, dim, PCA_DIMS.min(dim));
    let out_dim = reduced.len() / sample.len().max(1);
    let data = Array2::from_shape_vec((sample.len(), out_dim), reduced)
        .map_err(|e| TopicsError::BadParam(format!("map: {e}")))?;
    // t-SNE needs 3 · perplexity < n − 1.
    let perplexity = PERPLEXITY
        .min((sample.len() as f64 - 1.0) / 3.0 - 0.5)
        .max(2.0);
    // Not reproducible run to run: linfa-tsne seeds its starting points, but bhtsne (under it)
    // picks the vantage points of its neighbour tree with an unseeded generator, so equally
    // near neighbours come in another order and a few hundred papers already drift apart
    // (by up to 1.4 of the unit square between identical runs). The layout is therefore stored
    // with the topics, and the report and the explorer draw that stored layout until `topics`
    // runs again.
    let fitted = linfa_tsne::TSneParams::embedding_size(2)
        .perplexity(perplexity)
        .approx_threshold(0.8)
        .max_iter(ITERATIONS)
        .transform(data)
        .map_err(|e| TopicsError::BadParam(format!("map: t-SNE: {e}")))?;
    let mut xy = vec![[0f32; 2]; n];
    for (i, &r) in sample.iter().enumerate() {
        xy[r] = [fitted[[i, 0]] as f32, fitted[[i, 1]] as f32];
    }
    if sample.len() < n {
        let mut in_sample = vec![false; n];
        for &r in &sample {
            in_sample[r] = true;
        }
        let rest: Vec<usize> = (0..n).filter(|&r| !in_sample[r]).collect();
        let coords: Vec<[f64; 2]> = (0..sample.len())
            .map(|i| [fitted[[i, 0]], fitted[[i, 1]]])
            .collect();
        for (r, p) in place(vectors, &sample, &coords, &rest) {
            xy[r] = p;
        }
    }
    for axis in 0..2 {
        let lo = xy.iter().map(|p| p[axis]).fold(f32::INFINITY, f32::min);
        let hi = xy.iter().map(|p| p[axis]).fold(f32::NEG_INFINITY, f32::max);
        let span = (hi - lo).max(1e-12);
        for p in &mut xy {
            p[axis] = (p[axis] - lo) / span;
        }
    }
    Ok(Some(Layout {
        method: format!(
            "Barnes-Hut t-SNE (linfa-tsne, perplexity {perplexity:.0}, {ITERATIONS} iterations, on \
             the {PCA_DIMS} principal components) of {} papers{}",
            sample.len(),
            if sample.len() < n {
                format!(
                    "; the other {} placed at the mean of their {PLACE_NEIGHBOURS} nearest sampled papers",
                    n - sample.len()
                )
            } else {
                String::new()
            }
        ),
        fitted: sample.len(),
        xy,
    }))
}

/// The layout of `vectors` where the papers of `kept` (row, point) keep their place and every
/// other paper is placed at the mean of its nearest kept papers (an incremental update).
pub fn extend(
    vectors: Rows<'_>,
    kept: &[(usize, [f32; 2])],
    method: &str,
) -> Result<Layout, TopicsError> {
    let n = vectors.len();
    let mut xy = vec![[0f32; 2]; n];
    let mut known = vec![false; n];
    for &(r, p) in kept {
        xy[r] = p;
        known[r] = true;
    }
    let rows: Vec<usize> = kept.iter().map(|&(r, _)| r).collect();
    let coords: Vec<[f64; 2]> = kept
        .iter()
        .map(|&(_, p)| [p[0] as f64, p[1] as f64])
        .collect();
    let rest: Vec<usize> = (0..n).filter(|&r| !known[r]).collect();
    for (r, p) in place(vectors, &rows, &coords, &rest) {
        xy[r] = p;
    }
    Ok(Layout {
        method: format!("{method}; papers added later placed by their nearest neighbours"),
        fitted: kept.len(),
        xy,
    })
}

/// Places each row of `rest` at the similarity-weighted mean of the points of its
/// [`PLACE_NEIGHBOURS`] most similar rows among `anchors` (whose points are `coords`).
/// Similarities come by blocks of a matrix product: 100,000 papers against 5,000 anchors cost
/// about two seconds instead of minutes of dot products.
fn place(
    vectors: Rows<'_>,
    anchors: &[usize],
    coords: &[[f64; 2]],
    rest: &[usize],
) -> Vec<(usize, [f32; 2])> {
    const BLOCK: usize = 256;
    let (m, dim) = (anchors.len(), vectors.dim());
    if m == 0 {
        return rest.iter().map(|&r| (r, [0.5, 0.5])).collect();
    }
    let anchor_rows: Vec<f32> = anchors
        .iter()
        .flat_map(|&s| vectors.row(s).iter().copied())
        .collect();
    rest.par_chunks(BLOCK)
        .flat_map_iter(|rows| {
            let block: Vec<f32> = rows
                .iter()
                .flat_map(|&r| vectors.row(r).iter().copied())
                .collect();
            let mut sims = vec![0f32; rows.len() * m];
            matmul_t(&block, rows.len(), &anchor_rows, m, dim, &mut sims);
            rows.iter()
                .zip(sims.chunks_exact(m))
                .map(|(&r, row)| {
                    let mut best: Vec<(f32, usize)> = Vec::with_capacity(PLACE_NEIGHBOURS + 1);
                    for (i, &sim) in row.iter().enumerate() {
                        if best.len() < PLACE_NEIGHBOURS || sim > best[best.len() - 1].0 {
                            best.push((sim, i));
                            best.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                            best.truncate(PLACE_NEIGHBOURS);
                        }
                    }
                    let (mut x, mut y, mut w) = (0f64, 0f64, 0f64);
                    for &(sim, i) in &best {
                        let wt = (sim.max(0.0) as f64).powi(4) + 1e-9;
                        x += wt * coords[i][0];
                        y += wt * coords[i][1];
                        w += wt;
                    }
                    (r, [(x / w) as f32, (y / w) as f32])
                })
                .collect::<Vec<_>>()
        })
        .collect()
}
