//! f32 projections `y = x·Wᵀ + b`, with the weights packed once at load and the activations
//! packed per call, for register-blocked kernels.
//!
//! A general GEMM (the `gemm` crate) repacks the weight matrix on every call, which over a single
//! search query (about 25 tokens) costs more than the arithmetic, and its x86 kernels stop at AVX2
//! (half of an AVX-512 core's rate). Here the weights are laid out once as the kernel reads them
//! (per block of 16 outputs, the 16 weights of each input index side by side), and each call packs
//! the token rows into panels of at most 12 rows whose 12 values of one input index are adjacent.
//! The AVX-512 kernel then holds 12 rows × 32 outputs of accumulators in registers; per input
//! index it loads two weight vectors and broadcasts 12 activations from one pointer at fixed
//! offsets (folded into the FMAs), so the loop is FMAs and loads only. Reading 12 activations from
//! 12 row pointers instead spent a third of the kernel's cycles on address arithmetic and spills.
//!
//! Every kernel sums each output over the input index in order, one fused multiply-add per step
//! from zero, then adds the bias: AVX-512, AVX2 and the portable loop give the same bits.

use rayon::prelude::*;

use super::{Isa, SharedMut};

/// Outputs per weight block: one 512-bit register (two 256-bit ones).
const NB: usize = 16;
/// Most token rows per panel (the AVX-512 kernel's accumulator height).
pub(crate) const MR: usize = 12;
/// Input indices per pass of the AVX-512 kernel.
const KC: usize = 192;
/// Panels per parallel task when the input is split by rows.
const TASK_PANELS: usize = 8;

/// What a projection does to its outputs after the bias.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Epilogue {
    /// `x·Wᵀ + b`.
    Bias,
    /// `gelu(x·Wᵀ + b)` with the exact-erf GELU, applied while the tile is in cache.
    BiasGelu,
}

/// `y = x·Wᵀ + b` with `W` packed for the kernels.
pub(crate) struct PackedLinear {
    out: usize,
    inp: usize,
    /// Per block of 16 outputs, per input index, the 16 weights (zero beyond `out`).
    packed: Vec<f32>,
    /// The bias, zero-padded to whole blocks.
    bias: Vec<f32>,
}

/// Row range of panel `c` of `n` over `t` rows: near-equal panels of at most [`MR`] rows (a
/// 25-token query runs as 9 + 8 + 8, not 12 + 12 + 1, whose last pass would wait on FMA latency).
#[inline]
pub(crate) fn panel_rows(c: usize, n: usize, t: usize) -> std::ops::Range<usize> {
    c * t / n..(c + 1) * t / n
}

/// One tile of a projection for [`for_each_tile`]: the panel of token rows `rows` × block
/// `block` (and `block + 1` when `pair`) over the input slice `ks`.
pub(crate) struct Tile {
    /// Which panel: `rows` is `panel_rows(panel, ..)`.
    pub(crate) panel: usize,
    pub(crate) rows: std::ops::Range<usize>,
    pub(crate) block: usize,
    pub(crate) pair: bool,
    pub(crate) ks: std::ops::Range<usize>,
    /// The first panel of its task for this slice (the f32 kernel prefetches there).
    pub(crate) first_panel: bool,
}

