//! The 2-D map: a PCA projection of the vectors onto their two main axes.
//!
//! PCA (not t-SNE) because it is deterministic, linear-time in the number of papers, and keeps
//! distances between topics meaningful. The two axes come from power iteration on the 384×384
//! covariance (with deflation), which is all a 2-component PCA needs; signs are fixed so the
//! same vectors always give the same picture.

use rayon::prelude::*;

/// Projects row-major `[n, dim]` vectors to 2-D, each axis scaled to [0, 1].
pub fn project_2d(vectors: &[f32], dim: usize) -> Vec<(f32, f32)> {
    let n = vectors.len().checked_div(dim).unwrap_or(0);
    if n == 0 || dim == 0 {
        return Vec::new();
    }
    let mut mean = vec![0f64; dim];
    for row in vectors.chunks_exact(dim) {
        for (m, v) in mean.iter_mut().zip(row) {
            *m += *v as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    // Covariance, accumulated per block of rows in parallel.
    let cov = vectors
        .par_chunks(dim * 256)
        .map(|block| {
            let mut c = vec![0f64; dim * dim];
            let mut centred = vec![0f64; dim];
            for row in block.chunks_exact(dim) {
                for j in 0..dim {
                    centred[j] = row[j] as f64 - mean[j];
                }
                for i in 0..dim {
                    let ci = centred[i];
                    let out = &mut c[i * dim..(i + 1) * dim];
                    for (o, cj) in out.iter_mut().zip(&centred) {
                        *o += ci * cj;
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
    let mut axes: Vec<Vec<f64>> = Vec::with_capacity(2);
    for k in 0..2 {
        let mut v: Vec<f64> = (0..dim)
            .map(|i| 1.0 + ((i * 7 + k * 3) % 11) as f64 / 11.0)
            .collect();
        for _ in 0..300 {
            let mut w = vec![0f64; dim];
            for i in 0..dim {
                w[i] = cov[i * dim..(i + 1) * dim]
                    .iter()
                    .zip(&v)
                    .map(|(a, b)| a * b)
                    .sum();
            }
            for a in &axes {
                let d: f64 = w.iter().zip(a).map(|(x, y)| x * y).sum();
                w.iter_mut().zip(a).for_each(|(x, y)| *x -= d * y);
            }
            let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm < 1e-30 {
                break;
            }
            v = w.into_iter().map(|x| x / norm).collect();
        }
        // Fix the sign: the largest component is positive.
        let big = v
            .iter()
            .copied()
            .fold(0f64, |m, x| if x.abs() > m.abs() { x } else { m });
        if big < 0.0 {
            v.iter_mut().for_each(|x| *x = -*x);
        }
        axes.push(v);
    }
    let pts: Vec<(f64, f64)> = vectors
        .chunks_exact(dim)
        .map(|row| {
            let p = |a: &[f64]| {
                row.iter()
                    .zip(&mean)
                    .zip(a)
                    .map(|((x, m), w)| (*x as f64 - m) * w)
                    .sum::<f64>()
            };
            (p(&axes[0]), p(&axes[1]))
        })
        .collect();
    let range = |f: fn(&(f64, f64)) -> f64| {
        let lo = pts.iter().map(f).fold(f64::MAX, f64::min);
        let hi = pts.iter().map(f).fold(f64::MIN, f64::max);
        (lo, (hi - lo).max(1e-12))
    };
    let (x0, xs) = range(|p| p.0);
    let (y0, ys) = range(|p| p.1);
    pts.iter()
        .map(|&(x, y)| (((x - x0) / xs) as f32, ((y - y0) / ys) as f32))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn separates_two_clusters_along_the_first_axis() {
        let dim = 4;
        let mut v = Vec::new();
        for i in 0..20 {
            let s = if i < 10 { 1.0 } else { -1.0 };
            v.extend_from_slice(&[s, 0.01 * i as f32, 0.0, 0.0]);
        }
        let p = super::project_2d(&v, dim);
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
        assert_eq!(p, super::project_2d(&v, dim), "deterministic");
    }
}
