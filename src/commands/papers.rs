//! `papermap papers`: list the papers of digests and archives.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use papermap::corpus::{self, Paper};

/// Arguments of `papermap papers`.
#[derive(clap::Args)]
pub struct Args {
    /// Digests and archives: files, or directories searched recursively.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub source: super::options::SourceOpts,
}

/// Papers held before listing starts: inputs up to this size are listed exactly as `index`
/// reads them (each id once, at its earliest date, with every date); beyond it papers are
/// listed as they stream by, each id at its first occurrence, so arXiv's snapshot lists in
/// bounded memory.
const HELD_PAPERS: usize = 100_000;

/// Reads the sources, prints warnings to stderr and the papers to stdout.
pub fn run(args: Args, output: super::output::Output) -> anyhow::Result<()> {
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut lister = Lister {
        json: output.json,
        held: Vec::new(),
        printed: None,
        id_width: 0,
        error: None,
    };
    let read = corpus::stream(&args.paths, &args.source.read_options(), &mut |batch| {
        lister.take(batch, &mut out)
    })?;
    lister.finish(&mut out);
    for w in &read.warnings {
        super::output::note!("warning: {}", super::output::one_line(&w.to_string()));
    }
    super::options::report_tally(&read.tally);
    let result = match lister.error {
        Some(e) => Err(e),
        None => out.flush().map_err(Into::into),
    };
    match result {
        // `papermap papers DIR | head` closes the pipe early; that is not a failure.
        Err(e) if is_broken_pipe(&e) => Ok(()),
        other => other,
    }
}

/// Lists papers as they arrive: held until [`HELD_PAPERS`], then streamed.
struct Lister {
    json: bool,
    held: Vec<Paper>,
    /// Ids already listed, once streaming.
    printed: Option<std::collections::HashSet<String>>,
    id_width: usize,
    error: Option<anyhow::Error>,
}

impl Lister {
    fn take(&mut self, batch: Vec<Paper>, out: &mut impl Write) {
        if self.error.is_some() {
            return;
        }
        match &mut self.printed {
            None => {
                self.held.extend(batch);
                if self.held.len() > HELD_PAPERS {
                    let held = std::mem::take(&mut self.held);
                    self.printed = Some(std::collections::HashSet::new());
                    self.take(held, out);
                }
            }
            Some(printed) => {
                let fresh: Vec<Paper> = batch
                    .into_iter()
                    .filter(|p| printed.insert(p.arxiv_id.clone()))
                    .collect();
                self.write(&fresh, out);
            }
        }
    }

    fn finish(&mut self, out: &mut impl Write) {
        if self.printed.is_none() {
            let (papers, _) = corpus::dedup(std::mem::take(&mut self.held));
            self.write(&papers, out);
        }
    }

    fn write(&mut self, papers: &[Paper], out: &mut impl Write) {
        if self.error.is_some() {
            return;
        }
        let result = if self.json {
            write_json(out, papers)
        } else {
            write_table(out, papers, &mut self.id_width)
        };
        if let Err(e) = result {
            self.error = Some(e);
        }
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

/// Writes rows, and the header before the first; `id_width` is sized by the first rows written
/// (ids are short arXiv numbers, except non-arXiv links kept as ids).
fn write_table(out: &mut impl Write, papers: &[Paper], id_width: &mut usize) -> anyhow::Result<()> {
    if *id_width == 0 {
        *id_width = papers
            .iter()
            .map(|p| p.arxiv_id.chars().count())
            .max()
            .unwrap_or(0)
            .max(2);
        writeln!(
            out,
            "{:<10}  {:>5}  {:<id_width$}  TITLE",
            "DATE",
            "VOTES",
            "ID",
            id_width = *id_width
        )?;
    }
    let id_width = *id_width;
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