/// The schedule the f32 and bf16 projections share: the [`tasks`] split of `t` rows (in
/// panels of [`panel_rows`]) × `blocks` output blocks runs in parallel; each task walks its
/// blocks two at a time, the input `depth` in slices of `kc`, then its panels (so a block
/// pair's slice of weights stays in L1 across the panels), calling `tile`; then, when
/// `epilogue` asks, GELU over the task's own finished tile of `y` (`[t, out]`).
///
/// No two calls of `tile` on different threads share a (panel, block) tile, and a tile's
/// input slices come in order.
#[allow(clippy::too_many_arguments)]
pub(crate) fn for_each_tile(
    t: usize,
    out: usize,
    blocks: usize,
    depth: usize,
    kc: usize,
    epilogue: Epilogue,
    y: SharedMut,
    tile: impl Fn(Tile) + Sync,
) {
    assert!(y.len() >= t * out, "projection output too small");
    let n = t.div_ceil(MR);
    tasks(n, blocks, TASK_PANELS)
        .into_par_iter()
        .for_each(|(panels, bl)| {
            let mut b = bl.start;
            while b < bl.end {
                let pair = b + 1 < bl.end;
                for k0 in (0..depth).step_by(kc.max(1)) {
                    let ks = k0..(k0 + kc).min(depth);
                    for c in panels.clone() {
                        tile(Tile {
                            panel: c,
                            rows: panel_rows(c, n, t),
                            block: b,
                            pair,
                            ks: ks.clone(),
                            first_panel: c == panels.start,
                        });
                    }
                }
                b += if pair { 2 } else { 1 };
            }
            if epilogue == Epilogue::BiasGelu {
                let cols = bl.start * NB..(bl.end * NB).min(out);
                for r in panel_rows(panels.start, n, t).start..panel_rows(panels.end - 1, n, t).end
                {
                    // SAFETY: row r < t, columns of this task's blocks below `out`: inside y
                    // (asserted), in this task's own region, whose tile writes finished above.
                    let row = unsafe { y.slice_mut(r * out + cols.start, cols.len()) };
                    super::elementwise::gelu_slice(row);
                }
            }
        });
}

/// Work split of `panels` row panels × `blocks` output blocks into parallel tasks: a short input
/// is split over its outputs so every core gets work, a long one over rows (4 block groups, for
/// balance at the end). Block groups hold an even number of blocks so pairs stay together.
pub(crate) fn tasks(
    panels: usize,
    blocks: usize,
    task_panels: usize,
) -> Vec<(std::ops::Range<usize>, std::ops::Range<usize>)> {
    let groups = if panels <= task_panels {
        rayon::current_num_threads() * 2
    } else {
        4
    };
    let per = blocks.div_ceil(groups).max(1).next_multiple_of(2);
    (0..panels.div_ceil(task_panels))
        .flat_map(|r| {
            let rows = r * task_panels..((r + 1) * task_panels).min(panels);
            (0..blocks)
                .step_by(per)
                .map(move |b| (rows.clone(), b..(b + per).min(blocks)))
        })
        .collect()
}

