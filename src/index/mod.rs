//! The on-disk index: papers, their vectors, and a manifest that says how they were made.
//!
//! Layout of an index directory:
//! - `manifest.json` — the commit point: model id and fingerprint, dimension, pooling, prefixes,
//!   text recipe, quantisation, format version, and the names of the files below that are live.
//! - `papers-<generation>.jsonl` — one [`IndexedPaper`] per line, in corpus order.
//! - `vectors/<generation>-<n>.safetensors` — chunks of `keys` (`u8 [rows, 32]`) and
//!   `vectors` (`f32 [rows, dim]`). Vectors are content-addressed: the key is a hash of the
//!   model fingerprint and the exact embedded input, so unchanged papers are never re-embedded.
//!
//! Every file is written to a temporary name and renamed into place; the manifest is replaced
//! last, so a reader (or a rerun after a kill at any point) sees either the old index or the new
//! one. While embedding, a manifest is committed after each chunk, so a killed run loses at most
//! one chunk of work. Files the live manifest does not name are removed by the next writer.

mod check;
mod store;
mod update;

pub use check::{check, CheckReport, Checked, Verdict};
pub use store::{
    read_manifest, FileRef, Index, IndexedPaper, Manifest, Stamp, TextRecipe, FORMAT_VERSION,
};
pub use update::{update, TextFetch, UpdateOptions, UpdateStats, VectorSource, MAX_SILENT_REMOVAL};

use std::path::PathBuf;

/// Errors of reading and writing an index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// A file could not be read or written.
    #[error("{}", path.display())]
    Io {
        /// The file (or directory) the operation failed on.
        path: PathBuf,
        /// The I/O error (or safetensors' error, wrapped, when a chunk could not be serialised).
        #[source]
        source: std::io::Error,
    },
    /// No index at this path.
    #[error("no index at {}", .0.display())]
    Missing(PathBuf),
    /// A first build was interrupted: some chunks are stored, no papers file yet.
    #[error("{}: partial index ({chunks} chunk(s) stored, the first build did not finish)", dir.display())]
    Partial {
        /// Index directory, whose manifest lists chunks but no papers file yet.
        dir: PathBuf,
        /// Chunks committed so far.
        chunks: usize,
    },
    /// A stored file fails its checksum, does not parse, is missing, or holds vectors that are
    /// not finite unit vectors.
    #[error("{}: damaged: {what}", path.display())]
    Damaged {
        /// The damaged file, or the index directory when papers and vectors disagree in number.
        path: PathBuf,
        /// What is wrong with it.
        what: String,
    },
    /// The index was built with another model, text recipe or format.
    #[error("{}: index was built with {field} = {stored}, this run uses {wanted}", dir.display())]
    Incompatible {
        /// Index directory, whose manifest holds the other value.
        dir: PathBuf,
        /// The manifest field that differs.
        field: &'static str,
        /// The manifest's value of `field`, as text.
        stored: String,
        /// This run's value of `field` (for `format_version`, the version this papermap reads).
        wanted: String,
    },
    /// Vectors of another model or numeric mode than the stored ones: not comparable with them.
    #[error(
        "{}: the index was built with {stored}, not with {given} ({})",
        dir.display(),
        differs_text(differs)
    )]
    NotComparable {
        /// Index directory the offered vectors were refused for.
        dir: PathBuf,
        /// The identity of the stored vectors.
        stored: Box<crate::embed::ModelIdentity>,
        /// The identity offered (an encoder's).
        given: Box<crate::embed::ModelIdentity>,
        /// What differs: the model, the mode, or both.
        differs: Vec<crate::embed::Difference>,
    },
    /// An update would remove more of the index than it may without being asked to.
    #[error(
        "{}: this update would remove {removing} of the {papers} stored papers (their digest \
         files are gone); nothing was changed",
        dir.display()
    )]
    WouldRemove {
        /// Index directory, left unchanged.
        dir: PathBuf,
        /// Papers it would remove.
        removing: usize,
        /// Papers in the live index; over [`MAX_SILENT_REMOVAL`] of them go only with `--prune`.
        papers: usize,
    },
    /// Another process holds the write lock.
    #[error("{0}: another papermap is writing this index (lock held on index.lock); wait for it to finish")]
    Locked(PathBuf),
    /// The encoder failed while embedding this run's new inputs.
    #[error(transparent)]
    Embed(#[from] crate::embed::EmbedError),
    /// This run's papers could not be read back from their scratch file.
    #[error(transparent)]
    Corpus(#[from] crate::corpus::CorpusError),
}

impl IndexError {
    /// Whether the error is a file the manifest names that is not there.
    pub(crate) fn is_missing_file(&self) -> bool {
        match self {
            IndexError::Io { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
            IndexError::Damaged { what, .. } => what == "missing",
            _ => false,
        }
    }
}

/// `Io` error constructor for closures.
pub(crate) fn io_err(path: &std::path::Path) -> impl Fn(std::io::Error) -> IndexError + '_ {
    move |source| IndexError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn differs_text(differs: &[crate::embed::Difference]) -> &'static str {
    use crate::embed::Difference;
    match differs {
        [Difference::Model] => "another model",
        [Difference::Mode] => "another numeric mode",
        _ => "another model and numeric mode",
    }
}
