//! Multi-head self-attention over packed sequences: every sequence attends to itself only, so
//! there is no padding and no mask.
//!
//! Work is one (sequence, head) pair per task. Inside, 16 query rows are processed at once with
//! the query index in the vector lanes: scores are kept transposed (`S[key][16 queries]`), so the
//! softmax over the keys of each query is plain vertical arithmetic (max, exp, sum across
//! registers, no horizontal reductions), and both products broadcast one scalar from memory at
//! fixed offsets into FMAs: `S[j] += K[d][j] · Q[d]` (K transposed, 24 keys per pass) and
//! `O[d] += V[j][d] · P[j]` (16 output columns per pass). Sequences of any length up to the
//! model's 512 positions take the same path: one row block's scores (512 × 16 floats) fit in L1.
//!
//! Every step sums in a fixed order (scores over d, the softmax denominator and the outputs over
//! the keys, in index order, one FMA per step; the outputs then scaled by the reciprocal of the
//! denominator), which the portable loop repeats exactly: the
//! kernels give the same bits.
//!
//! In bf16 ([`Products::Bf16`]) both products take bf16 pairs with f32 sums (`vdpbf16ps`): Q and
//! K paired along the head dimension, the probabilities and V along the keys, so each
//! instruction does two steps of the sums above. Scaling, softmax and the sums stay f32. Where
//! the CPU lacks AVX512_BF16 an AVX-512 F emulation (and the portable loop) round and sum in the
//! instruction's order, so every path gives the same bits.

use std::ops::Range;

use rayon::prelude::*;

use super::bf16::{dot_pair, pair};
use super::elementwise::exp_fma;
use super::{Isa, SharedMut};

/// What attention's two products multiply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Products {
    /// f32 inputs, f32 sums.
    F32,
    /// bf16 inputs, f32 sums; `native` runs `vdpbf16ps`, which the CPU must have.
    Bf16 {
        /// Use AVX512_BF16 rather than its emulation.
        native: bool,
    },
}

impl Products {
    /// bf16 products, native where this CPU has AVX512_BF16.
    pub(crate) fn bf16() -> Products {
        Products::Bf16 {
            native: super::bf16::native_available(),
        }
    }
}

/// Query rows per block: one 512-bit register of f32 lanes.
const QB: usize = 16;
/// Keys per score pass of the AVX-512 kernel (24 accumulators).
const KB: usize = 24;

/// Position of key `j`, dimension `d` in the transposed K of a sequence whose length rounds up to
/// `lp` keys: blocks of 24 keys (the last one 8 or 16), each stored `[d][keys of the block]`, so
/// the score pass over a block reads one contiguous stretch.
#[inline(always)]
fn kt_at(j: usize, d: usize, hd: usize, lp: usize) -> usize {
    let j0 = j / KB * KB;
    j0 * hd + d * KB.min(lp - j0) + (j - j0)
}

/// Keys in the score pass at key `j` of `lp` (a multiple of 8): the [`kt_at`] block there, 24
/// keys, the last one 16 or 8, so the passes tile `0..lp` exactly.
#[inline(always)]
fn key_pass(lp: usize, j: usize) -> usize {
    match lp - j {
        n if n >= KB => KB,
        n if n >= 16 => 16,
        _ => 8,
    }
}

/// Columns in the output pass at column `d` of `hd`: the widest of 16, 8, 4, 2 and 1 that fits,
/// so the passes tile `0..hd` exactly.
#[inline(always)]
fn column_pass(hd: usize, d: usize) -> usize {
    match hd - d {
        n if n >= 16 => 16,
        n if n >= 8 => 8,
        n if n >= 4 => 4,
        n if n >= 2 => 2,
        _ => 1,
    }
}

/// Scratch of one attention task, kept per worker thread.
#[derive(Default)]
pub(crate) struct Scratch {
    /// K transposed per block of keys (see [`kt_at`]), zero beyond `len`.
    kt: Vec<f32>,
    /// Q of one block transposed and scaled, `[hd][16]`.
    qt: Vec<f32>,
    /// Scores, then probabilities, `[len rounded up to 8][16]`.
    s: Vec<f32>,
    /// Outputs of one block, `[hd][16]`.
    o: Vec<f32>,
    /// V of the sequence and head, `[len][hd]`.
    v: Vec<f32>,
    /// bf16 only: K in pairs along d, laid out as `kt` with `hd / 2` rows per block.
    kp: Vec<u32>,
    /// bf16 only: Q of one block in pairs along d, `[hd / 2][16]`.
    qp: Vec<u32>,
    /// bf16 only: probabilities in pairs along the keys, `[len / 2][16]`.
    pp: Vec<u32>,
    /// bf16 only: V in pairs along the keys, `[len / 2][hd]`.
    vp: Vec<u32>,
    /// The AVX-512 emulation of bf16 only: the smallest exponents of `kp`'s and `vp`'s values
    /// (see [`super::bf16::sums_stay_normal`]).
    k_min_exp: u32,
    v_min_exp: u32,
    /// The AVX-512 emulation of bf16 only: `kp`'s and `vp`'s pairs split into their high and
    /// low halves as f32 (the half in the high 16 bits, zeros below), so that each FMA takes
    /// its K or V value as a broadcast memory operand instead of a broadcast, a mask and a
    /// shift per pair.
    kh: Vec<f32>,
    kl: Vec<f32>,
    vh: Vec<f32>,
    vl: Vec<f32>,
}

/// `pairs` split into their high and low bf16 halves as f32 values, into `hi` and `lo`.
fn split_pairs(pairs: &[u32], hi: &mut Vec<f32>, lo: &mut Vec<f32>) {
    hi.clear();
    hi.extend(pairs.iter().map(|&x| f32::from_bits(x & 0xffff_0000)));
    lo.clear();
    lo.extend(pairs.iter().map(|&x| f32::from_bits(x << 16)));
}

/// `ctx[T, heads·hd]` = attention of every sequence (a row range of `qkv`) over itself;
/// `qkv` is `[T, 3·heads·hd]` with Q, K and V side by side in each row.
pub(crate) fn attention(
    products: Products,
    qkv: &[f32],
    seqs: &[Range<usize>],
    heads: usize,
    hd: usize,
    ctx: &mut [f32],
) {
    attention_with(Isa::best(), products, qkv, seqs, heads, hd, ctx)
}

/// [`attention`] on a given instruction set, which the CPU must have (checked: the SIMD bodies
/// would be undefined behaviour otherwise).
///
/// `seqs` must be in order and disjoint (checked): tasks write their rows of `ctx` in parallel.
pub(crate) fn attention_with(
    isa: Isa,
    products: Products,
    qkv: &[f32],
    seqs: &[Range<usize>],
    heads: usize,
    hd: usize,
    ctx: &mut [f32],
) {
    let h = heads * hd;
    let t = seqs.iter().map(|s| s.end).max().unwrap_or(0);
    // Real asserts, not debug ones: this is a safe function and the raw writes below rely on
    // them. Each is O(1) or O(sequences) per call, nothing next to the attention itself.
    assert!(
        isa.available(),
        "attention: {isa:?} not available on this CPU"
    );
    assert!(
        products != Products::Bf16 { native: true } || super::bf16::native_available(),
        "attention: AVX512_BF16 not available on this CPU"
    );
    assert!(
        qkv.len() >= t * 3 * h && ctx.len() >= t * h,
        "attention buffers too small"
    );
    let mut prev_end = 0;
    let disjoint = seqs.iter().filter(|r| !r.is_empty()).all(|r| {
        let ok = r.start >= prev_end;
        prev_end = r.end;
        ok
    });
    assert!(disjoint, "attention: sequences out of order or overlapping");
    let scale = 1.0 / (hd as f32).sqrt();
    let out = SharedMut::new(ctx);
    let jobs: Vec<(usize, usize)> = (0..seqs.len())
        .flat_map(|s| (0..heads).map(move |head| (s, head)))
        .filter(|&(s, _)| !seqs[s].is_empty())
        .collect();
    let run = |scratch: &mut Scratch, &(s, head): &(usize, usize)| {
        let head = Head {
            qkv,
            rows: seqs[s].clone(),
            col: head * hd,
            hd,
            h,
            scale,
            products,
        };
        // SAFETY: `out` is ctx, which holds t × h ≥ rows.end × h floats (asserted); this job
        // writes rows `seqs[s]` × the columns of `head`, which no other job writes (sequences
        // are disjoint, asserted); qkv holds t × 3h; the CPU has `isa` (asserted).
        unsafe { head.run(isa, scratch, out) };
    };
    // Scratch lives per thread across calls: a few hundred KiB per task would otherwise be
    // allocated and page-faulted anew for every layer.
    thread_local! {
        static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
    }
    let job = |j: &(usize, usize)| SCRATCH.with_borrow_mut(|sc| run(sc, j));
    if jobs.len() == 1 {
        job(&jobs[0]);
    } else {
        jobs.par_iter().for_each(job);
    }
}

