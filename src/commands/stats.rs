//! `papermap stats`: counts, duplicates, papers per month and parse warnings.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use papermap::corpus::{self, Census};

/// Arguments of `papermap stats`.
#[derive(clap::Args)]
pub struct Args {
    /// Digests and archives: files, or directories searched recursively.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub source: super::options::SourceOpts,
    /// Index directory: also list the papers whose summary does not describe them (summary
    /// check; embeds the titles, and the summaries of a title+summary index, with the index's
    /// model unless an earlier check cached them).
    #[arg(long, value_name = "DIR")]
    pub index: Option<PathBuf>,
    #[command(flatten)]
    pub model: super::options::ModelOpts,
}

/// Reads the sources as a stream and prints a summary of what was found.
pub fn run(args: Args, output: super::output::Output) -> anyhow::Result<()> {
    let corpus = corpus::census(&args.paths, &args.source.read_options())?;
    let check = match &args.index {
        Some(dir) => {
            let ws = papermap::workspace::Workspace::open(dir, &args.model.choice()?)?;
            let (check, cache_error) = ws.summary_check(&mut super::output::check_progress())?;
            super::output::warn_uncached(cache_error.as_deref());
            Some(check)
        }
        None => None,
    };
    for w in &corpus.warnings {
        super::output::note!("warning: {}", super::output::one_line(&w.to_string()));
    }
    if output.json {
        let duplicates: Vec<serde_json::Value> = corpus
            .duplicates
            .iter()
            .map(|(id, locs)| {
                let locs: Vec<String> = locs.iter().map(ToString::to_string).collect();
                serde_json::json!({"arxiv_id": id, "locations": locs})
            })
            .collect();
        let per_month: serde_json::Map<String, serde_json::Value> = corpus
            .per_month
            .iter()
            .map(|(m, n)| (m.to_string(), (*n).into()))
            .collect();
        let warnings: Vec<String> = corpus.warnings.iter().map(ToString::to_string).collect();
        return super::output::print_json(&serde_json::json!({
            "files": corpus.files,
            "entries": corpus.entries,
            "unique_papers": corpus.unique,
            "duplicates": duplicates,
            "without_summary": corpus.without_summary,
            "without_text": corpus.without_text,
            "archive": corpus.tally,
            "papers_per_month": per_month,
            "warnings": warnings,
            "summary_check": check,
        }));
    }
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let written = write_stats(&mut out, &corpus).and_then(|()| match &check {
        Some(c) => super::output::write_summary_check(&mut out, c, usize::MAX),
        None => Ok(()),
    });
    super::output::ignore_broken_pipe(written.and_then(|()| out.flush()))
}

fn write_stats(out: &mut impl Write, c: &Census) -> io::Result<()> {
    writeln!(out, "files:            {}", c.files)?;
    writeln!(out, "entries:          {}", c.entries)?;
    writeln!(out, "unique papers:    {}", c.unique)?;
    writeln!(out, "duplicates:       {}", c.duplicates.len())?;
    for (id, locs) in &c.duplicates {
        let locs: Vec<String> = locs.iter().map(ToString::to_string).collect();
        writeln!(out, "  {id}: {}", locs.join(", "))?;
    }
    writeln!(out, "without summary:  {}", c.without_summary)?;
    if c.tally.records > 0 {
        writeln!(out, "without text:     {}", c.without_text)?;
        writeln!(out, "archive records:  {}", c.tally.records)?;
        writeln!(out, "  bad:            {}", c.tally.bad)?;
    }
    if c.tally.by_category + c.tally.by_date > 0 {
        writeln!(out, "left out by --categories: {}", c.tally.by_category)?;
        writeln!(out, "left out by --since:      {}", c.tally.by_date)?;
    }
    writeln!(out, "papers per month:")?;
    for (month, n) in &c.per_month {
        writeln!(out, "  {month:<8} {n:>6}")?;
    }
    // The warnings themselves went to stderr, as every command's do; the count is a result.
    writeln!(out, "warnings:         {}", c.warnings.len())?;
    Ok(())
}
