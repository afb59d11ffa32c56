//! An int8 copy of the matrix for the CPU's many-query dense pass (the server's): a quarter of the bytes read per
//! pass, and the same answers as the f32 scan.
//!
//! A pass over the f32 matrix is bound by memory (1.5 GB at a million papers, ~90 ms here),
//! so concurrent searches queue behind it. Here each row is kept as int8 codes with its own
//! scale, and each query as two int8 levels (its codes and the codes of what they miss), so
//! one `vpdpbusd` pass reads 384 MB. The int8 score of a row is within a margin of its f32
//! score that the row's and the query's rounding errors bound (Cauchy–Schwarz), so a row
//! whose upper bound stays below the k-th best lower bound cannot be in the top k. The rows
//! that remain are scored again with the f32 scan's own dot product, so the hits and their
//! scores equal [`dense::top_k`]'s bit for bit (tests check it).

use std::sync::atomic::{AtomicU32, Ordering};

use rayon::prelude::*;

use super::dense::{self, TopK};
use super::{Hit, VectorError};
use crate::embed::kernels::scan::{self, I8_BLOCK};

/// Fewest rows per task of the pass (a multiple of [`I8_BLOCK`]).
const TASK_ROWS: usize = 16_384;
/// Largest int8 code: symmetric, so `-127..=127`.
const LEVELS: f32 = 127.0;

/// The int8 codes of a matrix's rows, answering top-k queries exactly with the f32 matrix.
///
/// Rows are stored in blocks of [`I8_BLOCK`] in `vpdpbusd`'s layout ([`scan::block_dots`]);
/// the last block is padded with zero rows, which the pass skips.
pub struct Int8Matrix {
    dim: usize,
    /// Bytes per row: `dim` rounded up to 4 (the padding is zero).
    width: usize,
    rows: usize,
    codes: Vec<i8>,
    /// Per row (padded to whole blocks): the codes' unit, so the row is `scale · codes`
    /// plus its rounding error.
    scale: Vec<f32>,
    /// `‖row − scale · codes‖₂`, rounded up; infinite for a row that is not finite, which
    /// is then always scored in f32.
    err: Vec<f32>,
    /// `‖scale · codes‖₂`, rounded up.
    norm: Vec<f32>,
    /// `128 · Σ codes`: the queries' +128 offset adds it to every product.
    offset: Vec<i32>,
}

/// What [`quantise_row`] finds beside the codes.
struct RowCode {
    scale: f32,
    err: f32,
    norm: f32,
    sum: i32,
}

impl Int8Matrix {
    /// Quantises every row of the row-major `[n, dim]` `vectors`, on rayon's threads.
    pub fn build(vectors: &[f32], dim: usize) -> Result<Int8Matrix, VectorError> {
        let n = dense::rows("index vectors", vectors, dim)?;
        let width = dim.div_ceil(4) * 4;
        let padded = n.div_ceil(I8_BLOCK) * I8_BLOCK;
        let mut codes = vec![0i8; padded * width];
        let mut scale = vec![0f32; padded];
        let mut err = vec![0f32; padded];
        let mut norm = vec![0f32; padded];
        let mut offset = vec![0i32; padded];
        codes
            .par_chunks_mut(I8_BLOCK * width)
            .zip(scale.par_chunks_mut(I8_BLOCK))
            .zip(err.par_chunks_mut(I8_BLOCK))
            .zip(norm.par_chunks_mut(I8_BLOCK))
            .zip(offset.par_chunks_mut(I8_BLOCK))
            .zip(vectors.par_chunks(I8_BLOCK * dim))
            .for_each(|(((((block, scale), err), norm), offset), rows)| {
                let mut row_codes = vec![0i8; width];
                for (r, row) in rows.chunks_exact(dim).enumerate() {
                    let c = quantise_row(row, &mut row_codes);
                    for (d, &v) in row_codes.iter().enumerate() {
                        block[((d / 4) * I8_BLOCK + r) * 4 + d % 4] = v;
                    }
                    scale[r] = c.scale;
                    err[r] = c.err;
                    norm[r] = c.norm;
                    offset[r] = 128 * c.sum;
                }
            });
        Ok(Int8Matrix {
            dim,
            width,
            rows: n,
            codes,
            scale,
            err,
            norm,
            offset,
        })
    }