impl PackedLinear {
    /// Packs `w` (`[out, inp]`, as transformers stores it) with bias `b`.
    pub(crate) fn new(w: &[f32], b: &[f32], out: usize, inp: usize) -> Self {
        debug_assert!(w.len() == out * inp && b.len() == out);
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

    /// Output width.
    pub(crate) fn out(&self) -> usize {
        self.out
    }

    /// Input width.
    pub(crate) fn inp(&self) -> usize {
        self.inp
    }

    /// `y[t, out] = epilogue(x[t, inp] · Wᵀ + b)`; `panel` is scratch space, kept by the caller.
    pub(crate) fn forward(
        &self,
        x: &[f32],
        t: usize,
        y: &mut [f32],
        epilogue: Epilogue,
        panel: &mut Vec<f32>,
    ) {
        self.forward_with(Isa::best(), x, t, y, epilogue, panel);
    }

    /// [`PackedLinear::forward`] on a given instruction set, which the CPU must have (checked:
    /// the SIMD bodies would be undefined behaviour otherwise).
    pub(crate) fn forward_with(
        &self,
        isa: Isa,
        x: &[f32],
        t: usize,
        y: &mut [f32],
        epilogue: Epilogue,
        panel: &mut Vec<f32>,
    ) {
        let (inp, out) = (self.inp, self.out);
        // Real asserts, not debug ones: this is a safe function and the raw writes below rely on
        // them; they cost a few instructions per projection.
        assert!(
            isa.available(),
            "projection: {isa:?} not available on this CPU"
        );
        assert!(
            x.len() >= t * inp && y.len() >= t * out,
            "projection buffers too small"
        );
        if t == 0 {
            return;
        }
        let n = t.div_ceil(MR);
        if panel.len() < t * inp {
            panel.resize(t * inp, 0.0);
        }
        let pp = SharedMut::new(panel);
        let pack = |c: usize| {
            let rows = panel_rows(c, n, t);
            let m = rows.len();
            // SAFETY: panel c occupies elements rows.start·inp .. rows.end·inp, inside `panel`
            // (at least t × inp, resized above) and disjoint from every other panel's, so no
            // other task touches them while this one packs.
            let dst = unsafe { pp.slice_mut(rows.start * inp, m * inp) };
            for (i, r) in rows.enumerate() {
                for (k, &v) in x[r * inp..(r + 1) * inp].iter().enumerate() {
                    dst[k * m + i] = v;
                }
            }
        };
        if t * inp < 1 << 15 {
            (0..n).for_each(pack);
        } else {
            (0..n).into_par_iter().for_each(pack);
        }
        let panel: &[f32] = panel;
        // The AVX-512 kernel runs the input index in slices of KC, so one block pair's slice of
        // weights (24 KiB) stays in L1 across the task's panels.
        let kc = if isa == Isa::Avx512 { KC } else { inp };
        let yp = SharedMut::new(y);
        for_each_tile(t, out, self.blocks(), inp, kc, epilogue, yp, |tile| {
            let rows = tile.rows;
            let a = &panel[rows.start * inp..rows.end * inp];
            // SAFETY: the CPU has `isa` (asserted); y holds t × out floats (asserted) and
            // rows.end <= t; for_each_tile() gives this tile of y to no other thread; `a` is
            // this panel (m × inp) and b + pair < blocks, ks ⊆ 0..inp (whole unless AVX-512),
            // as run() requires.
            unsafe {
                self.run(
                    isa,
                    a,
                    rows.start,
                    rows.len(),
                    tile.block,
                    tile.pair,
                    tile.ks,
                    tile.first_panel,
                    yp,
                )
            };
        });
    }

    /// Rows `r..r+m` (one panel, `a`) × block `b` (and `b + 1` when `pair`), over the input
    /// indices `ks` (the whole input unless AVX-512).
    ///
    /// # Safety
    /// - `isa.available()`: the CPU has the instruction set.
    /// - `1 <= m <= MR`, `a.len() == m × inp` (one packed panel, `[inp][m]`).
    /// - `b + pair < blocks` (blocks of 16 outputs, `out.div_ceil(16)`).
    /// - `ks.start <= ks.end <= inp`, and `ks == 0..inp` unless `isa` is AVX-512 (the other
    ///   kernels always run the whole input).
    /// - `(r + m) × out <= y.len()`: `y` is `[t, out]` and the panel's rows lie inside it.
    /// - While this runs, no other thread reads or writes rows `r..r + m` × the outputs of
    ///   blocks `b..=b + pair` of `y`.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    unsafe fn run(
        &self,
        isa: Isa,
        a: &[f32],
        r: usize,
        m: usize,
        b: usize,
        pair: bool,
        ks: std::ops::Range<usize>,
        prefetch: bool,
        y: SharedMut,
    ) {
        debug_assert!(isa.available(), "{isa:?} not available");
        debug_assert!((1..=MR).contains(&m) && a.len() == m * self.inp);
        debug_assert!(
            b + (pair as usize) < self.blocks(),
            "block {b} beyond the weights"
        );
        debug_assert!(ks.start <= ks.end && ks.end <= self.inp);
        debug_assert!(
            isa == Isa::Avx512 || ks == (0..self.inp),
            "{isa:?} runs the whole input"
        );
        debug_assert!(
            (r + m) * self.out <= y.len(),
            "rows {r}..{} beyond y",
            r + m
        );
        match isa {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the CPU has avx512f (`isa`); panel, blocks, ks and y as our contract.
            Isa::Avx512 => unsafe { avx512::panel(self, a, r, m, b, pair, ks, prefetch, y) },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => {
                for bb in b..b + 1 + pair as usize {
                    let mut i = 0;
                    while i < m {
                        let n = (m - i).min(6);
                        // SAFETY: the CPU has avx2 and fma (`isa`); 1 <= n <= 6 and
                        // i + n <= m; block bb exists; y and the rows as our contract.
                        unsafe { avx2::rows(self, a, m, i, n, r, bb, y) };
                        i += n;
                    }
                }
            }
            _ => {
                for bb in b..b + 1 + pair as usize {
                    // SAFETY: block bb exists; y and the rows as our contract.
                    unsafe { self.portable(a, r, m, bb, y) };
                }
            }
        }
    }

