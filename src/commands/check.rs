//! `papermap check`: list what is damaged in an index, changing nothing.

use std::path::PathBuf;

use anyhow::Context;
use papermap::index::{check, Verdict};

use super::options::DEFAULT_INDEX;

/// `papermap check`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Index directory.
    #[arg(long, default_value = DEFAULT_INDEX)]
    index: PathBuf,
}

/// Runs `papermap check`; fails (exit 4) when anything is damaged or missing.
pub fn run(args: Args, output: super::output::Output) -> anyhow::Result<()> {
    let report =
        check(&args.index).with_context(|| format!("checking {}", args.index.display()))?;
    if output.json {
        super::output::print_json(&report)?;
    } else {
        for c in &report.files {
            let status = match &c.verdict {
                Verdict::Ok => "ok".to_string(),
                Verdict::Damaged(what) => format!("DAMAGED: {what}"),
                Verdict::Missing => "MISSING".to_string(),
                Verdict::Stray => {
                    "stray (not in the manifest; removed by the next index run)".into()
                }
            };
            println!("{}: {status}", c.path.display());
        }
        println!(
            "{} papers, {} without a stored vector",
            report.papers, report.papers_without_vector
        );
    }
    if report.is_damaged() {
        return Err(super::output::Failure::damaged(format!(
            "{} is damaged; `papermap index PATH... --index {}` repairs it (only the papers of \
             damaged chunks are embedded again), `--rebuild` starts over",
            args.index.display(),
            args.index.display()
        )));
    }
    Ok(())
}
