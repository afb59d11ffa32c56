//! What every command shares about output: `--json` and `--quiet`, results on stdout only,
//! notes and warnings on stderr only, a closed pipe that is not an error, and the exit codes.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Output options of every command.
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct Output {
    /// Print results as JSON: JSON Lines (one object per line) where a command prints a stream
    /// of records (`papers`, `related --all`), else one JSON object.
    #[arg(long, global = true)]
    pub json: bool,
    /// Print results only: no progress, notes or warnings on stderr (errors and repairs of
    /// damage still are).
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
}

static QUIET: AtomicBool = AtomicBool::new(false);

impl Output {
    /// Makes `--quiet` apply to [`note!`] everywhere.
    pub fn install(self) {
        QUIET.store(self.quiet, Ordering::Relaxed);
    }
}

/// True under `--quiet`.
pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// A note or warning for the person at the terminal: stderr, and nothing under `--quiet`.
macro_rules! note {
    ($($arg:tt)*) => {
        if !$crate::commands::output::quiet() {
            eprintln!($($arg)*);
        }
    };
}
pub(crate) use note;

/// Writes `value` as one JSON object (pretty-printed) and a newline to stdout.
pub fn print_json<T: serde::Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    ignore_broken_pipe(
        serde_json::to_writer_pretty(&mut out, value)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
            .and_then(|()| out.flush()),
    )
}

/// A closed pipe (`| head`) is not an error.
pub fn ignore_broken_pipe(r: std::io::Result<()>) -> anyhow::Result<()> {
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Exit statuses scripts can rely on (also in `papermap --help` and docs/cli.md).
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// Any other runtime error.
    pub const ERROR: u8 = 1;
    /// Bad arguments (clap's own errors use 2 as well).
    pub const USAGE: u8 = 2;
    /// Not found: no such paper, index, model or input file, or a search that found nothing.
    pub const NOT_FOUND: u8 = 3;
    /// The index is damaged or unfinished (`papermap index` repairs it).
    pub const DAMAGED: u8 = 4;
    /// The index is locked by another `papermap index` (try again later).
    pub const LOCKED: u8 = 5;
    /// An internal error (a bug in papermap).
    pub const INTERNAL: u8 = 70;
}

/// The text of the exit codes for `--help`.
pub const EXIT_CODES_HELP: &str = "Exit status: 0 ok; 1 runtime error; 2 bad arguments; 3 not \
found (paper, index, model or input file; a search that found nothing); 4 index damaged or \
unfinished (run `papermap index` to repair); 5 index locked by another writer; 70 internal error.";

/// A failure a command reports with a given exit status.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    /// Exit status.
    pub code: u8,
    /// What happened.
    pub message: String,
}

impl Failure {
    /// Nothing matched (exit 3).
    pub fn not_found(message: impl Into<String>) -> anyhow::Error {
        Failure {
            code: exit::NOT_FOUND,
            message: message.into(),
        }
        .into()
    }

    /// Damage found (exit 4).
    pub fn damaged(message: impl Into<String>) -> anyhow::Error {
        Failure {
            code: exit::DAMAGED,
            message: message.into(),
        }
        .into()
    }
}

/// The exit status of an error: the first cause in its chain that has a status of its own.
pub fn code_of(e: &anyhow::Error) -> u8 {
    use papermap::corpus::CorpusError;
    use papermap::topics::TopicsError;
    use papermap::workspace::WorkspaceError;
    for c in e.chain() {
        if let Some(f) = c.downcast_ref::<Failure>() {
            return f.code;
        }
        let code = if let Some(e) = c.downcast_ref::<WorkspaceError>() {
            match e {
                WorkspaceError::Embed(e) => embed_code(e),
                WorkspaceError::Index(e) => index_code(e),
                WorkspaceError::Search(e) => search_code(e),
                WorkspaceError::Topics(_) => None,
            }
        } else if let Some(e) = c.downcast_ref::<papermap::index::IndexError>() {
            index_code(e)
        } else if let Some(e) = c.downcast_ref::<papermap::search::SearchError>() {
            search_code(e)
        } else if let Some(e) = c.downcast_ref::<papermap::embed::EmbedError>() {
            embed_code(e)
        } else if let Some(
            TopicsError::BadK(_) | TopicsError::BadParam(_) | TopicsError::TooManyTopics { .. },
        ) = c.downcast_ref::<TopicsError>()
        {
            Some(exit::USAGE)
        } else if let Some(CorpusError::Access { source, .. } | CorpusError::Read { source, .. }) =
            c.downcast_ref::<CorpusError>()
        {
            (source.kind() == std::io::ErrorKind::NotFound).then_some(exit::NOT_FOUND)
        } else {
            None
        };
        if let Some(code) = code {
            return code;
        }
    }
    exit::ERROR
}

