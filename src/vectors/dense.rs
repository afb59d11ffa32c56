//! Exact top-k by cosine: a blocked matrix product with a bounded heap per query.
//!
//! Vectors are L2-normalised, so cosine is the dot product. Queries are cut into blocks of
//! [`QUERY_BLOCK`] rows and the index into blocks of [`VECTOR_BLOCK`] rows; each query block is
//! multiplied with one index block at a time (candle's CPU matmul, the `gemm` crate), and every
//! query keeps its best `k` candidates in a min-heap. Memory stays `O(N·d + queries·k)` plus one
//! `QUERY_BLOCK × VECTOR_BLOCK` score block per worker — never the `N × N` similarity matrix.
//! Query blocks run in parallel on rayon.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use candle_core::{Device, Tensor};
use rayon::prelude::*;

use super::{Hit, VectorError};

/// Queries multiplied together against one index block.
pub const QUERY_BLOCK: usize = 256;
/// Index rows per block of the product.
pub const VECTOR_BLOCK: usize = 4096;

/// Heap entry ordered by score, then by lower row (so ties resolve deterministically).
#[derive(Clone, Copy, PartialEq)]
struct Cand {
    score: f32,
    row: usize,
}

impl Eq for Cand {}

impl Ord for Cand {
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then_with(|| other.row.cmp(&self.row))
    }
}

impl PartialOrd for Cand {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The best `k` candidates seen so far; the worst of them sits on top.
pub(crate) struct TopK {
    k: usize,
    heap: BinaryHeap<Reverse<Cand>>,
}

impl TopK {
    pub(crate) fn new(k: usize) -> Self {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, score: f32, row: usize) {
        if score.is_nan() {
            return;
        }
        let c = Cand { score, row };
        if self.heap.len() < self.k {
            self.heap.push(Reverse(c));
        } else if let Some(mut worst) = self.heap.peek_mut() {
            if c > worst.0 {
                *worst = Reverse(c);
            }
        }
    }

    /// Smallest score that can still enter, or -inf while the heap is not full.
    #[inline]
    pub(crate) fn floor(&self) -> f32 {
        if self.heap.len() < self.k {
            f32::NEG_INFINITY
        } else {
            self.heap.peek().map_or(f32::NEG_INFINITY, |r| r.0.score)
        }
    }

    /// Takes in another heap's candidates (ties still go to the lower row: [`Cand`]'s order).
    pub(crate) fn absorb(&mut self, other: TopK) {
        for Reverse(c) in other.heap {
            self.push(c.score, c.row);
        }
    }

