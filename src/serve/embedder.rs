//! The server's one embedding thread, and the order it works in.
//!
//! Two lanes: the one query a search needs, and the bulk inputs of `/v1/embeddings`. Queries
//! always go first: every query waiting is embedded as one batch before any more bulk work. A
//! bulk request is tokenised once (and refused with 413 past [`MAX_REQUEST_TOKENS`], as
//! text-embeddings-inference limits a request), then embedded in slices of at most
//! [`SLICE_TOKENS`] tokens, with the query lane looked at between slices: a search waits for at
//! most one slice, not for a megabyte of someone else's inputs (it waited 19.5 s behind 64 long
//! inputs when requests were served in arrival order).

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};

use axum::http::StatusCode;

use crate::embed::{Encoder, Prefix};

/// Most texts of one query batch.
pub const BATCH_TEXTS: usize = 256;
/// Most tokens one embeddings request may hold (after tokenising, specials included).
pub const MAX_REQUEST_TOKENS: usize = 16_384;
/// Tokens of bulk work done between two looks at the query lane.
pub const SLICE_TOKENS: usize = 2_048;
/// Requests waiting in each lane before new ones are turned away (503).
const LANE_CAPACITY: usize = 1_024;

/// Vectors of a job's texts and the tokens they took.
pub type Vectors = (Vec<Vec<f32>>, usize);

/// Why a job failed: the HTTP status and the message.
pub type JobError = (StatusCode, String);

/// Prefixed texts in, vectors (or an error) out.
pub struct Job {
    /// The texts, prefix included.
    pub texts: Vec<String>,
    /// Where the answer goes.
    pub reply: tokio::sync::oneshot::Sender<Result<Vectors, JobError>>,
}

/// Which lane a job waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// A search's query: ahead of everything else.
    Query,
    /// Inputs of `/v1/embeddings`: in slices, behind queries.
    Bulk,
}

#[derive(Default)]
struct Lanes {
    queries: VecDeque<Job>,
    bulk: VecDeque<Job>,
}

/// The two lanes, shared by the request handlers and the embedding thread.
#[derive(Default)]
pub struct Queue {
    lanes: Mutex<Lanes>,
    ready: Condvar,
}

/// What the embedding thread does next.
enum Next {
    /// Embed these queries as one batch.
    Queries(Vec<Job>),
    /// Start on this bulk request.
    Bulk(Job),
    /// Go on with the bulk request in hand.
    Continue,
}

impl Queue {
    /// Queues `job` in `lane`; gives it back when the lane is full.
    pub fn push(&self, job: Job, lane: Lane) -> Result<(), Job> {
        let mut l = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
        let q = match lane {
            Lane::Query => &mut l.queries,
            Lane::Bulk => &mut l.bulk,
        };
        if q.len() >= LANE_CAPACITY {
            return Err(job);
        }
        q.push_back(job);
        self.ready.notify_one();
        Ok(())
    }

