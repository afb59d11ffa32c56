//! Stable topic identities: match a new clustering's centroids to the previous run's.
//!
//! Embedding spaces are anisotropic (any two e5 vectors have a cosine around 0.7–0.8), so raw
//! centroid cosines say little. Both sets of centroids are first centred on the mean of the
//! current vectors; pairs are then taken greedily, most similar first, each topic at most once,
//! while the centred cosine is at least the threshold. Unmatched new topics get fresh ids.

use super::kmeans::Rows;

/// Default centred-cosine threshold above which a new topic inherits a previous topic's id.
pub const DEFAULT_THRESHOLD: f32 = 0.8;

/// A new topic's match: the index of the previous topic and the centred cosine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Match {
    /// Index into the previous centroids.
    pub previous: usize,
    /// Centred cosine similarity of the two centroids.
    pub similarity: f32,
}

fn centred_unit(v: &[f32], center: &[f32]) -> Vec<f32> {
    let mut out: Vec<f32> = v.iter().zip(center).map(|(a, b)| a - b).collect();
    let n = out.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        out.iter_mut().for_each(|x| *x /= n);
    }
    out
}

/// Centred cosine similarity of `a` and `b` around `center`.
pub fn centred_cosine(a: &[f32], b: &[f32], center: &[f32]) -> f32 {
    let (a, b) = (centred_unit(a, center), centred_unit(b, center));
    a.iter().zip(&b).map(|(x, y)| x * y).sum()
}

/// For each new centroid, its previous centroid if matched: greedy best-first, one-to-one,
/// centred cosine `>= threshold`; ties go to the lower new, then lower previous index.
pub fn match_centroids(
    previous: Rows<'_>,
    new: Rows<'_>,
    center: &[f32],
    threshold: f32,
) -> Vec<Option<Match>> {
    let mut out = vec![None; new.len()];
    if previous.dim() != new.dim() || center.len() != new.dim() {
        return out;
    }
    let p: Vec<Vec<f32>> = (0..previous.len())
        .map(|i| centred_unit(previous.row(i), center))
        .collect();
    let n: Vec<Vec<f32>> = (0..new.len())
        .map(|i| centred_unit(new.row(i), center))
        .collect();
    let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
    for (j, nv) in n.iter().enumerate() {
        for (i, pv) in p.iter().enumerate() {
            let s: f32 = nv.iter().zip(pv).map(|(x, y)| x * y).sum();
            if s >= threshold {
                pairs.push((s, j, i));
            }
        }
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut taken = vec![false; previous.len()];
    for (s, j, i) in pairs {
        if out[j].is_none() && !taken[i] {
            taken[i] = true;
            out[j] = Some(Match {
                previous: i,
                similarity: s,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_matching_is_one_to_one_and_thresholded() {
        let prev = [1.0f32, 0.0, 0.0, 1.0];
        // New 0 is near prev 1, new 1 is near prev 0, new 2 is near nothing.
        let new = [0.1f32, 1.0, 1.0, 0.05, -1.0, -1.0];
        let m = match_centroids(
            Rows::new(&prev, 2).unwrap(),
            Rows::new(&new, 2).unwrap(),
            &[0.0, 0.0],
            0.8,
        );
        assert_eq!(m[0].map(|x| x.previous), Some(1));
        assert_eq!(m[1].map(|x| x.previous), Some(0));
        assert_eq!(m[2], None);
    }
}
