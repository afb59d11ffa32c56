//! bf16 projections `y = x·Wᵀ + b` with f32 sums: `vdpbf16ps` (AVX512_BF16) where the CPU has
//! it, and a portable loop with the same bits everywhere else.
//!
//! The layout follows [`super::linear`]: weights packed once per block of 16 outputs, token rows
//! packed per call into panels of at most 12 rows, 12 rows × 32 outputs of accumulators. What
//! changes is the unit along the input: `vdpbf16ps` multiplies *pairs* of bf16 values and adds
//! both products to an f32 lane, so the weights hold, per block and per input pair `(2p, 2p+1)`,
//! 16 32-bit words `w[o][2p] | w[o][2p+1] << 16`, and a panel holds per pair and row one word
//! `x[r][2p] | x[r][2p+1] << 16`, broadcast to the 16 lanes. One instruction does 32
//! multiply-adds where an f32 FMA does 16, and the weights stream half the bytes.
//!
//! Rounding is round-to-nearest-even from f32 with subnormals flushed to zero ([`to_bf16`]), the
//! conversion `vcvtneps2bf16` does. Each lane sums as the instruction does (Intel SDM,
//! VDPBF16PS: the odd element's product first, then the even one's, each an FMA with round to
//! nearest even and subnormal results flushed to zero; a bf16 product is exact in f32), over the
//! pairs in order from zero, then adds the bias: the portable loop repeats it, so a vector does
//! not depend on the CPU (a test checks the bits).

use rayon::prelude::*;

use super::linear::{for_each_tile, panel_rows, Epilogue, MR};
use super::SharedMut;

/// Outputs per weight block: one 512-bit register of f32 lanes.
const NB: usize = 16;
/// Input pairs per pass of the AVX-512 kernel: one block pair's slice of weights (24 KiB)
/// stays in L1 across a task's panels.
const KC: usize = 192;

/// `x` rounded to bf16 (round to nearest even; subnormals to signed zero, as `vdpbf16ps` reads
/// them; NaN stays NaN), as the top 16 bits of its f32 pattern.
#[inline(always)]
pub(crate) fn to_bf16(x: f32) -> u16 {
    let b = x.to_bits();
    if x.is_nan() {
        return ((b >> 16) | 0x40) as u16;
    }
    if b & 0x7f80_0000 == 0 {
        return ((b >> 16) & 0x8000) as u16;
    }
    let r = b.wrapping_add(0x7fff + ((b >> 16) & 1));
    (r >> 16) as u16
}

/// The f32 value of a bf16 pattern.
#[inline(always)]
#[cfg(test)]
pub(crate) fn from_bf16(h: u16) -> f32 {
    f32::from_bits((h as u32) << 16)
}

/// Two inputs as one word: `lo` in the low half (the even index), `hi` in the high half.
#[inline(always)]
pub(crate) fn pair(lo: f32, hi: f32) -> u32 {
    to_bf16(lo) as u32 | (to_bf16(hi) as u32) << 16
}

/// One lane of `vdpbf16ps`: `acc + a.hi·b.hi`, then `+ a.lo·b.lo`, each rounded to nearest even
/// with a subnormal result flushed to zero.
#[inline(always)]
pub(crate) fn dot_pair(acc: f32, a: u32, b: u32) -> f32 {
    let ftz = |v: f32| {
        if v != 0.0 && v.abs() < f32::MIN_POSITIVE {
            0.0f32.copysign(v)
        } else {
            v
        }
    };
    let hi = |w: u32| f32::from_bits(w & 0xffff_0000);
    let lo = |w: u32| f32::from_bits(w << 16);
    let acc = ftz(hi(a).mul_add(hi(b), acc));
    ftz(lo(a).mul_add(lo(b), acc))
}

/// Whether this CPU runs the `vdpbf16ps` kernel (AVX-512 F and BF16).
pub(crate) fn native_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        // BW for the word permute that interleaves `vcvtne2ps2bf16`'s halves into pairs
        // (every CPU with AVX512_BF16 so far has it).
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// `y = x·Wᵀ + b` with `W` in bf16, packed for the kernels.
pub(crate) struct Bf16Linear {
    out: usize,
    inp: usize,
    /// Input pairs, `inp` rounded up to even / 2 (an odd input's last pair ends in zero).
    pairs: usize,
    /// Per block of 16 outputs, per input pair, the 16 weight pairs (zero beyond `out`).
    packed: Vec<u32>,
    /// The bias in f32, zero-padded to whole blocks.
    bias: Vec<f32>,
}

