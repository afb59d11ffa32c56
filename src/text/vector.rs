//! Vector helpers shared by search, topics and the report.

/// Dot product in 8 lanes, so the loop vectorises.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    crate::embed::kernels::scan::dot::<8>(a, b)
}

/// Squared Euclidean distance (8 lanes, so the loop vectorises).
pub fn squared_distance(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| (x - y) * (x - y))
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += (x[i] - y[i]) * (x[i] - y[i]);
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Cosine similarity; 0 for a zero vector.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let norms = (dot(a, a).sqrt() * dot(b, b).sqrt()).max(1e-12);
    dot(a, b) / norms
}

/// Scales `v` to unit length (a zero vector stays zero).
pub fn normalise(v: &mut [f32]) {
    let n = dot(v, v).sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_cosine_normalise() {
        let a: Vec<f32> = (0..19).map(|i| i as f32 - 9.0).collect();
        let b: Vec<f32> = (0..19).map(|i| (i * i) as f32 * 0.1).collect();
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-3 * naive.abs().max(1.0));
        let mut c = b.clone();
        normalise(&mut c);
        assert!((dot(&c, &c) - 1.0).abs() < 1e-6);
        assert!((cosine(&b, &c) - 1.0).abs() < 1e-6);
        assert_eq!(cosine(&a, &[0.0; 19]), 0.0);
    }
}
