//! bf16 projections `y = x·Wᵀ + b` with f32 sums: `vdpbf16ps` (AVX512_BF16) where the CPU has
//! it, its steps in AVX-512 F and DQ where it has those, and a portable loop elsewhere, all with
//! the same bits ([`Kernel`]).
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
//! nearest even and subnormal results flushed to zero; one FMA rounds once, as the step does), over the
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

/// Whether this CPU runs the AVX-512 F emulation of `vdpbf16ps` (DQ for the one-instruction
/// subnormal test of each sum).
fn emulation_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        super::has_avx512() && std::arch::is_x86_feature_detected!("avx512dq")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Which loop computes the products: all three give the same bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kernel {
    /// `vdpbf16ps` (AVX512_BF16).
    Native,
    /// Its steps in AVX-512 F and DQ: on CPUs with AVX-512 but no BF16 (Intel before Cooper
    /// Lake and Sapphire Rapids, AMD before Zen 4), at about 0.7x f32.
    Emulated,
    /// Plain loops (FMA where the CPU has it).
    Portable,
}

impl Kernel {
    /// The fastest this CPU runs.
    pub(crate) fn best() -> Kernel {
        if native_available() {
            Kernel::Native
        } else if emulation_available() {
            Kernel::Emulated
        } else {
            Kernel::Portable
        }
    }

    /// Whether this CPU can run it.
    pub(crate) fn available(self) -> bool {
        match self {
            Kernel::Native => native_available(),
            Kernel::Emulated => emulation_available(),
            Kernel::Portable => true,
        }
    }
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
    /// The smallest biased exponent of a nonzero weight (255 when there is none): with the
    /// inputs', it tells when no sum can be subnormal ([`sums_stay_normal`]).
    w_min_exp: u32,
}

/// Whether sums of products can never be subnormal, from the smallest biased exponents of the
/// nonzero bf16 inputs and weights. A bf16 value is a multiple of 2^(e − 127 − 7), so every
/// product, every sum of products and every rounded sum (rounding to nearest keeps a nonzero
/// multiple of a representable 2^g at or above 2^g) is zero or a multiple of 2^(ex + ew − 268);
/// at or above 2^−126, none is subnormal and the flushes of the emulation change nothing.
pub(crate) fn sums_stay_normal(x_min_exp: u32, w_min_exp: u32) -> bool {
    x_min_exp + w_min_exp >= 268 - 126
}