impl Bf16Linear {
    /// Rounds `w` (`[out, inp]`, as transformers stores it) to bf16 and packs it; the bias
    /// stays f32.
    pub(crate) fn new(w: &[f32], b: &[f32], out: usize, inp: usize) -> Self {
        debug_assert!(w.len() == out * inp && b.len() == out);
        let blocks = out.div_ceil(NB);
        let pairs = inp.div_ceil(2);
        let mut packed = vec![0u32; blocks * pairs * NB];
        for o in 0..out {
            let (blk, lane) = (o / NB, o % NB);
            let row = &w[o * inp..(o + 1) * inp];
            for p in 0..pairs {
                let hi = row.get(2 * p + 1).copied().unwrap_or(0.0);
                packed[(blk * pairs + p) * NB + lane] = pair(row[2 * p], hi);
            }
        }
        let mut bias = vec![0f32; blocks * NB];
        bias[..out].copy_from_slice(&b[..out]);
        Bf16Linear {
            out,
            inp,
            pairs,
            packed,
            bias,
        }
    }

    /// Width of `y`'s rows.
    pub(crate) fn out(&self) -> usize {
        self.out
    }

    /// Width of `x`'s rows.
    pub(crate) fn inp(&self) -> usize {
        self.inp
    }

    fn blocks(&self) -> usize {
        self.bias.len() / NB
    }

    /// `y[t, out] = epilogue(bf16(x[t, inp]) · Wᵀ + b)`; `panel` is scratch space, kept by the
    /// caller. Runs `vdpbf16ps` where the CPU has it, else the portable loop (same bits).
    pub(crate) fn forward(
        &self,
        x: &[f32],
        t: usize,
        y: &mut [f32],
        epilogue: Epilogue,
        panel: &mut Vec<u32>,
    ) {
        self.forward_with(native_available(), x, t, y, epilogue, panel)
    }

    /// [`Bf16Linear::forward`], on `vdpbf16ps` when `native` (which the CPU must have:
    /// checked, the SIMD body would be undefined behaviour otherwise).
    pub(crate) fn forward_with(
        &self,
        native: bool,
        x: &[f32],
        t: usize,
        y: &mut [f32],
        epilogue: Epilogue,
        panel: &mut Vec<u32>,
    ) {
        let (inp, out, pairs) = (self.inp, self.out, self.pairs);
        // Real asserts: this is a safe function and the raw writes below rely on them.
        assert!(
            !native || native_available(),
            "bf16 projection: AVX512_BF16 not available on this CPU"
        );
        assert!(
            x.len() >= t * inp && y.len() >= t * out,
            "projection buffers too small"
        );
        if t == 0 {
            return;
        }
        let n = t.div_ceil(MR);
        if panel.len() < t * pairs {
            panel.resize(t * pairs, 0);
        }
        // Panel c is rows panel_rows(c) laid out [pair][row]: split the buffer into them.
        let mut slots: Vec<&mut [u32]> = Vec::with_capacity(n);
        let mut rest = &mut panel[..t * pairs];
        for c in 0..n {
            let (head, tail) = rest.split_at_mut(panel_rows(c, n, t).len() * pairs);
            slots.push(head);
            rest = tail;
        }
        let pack = |(c, dst): (usize, &mut &mut [u32])| {
            let rows = panel_rows(c, n, t);
            let m = rows.len();
            for (i, r) in rows.enumerate() {
                let row = &x[r * inp..(r + 1) * inp];
                for p in 0..pairs {
                    let hi = row.get(2 * p + 1).copied().unwrap_or(0.0);
                    dst[p * m + i] = pair(row[2 * p], hi);
                }
            }
        };
        if t * inp < 1 << 15 {
            slots.iter_mut().enumerate().for_each(pack);
        } else {
            slots.par_iter_mut().enumerate().for_each(pack);
        }
        let panel: &[u32] = panel;
        // vdpbf16ps runs the input pairs in slices of KC, so one block pair's slice of weights
        // (24 KiB) stays in L1 across the task's panels.
        let kc = if native { KC } else { pairs };
        let yp = SharedMut::new(y);
        for_each_tile(t, out, self.blocks(), pairs, kc, epilogue, yp, |tile| {
            let rows = tile.rows;
            let a = &panel[rows.start * pairs..rows.end * pairs];
            // SAFETY: y holds t × out floats (asserted) and rows.end <= t; for_each_tile()
            // gives this tile of y to no other thread; `a` is this panel (m × pairs); b + pair
            // < blocks; ks ⊆ 0..pairs, all of it unless `native`; `native` only if the CPU has
            // AVX512_BF16 (asserted).
            unsafe {
                self.run(
                    native,
                    a,
                    rows.start,
                    rows.len(),
                    tile.block,
                    tile.pair,
                    tile.ks,
                    yp,
                )
            };
        });
    }

