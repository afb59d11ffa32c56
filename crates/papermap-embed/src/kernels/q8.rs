//! Int8 projections for `--quant q8`: weights quantised once per output row,
//! activations per token row at run time, products accumulated exactly in i32.
//!
//! On CPUs with AVX-512 VNNI one `vpdpbusd` does 64 int8 multiply-adds, four times the f32 FMA
//! rate, so the projections (~90 % of the model's arithmetic) run several times faster than in
//! f32. Elsewhere a portable integer loop gives bit-identical results (integer sums are exact and
//! the f32 epilogue is the same sequence of operations), so a `q8` index does not depend on the
//! machine that built it.

use rayon::prelude::*;

use super::linear::Epilogue;
use super::SharedMut;

/// Outputs per register block of the VNNI kernel (two 16-lane i32 registers).
const NB: usize = 32;
/// Token rows per micro-kernel call.
const MR: usize = 8;
/// Token rows per parallel task.
const TM: usize = 64;

/// A linear layer `y = x·Wᵀ + b` with int8 weights (symmetric, one scale per output row).
pub(crate) struct QLinear {
    out: usize,
    inp: usize,
    /// `inp` rounded up to a multiple of 4 (one VNNI group).
    kp: usize,
    /// Row-major `[out, kp]` int8 weights (portable kernel), empty when VNNI packs are used.
    rows: Vec<i8>,
    /// VNNI layout: per block of 32 outputs, per group of 4 inputs, 32 × 4 bytes, each weight
    /// offset by +128 as `u8`, so that `vpdpbusd` (u8 × i8) takes the activations as its signed
    /// operand, broadcast from memory inside the instruction. Non-empty only when the CPU has
    /// VNNI: [`QLinear::tile`] enters the VNNI kernel on that alone.
    packed: Vec<u8>,
    /// Per-output scale, padded to a multiple of 32.
    scale: Vec<f32>,
    /// `128 · Σ_k W[o,k]`: the portable kernel's activations are stored offset by +128 as `u8`.
    comp: Vec<i32>,
    bias: Vec<f32>,
    /// The int8 weights transposed, `[inp, out]`: the column of an outlier channel.
    cols: Vec<i8>,
}

/// Per-token int8 activations, their scales and outliers; reused between calls.
#[derive(Default)]
pub(crate) struct QActs {
    /// For the VNNI kernel the int8 values themselves (two's complement bytes); for the portable
    /// one offset by +128.
    q: Vec<u8>,
    /// VNNI only: `Σ_k q[k]` per row, for the +128 offset of the weights.
    sum: Vec<i32>,
    scale: Vec<f32>,
    /// Per row, up to [`MAX_OUTLIERS`] (channel, value) pairs kept out of the int8 row.
    outliers: Vec<[(u32, f32); MAX_OUTLIERS]>,
    /// How many of each row's outlier slots are used.
    n_outliers: Vec<u8>,
}

/// Most values per token row computed in f32 beside the int8 product.
const MAX_OUTLIERS: usize = 8;
/// A value beyond this many times its row's RMS is an outlier.
///
/// The LayerNorm outputs feeding the Q/K/V and intermediate projections carry a few channels
/// 10-40x larger than the rest in some tokens (e5-small: channels 15, 35, 321, …, in `<s>` and
/// punctuation rows). One scale per row then leaves the ordinary channels three or four int8
/// steps, and those rows alone pulled single-query vectors to 0.9988 of f32. Taking such values
/// out of the row (they are at most a handful) and adding `x·w` for them in f32 with the
/// dequantised weight keeps every vector ≥ 0.999; the integer kernel is untouched.
const OUTLIER_RMS: f32 = 6.0;

