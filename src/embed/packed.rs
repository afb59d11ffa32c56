//! f32 linear layers with weights packed once at load for a register-blocked micro-kernel.
//!
//! A general GEMM (the `gemm` crate) repacks the weight matrix on every call. Over the thousands
//! of tokens of a batch that is cheap, but a single search query has about 25 tokens, and then
//! repacking 85 MB of weights per query costs more than the arithmetic. Here the weights are laid
//! out once as the micro-kernel reads them (per block of 16 outputs, 16 consecutive floats per
//! input index), and each call only streams them: 6 token rows × 16 outputs of accumulators stay
//! in registers, 2 weight loads and 6 broadcasts feed 12 FMAs.

use rayon::prelude::*;

/// Outputs per block (two 8-lane registers).
const NB: usize = 16;
/// Token rows per micro-kernel call.
const MR: usize = 6;
/// Token rows per parallel task.
const TM: usize = 96;

/// Which micro-kernel runs the product. All three sum each output over `k` in order with one
/// fused multiply-add per step, so they give the same bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kernel {
    /// 12 rows × 32 outputs in 512-bit registers.
    Avx512,
    /// 6 rows × 16 outputs in 256-bit registers.
    Avx2,
    /// Plain loops (`f32::mul_add`).
    Portable,
}

impl Kernel {
    /// The fastest kernel this CPU runs.
    fn best() -> Kernel {
        Kernel::usable()[0]
    }

    /// The kernels this CPU runs, fastest first.
    fn usable() -> Vec<Kernel> {
        let mut k = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") && super::simd::has_avx2_fma() {
                k.push(Kernel::Avx512);
            }
            if super::simd::has_avx2_fma() {
                k.push(Kernel::Avx2);
            }
        }
        k.push(Kernel::Portable);
        k
    }
}

/// `y = x·Wᵀ + b` with `W` packed for [`PackedLinear::forward`].
pub struct PackedLinear {
    out: usize,
    inp: usize,
    /// Per block of 16 outputs, per input index, the 16 weights (zero beyond `out`).
    packed: Vec<f32>,
    bias: Vec<f32>,
}

impl PackedLinear {
    /// Packs `w` (`[out, inp]`, as transformers stores it) with bias `b`.
    pub fn new(w: &[f32], b: &[f32], out: usize, inp: usize) -> Self {
        let blocks = out.div_ceil(NB);
        let mut packed = vec![0f32; blocks * inp * NB];
        for o in 0..out {
            let (blk, lane) = (o / NB, o % NB);
            for k in 0..inp {
                packed[(blk * inp + k) * NB + lane] = w[o * inp + k];
            }
        }
        let mut bias = vec![0f32; blocks * NB];
        bias[..out].copy_from_slice(&b[..out]);
        PackedLinear {
            out,
            inp,
            packed,
            bias,
        }
    }

    /// `y[t, out] = x[t, inp] · Wᵀ + b`.
    pub fn forward(&self, x: &[f32], t: usize, y: &mut [f32]) {
        self.forward_with(Kernel::best(), x, t, y);
    }

    /// [`PackedLinear::forward`] on a given kernel, which must be one of [`Kernel::usable`].
    fn forward_with(&self, kernel: Kernel, x: &[f32], t: usize, y: &mut [f32]) {
        let blocks = self.bias.len() / NB;
        let yp = super::SharedMut(y.as_mut_ptr());
        super::projection_tiles(t, blocks, TM)
            .into_par_iter()
            .for_each(|(rows, bl)| {
                let (t0, t1, b0, b1) = (rows.start, rows.end, bl.start, bl.end);
                #[cfg(target_arch = "x86_64")]
                if kernel == Kernel::Avx512 {
                    // SAFETY: Avx512 is only chosen where the CPU has avx512f; tiles write
                    // disjoint ranges of y (t × out).
                    unsafe { avx512::tile(self, x, t0..t1, b0..b1, yp.ptr()) };
                    return;
                }
                for b in b0..b1 {
                    let mut r = t0;
                    while r < t1 {
                        let m = (t1 - r).min(MR);
                        // SAFETY: tiles write disjoint (rows, outputs) ranges of y (t × out).
                        unsafe { self.block(kernel, x, r, m, b, yp.ptr()) };
                        r += m;
                    }
                }
            });
    }