    /// Rows `r..r+m` (one panel, `a`) × block `b` (and `b + 1` when `pair`), over input pairs
    /// `ks` (all of them unless `native`).
    ///
    /// # Safety
    /// - `native` only if [`native_available`].
    /// - `1 <= m <= MR`, `a.len() == m × pairs` (one packed panel, `[pairs][m]`).
    /// - `b + pair < blocks`; `ks.start <= ks.end <= pairs`, and `ks == 0..pairs` unless
    ///   `native`.
    /// - `(r + m) × out <= y.len()`, and while this runs no other thread reads or writes rows
    ///   `r..r + m` × the outputs of blocks `b..=b + pair` of `y`.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    unsafe fn run(
        &self,
        native: bool,
        a: &[u32],
        r: usize,
        m: usize,
        b: usize,
        pair: bool,
        ks: std::ops::Range<usize>,
        y: SharedMut,
    ) {
        debug_assert!(!native || native_available());
        debug_assert!((1..=MR).contains(&m) && a.len() == m * self.pairs);
        debug_assert!(b + (pair as usize) < self.blocks());
        debug_assert!(ks.start <= ks.end && ks.end <= self.pairs);
        debug_assert!(native || ks == (0..self.pairs));
        debug_assert!(
            (r + m) * self.out <= y.len(),
            "rows {r}..{} beyond y",
            r + m
        );
        #[cfg(target_arch = "x86_64")]
        if native {
            // SAFETY: the CPU has avx512f and avx512bf16 (`native`); panel, blocks, ks and y as
            // our contract gives them.
            unsafe { avx512::panel(self, a, r, m, b, pair, ks, y) };
            return;
        }
        for bb in b..b + 1 + pair as usize {
            // SAFETY: block bb exists; y and the rows as our contract.
            unsafe { self.portable(a, r, m, bb, y) };
        }
    }

    /// Plain loops over one panel × one block, summing as the instruction does.
    ///
    /// # Safety
    /// `(r + m) × out <= y.len()`, and no other thread reads or writes rows `r..r + m` × the
    /// outputs of block `b` of `y` meanwhile. (`a` and the weights are bounds-checked here.)
    unsafe fn portable(&self, a: &[u32], r: usize, m: usize, b: usize, y: SharedMut) {
        debug_assert!(
            (r + m) * self.out <= y.len(),
            "rows {r}..{} beyond y",
            r + m
        );
        let pairs = self.pairs;
        let w = &self.packed[b * pairs * NB..(b + 1) * pairs * NB];
        let o0 = b * NB;
        let valid = self.out.saturating_sub(o0).min(NB);
        for i in 0..m {
            let mut acc = [0f32; NB];
            for p in 0..pairs {
                let xv = a[p * m + i];
                for (s, &wv) in acc.iter_mut().zip(&w[p * NB..(p + 1) * NB]) {
                    *s = dot_pair(*s, wv, xv);
                }
            }
            // SAFETY: row r + i < r + m, outputs o0..o0 + valid < out: inside y and this
            // caller's own rows and block (contract).
            let row = unsafe { y.slice_mut((r + i) * self.out + o0, valid) };
            for (j, v) in row.iter_mut().enumerate() {
                *v = acc[j] + self.bias[o0 + j];
            }
        }
    }
}