    pub(crate) fn into_sorted(self) -> Vec<Hit> {
        let mut v: Vec<Cand> = self.heap.into_iter().map(|r| r.0).collect();
        v.sort_by(|a, b| b.cmp(a));
        v.into_iter()
            .map(|c| Hit {
                row: c.row,
                score: c.score,
            })
            .collect()
    }
}

/// Checks that `buf` holds whole rows of `dim` and returns the row count.
pub(crate) fn rows(what: &'static str, buf: &[f32], dim: usize) -> Result<usize, VectorError> {
    if dim == 0 || !buf.len().is_multiple_of(dim) {
        return Err(VectorError::Shape {
            what,
            len: buf.len(),
            dim,
        });
    }
    Ok(buf.len() / dim)
}

/// Exact top-`k` index rows by dot product for every query, best first.
///
/// `vectors` is row-major `[n, dim]`, `queries` row-major `[q, dim]`. `exclude`, when given, holds
/// one index row per query that is left out of that query's results (the paper itself, for
/// related papers); pass `usize::MAX` for a query without one. `k` larger than the number of
/// candidates returns them all. Ties are broken by lower row.
pub fn top_k(
    vectors: &[f32],
    dim: usize,
    queries: &[f32],
    k: usize,
    exclude: Option<&[usize]>,
) -> Result<Vec<Vec<Hit>>, VectorError> {
    let n = rows("index vectors", vectors, dim)?;
    let nq = rows("query vectors", queries, dim)?;
    if k == 0 {
        return Err(VectorError::ZeroK);
    }
    if let Some(ex) = exclude {
        if ex.len() != nq {
            return Err(VectorError::Mismatch {
                what: "excluded rows (one per query)",
                expected: nq,
                found: ex.len(),
            });
        }
    }
    if n == 0 || nq == 0 {
        return Ok(vec![Vec::new(); nq]);
    }
    if nq <= SCAN_QUERIES {
        return Ok(scan_top_k(vectors, dim, queries, k, exclude));
    }
    let index = Tensor::from_slice(vectors, (n, dim), &Device::Cpu)?;
    let blocks: Vec<Vec<Vec<Hit>>> = queries
        .par_chunks(QUERY_BLOCK * dim)
        .enumerate()
        .map(|(b, qblock)| {
            let first = b * QUERY_BLOCK;
            let ex = exclude.map(|e| &e[first..first + qblock.len() / dim]);
            block_top_k(&index, n, dim, qblock, k, ex)
        })
        .collect::<Result<_, _>>()?;
    Ok(blocks.into_iter().flatten().collect())
}

/// Most queries answered by [`scan_top_k`] rather than the blocked product.
pub const SCAN_QUERIES: usize = 32;

/// Rows per task of [`scan_top_k`].
const SCAN_ROWS: usize = 16_384;
/// Rows scored at once by [`scan_top_k`] (their scores for every query, then the heaps).
const SCAN_BLOCK: usize = 1024;

/// Top-k of a few queries by one pass over the rows in place, ranges of rows on rayon's
/// threads, each row's dot products with every query taken while it is in cache.
///
/// For a search or a server's concurrent searches this is the cheaper path: the blocked
/// product would first copy every vector into a tensor (1.5 GB at a million papers), and a
/// pass over a mapped matrix is bound by memory, so queries that share it cost little more
/// than one.
fn scan_top_k(
    vectors: &[f32],
    dim: usize,
    queries: &[f32],
    k: usize,
    exclude: Option<&[usize]>,
) -> Vec<Vec<Hit>> {
    let nq = queries.len() / dim;
    let skip: Vec<usize> = (0..nq)
        .map(|qi| exclude.map_or(usize::MAX, |e| e[qi]))
        .collect();
    let parts: Vec<Vec<TopK>> = vectors
        .par_chunks(SCAN_ROWS * dim)
        .enumerate()
        .map(|(c, rows)| {
            let mut heaps: Vec<TopK> = (0..nq).map(|_| TopK::new(k)).collect();
            let mut floors: Vec<f32> = heaps.iter().map(TopK::floor).collect();
            let mut scores = vec![0f32; SCAN_BLOCK * nq];
            for (b, block) in rows.chunks(SCAN_BLOCK * dim).enumerate() {
                let first = c * SCAN_ROWS + b * SCAN_BLOCK;
                crate::embed::kernels::scan::dots(block, queries, dim, &mut scores);
                for (j, row_scores) in scores.chunks_exact(nq).take(block.len() / dim).enumerate() {
                    for (qi, &s) in row_scores.iter().enumerate() {
                        // Rows arrive in increasing order, so an equal score never displaces
                        // a kept one.
                        if s > floors[qi] && first + j != skip[qi] {
                            heaps[qi].push(s, first + j);
                            floors[qi] = heaps[qi].floor();
                        }
                    }
                }
            }
            heaps
        })
        .collect();
    let mut merged: Vec<TopK> = (0..nq).map(|_| TopK::new(k)).collect();
    for part in parts {
        for (m, h) in merged.iter_mut().zip(part) {
            m.absorb(h);
        }
    }
    merged.into_iter().map(TopK::into_sorted).collect()
}

/// Top-k of one query block against every index block.
fn block_top_k(
    index: &Tensor,
    n: usize,
    dim: usize,
    qblock: &[f32],
    k: usize,
    exclude: Option<&[usize]>,
) -> Result<Vec<Vec<Hit>>, VectorError> {
    let nq = qblock.len() / dim;
    let q = Tensor::from_slice(qblock, (nq, dim), &Device::Cpu)?;
    let mut heaps: Vec<TopK> = (0..nq).map(|_| TopK::new(k)).collect();
    let mut start = 0;
    while start < n {
        let len = VECTOR_BLOCK.min(n - start);
        let block = index.narrow(0, start, len)?;
        let scores = q.matmul(&block.t()?)?.flatten_all()?.to_vec1::<f32>()?;
        for (qi, heap) in heaps.iter_mut().enumerate() {
            let skip = exclude.map_or(usize::MAX, |e| e[qi]);
            let row_scores = &scores[qi * len..(qi + 1) * len];
            let mut floor = heap.floor();
            for (j, &s) in row_scores.iter().enumerate() {
                // Rows arrive in increasing order, so an equal score never displaces a kept one.
                if s > floor && start + j != skip {
                    heap.push(s, start + j);
                    floor = heap.floor();
                }
            }
        }
        start += len;
    }
    Ok(heaps.into_iter().map(TopK::into_sorted).collect())
}

/// Every row's `k` nearest other rows by cosine (the row itself excluded), best first.
///
/// Runs [`top_k`] with the vectors as their own queries: `O(N²·d)` work in blocks, `O(N·k)`
/// memory for the result.
pub fn related_all(vectors: &[f32], dim: usize, k: usize) -> Result<Vec<Vec<Hit>>, VectorError> {
    let n = rows("index vectors", vectors, dim)?;
    let exclude: Vec<usize> = (0..n).collect();
    top_k(vectors, dim, vectors, k, Some(&exclude))
}

/// The distinct `candidates` (sorted) and their rows copied out of `vectors`, for a top-k over
/// them alone; [`VectorError::Mismatch`] for a candidate past the last row.
pub(crate) fn gather(
    vectors: &[f32],
    dim: usize,
    candidates: &[usize],
) -> Result<(Vec<usize>, Vec<f32>), VectorError> {
    let n = rows("index vectors", vectors, dim)?;
    let mut rows_kept = candidates.to_vec();
    rows_kept.sort_unstable();
    rows_kept.dedup();
    if let Some(&last) = rows_kept.last() {
        if last >= n {
            return Err(VectorError::Mismatch {
                what: "candidate row (index rows)",
                expected: n,
                found: last,
            });
        }
    }
    let mut sub = Vec::with_capacity(rows_kept.len() * dim);
    for &r in &rows_kept {
        sub.extend_from_slice(&vectors[r * dim..(r + 1) * dim]);
    }
    Ok((rows_kept, sub))
}

/// Hits over gathered rows renamed to the rows they were gathered from.
pub(crate) fn renumber(all: &mut [Vec<Hit>], rows_kept: &[usize]) {
    for hits in all {
        for h in hits.iter_mut() {
            h.row = rows_kept[h.row];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::unit_vectors;

    fn brute(vectors: &[f32], dim: usize, q: &[f32], k: usize, skip: usize) -> Vec<usize> {
        let mut s: Vec<(f32, usize)> = vectors
            .chunks(dim)
            .enumerate()
            .filter(|(i, _)| *i != skip)
            .map(|(i, v)| (v.iter().zip(q).map(|(a, b)| a * b).sum(), i))
            .collect();
        s.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        s.into_iter().take(k).map(|x| x.1).collect()
    }

    #[test]
    fn matches_brute_force_across_block_boundaries() {
        let dim = 24;
        let n = VECTOR_BLOCK + 37;
        let v = unit_vectors(n, dim, 7);
        let nq = QUERY_BLOCK + 3;
        let q = unit_vectors(nq, dim, 11);
        let got = top_k(&v, dim, &q, 5, None).expect("top_k");
        assert_eq!(got.len(), nq);
        for (i, hits) in got.iter().enumerate() {
            let want = brute(&v, dim, &q[i * dim..(i + 1) * dim], 5, usize::MAX);
            let rows: Vec<usize> = hits.iter().map(|h| h.row).collect();
            assert_eq!(rows, want, "query {i}");
            assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
        }
    }

    #[test]
    fn related_all_excludes_self_and_agrees_with_brute_force() {
        let dim = 16;
        let n = 300;
        let v = unit_vectors(n, dim, 3);
        let all = related_all(&v, dim, 4).expect("related_all");
        for (i, hits) in all.iter().enumerate() {
            assert!(hits.iter().all(|h| h.row != i));
            let want = brute(&v, dim, &v[i * dim..(i + 1) * dim], 4, i);
            assert_eq!(hits.iter().map(|h| h.row).collect::<Vec<_>>(), want);
        }
    }

    #[test]
    fn k_larger_than_n_returns_everything_and_bad_shapes_are_errors() {
        let v = unit_vectors(3, 4, 1);
        let hits = top_k(&v, 4, &v[..4], 10, Some(&[0])).expect("top_k");
        assert_eq!(hits[0].len(), 2);
        assert!(matches!(
            top_k(&v, 5, &v[..4], 1, None),
            Err(VectorError::Shape { .. })
        ));
        assert!(matches!(
            top_k(&v, 4, &v[..4], 0, None),
            Err(VectorError::ZeroK)
        ));
        assert!(matches!(
            top_k(&v, 4, &v[..4], 1, Some(&[])),
            Err(VectorError::Mismatch { .. })
        ));
        assert!(top_k(&[], 4, &v[..4], 3, None).expect("empty")[0].is_empty());
    }

    #[test]
    fn top_k_among_searches_only_the_candidates_and_names_index_rows() {
        let dim = 12;
        let n = 500;
        let v = unit_vectors(n, dim, 5);
        let q = unit_vectors(7, dim, 9);
        // Every third row, given out of order and with a repeat.
        let mut cands: Vec<usize> = (0..n).filter(|r| r % 3 == 1).rev().collect();
        cands.push(4);
        let got = crate::vectors::VectorBackend::Cpu
            .top_k_among(&v, dim, &q, &cands, 4)
            .expect("top_k_among");
        let mut differs = false;
        for (i, hits) in got.iter().enumerate() {
            let qi = &q[i * dim..(i + 1) * dim];
            let mut want: Vec<(f32, usize)> = (0..n)
                .filter(|r| r % 3 == 1)
                .map(|r| {
                    (
                        v[r * dim..(r + 1) * dim]
                            .iter()
                            .zip(qi)
                            .map(|(a, b)| a * b)
                            .sum(),
                        r,
                    )
                })
                .collect();
            want.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let rows: Vec<usize> = hits.iter().map(|h| h.row).collect();
            let want_rows: Vec<usize> = want.iter().take(4).map(|w| w.1).collect();
            assert_eq!(rows, want_rows, "query {i}");
            // Not what the whole index would give: the subset matters.
            let whole = top_k(&v, dim, qi, 4, None).expect("top_k");
            differs |= whole[0].iter().map(|h| h.row).collect::<Vec<_>>() != rows;
            for h in hits {
                let s: f32 = v[h.row * dim..(h.row + 1) * dim]
                    .iter()
                    .zip(qi)
                    .map(|(a, b)| a * b)
                    .sum();
                assert!((s - h.score).abs() < 1e-5);
            }
        }
        assert!(
            differs,
            "the whole index gives the same rows: the test shows nothing"
        );
        assert!(crate::vectors::VectorBackend::Cpu
            .top_k_among(&v, dim, &q, &[], 3)
            .expect("empty")[0]
            .is_empty());
        assert!(matches!(
            crate::vectors::VectorBackend::Cpu.top_k_among(&v, dim, &q, &[n], 3),
            Err(VectorError::Mismatch { .. })
        ));
    }

    #[test]
    fn ties_resolve_to_lower_rows_and_nan_is_ignored() {
        let mut v = vec![1.0, 0.0, 1.0, 0.0, 0.0, 1.0, f32::NAN, 0.0];
        let hits = top_k(&v, 2, &[1.0, 0.0], 3, None).expect("top_k");
        assert_eq!(
            hits[0].iter().map(|h| h.row).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        v.truncate(6);
        let hits = top_k(&v, 2, &[1.0, 0.0], 1, None).expect("top_k");
        assert_eq!(hits[0][0].row, 0);
    }
}