    /// Plain loops over one panel × one block.
    ///
    /// # Safety
    /// `(r + m) × out <= y.len()`, and no other thread reads or writes rows `r..r + m` × the
    /// outputs of block `b` of `y` meanwhile. (`a` and `b` are bounds-checked slices here.)
    unsafe fn portable(&self, a: &[f32], r: usize, m: usize, b: usize, y: SharedMut) {
        debug_assert!(a.len() >= m * self.inp && b < self.blocks());
        debug_assert!(
            (r + m) * self.out <= y.len(),
            "rows {r}..{} beyond y",
            r + m
        );
        let inp = self.inp;
        let w = &self.packed[b * inp * NB..(b + 1) * inp * NB];
        for i in 0..m {
            let mut acc = [0f32; NB];
            for k in 0..inp {
                let xv = a[k * m + i];
                for (s, &wv) in acc.iter_mut().zip(&w[k * NB..(k + 1) * NB]) {
                    *s = xv.mul_add(wv, *s);
                }
            }
            // SAFETY: row r + i < r + m, inside y and this caller's own rows (contract).
            unsafe { self.store(&acc, r + i, b, y) };
        }
    }

    /// Output blocks of 16 in the packed weights.
    #[inline(always)]
    fn blocks(&self) -> usize {
        self.bias.len() / NB
    }

    /// Adds the bias and writes the valid outputs of one row of block `b`.
    ///
    /// # Safety
    /// `(row + 1) × out <= y.len()`, and no other thread reads or writes that row's outputs of
    /// block `b` meanwhile.
    #[inline(always)]
    unsafe fn store(&self, acc: &[f32; NB], row: usize, b: usize, y: SharedMut) {
        debug_assert!((row + 1) * self.out <= y.len(), "row {row} beyond y");
        let o0 = b * NB;
        let y = y.ptr();
        for (j, a) in acc.iter().enumerate().take(self.out.saturating_sub(o0)) {
            // SAFETY: o0 + j < out, so this is inside row `row` of y (contract).
            unsafe { *y.add(row * self.out + o0 + j) = a + self.bias[o0 + j] };
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{PackedLinear, SharedMut, NB};
    use std::arch::x86_64::*;

    /// Rows `i..i+n` (n ≤ 6) of a panel of `m` rows starting at token row `r`, × block `b`.
    ///
    /// # Safety
    /// - The CPU has avx2 and fma.
    /// - `1 <= n <= 6`, `i + n <= m`, `a.len() >= m × inp` (the panel, `[inp][m]`).
    /// - `b < blocks`.
    /// - `(r + m) × out <= y.len()`, and no other thread reads or writes rows `r + i..r + i + n`
    ///   × the outputs of block `b` of `y` meanwhile.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn rows(
        p: &PackedLinear,
        a: &[f32],
        m: usize,
        i: usize,
        n: usize,
        r: usize,
        b: usize,
        y: SharedMut,
    ) {
        debug_assert!((1..=6).contains(&n) && i + n <= m && a.len() >= m * p.inp);
        debug_assert!(b < p.blocks() && (r + m) * p.out <= y.len());
        // SAFETY: the CPU has avx2 and fma, and kernel::<n> gets rows i..i + n <= m of the
        // panel, block b and y as our contract gives them.
        unsafe {
            match n {
                6 => kernel::<6>(p, a, m, i, r, b, y),
                5 => kernel::<5>(p, a, m, i, r, b, y),
                4 => kernel::<4>(p, a, m, i, r, b, y),
                3 => kernel::<3>(p, a, m, i, r, b, y),
                2 => kernel::<2>(p, a, m, i, r, b, y),
                _ => kernel::<1>(p, a, m, i, r, b, y),
            }
        }
    }

    /// Panel rows `i0..i0 + N` × block `b`.
    ///
    /// # Safety
    /// The CPU has avx2 and fma; `i0 + N <= m`, `a.len() >= m × inp`, `b < blocks`;
    /// `(r + i0 + N) × out <= y.len()`, and no other thread touches those rows × block `b`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn kernel<const N: usize>(
        p: &PackedLinear,
        a: &[f32],
        m: usize,
        i0: usize,
        r: usize,
        b: usize,
        y: SharedMut,
    ) {
        debug_assert!(i0 + N <= m && a.len() >= m * p.inp && b < p.blocks());
        debug_assert!((r + i0 + N) * p.out <= y.len());
        let inp = p.inp;
        // SAFETY: the CPU has avx2 and fma. The weight loads read block b, packed[b·inp·16 ..
        // (b + 1)·inp·16] (b < blocks); the prefetch may point past it but never faults; xs
        // reads a[k·m + i0 + i] with i < N, k < inp: inside the panel; the stores go to rows
        // r + i0 + i of y (contract).
        unsafe {
            let mut acc = [[_mm256_setzero_ps(); 2]; N];
            let w = p.packed.as_ptr().add(b * inp * NB);
            let mut xs = a.as_ptr().add(i0);
            for k in 0..inp {
                let w0 = _mm256_loadu_ps(w.add(k * NB));
                let w1 = _mm256_loadu_ps(w.add(k * NB + 8));
                _mm_prefetch::<_MM_HINT_T1>(w.wrapping_add((inp + k) * NB) as *const i8);
                for (i, s) in acc.iter_mut().enumerate() {
                    let xv = _mm256_broadcast_ss(&*xs.add(i));
                    s[0] = _mm256_fmadd_ps(xv, w0, s[0]);
                    s[1] = _mm256_fmadd_ps(xv, w1, s[1]);
                }
                xs = xs.add(m);
            }
            for (i, s) in acc.iter().enumerate() {
                let mut lanes = [0f32; NB];
                _mm256_storeu_ps(lanes.as_mut_ptr(), s[0]);
                _mm256_storeu_ps(lanes.as_mut_ptr().add(8), s[1]);
                p.store(&lanes, r + i0 + i, b, y);
            }
        }
    }
}

