//! Vector work, on whichever backend runs it: exact top-k by cosine ([`dense`] on the CPU,
//! [`device_topk`] on a candle device), approximate neighbours ([`ann`], an HNSW graph), the
//! k-means assignment step ([`assign`]) and the principal-component projection ([`project`]).
//!
//! [`VectorBackend`] is built once from `--device` and `--ann` and handed to every stage that
//! does vector work (related papers, search, k-means, the summary check, the map), so no
//! command chooses an implementation itself and a new backend is a new variant here.
//!
//! Sits above [`crate::index`] and below search and topics: it knows vectors, not papers.

#[cfg(feature = "ann")]
pub mod ann;
pub mod assign;
pub mod dense;
pub mod device_assign;
pub mod device_topk;
pub mod int8_scan;
pub mod project;

use std::path::{Path, PathBuf};

use candle_core::Device;
use serde::Serialize;

/// Candidate rows [`VectorBackend::top_k_among`] gathers at a time: its copy (and the
/// tensor the blocked product makes of it) stays at 192 MiB each at 384 dimensions, where the
/// brief's related papers gathered every earlier paper of a million-paper index (1.4 GB, and
/// as much again for the tensor).
pub const AMONG_CHUNK: usize = 131_072;

use assign::Assign;

/// One result: an index row and its score (cosine, BM25 or fused, by mode).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Hit {
    /// Row of the paper in the index.
    pub row: usize,
    /// Score; higher is better.
    pub score: f32,
}

