//! Element-wise and row kernels: exp, exact-erf GELU, residual + LayerNorm, mean pooling.
//!
//! Written as plain loops and compiled three times by [`multiversion!`](super::multiversion)
//! (baseline, AVX2 + FMA, AVX-512): a baseline x86-64 build otherwise leaves them scalar with a
//! libm call per rounding. Every copy performs the same IEEE operations in the same order (fused
//! multiply-adds only where written as `mul_add`, which rounds once on every CPU; no
//! reassociation), so all give the same bits.

use rayon::prelude::*;

use super::multiversion;

/// `e^x` for `x ≤ 0` (softmax's `s - max`, GELU's `-z²`), branch-free so loops over it
/// vectorise (libm's `expf` is a call per element). x = n·ln2 + r with |r| ≤ ln2/2, e^r by a
/// degree-5 minimax polynomial (relative error 9e-8 before rounding), 2^n through the exponent
/// bits; relative error below 2e-7 in 9 fused steps (a Taylor form in separate multiplies and
/// adds took 18 for 2.3e-7). Rounding uses the 1.5·2²³
/// trick, which also leaves n in the low mantissa bits: no float-to-int conversion, whose
/// saturating semantics keep loops scalar. `mul_add` rounds once on every CPU, so the AVX-512
/// kernels (where it is `vfmadd`) and the portable loops give the same bits.
#[inline(always)]
pub(crate) fn exp_fma(x: f32) -> f32 {
    // Above about 88 the exponent bits would overflow; no caller passes more than 0.
    debug_assert!(x <= 0.0 || x.is_nan(), "exp_fma({x}) is for x <= 0");
    // Below -87 the result would leave the normal range. A compare, not `f32::max`, which
    // costs a NaN fix-up per vector; NaN stays NaN.
    let x = if x < -87.0 { -87.0 } else { x };
    const MAGIC: f32 = 12_582_912.0; // 1.5 · 2^23
    let j = x.mul_add(std::f32::consts::LOG2_E, MAGIC);
    let n = j - MAGIC;
    let r = n.mul_add(-0.693_145_75, x);
    let r = n.mul_add(-1.428_606_8e-6, r);
    let p = 0.008_290_295_f32
        .mul_add(r, 0.041_897_91)
        .mul_add(r, 0.166_676_36)
        .mul_add(r, 0.499_991_5)
        .mul_add(r, 0.999_999_7)
        .mul_add(r, 1.0);
    p * f32::from_bits(j.to_bits().wrapping_add(127) << 23)
}

/// GELU with the exact error function, as BERT's `gelu` (not the tanh approximation).
/// erf by Abramowitz & Stegun 7.1.26 refined to |error| < 1.5e-7, with [`exp_fma`]. Fused
/// multiply-adds round once on every CPU, so the multiversioned copies agree bit for bit; on an
/// x86-64 without FMA (before 2013) the baseline copy computes them in software, slower.
#[inline(always)]
pub(crate) fn gelu_erf(x: f32) -> f32 {
    let z = (x * std::f32::consts::FRAC_1_SQRT_2).abs();
    let t = 1.0 / 0.327_591_1_f32.mul_add(z, 1.0);
    let poly = t * 1.061_405_4_f32
        .mul_add(t, -1.453_152_1)
        .mul_add(t, 1.421_413_7)
        .mul_add(t, -0.284_496_74)
        .mul_add(t, 0.254_829_6);
    let erf_abs = (-poly).mul_add(exp_fma(-z * z), 1.0);
    let erf = if x < 0.0 { -erf_abs } else { erf_abs };
    0.5 * x * (1.0 + erf)
}

multiversion! {
/// Exact-erf GELU over a slice, in place.
pub(crate) fn gelu_slice(c: &mut [f32]) {
    for v in c.iter_mut() {
        *v = gelu_erf(*v);
    }
}
}