/// AVX-512: 32 registers hold 12 token rows × 2 blocks (32 outputs) of accumulators, so each
/// weight vector is loaded once per 12 rows.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{PackedLinear, SharedMut, MR, NB};
    use std::arch::x86_64::*;

    /// One panel of `m` rows × block `b` (and `b + 1` when `pair`), input indices `ks`.
    ///
    /// # Safety
    /// As [`PackedLinear::run`] with `isa` AVX-512: the CPU has avx512f; `1 <= m <= MR`,
    /// `a.len() == m × inp`; `b + pair < blocks`; `ks.start <= ks.end <= inp`;
    /// `(r + m) × out <= y.len()`, and no other thread touches those rows × blocks of `y`.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn panel(
        p: &PackedLinear,
        a: &[f32],
        r: usize,
        m: usize,
        b: usize,
        pair: bool,
        ks: std::ops::Range<usize>,
        prefetch: bool,
        y: SharedMut,
    ) {
        debug_assert!((1..=MR).contains(&m) && a.len() == m * p.inp);
        debug_assert!(b + (pair as usize) < p.blocks() && ks.start <= ks.end && ks.end <= p.inp);
        debug_assert!((r + m) * p.out <= y.len(), "rows {r}..{} beyond y", r + m);
        let first = ks.start == 0;
        let last = ks.end == p.inp;
        macro_rules! go {
            ($($m:literal)*) => {
                match (m, pair, prefetch) {
                    $(
                        ($m, true, true) => kernel::<$m, 2, true>(p, a, r, b, ks, first, last, y),
                        ($m, true, false) => kernel::<$m, 2, false>(p, a, r, b, ks, first, last, y),
                        ($m, false, true) => kernel::<$m, 1, true>(p, a, r, b, ks, first, last, y),
                        ($m, false, false) => kernel::<$m, 1, false>(p, a, r, b, ks, first, last, y),
                    )*
                    _ => {}
                }
            };
        }
        // SAFETY: the CPU has avx512f; kernel::<m, 1 + pair, _> gets exactly the panel, blocks,
        // input range and rows of our contract.
        unsafe { go!(1 2 3 4 5 6 7 8 9 10 11 12) }
    }

    /// Panel rows `r..r+M` × blocks `b..b+B` (B ≤ 2) over input indices `ks`: starts from zero
    /// on the first slice, else from the partial sums in `y`, and adds the bias after the last
    /// (an f32 partial sum stored and reloaded is the same value, so the bits do not depend on
    /// the slicing). With `PF`, the next block pair's weights are prefetched: the first panel of
    /// a task streams each pair from memory, and the hardware prefetcher alone leaves it waiting.
    ///
    /// # Safety
    /// The CPU has avx512f; `a.len() >= M × inp` (the panel, `[inp][M]`); `b + B <= blocks`;
    /// `ks.start <= ks.end <= inp`; `(r + M) × out <= y.len()`, and no other thread touches
    /// rows `r..r + M` × the outputs of blocks `b..b + B` of `y` meanwhile.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn kernel<const M: usize, const B: usize, const PF: bool>(
        p: &PackedLinear,
        a: &[f32],
        r: usize,
        b: usize,
        ks: std::ops::Range<usize>,
        first: bool,
        last: bool,
        y: SharedMut,
    ) {
        debug_assert!(a.len() >= M * p.inp && b + B <= p.blocks());
        debug_assert!(ks.start <= ks.end && ks.end <= p.inp);
        debug_assert!((r + M) * p.out <= y.len(), "rows {r}..{} beyond y", r + M);
        let y = y.ptr();
        let inp = p.inp;
        let o0 = b * NB;
        let mask = |o: usize| -> __mmask16 {
            let valid = (p.out - o).min(NB);
            if valid == NB {
                0xffff
            } else {
                (1u16 << valid) - 1
            }
        };
        // SAFETY: the CPU has avx512f. Weight loads read blocks b..b + B < blocks of packed
        // (prefetches may point past them but never fault); xs reads a[k·M + i], k < ks.end <=
        // inp, i < M: inside the panel; bias loads 16 floats at o < out, inside the bias padded
        // to whole blocks; y is loaded and stored at rows r + i < r + M, columns o.. masked to
        // the valid outputs below `out` (contract).
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
            let w = p.packed.as_ptr().add(b * inp * NB);
            let mut xs = a.as_ptr().add(ks.start * M);
            for k in ks {
                let mut wv = [_mm512_setzero_ps(); B];
                for (j, v) in wv.iter_mut().enumerate() {
                    *v = _mm512_loadu_ps(w.add((j * inp + k) * NB));
                    if PF {
                        let next = w.wrapping_add(((j + B) * inp + k) * NB);
                        _mm_prefetch::<_MM_HINT_T1>(next as *const i8);
                    }
                }
                for (i, s) in acc.iter_mut().enumerate() {
                    let xv = _mm512_set1_ps(*xs.add(i));
                    for (sj, &wj) in s.iter_mut().zip(&wv) {
                        *sj = _mm512_fmadd_ps(xv, wj, *sj);
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
    fn kernels_agree_bit_for_bit_and_equal_the_plain_product() {
        let mut rng = crate::test_rng::Rng::new(3);
        let mut rnd = || 0.5 * rng.f32_in(-1.0, 1.0);
        for &(t, inp, out) in &[
            (1, 384, 1152),
            (25, 37, 45),
            (200, 64, 17),
            (7, 5, 3),
            (29, 40, 48),
            (130, 16, 100),
        ] {
            let w: Vec<f32> = (0..out * inp).map(|_| rnd()).collect();
            let b: Vec<f32> = (0..out).map(|_| rnd()).collect();
            let x: Vec<f32> = (0..t * inp).map(|_| rnd()).collect();
            let lin = PackedLinear::new(&w, &b, out, inp);
            let mut panel = Vec::new();
            let mut y = vec![0f32; t * out];
            lin.forward_with(Isa::Portable, &x, t, &mut y, Epilogue::Bias, &mut panel);
            for isa in Isa::usable() {
                let mut yk = vec![0f32; t * out];
                lin.forward_with(isa, &x, t, &mut yk, Epilogue::Bias, &mut panel);
                let same = y.iter().zip(&yk).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{isa:?} differs from the portable loop (t={t})");
                let mut yg = vec![0f32; t * out];
                lin.forward_with(isa, &x, t, &mut yg, Epilogue::BiasGelu, &mut panel);
                let mut want = y.clone();
                super::super::elementwise::gelu_slice(&mut want);
                assert!(want
                    .iter()
                    .zip(&yg)
                    .all(|(a, b)| a.to_bits() == b.to_bits()));
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
