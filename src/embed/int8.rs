//! Int8 linear layers for the CPU engine's `q8` mode: weights quantised once per output row,
//! activations per token row at run time, products accumulated exactly in i32.
//!
//! On CPUs with AVX-512 VNNI one `vpdpbusd` does 64 int8 multiply-adds, four times the f32 FMA
//! rate, so the projections (~90 % of the model's arithmetic) run several times faster than in
//! f32. Elsewhere a portable integer loop gives bit-identical results (integer sums are exact and
//! the f32 epilogue is the same sequence of operations), so a `q8` index does not depend on the
//! machine that built it.

use rayon::prelude::*;

/// Outputs per register block of the VNNI kernel (two 16-lane i32 registers).
const NB: usize = 32;
/// Token rows per micro-kernel call.
const MR: usize = 8;
/// Token rows per parallel task.
const TM: usize = 64;

/// A linear layer `y = x·Wᵀ + b` with int8 weights (symmetric, one scale per output row).
pub struct QLinear {
    out: usize,
    inp: usize,
    /// `inp` rounded up to a multiple of 4 (one VNNI group).
    kp: usize,
    /// Row-major `[out, kp]` int8 weights (portable kernel), empty when VNNI packs are used.
    rows: Vec<i8>,
    /// VNNI layout: per block of 32 outputs, per group of 4 inputs, 32 × 4 bytes.
    packed: Vec<i8>,
    /// Per-output scale, padded to a multiple of 32.
    scale: Vec<f32>,
    /// `128 · Σ_k W[o,k]`: activations are stored offset by +128 as `u8` for `vpdpbusd`.
    comp: Vec<i32>,
    bias: Vec<f32>,
}

/// Per-token int8 activations (offset by +128) and their scales; reused between calls.
#[derive(Default)]
pub struct QActs {
    q: Vec<u8>,
    scale: Vec<f32>,
}