/// AVX-512 BF16: 12 token rows × 2 blocks (32 outputs) of f32 accumulators, one `vdpbf16ps`
/// per weight vector and row for each input pair.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{Bf16Linear, SharedMut, MR, NB};
    use std::arch::x86_64::*;

    /// One panel of `m` rows × block `b` (and `b + 1` when `pair`), input pairs `ks`.
    ///
    /// # Safety
    /// As [`Bf16Linear::run`] with `native`: the CPU has avx512f and avx512bf16; `1 <= m <=
    /// MR`, `a.len() == m × pairs`; `b + pair < blocks`; `ks.start <= ks.end <= pairs`;
    /// `(r + m) × out <= y.len()`, and no other thread touches those rows × blocks of `y`.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f,avx512bf16")]
    pub unsafe fn panel(
        p: &Bf16Linear,
        a: &[u32],
        r: usize,
        m: usize,
        b: usize,
        pair: bool,
        ks: std::ops::Range<usize>,
        y: SharedMut,
    ) {
        debug_assert!((1..=MR).contains(&m) && a.len() == m * p.pairs);
        debug_assert!(b + (pair as usize) < p.blocks() && ks.end <= p.pairs);
        debug_assert!((r + m) * p.out <= y.len());
        let first = ks.start == 0;
        let last = ks.end == p.pairs;
        macro_rules! go {
            ($($m:literal)*) => {
                match (m, pair) {
                    $(
                        ($m, true) => kernel::<$m, 2>(p, a, r, b, ks, first, last, y),
                        ($m, false) => kernel::<$m, 1>(p, a, r, b, ks, first, last, y),
                    )*
                    _ => {}
                }
            };
        }
        // SAFETY: the CPU has the features; kernel::<m, 1 + pair> gets exactly the panel,
        // blocks, input pairs and rows of our contract.
        unsafe { go!(1 2 3 4 5 6 7 8 9 10 11 12) }
    }

    /// Panel rows `r..r+M` × blocks `b..b+B` over input pairs `ks`: starts from zero on the
    /// first slice, else from the partial sums in `y` (an f32 stored and reloaded is the same
    /// value), and adds the bias after the last.
    ///
    /// # Safety
    /// The CPU has avx512f and avx512bf16; `a.len() >= M × pairs` (`[pairs][M]`); `b + B <=
    /// blocks`; `ks.end <= pairs`; `(r + M) × out <= y.len()`, and no other thread touches rows
    /// `r..r + M` × the outputs of blocks `b..b + B` of `y` meanwhile.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    #[target_feature(enable = "avx512f,avx512bf16")]
    unsafe fn kernel<const M: usize, const B: usize>(
        p: &Bf16Linear,
        a: &[u32],
        r: usize,
        b: usize,
        ks: std::ops::Range<usize>,
        first: bool,
        last: bool,
        y: SharedMut,
    ) {
        debug_assert!(a.len() >= M * p.pairs && b + B <= p.blocks() && ks.end <= p.pairs);
        debug_assert!((r + M) * p.out <= y.len());
        let y = y.ptr();
        let pairs = p.pairs;
        let o0 = b * NB;
        let mask = |o: usize| -> __mmask16 {
            let valid = (p.out - o).min(NB);
            if valid == NB {
                0xffff
            } else {
                (1u16 << valid) - 1
            }
        };
        // SAFETY: the CPU has the features. Weight loads read blocks b..b + B < blocks of
        // packed, pairs ks.start..ks.end <= pairs; xs reads a[k·M + i], k < pairs, i < M: inside
        // the panel; bias loads 16 floats at o < out, inside the bias padded to whole blocks; y
        // is loaded and stored at rows r + i < r + M, columns o.. masked to the valid outputs
        // below `out` (contract). __m512i and __m512bh are both 64 bytes of lanes.
        unsafe {
            let mut acc = [[_mm512_setzero_ps(); B]; M];
            if !first {
                for (i, s) in acc.iter_mut().enumerate() {
                    for (j, sj) in s.iter_mut().enumerate() {
                        let o = o0 + j * NB;
                        if o < p.out {
                            *sj = _mm512_maskz_loadu_ps(mask(o), y.add((r + i) * p.out + o));
                        }
                    }
                }
            }
            let w = p.packed.as_ptr().add(b * pairs * NB);
            let mut xs = a.as_ptr().add(ks.start * M);
            for k in ks {
                let mut wv = [std::mem::transmute::<__m512i, __m512bh>(_mm512_setzero_si512()); B];
                for (j, v) in wv.iter_mut().enumerate() {
                    let ld = _mm512_loadu_si512(w.add((j * pairs + k) * NB) as *const __m512i);
                    *v = std::mem::transmute::<__m512i, __m512bh>(ld);
                }
                for (i, s) in acc.iter_mut().enumerate() {
                    let x = xs.add(i);
                    for (sj, &wj) in s.iter_mut().zip(&wv) {
                        // The pair at x broadcast inside the instruction: LLVM does not fold
                        // a broadcast into vdpbf16ps, and a separate one per row costs more.
                        std::arch::asm!(
                            "vdpbf16ps {acc}, {w}, dword ptr [{x}]{{1to16}}",
                            acc = inout(zmm_reg) *sj,
                            w = in(zmm_reg) std::mem::transmute::<__m512bh, __m512i>(wj),
                            x = in(reg) x,
                            options(pure, readonly, nostack, preserves_flags),
                        );
                    }
                }
                xs = xs.add(M);
            }
            for j in 0..B {
                let o = o0 + j * NB;
                if o >= p.out {
                    break;
                }
                let bias = if last {
                    _mm512_loadu_ps(p.bias.as_ptr().add(o))
                } else {
                    _mm512_setzero_ps()
                };
                for (i, s) in acc.iter().enumerate() {
                    let v = if last {
                        _mm512_add_ps(s[j], bias)
                    } else {
                        s[j]
                    };
                    _mm512_mask_storeu_ps(y.add((r + i) * p.out + o), mask(o), v);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_nearest_even_and_flushes_subnormals() {
        assert_eq!(from_bf16(to_bf16(1.0)), 1.0);
        // 1 + 2^-8 is halfway between two bf16 values: to the even one (1.0).
        assert_eq!(from_bf16(to_bf16(1.0 + 1.0 / 256.0)), 1.0);
        assert_eq!(from_bf16(to_bf16(1.0 + 3.0 / 256.0)), 1.0 + 4.0 / 256.0);
        assert_eq!(from_bf16(to_bf16(-1e-40)).to_bits(), (-0.0f32).to_bits());
        assert!(from_bf16(to_bf16(f32::NAN)).is_nan());
        assert_eq!(from_bf16(to_bf16(f32::INFINITY)), f32::INFINITY);
    }

    #[test]
    fn kernels_agree_bit_for_bit_and_stay_near_the_f32_product() {
        let mut rng = crate::test_rng::Rng::new(5);
        let mut rnd = || 0.5 * rng.f32_in(-1.0, 1.0);
        for &(t, inp, out) in &[
            (1, 384, 1152),
            (25, 37, 45),
            (200, 64, 17),
            (7, 5, 3),
            (29, 800, 48),
            (130, 16, 100),
        ] {
            let w: Vec<f32> = (0..out * inp).map(|_| rnd()).collect();
            let b: Vec<f32> = (0..out).map(|_| rnd()).collect();
            let x: Vec<f32> = (0..t * inp).map(|_| rnd()).collect();
            let lin = Bf16Linear::new(&w, &b, out, inp);
            let mut panel = Vec::new();
            let mut y = vec![0f32; t * out];
            lin.forward_with(false, &x, t, &mut y, Epilogue::Bias, &mut panel);
            if native_available() {
                let mut yk = vec![0f32; t * out];
                lin.forward_with(true, &x, t, &mut yk, Epilogue::Bias, &mut panel);
                let diff = y
                    .iter()
                    .zip(&yk)
                    .filter(|(a, b)| a.to_bits() != b.to_bits());
                assert_eq!(
                    diff.count(),
                    0,
                    "vdpbf16ps differs from the portable loop (t={t})"
                );
                let mut yg = vec![0f32; t * out];
                lin.forward_with(true, &x, t, &mut yg, Epilogue::BiasGelu, &mut panel);
                let mut want = y.clone();
                super::super::elementwise::gelu_slice(&mut want);
                assert!(want
                    .iter()
                    .zip(&yg)
                    .all(|(a, b)| a.to_bits() == b.to_bits()));
            }
            // The exact product of the rounded inputs, and near the f32 one (bf16 keeps 8 bits).
            let bf = |v: f32| from_bf16(to_bf16(v)) as f64;
            for r in 0..t {
                for o in 0..out {
                    let terms = (0..inp).map(|k| (x[r * inp + k], w[o * inp + k]));
                    let rounded: f64 = terms.clone().map(|(a, c)| bf(a) * bf(c)).sum();
                    let exact: f64 = terms.map(|(a, c)| a as f64 * c as f64).sum();
                    let got = (y[r * out + o] - b[o]) as f64;
                    assert!((got - rounded).abs() < 1e-4, "t={t} r={r} o={o}");
                    let scale = (inp as f64).sqrt() * 0.25;
                    assert!((got - exact).abs() < 0.01 * scale, "t={t} r={r} o={o}");
                }
            }
        }
    }
}
