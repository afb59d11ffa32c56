//! `papermap export`: vectors as numpy `.npy` plus ids/metadata, for Python users.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
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
    let with_ext = |ext: &str| {
        let mut p = args.out.clone().into_os_string();
        p.push(ext);
        PathBuf::from(p)
    };
    let meta_path = with_ext(".jsonl");
    let mut meta = std::io::BufWriter::new(
        std::fs::File::create(&meta_path)
            .with_context(|| format!("creating {}", meta_path.display()))?,
    );
    for (i, p) in index.papers().iter().enumerate() {
        let mut v = serde_json::to_value(&p.paper)?;
        v["row"] = i.into();
        if args.format == Format::Jsonl {
            v["vector"] = serde_json::to_value(index.vector(i))?;
        }
        serde_json::to_writer(&mut meta, &v)?;
        meta.write_all(b"\n")?;
    }
    meta.flush()?;
    let npy_path = (args.format == Format::Npy).then(|| with_ext(".npy"));
    if let Some(p) = &npy_path {
        papermap::export::write_npy(p, index.rows())?;
    }
    if output.json {
        return super::output::print_json(&serde_json::json!({
            "papers": meta_path,
            "vectors": npy_path,
            "rows": index.len(),
            "dim": dim,
            "format": if args.format == Format::Npy { "npy" } else { "jsonl" },
        }));
    }
    if let Some(npy_path) = &npy_path {
        println!(
            "wrote {} ({} x {dim} float32) and {}",
            npy_path.display(),
            index.len(),
            meta_path.display()
        );
    } else {
        println!(
            "wrote {} ({} papers with vectors)",
            meta_path.display(),
            index.len()
        );
    }
    Ok(())
}
