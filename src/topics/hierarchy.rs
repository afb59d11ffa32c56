//! A merge tree of the topics: agglomerative clustering of the centroids (Ward's criterion,
//! weighted by topic size), so a coarser view of any number of groups is a cut of the tree, not
//! a refit.
//!
//! Ward's merge cost of clusters A and B is `|A||B| / (|A| + |B|) · ‖c_A − c_B‖²`: the increase
//! of the k-means objective when the two become one, which is what the topics themselves
//! minimise. Nodes are numbered as SciPy's linkage numbers them: topics `0..k` (in the order of
//! [`super::Topics::topics`]), the merge `i` creates node `k + i`.

use serde::{Deserialize, Serialize};

/// One merge of the tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Merge {
    /// The two nodes merged (topic positions below k, earlier merges from k on).
    pub children: [usize; 2],
    /// Ward's cost of the merge (objective increase).
    pub cost: f64,
    /// Papers under the new node.
    pub size: usize,
}

/// The merges of `centroids` (`k` rows of `dim`) with `sizes`, cheapest first: `k - 1` of them.
///
/// The pairwise costs are computed once and updated by the Lance-Williams formula for Ward,
/// `Δ(i∪j, m) = ((n_i + n_m) Δ(i, m) + (n_j + n_m) Δ(j, m) − n_m Δ(i, j)) / (n_i + n_j + n_m)`, so
/// the tree costs O(k²·dim + k³) with no dimension in the cubic term (k = 1,000 in about a
/// second).
pub fn ward(centroids: &[f32], dim: usize, sizes: &[usize]) -> Vec<Merge> {
    let k = sizes.len();
    let n: Vec<f64> = sizes.iter().map(|&s| s.max(1) as f64).collect();
    let mut d = vec![0f64; k * k];
    for i in 0..k {
        for j in i + 1..k {
            let sq: f64 = centroids[i * dim..(i + 1) * dim]
                .iter()
                .zip(&centroids[j * dim..(j + 1) * dim])
                .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
                .sum();
            let c = n[i] * n[j] / (n[i] + n[j]) * sq;
            d[i * k + j] = c;
            d[j * k + i] = c;
        }
    }
    // Slot s holds node `node[s]` of `weight[s]` papers while `alive[s]`.
    let mut node: Vec<usize> = (0..k).collect();
    let mut weight = n;
    let mut alive = vec![true; k];
    let mut merges = Vec::with_capacity(k.saturating_sub(1));
    for step in 0..k.saturating_sub(1) {
        let mut best = (f64::INFINITY, 0, 0);
        for i in (0..k).filter(|&i| alive[i]) {
            for j in (i + 1..k).filter(|&j| alive[j]) {
                // Ties go to the first pair in slot order, so the tree is deterministic.
                if d[i * k + j] < best.0 {
                    best = (d[i * k + j], i, j);
                }
            }
        }
        let (c, i, j) = best;
        let (ni, nj) = (weight[i], weight[j]);
        for m in (0..k).filter(|&m| alive[m] && m != i && m != j) {
            let nm = weight[m];
            let v = ((ni + nm) * d[i * k + m] + (nj + nm) * d[j * k + m] - nm * c) / (ni + nj + nm);
            d[i * k + m] = v;
            d[m * k + i] = v;
        }
        let children = if node[i] < node[j] {
            [node[i], node[j]]
        } else {
            [node[j], node[i]]
        };
        weight[i] = ni + nj;
        alive[j] = false;
        node[i] = k + step;
        merges.push(Merge {
            children,
            cost: c,
            size: (sizes_of(&children, sizes, &merges)),
        });
    }
    merges
}

/// Papers under a new node whose children are `children`.
fn sizes_of(children: &[usize; 2], sizes: &[usize], merges: &[Merge]) -> usize {
    let k = sizes.len();
    children
        .iter()
        .map(|&c| if c < k { sizes[c] } else { merges[c - k].size })
        .sum()
}

/// The groups of topic positions left after all but the last `groups - 1` merges, i.e. the cut
/// of the tree into `groups` clusters; each group sorted, groups ordered by their first topic.
pub fn cut(k: usize, merges: &[Merge], groups: usize) -> Vec<Vec<usize>> {
    let groups = groups.clamp(1, k.max(1));
    let applied = k.saturating_sub(groups).min(merges.len());
    let mut members: Vec<Vec<usize>> = (0..k).map(|i| vec![i]).collect();
    let mut alive = vec![true; k + applied];
    for (i, m) in merges.iter().take(applied).enumerate() {
        let mut joined = std::mem::take(&mut members[m.children[0]]);
        joined.extend(std::mem::take(&mut members[m.children[1]]));
        joined.sort_unstable();
        alive[m.children[0]] = false;
        alive[m.children[1]] = false;
        members.push(joined);
        debug_assert_eq!(members.len(), k + i + 1);
    }
    let mut out: Vec<Vec<usize>> = members
        .into_iter()
        .enumerate()
        .filter(|(i, m)| alive[*i] && !m.is_empty())
        .map(|(_, m)| m)
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_topics_merge_first_and_cuts_partition() {
        // Two pairs of near centroids far apart, and a loner.
        let c = [0.0, 0.0, 0.1, 0.0, 5.0, 5.0, 5.2, 5.0, -9.0, 9.0];
        let sizes = [10, 10, 10, 10, 10];
        let m = ward(&c, 2, &sizes);
        assert_eq!(m.len(), 4);
        assert_eq!(m[0].children, [0, 1]);
        assert_eq!(m[1].children, [2, 3]);
        assert!(m.windows(2).all(|w| w[0].cost <= w[1].cost));
        assert_eq!(m[3].size, 50);
        assert_eq!(cut(5, &m, 3), vec![vec![0, 1], vec![2, 3], vec![4]]);
        assert_eq!(cut(5, &m, 5).len(), 5);
        assert_eq!(cut(5, &m, 1), vec![vec![0, 1, 2, 3, 4]]);
    }
}
