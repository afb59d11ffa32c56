//! `papermap papers`: list the papers of digest files or directories.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use papermap::corpus::{self, Paper};

/// Arguments of `papermap papers`.
#[derive(clap::Args)]
pub struct Args {
    /// Digest files, or directories searched recursively for *.md and *.txt.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// Parses the digests, prints warnings to stderr and the papers to stdout.
pub fn run(args: Args, output: super::output::Output) -> anyhow::Result<()> {
    let corpus = corpus::load(&args.paths)?;
    for w in &corpus.warnings {
        super::output::note!("warning: {}", super::output::one_line(&w.to_string()));
    }
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let result = if output.json {
        write_json(&mut out, &corpus.papers)
    } else {
        write_table(&mut out, &corpus.papers)
    }
    .and_then(|()| out.flush().map_err(Into::into));
    match result {
        // `papermap papers DIR | head` closes the pipe early; that is not a failure.
        Err(e) if is_broken_pipe(&e) => Ok(()),
        other => other,
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn write_json(out: &mut impl Write, papers: &[Paper]) -> anyhow::Result<()> {
    for p in papers {
        // Serialise first so that write failures stay `io::Error` (broken pipe detection).
        let mut line = serde_json::to_vec(p).context("serialising a paper")?;
        line.push(b'\n');
        out.write_all(&line)?;
    }
    Ok(())
}

fn write_table(out: &mut impl Write, papers: &[Paper]) -> anyhow::Result<()> {
    // Ids are short arXiv numbers, except non-arXiv links kept as ids; size the column.
    let id_width = papers
        .iter()
        .map(|p| p.arxiv_id.chars().count())
        .max()
        .unwrap_or(0)
        .max(2);
    writeln!(
        out,
        "{:<10}  {:>5}  {:<id_width$}  TITLE",
        "DATE", "VOTES", "ID"
    )?;
    for p in papers {
        let votes = p.votes.map_or_else(|| "-".to_string(), |v| v.to_string());
        let date = p.date.as_deref().unwrap_or("-");
        writeln!(
            out,
            "{:<10}  {votes:>5}  {:<id_width$}  {}",
            super::output::one_line(date),
            super::output::one_line(&p.arxiv_id),
            super::output::one_line(&p.title)
        )?;
    }
    Ok(())
}