/// Errors of vector work.
#[derive(Debug, thiserror::Error)]
pub enum VectorError {
    /// A top-k search asked for no results (`k` = 0); the message names the CLI's `-k`.
    #[error("-k must be at least 1")]
    ZeroK,
    /// A flat vector buffer does not hold whole rows of the expected dimension.
    #[error("{what}: {len} values are not whole rows of dimension {dim}")]
    Shape {
        /// The buffer's name, printed first (`index vectors`, `query vectors`).
        what: &'static str,
        /// Its length in f32 values, not rows.
        len: usize,
        /// The row dimension it should divide into (zero is refused as well).
        dim: usize,
    },
    /// Two inputs that must agree in size do not.
    #[error("{what}: expected {expected}, found {found}")]
    Mismatch {
        /// What disagrees, printed first (`query vector dimension`, `paper row`).
        what: &'static str,
        /// The size required, or the number of rows when a row index is out of range.
        expected: usize,
        /// The size found, or the out-of-range row index itself.
        found: usize,
    },
    /// The approximate (HNSW) index could not be built, saved, loaded or searched.
    #[error("approximate index: {what}")]
    Ann {
        /// What was being done, naming the file where one is involved.
        what: String,
        /// What usearch reported, when it reported something.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A matrix product on a candle device failed.
    #[error("matrix product")]
    Compute(#[from] candle_core::Error),
}

/// Where vector work runs, chosen once from `--device` and `--ann` and passed to every stage
/// that does any: exact top-k ([`VectorBackend::top_k`]), related papers of every paper
/// ([`VectorBackend::related_all`]), the k-means assignment ([`VectorBackend::assigner`]) and
/// the projection of the map ([`VectorBackend::project`]).
pub enum VectorBackend {
    /// Exact, on the CPU: heap top-k over blocked dot products, `gemm` blocks for k-means.
    Cpu,
    /// Exact, on a candle device (CUDA): score blocks and k-means distances as matrix products
    /// there; only ids and scores come back.
    Device(device_assign::DeviceAssign),
    /// Related papers of every paper from an HNSW graph kept beside the index (approximate
    /// neighbours, exact scores); everything else exact on the CPU.
    #[cfg(feature = "ann")]
    Hnsw(ann::AnnParams),
}

/// What [`VectorBackend::related_all`] found, and the graph it used if any.
pub struct RelatedAll {
    /// Every row's nearest other rows, best first.
    pub hits: Vec<Vec<Hit>>,
    /// The HNSW graph's file and whether it was built by this call (`None`: exact).
    pub graph: Option<(PathBuf, bool)>,
}

impl VectorBackend {
    /// The backend of `device` (exact); with `ann`, related-for-all from an HNSW graph, which
    /// runs on the CPU only.
    #[cfg(feature = "ann")]
    pub fn new(device: Device, ann: Option<ann::AnnParams>) -> Result<Self, VectorError> {
        match ann {
            Some(_) if !device.is_cpu() => Err(VectorError::Ann {
                what: "the HNSW graph runs on the CPU; leave out --device".into(),
                source: None,
            }),
            Some(params) => Ok(VectorBackend::Hnsw(params)),
            None => Ok(VectorBackend::on(device)),
        }
    }

    /// The exact backend of `device`: the CPU's own code on the CPU, candle's ops elsewhere.
    pub fn on(device: Device) -> Self {
        if device.is_cpu() {
            VectorBackend::Cpu
        } else {
            VectorBackend::Device(device_assign::DeviceAssign::new(device))
        }
    }

    /// The candle device the work runs on.
    pub fn device(&self) -> Device {
        match self {
            VectorBackend::Device(d) => d.device().clone(),
            _ => Device::Cpu,
        }
    }

    /// Whether related papers are exact (no graph).
    pub fn is_exact(&self) -> bool {
        match self {
            #[cfg(feature = "ann")]
            VectorBackend::Hnsw(_) => false,
            _ => true,
        }
    }

    /// Exact top-`k` rows of `vectors` (`[n, dim]`) by cosine for each query, best first (ties
    /// to the lower row); `exclude[q]` is a row left out of query `q`'s answer.
    pub fn top_k(
        &self,
        vectors: &[f32],
        dim: usize,
        queries: &[f32],
        k: usize,
        exclude: Option<&[usize]>,
    ) -> Result<Vec<Vec<Hit>>, VectorError> {
        match self {
            VectorBackend::Device(d) => {
                device_topk::top_k_on_device(d.device(), vectors, dim, queries, k, exclude)
            }
            _ => dense::top_k(vectors, dim, queries, k, exclude),
        }
    }

    /// [`VectorBackend::top_k`] among `candidates` only (rows of `vectors`, e.g. the papers
    /// dated before a day: the brief's related papers), best first; the hits name those rows.
    ///
    /// The candidates' vectors are gathered into a contiguous buffer, [`AMONG_CHUNK`] rows at a
    /// time, and searched with [`VectorBackend::top_k`], so blocking, parallelism and ties
    /// (lower row first) are the same; each chunk's hits are merged into the running top `k`.
    /// Candidates may come in any order and repeat; a row outside the index is a
    /// [`VectorError::Mismatch`].
    pub fn top_k_among(
        &self,
        vectors: &[f32],
        dim: usize,
        queries: &[f32],
        candidates: &[usize],
        k: usize,
    ) -> Result<Vec<Vec<Hit>>, VectorError> {
        self.top_k_among_in(vectors, dim, queries, candidates, k, AMONG_CHUNK)
    }

    fn top_k_among_in(
        &self,
        vectors: &[f32],
        dim: usize,
        queries: &[f32],
        candidates: &[usize],
        k: usize,
        chunk: usize,
    ) -> Result<Vec<Vec<Hit>>, VectorError> {
        let mut sorted = candidates.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let mut best: Vec<Vec<Hit>> = Vec::new();
        for part in sorted.chunks(chunk.max(1)) {
            let (rows_kept, sub) = dense::gather(vectors, dim, part)?;
            let mut hits = self.top_k(&sub, dim, queries, k, None)?;
            dense::renumber(&mut hits, &rows_kept);
            if best.is_empty() {
                best = hits;
                continue;
            }
            for (b, h) in best.iter_mut().zip(hits) {
                b.extend(h);
                b.sort_by(|x, y| y.score.total_cmp(&x.score).then(x.row.cmp(&y.row)));
                b.truncate(k);
            }
        }
        if best.is_empty() {
            // No candidates: what the search over none answers (an empty list per query).
            return self.top_k(&[], dim, queries, k, None);
        }
        Ok(best)
    }

    /// Every row's `k` nearest other rows; with [`VectorBackend::Hnsw`], from the graph saved in
    /// `dir` for the index of `stamp` (rebuilt when the index changed).
    #[cfg_attr(not(feature = "ann"), allow(unused_variables))]
    pub fn related_all(
        &self,
        vectors: &[f32],
        dim: usize,
        k: usize,
        dir: &Path,
        stamp: &crate::index::Stamp,
    ) -> Result<RelatedAll, VectorError> {
        match self {
            #[cfg(feature = "ann")]
            VectorBackend::Hnsw(params) => {
                let (graph, built) = ann::Ann::open_or_build(dir, stamp, vectors, dim, params)?;
                Ok(RelatedAll {
                    hits: graph.related_all(vectors, k)?,
                    graph: Some((dir.join("ann.usearch"), built)),
                })
            }
            _ => {
                let n = vectors.len().checked_div(dim).unwrap_or(0);
                let exclude: Vec<usize> = (0..n).collect();
                Ok(RelatedAll {
                    hits: self.top_k(vectors, dim, vectors, k, Some(&exclude))?,
                    graph: None,
                })
            }
        }
    }

    /// `vectors` prepared for many dense passes (a server's searches): on the CPU their int8
    /// copy ([`int8_scan::Int8Matrix`], a quarter of the bytes per pass, exact answers); on a
    /// device, its exact top-k.
    pub fn dense_scan(&self, vectors: &[f32], dim: usize) -> Result<DenseScan, VectorError> {
        Ok(match self {
            VectorBackend::Device(d) => DenseScan::Device(d.device().clone()),
            _ => DenseScan::Int8(int8_scan::Int8Matrix::build(vectors, dim)?),
        })
    }

    /// The assignment step of k-means on this backend.
    pub fn assigner(&self) -> &dyn Assign {
        match self {
            VectorBackend::Device(d) => d,
            _ => assign::default_assign(),
        }
    }

    /// The rows projected on their `out` principal components (see
    /// [`project::principal_components`]); a 384 × 384 covariance, so the CPU's on every
    /// backend.
    pub fn project(&self, rows: &[f32], dim: usize, out: usize) -> Vec<f64> {
        project::principal_components(rows, dim, out)
    }
}

/// A matrix prepared by [`VectorBackend::dense_scan`] for repeated exact top-k passes.
pub enum DenseScan {
    /// The CPU's int8 copy with its exact re-rank.
    Int8(int8_scan::Int8Matrix),
    /// Exact top-k on a candle device.
    Device(Device),
}

impl DenseScan {
    /// Exact top-`k` rows of `vectors` (the matrix this scan was prepared from) for each query,
    /// best first: [`VectorBackend::top_k`]'s answer.
    pub fn top_k(
        &self,
        vectors: &[f32],
        dim: usize,
        queries: &[f32],
        k: usize,
    ) -> Result<Vec<Vec<Hit>>, VectorError> {
        match self {
            DenseScan::Int8(m) => m.top_k(vectors, queries, k),
            DenseScan::Device(d) => device_topk::top_k_on_device(d, vectors, dim, queries, k, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::unit_vectors;

    #[test]
    fn top_k_among_in_chunks_answers_as_in_one() {
        let (n, dim) = (300, 16);
        let mut v = unit_vectors(n, dim, 11);
        let q = unit_vectors(6, dim, 12);
        // Duplicated vectors, so ties cross chunk boundaries (the lower row must come first).
        let copy: Vec<f32> = v[5 * dim..6 * dim].to_vec();
        v[250 * dim..251 * dim].copy_from_slice(&copy);
        // Out of order, with repeats.
        let mut cands: Vec<usize> = (0..n).filter(|r| r % 2 == 1 || *r == 250).rev().collect();
        cands.extend([7, 7, 299, 5]);
        let cpu = VectorBackend::Cpu;
        let whole = cpu
            .top_k_among_in(&v, dim, &q, &cands, 9, usize::MAX)
            .unwrap();
        assert!(whole[0].iter().all(|h| cands.contains(&h.row)));
        for chunk in [1, 7, 64, 151] {
            let parts = cpu.top_k_among_in(&v, dim, &q, &cands, 9, chunk).unwrap();
            assert_eq!(parts, whole, "chunks of {chunk}");
        }
        // A candidate outside the index is refused whatever the chunk; no candidates, no hits.
        assert!(cpu.top_k_among_in(&v, dim, &q, &[3, n], 2, 1).is_err());
        let none = cpu.top_k_among_in(&v, dim, &q, &[], 2, 7).unwrap();
        assert_eq!(none, vec![Vec::<Hit>::new(); 6]);
    }

    #[test]
    fn every_exact_backend_gives_the_same_answers() {
        // The device backend on the CPU device runs the CUDA code path (candle's ops): same
        // rows and scores as the CPU's heap search, and k-means assigns the same way.
        let (n, dim) = (300, 16);
        let v = unit_vectors(n, dim, 3);
        let cpu = VectorBackend::Cpu;
        let dev = VectorBackend::Device(device_assign::DeviceAssign::new(Device::Cpu));
        let q = &v[..10 * dim];
        let a = cpu.top_k(&v, dim, q, 7, None).unwrap();
        let b = dev.top_k(&v, dim, q, 7, None).unwrap();
        for (x, y) in a.iter().zip(&b) {
            let rows = |h: &Vec<Hit>| h.iter().map(|h| h.row).collect::<Vec<_>>();
            assert_eq!(rows(x), rows(y));
            for (p, q) in x.iter().zip(y) {
                assert!((p.score - q.score).abs() < 1e-5);
            }
        }
        // Among candidates: the same on both, and only candidates come back.
        let cands: Vec<usize> = (0..n).filter(|r| r % 3 == 0).collect();
        let a = cpu.top_k_among(&v, dim, q, &cands, 5).unwrap();
        let b = dev.top_k_among(&v, dim, q, &cands, 5).unwrap();
        let rows = |h: &[Vec<Hit>]| -> Vec<Vec<usize>> {
            h.iter()
                .map(|x| x.iter().map(|h| h.row).collect())
                .collect()
        };
        assert_eq!(rows(&a), rows(&b));
        assert!(a.iter().flatten().all(|h| h.row % 3 == 0));
        // A server's prepared scan: the CPU's int8 copy gives the heap search's answer exactly,
        // the device's scan the device's top-k.
        let want = cpu.top_k(&v, dim, q, 9, None).unwrap();
        let int8 = cpu.dense_scan(&v, dim).unwrap();
        assert!(matches!(int8, DenseScan::Int8(_)));
        assert_eq!(int8.top_k(&v, dim, q, 9).unwrap(), want);
        let on_dev = dev.dense_scan(&v, dim).unwrap();
        assert!(matches!(on_dev, DenseScan::Device(_)));
        assert_eq!(
            rows(&on_dev.top_k(&v, dim, q, 9).unwrap()),
            rows(&dev.top_k(&v, dim, q, 9, None).unwrap())
        );
        let stamp_dir = std::env::temp_dir();
        let stamp = crate::index::Stamp {
            generation: None,
            model_fingerprint: String::new(),
            mode: crate::embed::Mode::F32,
            text_recipe: crate::index::TextRecipe::Summary,
            papers: n,
            papers_crc32: None,
        };
        let all = cpu.related_all(&v, dim, 5, &stamp_dir, &stamp).unwrap();
        assert!(all.graph.is_none() && cpu.is_exact());
        assert_eq!(all.hits.len(), n);
        assert!(all
            .hits
            .iter()
            .enumerate()
            .all(|(i, h)| h.iter().all(|h| h.row != i)));
        let rows = assign::Rows::new(&v, dim).unwrap();
        let cents = assign::Rows::new(&v[..8 * dim], dim).unwrap();
        let (mut l1, mut d1) = (vec![0u32; n], vec![0f32; n]);
        let (mut l2, mut d2) = (vec![0u32; n], vec![0f32; n]);
        cpu.assigner()
            .assign(rows, cents, &mut l1, &mut d1)
            .unwrap();
        dev.assigner()
            .assign(rows, cents, &mut l2, &mut d2)
            .unwrap();
        assert_eq!(l1, l2);
    }

    #[cfg(feature = "ann")]
    #[test]
    fn the_graph_runs_on_the_cpu_only() {
        let p = ann::AnnParams::default();
        assert!(VectorBackend::new(Device::Cpu, Some(p)).is_ok_and(|b| !b.is_exact()));
        assert!(VectorBackend::new(Device::Cpu, None).is_ok_and(|b| b.is_exact()));
    }
}