/// One (sequence, head) task.
struct Head<'a> {
    qkv: &'a [f32],
    rows: Range<usize>,
    /// First column of this head within Q (and within K, V after their offsets).
    col: usize,
    hd: usize,
    h: usize,
    scale: f32,
    products: Products,
}

impl Head<'_> {
    /// Attention of this head over its sequence, written into `out`.
    ///
    /// # Safety
    /// - `isa.available()`: the CPU has the instruction set.
    /// - With `Products::Bf16 { native: true }`, `super::bf16::native_available()`: the CPU
    ///   has AVX512_BF16 (and BW).
    /// - `out` is `ctx` (`[T, h]` row-major): `rows.end × h <= out.len()`.
    /// - `col + hd <= h` and `qkv.len() >= rows.end × 3h` (a head lies inside a row).
    /// - While this runs, no other thread reads or writes rows `rows` × columns
    ///   `col..col + hd` of `out`.
    unsafe fn run(&self, isa: Isa, sc: &mut Scratch, out: SharedMut) {
        debug_assert!(isa.available(), "{isa:?} not available");
        debug_assert!(self.col + self.hd <= self.h, "head columns beyond the row");
        debug_assert!(
            self.rows.start <= self.rows.end
                && self.rows.end * self.h <= out.len()
                && self.rows.end * 3 * self.h <= self.qkv.len(),
            "rows {:?} beyond the buffers",
            self.rows
        );
        let (len, hd) = (self.rows.len(), self.hd);
        let lp = len.next_multiple_of(8);
        sc.kt.clear();
        sc.kt.resize(hd * lp, 0.0);
        sc.v.resize(len * hd, 0.0);
        sc.qt.resize(hd * QB, 0.0);
        sc.s.resize(lp * QB, 0.0);
        sc.o.resize(hd * QB, 0.0);
        let bf16 = self.products != Products::F32;
        if bf16 {
            let (hp, lq) = (hd.div_ceil(2), len.div_ceil(2));
            sc.kp.resize(hp * lp, 0);
            sc.qp.resize(hp * QB, 0);
            sc.pp.resize(lq * QB, 0);
            sc.vp.resize(lq * hd, 0);
        }
        #[cfg(target_arch = "x86_64")]
        if isa == Isa::Avx512 {
            // SAFETY: the CPU has avx512f, avx2 and fma (`isa`, contract); the scratch buffers
            // were sized for `len` and `lp` just above; `out` and the rows as in our contract.
            unsafe { avx512::head(self, sc, lp, out) };
            return;
        }
        let _ = isa;
        let row = |i: usize, part: usize| {
            let r = (self.rows.start + i) * 3 * self.h + part * self.h + self.col;
            &self.qkv[r..r + hd]
        };
        // K transposed and V contiguous, once per head: every query block reads them again.
        for j in 0..len {
            for (d, &k) in row(j, 1).iter().enumerate() {
                sc.kt[kt_at(j, d, hd, lp)] = k;
            }
            sc.v[j * hd..(j + 1) * hd].copy_from_slice(row(j, 2));
        }
        if bf16 {
            pair_keys(sc, hd, len, lp);
        }
        for q0 in (0..len).step_by(QB) {
            let n = (len - q0).min(QB);
            sc.qt.fill(0.0);
            for i in 0..n {
                for (d, &q) in row(q0 + i, 0).iter().enumerate() {
                    sc.qt[d * QB + i] = self.scale * q;
                }
            }
            if bf16 {
                portable_block_bf16(sc, hd, len, lp);
            } else {
                portable_block(sc, hd, len, lp);
            }
            for i in 0..n {
                // SAFETY: q0 + i < len, so this is row rows.start + q0 + i < rows.end of ctx,
                // columns col..col + hd <= h: inside `out` and written by this task only
                // (contract). The slice dies before the next one is made.
                let dst =
                    unsafe { out.slice_mut((self.rows.start + q0 + i) * self.h + self.col, hd) };
                for (d, o) in dst.iter_mut().enumerate() {
                    *o = sc.o[d * QB + i];
                }
            }
        }
    }
}

super::multiversion! {
/// Scores, softmax and output of one query block in plain loops, in the kernels' order.
/// Multiversioned so that a CPU with AVX2 and FMA but no AVX-512 runs its `mul_add`s as
/// instructions: the baseline copy calls libm's `fmaf` for each.
fn portable_block(sc: &mut Scratch, hd: usize, len: usize, lp: usize) {
    for j in 0..len {
        for i in 0..QB {
            let mut acc = 0f32;
            for d in 0..hd {
                acc = sc.kt[kt_at(j, d, hd, lp)].mul_add(sc.qt[d * QB + i], acc);
            }
            sc.s[j * QB + i] = acc;
        }
    }
    let inv = softmax_columns(&mut sc.s, len);
    for d in 0..hd {
        for (i, &r) in inv.iter().enumerate() {
            let mut acc = 0f32;
            for j in 0..len {
                acc = sc.v[j * hd + d].mul_add(sc.s[j * QB + i], acc);
            }
            sc.o[d * QB + i] = acc * r;
        }
    }
}
}

/// Pairs K along d (layout of `kt_at` with `hd / 2` rows per block) and V along the keys, in
/// bf16 (an odd last pair ends in zero).
fn pair_keys(sc: &mut Scratch, hd: usize, len: usize, lp: usize) {
    let hp = hd.div_ceil(2);
    for j0 in (0..lp).step_by(KB) {
        let w = KB.min(lp - j0);
        for p in 0..hp {
            for jj in 0..w {
                let k = |d: usize| {
                    if d < hd {
                        sc.kt[j0 * hd + d * w + jj]
                    } else {
                        0.0
                    }
                };
                sc.kp[j0 * hp + p * w + jj] = pair(k(2 * p), k(2 * p + 1));
            }
        }
    }
    for q in 0..len.div_ceil(2) {
        for d in 0..hd {
            let v = |j: usize| if j < len { sc.v[j * hd + d] } else { 0.0 };
            sc.vp[q * hd + d] = pair(v(2 * q), v(2 * q + 1));
        }
    }
}

/// Pairs `n` rows of 16 columns (`src[row][16]`) two rows at a time into `dst[n / 2][16]`, in
/// bf16; an odd last row pairs with zero.
#[inline(always)]
fn pair_rows(src: &[f32], n: usize, dst: &mut [u32]) {
    for (r, out) in dst[..n.div_ceil(2) * QB].chunks_exact_mut(QB).enumerate() {
        for (i, o) in out.iter_mut().enumerate() {
            let hi = if 2 * r + 1 < n {
                src[(2 * r + 1) * QB + i]
            } else {
                0.0
            };
            *o = pair(src[2 * r * QB + i], hi);
        }
    }
}

