//! Approximate related-papers for very large archives: an HNSW graph (usearch) over the index
//! vectors, queried once per paper.
//!
//! The exact [`super::related_all`] costs N² dot products: fine to ~100k papers on a laptop,
//! about 80 minutes at 1M on two cores. The graph answers each paper in about `ef · log N`
//! distance evaluations instead. The neighbour *sets* are approximate (recall is measured by
//! `benches/scale.rs --ann` against the exact path); the *scores* are recomputed exactly in f64
//! for the neighbours found, so a pair's score is the same whichever path found it.
//!
//! The graph is saved next to the index (`ann.usearch` plus `ann.json`, which records what it
//! was built from) and rebuilt only when the vectors or the parameters change.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use usearch::{Index as Hnsw, IndexOptions, MetricKind, ScalarKind};

use super::{Hit, VectorError};

/// HNSW parameters. The defaults reach recall@10 0.994 at 1M archive-like vectors
/// (`benches/scale.rs --ann --mix`; see docs/performance.md, Scaling). Degree 32 with `expansion_add` 128 builds
/// 2-3x faster but gets 0.967 there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnParams {
    /// Graph degree (usearch `connectivity`, HNSW `M`).
    pub connectivity: usize,
    /// Candidate list while building (`ef_construction`).
    pub expansion_add: usize,
    /// Candidate list while searching (`ef`); raised to `k + 1` when smaller.
    pub expansion_search: usize,
}

impl Default for AnnParams {
    fn default() -> Self {
        AnnParams {
            connectivity: 64,
            expansion_add: 256,
            expansion_search: 64,
        }
    }
}

/// What a saved graph was built from (`ann.json`): the index's stamp and the graph's build
/// parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    index: crate::index::Stamp,
    dim: usize,
    connectivity: usize,
    expansion_add: usize,
}

/// An HNSW graph over a set of unit vectors, keyed by row.
pub struct Ann {
    hnsw: Hnsw,
    rows: usize,
    dim: usize,
}

fn ann_err(what: &str, e: impl std::fmt::Display) -> VectorError {
    // usearch's errors are C++ exceptions carried as text: kept as the cause.
    VectorError::Ann {
        what: what.to_string(),
        source: Some(e.to_string().into()),
    }
}

fn ann_fail(what: String) -> VectorError {
    VectorError::Ann { what, source: None }
}

fn options(dim: usize, p: &AnnParams) -> IndexOptions {
    IndexOptions {
        dimensions: dim,
        // Unit vectors: inner-product distance 1 − cos, without usearch renormalising each one.
        metric: MetricKind::IP,
        quantization: ScalarKind::F32,
        connectivity: p.connectivity,
        expansion_add: p.expansion_add,
        expansion_search: p.expansion_search,
        multi: false,
    }
}

impl Ann {
    /// Builds the graph over `vectors` (`rows × dim`, row-major), inserting on all rayon threads.
    pub fn build(vectors: &[f32], dim: usize, params: &AnnParams) -> Result<Ann, VectorError> {
        let rows = super::dense::rows("index vectors", vectors, dim)?;
        let hnsw =
            Hnsw::new(&options(dim, params)).map_err(|e| ann_err("creating the graph", e))?;
        hnsw.reserve_capacity_and_threads(rows, rayon::current_num_threads())
            .map_err(|e| ann_err("reserving the graph", e))?;
        vectors
            .par_chunks(dim)
            .enumerate()
            .try_for_each(|(row, v)| hnsw.add(row as u64, v))
            .map_err(|e| ann_err("adding a vector", e))?;
        Ok(Ann { hnsw, rows, dim })
    }