fn index_code(e: &papermap::index::IndexError) -> Option<u8> {
    use papermap::index::IndexError;
    match e {
        IndexError::Damaged { .. } | IndexError::Partial { .. } => Some(exit::DAMAGED),
        IndexError::Missing(_) => Some(exit::NOT_FOUND),
        IndexError::Locked(_) => Some(exit::LOCKED),
        IndexError::Embed(e) => embed_code(e),
        _ => None,
    }
}

fn search_code(e: &papermap::search::SearchError) -> Option<u8> {
    use papermap::search::SearchError;
    match e {
        SearchError::UnknownPaper { .. } => Some(exit::NOT_FOUND),
        SearchError::EmptyQuery | SearchError::ZeroK => Some(exit::USAGE),
        _ => None,
    }
}

fn embed_code(e: &papermap::embed::EmbedError) -> Option<u8> {
    use papermap::embed::EmbedError;
    match e {
        EmbedError::NotFound(_) => Some(exit::NOT_FOUND),
        EmbedError::Mode(_) => Some(exit::USAGE),
        _ => None,
    }
}

/// What the user can do about an error, when the library's error says what went wrong: the
/// library names files and causes, the CLI names the commands and options that help.
pub fn advice(e: &anyhow::Error) -> Option<String> {
    use papermap::index::IndexError;
    use papermap::topics::TopicsError;
    use papermap::workspace::WorkspaceError;
    e.chain().find_map(|c| {
        let index_error =
            c.downcast_ref::<IndexError>()
                .or_else(|| match c.downcast_ref::<WorkspaceError>() {
                    Some(WorkspaceError::Index(e)) => Some(e),
                    _ => None,
                });
        if let Some(e) = index_error {
            return match e {
                IndexError::Damaged { .. } => Some(
                    "run `papermap index PATH... --index DIR` to repair it (damaged chunks are \
                     embedded again, a damaged manifest is rebuilt from the chunks that verify), \
                     or `papermap check --index DIR` to list the damage; `--rebuild` starts over"
                        .into(),
                ),
                IndexError::Partial { .. } => {
                    Some("run `papermap index PATH... --index DIR` again to finish it".into())
                }
                IndexError::Missing(dir) => Some(format!(
                    "build one with `papermap index PATH... --index {}`",
                    dir.display()
                )),
                IndexError::Incompatible { .. } => Some(
                    "pass --rebuild to re-embed everything, or use another --index directory"
                        .into(),
                ),
                IndexError::NotComparable {
                    stored, differs, ..
                } => Some(if differs.contains(&papermap::embed::Difference::Model) {
                    "pass --model with the index's model, or rebuild the index with this one \
                     (`papermap index PATH... --rebuild`)"
                        .into()
                } else {
                    format!(
                        "leave out --dtype and --quant to use the index's mode ({}), or \
                         re-embed it in this one (`papermap index PATH... --rebuild`)",
                        stored.mode
                    )
                }),
                IndexError::WouldRemove { .. } => Some(
                    "pass --prune to remove them, or give the directory where those digests are \
                     now"
                    .into(),
                ),
                _ => None,
            };
        }
        if let Some(papermap::report::ReportError::NotADirectory(_)) =
            c.downcast_ref::<papermap::report::ReportError>()
        {
            return Some("give --out a directory (a new one is created)".into());
        }
        if let Some(papermap::export::ExportError::BadOutput { .. }) =
            c.downcast_ref::<papermap::export::ExportError>()
        {
            return Some(
                "give --out a file path without extension, in an existing directory (OUT.npy \
                 and OUT.jsonl are written beside each other)"
                    .into(),
            );
        }
        match c.downcast_ref::<TopicsError>()? {
            TopicsError::Empty => Some("index some digests first: `papermap index PATH...`".into()),
            TopicsError::NoTopics { dir } => Some(format!(
                "run `papermap topics --index {}` first",
                dir.display()
            )),
            TopicsError::Stale { dir } => Some(format!(
                "run `papermap topics --index {}` again",
                dir.display()
            )),
            TopicsError::NonFinite => {
                Some("rebuild the index: `papermap index PATH... --rebuild`".into())
            }
            TopicsError::Corrupt { .. } => {
                Some("delete the file, or run `papermap topics --fresh`".into())
            }
            TopicsError::TooManyTopics { .. } | TopicsError::TooFewDistinct { .. } => {
                Some("choose a smaller --k".into())
            }
            TopicsError::AutoRange { .. } => {
                Some("pass a smaller --k-range, or a fixed --k".into())
            }
            _ => None,
        }
    })
}

pub use papermap::text::one_line;

