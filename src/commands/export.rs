//! `papermap export`: vectors as numpy `.npy` plus ids/metadata, for Python users, or as Parquet
//! for Spark, Ray, DuckDB and LanceDB.

use std::path::PathBuf;

use papermap::export::ExportFormat;
use papermap::topics::TopicsError;
use papermap::workspace::{ModelChoice, Workspace};

use super::options::DEFAULT_INDEX;

/// Export format.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `OUT.npy` (float32 [papers, dim]) + `OUT.jsonl` (one paper per line, same order).
    Npy,
    /// `OUT.jsonl` with each paper's metadata and its vector.
    Jsonl,
    /// `OUT.parquet`: row, id, title, date, votes, topic (when the topics are current) and the
    /// vector as a fixed-size list of float32.
    Parquet,
}

/// `papermap export`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value = "npy")]
    format: Format,
    /// Output path without extension.
    #[arg(long, default_value = "papermap-export")]
    out: PathBuf,
    /// Index directory.
    #[arg(long, default_value = DEFAULT_INDEX)]
    index: PathBuf,
}

/// Runs `papermap export`.
pub fn run(args: Args, output: super::output::Output) -> anyhow::Result<()> {
    let ws = Workspace::open(&args.index, &ModelChoice::default())?;
    let index = ws.index();
    let dim = index.dim();
    let format = match args.format {
        Format::Npy => ExportFormat::Npy,
        Format::Jsonl => ExportFormat::Jsonl,
        Format::Parquet => ExportFormat::Parquet,
    };
    // Topic ids only from topics computed on exactly this index; stale ones would misname rows.
    let topics = match format {
        ExportFormat::Parquet => match ws.topics() {
            Ok(t) => Some(t.assignment),
            Err(TopicsError::NoTopics { .. } | TopicsError::Stale { .. }) => None,
            Err(e) => return Err(e.into()),
        },
        _ => None,
    };
    let files = papermap::export::export(index, &args.out, format, topics.as_deref())?;
    if output.json {
        return super::output::print_json(&serde_json::json!({
            "papers": files.papers,
            "vectors": files.vectors,
            "rows": index.len(),
            "dim": dim,
            "format": match args.format {
                Format::Npy => "npy",
                Format::Jsonl => "jsonl",
                Format::Parquet => "parquet",
            },
            "topics": topics.is_some(),
        }));
    }
    match &files.vectors {
        Some(npy) => println!(
            "wrote {} ({} x {dim} float32) and {}",
            npy.display(),
            index.len(),
            files.papers.display()
        ),
        None => println!(
            "wrote {} ({} papers with vectors{})",
            files.papers.display(),
            index.len(),
            match (args.format, &topics) {
                (Format::Parquet, None) => ", no topic column: no current topics",
                _ => "",
            }
        ),
    }
    Ok(())
}