    /// Rows encoded: those of the matrix the codes were built from.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether no row is held.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Exact top-`k` rows of `vectors` (the matrix these codes were built from) for every
    /// query, best first: equal to `dense::top_k(vectors, dim, queries, k, None)`.
    pub fn top_k(
        &self,
        vectors: &[f32],
        queries: &[f32],
        k: usize,
    ) -> Result<Vec<Vec<Hit>>, VectorError> {
        Ok(self.top_k_counted(vectors, queries, k)?.0)
    }

    /// [`Int8Matrix::top_k`], and how many rows were scored again in f32 (all queries).
    pub fn top_k_counted(
        &self,
        vectors: &[f32],
        queries: &[f32],
        k: usize,
    ) -> Result<(Vec<Vec<Hit>>, usize), VectorError> {
        let n = dense::rows("index vectors", vectors, self.dim)?;
        if n != self.rows {
            return Err(crate::vectors::VectorError::Mismatch {
                what: "rows of the int8 copy",
                expected: n,
                found: self.rows,
            });
        }
        let nq = dense::rows("query vectors", queries, self.dim)?;
        if k == 0 {
            return Err(VectorError::ZeroK);
        }
        if n == 0 || nq == 0 {
            return Ok((vec![Vec::new(); nq], 0));
        }
        let Some(coded) = queries
            .chunks_exact(self.dim)
            .map(|q| QueryCode::new(q, self.width))
            .collect::<Option<Vec<QueryCode>>>()
        else {
            // A zero or non-finite query bounds nothing: the f32 scan answers it.
            return Ok((dense::top_k(vectors, self.dim, queries, k, None)?, n * nq));
        };
        // The coarse levels of every query, one after another (the pass's first stage).
        let packed: Vec<u8> = coded
            .iter()
            .flat_map(|q| q.levels[..self.width].iter().copied())
            .collect();
        // Few long tasks, so each one's k-th lower bound is taken over many rows and rises
        // close to the final one early; tasks share their floors as they go.
        let threads = rayon::current_num_threads().max(1);
        let per_task = (n.div_ceil(2 * threads).div_ceil(I8_BLOCK) * I8_BLOCK).max(TASK_ROWS);
        let shared: Vec<SharedFloor> = (0..nq).map(|_| SharedFloor::new()).collect();
        let parts: Vec<Vec<Part>> = (0..n.div_ceil(per_task))
            .into_par_iter()
            .map(|t| {
                let rows = t * per_task..((t + 1) * per_task).min(n);
                self.pass(rows, &coded, &packed, &shared, k)
            })
            .collect();
        let mut merged: Vec<Part> = (0..nq).map(|_| Part::new(k)).collect();
        for part in parts {
            for (m, p) in merged.iter_mut().zip(part) {
                m.lower.absorb(p.lower);
                m.candidates.extend(p.candidates);
            }
        }
        let answers: Vec<(Vec<Hit>, usize)> = merged
            .into_par_iter()
            .zip(queries.par_chunks(self.dim))
            .map(|(part, q)| self.rescore(vectors, q, part, k))
            .collect();
        let rescored = answers.iter().map(|a| a.1).sum();
        Ok((answers.into_iter().map(|a| a.0).collect(), rescored))
    }

