//! Streaming many texts through the encoder with the host and the device both busy.
//!
//! Three stages run at once, joined by bounded channels:
//!
//! 1. **tokenise** (a thread of its own, which fans out over every core through the tokenizers
//!    crate's rayon pool): a window of texts is tokenised, sorted by length and cut into packed
//!    batches under the token budget. Sorting a whole window, not one batch, is what makes a
//!    batch a few long runs of equal lengths, which is what the CUDA graph's attention batches.
//! 2. **device** (the calling thread): each batch is uploaded, run and pooled; only the pooled
//!    `[sequences, hidden]` vectors come back.
//! 3. **write** (a thread of its own): each finished window goes to the caller's sink (for
//!    `papermap index`, a crash-safe chunk commit), so the device never waits on the disk.
//!
//! The channel between tokenising and the device holds one ready window: the next window is
//! tokenised while the device runs this one. Windows start small (the device waits only for
//! the first one) and double up to the caller's maximum (`papermap index --chunk`).

use std::ops::Range;
use std::sync::mpsc::sync_channel;
use std::time::Instant;

use candle_core::Device;

use super::encoder::{Embedded, Encoder, Prefix};
use super::EmbedError;

/// Seconds spent in each stage of a streamed run (and totals), for the per-stage timers of
/// `papermap index` and `papermap embed`.
///
/// A CUDA device runs asynchronously: without [`StageTimes::sync`], `upload_s`, `forward_s` and
/// `pool_s` measure how long the host took to queue that work, and `download_s` absorbs the
/// device's remaining run time. With `sync`, the device is synchronised after every stage, so
/// each stage's figure is its own run time (at the cost of a little idle time per batch).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct StageTimes {
    /// Reading and parsing the inputs (filled in by the caller).
    pub read_s: f64,
    /// Tokenising, sorting and batching (the tokenising thread's busy time).
    pub tokenize_s: f64,
    /// Token ids and positions to the device.
    pub upload_s: f64,
    /// Embeddings and the encoder layers.
    pub forward_s: f64,
    /// With `sync`: the part of `forward_s` spent in the embeddings and their LayerNorm.
    pub embeddings_s: f64,
    /// With `sync`: in the projections (matrix products, bias, GELU).
    pub projections_s: f64,
    /// With `sync`: in attention.
    pub attention_s: f64,
    /// With `sync`: in the residual additions and LayerNorms.
    pub norms_s: f64,
    /// Mean pooling and normalisation.
    pub pool_s: f64,
    /// Pooled vectors back to the host.
    pub download_s: f64,
    /// The caller's sink: storing finished windows (the writing thread's busy time).
    pub write_s: f64,
    /// Time the device stage waited for a tokenised window: the host not keeping up.
    pub wait_s: f64,
    /// Wall time of the whole run.
    pub wall_s: f64,
    /// Whether the device was synchronised after each stage (see above).
    pub sync: bool,
    /// Forward passes.
    pub batches: usize,
    /// Sequences embedded.
    pub sequences: usize,
    /// Tokens embedded.
    pub tokens: usize,
}

impl StageTimes {
    /// The device stage's time: upload, forward, pool and download.
    pub fn device_s(&self) -> f64 {
        self.upload_s + self.forward_s + self.pool_s + self.download_s
    }
}

/// Charges the time since the last lap to a stage, synchronising the device first when asked.
pub(crate) struct StageClock<'a> {
    device: &'a Device,
    sync: bool,
    at: Instant,
}

impl<'a> StageClock<'a> {
    /// A clock starting now.
    pub(crate) fn new(device: &'a Device, sync: bool) -> Self {
        StageClock {
            device,
            sync,
            at: Instant::now(),
        }
    }

    /// Adds the time since the last lap to `slot`.
    pub(crate) fn lap(&mut self, slot: &mut f64) -> candle_core::Result<()> {
        if self.sync {
            self.device.synchronize()?;
        }
        let now = Instant::now();
        *slot += (now - self.at).as_secs_f64();
        self.at = now;
        Ok(())
    }
}

