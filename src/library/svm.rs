//! A linear SVM (squared hinge loss, L2 regularisation) trained by dual coordinate descent, as
//! LIBLINEAR trains it (Hsieh et al., 2008; stopped at its default tolerance, 0.1) and scikit-learn's `LinearSVC` (arxiv-sanity's
//! model) calls it. Classes are weighted to balance, as arxiv-sanity asks
//! (`class_weight='balanced'`): a reader's few liked papers against many others.
//!
//! Written here rather than taken from linfa-svm: that crate solves the kernel dual with a
//! dense n × n kernel matrix (SMO), where a library's model is linear over a few thousand
//! examples and must train in milliseconds; this is 60 lines.

/// Training examples: dense vectors or sparse term weights, behind one interface.
pub trait Examples {
    /// Number of examples.
    fn len(&self) -> usize;
    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Number of features.
    fn dim(&self) -> usize;
    /// `w · x_i`.
    fn dot(&self, i: usize, w: &[f32]) -> f32;
    /// `w += a · x_i`.
    fn axpy(&self, i: usize, a: f32, w: &mut [f32]);
    /// `x_i · x_i`.
    fn sq_norm(&self, i: usize) -> f32;
}

/// Dense rows (unit embedding vectors).
pub struct Dense<'a> {
    /// The rows, all of one length.
    pub rows: Vec<&'a [f32]>,
}

impl Examples for Dense<'_> {
    fn len(&self) -> usize {
        self.rows.len()
    }
    fn dim(&self) -> usize {
        self.rows.first().map_or(0, |r| r.len())
    }
    fn dot(&self, i: usize, w: &[f32]) -> f32 {
        crate::text::vector::dot(self.rows[i], &w[..self.rows[i].len()])
    }
    fn axpy(&self, i: usize, a: f32, w: &mut [f32]) {
        for (w, x) in w.iter_mut().zip(self.rows[i]) {
            *w += a * x;
        }
    }
    fn sq_norm(&self, i: usize) -> f32 {
        self.rows[i].iter().map(|x| x * x).sum()
    }
}

/// Sparse rows: (feature, weight) pairs.
pub struct Sparse {
    /// The rows.
    pub rows: Vec<Vec<(u32, f32)>>,
    /// Number of features.
    pub dim: usize,
}

impl Examples for Sparse {
    fn len(&self) -> usize {
        self.rows.len()
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn dot(&self, i: usize, w: &[f32]) -> f32 {
        self.rows[i].iter().map(|&(j, x)| w[j as usize] * x).sum()
    }
    fn axpy(&self, i: usize, a: f32, w: &mut [f32]) {
        for &(j, x) in &self.rows[i] {
            w[j as usize] += a * x;
        }
    }
    fn sq_norm(&self, i: usize) -> f32 {
        self.rows[i].iter().map(|&(_, x)| x * x).sum()
    }
}

/// A trained linear model: `w · x + bias`.
#[derive(Debug, Clone, PartialEq)]
pub struct Linear {
    /// Feature weights.
    pub w: Vec<f32>,
    /// The intercept (LIBLINEAR's bias feature of value 1).
    pub bias: f32,
}

/// Trains on `x` with labels `positive[i]`, cost `c` per class-balanced example; deterministic.
/// An empty class gives a model that scores every example 0.
pub fn train(x: &impl Examples, positive: &[bool], c: f32) -> Linear {
    let (n, dim) = (x.len(), x.dim());
    let pos = positive.iter().filter(|&&p| p).count();
    if pos == 0 || pos == n {
        return Linear {
            w: vec![0.0; dim],
            bias: 0.0,
        };
    }
    // Balanced weights: n / (2 · n_class), as scikit-learn computes them.
    let weight = |p: bool| n as f32 / (2.0 * if p { pos } else { n - pos } as f32);
    let diag: Vec<f32> = positive.iter().map(|&p| 0.5 / (c * weight(p))).collect();
    let q: Vec<f32> = (0..n).map(|i| x.sq_norm(i) + 1.0 + diag[i]).collect();
    let (mut w, mut bias) = (vec![0f32; dim], 0f32);
    let mut alpha = vec![0f32; n];
    let mut order: Vec<usize> = (0..n).collect();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..1000 {
        // A fresh order each pass, as LIBLINEAR shuffles; a fixed seed keeps runs equal.
        for i in (1..n).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            order.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for &i in &order {
            let y = if positive[i] { 1.0 } else { -1.0 };
            let g = y * (x.dot(i, &w) + bias) - 1.0 + diag[i] * alpha[i];
            let pg = if alpha[i] == 0.0 { g.min(0.0) } else { g };
            lo = lo.min(pg);
            hi = hi.max(pg);
            if pg.abs() > 1e-12 {
                let old = alpha[i];
                alpha[i] = (alpha[i] - g / q[i]).max(0.0);
                let d = (alpha[i] - old) * y;
                x.axpy(i, d, &mut w);
                bias += d;
            }
        }
        if hi - lo < 0.1 {
            break;
        }
    }
    Linear { w, bias }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separates_two_clusters_and_ranks_by_margin() {
        // Positives near (1, 0, 0), negatives near (0, 1, 0); a few of each.
        let rows: Vec<[f32; 3]> = vec![
            [0.9, 0.1, 0.0],
            [0.8, 0.2, 0.1],
            [0.1, 0.9, 0.0],
            [0.2, 0.8, 0.1],
            [0.0, 0.9, 0.3],
            [0.1, 0.7, 0.5],
        ];
        let x = Dense {
            rows: rows.iter().map(|r| &r[..]).collect(),
        };
        let positive = [true, true, false, false, false, false];
        let m = train(&x, &positive, 1.0);
        let score = |r: &[f32]| r.iter().zip(&m.w).map(|(a, b)| a * b).sum::<f32>() + m.bias;
        for (r, &p) in rows.iter().zip(&positive) {
            assert_eq!(score(r) > 0.0, p, "{r:?} {m:?}");
        }
        assert!(score(&[1.0, 0.0, 0.0]) > score(&[0.6, 0.4, 0.0]));
        // Sparse rows of the same points give the same model.
        let s = Sparse {
            rows: rows
                .iter()
                .map(|r| {
                    (0..3)
                        .map(|j| (j as u32, r[j]))
                        .filter(|p| p.1 != 0.0)
                        .collect()
                })
                .collect(),
            dim: 3,
        };
        let ms = train(&s, &positive, 1.0);
        for (a, b) in ms.w.iter().zip(&m.w) {
            assert!((a - b).abs() < 1e-5, "{ms:?} {m:?}");
        }
    }

    #[test]
    fn one_class_scores_nothing() {
        let rows = [[1.0f32, 0.0]];
        let x = Dense {
            rows: rows.iter().map(|r| &r[..]).collect(),
        };
        assert_eq!(train(&x, &[true], 1.0).w, vec![0.0, 0.0]);
    }
}