    /// `rows` (starting on a block): the best `k` lower bounds per query, and every row whose
    /// upper bound reached the floor when it was seen (the k-th of them, or a higher one
    /// another task shared).
    fn pass(
        &self,
        rows: std::ops::Range<usize>,
        queries: &[QueryCode],
        packed: &[u8],
        shared: &[SharedFloor],
        k: usize,
    ) -> Vec<Part> {
        let nq = queries.len();
        let mut parts: Vec<Part> = (0..nq).map(|_| Part::new(k)).collect();
        let mut floors = vec![f32::NEG_INFINITY; nq];
        let mut sums = vec![0i32; I8_BLOCK * nq];
        let mut fine = [0i32; I8_BLOCK];
        let block_bytes = I8_BLOCK * self.width;
        let end = rows.end;
        let mut upper = [0f32; I8_BLOCK];
        for (b, base) in rows.step_by(I8_BLOCK).enumerate() {
            if b % 64 == 0 {
                for (f, s) in floors.iter_mut().zip(shared) {
                    *f = f.max(s.get());
                }
            }
            let block = &self.codes[base * self.width..base * self.width + block_bytes];
            scan::block_dots(block, packed, self.width, &mut sums);
            let rows = base..base + I8_BLOCK;
            let lanes = Lanes {
                scale: &self.scale[rows.clone()],
                err: &self.err[rows.clone()],
                norm: &self.norm[rows.clone()],
                offset: &self.offset[rows],
            };
            let valid = (end - base).min(I8_BLOCK);
            for (qi, q) in queries.iter().enumerate() {
                let coarse = &sums[qi * I8_BLOCK..(qi + 1) * I8_BLOCK];
                // The coarse level alone (half the products) rules out most blocks; the fine
                // level, taken only for the rest, narrows the margin of the rows kept.
                let first_stage = Stage {
                    coarse: q.coarse,
                    fine: 0.0,
                    err: q.coarse_err,
                };
                if !block_bounds(
                    coarse,
                    coarse,
                    lanes,
                    q,
                    first_stage,
                    floors[qi],
                    &mut upper,
                ) {
                    continue;
                }
                scan::block_dots(block, &q.levels[self.width..], self.width, &mut fine);
                let both = Stage {
                    coarse: q.coarse,
                    fine: q.fine,
                    err: q.err,
                };
                if !block_bounds(coarse, &fine, lanes, q, both, floors[qi], &mut upper) {
                    continue;
                }
                let p = &mut parts[qi];
                for (r, &u) in upper.iter().enumerate().take(valid) {
                    if u >= floors[qi] || u.is_nan() {
                        let margin = q.margin(q.err, lanes.err[r], lanes.norm[r]);
                        p.lower.push(u - 2.0 * margin, base + r);
                        let own = p.lower.floor();
                        if own > floors[qi] {
                            floors[qi] = own;
                            shared[qi].raise(own);
                        }
                        p.keep(u, base + r, floors[qi]);
                    }
                }
            }
        }
        parts
    }

    /// The exact top `k` among `part`'s candidates, scored as [`dense::top_k`] scores them;
    /// and how many were scored.
    fn rescore(&self, vectors: &[f32], query: &[f32], part: Part, k: usize) -> (Vec<Hit>, usize) {
        let floor = part.lower.floor();
        let mut rows: Vec<usize> = part
            .candidates
            .into_iter()
            .filter(|&(upper, _)| upper >= floor || upper.is_nan())
            .map(|(_, row)| row as usize)
            .collect();
        rows.sort_unstable();
        let scored = rows.len();
        let mut top = TopK::new(k);
        let mut score = [0f32; 1];
        for row in rows {
            let v = &vectors[row * self.dim..(row + 1) * self.dim];
            scan::dots(v, query, self.dim, &mut score);
            top.push(score[0], row);
        }
        (top.into_sorted(), scored)
    }
}

/// One block's per-row values, as the pass reads them.
#[derive(Clone, Copy)]
struct Lanes<'a> {
    scale: &'a [f32],
    err: &'a [f32],
    norm: &'a [f32],
    offset: &'a [i32],
}

/// One stage of a query's bounds: its coarse level alone, or both levels.
#[derive(Clone, Copy)]
struct Stage {
    coarse: f32,
    /// The fine level's unit; 0 in the first stage, which leaves the fine sums out.
    fine: f32,
    /// The query's error at this stage.
    err: f32,
}