/// The thread's result, its panic passed on.
fn join<T>(h: std::thread::ScopedJoinHandle<'_, T>) -> T {
    h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// One forward pass: sequences laid end to end, and the window rows they belong to.
struct ReadyBatch {
    rows: Vec<usize>,
    ids: Vec<u32>,
    lens: Vec<usize>,
}

/// A tokenised window, sorted and cut into batches.
struct ReadyWindow {
    range: Range<usize>,
    batches: Vec<ReadyBatch>,
    truncated: usize,
}

/// The first window's size: small, so that the device starts soon.
const FIRST_WINDOW: usize = 4096;

/// Consecutive windows covering `0..n`: from [`FIRST_WINDOW`] (or `max`, if smaller), doubling
/// up to `max`.
pub(crate) fn plan_windows(n: usize, max: usize) -> Vec<Range<usize>> {
    let max = max.max(1);
    let mut size = FIRST_WINDOW.min(max);
    let mut out = Vec::new();
    let mut at = 0;
    while at < n {
        let end = (at + size).min(n);
        out.push(at..end);
        at = end;
        size = (size * 2).min(max);
    }
    out
}

impl Encoder {
    /// Embeds `texts` (each with `prefix`) in windows of at most `max_window` texts, tokenising
    /// the next window while the device runs this one, and hands each finished window to `sink`
    /// in order, on a thread of its own. `progress(done, tokens)` follows the device.
    ///
    /// Returns the time spent in each stage. The first error stops every stage: the sink's, or
    /// else the tokeniser's or the device's.
    pub fn embed_stream<E>(
        &self,
        texts: &[&str],
        prefix: Prefix,
        max_window: usize,
        progress: &mut dyn FnMut(usize, usize),
        sink: &mut (dyn FnMut(Range<usize>, Embedded) -> Result<(), E> + Send),
    ) -> Result<StageTimes, E>
    where
        E: From<EmbedError> + Send,
    {
        let fetch = |r: Range<usize>| Ok(texts[r].iter().map(|t| t.to_string()).collect());
        self.embed_fetched(texts.len(), &fetch, prefix, max_window, progress, sink)
    }

    /// [`Encoder::embed_stream`] of `n` texts fetched a window at a time (`fetch(range)` gives
    /// texts `range`), so that a million texts read from a file are never held at once.
    pub fn embed_fetched<E>(
        &self,
        n: usize,
        fetch: &(dyn Fn(Range<usize>) -> Result<Vec<String>, E> + Sync),
        prefix: Prefix,
        max_window: usize,
        progress: &mut dyn FnMut(usize, usize),
        sink: &mut (dyn FnMut(Range<usize>, Embedded) -> Result<(), E> + Send),
    ) -> Result<StageTimes, E>
    where
        E: From<EmbedError> + Send,
    {
        let start = Instant::now();
        let windows = plan_windows(n, max_window);
        let mut times = StageTimes {
            sync: self.sync_stages,
            ..StageTimes::default()
        };
        let (ready_tx, ready_rx) = sync_channel::<Result<ReadyWindow, E>>(1);
        let (done_tx, done_rx) = sync_channel::<(Range<usize>, Embedded)>(1);
        let (device_result, tokenize_s, (write_result, write_s)) = std::thread::scope(|s| {
            let tokenizer = s.spawn(move || {
                let mut busy = 0.0;
                for range in windows {
                    let t0 = Instant::now();
                    let ready = fetch(range.clone()).and_then(|texts| {
                        let strs: Vec<&str> = texts.iter().map(String::as_str).collect();
                        Ok(self.prepare_window(&strs, range, prefix)?)
                    });
                    busy += t0.elapsed().as_secs_f64();
                    let failed = ready.is_err();
                    if ready_tx.send(ready).is_err() || failed {
                        break;
                    }
                }
                busy
            });
            let writer = s.spawn(move || {
                let mut busy = 0.0;
                for (range, emb) in done_rx {
                    let t0 = Instant::now();
                    let r = sink(range, emb);
                    busy += t0.elapsed().as_secs_f64();
                    if r.is_err() {
                        return (r, busy);
                    }
                }
                (Ok(()), busy)
            });
            let device_result = (|| -> Result<(), E> {
                let (mut done, mut tokens) = (0, 0);
                loop {
                    let t0 = Instant::now();
                    let Ok(ready) = ready_rx.recv() else {
                        return Ok(());
                    };
                    times.wait_s += t0.elapsed().as_secs_f64();
                    let window = self.run_window(ready?, &mut times, &mut |n, t| {
                        done += n;
                        tokens += t;
                        progress(done, tokens);
                    })?;
                    if done_tx.send(window).is_err() {
                        return Ok(()); // the sink failed: its error is the one to report
                    }
                }
            })();
            // Closing both channels ends the other two stages, whatever state they are in.
            drop(ready_rx);
            drop(done_tx);
            let tokenize_s = join(tokenizer);
            let written = join(writer);
            (device_result, tokenize_s, written)
        });
        write_result?;
        device_result?;
        times.tokenize_s = tokenize_s;
        times.write_s = write_s;
        times.wall_s = start.elapsed().as_secs_f64();
        Ok(times)
    }

    /// Tokenises `texts` (window `range`), sorts them by length and cuts them into batches.
    fn prepare_window(
        &self,
        texts: &[&str],
        range: Range<usize>,
        prefix: Prefix,
    ) -> Result<ReadyWindow, EmbedError> {
        let (ids, truncated) = self.tokenize_strs(texts, prefix)?;
        let batches = self
            .length_sorted_batches(&ids)
            .into_iter()
            .map(|rows| ReadyBatch {
                ids: rows.iter().flat_map(|&r| ids[r].iter().copied()).collect(),
                lens: rows.iter().map(|&r| ids[r].len()).collect(),
                rows,
            })
            .collect();
        Ok(ReadyWindow {
            range,
            batches,
            truncated,
        })
    }

    /// Runs a window's batches on the device; `progress(sequences, tokens)` after each batch.
    fn run_window(
        &self,
        window: ReadyWindow,
        times: &mut StageTimes,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<(Range<usize>, Embedded), EmbedError> {
        let dim = self.dim;
        let mut out = Embedded {
            vectors: vec![0f32; window.range.len() * dim],
            dim,
            tokens: 0,
            truncated: window.truncated,
            flops: 0.0,
        };
        for b in window.batches {
            let tokens: usize = b.lens.iter().sum();
            out.flops += b.lens.iter().map(|&l| self.graph().flops(l)).sum::<f64>();
            let pooled = self.graph().embed_packed(b.ids, &b.lens, times)?;
            for (row, &r) in b.rows.iter().enumerate() {
                out.vectors[r * dim..(r + 1) * dim]
                    .copy_from_slice(&pooled[row * dim..(row + 1) * dim]);
            }
            out.tokens += tokens;
            progress(b.rows.len(), tokens);
        }
        Ok((window.range, out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_start_small_double_and_cover_everything() {
        let w = plan_windows(50_000, 16_384);
        assert_eq!(w[0], 0..4096);
        assert_eq!(w[1], 4096..12_288);
        assert_eq!(w[2].len(), 16_384);
        assert_eq!(w.last().map(|r| r.end), Some(50_000));
        assert!(w.windows(2).all(|p| p[0].end == p[1].start));
        // A small maximum (the CPU's chunk) is used from the start.
        assert!(plan_windows(3000, 1024).iter().all(|r| r.len() <= 1024));
        assert!(plan_windows(0, 1024).is_empty());
    }
}