/// One line per hit: rank, score, date, id, title.
pub fn write_hits(
    out: &mut impl Write,
    index: &papermap::index::Index,
    hits: &[papermap::search::Hit],
) -> std::io::Result<()> {
    for h in papermap::search::hit_records(index, hits) {
        writeln!(
            out,
            "{:>3}  {:.4}  {:<10}  {:<12}  {}",
            h.rank,
            h.score,
            one_line(h.date.as_deref().unwrap_or("-")),
            one_line(&h.arxiv_id),
            one_line(&h.title)
        )?;
    }
    Ok(())
}

/// Progress of embedding the summary check's titles and summaries on stderr (a line every 5 s,
/// or one updated line on a terminal), silent under `--quiet`.
pub fn check_progress() -> impl FnMut(&str, usize, usize) {
    use std::io::IsTerminal;
    let mut start: Option<(String, std::time::Instant)> = None;
    let mut last = std::time::Instant::now();
    let tty = std::io::stderr().is_terminal();
    move |what, done, total| {
        // Each kind of text restarts the rate (summaries are several times longer than titles),
        // from the call that announces it with nothing done.
        let began = match &start {
            Some((w, t)) if w == what => *t,
            _ => {
                let now = std::time::Instant::now();
                start = Some((what.to_string(), now));
                last = now;
                now
            }
        };
        if done == 0 || quiet() || !(done == total || last.elapsed().as_secs_f64() >= 5.0) {
            return;
        }
        last = std::time::Instant::now();
        let rate = done as f64 / began.elapsed().as_secs_f64().max(1e-9);
        let end = if tty && done < total { "\r" } else { "\n" };
        eprint!("embedded {done}/{total} {what}, {rate:.1}/s{end}");
    }
}

/// Says, once, that the check's vectors could not be cached (they were still computed).
pub fn warn_uncached(cache_error: Option<&str>) {
    if let Some(e) = cache_error {
        note!("warning: summary check vectors not cached: {e}");
    }
}

/// The summary check as text: the rule, the count, and up to `limit` flagged papers.
pub fn write_summary_check(
    out: &mut impl Write,
    c: &papermap::quality::SummaryCheck,
    limit: usize,
) -> std::io::Result<()> {
    use papermap::quality::{NEIGHBOURHOOD_Z, OUTLIER_Z, SUSPECT_Z};
    writeln!(
        out,
        "summary check: {} of {} papers have a summary that does not describe them: title-to-summary \
         similarity below {:.4} (robust z < {}; median {:.4}, MAD {:.4}), or below {:.4} (z < {}) \
         among summaries that do not match their titles either (mean z of the {} nearest < {})",
        c.outliers.len(),
        c.papers,
        c.threshold,
        OUTLIER_Z,
        c.median,
        c.mad,
        c.suspect_threshold,
        SUSPECT_Z,
        c.neighbours,
        NEIGHBOURHOOD_Z
    )?;
    for o in c.outliers.iter().take(limit) {
        let copy = o
            .copy_of
            .as_ref()
            .map(|id| format!("  (repeats the summary of {id})"))
            .unwrap_or_default();
        writeln!(
            out,
            "  {:<12} {:.4}  z {:>5.1}  nearest z {:>5.1}  {}{copy}",
            o.arxiv_id, o.similarity, o.robust_z, o.neighbourhood_z, o.title
        )?;
    }
    if c.outliers.len() > limit {
        writeln!(
            out,
            "  ... {} more (--all-outliers lists them)",
            c.outliers.len() - limit
        )?;
    }
    Ok(())
}

/// One line of per-stage embedding times, for `papermap index` and `papermap embed`.
pub fn stage_line(t: &papermap::embed::StageTimes) -> String {
    format!(
        "stages: read {:.2}s | tokenise {:.2}s (own thread) | device {:.2}s = upload {:.2} + \
         forward {:.2} + pool {:.2} + download {:.2}{} | waited for tokens {:.2}s | write {:.2}s \
         (own thread) | wall {:.2}s; {} batches, {:.0} tokens/batch",
        t.read_s,
        t.tokenize_s,
        t.device_s(),
        t.upload_s,
        t.forward_s,
        t.pool_s,
        t.download_s,
        if t.sync {
            format!(
                " (synchronised per stage; forward = embeddings {:.2} + projections {:.2} + \
                 attention {:.2} + norms {:.2})",
                t.embeddings_s, t.projections_s, t.attention_s, t.norms_s
            )
        } else {
            " (asynchronous: download includes the device's queue)".to_string()
        },
        t.wait_s,
        t.write_s,
        t.wall_s,
        t.batches,
        t.tokens as f64 / t.batches.max(1) as f64
    )
}