    /// The graph saved in the index directory `dir` if it was built from the index of stamp
    /// `index` ([`crate::index::Index::stamp`]) with these parameters, otherwise a new one over
    /// `vectors`, saved there. Returns whether it was rebuilt.
    pub fn open_or_build(
        dir: &Path,
        index: &crate::index::Stamp,
        vectors: &[f32],
        dim: usize,
        params: &AnnParams,
    ) -> Result<(Ann, bool), VectorError> {
        let rows = super::dense::rows("index vectors", vectors, dim)?;
        let stamp = Stamp {
            index: index.clone(),
            dim,
            connectivity: params.connectivity,
            expansion_add: params.expansion_add,
        };
        let (graph, meta) = (dir.join("ann.usearch"), dir.join("ann.json"));
        let saved: Option<Stamp> = std::fs::read(&meta)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        if saved.as_ref() == Some(&stamp) {
            if let Ok(ann) = Ann::load(&graph, rows, dim, params) {
                return Ok((ann, false));
            }
        }
        let ann = Ann::build(vectors, dim, params)?;
        ann.save(&graph)?;
        let json = serde_json::to_vec_pretty(&stamp).map_err(|e| ann_err("ann.json", e))?;
        crate::atomic::write_with(&meta, |tmp| std::fs::write(tmp, &json))
            .map_err(|e| ann_err(&meta.display().to_string(), e))?;
        Ok((ann, true))
    }

    fn load(path: &Path, rows: usize, dim: usize, params: &AnnParams) -> Result<Ann, VectorError> {
        let hnsw =
            Hnsw::new(&options(dim, params)).map_err(|e| ann_err("creating the graph", e))?;
        hnsw.load(&path_str(path)?)
            .map_err(|e| ann_err(&path.display().to_string(), e))?;
        hnsw.change_expansion_search(params.expansion_search);
        if hnsw.size() != rows || hnsw.dimensions() != dim {
            return Err(ann_fail(format!(
                "{}: holds {} vectors of dimension {}, expected {rows} of {dim}",
                path.display(),
                hnsw.size(),
                hnsw.dimensions()
            )));
        }
        Ok(Ann { hnsw, rows, dim })
    }

    /// Writes the graph to `path` (through a temporary file, so a crash leaves the old one).
    pub fn save(&self, path: &Path) -> Result<(), VectorError> {
        let tmp: PathBuf = path.with_extension("usearch.tmp");
        self.hnsw
            .save(&path_str(&tmp)?)
            .map_err(|e| ann_err(&tmp.display().to_string(), e))?;
        std::fs::rename(&tmp, path).map_err(|e| ann_err(&path.display().to_string(), e))
    }

    /// Sets the search candidate list (`ef`).
    pub fn set_expansion_search(&self, ef: usize) {
        self.hnsw.change_expansion_search(ef);
    }

    /// The `k` approximate nearest other rows of every row, best first, with exact cosine scores.
    pub fn related_all(&self, vectors: &[f32], k: usize) -> Result<Vec<Vec<Hit>>, VectorError> {
        if k == 0 {
            return Err(VectorError::ZeroK);
        }
        let rows = super::dense::rows("index vectors", vectors, self.dim)?;
        if rows != self.rows {
            return Err(VectorError::Mismatch {
                what: "vectors in the approximate index",
                expected: self.rows,
                found: rows,
            });
        }
        let dim = self.dim;
        if self.hnsw.expansion_search() < k + 1 {
            self.hnsw.change_expansion_search(k + 1);
        }
        (0..rows)
            .into_par_iter()
            .map(|row| {
                let q = &vectors[row * dim..(row + 1) * dim];
                let m = self
                    .hnsw
                    .search(q, k + 1)
                    .map_err(|e| ann_err("searching the graph", e))?;
                let mut hits: Vec<Hit> = m
                    .keys
                    .iter()
                    .map(|&key| key as usize)
                    .filter(|&r| r != row && r < rows)
                    .map(|r| Hit {
                        row: r,
                        score: exact_dot(q, &vectors[r * dim..(r + 1) * dim]),
                    })
                    .collect();
                // Exact scores may reorder near-ties the graph's f32 distances ranked otherwise;
                // ties go to the lower row, as in the exact path.
                hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.row.cmp(&b.row)));
                hits.truncate(k);
                Ok(hits)
            })
            .collect()
    }
}

fn exact_dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| *x as f64 * *y as f64)
        .sum::<f64>() as f32
}

fn path_str(p: &Path) -> Result<String, VectorError> {
    p.to_str()
        .map(str::to_string)
        .ok_or_else(|| ann_fail(format!("{}: path is not UTF-8", p.display())))
}