crate::embed::kernels::multiversion! {
    /// The upper bounds of one block's rows for one query at one stage, and whether any
    /// reaches `floor` (NaN counts as reaching it): two plain loops over 16 lanes, so both
    /// vectorise.
    fn block_bounds(
        coarse: &[i32],
        fine: &[i32],
        lanes: Lanes<'_>,
        q: &QueryCode,
        stage: Stage,
        floor: f32,
        upper: &mut [f32; I8_BLOCK],
    ) -> bool {
        let (coarse, fine) = (&coarse[..I8_BLOCK], &fine[..I8_BLOCK]);
        let (scale, err) = (&lanes.scale[..I8_BLOCK], &lanes.err[..I8_BLOCK]);
        let (norm, offset) = (&lanes.norm[..I8_BLOCK], &lanes.offset[..I8_BLOCK]);
        for r in 0..I8_BLOCK {
            let c = (coarse[r] - offset[r]) as f32;
            let f = (fine[r] - offset[r]) as f32;
            let approx = scale[r] * (stage.coarse * c + stage.fine * f);
            upper[r] = approx + q.margin(stage.err, err[r], norm[r]);
        }
        let mut reach = false;
        for &u in upper.iter() {
            reach |= u >= floor || u.is_nan();
        }
        reach
    }
}

crate::embed::kernels::multiversion! {
    /// Codes `row` into `codes` (the padding left zero) and bounds its error (compiled for
    /// AVX-512 too, where rounding is one instruction instead of a call: the build of a
    /// million rows takes a third of the time).
    fn quantise_row(row: &[f32], codes: &mut [i8]) -> RowCode {
        codes.fill(0);
        let max = row.iter().fold(0f32, |m, &x| m.max(x.abs()));
        if !row.iter().all(|x| x.is_finite()) {
            return RowCode {
                scale: 0.0,
                err: f32::INFINITY,
                norm: 0.0,
                sum: 0,
            };
        }
        if max == 0.0 {
            return RowCode {
                scale: 0.0,
                err: 0.0,
                norm: 0.0,
                sum: 0,
            };
        }
        let scale = max / LEVELS;
        let (mut err, mut norm, mut sum) = (0f64, 0f64, 0i32);
        for (c, &x) in codes.iter_mut().zip(row) {
            let q = (x / scale).round().clamp(-LEVELS, LEVELS);
            *c = q as i8;
            sum += q as i32;
            let back = q as f64 * scale as f64;
            err += (x as f64 - back) * (x as f64 - back);
            norm += back * back;
        }
        RowCode {
            scale,
            err: round_up(err.sqrt()),
            norm: round_up(norm.sqrt()),
            sum,
        }
    }
}

/// `x` as f32, never below it.
fn round_up(x: f64) -> f32 {
    let f = x as f32;
    if (f as f64) < x {
        f.next_up()
    } else {
        f
    }
}

/// A query in two int8 levels: `coarse · c + fine · f` with `c` and `f` int8 codes.
struct QueryCode {
    coarse: f32,
    fine: f32,
    /// `c` then `f`, each offset by +128 and padded to the row width with 128 (a zero code).
    levels: Vec<u8>,
    /// `‖query‖₂`, rounded up.
    norm: f32,
    /// `‖query − coarse · c‖₂`, rounded up: the first stage's error.
    coarse_err: f32,
    /// `‖query − coarse · c − fine · f‖₂`, rounded up.
    err: f32,
}

impl QueryCode {
    /// The two levels of `q`, or `None` for a zero or non-finite query.
    fn new(q: &[f32], width: usize) -> Option<QueryCode> {
        if !q.iter().all(|x| x.is_finite()) {
            return None;
        }
        let max = q.iter().fold(0f32, |m, &x| m.max(x.abs()));
        if max == 0.0 {
            return None;
        }
        let coarse = max / LEVELS;
        let c: Vec<f32> = q
            .iter()
            .map(|&x| (x / coarse).round().clamp(-LEVELS, LEVELS))
            .collect();
        let rest: Vec<f32> = q.iter().zip(&c).map(|(&x, &c)| x - coarse * c).collect();
        let rest_max = rest.iter().fold(0f32, |m, &x| m.max(x.abs()));
        let fine = if rest_max > 0.0 {
            rest_max / LEVELS
        } else {
            1.0
        };
        let f: Vec<f32> = rest
            .iter()
            .map(|&x| (x / fine).round().clamp(-LEVELS, LEVELS))
            .collect();
        let mut levels = vec![128u8; 2 * width];
        for (d, (&c, &f)) in c.iter().zip(&f).enumerate() {
            levels[d] = (c as i32 + 128) as u8;
            levels[width + d] = (f as i32 + 128) as u8;
        }
        let (mut err, mut coarse_err, mut norm) = (0f64, 0f64, 0f64);
        for ((&x, &c), &f) in q.iter().zip(&c).zip(&f) {
            let first = coarse as f64 * c as f64;
            coarse_err += (x as f64 - first).powi(2);
            err += (x as f64 - first - fine as f64 * f as f64).powi(2);
            norm += (x as f64).powi(2);
        }
        Some(QueryCode {
            coarse,
            fine,
            levels,
            norm: round_up(norm.sqrt()),
            coarse_err: round_up(coarse_err.sqrt()),
            err: round_up(err.sqrt()),
        })
    }

