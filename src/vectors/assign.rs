//! The assignment step of k-means on a backend: each row's nearest centroid, and the distances
//! of all rows to a few candidate points (k-means++ seeding). [`Blocked`] is the CPU's (blocks
//! of rows against all centroids as one matrix product, exact), [`Direct`] the row-by-row
//! reference it is tested against, and [`super::device_assign::DeviceAssign`] a candle
//! device's.

use rayon::prelude::*;

use super::VectorError;
pub(crate) use crate::embed::kernels::matmul_t;
use crate::text::vector::{dot, squared_distance};

/// A row-major `[rows, dim]` matrix of f32, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct Rows<'a> {
    data: &'a [f32],
    dim: usize,
}

impl<'a> Rows<'a> {
    /// Wraps `data`; fails unless `dim > 0` and `data.len()` is a multiple of `dim`.
    pub fn new(data: &'a [f32], dim: usize) -> Result<Self, VectorError> {
        if dim == 0 || !data.len().is_multiple_of(dim) {
            return Err(VectorError::Shape {
                what: "vectors",
                len: data.len(),
                dim,
            });
        }
        Ok(Rows { data, dim })
    }

    /// The rows of an ndarray matrix (the type vectors cross module seams in, e.g.
    /// [`crate::index::Index::rows`]); fails unless it is in standard (row-major) layout.
    pub fn from_view(view: ndarray::ArrayView2<'a, f32>) -> Result<Self, VectorError> {
        let (len, dim) = view.dim();
        match view.to_slice() {
            Some(data) => Rows::new(data, dim),
            None => Err(VectorError::Shape {
                what: "vectors (not row-major)",
                len: len * dim,
                dim,
            }),
        }
    }

    /// Number of rows: the buffer's length over [`Rows::dim`].
    pub fn len(&self) -> usize {
        self.data.len() / self.dim
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Columns per row, never zero ([`Rows::new`] refuses it).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Row `i`, [`Rows::dim`] values; panics if `i` is not below [`Rows::len`].
    pub fn row(&self, i: usize) -> &'a [f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// All rows back to back, row-major: [`Rows::len`] × [`Rows::dim`] values.
    pub fn as_slice(&self) -> &'a [f32] {
        self.data
    }
}

/// The distance work of k-means: each row's nearest centroid (Lloyd) and the distances of all
/// rows to a few candidate points (k-means++ seeding). Implementations: [`Direct`] (reference),
/// [`Blocked`] (CPU matrix products), [`super::device_assign::DeviceAssign`] (candle tensors, e.g. on CUDA).
pub trait Assign: Sync {
    /// Fills `labels[i]` (nearest centroid, lowest index on ties) and `dist2[i]` for every row.
    fn assign(
        &self,
        data: Rows<'_>,
        centroids: Rows<'_>,
        labels: &mut [u32],
        dist2: &mut [f32],
    ) -> Result<(), VectorError>;

    /// Squared distances of every row to every point, row-major `[rows, points]`.
    fn distances(&self, data: Rows<'_>, points: Rows<'_>) -> Result<Vec<f32>, VectorError> {
        let m = points.len();
        let mut out = vec![0f32; data.len() * m];
        out.par_chunks_mut(m.max(1)).enumerate().for_each(|(i, o)| {
            for (j, v) in o.iter_mut().enumerate() {
                *v = squared_distance(data.row(i), points.row(j));
            }
        });
        Ok(out)
    }

    /// One greedy k-means++ step over the candidate rows `points`: each candidate's potential
    /// `Σᵢ min(closestᵢ, ‖xᵢ − p‖²)` (summed in f64), the first candidate of lowest potential
    /// chosen, and `closest` lowered to the distances to it. Returns the chosen candidate.
    fn seed_step(
        &self,
        data: Rows<'_>,
        closest: &mut [f32],
        points: Rows<'_>,
    ) -> Result<usize, VectorError> {
        let trials = points.len();
        let d = self.distances(data, points)?;
        let potentials: Vec<f64> = (0..trials)
            .into_par_iter()
            .map(|j| {
                closest
                    .iter()
                    .enumerate()
                    .map(|(i, &c)| c.min(d[i * trials + j]) as f64)
                    .sum()
            })
            .collect();
        let best = first_lowest(&potentials);
        closest
            .par_iter_mut()
            .enumerate()
            .for_each(|(i, c)| *c = c.min(d[i * trials + best]));
        Ok(best)
    }
}