/// Mean over rows of |approximate ∩ exact| / |exact| (recall@k of the approximate lists).
pub fn recall(approx: &[Vec<Hit>], exact: &[Vec<Hit>]) -> f64 {
    let mut sum = 0.0;
    for (a, e) in approx.iter().zip(exact) {
        if e.is_empty() {
            sum += 1.0;
            continue;
        }
        let found = e
            .iter()
            .filter(|h| a.iter().any(|x| x.row == h.row))
            .count();
        sum += found as f64 / e.len() as f64;
    }
    sum / exact.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Clustered unit vectors, like paper embeddings: 40 centres, each row a centre plus noise.
    fn clustered(n: usize, dim: usize) -> Vec<f32> {
        let centres = crate::test_rng::unit_vectors(40, dim, 7);
        let noise = crate::test_rng::unit_vectors(n, dim, 8);
        let mut v = Vec::with_capacity(n * dim);
        for r in 0..n {
            let c = &centres[(r % 40) * dim..(r % 40 + 1) * dim];
            let z = &noise[r * dim..(r + 1) * dim];
            let row: Vec<f32> = c.iter().zip(z).map(|(a, b)| a + 0.6 * b).collect();
            let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.extend(row.iter().map(|x| x / norm));
        }
        v
    }

    #[test]
    fn approximate_related_finds_the_exact_neighbours() {
        let (n, dim, k) = (3000, 48, 10);
        let v = clustered(n, dim);
        let exact = super::super::dense::related_all(&v, dim, k).unwrap();
        let ann = Ann::build(&v, dim, &AnnParams::default()).unwrap();
        let approx = ann.related_all(&v, k).unwrap();
        assert_eq!(approx.len(), n);
        for (row, hits) in approx.iter().enumerate() {
            assert_eq!(hits.len(), k);
            assert!(hits.iter().all(|h| h.row != row), "row {row} lists itself");
            assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
        }
        let r = recall(&approx, &exact);
        assert!(r >= 0.99, "recall@{k} {r}");
        // A found neighbour carries the exact score.
        let (a, e) = (&approx[5][0], &exact[5][0]);
        if a.row == e.row {
            assert!((a.score - e.score).abs() < 1e-5, "{a:?} vs {e:?}");
        }
        // A starved search (ef = k + 1 on a degree-2 graph) is measurably worse: recall is real.
        let weak = AnnParams {
            connectivity: 2,
            expansion_add: 2,
            expansion_search: 1,
        };
        let poor = Ann::build(&v, dim, &weak)
            .unwrap()
            .related_all(&v, k)
            .unwrap();
        assert!(
            recall(&poor, &exact) < r,
            "weak graph as good as the default"
        );
    }

    #[test]
    fn saved_graph_is_reused_only_for_the_same_index() {
        let dir = tempfile::tempdir().unwrap();
        let (n, dim) = (500, 16);
        let v = clustered(n, dim);
        let p = AnnParams::default();
        let stamp = crate::index::Stamp {
            generation: None,
            model_fingerprint: "sha256:m".into(),
            mode: crate::embed::Mode::F32,
            text_recipe: crate::index::TextRecipe::Summary,
            papers: n,
            papers_crc32: Some(1),
        };
        let (a, built) = Ann::open_or_build(dir.path(), &stamp, &v, dim, &p).unwrap();
        assert!(built);
        let first = a.related_all(&v, 5).unwrap();
        let (b, built) = Ann::open_or_build(dir.path(), &stamp, &v, dim, &p).unwrap();
        assert!(!built, "same index: the saved graph is loaded");
        assert_eq!(b.related_all(&v, 5).unwrap(), first);
        let mut changed = v.clone();
        changed.swap(0, dim);
        let other = crate::index::Stamp {
            papers_crc32: Some(2),
            ..stamp.clone()
        };
        let (_, built) = Ann::open_or_build(dir.path(), &other, &changed, dim, &p).unwrap();
        assert!(built, "changed papers: rebuilt");
        let wider = AnnParams {
            connectivity: p.connectivity * 2,
            ..p
        };
        let (_, built) = Ann::open_or_build(dir.path(), &other, &changed, dim, &wider).unwrap();
        assert!(built, "other parameters: rebuilt");
        // A damaged graph file is rebuilt, not trusted.
        std::fs::write(dir.path().join("ann.usearch"), b"garbage").unwrap();
        let (_, built) = Ann::open_or_build(dir.path(), &other, &changed, dim, &wider).unwrap();
        assert!(built, "damaged file: rebuilt");
    }
}
