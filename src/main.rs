//! papermap command line: argument parsing and printing only.

mod commands;

use clap::{Parser, Subcommand};

/// Map of research from Hugging Face Daily Papers digests.
#[derive(Parser)]
#[command(name = "papermap", version, about, after_help = commands::output::EXIT_CODES_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    output: commands::output::Output,
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
    /// One day's papers in their topics with related earlier papers, rising topics, outliers.
    Brief(commands::brief::Args),
    /// Embed strings from a JSON Lines file into a .npy matrix.
    Embed(commands::embed::Args),
    /// Write the index's vectors (.npy) and paper metadata (.jsonl) for Python.
    Export(commands::export::Args),
    /// Cluster the index into topics: keywords, labels, stable ids, trends.
    Topics(commands::topics::Args),
    /// The papers nearest to one paper (by arXiv id or title words), by cosine.
    Related(commands::related::Args),
    /// A reader's library: like, save or hide papers, saved searches, followed authors, and
    /// recommendations from them.
    Library(commands::library::Args),
    /// Free-text search: dense, lexical (BM25) or hybrid (both, fused by normalised score).
    Search(commands::search::Args),
    /// Measure search quality (title -> own paper) and check summaries.
    Eval(commands::eval::Args),
    /// Verify every file of an index (checksums, vectors, papers) without changing anything.
    Check(commands::check::Args),
    /// Local explorer and JSON API over one index (search, papers, topics, map, embeddings).
    Serve(commands::serve::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish or powershell) to stdout.
    Completions(commands::completions::Args),
}

fn main() -> std::process::ExitCode {
    // Errors print their cause chain, not a backtrace: some dependencies (candle) put one in
    // their error messages whenever RUST_BACKTRACE is set, ninety lines for a bad model file.
    // A panic (an internal error) still gets RUST_BACKTRACE's backtrace; RUST_LIB_BACKTRACE=1
    // brings the library ones back for debugging.
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
    let cli = Cli::parse();
    // Panics are turned into errors where a dependency may meet input it does not expect
    // (the library's boundaries) and here for anything else: the hook only records where a
    // panic happened, so a caught one prints nothing and an uncaught one prints one line.
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = at;
        }
    }));
    let outcome = std::panic::catch_unwind(move || run(cli));
    match outcome {
        Ok(Ok(())) => std::process::ExitCode::from(commands::output::exit::OK),
        Ok(Err(e)) => {
            // The cause chain is the message users need; backtraces are for developers.
            eprintln!("error: {e:#}");
            if let Some(hint) = commands::output::advice(&e) {
                eprintln!("hint: {hint}");
            }
            std::process::ExitCode::from(commands::output::code_of(&e))
        }
        Err(payload) => {
            let at = LAST_PANIC.lock().map(|s| s.clone()).unwrap_or_default();
            eprintln!(
                "error: internal error (a bug in papermap; please report it): {} at {at}",
                papermap::embed::panic_message(payload.as_ref())
            );
            std::process::ExitCode::from(commands::output::exit::INTERNAL)
        }
    }
}

/// Where the last panic happened (file:line), for the one-line report of an uncaught one.
static LAST_PANIC: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

fn run(cli: Cli) -> anyhow::Result<()> {
    let out = cli.output;
    out.install();
    match cli.command {
        Command::Papers(args) => commands::papers::run(args, out),
        Command::Stats(args) => commands::stats::run(args, out),
        Command::Model(args) => commands::model::run(args, out),
        Command::Index(args) => commands::index::run(args, out),
        Command::Export(args) => commands::export::run(args, out),
        Command::Embed(args) => commands::embed::run(args, out),
        Command::Report(args) => commands::report::run(args, out),
        Command::Brief(args) => commands::brief::run(args, out),
        Command::Topics(args) => commands::topics::run(args, out),
        Command::Related(args) => commands::related::run(args, out),
        Command::Search(args) => commands::search::run(args, out),
        Command::Library(args) => commands::library::run(args, out),
        Command::Eval(args) => commands::eval::run(args, out),
        Command::Check(args) => commands::check::run(args, out),
        Command::Serve(args) => commands::serve::run(args, out),
        Command::Completions(args) => commands::completions::run::<Cli>(args),
    }
}
