//! Projection of vectors onto their principal components: the one PCA of papermap, behind the
//! t-SNE map of the topics (50 components first) and the report's 2-D fallback map.

use rayon::prelude::*;

/// The rows (`n × dim`, row-major) projected on their `out` principal components, centred, as
/// f64: subspace iteration on the covariance (30 rounds of multiply and Gram-Schmidt), which
/// converges for the leading components of these spectra and costs milliseconds.
pub fn principal_components(rows: &[f32], dim: usize, out: usize) -> Vec<f64> {
    let n = rows.len() / dim.max(1);
    if n == 0 || out == 0 {
        return Vec::new();
    }
    let mut mean = vec![0f64; dim];
    for r in rows.chunks_exact(dim) {
        for (m, &v) in mean.iter_mut().zip(r) {
            *m += v as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let centred: Vec<f32> = rows
        .chunks_exact(dim)
        .flat_map(|r| r.iter().zip(&mean).map(|(&v, m)| (v as f64 - m) as f32))
        .collect();
    // Covariance (unnormalised): Xᵀ X by blocks of rows, in f64.
    let cov = centred
        .par_chunks(dim * 256)
        .map(|block| {
            let mut c = vec![0f64; dim * dim];
            for r in block.chunks_exact(dim) {
                for i in 0..dim {
                    let ri = r[i] as f64;
                    for (o, &rj) in c[i * dim..(i + 1) * dim].iter_mut().zip(r) {
                        *o += ri * rj as f64;
                    }
                }
            }
            c
        })
        .reduce(
            || vec![0f64; dim * dim],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            },
        );
    // Deterministic start: a fixed pattern, then rounds of V ← orth(C V).
    let mut v: Vec<f64> = (0..out * dim)
        .map(|i| (((i * 2_654_435_761) % 1000) as f64 / 1000.0) - 0.5)
        .collect();
    for _ in 0..30 {
        let mut w = vec![0f64; out * dim];
        for c in 0..out {
            let vc = &v[c * dim..(c + 1) * dim];
            let wc = &mut w[c * dim..(c + 1) * dim];
            for i in 0..dim {
                wc[i] = cov[i * dim..(i + 1) * dim]
                    .iter()
                    .zip(vc)
                    .map(|(a, b)| a * b)
                    .sum();
            }
        }
        for c in 0..out {
            for p in 0..c {
                let dot: f64 = (0..dim).map(|i| w[c * dim + i] * w[p * dim + i]).sum();
                for i in 0..dim {
                    w[c * dim + i] -= dot * w[p * dim + i];
                }
            }
            let norm = (0..dim)
                .map(|i| w[c * dim + i].powi(2))
                .sum::<f64>()
                .sqrt()
                .max(1e-30);
            for i in 0..dim {
                w[c * dim + i] /= norm;
            }
        }
        v = w;
    }
    centred
        .chunks_exact(dim)
        .flat_map(|r| {
            let v = &v;
            (0..out).map(move |c| {
                r.iter()
                    .zip(&v[c * dim..(c + 1) * dim])
                    .map(|(&x, &a)| x as f64 * a)
                    .sum::<f64>()
            })
        })
        .collect()
}

/// Row-major `[n, dim]` vectors projected on their two main axes, each axis scaled to [0, 1]:
/// the report's map when the topics carry no layout. Deterministic (a fixed start), and each
/// axis is signed so that its largest coordinate is positive, so the same vectors always give
/// the same picture.
pub fn project_2d(vectors: &[f32], dim: usize) -> Vec<(f32, f32)> {
    if dim == 0 {
        return Vec::new();
    }
    let pc = principal_components(vectors, dim, 2.min(dim));
    let n = vectors.len() / dim;
    if n == 0 {
        return Vec::new();
    }
    let width = pc.len() / n;
    let axis = |c: usize| -> Vec<f64> {
        let v: Vec<f64> = (0..n)
            .map(|i| pc.get(i * width + c).copied().unwrap_or(0.0))
            .collect();
        let big = v
            .iter()
            .copied()
            .fold(0f64, |m, x| if x.abs() > m.abs() { x } else { m });
        if big < 0.0 {
            v.into_iter().map(|x| -x).collect()
        } else {
            v
        }
    };
    let (xs, ys) = (axis(0), axis(1));
    let scale = |v: &[f64]| -> Vec<f64> {
        let lo = v.iter().copied().fold(f64::MAX, f64::min);
        let hi = v.iter().copied().fold(f64::MIN, f64::max);
        let span = (hi - lo).max(1e-12);
        v.iter().map(|x| (x - lo) / span).collect()
    };
    let (xs, ys) = (scale(&xs), scale(&ys));
    xs.iter()
        .zip(&ys)
        .map(|(&x, &y)| (x as f32, y as f32))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separates_two_clusters_along_the_first_axis() {
        let dim = 4;
        let mut v = Vec::new();
        for i in 0..20 {
            let s = if i < 10 { 1.0 } else { -1.0 };
            v.extend_from_slice(&[s, 0.01 * i as f32, 0.0, 0.0]);
        }
        let p = project_2d(&v, dim);
        assert_eq!(p.len(), 20);
        let left: Vec<f32> = p[..10].iter().map(|q| q.0).collect();
        let right: Vec<f32> = p[10..].iter().map(|q| q.0).collect();
        let (lmin, lmax) = (
            left.iter().cloned().fold(f32::MAX, f32::min),
            left.iter().cloned().fold(f32::MIN, f32::max),
        );
        let (rmin, rmax) = (
            right.iter().cloned().fold(f32::MAX, f32::min),
            right.iter().cloned().fold(f32::MIN, f32::max),
        );
        assert!(
            lmax < rmin || rmax < lmin,
            "clusters overlap on the first axis"
        );
        assert!(p
            .iter()
            .all(|q| (0.0..=1.0).contains(&q.0) && (0.0..=1.0).contains(&q.1)));
        assert_eq!(p, project_2d(&v, dim), "deterministic");
    }

    #[test]
    fn components_are_the_directions_of_largest_spread() {
        // Spread 3 along axis 2, 1 along axis 0, nothing elsewhere: the first component is
        // axis 2 (up to sign), the second axis 0.
        let dim = 4;
        let mut v = Vec::new();
        for i in 0..50 {
            let t = (i as f32 / 49.0) * 2.0 - 1.0;
            let u = if i % 2 == 0 { 1.0 } else { -1.0 };
            v.extend_from_slice(&[u, 0.0, 3.0 * t, 0.0]);
        }
        let pc = principal_components(&v, dim, 2);
        let var = |c: usize| (0..50).map(|i| pc[i * 2 + c].powi(2)).sum::<f64>() / 50.0;
        assert!(var(0) > var(1) && var(1) > 0.5, "{} {}", var(0), var(1));
        assert!((var(0) - 3.0f64.powi(2) * 0.34).abs() < 0.2, "{}", var(0));
    }
}