impl QLinear {
    /// Quantises `w` (`[out, inp]`, as transformers stores it) with bias `b`.
    pub fn new(w: &[f32], b: &[f32], out: usize, inp: usize) -> Self {
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
        };
        if vnni::available() {
            q.packed = q.pack();
            q.rows = Vec::new();
        }
        q
    }

    /// Rearranges `rows` so one 64-byte load holds 16 outputs × 4 consecutive inputs.
    fn pack(&self) -> Vec<i8> {
        let np = self.scale.len();
        let kq = self.kp / 4;
        let mut p = vec![0i8; np * self.kp];
        for o in 0..self.out {
            let (blk, lane) = (o / NB, o % NB);
            for g in 0..kq {
                let dst = ((blk * kq + g) * NB + lane) * 4;
                p[dst..dst + 4]
                    .copy_from_slice(&self.rows[o * self.kp + g * 4..o * self.kp + g * 4 + 4]);
            }
        }
        p
    }

    /// `y[t, out] = x[t, inp] · Wᵀ + b`, quantising `x` per row into `acts`.
    pub fn forward(&self, x: &[f32], t: usize, y: &mut [f32], acts: &mut QActs) {
        quantise_rows(x, t, self.inp, self.kp, acts);
        let y = &mut y[..t * self.out];
        let (xq, sx) = (&acts.q[..t * self.kp], &acts.scale[..t]);
        let blocks = self.scale.len() / NB;
        // Tiles of TM tokens × a share of the output blocks: enough tasks for every core even
        // when a single short query is embedded.
        let yp = super::SharedMut(y.as_mut_ptr());
        super::projection_tiles(t, blocks, TM)
            .into_par_iter()
            .for_each(|(rows, bl)| {
                let (t0, t1, b0, b1) = (rows.start, rows.end, bl.start, bl.end);
                // SAFETY: tiles cover disjoint (token, output) ranges of y, which holds t × out.
                unsafe { self.tile(xq, sx, t0, t1, b0, b1, yp.ptr()) };
            });
    }

    /// Computes outputs of blocks `b0..b1` for tokens `t0..t1`.
    ///
    /// # Safety
    /// `y` must hold `t1 × out` floats and no other thread may write this tile.
    #[allow(clippy::too_many_arguments)]
    unsafe fn tile(
        &self,
        xq: &[u8],
        sx: &[f32],
        t0: usize,
        t1: usize,
        b0: usize,
        b1: usize,
        y: *mut f32,
    ) {
        if !self.packed.is_empty() {
            // SAFETY: packed weights exist only when VNNI was detected.
            unsafe { vnni::tile(self, xq, sx, t0, t1, b0, b1, y) };
            return;
        }
        for t in t0..t1 {
            let xr = &xq[t * self.kp..(t + 1) * self.kp];
            for o in b0 * NB..(b1 * NB).min(self.out) {
                let acc = dot_u8_i8(xr, &self.rows[o * self.kp..(o + 1) * self.kp]);
                // SAFETY: t < t1 and o < out, inside y per the contract.
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

/// Symmetric int8 per row, stored offset by +128 (`vpdpbusd` multiplies u8 by i8).
fn quantise_rows(x: &[f32], t: usize, inp: usize, kp: usize, acts: &mut QActs) {
    if acts.q.len() < t * kp {
        acts.q.resize(t * kp, 128);
    }
    if acts.scale.len() < t {
        acts.scale.resize(t, 0.0);
    }
    acts.q[..t * kp]
        .par_chunks_mut(kp)
        .zip(acts.scale[..t].par_iter_mut())
        .enumerate()
        .with_min_len(16)
        .for_each(|(r, (dst, s))| *s = quantise_row(&x[r * inp..(r + 1) * inp], dst));
}

super::simd::multiversion! {
/// Quantises one row into `dst` (padding beyond the row set to the zero point); returns the scale.
fn quantise_row(src: &[f32], dst: &mut [u8]) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 · 2^23: adding it rounds to an integer in the bits
    let mut m = [0f32; 16];
    let chunks = src.chunks_exact(16);
    let mut amax = 0f32;
    for v in chunks.remainder() {
        amax = if v.abs() > amax { v.abs() } else { amax };
    }
    for c in chunks {
        for (a, v) in m.iter_mut().zip(c) {
            *a = if v.abs() > *a { v.abs() } else { *a };
        }
    }
    for v in m {
        amax = if v > amax { v } else { amax };
    }
    let s = if amax > 0.0 { amax / 127.0 } else { 1.0 };
    let inv = 1.0 / s;
    for (d, v) in dst.iter_mut().zip(src) {
        // Round half to even via the magic constant; the low byte of the bits plus 128 is
        // q + 128 for q in [-127, 127]. No float-to-int cast, so the loop vectorises.
        let j = (v * inv).clamp(-127.0, 127.0) + MAGIC;
        *d = (j.to_bits().wrapping_add(128) & 0xff) as u8;
    }
    dst[src.len()..].fill(128);
    s
}
}

super::simd::multiversion! {
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
    use super::{QLinear, MR, NB};
    use std::arch::x86_64::*;

    /// Whether the CPU has AVX-512 VNNI (with the F and BW subsets the kernel also uses).
    pub fn available() -> bool {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vnni")
            && std::env::var_os("PAPERMAP_NO_VNNI").is_none()
    }

    /// See [`QLinear::tile`].
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub unsafe fn tile(
        q: &QLinear,
        xq: &[u8],
        sx: &[f32],
        t0: usize,
        t1: usize,
        b0: usize,
        b1: usize,
        y: *mut f32,
    ) {
        for b in b0..b1 {
            let mut t = t0;
            while t < t1 {
                let m = (t1 - t).min(MR);
                // SAFETY: forwarded contract; rows t..t+m exist in xq and y.
                unsafe {
                    match m {
                        8 => kernel::<8>(q, xq, sx, t, b, y),
                        7 => kernel::<7>(q, xq, sx, t, b, y),
                        6 => kernel::<6>(q, xq, sx, t, b, y),
                        5 => kernel::<5>(q, xq, sx, t, b, y),
                        4 => kernel::<4>(q, xq, sx, t, b, y),
                        3 => kernel::<3>(q, xq, sx, t, b, y),
                        2 => kernel::<2>(q, xq, sx, t, b, y),
                        _ => kernel::<1>(q, xq, sx, t, b, y),
                    }
                }
                t += m;
            }
        }
    }

    /// `M` token rows × 32 outputs of block `b`, over the whole input width.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn kernel<const M: usize>(
        q: &QLinear,
        xq: &[u8],
        sx: &[f32],
        t: usize,
        b: usize,
        y: *mut f32,
    ) {
        let kq = q.kp / 4;
        let mut acc = [[_mm512_setzero_si512(); 2]; M];
        let w = q.packed.as_ptr().add(b * kq * NB * 4);
        let x = xq.as_ptr().add(t * q.kp);
        for g in 0..kq {
            let w0 = _mm512_loadu_si512(w.add(g * NB * 4) as *const _);
            let w1 = _mm512_loadu_si512(w.add(g * NB * 4 + 64) as *const _);
            for (m, a) in acc.iter_mut().enumerate() {
                let xv = _mm512_set1_epi32(std::ptr::read_unaligned(
                    x.add(m * q.kp + g * 4) as *const i32
                ));
                a[0] = _mm512_dpbusd_epi32(a[0], xv, w0);
                a[1] = _mm512_dpbusd_epi32(a[1], xv, w1);
            }
        }
        let o0 = b * NB;
        for (m, a) in acc.iter().enumerate() {
            let s = _mm512_set1_ps(sx[t + m]);
            let row = y.add((t + m) * q.out);
            for (h, &v) in a.iter().enumerate() {
                let o = o0 + h * 16;
                if o >= q.out {
                    break;
                }
                let comp = _mm512_loadu_si512(q.comp.as_ptr().add(o) as *const _);
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

#[cfg(not(target_arch = "x86_64"))]
mod vnni {
    use super::QLinear;
    pub fn available() -> bool {
        false
    }
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn tile(
        _: &QLinear,
        _: &[u8],
        _: &[f32],
        _: usize,
        _: usize,
        _: usize,
        _: usize,
        _: *mut f32,
    ) {
        unreachable!("packed weights exist only with VNNI")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::embed::test_lcg as lcg;

    /// The int8 layer stays within quantisation error of f32, for shapes that exercise
    /// every remainder (inputs not a multiple of 4, outputs not of 32, rows not of 8).
    #[test]
    fn int8_linear_tracks_f32() {
        let mut seed = 7;
        for &(t, inp, out) in &[(1, 384, 1152), (13, 37, 45), (70, 1536, 384), (9, 8, 33)] {
            let w: Vec<f32> = (0..out * inp).map(|_| lcg(&mut seed) * 0.1).collect();
            let b: Vec<f32> = (0..out).map(|_| lcg(&mut seed)).collect();
            let x: Vec<f32> = (0..t * inp).map(|_| lcg(&mut seed)).collect();
            let q = QLinear::new(&w, &b, out, inp);
            let mut y = vec![0f32; t * out];
            q.forward(&x, t, &mut y, &mut QActs::default());
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

    /// The VNNI kernel and the portable loop give identical bits.
    #[test]
    fn vnni_and_portable_agree_exactly() {
        if !vnni::available() {
            return;
        }
        let mut seed = 11;
        let (t, inp, out) = (19, 100, 70);
        let w: Vec<f32> = (0..out * inp).map(|_| lcg(&mut seed)).collect();
        let b: Vec<f32> = (0..out).map(|_| lcg(&mut seed)).collect();
        let x: Vec<f32> = (0..t * inp).map(|_| lcg(&mut seed) * 3.0).collect();
        let fast = QLinear::new(&w, &b, out, inp);
        assert!(!fast.packed.is_empty());
        let mut portable = QLinear::new(&w, &b, out, inp);
        portable.rows = (0..out)
            .flat_map(|o| {
                let kq = portable.kp / 4;
                (0..portable.kp).map(move |k| (o, k, kq))
            })
            .map(|(o, k, kq)| fast.packed[(((o / NB) * kq + k / 4) * NB + o % NB) * 4 + k % 4])
            .collect();
        portable.packed = Vec::new();
        let (mut y1, mut y2) = (vec![0f32; t * out], vec![0f32; t * out]);
        fast.forward(&x, t, &mut y1, &mut QActs::default());
        portable.forward(&x, t, &mut y2, &mut QActs::default());
        assert_eq!(y1, y2);
    }
}
