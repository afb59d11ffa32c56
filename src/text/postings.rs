//! Posting lists of many documents, built in parallel.

use std::collections::HashMap;
use std::hash::Hash;

use rayon::prelude::*;

/// Documents per shard: enough work per task, few enough shards to merge cheaply.
const SHARD: usize = 4096;

/// Posting lists by key, and one summary per document.
type Built<K, V, S> = (HashMap<K, Vec<V>>, Vec<S>);

/// The posting lists of `docs`: `entries(d, doc)` gives document `d`'s `(key, value)` pairs (at
/// most one per key) and a summary of the document. Shards of documents are read in parallel
/// and their lists appended in document order, so every list comes out ordered by document
/// without sorting, and no shard holds more than its own documents' entries.
pub fn build<'a, D, K, V, S>(
    docs: &'a [D],
    entries: impl Fn(u32, &'a D) -> (Vec<(K, V)>, S) + Sync,
) -> Built<K, V, S>
where
    D: Sync,
    K: Eq + Hash + Send,
    V: Send,
    S: Send,
{
    let shards: Vec<Built<K, V, S>> = docs
        .par_chunks(SHARD)
        .enumerate()
        .map(|(s, chunk)| {
            let mut lists: HashMap<K, Vec<V>> = HashMap::new();
            let mut summaries = Vec::with_capacity(chunk.len());
            for (i, doc) in chunk.iter().enumerate() {
                let (pairs, summary) = entries((s * SHARD + i) as u32, doc);
                for (k, v) in pairs {
                    lists.entry(k).or_default().push(v);
                }
                summaries.push(summary);
            }
            (lists, summaries)
        })
        .collect();
    let mut lists: HashMap<K, Vec<V>> = HashMap::new();
    let mut summaries = Vec::with_capacity(docs.len());
    for (part, s) in shards {
        summaries.extend(s);
        for (k, mut list) in part {
            lists.entry(k).or_default().append(&mut list);
        }
    }
    (lists, summaries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_come_out_in_document_order_across_shards() {
        let docs: Vec<u32> = (0..3 * SHARD as u32 + 7).collect();
        let (lists, parity) = build(&docs, |d, &x| {
            assert_eq!(d, x);
            (vec![(x % 3, d), (7, d)], x % 2)
        });
        assert_eq!(parity.len(), docs.len());
        assert_eq!(parity[5], 1);
        let all = &lists[&7];
        assert_eq!(all.len(), docs.len());
        assert!(all.windows(2).all(|w| w[0] < w[1]));
        assert!(lists[&1].iter().all(|d| d % 3 == 1));
    }
}
