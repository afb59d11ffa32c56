//! Vectors for other tools: `.npy` matrices (NumPy's v1.0 format through `ndarray-npy`) and the
//! papers beside them as JSON Lines, or one Parquet file (arrow's writer) whose `vector` column
//! is a fixed-size list of f32, as Spark, Ray, DuckDB and LanceDB take embeddings.

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
        /// The file being written, by its final name (not the temporary file it is filled through).
        path: PathBuf,
        /// The I/O, JSON, NumPy or Parquet error that stopped the write.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The output path cannot name the files (a directory, a device, a missing directory).
    #[error("{}: {why}", path.display())]
    BadOutput {
        /// The `OUT` path as given, or a derived `OUT.<ext>` that exists but is not a regular file.
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

/// Which files [`export`] makes of `OUT` (the command's `--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// `OUT.npy` (float32 `[papers, dim]`) and `OUT.jsonl` (one paper per line, same order).
    Npy,
    /// `OUT.jsonl` alone, each paper with its vector.
    Jsonl,
    /// `OUT.parquet` alone: one row per paper (row, id, title, date, votes, topic, vector).
    Parquet,
}

/// Rows per Parquet row group: 64k rows of 384 floats is ~100 MB, what readers stream by.
const PARQUET_ROWS: usize = 65_536;

/// The files an export wrote.
#[derive(Debug, Clone)]
pub struct ExportFiles {
    /// The papers: `OUT.jsonl`, or `OUT.parquet` (vectors included) for [`ExportFormat::Parquet`].
    pub papers: PathBuf,
    /// The vectors (`OUT.npy`), for [`ExportFormat::Npy`].
    pub vectors: Option<PathBuf>,
}

/// Writes the index's papers (and vectors) to `out` + `.jsonl` (and `.npy`), both files
/// replaced together ([`crate::atomic::Batch`]): a failure (a full disk) leaves the previous
/// export whole rather than new papers beside old vectors.
///
/// `topics` is the topic id of every row, when the index has current topics (Parquet only).
pub fn export(
    index: &Index,
    out: &Path,
    format: ExportFormat,
    topics: Option<&[u32]>,
) -> Result<ExportFiles, ExportError> {
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
    let papers = with_ext(if format == ExportFormat::Parquet {
        ".parquet"
    } else {
        ".jsonl"
    });
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
    if format == ExportFormat::Parquet {
        batch
            .add_with(&papers, |tmp| write_parquet(tmp, index, topics))
            .map_err(write_err(&papers))?;
        batch.commit().map_err(|(path, e)| write_err(&path)(e))?;
        return Ok(ExportFiles {
            papers,
            vectors: None,
        });
    }
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

/// Writes the index as one Parquet file (zstd), [`PARQUET_ROWS`] rows per row group.
fn write_parquet(path: &Path, index: &Index, topics: Option<&[u32]>) -> std::io::Result<()> {
    use std::sync::Arc;

    use arrow_array::builder::{
        FixedSizeListBuilder, Float32Builder, StringBuilder, UInt32Builder, UInt64Builder,
    };
    use arrow_array::{ArrayRef, RecordBatch};
    use arrow_schema::{DataType, Field, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::basic::{Compression, ZstdLevel};
    use parquet::file::properties::WriterProperties;

    let dim = index.dim();
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    let schema = Arc::new(Schema::new(vec![
        Field::new("row", DataType::UInt64, false),
        Field::new("id", DataType::Utf8, false),
        Field::new("title", DataType::Utf8, false),
        Field::new("date", DataType::Utf8, true),
        Field::new("votes", DataType::UInt32, true),
        Field::new("topic", DataType::UInt32, true),
        Field::new(
            "vector",
            DataType::FixedSizeList(item.clone(), dim as i32),
            false,
        ),
    ]));
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_size(PARQUET_ROWS)
        .build();
    let file = std::fs::File::create(path)?;
    let mut writer =
        ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(std::io::Error::other)?;
    let papers = index.papers();
    for start in (0..papers.len()).step_by(PARQUET_ROWS) {
        let end = (start + PARQUET_ROWS).min(papers.len());
        let mut row = UInt64Builder::with_capacity(end - start);
        let mut id = StringBuilder::new();
        let mut title = StringBuilder::new();
        let mut date = StringBuilder::new();
        let mut votes = UInt32Builder::with_capacity(end - start);
        let mut topic = UInt32Builder::with_capacity(end - start);
        let mut vector = FixedSizeListBuilder::with_capacity(
            Float32Builder::with_capacity((end - start) * dim),
            dim as i32,
            end - start,
        )
        .with_field(item.clone());
        for (i, p) in papers.iter().enumerate().take(end).skip(start) {
            row.append_value(i as u64);
            id.append_value(&p.paper.arxiv_id);
            title.append_value(&p.paper.title);
            date.append_option(p.paper.date.as_deref());
            votes.append_option(p.paper.votes);
            topic.append_option(topics.and_then(|t| t.get(i).copied()));
            vector.values().append_slice(index.vector(i));
            vector.append(true);
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(row.finish()),
            Arc::new(id.finish()),
            Arc::new(title.finish()),
            Arc::new(date.finish()),
            Arc::new(votes.finish()),
            Arc::new(topic.finish()),
            Arc::new(vector.finish()),
        ];
        let batch = RecordBatch::try_new(schema.clone(), columns).map_err(std::io::Error::other)?;
        writer.write(&batch).map_err(std::io::Error::other)?;
    }
    writer.close().map_err(std::io::Error::other)?;
    Ok(())
}
