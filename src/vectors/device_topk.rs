//! Exact top-k by cosine on a candle device (`papermap related --all --device cuda`).
//!
//! The index is uploaded once. For each block of queries the full `queries × N` score block is
//! one matrix product on the device; the top `k` are then found without sorting `N` scores:
//! scores are cut into chunks of [`CHUNK`] columns, the `k` chunks with the highest maxima are
//! kept (every top-`k` score lies in one of them: a score outside them would have `k` larger chunk
//! maxima above it), and `k` rounds of argmax-and-mask over those `k × CHUNK` candidates pick the
//! results. Only `queries × k` ids and scores come back to the host. Exact: every score is
//! computed in f32; ties resolve to the lower row within a chunk.
//!
//! The same candle ops run on the CPU device, which is how this is tested without a GPU; on the
//! CPU the heap-based [`super::dense::top_k`] is faster and is what callers use there.

use candle_core::{DType, Device, Tensor, D};

use super::{Hit, VectorError};

/// Columns per chunk of the chunk-maximum filter.
pub const CHUNK: usize = 1024;
/// Columns appended to index rows and queries: a padding row holds 1 in the first and each query
/// [`PAD_SCORE`], a real row 0; the rest keep the width a multiple of 8 for cuBLAS.
const PAD_COLUMNS: usize = 8;
/// What a padding row scores: far below any cosine, and finite, so that `0 · PAD_SCORE` adds
/// nothing to a real row's score.
const PAD_SCORE: f32 = -1e30;
/// Floats of one `queries × N` score block (2 GiB).
const SCORE_FLOATS: usize = 1 << 29;

/// Exact top-`k` rows of `vectors` for every query on `device`; `exclude` as in
/// [`super::dense::top_k`] (one row per query left out, `usize::MAX` for none).
pub fn top_k_on_device(
    device: &Device,
    vectors: &[f32],
    dim: usize,
    queries: &[f32],
    k: usize,
    exclude: Option<&[usize]>,
) -> Result<Vec<Vec<Hit>>, VectorError> {
    top_k_chunked(device, vectors, dim, queries, k, exclude, CHUNK)
}

/// Every row's `k` nearest other rows on `device`, best first.
pub fn related_all_on_device(
    device: &Device,
    vectors: &[f32],
    dim: usize,
    k: usize,
) -> Result<Vec<Vec<Hit>>, VectorError> {
    let n = vectors.len().checked_div(dim).unwrap_or(0);
    let exclude: Vec<usize> = (0..n).collect();
    top_k_on_device(device, vectors, dim, vectors, k, Some(&exclude))
}

fn top_k_chunked(
    device: &Device,
    vectors: &[f32],
    dim: usize,
    queries: &[f32],
    k: usize,
    exclude: Option<&[usize]>,
    chunk: usize,
) -> Result<Vec<Vec<Hit>>, VectorError> {
    if dim == 0 || !vectors.len().is_multiple_of(dim) || !queries.len().is_multiple_of(dim) {
        return Err(VectorError::Shape {
            what: "vectors",
            len: vectors.len(),
            dim,
        });
    }
    if k == 0 {
        return Err(VectorError::ZeroK);
    }
    let (n, nq) = (vectors.len() / dim, queries.len() / dim);
    if n == 0 || nq == 0 {
        return Ok(vec![Vec::new(); nq]);
    }
    // One extra result when the query's own row may be among them.
    let take = (k + usize::from(exclude.is_some())).min(n);
    let chunks = n.div_ceil(chunk);
    let padded = chunks * chunk;
    // The index is padded to whole chunks once, with rows that score PAD_SCORE against every
    // query through one extra column (see PAD_COLUMNS), so that no score block needs a pass of
    // its own to mask them.
    let width = dim + PAD_COLUMNS;
    let index = Tensor::from_slice(vectors, (n, dim), device)?.pad_with_zeros(1, 0, PAD_COLUMNS)?;
    let index = if padded > n {
        let mut rows = vec![0f32; (padded - n) * width];
        rows.chunks_mut(width).for_each(|r| r[dim] = 1.0);
        Tensor::cat(
            &[index, Tensor::from_vec(rows, (padded - n, width), device)?],
            0,
        )?
    } else {
        index
    };
    let keep_chunks = take.min(chunks);
    let qblock = (SCORE_FLOATS / padded).clamp(1, 4096);
    let mut out = Vec::with_capacity(nq);
    for q0 in (0..nq).step_by(qblock) {
        let qn = qblock.min(nq - q0);
        let mut q = Vec::with_capacity(qn * width);
        for row in queries[q0 * dim..(q0 + qn) * dim].chunks_exact(dim) {
            q.extend_from_slice(row);
            q.push(PAD_SCORE);
            q.extend(std::iter::repeat_n(0f32, PAD_COLUMNS - 1));
        }
        let q = Tensor::from_vec(q, (qn, width), device)?;
        let s = q.matmul(&index.t()?)?.reshape((qn, chunks, chunk))?;
        // The chunks holding the top scores, then the top scores among their columns.
        let chunk_max = s.max_keepdim(D::Minus1)?.squeeze(D::Minus1)?;
        let (best_chunks, _) = select_top(&chunk_max, keep_chunks)?;
        let idx = best_chunks
            .unsqueeze(D::Minus1)?
            .broadcast_as((qn, keep_chunks, chunk))?
            .contiguous()?;
        let cand = s.gather(&idx, 1)?.reshape((qn, keep_chunks * chunk))?;
        let (pos, val) = select_top(&cand, take)?;
        let chunk_ids = best_chunks.to_vec2::<u32>()?;
        let pos = pos.to_vec2::<u32>()?;
        let val = val.to_vec2::<f32>()?;
        for r in 0..qn {
            let skip = exclude.map_or(usize::MAX, |e| e[q0 + r]);
            let mut hits: Vec<Hit> = pos[r]
                .iter()
                .zip(&val[r])
                .map(|(&p, &score)| Hit {
                    row: chunk_ids[r][p as usize / chunk] as usize * chunk + p as usize % chunk,
                    score,
                })
                .filter(|h| h.row != skip && h.row < n && h.score.is_finite())
                .collect();
            // Equal scores in the order the heap search gives them: lower row first.
            hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.row.cmp(&b.row)));
            hits.truncate(k);
            out.push(hits);
        }
    }
    Ok(out)
}

