//! The server's dense top-k: concurrent searches share one pass over the vectors.
//!
//! A search's dense part reads every vector (1.5 GB at a million papers). Done per request on
//! the runtime's threads, eight concurrent searches made eight passes that fought for the same
//! memory bandwidth (p99 562 ms at a million papers). Here one thread takes every query that
//! is waiting, up to [`BATCH`], and answers them all with one pass, so a search waits for at
//! most the pass under way and its own. On the CPU the pass reads the matrix's int8 copy
//! ([`Int8Matrix`](crate::vectors::int8_scan::Int8Matrix), 384 MB at a million papers) and
//! scores again in f32 only the rows that could be in a top k, so its answers are
//! [`dense::top_k`]'s exactly; on a device, the device's exact top-k answers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Loaded;
use crate::search::{dense, Hit};

/// Most queries answered by one pass.
pub const BATCH: usize = dense::SCAN_QUERIES;

/// One query's dense top `depth`, over the index of `loaded`.
pub struct Request {
    /// The generation the query is answered from.
    pub loaded: Arc<Loaded>,
    /// The query's embedding; one not of the index's dimension is answered with an error.
    pub vector: Vec<f32>,
    /// Hits wanted, best first; a pass scans to the deepest request of its batch.
    pub depth: usize,
    /// Where the hits go.
    pub reply: tokio::sync::oneshot::Sender<Result<Vec<Hit>, String>>,
}

/// Longest a pass waits for queries still being embedded. It waits only while some search is
/// embedding its query, so a lone search never waits; under load, the embedder's batch takes
/// longer than a few milliseconds, and a pass that starts before that batch is done leaves its
/// queries to a second pass over the whole matrix. At a million papers and 8 clients, 12 ms
/// gave p50 / p99 85 / 131 ms and 50 ms 77 / 102 ms (more queries per pass, fewer passes, each
/// bound by memory); past 30 ms the figures stop moving (`cargo bench --bench scale --
/// --index-papers 1000000 --serve-only`).
const GATHER: Duration = Duration::from_millis(50);

/// How many searches are embedding their query, so will ask for a pass within milliseconds.
#[derive(Default)]
pub struct Coming(AtomicUsize);

impl Coming {
    /// Counts one search until the guard is dropped (after its query is embedded, whether or
    /// not that succeeded).
    pub fn announce(&self) -> Announced<'_> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Announced(self)
    }

    fn any(&self) -> bool {
        self.0.load(Ordering::Relaxed) > 0
    }
}

/// One search counted by [`Coming`].
pub struct Announced<'a>(&'a Coming);

impl Drop for Announced<'_> {
    fn drop(&mut self) {
        self.0 .0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Answers requests until every sender is gone: each pass takes all that wait, and those
/// being embedded (up to [`GATHER`]), grouped by generation (a reload may leave two for a
/// moment).
///
/// A pass costs about the same for one query as for eight (it is bound by memory), so at 8
/// clients a pass that waits the few milliseconds a query's embedding takes serves more of
/// them, and fewer passes compete with the embedder and BM25 for the cores.
pub fn run(requests: mpsc::Receiver<Request>, coming: &Coming) {
    // The pass's few long tasks get threads of their own: on rayon's global pool, the
    // embedder's next batch (which runs there) waited behind them for the whole pass.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(rayon::current_num_threads())
        .thread_name(|i| format!("papermap-pass-{i}"))
        .build()
        .ok();
    while let Ok(first) = requests.recv() {
        let mut batch = vec![first];
        let deadline = Instant::now() + GATHER;
        while batch.len() < BATCH {
            match requests.try_recv() {
                Ok(r) => {
                    batch.push(r);
                    continue;
                }
                Err(mpsc::TryRecvError::Disconnected) => break,
                Err(mpsc::TryRecvError::Empty) => {}
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if !coming.any() || left.is_zero() {
                break;
            }
            match requests.recv_timeout(left) {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        while !batch.is_empty() {
            let lead = Arc::clone(&batch[0].loaded);
            let (same, rest): (Vec<Request>, Vec<Request>) = batch
                .into_iter()
                .partition(|r| Arc::ptr_eq(&r.loaded, &lead));
            match &pool {
                Some(pool) => pool.install(|| answer(&lead, same)),
                None => answer(&lead, same),
            }
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
        let e = crate::vectors::VectorError::Mismatch {
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
    match loaded.scan.top_k(index.vectors(), dim, &queries, depth) {
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
