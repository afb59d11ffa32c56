//! Reciprocal rank fusion: `score(d) = Σ 1 / (RRF_K + rank(d))` over the rankings that hold `d`.
//!
//! Fusion uses ranks only, so cosines (≈ 0.7–0.9 for this model) and BM25 scores (unbounded) need
//! no calibration. Each ranking is cut at [`FUSION_DEPTH`]; a paper missing from one ranking gets
//! nothing from it.

use std::collections::HashMap;

use super::Hit;

/// The `k` constant of reciprocal rank fusion (Cormack et al., 2009).
pub const RRF_K: f32 = 60.0;
/// How deep each ranking is read before fusing.
pub const FUSION_DEPTH: usize = 100;

/// Fuses rankings (each best first) into the top `k` by reciprocal rank; ties go to the paper
/// with the better single rank, then the lower row.
pub fn rrf(rankings: &[&[Hit]], k: usize) -> Vec<Hit> {
    // row -> (fused score, best rank)
    let mut acc: HashMap<usize, (f32, usize)> = HashMap::new();
    for ranking in rankings {
        for (r, hit) in ranking.iter().take(FUSION_DEPTH.max(k)).enumerate() {
            let e = acc.entry(hit.row).or_insert((0.0, usize::MAX));
            e.0 += 1.0 / (RRF_K + (r + 1) as f32);
            e.1 = e.1.min(r);
        }
    }
    let mut fused: Vec<(usize, f32, usize)> = acc
        .into_iter()
        .map(|(row, (s, best))| (row, s, best))
        .collect();
    fused.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)).then(a.0.cmp(&b.0)));
    fused.truncate(k);
    fused
        .into_iter()
        .map(|(row, score, _)| Hit { row, score })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(rows: &[usize]) -> Vec<Hit> {
        rows.iter().map(|&row| Hit { row, score: 1.0 }).collect()
    }

    #[test]
    fn agreement_wins_and_ties_are_deterministic() {
        let dense = hits(&[1, 2, 5]);
        let lex = hits(&[3, 2, 9]);
        let f = rrf(&[&dense, &lex], 10);
        assert_eq!(f[0].row, 2, "ranked 2nd by both beats a single 1st: {f:?}");
        let rows: Vec<usize> = f.iter().map(|h| h.row).collect();
        assert_eq!(rows, vec![2, 1, 3, 5, 9]);
        assert!((f[0].score - 2.0 / 62.0).abs() < 1e-6);
        assert_eq!(
            rrf(&[&dense, &[]], 2)
                .iter()
                .map(|h| h.row)
                .collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert!(rrf(&[], 3).is_empty());
    }
}
