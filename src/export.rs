//! Vectors for other tools: `.npy` matrices (NumPy's v1.0 format through `ndarray-npy`) and the
//! papers beside them as JSON Lines.

use std::io::Write;
use std::path::{Path, PathBuf};

use ndarray::ArrayView2;

use crate::index::Index;

/// An export could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A file could not be written.
    #[error("writing {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The output path cannot name the files (a directory, a device, a missing directory).
    #[error("{}: {why}", path.display())]
    BadOutput {
        /// The path given.
        path: PathBuf,
        /// Why it cannot be used.
        why: &'static str,
    },
}

/// Writes `rows` as a `.npy` file (`<f4`, C order, shape `[rows, cols]`).
pub fn write_npy(path: &Path, rows: ArrayView2<'_, f32>) -> Result<(), ExportError> {
    ndarray_npy::write_npy(path, &rows).map_err(|source| ExportError::Write {
        path: path.to_path_buf(),
        source: Box::new(source),
    })
}

/// What [`export`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// `OUT.npy` (float32 `[papers, dim]`) and `OUT.jsonl` (one paper per line, same order).
    Npy,
    /// `OUT.jsonl` alone, each paper with its vector.
    Jsonl,
}

/// The files an export wrote.
#[derive(Debug, Clone)]
pub struct ExportFiles {
    /// The papers (`OUT.jsonl`).
    pub papers: PathBuf,
    /// The vectors (`OUT.npy`), for [`ExportFormat::Npy`].
    pub vectors: Option<PathBuf>,
}

/// Writes the index's papers (and vectors) to `out` + `.jsonl` (and `.npy`), both files
/// replaced together ([`crate::atomic::Batch`]): a failure (a full disk) leaves the previous
/// export whole rather than new papers beside old vectors.
pub fn export(index: &Index, out: &Path, format: ExportFormat) -> Result<ExportFiles, ExportError> {
    let bad = |why| ExportError::BadOutput {
        path: out.to_path_buf(),
        why,
    };
    let name_ok = out
        .file_name()
        .is_some_and(|n| !n.is_empty() && n != "." && n != "..")
        && !out
            .as_os_str()
            .to_string_lossy()
            .ends_with(std::path::MAIN_SEPARATOR);
    if !name_ok {
        return Err(bad("names a directory, not the files to write"));
    }
    if std::fs::metadata(out).is_ok_and(|m| !m.is_file()) {
        return Err(bad("is a directory or a device, not a file name"));
    }
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(bad("its directory does not exist"));
    }
    let with_ext = |ext: &str| {
        let mut p = out.as_os_str().to_owned();
        p.push(ext);
        PathBuf::from(p)
    };
    let papers = with_ext(".jsonl");
    let vectors = (format == ExportFormat::Npy).then(|| with_ext(".npy"));
    for p in std::iter::once(&papers).chain(&vectors) {
        if std::fs::metadata(p).is_ok_and(|m| !m.is_file()) {
            return Err(ExportError::BadOutput {
                path: p.clone(),
                why: "exists and is not a regular file",
            });
        }
    }
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |e: std::io::Error| ExportError::Write {
            path,
            source: Box::new(e),
        }
    };
    let mut batch = crate::atomic::Batch::new();
    batch
        .add_with(&papers, |tmp| {
            let mut w = std::io::BufWriter::new(std::fs::File::create(tmp)?);
            for (i, p) in index.papers().iter().enumerate() {
                let mut v = serde_json::to_value(&p.paper)?;
                v["row"] = i.into();
                if format == ExportFormat::Jsonl {
                    v["vector"] = serde_json::to_value(index.vector(i))?;
                }
                serde_json::to_writer(&mut w, &v)?;
                w.write_all(b"\n")?;
            }
            w.flush()
        })
        .map_err(write_err(&papers))?;
    if let Some(v) = &vectors {
        batch
            .add_with(v, |tmp| {
                ndarray_npy::write_npy(tmp, &index.rows()).map_err(std::io::Error::other)
            })
            .map_err(write_err(v))?;
    }
    batch.commit().map_err(|(path, e)| write_err(&path)(e))?;
    Ok(ExportFiles { papers, vectors })
}
