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

/// Exit statuses scripts can rely on (also in `papermap --help` and the README).
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
    use papermap::embed::EmbedError;
    use papermap::index::IndexError;
    use papermap::search::SearchError;
    use papermap::topics::TopicsError;
    for c in e.chain() {
        if let Some(f) = c.downcast_ref::<Failure>() {
            return f.code;
        }
        if let Some(e) = c.downcast_ref::<IndexError>() {
            match e {
                IndexError::Damaged { .. } | IndexError::Partial { .. } => return exit::DAMAGED,
                IndexError::Missing(_) => return exit::NOT_FOUND,
                IndexError::Locked(_) => return exit::LOCKED,
                _ => {}
            }
        }
        if let Some(e) = c.downcast_ref::<SearchError>() {
            match e {
                SearchError::UnknownPaper { .. } => return exit::NOT_FOUND,
                SearchError::EmptyQuery | SearchError::ZeroK => return exit::USAGE,
                _ => {}
            }
        }
        if let Some(EmbedError::NotFound(_)) = c.downcast_ref::<EmbedError>() {
            return exit::NOT_FOUND;
        }
        if let Some(
            TopicsError::BadK(_) | TopicsError::BadParam(_) | TopicsError::TooManyTopics { .. },
        ) = c.downcast_ref::<TopicsError>()
        {
            return exit::USAGE;
        }
        if let Some(CorpusError::Access { source, .. } | CorpusError::Read { source, .. }) =
            c.downcast_ref::<CorpusError>()
        {
            if source.kind() == std::io::ErrorKind::NotFound {
                return exit::NOT_FOUND;
            }
        }
    }
    exit::ERROR
}