    /// How far a row's int8 score may lie from its f32 score:
    /// `|q·x − q̂·x̂| ≤ ‖q‖·‖x − x̂‖ + ‖q − q̂‖·‖x̂‖`, plus room for the f32 rounding of both
    /// scores (a few ulps of `‖q‖·‖x‖` over a few hundred terms; 1e-4 of it is generous).
    #[inline(always)]
    fn margin(&self, query_err: f32, err: f32, norm: f32) -> f32 {
        let bound = self.norm * err + query_err * norm;
        bound + 1e-4 * (1.0 + self.norm * (norm + err))
    }
}

/// A k-th lower bound one task found, which the others may prune with: any task's k-th
/// best lower bound is at most the whole matrix's k-th best score.
struct SharedFloor(AtomicU32);

impl SharedFloor {
    fn new() -> SharedFloor {
        SharedFloor(AtomicU32::new(key(f32::NEG_INFINITY)))
    }

    fn get(&self) -> f32 {
        unkey(self.0.load(Ordering::Relaxed))
    }

    fn raise(&self, floor: f32) {
        if !floor.is_nan() {
            self.0.fetch_max(key(floor), Ordering::Relaxed);
        }
    }
}

/// An f32's bits as a u32 in the same order (NaN aside).
fn key(x: f32) -> u32 {
    let b = x.to_bits();
    if b >> 31 == 1 {
        !b
    } else {
        b | 1 << 31
    }
}

/// The f32 whose [`key`] is `k`.
fn unkey(k: u32) -> f32 {
    f32::from_bits(if k >> 31 == 1 { k & !(1 << 31) } else { !k })
}

/// One query's state in a pass.
struct Part {
    /// The best `k` lower bounds seen.
    lower: TopK,
    /// (upper bound, row) of every row that could still be in the top `k`.
    candidates: Vec<(f32, u32)>,
    /// Candidates held before those below the current floor are dropped.
    cap: usize,
}

impl Part {
    fn new(k: usize) -> Part {
        Part {
            lower: TopK::new(k),
            candidates: Vec::new(),
            cap: k.saturating_mul(4).max(4096),
        }
    }