super::multiversion! {
/// [`portable_block`] with bf16 products, in the order of `vdpbf16ps` and of the kernels.
fn portable_block_bf16(sc: &mut Scratch, hd: usize, len: usize, lp: usize) {
    let hp = hd.div_ceil(2);
    pair_rows(&sc.qt, hd, &mut sc.qp);
    for j in 0..len {
        let (j0, jj) = (j / KB * KB, j % KB);
        let w = KB.min(lp - j0);
        for i in 0..QB {
            let mut acc = 0f32;
            for p in 0..hp {
                acc = dot_pair(acc, sc.kp[j0 * hp + p * w + jj], sc.qp[p * QB + i]);
            }
            sc.s[j * QB + i] = acc;
        }
    }
    let inv = softmax_columns(&mut sc.s, len);
    pair_rows(&sc.s, len, &mut sc.pp);
    for d in 0..hd {
        for (i, &r) in inv.iter().enumerate() {
            let mut acc = 0f32;
            for q in 0..len.div_ceil(2) {
                acc = dot_pair(acc, sc.vp[q * hd + d], sc.pp[q * QB + i]);
            }
            sc.o[d * QB + i] = acc * r;
        }
    }
}
}

/// Softmax numerators over the first `len` rows of `s` (`[len][16]`) for each of the 16
/// columns, in place: `exp(s - max)`; returns the reciprocals of their sums (in row order), by
/// which the outputs are scaled once instead of every probability.
#[inline(always)]
fn softmax_columns(s: &mut [f32], len: usize) -> [f32; QB] {
    let mut mx = [f32::NEG_INFINITY; QB];
    for row in s[..len * QB].chunks_exact(QB) {
        for (m, &v) in mx.iter_mut().zip(row) {
            *m = if v > *m { v } else { *m };
        }
    }
    let mut sum = [0f32; QB];
    for row in s[..len * QB].chunks_exact_mut(QB) {
        for ((v, &m), a) in row.iter_mut().zip(&mx).zip(sum.iter_mut()) {
            *v = exp_fma(*v - m);
            *a += *v;
        }
    }
    sum.map(|a| 1.0 / a)
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::avx512_bf16::{
        block_emulated as block_bf16_emulated, block_native as block_bf16_native, pair_keys,
        pair_keys_native,
    };
    use super::{
        column_pass, key_pass, softmax_columns, Head, Products, Scratch, SharedMut, KB, QB,
    };
    use std::arch::x86_64::*;

    /// One (sequence, head): K transposed (16 × 16 in registers) and V copied, then per block
    /// of 16 queries Q transposed (scaled), scores, softmax, and the output transposed back
    /// into `out`.
    ///
    /// # Safety
    /// - The CPU has avx512f, avx2 and fma, and with `Products::Bf16 { native: true }` also
    ///   avx512bw and avx512bf16 (`bf16::native_available()`).
    /// - `lp == len.next_multiple_of(8)` for the sequence's `len`, and the scratch holds
    ///   `kt: hd × lp`, `v: len × hd`, `qt` and `o: hd × 16`, `s: lp × 16` floats.
    /// - `hd_` and `out` as in [`Head::run`].
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub unsafe fn head(hd_: &Head, sc: &mut Scratch, lp: usize, out: SharedMut) {
        let (len, hd, h) = (hd_.rows.len(), hd_.hd, hd_.h);
        let stride = 3 * h;
        debug_assert!(lp == len.next_multiple_of(8));
        debug_assert!(
            sc.kt.len() >= hd * lp
                && sc.v.len() >= len * hd
                && sc.qt.len() >= hd * QB
                && sc.o.len() >= hd * QB
                && sc.s.len() >= lp * QB,
            "attention scratch too small"
        );
        debug_assert!(
            hd_.col + hd <= h
                && hd_.rows.end * stride <= hd_.qkv.len()
                && hd_.rows.end * h <= out.len()
        );
        // SAFETY: the CPU has the features (contract). qkv reads are at `base` + row × stride +
        // column, for rows 0..len of this sequence (a masked lane is not read) and columns
        // col..col + hd of Q, K or V: inside qkv (contract). The K block at j0 of width w fills
        // kt[j0·hd .. j0·hd + w·hd] ⊆ kt[..hd·lp]; V rows fill v[..len·hd]; qt and o are
        // hd × 16; the output goes to rows q0.. of this sequence (those below len), columns
        // col..col + hd of ctx, this task's own region (contract).
        unsafe {
            let base = hd_.qkv.as_ptr().add(hd_.rows.start * stride + hd_.col);
            let tail = |n: usize| -> __mmask16 {
                if n >= 16 {
                    0xffff
                } else {
                    (1u16 << n) - 1
                }
            };
            for j0 in (0..lp).step_by(KB) {
                let w = KB.min(lp - j0);
                for s0 in (0..w).step_by(16) {
                    let sw = (w - s0).min(16);
                    let valid = sw.min(len.saturating_sub(j0 + s0));
                    let m = tail(valid);
                    let kb = base.add((j0 + s0) * stride + h);
                    let dst = sc.kt.as_mut_ptr().add(j0 * hd + s0);
                    for d0 in (0..hd).step_by(16) {
                        let cols = (hd - d0).min(16);
                        let k = transpose16(load_rows(kb.add(d0), stride, valid, tail(cols)));
                        for (c, k) in k.iter().enumerate().take(cols) {
                            _mm512_mask_storeu_ps(dst.add((d0 + c) * w), m, *k);
                        }
                    }
                }
            }
            for j in 0..len {
                let src = base.add(j * stride + 2 * h);
                let dst = sc.v.as_mut_ptr().add(j * hd);
                for d in (0..hd).step_by(16) {
                    let m = tail(hd - d);
                    _mm512_mask_storeu_ps(dst.add(d), m, _mm512_maskz_loadu_ps(m, src.add(d)));
                }
            }
            // SAFETY (native): the CPU has avx512bw and avx512bf16 with native products
            // (contract).
            match hd_.products {
                Products::F32 => {}
                Products::Bf16 { native: true } => pair_keys_native(sc, hd, len, lp),
                Products::Bf16 { native: false } => {
                    pair_keys(sc, hd, len, lp);
                    let (hp, lq) = (hd.div_ceil(2), len.div_ceil(2));
                    sc.k_min_exp = super::super::bf16::min_exponent_pairs(&sc.kp[..hp * lp]);
                    sc.v_min_exp = super::super::bf16::min_exponent_pairs(&sc.vp[..lq * hd]);
                    super::split_pairs(&sc.kp[..hp * lp], &mut sc.kh, &mut sc.kl);
                    super::split_pairs(&sc.vp[..lq * hd], &mut sc.vh, &mut sc.vl);
                }
            }
            let scale = _mm512_set1_ps(hd_.scale);
            for q0 in (0..len).step_by(QB) {
                let valid = (len - q0).min(QB);
                let qb = base.add(q0 * stride);
                for d0 in (0..hd).step_by(16) {
                    let cols = (hd - d0).min(16);
                    let q = transpose16(load_rows(qb.add(d0), stride, valid, tail(cols)));
                    for (c, q) in q.iter().enumerate().take(cols) {
                        let dst = sc.qt.as_mut_ptr().add((d0 + c) * QB);
                        _mm512_storeu_ps(dst, _mm512_mul_ps(scale, *q));
                    }
                }
                // SAFETY: the features and the scratch sizes as the blocks require (contract;
                // Products::Bf16 { native: true } was checked against the CPU by the caller).
                match hd_.products {
                    Products::F32 => block(sc, hd, len, lp),
                    Products::Bf16 { native: true } => block_bf16_native(sc, hd, len, lp),
                    Products::Bf16 { native: false } => block_bf16_emulated(sc, hd, len, lp),
                }
                let ob = out.ptr().add((hd_.rows.start + q0) * h + hd_.col);
                for d0 in (0..hd).step_by(16) {
                    let cols = (hd - d0).min(16);
                    let o = transpose16(load_rows(sc.o.as_ptr().add(d0 * QB), QB, cols, 0xffff));
                    for (r, o) in o.iter().enumerate().take(valid) {
                        _mm512_mask_storeu_ps(ob.add(r * h + d0), tail(cols), *o);
                    }
                }
            }
        }
    }

    /// `rows` rows of 16 floats, `stride` apart from `src`, lanes outside `cols` zero; the
    /// rows from `rows` to 16 are zero.
    ///
    /// # Safety
    /// The CPU has avx512f; for each row `r < rows`, the lanes of `cols` at `src + r · stride`
    /// are readable.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn load_rows(
        src: *const f32,
        stride: usize,
        rows: usize,
        cols: __mmask16,
    ) -> [__m512; 16] {
        let mut out = [_mm512_setzero_ps(); 16];
        for (r, v) in out.iter_mut().enumerate().take(rows) {
            // SAFETY: row r < rows, masked to cols (contract).
            *v = unsafe { _mm512_maskz_loadu_ps(cols, src.add(r * stride)) };
        }
        out
    }

    /// The 16 × 16 transpose of `r` (row `i` of the result is column `i` of `r`), in registers:
    /// 64 shuffles, where the gathers and scatters it replaces (Q and K in, the output out)
    /// took a third of attention's time on the AMD EPYC here.
    ///
    /// # Safety
    /// The CPU has avx512f.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn transpose16(r: [__m512; 16]) -> [__m512; 16] {
        let mut t = [_mm512_setzero_ps(); 16];
        // Per 128-bit lane L: t[2i] = (a0 b0 a1 b1), t[2i + 1] = (a2 b2 a3 b3) of rows 2i, 2i + 1.
        for i in 0..8 {
            t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
        }
        // u[4i + c], lane L: rows 4i..4i + 4 of column 4L + c.
        let mut u = [_mm512_setzero_ps(); 16];
        let (lo, hi) = (
            |a: __m512, b: __m512| {
                _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)))
            },
            |a: __m512, b: __m512| {
                _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)))
            },
        );
        for i in 0..4 {
            u[4 * i] = lo(t[4 * i], t[4 * i + 2]);
            u[4 * i + 1] = hi(t[4 * i], t[4 * i + 2]);
            u[4 * i + 2] = lo(t[4 * i + 1], t[4 * i + 3]);
            u[4 * i + 3] = hi(t[4 * i + 1], t[4 * i + 3]);
        }
        // Column 4L + c gathers lane L of u[c], u[4 + c], u[8 + c], u[12 + c].
        let mut out = [_mm512_setzero_ps(); 16];
        for c in 0..4 {
            let v0 = _mm512_shuffle_f32x4::<0x88>(u[c], u[4 + c]);
            let v1 = _mm512_shuffle_f32x4::<0xdd>(u[c], u[4 + c]);
            let v2 = _mm512_shuffle_f32x4::<0x88>(u[8 + c], u[12 + c]);
            let v3 = _mm512_shuffle_f32x4::<0xdd>(u[8 + c], u[12 + c]);
            out[c] = _mm512_shuffle_f32x4::<0x88>(v0, v2);
            out[4 + c] = _mm512_shuffle_f32x4::<0x88>(v1, v3);
            out[8 + c] = _mm512_shuffle_f32x4::<0xdd>(v0, v2);
            out[12 + c] = _mm512_shuffle_f32x4::<0xdd>(v1, v3);
        }
        out
    }

    /// One block of 16 queries: scores, softmax, output into `sc.o`.
    ///
    /// # Safety
    /// The CPU has avx512f, avx2 and fma; `lp == len.next_multiple_of(8)`; the scratch holds
    /// `kt: hd × lp` (laid out as `kt_at`), `v: len × hd`, `qt` and `o: hd × 16`, `s: lp × 16`.
    #[inline]
    #[target_feature(enable = "avx512f,avx2,fma")]
    unsafe fn block(sc: &mut Scratch, hd: usize, len: usize, lp: usize) {
        debug_assert!(lp == len.next_multiple_of(8));
        debug_assert!(
            sc.kt.len() >= hd * lp
                && sc.v.len() >= len * hd
                && sc.qt.len() >= hd * QB
                && sc.o.len() >= hd * QB
                && sc.s.len() >= lp * QB,
            "attention scratch too small"
        );
        // SAFETY: lp is a multiple of 8, so the widths below tile 0..lp exactly and each pass
        // is one kt_at block (24 keys, the last 16 or 8): j + J <= lp, as scores() requires.
        unsafe {
            let mut j = 0;
            while j < lp {
                let w = key_pass(lp, j);
                match w {
                    KB => scores::<KB>(sc, hd, j),
                    16 => scores::<16>(sc, hd, j),
                    _ => scores::<8>(sc, hd, j),
                }
                j += w;
            }
        }
        let inv = softmax_columns(&mut sc.s, len);
        // SAFETY: `inv` is 16 floats; the widths below tile 0..hd exactly, so d + D <= hd, and
        // sc.v holds len × hd with rows hd apart, as output() requires.
        unsafe {
            let inv = _mm512_loadu_ps(inv.as_ptr());
            let v = sc.v.as_ptr();
            let mut d = 0;
            while d < hd {
                let w = column_pass(hd, d);
                match w {
                    16 => output::<16>(sc, v, hd, len, d, inv),
                    8 => output::<8>(sc, v, hd, len, d, inv),
                    4 => output::<4>(sc, v, hd, len, d, inv),
                    2 => output::<2>(sc, v, hd, len, d, inv),
                    _ => output::<1>(sc, v, hd, len, d, inv),
                }
                d += w;
            }
        }
    }

    /// Scores of keys `j..j+J` for the 16 queries: `S[j] = Σ_d K[d][j] · Q[d]`.
    ///
    /// # Safety
    /// The CPU has avx512f; keys `j..j + J` are one block of `kt` (`[d][J keys]` at `j × hd`,
    /// as `kt_at` lays it out), so `kt.len() >= (j + J) × hd`; `qt.len() >= hd × 16` and
    /// `s.len() >= (j + J) × 16`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn scores<const J: usize>(sc: &mut Scratch, hd: usize, j: usize) {
        debug_assert!(
            sc.kt.len() >= (j + J) * hd && sc.qt.len() >= hd * QB && sc.s.len() >= (j + J) * QB,
            "scores {j}..{}: scratch too small",
            j + J
        );
        // SAFETY: the CPU has avx512f; k walks kt[j·hd .. (j + J)·hd], q walks qt[..hd·16],
        // the stores fill s[j·16 .. (j + J)·16]: all inside the buffers (contract).
        unsafe {
            let mut acc = [_mm512_setzero_ps(); J];
            let mut k = sc.kt.as_ptr().add(j * hd);
            let mut q = sc.qt.as_ptr();
            for _ in 0..hd {
                let qv = _mm512_loadu_ps(q);
                for (jj, a) in acc.iter_mut().enumerate() {
                    *a = _mm512_fmadd_ps(_mm512_set1_ps(*k.add(jj)), qv, *a);
                }
                k = k.add(J);
                q = q.add(QB);
            }
            for (jj, a) in acc.iter().enumerate() {
                _mm512_storeu_ps(sc.s.as_mut_ptr().add((j + jj) * QB), *a);
            }
        }
    }

    /// Output columns `d..d+D` for the 16 queries: `O[d] = Σ_j V[j][d] · P[j]`.
    ///
    /// # Safety
    /// The CPU has avx512f; `v` is `sc.v`'s data, `len` rows `stride` apart
    /// (`sc.v.len() >= len × stride`), and `d + D <= stride`; `s.len() >= len × 16` and
    /// `o.len() >= (d + D) × 16`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn output<const D: usize>(
        sc: &mut Scratch,
        v: *const f32,
        stride: usize,
        len: usize,
        d: usize,
        inv: __m512,
    ) {
        debug_assert!(
            d + D <= stride,
            "output columns {d}..{} beyond {stride}",
            d + D
        );
        debug_assert!(std::ptr::eq(v, sc.v.as_ptr()) && sc.v.len() >= len * stride);
        debug_assert!(sc.s.len() >= len * QB && sc.o.len() >= (d + D) * QB);
        // SAFETY: the CPU has avx512f; vr reads v[j·stride + d .. + D] for j < len, p walks
        // s[..len·16], the stores fill o[d·16 .. (d + D)·16]: all in bounds (contract).
        unsafe {
            let mut acc = [_mm512_setzero_ps(); D];
            let mut vr = v.add(d);
            let mut p = sc.s.as_ptr();
            for _ in 0..len {
                let pv = _mm512_loadu_ps(p);
                for (dd, a) in acc.iter_mut().enumerate() {
                    *a = _mm512_fmadd_ps(_mm512_set1_ps(*vr.add(dd)), pv, *a);
                }
                vr = vr.add(stride);
                p = p.add(QB);
            }
            for (dd, a) in acc.iter().enumerate() {
                _mm512_storeu_ps(sc.o.as_mut_ptr().add((d + dd) * QB), _mm512_mul_ps(*a, inv));
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512_bf16 {
    //! The bf16 products of [`super::avx512`]: packing in bf16 pairs, and the two products with
    //! `vdpbf16ps` or its AVX-512 F emulation (one body, written once by a macro, compiled
    //! for each instruction).
    use super::super::bf16::{self, min_exponent_pairs, sums_stay_normal};
    use super::{column_pass, key_pass, softmax_columns, Scratch, KB, QB};
    use std::arch::x86_64::*;

    /// `x` rounded to bf16 as [`super::super::bf16::to_bf16`] does, in the low half of each lane.
    ///
    /// # Safety
    /// The CPU has avx512f.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn bf16_bits(x: __m512) -> __m512i {
        let b = _mm512_castps_si512(x);
        let odd = _mm512_and_si512(_mm512_srli_epi32::<16>(b), _mm512_set1_epi32(1));
        let bias = _mm512_add_epi32(_mm512_set1_epi32(0x7fff), odd);
        let r = _mm512_srli_epi32::<16>(_mm512_add_epi32(b, bias));
        let tiny = _mm512_testn_epi32_mask(b, _mm512_set1_epi32(0x7f80_0000));
        let sign = _mm512_and_si512(b, _mm512_set1_epi32(0x8000_0000u32 as i32));
        let r = _mm512_mask_mov_epi32(r, tiny, _mm512_srli_epi32::<16>(sign));
        let nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(x, x);
        let quiet = _mm512_or_si512(_mm512_srli_epi32::<16>(b), _mm512_set1_epi32(0x40));
        _mm512_mask_mov_epi32(r, nan, quiet)
    }

    /// 16 bf16 pairs `(lo, hi)`, as [`super::super::bf16::pair`] makes them.
    ///
    /// # Safety
    /// The CPU has avx512f.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn pair16(lo: __m512, hi: __m512) -> __m512i {
        // SAFETY: the CPU has avx512f (contract).
        unsafe { _mm512_or_si512(bf16_bits(lo), _mm512_slli_epi32::<16>(bf16_bits(hi))) }
    }

    /// Pairing into bf16, written once and compiled with [`pair16`] (AVX-512 F) and with
    /// [`pair16_native`] (`vcvtne2ps2bf16`), which round alike.
    macro_rules! pairing {
        ($rows:ident, $keys:ident, $features:literal, $pair:ident) => {
            /// [`super::pair_rows`]: `n` rows of 16 floats into `n / 2` rows of 16 pairs.
            ///
            /// # Safety
            /// The CPU has the features named here; `src` holds `n × 16` floats and `dst`
            /// `n.div_ceil(2) × 16` pairs.
            #[inline]
            #[target_feature(enable = $features)]
            unsafe fn $rows(src: *const f32, n: usize, dst: *mut u32) {
                // SAFETY: rows 2r and 2r + 1 < n of src, row r < n / 2 rounded up of dst
                // (contract).
                unsafe {
                    for r in 0..n.div_ceil(2) {
                        let lo = _mm512_loadu_ps(src.add(2 * r * QB));
                        let hi = if 2 * r + 1 < n {
                            _mm512_loadu_ps(src.add((2 * r + 1) * QB))
                        } else {
                            _mm512_setzero_ps()
                        };
                        _mm512_storeu_si512(dst.add(r * QB) as *mut __m512i, $pair(lo, hi));
                    }
                }
            }

            /// [`super::pair_keys`] in vectors: K along d into `kp`, V along the keys into `vp`.
            ///
            /// # Safety
            /// The CPU has the features named here; `lp == len.next_multiple_of(8)`; the scratch
            /// holds `kt: hd × lp`, `v: len × hd`, `kp: hd / 2 × lp` and `vp: len / 2 × hd`
            /// (halves rounded up).
            #[target_feature(enable = $features)]
            pub unsafe fn $keys(sc: &mut Scratch, hd: usize, len: usize, lp: usize) {
                let (hp, lq) = (hd.div_ceil(2), len.div_ceil(2));
                debug_assert!(sc.kt.len() >= hd * lp && sc.kp.len() >= hp * lp);
                debug_assert!(sc.v.len() >= len * hd && sc.vp.len() >= lq * hd);
                let tail = |n: usize| -> __mmask16 {
                    if n >= 16 {
                        0xffff
                    } else {
                        (1u16 << n) - 1
                    }
                };
                // SAFETY: block j0 of width w holds kt[j0·hd ..][d·w + jj] for d < hd, jj < w,
                // and kp[j0·hp ..][p·w + jj] for p < hp: masked to jj < w, inside both
                // (contract). V rows 2q, 2q + 1 < len and vp row q < lq, columns masked to
                // d < hd.
                unsafe {
                    let (kt, kp) = (sc.kt.as_ptr(), sc.kp.as_mut_ptr());
                    for j0 in (0..lp).step_by(KB) {
                        let w = KB.min(lp - j0);
                        for p in 0..hp {
                            for s0 in (0..w).step_by(16) {
                                let m = tail(w - s0);
                                let at = |d: usize| kt.add(j0 * hd + d * w + s0);
                                let lo = _mm512_maskz_loadu_ps(m, at(2 * p));
                                let hi = if 2 * p + 1 < hd {
                                    _mm512_maskz_loadu_ps(m, at(2 * p + 1))
                                } else {
                                    _mm512_setzero_ps()
                                };
                                let dst = kp.add(j0 * hp + p * w + s0) as *mut i32;
                                _mm512_mask_storeu_epi32(dst, m, $pair(lo, hi));
                            }
                        }
                    }
                    let (v, vp) = (sc.v.as_ptr(), sc.vp.as_mut_ptr());
                    for q in 0..lq {
                        for d in (0..hd).step_by(16) {
                            let m = tail(hd - d);
                            let lo = _mm512_maskz_loadu_ps(m, v.add(2 * q * hd + d));
                            let hi = if 2 * q + 1 < len {
                                _mm512_maskz_loadu_ps(m, v.add((2 * q + 1) * hd + d))
                            } else {
                                _mm512_setzero_ps()
                            };
                            _mm512_mask_storeu_epi32(
                                vp.add(q * hd + d) as *mut i32,
                                m,
                                $pair(lo, hi),
                            );
                        }
                    }
                }
            }
        };
    }

    pairing!(pair_rows, pair_keys, "avx512f", pair16);
    pairing!(
        pair_rows_native,
        pair_keys_native,
        "avx512f,avx512bw,avx512bf16",
        pair16_native
    );

    /// [`pair16`] in two instructions: `vcvtne2ps2bf16` rounds as [`bf16_bits`] does (to
    /// nearest even, subnormals to a signed zero, NaN quieted with its payload), then a word
    /// permute interleaves its two halves into pairs.
    ///
    /// # Safety
    /// The CPU has avx512f, avx512bw and avx512bf16.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    pub(super) unsafe fn pair16_native(lo: __m512, hi: __m512) -> __m512i {
        // Words 0..16 of the conversion are `lo`, 16..32 are `hi`; pair i takes words i, 16 + i.
        let idx = _mm512_set_epi16(
            31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6, 21, 5, 20,
            4, 19, 3, 18, 2, 17, 1, 16, 0,
        );
        // SAFETY: both are 512 bits of plain integers; only the element type's name changes.
        let halves: __m512i = unsafe { std::mem::transmute(_mm512_cvtne2ps_pbh(hi, lo)) };
        _mm512_permutexvar_epi16(idx, halves)
    }

    /// `vdpbf16ps` with `a` one pair at `a` broadcast inside the instruction
    /// ([`bf16::avx512::dp_native`]); `FLUSH` is [`step`]'s: the instruction always flushes.
    ///
    /// # Safety
    /// The CPU has avx512f and avx512bf16; `a` points at 4 readable bytes.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bf16")]
    unsafe fn dp_native_at<const FLUSH: bool>(acc: __m512, a: *const u32, b: __m512i) -> __m512 {
        // SAFETY: the CPU has the features and `a` is readable (contract).
        unsafe { bf16::avx512::dp_native(acc, b, a) }
    }

    /// `v` with its subnormal lanes made zeros of their sign, in AVX-512 F alone (the
    /// projections' `bf16::avx512::flush` uses DQ's `vfpclassps`, which attention's AVX-512
    /// path does not require).
    ///
    /// # Safety
    /// The CPU has avx512f.
    #[inline(always)]
    unsafe fn ftz(v: __m512) -> __m512 {
        // SAFETY: avx512f (contract).
        unsafe {
            let tiny = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(
                _mm512_abs_ps(v),
                _mm512_set1_ps(f32::MIN_POSITIVE),
            );
            let sign = _mm512_set1_epi32(0x8000_0000u32 as i32);
            _mm512_mask_mov_ps(
                v,
                tiny,
                _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(v), sign)),
            )
        }
    }

    /// One block's scores, softmax and output with bf16 products, as `super::avx512::block`.
    macro_rules! bf16_block {
        (
            $block:ident,
            $scores:ident,
            $output:ident,
            $features:literal,
            $pair_rows:ident,
            $emulated:literal
        ) => {
            /// One block of 16 queries with bf16 products: Q paired, scores, softmax, the
            /// probabilities paired, output into `sc.o`.
            ///
            /// # Safety
            /// The CPU has the features named here; `lp == len.next_multiple_of(8)`; the
            /// scratch holds `qt` and `o: hd × 16`, `s: lp × 16`, `kp` and `vp` as
            /// [`pair_keys`] filled them for this head (and, for the emulation, `kh`, `kl`, `vh`
            /// and `vl` split from them by [`super::split_pairs`]), `qp: hd / 2 × 16`,
            /// `pp: len / 2 × 16` (halves rounded up).
            #[inline]
            #[target_feature(enable = $features)]
            pub unsafe fn $block(sc: &mut Scratch, hd: usize, len: usize, lp: usize) {
                let (hp, lq) = (hd.div_ceil(2), len.div_ceil(2));
                debug_assert!(lp == len.next_multiple_of(8));
                debug_assert!(
                    sc.kp.len() >= hp * lp
                        && sc.vp.len() >= lq * hd
                        && sc.qt.len() >= hd * QB
                        && sc.qp.len() >= hp * QB
                        && sc.pp.len() >= lq * QB
                        && sc.o.len() >= hd * QB
                        && sc.s.len() >= lp * QB,
                    "attention scratch too small"
                );
                // SAFETY: the features (contract); qt holds hd rows and qp hp rows of 16; the
                // widths tile 0..lp as the kp blocks do, so j + J <= lp.
                unsafe {
                    $pair_rows(sc.qt.as_ptr(), hd, sc.qp.as_mut_ptr());
                    // The emulation skips its flushes where no sum can be subnormal (the
                    // instruction's FLUSH is ignored).
                    let normal = $emulated
                        && sums_stay_normal(min_exponent_pairs(&sc.qp[..hp * QB]), sc.k_min_exp);
                    let mut j = 0;
                    while j < lp {
                        let w = key_pass(lp, j);
                        match (w, normal) {
                            (KB, true) => $scores::<KB, false>(sc, hp, j),
                            (KB, false) => $scores::<KB, true>(sc, hp, j),
                            (16, true) => $scores::<16, false>(sc, hp, j),
                            (16, false) => $scores::<16, true>(sc, hp, j),
                            (_, true) => $scores::<8, false>(sc, hp, j),
                            (_, false) => $scores::<8, true>(sc, hp, j),
                        }
                        j += w;
                    }
                }
                let inv = softmax_columns(&mut sc.s, len);
                // SAFETY: s holds len rows and pp lq rows of 16; the widths tile 0..hd.
                unsafe {
                    $pair_rows(sc.s.as_ptr(), len, sc.pp.as_mut_ptr());
                    let normal = $emulated
                        && sums_stay_normal(min_exponent_pairs(&sc.pp[..lq * QB]), sc.v_min_exp);
                    let inv = _mm512_loadu_ps(inv.as_ptr());
                    let mut d = 0;
                    while d < hd {
                        let w = column_pass(hd, d);
                        match (w, normal) {
                            (16, true) => $output::<16, false>(sc, hd, lq, d, inv),
                            (16, false) => $output::<16, true>(sc, hd, lq, d, inv),
                            (8, true) => $output::<8, false>(sc, hd, lq, d, inv),
                            (8, false) => $output::<8, true>(sc, hd, lq, d, inv),
                            (4, true) => $output::<4, false>(sc, hd, lq, d, inv),
                            (4, false) => $output::<4, true>(sc, hd, lq, d, inv),
                            (2, true) => $output::<2, false>(sc, hd, lq, d, inv),
                            (2, false) => $output::<2, true>(sc, hd, lq, d, inv),
                            (_, true) => $output::<1, false>(sc, hd, lq, d, inv),
                            (_, false) => $output::<1, true>(sc, hd, lq, d, inv),
                        }
                        d += w;
                    }
                }
            }
        };
    }

    bf16_block!(
        block_native,
        scores_native,
        output_native,
        "avx512f,avx512bw,avx512bf16",
        pair_rows_native,
        false
    );
    bf16_block!(
        block_emulated,
        scores_emulated,
        output_emulated,
        "avx512f",
        pair_rows,
        true
    );

    /// The native products of a block: `vdpbf16ps` with each K or V pair broadcast.
    macro_rules! native_products {
        ($scores:ident, $output:ident, $features:literal, $dp:ident) => {
            /// Scores of keys `j..j+J` (one `kp` block) for the 16 queries, over `hp` pairs.
            ///
            /// # Safety
            /// The features; `kp.len() >= (j + J) × hp`, `qp.len() >= hp × 16`,
            /// `s.len() >= (j + J) × 16`.
            #[inline]
            #[target_feature(enable = $features)]
            unsafe fn $scores<const J: usize, const FLUSH: bool>(
                sc: &mut Scratch,
                hp: usize,
                j: usize,
            ) {
                // SAFETY: k walks kp[j·hp .. (j + J)·hp], q walks qp[..hp·16], the stores fill
                // s[j·16 .. (j + J)·16] (contract).
                unsafe {
                    let mut acc = [_mm512_setzero_ps(); J];
                    let mut k = sc.kp.as_ptr().add(j * hp);
                    let mut q = sc.qp.as_ptr();
                    for _ in 0..hp {
                        let qv = _mm512_loadu_si512(q as *const __m512i);
                        for (jj, a) in acc.iter_mut().enumerate() {
                            *a = $dp::<FLUSH>(*a, k.add(jj), qv);
                        }
                        k = k.add(J);
                        q = q.add(QB);
                    }
                    for (jj, a) in acc.iter().enumerate() {
                        _mm512_storeu_ps(sc.s.as_mut_ptr().add((j + jj) * QB), *a);
                    }
                }
            }

            /// Output columns `d..d+D` for the 16 queries over `lq` key pairs, scaled by `inv`.
            ///
            /// # Safety
            /// The features; `vp.len() >= lq × hd`, `d + D <= hd`, `pp.len() >= lq × 16`,
            /// `o.len() >= (d + D) × 16`.
            #[inline]
            #[target_feature(enable = $features)]
            unsafe fn $output<const D: usize, const FLUSH: bool>(
                sc: &mut Scratch,
                hd: usize,
                lq: usize,
                d: usize,
                inv: __m512,
            ) {
                // SAFETY: vr reads vp[q·hd + d .. + D] for q < lq, p walks pp[..lq·16], the
                // stores fill o[d·16 .. (d + D)·16] (contract).
                unsafe {
                    let mut acc = [_mm512_setzero_ps(); D];
                    let mut vr = sc.vp.as_ptr().add(d);
                    let mut p = sc.pp.as_ptr();
                    for _ in 0..lq {
                        let pv = _mm512_loadu_si512(p as *const __m512i);
                        for (dd, a) in acc.iter_mut().enumerate() {
                            *a = $dp::<FLUSH>(*a, vr.add(dd), pv);
                        }
                        vr = vr.add(hd);
                        p = p.add(QB);
                    }
                    for (dd, a) in acc.iter().enumerate() {
                        _mm512_storeu_ps(
                            sc.o.as_mut_ptr().add((d + dd) * QB),
                            _mm512_mul_ps(*a, inv),
                        );
                    }
                }
            }
        };
    }

    native_products!(
        scores_native,
        output_native,
        "avx512f,avx512bw,avx512bf16",
        dp_native_at
    );

    /// [`scores_native`] in AVX-512 F, in its order: per pair, the high products, then the
    /// low ones, from `kh` and `kl` (the keys' pairs split once per head), each FMA's subnormal
    /// result flushed to a signed zero under `FLUSH` as the instruction does.
    ///
    /// # Safety
    /// avx512f; `kh.len(), kl.len() >= (j + J) × hp`, `qp.len() >= hp × 16`,
    /// `s.len() >= (j + J) × 16`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn scores_emulated<const J: usize, const FLUSH: bool>(
        sc: &mut Scratch,
        hp: usize,
        j: usize,
    ) {
        debug_assert!(sc.kh.len() >= (j + J) * hp && sc.kl.len() >= (j + J) * hp);
        // SAFETY: kh and kl are read at [j·hp .. (j + J)·hp], q walks qp[..hp·16], the
        // stores fill s[j·16 .. (j + J)·16] (contract).
        unsafe {
            let mut acc = [_mm512_setzero_ps(); J];
            let mut kh = sc.kh.as_ptr().add(j * hp);
            let mut kl = sc.kl.as_ptr().add(j * hp);
            let mut q = sc.qp.as_ptr();
            for _ in 0..hp {
                let (qh, ql) = bf16::avx512::halves(_mm512_loadu_si512(q as *const __m512i));
                for (jj, a) in acc.iter_mut().enumerate() {
                    *a = step::<FLUSH>(*a, *kh.add(jj), qh, *kl.add(jj), ql);
                }
                kh = kh.add(J);
                kl = kl.add(J);
                q = q.add(QB);
            }
            for (jj, a) in acc.iter().enumerate() {
                _mm512_storeu_ps(sc.s.as_mut_ptr().add((j + jj) * QB), *a);
            }
        }
    }

    /// [`output_native`] in AVX-512 F, as [`scores_emulated`] is [`scores_native`]: V's pairs
    /// from `vh` and `vl`.
    ///
    /// # Safety
    /// avx512f; `vh.len(), vl.len() >= lq × hd`, `d + D <= hd`, `pp.len() >= lq × 16`,
    /// `o.len() >= (d + D) × 16`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn output_emulated<const D: usize, const FLUSH: bool>(
        sc: &mut Scratch,
        hd: usize,
        lq: usize,
        d: usize,
        inv: __m512,
    ) {
        debug_assert!(sc.vh.len() >= lq * hd && sc.vl.len() >= lq * hd && d + D <= hd);
        // SAFETY: vh and vl are read at [q·hd + d .. + D] for q < lq, p walks pp[..lq·16],
        // the stores fill o[d·16 .. (d + D)·16] (contract).
        unsafe {
            let mut acc = [_mm512_setzero_ps(); D];
            let mut vh = sc.vh.as_ptr().add(d);
            let mut vl = sc.vl.as_ptr().add(d);
            let mut p = sc.pp.as_ptr();
            for _ in 0..lq {
                let (ph, pl) = bf16::avx512::halves(_mm512_loadu_si512(p as *const __m512i));
                for (dd, a) in acc.iter_mut().enumerate() {
                    *a = step::<FLUSH>(*a, *vh.add(dd), ph, *vl.add(dd), pl);
                }
                vh = vh.add(hd);
                vl = vl.add(hd);
                p = p.add(QB);
            }
            for (dd, a) in acc.iter().enumerate() {
                _mm512_storeu_ps(sc.o.as_mut_ptr().add((d + dd) * QB), _mm512_mul_ps(*a, inv));
            }
        }
    }

    /// One pair's step of the emulation of `vdpbf16ps`: `acc + ah·bh`, then `+ al·bl` (one FMA
    /// rounds once, as the instruction's step does), each result's subnormal lanes flushed to a
    /// signed zero under `FLUSH` as the instruction does. Without `FLUSH`, the same FMAs, which
    /// give the same bits where no sum can be subnormal ([`bf16::sums_stay_normal`]).
    ///
    /// # Safety
    /// avx512f.
    #[inline(always)]
    unsafe fn step<const FLUSH: bool>(
        acc: __m512,
        ah: f32,
        bh: __m512,
        al: f32,
        bl: __m512,
    ) -> __m512 {
        // SAFETY: avx512f (contract).
        unsafe {
            let acc = _mm512_fmadd_ps(_mm512_set1_ps(ah), bh, acc);
            let acc = if FLUSH { ftz(acc) } else { acc };
            let acc = _mm512_fmadd_ps(_mm512_set1_ps(al), bl, acc);
            if FLUSH {
                ftz(acc)
            } else {
                acc
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_agree_bit_for_bit_and_equal_the_formula() {
        let mut rng = crate::test_rng::Rng::new(11);
        let mut rnd = || 2.0 * rng.f32_in(-1.0, 1.0);
        // (sequence lengths, hd, heads): lengths around the 8, 16 and 24 steps, a head width
        // that is not a multiple of 16, the model's longest sequence.
        for (lens, hd, nh) in [
            (vec![1, 5, 28], 32, 3),
            (vec![9, 17, 40, 33], 12, 2),
            (vec![512], 32, 1),
            (vec![3, 64, 65, 300], 32, 2),
            (vec![7], 8, 4),
        ] {
            let h = hd * nh;
            let mut seqs = Vec::new();
            let mut t = 2; // rows before the first sequence, as in a packed batch
            for &l in &lens {
                seqs.push(t..t + l);
                t += l;
            }
            let qkv: Vec<f32> = (0..t * 3 * h).map(|_| rnd()).collect();
            let mut want = vec![0f32; t * h];
            attention_with(Isa::Portable, Products::F32, &qkv, &seqs, nh, hd, &mut want);
            let mut want_bf16 = vec![0f32; t * h];
            let emulated = Products::Bf16 { native: false };
            attention_with(Isa::Portable, emulated, &qkv, &seqs, nh, hd, &mut want_bf16);
            let mut runs = Vec::new();
            for isa in Isa::usable() {
                runs.push((isa, Products::F32, &want));
                runs.push((isa, emulated, &want_bf16));
                if isa == Isa::Avx512 && super::super::bf16::native_available() {
                    runs.push((isa, Products::Bf16 { native: true }, &want_bf16));
                }
            }
            for (isa, products, want) in runs {
                let mut got = vec![0f32; t * h];
                attention_with(isa, products, &qkv, &seqs, nh, hd, &mut got);
                assert!(
                    got.iter()
                        .zip(want.iter())
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{isa:?} {products:?} differs from the portable loop ({lens:?}, hd {hd})"
                );
            }
            // bf16 keeps 8 bits of each input: near the f32 result, never equal to it.
            let err = want_bf16
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(err > 0.0 && err < 0.05, "bf16 off f32 by {err}");
            let scale = 1.0 / (hd as f64).sqrt();
            let at = |r: usize, part: usize, head: usize, d: usize| {
                qkv[r * 3 * h + part * h + head * hd + d] as f64
            };
            for sq in &seqs {
                for head in 0..nh {
                    for i in sq.clone() {
                        let sc: Vec<f64> = sq
                            .clone()
                            .map(|j| {
                                (0..hd)
                                    .map(|d| at(i, 0, head, d) * at(j, 1, head, d))
                                    .sum::<f64>()
                                    * scale
                            })
                            .collect();
                        let mx = sc.iter().cloned().fold(f64::MIN, f64::max);
                        let e: Vec<f64> = sc.iter().map(|v| (v - mx).exp()).collect();
                        let sum: f64 = e.iter().sum();
                        for d in 0..hd {
                            let o: f64 = sq
                                .clone()
                                .zip(&e)
                                .map(|(j, ej)| ej / sum * at(j, 2, head, d))
                                .sum();
                            let g = want[i * h + head * hd + d] as f64;
                            assert!((g - o).abs() < 1e-5, "({i},{d}): {g} vs {o}");
                        }
                    }
                }
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn transpose16_transposes() {
        if !std::arch::is_x86_feature_detected!("avx512f") {
            return;
        }
        use std::arch::x86_64::*;
        let m: Vec<f32> = (0..256).map(|i| i as f32 * 0.5 - 7.0).collect();
        // SAFETY: the CPU has avx512f (checked above); each load reads 16 of the 256 floats.
        let t = unsafe {
            let rows: [__m512; 16] =
                std::array::from_fn(|r| _mm512_loadu_ps(m.as_ptr().add(16 * r)));
            super::avx512::transpose16(rows)
        };
        for (c, col) in t.iter().enumerate() {
            let mut got = [0f32; 16];
            // SAFETY: got holds 16 floats.
            unsafe { _mm512_storeu_ps(got.as_mut_ptr(), *col) };
            let want: Vec<f32> = (0..16).map(|r| m[16 * r + c]).collect();
            assert_eq!(got.to_vec(), want, "column {c}");
        }
    }

    /// `vcvtne2ps2bf16` and its permute pair exactly as the AVX-512 F rounding does, on the
    /// values where rounding differs: ties (odd and even), carries into the exponent, the
    /// largest finite values (rounding up to infinity), subnormals, infinities, NaNs.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn native_pairing_rounds_as_the_emulation() {
        if !super::super::bf16::native_available() {
            return;
        }
        use std::arch::x86_64::*;
        let special = [
            0x3f80_8000u32, // 1 + 2^-8: a tie, even below
            0x3f81_8000,    // a tie, odd below
            0x3f80_8001,    // just above a tie
            0x3fff_ffff,    // carries into the exponent
            0x7f7f_ffff,    // f32::MAX: rounds to infinity
            0x0000_0001,    // the smallest subnormal
            0x807f_ffff,    // the largest negative subnormal
            0x0080_0000,    // f32::MIN_POSITIVE
            0x7f80_0000,    // +inf
            0xff80_0000,    // -inf
            0x7fc0_0001,    // a quiet NaN with payload
            0x7f80_0001,    // a signalling NaN
            0xffa0_1234,    // a negative NaN
            0x8000_0000,    // -0
            0x3e4c_cccd,    // 0.2
            0xc2f6_e979,    // -123.456
        ];
        let mut rng = crate::test_rng::Rng::new(3);
        for round in 0..64 {
            let lane = |i: usize, r: &mut crate::test_rng::Rng| {
                if round == 0 {
                    f32::from_bits(special[i])
                } else {
                    // The high half: the generator's low bits have short periods.
                    f32::from_bits((r.next_u64() >> 32) as u32)
                }
            };
            let lo: Vec<f32> = (0..16).map(|i| lane(i, &mut rng)).collect();
            let hi: Vec<f32> = (0..16).map(|i| lane(15 - i, &mut rng)).collect();
            let (mut a, mut b) = ([0u32; 16], [0u32; 16]);
            // SAFETY: the CPU has avx512f, avx512bw and avx512bf16 (checked above); each load
            // reads 16 floats, each store writes 16 lanes.
            unsafe {
                let (l, h) = (_mm512_loadu_ps(lo.as_ptr()), _mm512_loadu_ps(hi.as_ptr()));
                _mm512_storeu_si512(a.as_mut_ptr().cast(), super::avx512_bf16::pair16(l, h));
                _mm512_storeu_si512(
                    b.as_mut_ptr().cast(),
                    super::avx512_bf16::pair16_native(l, h),
                );
            }
            assert_eq!(a, b, "round {round}: {lo:?} {hi:?}");
        }
    }

    #[test]
    fn the_emulation_skips_its_flushes_only_where_sums_stay_normal() {
        // Q, K and V scaled so that the products walk across 2^-126. The scores end in the
        // softmax, where a flushed and a kept score near 2^-126 both give exp(s − max) = 1, so
        // what this checks is the outputs: those weights of 1 times V near 2^(10 − 2·shift),
        // subnormal from shift 68 (the exact edge is tested on the projections, which share
        // the bound: `bf16::tests::the_flushes_are_skipped_exactly_from_the_proven_edge`).
        if !Isa::usable().contains(&Isa::Avx512) {
            return;
        }
        let mut rng = crate::test_rng::Rng::new(13);
        let (len, hd, nh) = (40, 32, 2);
        let h = hd * nh;
        // Magnitudes within one binade (Q's until its scale), so the smallest exponent is
        // about every value's.
        let base: Vec<f32> = (0..len * 3 * h)
            .map(|_| {
                let v = rng.f32_in(-1.0, 1.0);
                (1.0 + 0.5 * v.abs()).copysign(v)
            })
            .collect();
        let emulated = Products::Bf16 { native: false };
        for shift in 50..76 {
            let mut qkv = base.clone();
            for (i, v) in qkv.iter_mut().enumerate() {
                *v *= 2f32.powi(if i % (3 * h) < 2 * h {
                    -shift
                } else {
                    10 - 2 * shift
                });
            }
            let whole = 0..len;
            let seqs = std::slice::from_ref(&whole);
            let mut want = vec![0f32; len * h];
            attention_with(Isa::Portable, emulated, &qkv, seqs, nh, hd, &mut want);
            let mut got = vec![0f32; len * h];
            attention_with(Isa::Avx512, emulated, &qkv, seqs, nh, hd, &mut got);
            assert!(
                got.iter()
                    .zip(&want)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "shift {shift}"
            );
        }
    }
}