/// The smallest biased exponent among the nonzero values of bf16 pairs (255 when none; a
/// pair's values are never subnormal: [`to_bf16`] flushes them).
pub(crate) fn min_exponent_pairs(words: &[u32]) -> u32 {
    let exp = |h: u32| match (h >> 7) & 0xff {
        0 => 255,
        e => e,
    };
    words
        .iter()
        .map(|&p| exp(p >> 16).min(exp(p & 0xffff)))
        .min()
        .unwrap_or(255)
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
        let w_min_exp = min_exponent_pairs(&packed);
        Bf16Linear {
            out,
            inp,
            pairs,
            packed,
            bias,
            w_min_exp,
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
    /// caller. Runs the fastest [`Kernel`] this CPU has (all give the same bits).
    pub(crate) fn forward(
        &self,
        x: &[f32],
        t: usize,
        y: &mut [f32],
        epilogue: Epilogue,
        panel: &mut Vec<u32>,
    ) {
        self.forward_with(Kernel::best(), x, t, y, epilogue, panel)
    }

    /// [`Bf16Linear::forward`] on `kernel` (which the CPU must have: checked, the SIMD body
    /// would be undefined behaviour otherwise).
    pub(crate) fn forward_with(
        &self,
        kernel: Kernel,
        x: &[f32],
        t: usize,
        y: &mut [f32],
        epilogue: Epilogue,
        panel: &mut Vec<u32>,
    ) {
        let (inp, out, pairs) = (self.inp, self.out, self.pairs);
        // Real asserts: this is a safe function and the raw writes below rely on them.
        assert!(
            kernel.available(),
            "bf16 projection: this CPU cannot run {kernel:?}"
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
        // Each panel's smallest exponent, for the emulation's flushes: they are skipped on the
        // panels whose sums cannot be subnormal (they cost it two instructions in six).
        let emulated = kernel == Kernel::Emulated;
        let pack = |(c, dst): (usize, &mut &mut [u32])| -> u32 {
            let rows = panel_rows(c, n, t);
            let m = rows.len();
            for (i, r) in rows.enumerate() {
                let row = &x[r * inp..(r + 1) * inp];
                for p in 0..pairs {
                    let hi = row.get(2 * p + 1).copied().unwrap_or(0.0);
                    dst[p * m + i] = pair(row[2 * p], hi);
                }
            }
            if emulated {
                min_exponent_pairs(dst)
            } else {
                255
            }
        };
        let panel_min_exp: Vec<u32> = if t * inp < 1 << 15 {
            slots.iter_mut().enumerate().map(pack).collect()
        } else {
            slots.par_iter_mut().enumerate().map(pack).collect()
        };
        let panel: &[u32] = panel;
        // The SIMD kernels run the input pairs in slices of KC, so one block pair's slice of
        // weights (24 KiB) stays in L1 across the task's panels.
        let kc = if kernel == Kernel::Portable {
            pairs
        } else {
            KC
        };
        let yp = SharedMut::new(y);
        for_each_tile(t, out, self.blocks(), pairs, kc, epilogue, yp, |tile| {
            let rows = tile.rows;
            let a = &panel[rows.start * pairs..rows.end * pairs];
            let flush = emulated && !sums_stay_normal(panel_min_exp[tile.panel], self.w_min_exp);
            // SAFETY: y holds t × out floats (asserted) and rows.end <= t; for_each_tile()
            // gives this tile of y to no other thread; `a` is this panel (m × pairs); b + pair
            // < blocks; ks ⊆ 0..pairs, all of it for the portable kernel; the CPU runs
            // `kernel` (asserted).
            unsafe {
                self.run(
                    kernel,
                    flush,
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
    /// `ks` (all of them for [`Kernel::Portable`]). The emulation flushes subnormal sums only
    /// when `flush` (without, its bits are the same where [`sums_stay_normal`]).
    ///
    /// # Safety
    /// - The CPU runs `kernel` ([`Kernel::available`]).
    /// - `1 <= m <= MR`, `a.len() == m × pairs` (one packed panel, `[pairs][m]`).
    /// - `b + pair < blocks`; `ks.start <= ks.end <= pairs`, and `ks == 0..pairs` for
    ///   [`Kernel::Portable`].
    /// - `(r + m) × out <= y.len()`, and while this runs no other thread reads or writes rows
    ///   `r..r + m` × the outputs of blocks `b..=b + pair` of `y`.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    unsafe fn run(
        &self,
        kernel: Kernel,
        flush: bool,
        a: &[u32],
        r: usize,
        m: usize,
        b: usize,
        pair: bool,
        ks: std::ops::Range<usize>,
        y: SharedMut,
    ) {
        debug_assert!(kernel.available());
        debug_assert!((1..=MR).contains(&m) && a.len() == m * self.pairs);
        debug_assert!(b + (pair as usize) < self.blocks());
        debug_assert!(ks.start <= ks.end && ks.end <= self.pairs);
        debug_assert!(kernel != Kernel::Portable || ks == (0..self.pairs));
        debug_assert!(
            (r + m) * self.out <= y.len(),
            "rows {r}..{} beyond y",
            r + m
        );
        #[cfg(target_arch = "x86_64")]
        match kernel {
            // SAFETY: the CPU has avx512f and avx512bf16 (`Native` is available); panel,
            // blocks, ks and y as our contract gives them.
            Kernel::Native => {
                return unsafe { avx512::panel_native(self, a, r, m, b, pair, ks, y) }
            }
            // SAFETY: the CPU has avx512f and avx512dq (`Emulated` is available); the rest as
            // above.
            Kernel::Emulated => {
                return unsafe { avx512::panel_emulated(self, flush, a, r, m, b, pair, ks, y) }
            }
            Kernel::Portable => {}
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
            let acc = portable_row(w, a, i, m);
            // SAFETY: row r + i < r + m, outputs o0..o0 + valid < out: inside y and this
            // caller's own rows and block (contract).
            let row = unsafe { y.slice_mut((r + i) * self.out + o0, valid) };
            for (j, v) in row.iter_mut().enumerate() {
                *v = acc[j] + self.bias[o0 + j];
            }
        }
    }
}

super::multiversion! {
    /// One panel row's 16 sums of one block (`w`, `[pairs][16]`), the pairs in order: a
    /// function of its own so that `mul_add` is one instruction where the CPU has FMA (the
    /// baseline build calls libm's `fmaf` for it).
    fn portable_row(w: &[u32], a: &[u32], i: usize, m: usize) -> [f32; NB] {
        let mut acc = [0f32; NB];
        for (p, ws) in w.chunks_exact(NB).enumerate() {
            let xv = a[p * m + i];
            for (s, &wv) in acc.iter_mut().zip(ws) {
                *s = dot_pair(*s, wv, xv);
            }
        }
        acc
    }
}

/// AVX-512: 12 token rows × 2 blocks (32 outputs) of f32 accumulators; for each input pair,
/// one `vdpbf16ps` per weight vector and row, or its steps in AVX-512 F.
#[cfg(target_arch = "x86_64")]
pub(super) mod avx512 {
    use super::{Bf16Linear, SharedMut, MR, NB};
    use std::arch::x86_64::*;

    /// How one input pair of a row meets one weight vector: the one difference between the
    /// native kernel and the emulation.
    trait Products {
        /// A block's weights for one input pair, as the products read them.
        type W: Copy;
        /// A row's input pair, as the products read it.
        type X: Copy;
        /// The 16 weight pairs at `w`.
        ///
        /// # Safety
        /// The CPU has the kernel's features; `w` points at 64 readable bytes.
        unsafe fn weights(w: *const u32) -> Self::W;
        /// The input pair at `x`.
        ///
        /// # Safety
        /// The CPU has the kernel's features; `x` points at 4 readable bytes.
        unsafe fn input(x: *const u32) -> Self::X;
        /// `acc` plus the two products of each lane, as `vdpbf16ps` sums them.
        ///
        /// # Safety
        /// The CPU has the kernel's features; `x` as [`Products::input`] gave it.
        unsafe fn dot(acc: __m512, w: Self::W, x: Self::X) -> __m512;
    }

    /// `vdpbf16ps` itself.
    struct Native;

    impl Products for Native {
        type W = __m512i;
        type X = *const u32;
        #[inline(always)]
        unsafe fn weights(w: *const u32) -> __m512i {
            // SAFETY: 64 readable bytes at w (contract).
            unsafe { _mm512_loadu_si512(w as *const __m512i) }
        }
        #[inline(always)]
        unsafe fn input(x: *const u32) -> *const u32 {
            x
        }
        #[inline(always)]
        unsafe fn dot(acc: __m512, w: __m512i, x: *const u32) -> __m512 {
            // SAFETY: the CPU has avx512f and avx512bf16, x is readable (contract).
            unsafe { dp_native(acc, w, x) }
        }
    }

    /// `acc` plus the pair at `x` (broadcast) times the 16 pairs in `w`, by `vdpbf16ps`.
    ///
    /// # Safety
    /// The CPU has avx512f and avx512bf16; `x` points at 4 readable bytes.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bf16")]
    pub(in crate::kernels) unsafe fn dp_native(
        mut acc: __m512,
        w: __m512i,
        x: *const u32,
    ) -> __m512 {
        // SAFETY: the CPU has avx512bf16 and x is readable (contract). The pair at x is
        // broadcast inside the instruction: LLVM does not fold a broadcast into vdpbf16ps, and
        // a separate one per row costs more.
        unsafe {
            std::arch::asm!(
                "vdpbf16ps {acc}, {w}, dword ptr [{x}]{{1to16}}",
                acc = inout(zmm_reg) acc,
                w = in(zmm_reg) w,
                x = in(reg) x,
                options(pure, readonly, nostack, preserves_flags),
            );
        }
        acc
    }

    /// The instruction's steps in AVX-512 F and DQ: the high products first, then the low ones,
    /// each an FMA (which rounds once, as the instruction's step does) whose subnormal result
    /// is flushed to a signed zero. The pairs are split into their f32 halves once per weight
    /// vector and per row.
    struct Flushed;

    impl Products for Flushed {
        type W = (__m512, __m512);
        type X = (__m512, __m512);
        #[inline(always)]
        unsafe fn weights(w: *const u32) -> (__m512, __m512) {
            // SAFETY: avx512f, and 64 readable bytes at w (contract).
            unsafe { halves(_mm512_loadu_si512(w as *const __m512i)) }
        }
        #[inline(always)]
        unsafe fn input(x: *const u32) -> (__m512, __m512) {
            // SAFETY: avx512f, and 4 readable bytes at x (contract).
            unsafe { halves(_mm512_set1_epi32(*x as i32)) }
        }
        #[inline(always)]
        unsafe fn dot(acc: __m512, w: (__m512, __m512), x: (__m512, __m512)) -> __m512 {
            // SAFETY: avx512f and avx512dq (contract).
            unsafe {
                let acc = flush(_mm512_fmadd_ps(w.0, x.0, acc));
                flush(_mm512_fmadd_ps(w.1, x.1, acc))
            }
        }
    }

    /// [`Flushed`] without the flushes: the same bits when no sum can be subnormal
    /// ([`super::sums_stay_normal`]).
    struct Unflushed;

    impl Products for Unflushed {
        type W = (__m512, __m512);
        type X = (__m512, __m512);
        #[inline(always)]
        unsafe fn weights(w: *const u32) -> (__m512, __m512) {
            // SAFETY: as Flushed's (contract).
            unsafe { Flushed::weights(w) }
        }
        #[inline(always)]
        unsafe fn input(x: *const u32) -> (__m512, __m512) {
            // SAFETY: as Flushed's (contract).
            unsafe { Flushed::input(x) }
        }
        #[inline(always)]
        unsafe fn dot(acc: __m512, w: (__m512, __m512), x: (__m512, __m512)) -> __m512 {
            // SAFETY: avx512f (contract).
            unsafe { _mm512_fmadd_ps(w.1, x.1, _mm512_fmadd_ps(w.0, x.0, acc)) }
        }
    }

    /// The pairs' high and low bf16 halves as f32 lanes.
    ///
    /// # Safety
    /// The CPU has avx512f.
    #[inline(always)]
    pub(in crate::kernels) unsafe fn halves(v: __m512i) -> (__m512, __m512) {
        // SAFETY: avx512f (contract).
        unsafe {
            let hi = _mm512_and_si512(v, _mm512_set1_epi32(0xffff_0000u32 as i32));
            (
                _mm512_castsi512_ps(hi),
                _mm512_castsi512_ps(_mm512_slli_epi32::<16>(v)),
            )
        }
    }

    /// `v` with its subnormal lanes made zeros of their sign.
    ///
    /// # Safety
    /// The CPU has avx512f and avx512dq.
    #[inline(always)]
    unsafe fn flush(v: __m512) -> __m512 {
        // SAFETY: avx512f and avx512dq (contract). fpclass 0x20 selects denormal lanes.
        unsafe {
            let tiny = _mm512_fpclass_ps_mask::<0x20>(v);
            let bits = _mm512_castps_si512(v);
            let sign = _mm512_set1_epi32(0x8000_0000u32 as i32);
            _mm512_castsi512_ps(_mm512_mask_and_epi32(bits, tiny, bits, sign))
        }
    }

    /// One panel of `m` rows × block `b` (and `b + 1` when `pair`), input pairs `ks`, on
    /// `vdpbf16ps`.
    ///
    /// # Safety
    /// As [`Bf16Linear::run`] with [`super::Kernel::Native`]: the CPU has avx512f and
    /// avx512bf16; `1 <= m <= MR`, `a.len() == m × pairs`; `b + pair < blocks`; `ks.start <=
    /// ks.end <= pairs`; `(r + m) × out <= y.len()`, and no other thread touches those rows ×
    /// blocks of `y`.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f,avx512bf16")]
    pub unsafe fn panel_native(
        p: &Bf16Linear,
        a: &[u32],
        r: usize,
        m: usize,
        b: usize,
        pair: bool,
        ks: std::ops::Range<usize>,
        y: SharedMut,
    ) {
        // SAFETY: the CPU has the features; the rest is our contract.
        unsafe { panel::<Native>(p, a, r, m, b, pair, ks, y) }
    }

    /// [`panel_native`] on the AVX-512 F emulation, flushing subnormal sums when `flush`.
    ///
    /// # Safety
    /// As [`panel_native`], with avx512f and avx512dq instead of avx512bf16.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f,avx512dq")]
    pub unsafe fn panel_emulated(
        p: &Bf16Linear,
        flush: bool,
        a: &[u32],
        r: usize,
        m: usize,
        b: usize,
        pair: bool,
        ks: std::ops::Range<usize>,
        y: SharedMut,
    ) {
        // SAFETY: the CPU has the features; the rest is our contract.
        unsafe {
            if flush {
                panel::<Flushed>(p, a, r, m, b, pair, ks, y)
            } else {
                panel::<Unflushed>(p, a, r, m, b, pair, ks, y)
            }
        }
    }

    /// The panel on products `P`, compiled inside the caller's features.
    ///
    /// # Safety
    /// As [`panel_native`], the CPU having `P`'s features.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    unsafe fn panel<P: Products>(
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
                        ($m, true) => kernel::<P, $m, 2>(p, a, r, b, ks, first, last, y),
                        ($m, false) => kernel::<P, $m, 1>(p, a, r, b, ks, first, last, y),
                    )*
                    _ => {}
                }
            };
        }
        // SAFETY: the CPU has the features; kernel::<P, m, 1 + pair> gets exactly the panel,
        // blocks, input pairs and rows of our contract.
        unsafe { go!(1 2 3 4 5 6 7 8 9 10 11 12) }
    }

    /// Panel rows `r..r+M` × blocks `b..b+B` over input pairs `ks`: starts from zero on the
    /// first slice, else from the partial sums in `y` (an f32 stored and reloaded is the same
    /// value), and adds the bias after the last.
    ///
    /// # Safety
    /// The CPU has `P`'s features; `a.len() >= M × pairs` (`[pairs][M]`); `b + B <= blocks`;
    /// `ks.end <= pairs`; `(r + M) × out <= y.len()`, and no other thread touches rows `r..r +
    /// M` × the outputs of blocks `b..b + B` of `y` meanwhile.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    unsafe fn kernel<P: Products, const M: usize, const B: usize>(
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
        // packed, pairs ks.start..ks.end <= pairs; inputs read a[k·M + i], k < pairs, i < M:
        // inside the panel; bias loads 16 floats at o < out, inside the bias padded to whole
        // blocks; y is loaded and stored at rows r + i < r + M, columns o.. masked to the valid
        // outputs below `out` (contract).
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
                let wv: [P::W; B] =
                    std::array::from_fn(|j| P::weights(w.add((j * pairs + k) * NB)));
                for (i, s) in acc.iter_mut().enumerate() {
                    let x = P::input(xs.add(i));
                    for (sj, &wj) in s.iter_mut().zip(&wv) {
                        *sj = P::dot(*sj, wj, x);
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
            lin.forward_with(Kernel::Portable, &x, t, &mut y, Epilogue::Bias, &mut panel);
            for kernel in [Kernel::Native, Kernel::Emulated] {
                if !kernel.available() {
                    continue;
                }
                let mut yk = vec![0f32; t * out];
                lin.forward_with(kernel, &x, t, &mut yk, Epilogue::Bias, &mut panel);
                let diff = y
                    .iter()
                    .zip(&yk)
                    .filter(|(a, b)| a.to_bits() != b.to_bits());
                assert_eq!(
                    diff.count(),
                    0,
                    "{kernel:?} differs from the portable loop (t={t})"
                );
                let mut yg = vec![0f32; t * out];
                lin.forward_with(kernel, &x, t, &mut yg, Epilogue::BiasGelu, &mut panel);
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

    #[test]
    fn every_kernel_flushes_subnormal_sums_alike() {
        // Products near 1e-40 are subnormal: each step's sum is flushed to a signed zero, so
        // rows of them sum to zero where plain f32 keeps about 1e-39. With some inputs of
        // normal size, their products (about 1e-21) must survive.
        let (t, inp, out) = (13, 40, 33);
        let mut rng = crate::test_rng::Rng::new(9);
        let w: Vec<f32> = (0..out * inp)
            .map(|_| rng.f32_in(-1.0, 1.0) * 3e-20)
            .collect();
        let x: Vec<f32> = (0..t * inp)
            .map(|_| rng.f32_in(-1.0, 1.0) * 3e-20)
            .collect();
        let b = vec![0f32; out];
        let lin = Bf16Linear::new(&w, &b, out, inp);
        let mut panel = Vec::new();
        let mut want = vec![0f32; t * out];
        lin.forward_with(
            Kernel::Portable,
            &x,
            t,
            &mut want,
            Epilogue::Bias,
            &mut panel,
        );
        assert!(want.iter().all(|&v| v == 0.0), "subnormal sums flushed");
        let x2: Vec<f32> = x
            .iter()
            .enumerate()
            .map(|(k, v)| if k % 5 == 0 { v * 1e19 } else { *v })
            .collect();
        let mut mixed = vec![0f32; t * out];
        lin.forward_with(
            Kernel::Portable,
            &x2,
            t,
            &mut mixed,
            Epilogue::Bias,
            &mut panel,
        );
        assert!(
            mixed.iter().all(|v| v.abs() > 1e-30),
            "normal products kept"
        );
        for kernel in [Kernel::Native, Kernel::Emulated] {
            if !kernel.available() {
                continue;
            }
            for (xs, expect) in [(&x, &want), (&x2, &mixed)] {
                let mut got = vec![0f32; t * out];
                lin.forward_with(kernel, xs, t, &mut got, Epilogue::Bias, &mut panel);
                assert!(
                    got.iter()
                        .zip(expect.iter())
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{kernel:?} flushes differently"
                );
            }
        }
    }

    #[test]
    fn skipping_the_flushes_keeps_the_bits_across_the_subnormal_edge() {
        // Scales that walk the products across 2^-126: below, the panels must take the
        // flushing kernel; above, skipping the flushes must give the same bits.
        let (t, inp, out) = (24, 64, 32);
        let mut rng = crate::test_rng::Rng::new(11);
        // Magnitudes within one binade, so the smallest exponent is every value's.
        let mut one_binade = || {
            let v = rng.f32_in(-1.0, 1.0);
            (1.0 + 0.5 * v.abs()).copysign(v)
        };
        let w: Vec<f32> = (0..out * inp)
            .map(|_| one_binade() * 2f32.powi(-60))
            .collect();
        let b = vec![0f32; out];
        let lin = Bf16Linear::new(&w, &b, out, inp);
        let base: Vec<f32> = (0..t * inp).map(|_| one_binade()).collect();
        let mut panel = Vec::new();
        let (mut skipped, mut flushed) = (0, 0);
        for shift in 50..80 {
            let x: Vec<f32> = base.iter().map(|v| v * 2f32.powi(-shift)).collect();
            let mut want = vec![0f32; t * out];
            lin.forward_with(
                Kernel::Portable,
                &x,
                t,
                &mut want,
                Epilogue::Bias,
                &mut panel,
            );
            let pairs: Vec<u32> = x.chunks_exact(2).map(|v| pair(v[0], v[1])).collect();
            if sums_stay_normal(min_exponent_pairs(&pairs), lin.w_min_exp) {
                skipped += 1;
            } else {
                flushed += 1;
            }
            if Kernel::Emulated.available() {
                let mut got = vec![0f32; t * out];
                lin.forward_with(
                    Kernel::Emulated,
                    &x,
                    t,
                    &mut got,
                    Epilogue::Bias,
                    &mut panel,
                );
                assert!(
                    got.iter()
                        .zip(&want)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "shift {shift}"
                );
            }
        }
        assert!(
            skipped > 0 && flushed > 0,
            "{skipped} skipped, {flushed} flushed"
        );
    }

    #[test]
    fn the_flushes_are_skipped_exactly_from_the_proven_edge() {
        // 129·129 − 128·130 = 1: one pair whose two steps cancel to exactly 2^(ex + ew − 268).
        // At ex + ew = 141 that sum is subnormal and must be flushed; from 142 it is normal.
        // A bound off by one binade either way fails here.
        for ex in [60u32, 70] {
            for sum in [140u32, 141, 142, 143] {
                let ew = sum - ex;
                let at = |m: f32, e: u32| m * 2f32.powi(e as i32 - 134);
                let x = [at(128.0, ex), at(129.0, ex)];
                let w = [at(-130.0, ew), at(129.0, ew)];
                let lin = Bf16Linear::new(&w, &[0.0], 1, 2);
                assert_eq!(lin.w_min_exp, ew);
                assert_eq!(min_exponent_pairs(&[pair(x[0], x[1])]), ex);
                let mut panel = Vec::new();
                let mut want = [0f32];
                lin.forward_with(
                    Kernel::Portable,
                    &x,
                    1,
                    &mut want,
                    Epilogue::Bias,
                    &mut panel,
                );
                let exact = 2f32.powi(sum as i32 - 268);
                if sum < 142 {
                    assert_eq!(want[0], 0.0, "sum {sum}: flushed");
                } else {
                    assert_eq!(want[0], exact, "sum {sum}: kept");
                }
                assert_eq!(sums_stay_normal(ex, ew), sum >= 142);
                for kernel in [Kernel::Native, Kernel::Emulated] {
                    if kernel.available() {
                        let mut got = [0f32];
                        lin.forward_with(kernel, &x, 1, &mut got, Epilogue::Bias, &mut panel);
                        assert_eq!(got[0].to_bits(), want[0].to_bits(), "{kernel:?}, sum {sum}");
                    }
                }
            }
        }
    }
}
