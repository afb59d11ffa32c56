//! Hybrid fusion: a weighted sum of each ranking's scores, min–max normalised over the part of
//! the ranking that is read ([`FUSION_DEPTH`]).
//!
//! Cosines (≈ 0.7–0.9 for this model) and BM25 scores (unbounded) are not on one scale, so each
//! list is mapped onto [0, 1] (its best hit 1, the last one read 0) and the two are summed with
//! weights [`DENSE_WEIGHT`] and `1 − DENSE_WEIGHT`; a paper missing from a list gets 0 from it.
//! Reciprocal rank fusion (`Σ 1 / (60 + rank)`), the previous rule, ignores how far ahead the
//! leader of a list is; on the 50 judged queries of `tests/data` it scored nDCG@10 0.852 against
//! lexical's 0.889, below its better half, while this fusion scores above both (docs/search.md).

use std::collections::HashMap;

use super::Hit;

/// How deep each ranking is read before fusing.
pub const FUSION_DEPTH: usize = 100;

/// Weight of the dense list's normalised scores; the lexical list gets the rest.
pub const DENSE_WEIGHT: f32 = 0.3;

/// Fuses a dense and a lexical ranking (each best first) into the top `k`; ties go to the
/// paper with the better single rank, then the lower row.
pub fn fuse(dense: &[Hit], lexical: &[Hit], k: usize) -> Vec<Hit> {
    // row -> (fused score, best rank)
    let mut acc: HashMap<usize, (f32, usize)> = HashMap::new();
    for (ranking, weight) in [(dense, DENSE_WEIGHT), (lexical, 1.0 - DENSE_WEIGHT)] {
        let read = &ranking[..ranking.len().min(FUSION_DEPTH.max(k))];
        let (Some(first), Some(last)) = (read.first(), read.last()) else {
            continue;
        };
        let (hi, lo) = (first.score.max(last.score), first.score.min(last.score));
        for (r, hit) in read.iter().enumerate() {
            let norm = if hi > lo {
                (hit.score - lo) / (hi - lo)
            } else {
                1.0
            };
            let e = acc.entry(hit.row).or_insert((0.0, usize::MAX));
            e.0 += weight * norm;
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

    fn hits(rows: &[(usize, f32)]) -> Vec<Hit> {
        rows.iter()
            .map(|&(row, score)| Hit { row, score })
            .collect()
    }

    #[test]
    fn scores_are_normalised_weighted_and_ties_deterministic() {
        let dense = hits(&[(1, 0.9), (2, 0.85), (5, 0.8)]);
        let lex = hits(&[(3, 20.0), (2, 15.0), (9, 10.0)]);
        let f = fuse(&dense, &lex, 10);
        // 2: 0.3 · 0.5 + 0.7 · 0.5 = 0.5; 3: 0.7; 1: 0.3.
        let rows: Vec<usize> = f.iter().map(|h| h.row).collect();
        assert_eq!(rows, vec![3, 2, 1, 5, 9]);
        assert!((f[0].score - 0.7).abs() < 1e-6 && (f[1].score - 0.5).abs() < 1e-5);
        // A lexical leader far ahead of the rest wins over agreement in the middle.
        let lex = hits(&[(3, 100.0), (2, 2.0), (9, 1.0)]);
        assert_eq!(fuse(&dense, &lex, 1)[0].row, 3);
        assert_eq!(
            fuse(&dense, &[], 2)
                .iter()
                .map(|h| h.row)
                .collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert!(fuse(&[], &[], 3).is_empty());
    }
}
