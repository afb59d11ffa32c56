//! `papermap export`: vectors as numpy `.npy` plus ids/metadata, for Python users.

use std::path::PathBuf;

use papermap::export::ExportFormat;
use papermap::index::Index;

use super::options::DEFAULT_INDEX;

/// Export format.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `OUT.npy` (float32 [papers, dim]) + `OUT.jsonl` (one paper per line, same order).
    Npy,
    /// `OUT.jsonl` with each paper's metadata and its vector.
    Jsonl,
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
    let index = Index::open(&args.index)?;
    let dim = index.dim();
    let format = match args.format {
        Format::Npy => ExportFormat::Npy,
        Format::Jsonl => ExportFormat::Jsonl,
    };
    let files = papermap::export::export(&index, &args.out, format)?;
    if output.json {
        return super::output::print_json(&serde_json::json!({
            "papers": files.papers,
            "vectors": files.vectors,
            "rows": index.len(),
            "dim": dim,
            "format": if args.format == Format::Npy { "npy" } else { "jsonl" },
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
            "wrote {} ({} papers with vectors)",
            files.papers.display(),
            index.len()
        ),
    }
    Ok(())
}