impl QLinear {
    /// Quantises `w` (`[out, inp]`, as transformers stores it) with bias `b`.
    pub(crate) fn new(w: &[f32], b: &[f32], out: usize, inp: usize) -> Self {
        debug_assert!(w.len() == out * inp && b.len() == out);
        let kp = inp.div_ceil(4) * 4;
        let np = out.div_ceil(NB) * NB;
        let mut rows = vec![0i8; out * kp];
        let mut scale = vec![0f32; np];
        let mut comp = vec![0i32; np];
        for o in 0..out {
            let src = &w[o * inp..(o + 1) * inp];
            let amax = src.iter().fold(0f32, |m, v| m.max(v.abs()));
            let s = if amax > 0.0 { amax / 127.0 } else { 1.0 };
            scale[o] = s;
            let dst = &mut rows[o * kp..o * kp + inp];
            for (d, v) in dst.iter_mut().zip(src) {
                *d = (v / s).round().clamp(-127.0, 127.0) as i8;
            }
            comp[o] = 128 * dst.iter().map(|&q| q as i32).sum::<i32>();
        }
        let mut bias = vec![0f32; np];
        bias[..out].copy_from_slice(&b[..out]);
        let mut q = QLinear {
            out,
            inp,
            kp,
            rows,
            packed: Vec::new(),
            scale,
            comp,
            bias,
            cols: Vec::new(),
        };
        q.cols = (0..inp)
            .flat_map(|k| (0..out).map(move |o| (o, k)))
            .map(|(o, k)| q.rows[o * kp + k])
            .collect();
        if vnni::available() {
            q.packed = q.pack();
            q.rows = Vec::new();
        }
        q
    }

    /// Output width.
    pub(crate) fn out(&self) -> usize {
        self.out
    }

    /// Input width.
    pub(crate) fn inp(&self) -> usize {
        self.inp
    }

    /// Rearranges `rows` so one 64-byte load holds 16 outputs × 4 consecutive inputs, each
    /// offset by +128 (padding outputs hold the offset zero, 128).
    fn pack(&self) -> Vec<u8> {
        let np = self.scale.len();
        let kq = self.kp / 4;
        let mut p = vec![128u8; np * self.kp];
        for o in 0..self.out {
            let (blk, lane) = (o / NB, o % NB);
            for g in 0..kq {
                let dst = ((blk * kq + g) * NB + lane) * 4;
                let src = &self.rows[o * self.kp + g * 4..o * self.kp + g * 4 + 4];
                for (d, &w) in p[dst..dst + 4].iter_mut().zip(src) {
                    *d = (w as u8) ^ 0x80;
                }
            }
        }
        p
    }

    /// `y[t, out] = epilogue(x[t, inp] · Wᵀ + b)`, quantising `x` per row into `acts`.
    pub(crate) fn forward(
        &self,
        x: &[f32],
        t: usize,
        y: &mut [f32],
        epilogue: Epilogue,
        acts: &mut QActs,
    ) {
        assert!(
            x.len() >= t * self.inp && y.len() >= t * self.out,
            "projection buffers too small"
        );
        let vnni = !self.packed.is_empty();
        quantise_rows(x, t, self.inp, self.kp, acts, vnni);
        let y = &mut y[..t * self.out];
        let acts = &*acts;
        let (xq, sx) = (&acts.q[..t * self.kp], &acts.scale[..t]);
        let xs = if vnni { &acts.sum[..t] } else { &[][..] };
        let blocks = self.scale.len() / NB;
        let out = self.out;
        // Tiles of TM tokens × a share of the output blocks: enough tasks for every core even
        // when a single short query is embedded. (Packing the activations into row panels, as
        // the f32 kernel does, measured 10-20 % slower here: the quantisation pass is a larger
        // share of an int8 projection, and scattering its bytes into panels costs more than the
        // row pointers save.)
        let yp = SharedMut::new(y);
        super::projection_tiles(t, blocks, TM)
            .into_par_iter()
            .for_each(|(rows, bl)| {
                let (t0, t1, b0, b1) = (rows.start, rows.end, bl.start, bl.end);
                // SAFETY: y holds t × out floats (asserted, then cut to that) and t1 <= t,
                // b1 <= blocks; projection_tiles() hands out disjoint (token, block) tiles, so
                // no other task writes this one; xq, sx (and xs with VNNI) hold t rows
                // (quantise_rows).
                unsafe { self.tile(xq, sx, xs, t0, t1, b0, b1, yp) };
                let cols = b0 * NB..(b1 * NB).min(out);
                for r in t0..t1 {
                    let n = acts.n_outliers[r] as usize;
                    if n == 0 {
                        continue;
                    }
                    // SAFETY: row r < t, columns of this tile's blocks below `out`: inside y, in
                    // this task's own tile, whose kernel writes finished above.
                    let row = unsafe { yp.slice_mut(r * out + cols.start, cols.len()) };
                    for &(k, v) in &acts.outliers[r][..n] {
                        let col = &self.cols[k as usize * out..(k as usize + 1) * out];
                        add_outlier(row, &col[cols.clone()], &self.scale[cols.clone()], v);
                    }
                }
                if epilogue == Epilogue::BiasGelu {
                    for r in t0..t1 {
                        // SAFETY: as for the outliers above: this task's own, finished tile.
                        let row = unsafe { yp.slice_mut(r * out + cols.start, cols.len()) };
                        super::elementwise::gelu_slice(row);
                    }
                }
            });
    }

