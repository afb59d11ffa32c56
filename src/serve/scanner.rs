//! The server's dense top-k: concurrent searches share one pass over the vectors.
//!
//! A search's dense part reads every vector (1.5 GB at a million papers). Done per request on
//! the runtime's threads, eight concurrent searches made eight passes that fought for the same
//! memory bandwidth (p99 562 ms at a million papers). Here one thread takes every query that
//! is waiting, up to [`BATCH`], and answers them all with one pass, so a search waits for at
//! most the pass under way and its own. The pass reads the matrix's int8 copy
//! ([`Int8Matrix`](crate::search::int8_scan::Int8Matrix), 384 MB at a million papers) and scores again in f32 only the rows that
//! could be in a top k, so its answers are [`dense::top_k`]'s exactly.

use std::sync::mpsc;
use std::sync::Arc;

use super::Loaded;
use crate::search::{dense, Hit, SearchError};

/// Most queries answered by one pass.
pub const BATCH: usize = dense::SCAN_QUERIES;

/// One query's dense top `depth`, over the index of `loaded`.
pub struct Request {
    /// The generation the query is answered from.
    pub loaded: Arc<Loaded>,
    /// The query's vector.
    pub vector: Vec<f32>,
    /// How many hits.
    pub depth: usize,
    /// Where the hits go.
    pub reply: tokio::sync::oneshot::Sender<Result<Vec<Hit>, String>>,
}

/// Answers requests until every sender is gone: each pass takes all that wait, grouped by
/// generation (a reload may leave two for a moment).
pub fn run(requests: mpsc::Receiver<Request>) {
    while let Ok(first) = requests.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match requests.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        while !batch.is_empty() {
            let lead = Arc::clone(&batch[0].loaded);
            let (same, rest): (Vec<Request>, Vec<Request>) = batch
                .into_iter()
                .partition(|r| Arc::ptr_eq(&r.loaded, &lead));
            answer(&lead, same);
            batch = rest;
        }
    }
}

/// One pass for `batch`, all over `loaded`'s index.
fn answer(loaded: &Loaded, batch: Vec<Request>) {
    let index = &loaded.index;
    let dim = index.dim();
    let (ok, bad): (Vec<Request>, Vec<Request>) =
        batch.into_iter().partition(|r| r.vector.len() == dim);
    for r in bad {
        let found = r.vector.len();
        let e = SearchError::Mismatch {
            what: "query vector dimension",
            expected: dim,
            found,
        };
        let _ = r.reply.send(Err(e.to_string()));
    }
    let Some(depth) = ok.iter().map(|r| r.depth).max() else {
        return;
    };
    let queries: Vec<f32> = ok.iter().flat_map(|r| r.vector.iter().copied()).collect();
    match loaded.int8.top_k(index.vectors(), &queries, depth) {
        Ok(all) => {
            for (r, mut hits) in ok.into_iter().zip(all) {
                hits.truncate(r.depth);
                let _ = r.reply.send(Ok(hits));
            }
        }
        Err(e) => {
            let message = e.to_string();
            for r in ok {
                let _ = r.reply.send(Err(message.clone()));
            }
        }
    }
}