/// The `m` largest entries of each row of a 2-D tensor, best first: `(columns u32, values)`.
/// `m` rounds of argmax, each masking exactly the chosen column (so equal scores are kept).
fn select_top(x: &Tensor, m: usize) -> Result<(Tensor, Tensor), VectorError> {
    let (rows, cols) = x.dims2()?;
    let device = x.device();
    let ids = Tensor::arange(0u32, cols as u32, device)?.reshape((1, cols))?;
    let neg = Tensor::full(f32::NEG_INFINITY, (rows, cols), device)?;
    let mut x = x.to_dtype(DType::F32)?;
    let (mut cols_out, mut vals_out) = (Vec::with_capacity(m), Vec::with_capacity(m));
    for round in 0..m {
        let arg = x.argmax_keepdim(1)?;
        vals_out.push(x.gather(&arg, 1)?);
        if round + 1 < m {
            let hit = ids.broadcast_eq(&arg)?;
            x = hit.where_cond(&neg, &x)?;
        }
        cols_out.push(arg);
    }
    Ok((Tensor::cat(&cols_out, 1)?, Tensor::cat(&vals_out, 1)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_rng::unit_vectors as vectors;

    #[test]
    fn device_top_k_equals_the_heap_top_k() {
        // 1,000 rows in chunks of 64 (the last one partial), with duplicated rows so ties occur.
        let dim = 16;
        let mut v = vectors(1000, dim, 3);
        let dup: Vec<f32> = v[..dim].to_vec();
        v[500 * dim..501 * dim].copy_from_slice(&dup);
        let queries = vectors(37, dim, 4);
        for (k, ex) in [(10usize, None), (1, None), (25, Some(vec![0usize; 37]))] {
            let want = super::super::dense::top_k(&v, dim, &queries, k, ex.as_deref()).unwrap();
            let got = top_k_chunked(&Device::Cpu, &v, dim, &queries, k, ex.as_deref(), 64).unwrap();
            for (w, g) in want.iter().zip(&got) {
                let wr: Vec<usize> = w.iter().map(|h| h.row).collect();
                let gr: Vec<usize> = g.iter().map(|h| h.row).collect();
                assert_eq!(wr, gr, "k = {k}");
            }
        }
        let rel = related_all_on_device(&Device::Cpu, &v, dim, 5).unwrap();
        let want = super::super::dense::related_all(&v, dim, 5).unwrap();
        for (i, (w, g)) in want.iter().zip(&rel).enumerate() {
            assert!(g.iter().all(|h| h.row != i));
            let wr: Vec<usize> = w.iter().map(|h| h.row).collect();
            let gr: Vec<usize> = g.iter().map(|h| h.row).collect();
            assert_eq!(wr, gr, "row {i}");
        }
        // Row 0 and row 500 are identical: each is the other's best related paper.
        assert_eq!(rel[0][0].row, 500);
        assert_eq!(rel[500][0].row, 0);
    }
}