    /// Computes outputs of blocks `b0..b1` for tokens `t0..t1`.
    ///
    /// # Safety
    /// - `t0 <= t1`, `b0 <= b1 <= blocks` (blocks of 32 outputs, `out.div_ceil(32)`).
    /// - `xq.len() >= t1 × kp` (quantised rows) and `sx.len() >= t1`; with VNNI packs, `xq`
    ///   holds the values themselves and `xs.len() >= t1` their row sums, else `xq` is offset
    ///   by +128.
    /// - `t1 × out <= y.len()`, and no other thread reads or writes rows `t0..t1` × the outputs
    ///   of blocks `b0..b1` of `y` meanwhile.
    #[allow(clippy::too_many_arguments)]
    unsafe fn tile(
        &self,
        xq: &[u8],
        sx: &[f32],
        xs: &[i32],
        t0: usize,
        t1: usize,
        b0: usize,
        b1: usize,
        y: SharedMut,
    ) {
        debug_assert!(t0 <= t1 && b0 <= b1 && b1 <= self.scale.len() / NB);
        debug_assert!(xq.len() >= t1 * self.kp && sx.len() >= t1);
        debug_assert!(t1 * self.out <= y.len(), "tokens ..{t1} beyond y");
        if !self.packed.is_empty() {
            // SAFETY: packed weights exist only when VNNI was detected (see `packed`), laid out
            // for every block; the tile's bounds are our contract's.
            unsafe { vnni::tile(self, xq, sx, xs, t0, t1, b0, b1, y) };
            return;
        }
        let y = y.ptr();
        for t in t0..t1 {
            let xr = &xq[t * self.kp..(t + 1) * self.kp];
            for o in b0 * NB..(b1 * NB).min(self.out) {
                let acc = dot_u8_i8(xr, &self.rows[o * self.kp..(o + 1) * self.kp]);
                // SAFETY: t < t1 and o < out: inside y, in this caller's tile (contract).
                unsafe { *y.add(t * self.out + o) = self.epilogue(acc, o, sx[t]) };
            }
        }
    }

    /// The f32 output of an exact i32 sum; the VNNI kernel does the same operations in order.
    #[inline(always)]
    fn epilogue(&self, acc: i32, o: usize, sx: f32) -> f32 {
        (acc - self.comp[o]) as f32 * self.scale[o] * sx + self.bias[o]
    }
}

/// Symmetric int8 per row, outliers apart: for the VNNI kernel the values themselves with
/// their row sums (its weights carry the +128 offset that `vpdpbusd`'s u8 × i8 needs), for
/// the portable one offset by +128.
fn quantise_rows(x: &[f32], t: usize, inp: usize, kp: usize, acts: &mut QActs, vnni: bool) {
    if acts.q.len() < t * kp {
        acts.q.resize(t * kp, 128);
    }
    if acts.scale.len() < t {
        acts.scale.resize(t, 0.0);
        acts.sum.resize(t, 0);
        acts.outliers.resize(t, [(0, 0.0); MAX_OUTLIERS]);
        acts.n_outliers.resize(t, 0);
    }
    let zero = if vnni { 0 } else { 128 };
    acts.q[..t * kp]
        .par_chunks_mut(kp)
        .zip(acts.scale[..t].par_iter_mut())
        .zip(acts.sum[..t].par_iter_mut())
        .zip(acts.outliers[..t].par_iter_mut())
        .zip(acts.n_outliers[..t].par_iter_mut())
        .enumerate()
        .with_min_len(16)
        .for_each(|(r, ((((dst, s), sum), out), n))| {
            let row = &x[r * inp..(r + 1) * inp];
            let (scale, count) = quantise_row(row, dst, out, zero);
            *s = scale;
            *n = count as u8;
            if vnni {
                *sum = row_sum(dst);
            }
        });
}

