//! papermap command line: argument parsing and printing only.

mod commands;

use clap::{Parser, Subcommand};

/// Map of research from Hugging Face Daily Papers digests.
#[derive(Parser)]
#[command(name = "papermap", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the papers found in digest files or directories.
    Papers(commands::papers::Args),
    /// Papers per month, duplicates, entries without a summary, and parse warnings.
    Stats(commands::stats::Args),
    /// Provision and inspect the embedding model.
    Model(commands::model::Args),
    /// Embed new or changed papers into the on-disk index.
    Index(commands::index::Args),
    /// Write the topic report: report.md (+ map.svg) and a self-contained report.html.
    Report(commands::report::Args),
    /// Embed strings from a JSON Lines file into a .npy matrix.
    Embed(commands::embed::Args),
    /// Write the index's vectors (.npy) and paper metadata (.jsonl) for Python.
    Export(commands::export::Args),
    /// Cluster the index into topics: keywords, labels, stable ids, trends.
    Topics(commands::topics::Args),
    /// The papers nearest to one paper (by arXiv id or title words), by cosine.
    Related(commands::related::Args),
    /// Free-text search: dense, lexical (BM25) or hybrid (reciprocal rank fusion).
    Search(commands::search::Args),
    /// Measure search quality (title -> own paper) and check summaries.
    Eval(commands::eval::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The cause chain is the message users need; backtraces are for developers.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Papers(args) => commands::papers::run(args),
        Command::Stats(args) => commands::stats::run(args),
        Command::Model(args) => commands::model::run(args),
        Command::Index(args) => commands::index::run(args),
        Command::Export(args) => commands::export::run(args),
        Command::Embed(args) => commands::embed::run(args),
        Command::Report(args) => commands::report::run(args),
        Command::Topics(args) => commands::topics::run(args),
        Command::Related(args) => commands::related::run(args),
        Command::Search(args) => commands::search::run(args),
        Command::Eval(args) => commands::eval::run(args),
    }
}