/// `x = LayerNorm(x + residual)` row by row (`h` wide), in place.
pub(crate) fn layer_norm_rows(
    x: &mut [f32],
    residual: Option<&[f32]>,
    w: &[f32],
    b: &[f32],
    h: usize,
    eps: f32,
) {
    // The row loops zip these together, so a short one would silently cut rows short.
    debug_assert!(
        h > 0 && x.len().is_multiple_of(h),
        "x is not whole rows of {h}"
    );
    debug_assert!(
        w.len() == h && b.len() == h,
        "LayerNorm weights are not {h} wide"
    );
    debug_assert!(
        residual.is_none_or(|r| r.len() == x.len()),
        "residual shape"
    );
    let one = |(r, row): (usize, &mut [f32])| {
        let res = residual.map(|res| &res[r * h..(r + 1) * h]);
        layer_norm_row(row, res, w, b, eps);
    };
    // A query's few dozen rows take microseconds: less than handing half to another thread.
    if x.len() < 64 * h {
        x.chunks_mut(h).enumerate().for_each(one);
    } else {
        x.par_chunks_mut(h)
            .enumerate()
            .with_min_len(16)
            .for_each(one);
    }
}

multiversion! {
/// One row of [`layer_norm_rows`]. Statistics in f64 over 8 lanes: the lanes let the loops
/// vectorise, f64 keeps the mean and variance as exact as the reference's.
fn layer_norm_row(row: &mut [f32], res: Option<&[f32]>, w: &[f32], b: &[f32], eps: f32) {
    if let Some(res) = res {
        for (v, a) in row.iter_mut().zip(res) {
            *v += *a;
        }
    }
    let h = row.len();
    let mean = lane_sum(row, |v| v as f64) / h as f64;
    let var = lane_sum(row, |v| (v as f64 - mean) * (v as f64 - mean)) / h as f64;
    let inv = 1.0 / (var + eps as f64).sqrt();
    for ((v, g), bb) in row.iter_mut().zip(w).zip(b) {
        *v = ((*v as f64 - mean) * inv) as f32 * g + bb;
    }
}
}

/// `Σ f(v)` in f64 with 8 independent accumulators (a single running sum cannot vectorise).
#[inline(always)]
fn lane_sum(row: &[f32], f: impl Fn(f32) -> f64) -> f64 {
    let mut acc = [0f64; 8];
    let chunks = row.chunks_exact(8);
    let tail: f64 = chunks.remainder().iter().map(|&v| f(v)).sum();
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += f(v);
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// Mean over each sequence's rows of `x` (`[T, h]`), L2-normalised, into `out` (`[seqs, h]`);
/// sums in f64, as the reference's pooling is exact to f32.
pub(crate) fn mean_pool_normalise(
    x: &[f32],
    h: usize,
    seqs: &[std::ops::Range<usize>],
    out: &mut [f32],
) {
    debug_assert!(out.len() == seqs.len() * h, "one output row per sequence");
    debug_assert!(
        seqs.iter().all(|r| r.is_empty() || r.end * h <= x.len()),
        "a sequence beyond x"
    );
    out.par_chunks_mut(h).zip(seqs).for_each(|(o, rows)| {
        if rows.is_empty() {
            o.fill(0.0);
            return;
        }
        let mut acc = vec![0f64; h];
        for r in rows.clone() {
            for (a, v) in acc.iter_mut().zip(&x[r * h..(r + 1) * h]) {
                *a += *v as f64;
            }
        }
        let norm = acc.iter().map(|a| a * a).sum::<f64>().sqrt().max(1e-12);
        for (o, a) in o.iter_mut().zip(&acc) {
            *o = (a / norm) as f32;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_and_gelu_match_libm() {
        let mut worst_gelu = 0f64;
        for i in -20000..=20000 {
            let x = i as f32 / 1000.0;
            let g = 0.5 * x as f64 * (1.0 + libm::erf(x as f64 / std::f64::consts::SQRT_2));
            worst_gelu = worst_gelu.max((gelu_erf(x) as f64 - g).abs());
        }
        let mut worst_exp = 0f64;
        for i in -87_000..=0 {
            let x = i as f32 / 1000.0;
            let e = libm::exp(x as f64);
            worst_exp = worst_exp.max(((exp_fma(x) as f64 - e) / e).abs());
        }
        assert!(worst_exp < 2e-7, "exp relative error {worst_exp}");
        assert_eq!(exp_fma(f32::NEG_INFINITY), exp_fma(-87.0));
        assert!(worst_gelu < 5e-6, "gelu absolute error {worst_gelu}");
    }
}