super::multiversion! {
/// Quantises one row into `dst` as bytes offset by `zero` (0 or 128; padding beyond the row
/// set to `zero`), its outliers into `out` and their places to `zero`; returns the scale and
/// the outlier count.
fn quantise_row(
    src: &[f32],
    dst: &mut [u8],
    out: &mut [(u32, f32); MAX_OUTLIERS],
    zero: u32,
) -> (f32, usize) {
    const MAGIC: f32 = 12_582_912.0; // 1.5 · 2^23: adding it rounds to an integer in the bits
    // One vectorised pass for the sum of squares and the largest magnitude; the scan for
    // outliers only runs over 16-value chunks that hold one.
    let mut sq = [0f32; 16];
    let mut mx = [0f32; 16];
    let chunks = src.chunks_exact(16);
    let mut tail = 0f32;
    let mut all_max = 0f32;
    for v in chunks.remainder() {
        tail += v * v;
        all_max = if v.abs() > all_max { v.abs() } else { all_max };
    }
    for c in chunks {
        for ((a, m), v) in sq.iter_mut().zip(mx.iter_mut()).zip(c) {
            *a += v * v;
            *m = if v.abs() > *m { v.abs() } else { *m };
        }
    }
    let mut ss = tail;
    for (v, m) in sq.iter().zip(&mx) {
        ss += v;
        all_max = if *m > all_max { *m } else { all_max };
    }
    let tau = OUTLIER_RMS * (ss / src.len().max(1) as f32).sqrt();
    let mut count = 0;
    let mut amax = all_max;
    if all_max > tau {
        // A value above tau becomes an outlier while there is room; every other value counts
        // towards the scale. A chunk with no value above tau is a vertical max (16 lanes); only
        // the few chunks that hold one take the scalar loop. Max is exact in any order, so the
        // lanes change nothing.
        let mut lanes = [0f32; 16];
        amax = 0.0;
        let mut take = |ci: usize, c: &[f32], amax: &mut f32| {
            for (i, v) in c.iter().enumerate() {
                let a = v.abs();
                if a > tau && count < MAX_OUTLIERS {
                    out[count] = ((ci * 16 + i) as u32, *v);
                    count += 1;
                } else {
                    *amax = if a > *amax { a } else { *amax };
                }
            }
        };
        let chunks = src.chunks_exact(16);
        let rest = chunks.remainder();
        let n_chunks = chunks.len();
        for (ci, c) in chunks.enumerate() {
            let hit = c.iter().fold(false, |h, v| h | (v.abs() > tau));
            if hit {
                take(ci, c, &mut amax);
            } else {
                for (m, v) in lanes.iter_mut().zip(c) {
                    let a = v.abs();
                    *m = if a > *m { a } else { *m };
                }
            }
        }
        take(n_chunks, rest, &mut amax);
        for m in lanes {
            amax = if m > amax { m } else { amax };
        }
    }
    let s = if amax > 0.0 { amax / 127.0 } else { 1.0 };
    let inv = 1.0 / s;
    for (d, v) in dst.iter_mut().zip(src) {
        // Round half to even via the magic constant; the low byte of the bits is q in two's
        // complement for q in [-127, 127], plus `zero`. No float-to-int cast, so the loop
        // vectorises.
        let j = (v * inv).clamp(-127.0, 127.0) + MAGIC;
        *d = (j.to_bits().wrapping_add(zero) & 0xff) as u8;
    }
    for &(k, _) in &out[..count] {
        dst[k as usize] = zero as u8;
    }
    dst[src.len()..].fill(zero as u8);
    (s, count)
}
}

super::multiversion! {
/// `Σ q` over a row of int8 values stored as two's complement bytes.
fn row_sum(q: &[u8]) -> i32 {
    q.iter().map(|&b| b as i8 as i32).sum()
}
}

super::multiversion! {
/// `y += v · (w · scale)` over one weight column: an outlier's share of a row's outputs.
fn add_outlier(y: &mut [f32], col: &[i8], scale: &[f32], v: f32) {
    for ((y, &w), &s) in y.iter_mut().zip(col).zip(scale) {
        *y += v * (w as f32 * s);
    }
}
}