    /// Rows `r..r+m` (m ≤ 6) × outputs of block `b`.
    ///
    /// # Safety
    /// `y` holds `t × out` floats with `r + m ≤ t`, and no other thread writes this block.
    unsafe fn block(&self, kernel: Kernel, x: &[f32], r: usize, m: usize, b: usize, y: *mut f32) {
        #[cfg(target_arch = "x86_64")]
        if kernel != Kernel::Portable {
            // SAFETY: Avx2 (or better) is only chosen where the CPU has avx2 and fma; the
            // caller's contract is forwarded.
            unsafe { avx2::block(self, x, r, m, b, y) };
            return;
        }
        let w = &self.packed[b * self.inp * NB..(b + 1) * self.inp * NB];
        for i in 0..m {
            let xr = &x[(r + i) * self.inp..(r + i + 1) * self.inp];
            let mut acc = [0f32; NB];
            for (k, &xv) in xr.iter().enumerate() {
                for (a, &wv) in acc.iter_mut().zip(&w[k * NB..(k + 1) * NB]) {
                    *a = xv.mul_add(wv, *a);
                }
            }
            self.store(&acc, r + i, b, y);
        }
    }

    /// Adds the bias and writes the valid outputs of one row of block `b`.
    #[inline(always)]
    unsafe fn store(&self, acc: &[f32; NB], row: usize, b: usize, y: *mut f32) {
        let o0 = b * NB;
        for (j, a) in acc.iter().enumerate().take(self.out.saturating_sub(o0)) {
            // SAFETY: row < t and o0 + j < out, inside y per the caller's contract.
            unsafe { *y.add(row * self.out + o0 + j) = a + self.bias[o0 + j] };
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{PackedLinear, NB};
    use std::arch::x86_64::*;

    /// See [`PackedLinear::block`].
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn block(p: &PackedLinear, x: &[f32], r: usize, m: usize, b: usize, y: *mut f32) {
        // SAFETY: forwarded contract; rows r..r+m of x exist.
        unsafe {
            match m {
                6 => kernel::<6>(p, x, r, b, y),
                5 => kernel::<5>(p, x, r, b, y),
                4 => kernel::<4>(p, x, r, b, y),
                3 => kernel::<3>(p, x, r, b, y),
                2 => kernel::<2>(p, x, r, b, y),
                _ => kernel::<1>(p, x, r, b, y),
            }
        }
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn kernel<const M: usize>(p: &PackedLinear, x: &[f32], r: usize, b: usize, y: *mut f32) {
        let inp = p.inp;
        let mut acc = [[_mm256_setzero_ps(); 2]; M];
        let w = p.packed.as_ptr().add(b * inp * NB);
        let xs = x.as_ptr().add(r * inp);
        for k in 0..inp {
            let w0 = _mm256_loadu_ps(w.add(k * NB));
            let w1 = _mm256_loadu_ps(w.add(k * NB + 8));
            // The next block's line at this k (see the AVX-512 kernel).
            _mm_prefetch::<_MM_HINT_T1>(w.wrapping_add((inp + k) * NB) as *const i8);
            for (i, a) in acc.iter_mut().enumerate() {
                let xv = _mm256_broadcast_ss(&*xs.add(i * inp + k));
                a[0] = _mm256_fmadd_ps(xv, w0, a[0]);
                a[1] = _mm256_fmadd_ps(xv, w1, a[1]);
            }
        }
        for (i, a) in acc.iter().enumerate() {
            let mut lanes = [0f32; NB];
            _mm256_storeu_ps(lanes.as_mut_ptr(), a[0]);
            _mm256_storeu_ps(lanes.as_mut_ptr().add(8), a[1]);
            p.store(&lanes, r + i, b, y);
        }
    }
}

/// AVX-512: 32 registers hold up to 12 token rows × 2 blocks (32 outputs) of accumulators, so
/// each weight is loaded from cache once per 12 rows instead of once per 6. Rows are split into
/// near-equal chunks (a 25-token query runs as 9 + 8 + 8, not 6 + 6 + 6 + 6 + 1, whose last
/// one-row pass would wait on FMA latency). Per output the sum runs over `k` in order with one
/// FMA per step, as in the AVX2 kernel, so both give the same bits.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{PackedLinear, NB};
    use std::arch::x86_64::*;
    use std::ops::Range;

    /// Most token rows per kernel call.
    const MR: usize = 12;

    /// Rows × blocks of one parallel tile.
    ///
    /// # Safety
    /// The CPU has avx512f; `y` holds `t × out` floats with `rows.end ≤ t`, and no other thread
    /// writes these rows × blocks.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn tile(
        p: &PackedLinear,
        x: &[f32],
        rows: Range<usize>,
        blocks: Range<usize>,
        y: *mut f32,
    ) {
        let n = rows.len();
        let chunks = n.div_ceil(MR).max(1);
        let mut b = blocks.start;
        while b < blocks.end {
            let pair = b + 1 < blocks.end;
            for c in 0..chunks {
                let r = rows.start + c * n / chunks;
                let m = rows.start + (c + 1) * n / chunks - r;
                // SAFETY: forwarded contract; rows r..r+m lie inside `rows`.
                unsafe {
                    if pair {
                        dispatch::<2>(p, x, r, m, b, y)
                    } else {
                        dispatch::<1>(p, x, r, m, b, y)
                    }
                }
            }
            b += if pair { 2 } else { 1 };
        }
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn dispatch<const B: usize>(
        p: &PackedLinear,
        x: &[f32],
        r: usize,
        m: usize,
        b: usize,
        y: *mut f32,
    ) {
        // SAFETY: forwarded contract.
        unsafe {
            match m {
                12 => kernel::<12, B>(p, x, r, b, y),
                11 => kernel::<11, B>(p, x, r, b, y),
                10 => kernel::<10, B>(p, x, r, b, y),
                9 => kernel::<9, B>(p, x, r, b, y),
                8 => kernel::<8, B>(p, x, r, b, y),
                7 => kernel::<7, B>(p, x, r, b, y),
                6 => kernel::<6, B>(p, x, r, b, y),
                5 => kernel::<5, B>(p, x, r, b, y),
                4 => kernel::<4, B>(p, x, r, b, y),
                3 => kernel::<3, B>(p, x, r, b, y),
                2 => kernel::<2, B>(p, x, r, b, y),
                1 => kernel::<1, B>(p, x, r, b, y),
                _ => {}
            }
        }
    }

    /// Rows `r..r+M` × blocks `b..b+B` (B ≤ 2).
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn kernel<const M: usize, const B: usize>(
        p: &PackedLinear,
        x: &[f32],
        r: usize,
        b: usize,
        y: *mut f32,
    ) {
        let inp = p.inp;
        // SAFETY: blocks b..b+B and rows r..r+M exist (caller); loads stay inside them.
        unsafe {
            let mut acc = [[_mm512_setzero_ps(); B]; M];
            let w = p.packed.as_ptr().add(b * inp * NB);
            let xs = x.as_ptr().add(r * inp);
            for k in 0..inp {
                let mut wv = [_mm512_setzero_ps(); B];
                for (j, v) in wv.iter_mut().enumerate() {
                    *v = _mm512_loadu_ps(w.add((j * inp + k) * NB));
                    // The next block pair's line at this k: the first row chunk streams these
                    // weights from memory, and the hardware prefetcher alone leaves it waiting.
                    let next = w.wrapping_add(((j + B) * inp + k) * NB);
                    _mm_prefetch::<_MM_HINT_T1>(next as *const i8);
                }
                for (i, a) in acc.iter_mut().enumerate() {
                    let xv = _mm512_set1_ps(*xs.add(i * inp + k));
                    for (aj, &wj) in a.iter_mut().zip(&wv) {
                        *aj = _mm512_fmadd_ps(xv, wj, *aj);
                    }
                }
            }
            for (i, a) in acc.iter().enumerate() {
                for (j, &aj) in a.iter().enumerate() {
                    let mut lanes = [0f32; NB];
                    _mm512_storeu_ps(lanes.as_mut_ptr(), aj);
                    p.store(&lanes, r + i, b + j, y);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_kernels_agree_bit_for_bit_and_equal_the_plain_product() {
        let mut s = 3u64;
        let mut rnd = || 0.5 * crate::embed::test_lcg(&mut s);
        for &(t, inp, out) in &[
            (1, 384, 1152),
            (25, 37, 45),
            (200, 64, 17),
            (7, 5, 3),
            (29, 40, 48),
        ] {
            let w: Vec<f32> = (0..out * inp).map(|_| rnd()).collect();
            let b: Vec<f32> = (0..out).map(|_| rnd()).collect();
            let x: Vec<f32> = (0..t * inp).map(|_| rnd()).collect();
            let lin = PackedLinear::new(&w, &b, out, inp);
            let mut y = vec![0f32; t * out];
            lin.forward(&x, t, &mut y);
            for kernel in Kernel::usable() {
                let mut yk = vec![0f32; t * out];
                lin.forward_with(kernel, &x, t, &mut yk);
                let same = y.iter().zip(&yk).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{kernel:?} differs from {:?}", Kernel::best());
            }
            for r in 0..t {
                for o in 0..out {
                    let want: f64 = b[o] as f64
                        + (0..inp)
                            .map(|k| x[r * inp + k] as f64 * w[o * inp + k] as f64)
                            .sum::<f64>();
                    let got = y[r * out + o] as f64;
                    assert!(
                        (got - want).abs() < 1e-4,
                        "t={t} r={r} o={o}: {got} vs {want}"
                    );
                }
            }
        }
    }
}