    /// The next piece of work, waiting for one unless `busy` (a bulk request in hand).
    fn next(&self, busy: bool) -> Next {
        let mut l = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(n) = take(&mut l, busy) {
                return n;
            }
            l = self.ready.wait(l).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// The scheduling rule: waiting queries first (up to [`BATCH_TEXTS`] texts), then the bulk
/// request in hand, then the next bulk request; `None` when there is nothing to do.
fn take(l: &mut Lanes, busy: bool) -> Option<Next> {
    if !l.queries.is_empty() {
        let mut jobs = Vec::new();
        let mut n = 0;
        while let Some(j) = l.queries.front() {
            if !jobs.is_empty() && n + j.texts.len() > BATCH_TEXTS {
                break;
            }
            n += j.texts.len();
            jobs.extend(l.queries.pop_front());
        }
        return Some(Next::Queries(jobs));
    }
    if busy {
        return Some(Next::Continue);
    }
    l.bulk.pop_front().map(Next::Bulk)
}

/// A bulk request being worked through.
struct InHand {
    ids: Vec<Vec<u32>>,
    done: usize,
    vectors: Vec<Vec<f32>>,
    reply: tokio::sync::oneshot::Sender<Result<Vectors, JobError>>,
}

/// The embedding thread's loop (never returns while the server runs).
pub fn run(encoder: Encoder, queue: &Queue) {
    let mut in_hand: Option<InHand> = None;
    loop {
        match queue.next(in_hand.is_some()) {
            Next::Queries(jobs) => embed_queries(&encoder, jobs),
            Next::Bulk(job) => in_hand = start_bulk(&encoder, job),
            Next::Continue => {
                if let Some(mut b) = in_hand.take() {
                    if slice(&encoder, &mut b) {
                        in_hand = Some(b);
                    }
                }
            }
        }
    }
}

fn internal(e: impl std::fmt::Display) -> JobError {
    (StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// Queries, embedded as one batch (a lone one on this thread, as the CLI does).
fn embed_queries(encoder: &Encoder, jobs: Vec<Job>) {
    let all: Vec<String> = jobs.iter().flat_map(|j| j.texts.iter().cloned()).collect();
    let result = encoder.tokenize(&all, Prefix::None).and_then(|(ids, _)| {
        let tokens: Vec<usize> = ids.iter().map(Vec::len).collect();
        let vectors = if all.len() == 1 {
            encoder.embed_one(&all[0], Prefix::None)?
        } else {
            encoder.embed_ids(&ids, &mut |_, _| {})?.vectors
        };
        Ok((vectors, tokens))
    });
    match result {
        Ok((vectors, tokens)) => {
            let dim = encoder.dim;
            let mut at = 0;
            for j in jobs {
                let n = j.texts.len();
                let rows = (at..at + n)
                    .map(|i| vectors[i * dim..(i + 1) * dim].to_vec())
                    .collect();
                let used = tokens[at..at + n].iter().sum();
                at += n;
                let _ = j.reply.send(Ok((rows, used)));
            }
        }
        Err(e) => {
            for j in jobs {
                let _ = j.reply.send(Err(internal(&e)));
            }
        }
    }
}

/// Tokenises a bulk request, refusing it past [`MAX_REQUEST_TOKENS`]; `None` when it is
/// answered already.
fn start_bulk(encoder: &Encoder, job: Job) -> Option<InHand> {
    let ids = match encoder.tokenize(&job.texts, Prefix::None) {
        Ok((ids, _)) => ids,
        Err(e) => {
            let _ = job.reply.send(Err(internal(e)));
            return None;
        }
    };
    let tokens: usize = ids.iter().map(Vec::len).sum();
    if tokens > MAX_REQUEST_TOKENS {
        let _ = job.reply.send(Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the inputs hold {tokens} tokens; a request may hold at most \
                 {MAX_REQUEST_TOKENS}: split it"
            ),
        )));
        return None;
    }
    Some(InHand {
        vectors: Vec::with_capacity(ids.len()),
        ids,
        done: 0,
        reply: job.reply,
    })
}

/// Embeds the next slice of a bulk request; answers it when done. Whether work remains.
fn slice(encoder: &Encoder, b: &mut InHand) -> bool {
    let mut end = b.done;
    let mut tokens = 0;
    while end < b.ids.len() && (end == b.done || tokens + b.ids[end].len() <= SLICE_TOKENS) {
        tokens += b.ids[end].len();
        end += 1;
    }
    match encoder.embed_ids(&b.ids[b.done..end], &mut |_, _| {}) {
        Ok(e) => {
            b.vectors.extend((0..e.len()).map(|i| e.row(i).to_vec()));
            b.done = end;
        }
        Err(err) => {
            let (tx, _) = tokio::sync::oneshot::channel();
            let _ = std::mem::replace(&mut b.reply, tx).send(Err(internal(err)));
            return false;
        }
    }
    if b.done < b.ids.len() {
        return true;
    }
    let tokens = b.ids.iter().map(Vec::len).sum();
    let (tx, _) = tokio::sync::oneshot::channel();
    let reply = std::mem::replace(&mut b.reply, tx);
    let _ = reply.send(Ok((std::mem::take(&mut b.vectors), tokens)));
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(texts: usize) -> Job {
        let (tx, _) = tokio::sync::oneshot::channel();
        Job {
            texts: vec!["x".to_string(); texts],
            reply: tx,
        }
    }

    #[test]
    fn queries_go_before_bulk_work_even_mid_request() {
        let mut l = Lanes::default();
        l.bulk.push_back(job(64));
        assert!(matches!(take(&mut l, false), Some(Next::Bulk(_))));
        // A bulk request in hand, and a search arrives with another request behind it.
        l.bulk.push_back(job(64));
        l.queries.push_back(job(1));
        l.queries.push_back(job(1));
        match take(&mut l, true) {
            Some(Next::Queries(jobs)) => assert_eq!(jobs.len(), 2, "waiting queries batch"),
            _ => panic!("the queries first"),
        }
        assert!(matches!(take(&mut l, true), Some(Next::Continue)));
        assert!(matches!(take(&mut l, false), Some(Next::Bulk(_))));
        assert!(take(&mut l, false).is_none());
        // A query batch stops at BATCH_TEXTS texts.
        for _ in 0..3 {
            l.queries.push_back(job(BATCH_TEXTS / 2));
        }
        match take(&mut l, false) {
            Some(Next::Queries(jobs)) => assert_eq!(jobs.len(), 2),
            _ => panic!("queries"),
        }
    }
}