/// Whether the int8 kernels may use AVX-512 VNNI (`PAPERMAP_NO_VNNI` turns it off).
pub(crate) fn vnni_available() -> bool {
    // Cached: the int8 scan asks once per block of 16 rows, and reading the environment
    // each time cost 6 % of its pass.
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(vnni::available)
}

super::multiversion! {
/// `Σ x·w` over one row pair (the caller subtracts `comp` for the +128 offset).
fn dot_u8_i8(x: &[u8], w: &[i8]) -> i32 {
    let mut acc = [0i32; 16];
    let xc = x.chunks_exact(16);
    let wc = w.chunks_exact(16);
    let mut tail = 0i32;
    for (&a, &b) in xc.remainder().iter().zip(wc.remainder()) {
        tail += a as i32 * b as i32;
    }
    for (a, b) in xc.zip(wc) {
        for i in 0..16 {
            acc[i] += a[i] as i32 * b[i] as i32;
        }
    }
    let mut sum = tail;
    for v in acc {
        sum += v;
    }
    sum
}
}

#[cfg(target_arch = "x86_64")]
mod vnni {
    use super::{QLinear, SharedMut, MR, NB};
    use std::arch::x86_64::*;

    /// Whether the kernel may be used: the CPU has it and `PAPERMAP_NO_VNNI` is not set.
    pub fn available() -> bool {
        cpu_has() && std::env::var_os("PAPERMAP_NO_VNNI").is_none()
    }

    /// Whether the CPU has AVX-512 VNNI (with the F and BW subsets the kernel also uses).
    fn cpu_has() -> bool {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vnni")
    }

    /// [`QLinear::tile`] with VNNI.
    ///
    /// # Safety
    /// The CPU has avx512f, avx512bw and avx512vnni; `q.packed` holds the VNNI layout of all
    /// `blocks × kp × 32` weights; `xs.len() >= t1`; the rest as [`QLinear::tile`].
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub unsafe fn tile(
        q: &QLinear,
        xq: &[u8],
        sx: &[f32],
        xs: &[i32],
        t0: usize,
        t1: usize,
        b0: usize,
        b1: usize,
        y: SharedMut,
    ) {
        debug_assert!(cpu_has(), "VNNI kernel without VNNI");
        debug_assert!(
            q.packed.len() == q.scale.len() * q.kp,
            "packed weights incomplete"
        );
        debug_assert!(t0 <= t1 && b0 <= b1 && b1 <= q.scale.len() / NB);
        debug_assert!(xq.len() >= t1 * q.kp && sx.len() >= t1 && t1 * q.out <= y.len());
        debug_assert!(xs.len() >= t1, "row sums missing");
        for b in b0..b1 {
            let mut t = t0;
            while t < t1 {
                let m = (t1 - t).min(MR);
                // SAFETY: the CPU has the features; kernel::<m> gets rows t..t + m <= t1 and
                // block b < b1 <= blocks, inside xq, xs, packed and y as our contract gives them.
                unsafe {
                    match m {
                        8 => kernel::<8>(q, xq, sx, xs, t, b, y),
                        7 => kernel::<7>(q, xq, sx, xs, t, b, y),
                        6 => kernel::<6>(q, xq, sx, xs, t, b, y),
                        5 => kernel::<5>(q, xq, sx, xs, t, b, y),
                        4 => kernel::<4>(q, xq, sx, xs, t, b, y),
                        3 => kernel::<3>(q, xq, sx, xs, t, b, y),
                        2 => kernel::<2>(q, xq, sx, xs, t, b, y),
                        _ => kernel::<1>(q, xq, sx, xs, t, b, y),
                    }
                }
                t += m;
            }
        }
    }