    /// Keeps `row` as a candidate, dropping those `floor` has since passed when full.
    #[inline]
    fn keep(&mut self, upper: f32, row: usize, floor: f32) {
        self.candidates.push((upper, row as u32));
        if self.candidates.len() >= self.cap {
            self.candidates.retain(|&(u, _)| u >= floor || u.is_nan());
            if self.candidates.len() * 2 >= self.cap {
                self.cap *= 2;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;

    /// Hits and scores equal the f32 scan's, bit for bit, with ties (duplicate rows), a query
    /// that is an index row, a row of zeros, dimensions that are and are not a multiple of 64,
    /// and k from 1 to more than the rows.
    #[test]
    fn equals_the_f32_scan() {
        let mut rng = Rng::new(11);
        for &(n, dim) in &[(3000, 384), (700, 37), (40, 64)] {
            let mut vectors = rng.unit_vectors(n, dim);
            // Duplicates tie; clusters crowd the margin around the k-th score.
            for r in (0..n).step_by(7) {
                let src = (r / 7) % 5;
                let copy: Vec<f32> = vectors[src * dim..(src + 1) * dim].to_vec();
                vectors[r * dim..(r + 1) * dim].copy_from_slice(&copy);
            }
            for x in &mut vectors[dim..2 * dim] {
                *x = 0.0;
            }
            let mut queries = rng.unit_vectors(5, dim);
            queries[..dim].copy_from_slice(&vectors[3 * dim..4 * dim]);
            let int8 = Int8Matrix::build(&vectors, dim).unwrap();
            for &k in &[1, 10, 100, n + 3] {
                let want = dense::top_k(&vectors, dim, &queries, k, None).unwrap();
                let (got, rescored) = int8.top_k_counted(&vectors, &queries, k).unwrap();
                if n == 3000 && k == 10 {
                    // The int8 pass, not the f32 one, decided: few rows were scored again.
                    assert!(rescored < n * 5 / 10, "{rescored} of {} rescored", n * 5);
                }
                assert_eq!(got.len(), want.len());
                for (g, w) in got.iter().zip(&want) {
                    let g: Vec<(usize, u32)> =
                        g.iter().map(|h| (h.row, h.score.to_bits())).collect();
                    let w: Vec<(usize, u32)> =
                        w.iter().map(|h| (h.row, h.score.to_bits())).collect();
                    assert_eq!(g, w, "n {n} dim {dim} k {k}");
                }
            }
        }
    }

    /// The bound holds for every row: no true score lies outside `approx ± margin`.
    #[test]
    fn margins_bound_every_score() {
        let mut rng = Rng::new(5);
        let dim = 384;
        let vectors = rng.unit_vectors(500, dim);
        let queries = rng.unit_vectors(3, dim);
        let int8 = Int8Matrix::build(&vectors, dim).unwrap();
        let mut widest = 0f32;
        for q in queries.chunks_exact(dim) {
            let qc = QueryCode::new(q, int8.width).unwrap();
            for r in 0..int8.len() {
                let (block, within) = (r / I8_BLOCK, r % I8_BLOCK);
                let code = |d: usize| {
                    int8.codes[(block * int8.width / 4 + d / 4) * I8_BLOCK * 4 + within * 4 + d % 4]
                        as i64
                };
                let (mut c, mut f) = (0i64, 0i64);
                for d in 0..int8.width {
                    c += (qc.levels[d] as i64 - 128) * code(d);
                    f += (qc.levels[int8.width + d] as i64 - 128) * code(d);
                }
                let approx = int8.scale[r] * (qc.coarse * c as f32 + qc.fine * f as f32);
                let exact: f32 = q
                    .iter()
                    .zip(&vectors[r * dim..(r + 1) * dim])
                    .map(|(a, b)| a * b)
                    .sum();
                let margin = qc.margin(qc.err, int8.err[r], int8.norm[r]);
                assert!((exact - approx).abs() <= margin, "row {r}");
                let first = int8.scale[r] * qc.coarse * c as f32;
                let first_margin = qc.margin(qc.coarse_err, int8.err[r], int8.norm[r]);
                assert!(
                    (exact - first).abs() <= first_margin,
                    "row {r}, coarse level"
                );
                assert!(
                    first_margin > margin,
                    "row {r}: the fine level narrows nothing"
                );
                widest = widest.max(margin);
            }
        }
        // Tight enough to prune: a unit row's int8 error is about 0.01.
        assert!(widest < 0.02, "margin {widest}");
    }

    /// A non-finite row is always scored in f32 (and, like the f32 scan, never returned for a
    /// NaN score); a zero query falls back to the f32 scan.
    #[test]
    fn odd_rows_and_queries() {
        let mut rng = Rng::new(3);
        let dim = 64;
        let mut vectors = rng.unit_vectors(50, dim);
        vectors[5 * dim] = f32::NAN;
        let int8 = Int8Matrix::build(&vectors, dim).unwrap();
        let mut queries = rng.unit_vectors(2, dim);
        for x in &mut queries[dim..] {
            *x = 0.0;
        }
        let want = dense::top_k(&vectors, dim, &queries, 50, None).unwrap();
        let got = int8.top_k(&vectors, &queries, 50).unwrap();
        assert_eq!(got, want);
        assert!(got[0].iter().all(|h| h.row != 5));
        assert!(matches!(
            int8.top_k(&vectors[..dim * 49], &queries, 5),
            Err(VectorError::Mismatch { .. })
        ));
    }
}
