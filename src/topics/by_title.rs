//! Papers whose digest summary describes another paper, or none, placed by their titles.
//!
//! The summary check ([`crate::quality::summary_outliers`]) finds summaries that do not describe
//! their paper: on the archive, about a hundred generic filler texts of 2024 and summaries of
//! other papers. Their index vectors agree with each other, not with their titles, so k-means
//! gathered them into one topic of their own (`딥러닝 · Natural Language Processing`, 162 papers
//! at k = 20) that no reader could label. Each such paper is clustered instead by its title
//! query vector, shifted by the mean difference between the title queries and the index
//! vectors of the other papers: a query vector sits apart from the passage vectors it finds
//! (e5 embeds `query: ` and `passage: ` texts asymmetrically), and unshifted, the 149 flagged
//! titles of the archive formed one cluster of their own again. The filler summary's words
//! are kept out of the keywords and labels too.

use super::TopicsError;
use crate::vectors::assign::Rows;

/// Rows placed by their titles, with the vectors they are clustered by.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ByTitle {
    /// Rows of the index, ascending.
    pub rows: Vec<usize>,
    /// Row-major `[rows, dim]`: each row's shifted title vector, L2-normalised.
    pub vectors: Vec<f32>,
}

impl ByTitle {
    /// Placement of `rows` (any order; repeats and rows past the index are ignored) by their
    /// title query vectors (`titles`, one per row of `vectors`).
    pub fn new(vectors: Rows<'_>, titles: &[f32], rows: &[usize]) -> Result<Self, TopicsError> {
        let dim = vectors.dim();
        let n = vectors.len();
        if titles.len() != n * dim {
            return Err(TopicsError::Mismatch {
                rows: titles.len() / dim.max(1),
                papers: n,
            });
        }
        let flagged = row_mask(n, rows);
        let rows: Vec<usize> = (0..n).filter(|&r| flagged[r]).collect();
        if rows.is_empty() {
            return Ok(Self::default());
        }
        // Mean of (title − vector) over the papers whose summary describes them.
        let mut shift = vec![0f64; dim];
        let mut count = 0usize;
        for r in (0..n).filter(|&r| !flagged[r]) {
            let t = &titles[r * dim..(r + 1) * dim];
            for ((s, &a), &b) in shift.iter_mut().zip(t).zip(vectors.row(r)) {
                *s += f64::from(a) - f64::from(b);
            }
            count += 1;
        }
        let shift: Vec<f32> = shift
            .iter()
            .map(|&s| (s / count.max(1) as f64) as f32)
            .collect();
        let mut out = Vec::with_capacity(rows.len() * dim);
        for &r in &rows {
            let v: Vec<f32> = titles[r * dim..(r + 1) * dim]
                .iter()
                .zip(&shift)
                .map(|(&t, &s)| t - s)
                .collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            // A title equal to the shift has no direction: its own vector stands.
            if norm > 0.0 && norm.is_finite() {
                out.extend(v.iter().map(|x| x / norm));
            } else {
                out.extend_from_slice(vectors.row(r));
            }
        }
        Ok(Self { rows, vectors: out })
    }

    /// Whether no row is placed by its title.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// `vectors` with the placed rows' vectors replaced by their title vectors, or `None` when
    /// there is nothing to replace.
    pub(crate) fn patch(&self, vectors: Rows<'_>) -> Option<Vec<f32>> {
        if self.rows.is_empty() {
            return None;
        }
        let dim = vectors.dim();
        let mut out: Vec<f32> = (0..vectors.len())
            .flat_map(|r| vectors.row(r).iter().copied())
            .collect();
        for (j, &r) in self.rows.iter().enumerate() {
            if r < vectors.len() {
                out[r * dim..(r + 1) * dim].copy_from_slice(&self.vectors[j * dim..(j + 1) * dim]);
            }
        }
        Some(out)
    }
}

/// Which of `n` rows are among `rows` (rows past `n` are ignored).
pub(crate) fn row_mask(n: usize, rows: &[usize]) -> Vec<bool> {
    let mut mask = vec![false; n];
    for &r in rows {
        if r < n {
            mask[r] = true;
        }
    }
    mask
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    #[test]
    fn a_flagged_row_follows_its_title_past_the_query_offset() {
        // Passages of two subjects (x and y), their titles offset along z as queries are; row 4
        // has a summary of subject x but a title of subject y.
        let passages: Vec<f32> = [
            unit(&[1.0, 0.1, 0.0]),
            unit(&[1.0, -0.1, 0.0]),
            unit(&[0.1, 1.0, 0.0]),
            unit(&[-0.1, 1.0, 0.0]),
            unit(&[1.0, 0.0, 0.0]),
        ]
        .concat();
        let titles: Vec<f32> = [
            unit(&[1.0, 0.1, 0.8]),
            unit(&[1.0, -0.1, 0.8]),
            unit(&[0.1, 1.0, 0.8]),
            unit(&[-0.1, 1.0, 0.8]),
            unit(&[0.0, 1.0, 0.8]),
        ]
        .concat();
        let rows = Rows::new(&passages, 3).expect("rows");
        let b = ByTitle::new(rows, &titles, &[4, 4, 99]).expect("placement");
        assert_eq!(b.rows, vec![4]);
        let v = &b.vectors[..3];
        // The shift removed the query direction: the row now points at subject y.
        assert!(v[2].abs() < 0.2, "{v:?}");
        assert!(v[1] > 0.9, "{v:?}");
        let patched = b.patch(rows).expect("patched");
        assert_eq!(&patched[..12], &passages[..12]);
        assert_eq!(&patched[12..], v);
    }

    #[test]
    fn nothing_flagged_changes_nothing() {
        let passages = unit(&[1.0, 0.0]);
        let rows = Rows::new(&passages, 2).expect("rows");
        let b = ByTitle::new(rows, &passages, &[]).expect("placement");
        assert!(b.is_empty());
        assert!(b.patch(rows).is_none());
        assert!(matches!(
            ByTitle::new(rows, &[0.0; 3], &[0]),
            Err(TopicsError::Mismatch { .. })
        ));
    }
}
