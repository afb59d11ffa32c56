//! Dot products of index rows with a few queries: the inner loop of the dense scan
//! (`search::dense`), compiled for AVX-512 and AVX2 as well as baseline x86-64.
//!
//! A candle matmul per slice of rows was four times slower for eight queries than one query's
//! pass (a tensor made and a product set up per slice of 1,024 rows), and the baseline build's
//! 4-wide loop is compute bound at a few queries: 16 lanes per product keep a pass over a
//! million rows bound by memory.

use super::multiversion;

/// Lanes summed separately by the scan (one AVX-512 register).
const LANES: usize = 16;

/// `a · b` in `L` partial sums, so the loop vectorises `L` wide (inlined into each caller, so
/// it is compiled with the caller's instruction set).
#[inline(always)]
pub(crate) fn dot<const L: usize>(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; L];
    let (ca, cb) = (a.chunks_exact(L), b.chunks_exact(L));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..L {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

multiversion! {
    /// `out[j * q + i]` = row `j` of `rows` · query `i` of `queries` (`q` queries, both `dim`
    /// wide); `out` holds at least rows × queries values.
    pub(crate) fn dots(rows: &[f32], queries: &[f32], dim: usize, out: &mut [f32]) {
        if dim == 0 {
            return;
        }
        let nq = queries.len() / dim;
        for (row, scores) in rows.chunks_exact(dim).zip(out.chunks_exact_mut(nq.max(1))) {
            for (q, s) in queries.chunks_exact(dim).zip(scores.iter_mut()) {
                *s = dot::<LANES>(row, q);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dots_match_the_plain_sum() {
        let dim = 37;
        let rows: Vec<f32> = (0..dim * 5)
            .map(|i| ((i * 7 % 11) as f32 - 5.0) / 3.0)
            .collect();
        let queries: Vec<f32> = (0..dim * 3)
            .map(|i| ((i * 5 % 13) as f32 - 6.0) / 4.0)
            .collect();
        let mut out = vec![0f32; 15];
        dots(&rows, &queries, dim, &mut out);
        for j in 0..5 {
            for q in 0..3 {
                let want: f32 = (0..dim)
                    .map(|d| rows[j * dim + d] * queries[q * dim + d])
                    .sum();
                assert!((out[j * 3 + q] - want).abs() < 1e-4, "{j} {q}");
            }
        }
    }
}
