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
pub fn dot<const L: usize>(a: &[f32], b: &[f32]) -> f32 {
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
    pub fn dots(rows: &[f32], queries: &[f32], dim: usize, out: &mut [f32]) {
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

/// Rows per int8 block: one 16-lane register of i32 sums per query.
pub const I8_BLOCK: usize = 16;

/// `out[i * 16 + r]` = `Σ_d queries[i][d] · block[r][d]`: one block of [`I8_BLOCK`] int8
/// rows against every query (`u8`, stored offset by +128; `width` bytes each).
///
/// The block is laid out for `vpdpbusd`: for each group of 4 columns, the 16 rows' 4 bytes
/// (`block[(g · 16 + r) · 4 + e]` is row `r`, column `4g + e`), so one instruction takes 4
/// columns of 16 rows for one query and the sums need no horizontal reduction. Integer sums
/// are exact, so the VNNI body and the portable one give the same numbers. `width` is a
/// multiple of 4, `block` holds `16 · width` bytes and `out` at least `16 ·` queries values.
pub fn block_dots(block: &[i8], queries: &[u8], width: usize, out: &mut [i32]) {
    if width == 0 {
        return;
    }
    let nq = queries.len() / width;
    assert!(
        width.is_multiple_of(4) && block.len() == I8_BLOCK * width && out.len() >= I8_BLOCK * nq,
        "int8 scan buffers do not match"
    );
    #[cfg(target_arch = "x86_64")]
    if super::q8::vnni_available() {
        // SAFETY: the CPU has avx512f, avx512bw and avx512vnni (checked just above); the
        // buffers' sizes are asserted above.
        unsafe { vnni::block_dots(block, queries, width, out) };
        return;
    }
    portable_block_dots(block, queries, width, out);
}

multiversion! {
    /// [`block_dots`] in plain Rust.
    fn portable_block_dots(block: &[i8], queries: &[u8], width: usize, out: &mut [i32]) {
        for (q, sums) in queries.chunks_exact(width).zip(out.chunks_exact_mut(I8_BLOCK)) {
            let mut acc = [0i32; I8_BLOCK];
            for (qg, bg) in q.chunks_exact(4).zip(block.chunks_exact(4 * I8_BLOCK)) {
                for (r, a) in acc.iter_mut().enumerate() {
                    for e in 0..4 {
                        *a += qg[e] as i32 * bg[r * 4 + e] as i32;
                    }
                }
            }
            sums.copy_from_slice(&acc);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod vnni {
    use super::I8_BLOCK;
    use std::arch::x86_64::*;

    /// [`super::block_dots`] with `vpdpbusd`: queries in groups of up to 16, one register
    /// of sums each.
    ///
    /// # Safety
    /// The CPU has avx512f, avx512bw and avx512vnni; `width` is a non-zero multiple of 4,
    /// `block.len() == 16 · width` and `out.len() >= 16 · (queries.len() / width)`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub unsafe fn block_dots(block: &[i8], queries: &[u8], width: usize, out: &mut [i32]) {
        let nq = queries.len() / width;
        debug_assert!(width > 0 && width.is_multiple_of(4));
        debug_assert!(block.len() == I8_BLOCK * width && out.len() >= I8_BLOCK * nq);
        let mut i = 0;
        while i < nq {
            let m = match nq - i {
                16.. => 16,
                8..=15 => 8,
                4..=7 => 4,
                2..=3 => 2,
                _ => 1,
            };
            // SAFETY: the CPU has the features; queries i..i + m < nq are inside queries and
            // their sums inside out (contract), the block as the contract gives it.
            unsafe {
                let q = queries.as_ptr().add(i * width);
                let o = out.as_mut_ptr().add(i * I8_BLOCK);
                match m {
                    16 => kernel::<16>(block, q, width, o),
                    8 => kernel::<8>(block, q, width, o),
                    4 => kernel::<4>(block, q, width, o),
                    2 => kernel::<2>(block, q, width, o),
                    _ => one(block, q, width, o),
                }
            }
            i += m;
        }
    }

    /// One query against the block, in four independent chains of `vpdpbusd` (one chain
    /// would wait on each instruction's latency); the int8 scan's second stage calls this.
    /// The four are named registers: indexed as `acc[g % 4]` they were kept on the stack,
    /// and each step waited on a store and a load (half the time of the server's pass).
    ///
    /// # Safety
    /// As [`kernel`] with `M` = 1.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn one(block: &[i8], q: *const u8, width: usize, out: *mut i32) {
        debug_assert!(block.len() == I8_BLOCK * width);
        let groups = width / 4;
        // SAFETY: group g < width / 4 is 64 bytes at 64·g inside the block and the query's 4
        // bytes at 4g inside q (contract).
        let step = |acc: __m512i, g: usize| unsafe {
            let rows = _mm512_loadu_si512(block.as_ptr().add(g * 64) as *const _);
            let qv = _mm512_set1_epi32(std::ptr::read_unaligned(q.add(g * 4) as *const i32));
            _mm512_dpbusd_epi32(acc, qv, rows)
        };
        let (mut a0, mut a1, mut a2, mut a3) = (
            _mm512_setzero_si512(),
            _mm512_setzero_si512(),
            _mm512_setzero_si512(),
            _mm512_setzero_si512(),
        );
        let mut g = 0;
        while g + 4 <= groups {
            a0 = step(a0, g);
            a1 = step(a1, g + 1);
            a2 = step(a2, g + 2);
            a3 = step(a3, g + 3);
            g += 4;
        }
        while g < groups {
            a0 = step(a0, g);
            g += 1;
        }
        let sum = _mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3));
        // SAFETY: out has 16 i32s (contract).
        unsafe { _mm512_storeu_si512(out as *mut _, sum) };
    }

    /// `M` queries (from `q`, `width` bytes apart) against the block; sums to `out`.
    ///
    /// # Safety
    /// The CPU has avx512f, avx512bw and avx512vnni; `block.len() == 16 · width` with `width`
    /// a multiple of 4; `q` points at `M · width` readable bytes and `out` at `16 · M`
    /// writable i32s that nothing else touches meanwhile.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn kernel<const M: usize>(block: &[i8], q: *const u8, width: usize, out: *mut i32) {
        debug_assert!(block.len() == I8_BLOCK * width);
        let mut acc = [_mm512_setzero_si512(); M];
        for g in 0..width / 4 {
            // SAFETY: the CPU has the features; group g < width / 4 is 64 bytes at 64·g
            // inside the block, and query m's 4 bytes at m·width + 4g inside q (contract).
            unsafe {
                let rows = _mm512_loadu_si512(block.as_ptr().add(g * 64) as *const _);
                for (m, a) in acc.iter_mut().enumerate() {
                    let qv = _mm512_set1_epi32(std::ptr::read_unaligned(
                        q.add(m * width + g * 4) as *const i32
                    ));
                    *a = _mm512_dpbusd_epi32(*a, qv, rows);
                }
            }
        }
        for (m, a) in acc.iter().enumerate() {
            // SAFETY: out has 16 · M i32s (contract); m < M.
            unsafe { _mm512_storeu_si512(out.add(m * I8_BLOCK) as *mut _, *a) };
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

    #[test]
    fn int8_block_dots_are_exact() {
        let width = 40;
        let block: Vec<i8> = (0..width * I8_BLOCK)
            .map(|i| ((i * 37 % 255) as i32 - 127) as i8)
            .collect();
        // 23 queries: every kernel width (16, 4, 2, 1) is used.
        let nq = 23;
        let queries: Vec<u8> = (0..width * nq).map(|i| (i * 91 % 256) as u8).collect();
        let mut out = vec![0i32; I8_BLOCK * nq];
        block_dots(&block, &queries, width, &mut out);
        let mut portable = vec![0i32; I8_BLOCK * nq];
        portable_block_dots(&block, &queries, width, &mut portable);
        for q in 0..nq {
            for r in 0..I8_BLOCK {
                let want: i32 = (0..width)
                    .map(|d| {
                        let b = block[((d / 4) * I8_BLOCK + r) * 4 + d % 4];
                        queries[q * width + d] as i32 * b as i32
                    })
                    .sum();
                assert_eq!(out[q * I8_BLOCK + r], want, "{q} {r}");
                assert_eq!(portable[q * I8_BLOCK + r], want, "{q} {r}");
            }
        }
    }
}