    /// `vpdpbusd acc, w, [x]{1to16}`: the 4 signed bytes at `x` broadcast inside the
    /// instruction. LLVM does not fold a separate broadcast into it, and the `vpbroadcastd` it
    /// emits instead adds an instruction per row and group beside the two products (about 3 %
    /// of a q8 embedding run here).
    ///
    /// # Safety
    /// The CPU has avx512f and avx512vnni; `x` points at 4 readable bytes.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn dp_at(acc: __m512i, w: __m512i, x: *const u8) -> __m512i {
        let mut acc = acc;
        // SAFETY: the CPU has the features; the instruction reads the 4 bytes at `x`
        // (contract) and writes only `acc`.
        unsafe {
            std::arch::asm!(
                "vpdpbusd {acc}, {w}, dword ptr [{x}]{{1to16}}",
                acc = inout(zmm_reg) acc,
                w = in(zmm_reg) w,
                x = in(reg) x,
                options(pure, readonly, nostack, preserves_flags),
            );
        }
        acc
    }

    /// `M` token rows × 32 outputs of block `b`, over the whole input width.
    ///
    /// # Safety
    /// The CPU has avx512f, avx512bw and avx512vnni; `b < blocks` and `q.packed` holds block
    /// `b`'s `kp × 32` bytes; `xq.len() >= (t + M) × kp` and `xs.len() >= t + M`;
    /// `(t + M) × out <= y.len()`, and no other thread touches rows `t..t + M` × the outputs
    /// of block `b` of `y` meanwhile.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn kernel<const M: usize>(
        q: &QLinear,
        xq: &[u8],
        sx: &[f32],
        xs: &[i32],
        t: usize,
        b: usize,
        y: SharedMut,
    ) {
        debug_assert!(b < q.scale.len() / NB && q.packed.len() >= (b + 1) * q.kp * NB);
        debug_assert!(xq.len() >= (t + M) * q.kp && (t + M) * q.out <= y.len());
        let kq = q.kp / 4;
        let mut acc = [[_mm512_setzero_si512(); 2]; M];
        // SAFETY: the CPU has the features. w walks block b's kq groups of 32 × 4 bytes, inside
        // packed; x reads 4 bytes at (t + m)·kp + 4g, m < M, g < kq: inside xq (contract).
        unsafe {
            let w = q.packed.as_ptr().add(b * kq * NB * 4);
            let x = xq.as_ptr().add(t * q.kp);
            for g in 0..kq {
                let w0 = _mm512_loadu_si512(w.add(g * NB * 4) as *const _);
                let w1 = _mm512_loadu_si512(w.add(g * NB * 4 + 64) as *const _);
                for (m, a) in acc.iter_mut().enumerate() {
                    let xp = x.add(m * q.kp + g * 4);
                    a[0] = dp_at(a[0], w0, xp);
                    a[1] = dp_at(a[1], w1, xp);
                }
            }
        }
        let o0 = b * NB;
        let y = y.ptr();
        for (m, a) in acc.iter().enumerate() {
            let s = _mm512_set1_ps(sx[t + m]);
            // Σ (w + 128)·x = Σ w·x + 128 Σ x: the same integer the portable kernel gets.
            let comp = _mm512_set1_epi32(128 * xs[t + m]);
            // SAFETY: the CPU has the features. Row t + m < t + M of y (contract); scale and
            // bias are padded to whole blocks, so 16 values at o < out are inside them; the
            // store is masked to the valid outputs below `out`.
            unsafe {
                let row = y.add((t + m) * q.out);
                for (h, &v) in a.iter().enumerate() {
                    let o = o0 + h * 16;
                    if o >= q.out {
                        break;
                    }
                    let f = _mm512_cvtepi32_ps(_mm512_sub_epi32(v, comp));
                    let f = _mm512_mul_ps(f, _mm512_loadu_ps(q.scale.as_ptr().add(o)));
                    let f = _mm512_mul_ps(f, s);
                    let f = _mm512_add_ps(f, _mm512_loadu_ps(q.bias.as_ptr().add(o)));
                    let valid = (q.out - o).min(16);
                    let mask: __mmask16 = if valid == 16 {
                        0xffff
                    } else {
                        (1u16 << valid) - 1
                    };
                    _mm512_mask_storeu_ps(row.add(o), mask, f);
                }
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod vnni {
    use super::{QLinear, SharedMut};
    pub fn available() -> bool {
        false
    }
    /// Never called: without VNNI, `packed` stays empty.
    ///
    /// # Safety
    /// None needed; unsafe only to match the x86-64 signature.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn tile(
        _: &QLinear,
        _: &[u8],
        _: &[f32],
        _: &[i32],
        _: usize,
        _: usize,
        _: usize,
        _: usize,
        _: SharedMut,
    ) {
        unreachable!("packed weights exist only with VNNI")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_rng::Rng;

    /// The int8 layer stays within quantisation error of f32, for shapes that exercise
    /// every remainder (inputs not a multiple of 4, outputs not of 32, rows not of 8).
    #[test]
    fn int8_linear_tracks_f32() {
        let mut rng = Rng::new(7);
        for &(t, inp, out) in &[(1, 384, 1152), (13, 37, 45), (70, 1536, 384), (9, 8, 33)] {
            let w: Vec<f32> = (0..out * inp)
                .map(|_| rng.f32_in(-1.0, 1.0) * 0.1)
                .collect();
            let b: Vec<f32> = (0..out).map(|_| rng.f32_in(-1.0, 1.0)).collect();
            let x: Vec<f32> = (0..t * inp).map(|_| rng.f32_in(-1.0, 1.0)).collect();
            let q = QLinear::new(&w, &b, out, inp);
            let mut y = vec![0f32; t * out];
            q.forward(&x, t, &mut y, Epilogue::Bias, &mut QActs::default());
            for r in 0..t {
                for o in 0..out {
                    let exact: f32 = b[o]
                        + (0..inp)
                            .map(|k| x[r * inp + k] * w[o * inp + k])
                            .sum::<f32>();
                    // Error bound of two 8-bit roundings over `inp` terms, generously.
                    let tol = 0.1 * (inp as f32).sqrt() * 2.0 / 127.0 + 1e-4;
                    assert!(
                        (y[r * out + o] - exact).abs() < tol,
                        "t={t} inp={inp} out={out} r={r} o={o}: {} vs {exact}",
                        y[r * out + o]
                    );
                }
            }
        }
    }

    /// Every third row gets 1 to 9 channels 40x its others (one more than `MAX_OUTLIERS` in
    /// some rows), as the LayerNorm outputs of BERT have.
    fn plant_outliers(x: &mut [f32], inp: usize) {
        for (r, row) in x.chunks_mut(inp).enumerate().filter(|(r, _)| r % 3 == 0) {
            let n = 1 + (r / 3) % 9;
            for k in (r % 5..inp).step_by(inp / n).take(n) {
                row[k] = 40.0 * row[k].signum();
            }
        }
    }

    /// Rows with outliers keep int8 precision on their other values: the error stays within
    /// the bound of a row without them, and within a fraction of what one scale would give.
    #[test]
    fn outliers_are_computed_apart() {
        let mut rng = Rng::new(5);
        let (t, inp, out) = (30, 384, 64);
        let w: Vec<f32> = (0..out * inp)
            .map(|_| rng.f32_in(-1.0, 1.0) * 0.1)
            .collect();
        let b = vec![0f32; out];
        let mut x: Vec<f32> = (0..t * inp).map(|_| rng.f32_in(-1.0, 1.0)).collect();
        plant_outliers(&mut x, inp);
        let q = QLinear::new(&w, &b, out, inp);
        let mut acts = QActs::default();
        let mut y = vec![0f32; t * out];
        q.forward(&x, t, &mut y, Epilogue::Bias, &mut acts);
        let n = &acts.n_outliers[..t];
        assert!(n.iter().any(|&c| c as usize == MAX_OUTLIERS), "{n:?}");
        assert!(n.iter().skip(1).step_by(3).all(|&c| c == 0), "{n:?}");
        for r in 0..t {
            let row = &x[r * inp..(r + 1) * inp];
            for o in 0..out {
                let exact: f32 = (0..inp).map(|k| row[k] * w[o * inp + k]).sum();
                // Weights and the ordinary values each within one int8 step (beyond
                // MAX_OUTLIERS, a planted value stays in the int8 row and widens its step).
                let kept = row
                    .iter()
                    .map(|v| v.abs())
                    .filter(|&a| a < 6.0)
                    .fold(0f32, f32::max);
                let step = if n[r] as usize == MAX_OUTLIERS {
                    40.0
                } else {
                    kept
                } / 127.0;
                let tol =
                    2.0 * (inp as f32).sqrt() * (0.1 * step + 40.0 * 0.1 / 127.0 * 0.05) + 1e-3;
                assert!(
                    (y[r * out + o] - exact).abs() < tol,
                    "r={r} o={o}: {} vs {exact} (tol {tol})",
                    y[r * out + o]
                );
            }
        }
    }

    /// The quantiser equals its rule, value by value, however the outliers fall: a value above
    /// `OUTLIER_RMS` × the row's RMS is an outlier while fewer than `MAX_OUTLIERS` are taken,
    /// the scale is the largest other magnitude over 127 (a value above tau past the cap
    /// included). Rows of 100, 384 and 1024 (a partial last chunk and none), with 0 to 12
    /// planted values in one chunk or spread out; rows of 1024 with 9 to 12 planted values
    /// pass the cap.
    #[test]
    fn quantise_row_follows_its_rule() {
        let mut rng = Rng::new(23);
        let mut capped = 0;
        for (case, inp) in [100usize, 384, 1024]
            .into_iter()
            .flat_map(|n| (0..40).map(move |c| (c, n)))
        {
            let mut row: Vec<f32> = (0..inp).map(|_| rng.f32_in(-1.0, 1.0)).collect();
            for p in 0..case % 13 {
                let at = if case % 2 == 0 {
                    (p * 37 + case) % inp
                } else {
                    inp - 1 - p
                };
                let size = if inp == 1024 {
                    40.0
                } else {
                    rng.f32_in(8.0, 40.0)
                };
                row[at] = size * if p % 2 == 0 { 1.0 } else { -1.0 };
            }
            let rms = (row.iter().map(|v| v * v).sum::<f32>() / inp as f32).sqrt();
            let tau = OUTLIER_RMS * rms;
            let (mut want_out, mut want_max) = (Vec::new(), 0f32);
            for (k, &v) in row.iter().enumerate() {
                if v.abs() > tau && want_out.len() < MAX_OUTLIERS {
                    want_out.push((k as u32, v));
                } else {
                    want_max = want_max.max(v.abs());
                }
            }
            let mut dst = vec![0u8; inp.next_multiple_of(4)];
            let mut out = [(0u32, 0f32); MAX_OUTLIERS];
            let zero = if case % 2 == 0 { 128 } else { 0 };
            let (scale, count) = quantise_row(&row, &mut dst, &mut out, zero);
            assert_eq!(&out[..count], &want_out[..], "case {case}, {inp} wide");
            assert_eq!(scale, want_max / 127.0, "case {case}, {inp} wide");
            for &(k, _) in &want_out {
                assert_eq!(dst[k as usize], zero as u8, "an outlier's place holds zero");
            }
            assert!(dst[inp..].iter().all(|&b| b == zero as u8), "padding");
            if count == MAX_OUTLIERS && want_max > tau {
                capped += 1;
            }
        }
        assert!(capped >= 4, "only {capped} rows passed the cap");
    }

    /// The VNNI kernel and the portable loop give identical bits.
    #[test]
    fn vnni_and_portable_agree_exactly() {
        if !vnni::available() {
            return;
        }
        let mut rng = Rng::new(11);
        let (t, inp, out) = (19, 100, 70);
        let w: Vec<f32> = (0..out * inp).map(|_| rng.f32_in(-1.0, 1.0)).collect();
        let b: Vec<f32> = (0..out).map(|_| rng.f32_in(-1.0, 1.0)).collect();
        let mut x: Vec<f32> = (0..t * inp).map(|_| rng.f32_in(-1.0, 1.0) * 3.0).collect();
        plant_outliers(&mut x, inp);
        let fast = QLinear::new(&w, &b, out, inp);
        assert!(!fast.packed.is_empty());
        let mut portable = QLinear::new(&w, &b, out, inp);
        portable.rows = (0..out)
            .flat_map(|o| {
                let kq = portable.kp / 4;
                (0..portable.kp).map(move |k| (o, k, kq))
            })
            .map(|(o, k, kq)| {
                (fast.packed[(((o / NB) * kq + k / 4) * NB + o % NB) * 4 + k % 4] ^ 0x80) as i8
            })
            .collect();
        portable.packed = Vec::new();
        for epi in [Epilogue::Bias, Epilogue::BiasGelu] {
            let (mut y1, mut y2) = (vec![0f32; t * out], vec![0f32; t * out]);
            fast.forward(&x, t, &mut y1, epi, &mut QActs::default());
            portable.forward(&x, t, &mut y2, epi, &mut QActs::default());
            assert_eq!(y1, y2);
        }
    }
}