/// Index of the first lowest value (0 for an empty list).
pub(crate) fn first_lowest(values: &[f64]) -> usize {
    let mut best = 0;
    for j in 1..values.len() {
        if values[j] < values[best] {
            best = j;
        }
    }
    best
}

/// Row by row, centroid by centroid, rows spread over rayon threads.
#[derive(Debug, Clone, Copy, Default)]
pub struct Direct;

impl Assign for Direct {
    fn assign(
        &self,
        data: Rows<'_>,
        centroids: Rows<'_>,
        labels: &mut [u32],
        dist2: &mut [f32],
    ) -> Result<(), VectorError> {
        labels
            .par_iter_mut()
            .zip(dist2.par_iter_mut())
            .enumerate()
            .for_each(|(i, (l, d))| {
                let x = data.row(i);
                let mut best = (0u32, f32::INFINITY);
                for c in 0..centroids.len() {
                    let dc = squared_distance(x, centroids.row(c));
                    if dc < best.1 {
                        best = (c as u32, dc);
                    }
                }
                *l = best.0;
                *d = best.1;
            });
        Ok(())
    }
}

/// Rows per block of [`Blocked`]: a 256 × k block of products stays in cache for the argmin.
const ASSIGN_BLOCK: usize = 256;

/// Blocks of rows against all centroids as one matrix product each, `‖x‖² + ‖c‖² − 2 x·c`, the
/// nearest centroid by argmin; the reported distance is then recomputed directly, so the
/// objective is exact. Exact search, not approximate: every centroid is scored for every row.
#[derive(Debug, Clone, Copy, Default)]
pub struct Blocked;

impl Assign for Blocked {
    fn assign(
        &self,
        data: Rows<'_>,
        centroids: Rows<'_>,
        labels: &mut [u32],
        dist2: &mut [f32],
    ) -> Result<(), VectorError> {
        let (k, dim) = (centroids.len(), data.dim());
        if k == 0 {
            return Ok(());
        }
        let cnorm: Vec<f32> = (0..k)
            .map(|c| dot(centroids.row(c), centroids.row(c)))
            .collect();
        labels
            .par_chunks_mut(ASSIGN_BLOCK)
            .zip(dist2.par_chunks_mut(ASSIGN_BLOCK))
            .enumerate()
            .for_each_init(Vec::new, |prod: &mut Vec<f32>, (b, (ls, ds))| {
                let r0 = b * ASSIGN_BLOCK;
                let rows = ls.len();
                prod.resize(rows * k, 0.0);
                let block = &data.as_slice()[r0 * dim..(r0 + rows) * dim];
                matmul_t(block, rows, centroids.as_slice(), k, dim, prod);
                for (r, (l, d)) in ls.iter_mut().zip(ds.iter_mut()).enumerate() {
                    let p = &prod[r * k..(r + 1) * k];
                    // ‖x‖² is the same for every centroid of this row: leave it out of the argmin.
                    let mut best = (0usize, f32::INFINITY);
                    for (c, (&pc, &nc)) in p.iter().zip(&cnorm).enumerate() {
                        let v = nc - 2.0 * pc;
                        if v < best.1 {
                            best = (c, v);
                        }
                    }
                    *l = best.0 as u32;
                    *d = squared_distance(data.row(r0 + r), centroids.row(best.0));
                }
            });
        Ok(())
    }

    fn distances(&self, data: Rows<'_>, points: Rows<'_>) -> Result<Vec<f32>, VectorError> {
        let (m, dim) = (points.len(), data.dim());
        let pnorm: Vec<f32> = (0..m).map(|j| dot(points.row(j), points.row(j))).collect();
        let mut out = vec![0f32; data.len() * m];
        if m == 0 {
            return Ok(out);
        }
        out.par_chunks_mut(ASSIGN_BLOCK * m)
            .enumerate()
            .for_each(|(b, o)| {
                let r0 = b * ASSIGN_BLOCK;
                let rows = o.len() / m;
                let block = &data.as_slice()[r0 * dim..(r0 + rows) * dim];
                matmul_t(block, rows, points.as_slice(), m, dim, o);
                for (r, orow) in o.chunks_exact_mut(m).enumerate() {
                    let xn = dot(data.row(r0 + r), data.row(r0 + r));
                    for (v, &pn) in orow.iter_mut().zip(&pnorm) {
                        *v = (xn + pn - 2.0 * *v).max(0.0);
                    }
                }
            });
        Ok(out)
    }
}

/// The assignment every fit uses unless told otherwise.
pub fn default_assign() -> &'static dyn Assign {
    &Blocked
}
