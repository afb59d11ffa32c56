//! Archives that are not digests: arXiv's metadata snapshot, Hugging Face Daily Papers JSON, and
//! any table (JSON Lines, CSV, Parquet), read as a stream of [`Paper`] batches.
//!
//! A format is found by extension and content ([`detect`]); `--format` overrides it. Every
//! reader holds one batch of records at a time, never the whole file, so the 4.5 GB snapshot
//! reads in bounded memory. Records are parsed in parallel, batch by batch, on a reader thread's
//! lines.
//!
//! A bad record never stops a file and is never dropped silently: it is skipped with a
//! [`Warning`] that names `file:line` (a JSON array's or Parquet file's `file:N` counts records
//! from 1), and [`Tally::bad`] counts it. A file cut short (gzip, zstd, Parquet) keeps the
//! records read before the cut, with a warning.

mod arxiv;
mod hf_daily;
pub mod input;
mod table;

use std::fmt;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use rayon::prelude::*;
use serde::Serialize;

use super::{CorpusError, Notes, Paper, Warning, WarningKind};

pub use table::Fields;

/// How a source file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// A Daily Papers Markdown digest.
    Digest,
    /// arXiv's metadata snapshot (`arxiv-metadata-oai-snapshot.json`, JSON Lines).
    Arxiv,
    /// Hugging Face's `/api/daily_papers` answers: one day or many per file.
    HfDaily,
    /// A table as JSON Lines (or one JSON array of records).
    Jsonl,
    /// A table as CSV with a header row (tab-separated for `.tsv`).
    Csv,
    /// A table as Parquet.
    Parquet,
}

impl Format {
    /// Every format, in the order `--format` lists them.
    pub const ALL: [Format; 6] = [
        Format::Digest,
        Format::Arxiv,
        Format::HfDaily,
        Format::Jsonl,
        Format::Csv,
        Format::Parquet,
    ];

    /// Name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Digest => "digest",
            Format::Arxiv => "arxiv",
            Format::HfDaily => "hf-daily",
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
            Format::Parquet => "parquet",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
                format!("unknown format {s:?}: use one of {}", names.join(", "))
            })
    }
}

/// A slice of an archive chosen while reading: `--categories` and `--since`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    /// arXiv categories; one ending in `.` (`cs.`) is a prefix. Empty: every category.
    pub categories: Vec<String>,
    /// `YYYY-MM-DD`: papers dated earlier are left out.
    pub since: Option<String>,
}

/// Why a paper was left out by the selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Skip {
    Category,
    Date,
}

impl Selection {
    /// Parses `--categories cs.CL,cs.LG` (commas or spaces).
    pub fn categories_from(list: &str) -> Vec<String> {
        list.split([',', ' '])
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// Whether the selection keeps `paper`. A paper whose source names no categories (a digest)
    /// is kept by `--categories`, so digests and an arXiv slice can be read together; an undated
    /// paper is kept by `--since` for the same reason.
    fn skip(&self, paper: &Paper) -> Option<Skip> {
        if !self.categories.is_empty()
            && !paper.categories.is_empty()
            && !paper.categories.iter().any(|c| self.category_matches(c))
        {
            return Some(Skip::Category);
        }
        match (&self.since, &paper.date) {
            (Some(since), Some(date)) if date.as_str() < since.as_str() => Some(Skip::Date),
            _ => None,
        }
    }

    fn category_matches(&self, category: &str) -> bool {
        self.categories.iter().any(|want| {
            if want.ends_with('.') {
                category.starts_with(want.as_str())
            } else {
                category == want
            }
        })
    }

    /// `batch` less the papers the selection leaves out, counted in `tally`.
    pub fn apply(&self, mut batch: Vec<Paper>, tally: &mut Tally) -> Vec<Paper> {
        if self.is_everything() {
            return batch;
        }
        batch.retain(|p| match self.skip(p) {
            Some(Skip::Category) => {
                tally.by_category += 1;
                false
            }
            Some(Skip::Date) => {
                tally.by_date += 1;
                false
            }
            None => true,
        });
        batch
    }

    /// Whether anything is selected out at all.
    pub fn is_everything(&self) -> bool {
        self.categories.is_empty() && self.since.is_none()
    }
}

/// How the sources are read: the format (found per file when `None`), the slice, the fields.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// `--format`: read every file as this.
    pub format: Option<Format>,
    /// `--categories` and `--since`: which records are kept (all, when neither is given).
    pub select: Selection,
    /// `--id-field` and the others, for tables.
    pub fields: Fields,
}

/// What reading did with the records it found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Records found in archive files (digest entries are counted in [`super::Corpus::entries`]).
    pub records: usize,
    /// Records skipped with a warning.
    pub bad: usize,
    /// Papers left out by `--categories`.
    pub by_category: usize,
    /// Papers left out by `--since`.
    pub by_date: usize,
}

impl Tally {
    /// Adds another file's counts.
    pub fn add(&mut self, other: Tally) {
        self.records += other.records;
        self.bad += other.bad;
        self.by_category += other.by_category;
        self.by_date += other.by_date;
    }
}

/// Records per parallel batch: enough to keep two cores busy, little enough to stay small.
const BATCH_LINES: usize = 16_384;

/// Largest whole-document JSON read at once (an HF day file, a JSON array table); larger files
/// must be JSON Lines, which stream.
pub const MAX_DOCUMENT_BYTES: u64 = 1 << 30;

/// The format of `path`: its extension (after `.gz`/`.zst`), then its content for JSON.
pub fn detect(path: &Path) -> Result<Format, CorpusError> {
    let ext = inner_extension(path);
    Ok(match ext.as_str() {
        "parquet" | "pq" => Format::Parquet,
        "csv" | "tsv" => Format::Csv,
        "json" | "jsonl" | "ndjson" => sniff_json(&input::head(path, 1 << 16)?),
        _ => {
            // Parquet's magic, whatever the name.
            let head = input::head(path, 4)?;
            if head == b"PAR1" {
                Format::Parquet
            } else {
                Format::Digest
            }
        }
    })
}

/// Whether a file found while walking a directory is a source: a digest or an archive.
pub fn is_source_name(path: &Path) -> bool {
    matches!(
        inner_extension(path).as_str(),
        "md" | "txt" | "json" | "jsonl" | "ndjson" | "csv" | "tsv" | "parquet"
    )
}

/// The extension that says the format: `x.json.gz` gives `json`, lower case.
fn inner_extension(path: &Path) -> String {
    let lower = |p: &Path| {
        p.extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    let ext = lower(path);
    if matches!(ext.as_str(), "gz" | "zst" | "zstd") {
        lower(&PathBuf::from(path.file_stem().unwrap_or_default()))
    } else {
        ext
    }
}

/// Tells the JSON formats apart by their first record.
fn sniff_json(head: &[u8]) -> Format {
    let text = String::from_utf8_lossy(head);
    let text = text.trim_start_matches('\u{feff}').trim_start();
    let first_line = text.lines().next().unwrap_or("");
    let first: Option<serde_json::Value> = serde_json::from_str(first_line).ok();
    let looks = |v: &serde_json::Value| -> Format {
        if v.get("paper").is_some_and(|p| p.is_object()) {
            Format::HfDaily
        } else if v.get("versions").is_some() && v.get("abstract").is_some() {
            Format::Arxiv
        } else {
            Format::Jsonl
        }
    };
    if let Some(v @ serde_json::Value::Object(map)) = &first {
        // `{"2024-01-02": [...], ...}`: many days of the feed in one object.
        if !map.is_empty()
            && map
                .iter()
                .all(|(day, d)| d.is_array() && iso_day(day).is_some())
        {
            return Format::HfDaily;
        }
        return looks(v);
    }
    if text.starts_with('[') {
        // A JSON array: look at its first element, as far as the head holds it.
        let mut de = serde_json::Deserializer::from_str(text.trim_start_matches('[').trim_start())
            .into_iter::<serde_json::Value>();
        if let Some(Ok(v)) = de.next() {
            return looks(&v);
        }
        // An element longer than the head: the feed's entries nest a `paper` object early.
        if text.contains("\"paper\"") {
            return Format::HfDaily;
        }
        return Format::Jsonl;
    }
    if text.starts_with('{') {
        // A first record longer than the head (or damaged): keys still tell.
        if text.contains("\"versions\"") && text.contains("\"abstract\"") {
            return Format::Arxiv;
        }
        if text.contains("\"paper\"") {
            return Format::HfDaily;
        }
    }
    Format::Jsonl
}

/// Where a file's papers go: the selection is applied and counted here.
pub(crate) struct Out<'a> {
    select: &'a Selection,
    pub(crate) tally: Tally,
    pub(crate) notes: Notes,
    sink: &'a mut dyn FnMut(Vec<Paper>),
}

impl Out<'_> {
    /// Hands a batch of parsed papers on, less those the selection leaves out.
    pub(crate) fn papers(&mut self, batch: Vec<Paper>) {
        let batch = self.select.apply(batch, &mut self.tally);
        if !batch.is_empty() {
            (self.sink)(batch);
        }
    }

    /// A record skipped: counted and warned about.
    pub(crate) fn bad(&mut self, line: usize, message: String) {
        self.tally.bad += 1;
        self.notes.warn(line, WarningKind::BadRecord, message);
    }
}

/// A record that became no paper, and why.
pub(crate) type Refusal = String;

/// A record's paper, with a note on any optional field it had to leave out; or why it is none.
pub(crate) type Parsed = Result<(Paper, Option<String>), Refusal>;

/// Reads one archive file of `format` (not a digest), handing its papers to `sink` in batches.
/// Returns the file's counts and warnings.
pub fn read_file(
    path: &Path,
    format: Format,
    opts: &ReadOptions,
    sink: &mut dyn FnMut(Vec<Paper>),
) -> Result<(Tally, Vec<Warning>), CorpusError> {
    let mut out = Out {
        select: &opts.select,
        tally: Tally::default(),
        notes: Notes::new(path),
        sink,
    };
    match format {
        Format::Digest => read_digest(path, &mut out)?,
        Format::Arxiv => read_lines(path, &mut out, |line, n| {
            arxiv::paper(line, path, n).map(|p| (p, None))
        })?,
        Format::HfDaily => hf_daily::read(path, &mut out)?,
        Format::Jsonl => table::read_json(path, &opts.fields, &mut out)?,
        Format::Csv => table::read_csv(path, &opts.fields, &mut out)?,
        Format::Parquet => table::read_parquet(path, &opts.fields, &mut out)?,
    }
    if out.tally.records == 0 && out.notes.warnings.is_empty() {
        out.notes.warn(
            0,
            WarningKind::NoPapers,
            format!("holds no {format} records"),
        );
    }
    Ok((out.tally, out.notes.finish()))
}

/// A digest named with `--format digest`: parsed whole, as digests always are.
fn read_digest(path: &Path, out: &mut Out) -> Result<(), CorpusError> {
    let bytes = super::read_digest(path)?;
    let (papers, warnings) = super::parse_bytes(&bytes, path);
    out.tally.records += papers.len();
    for w in warnings {
        out.notes.warn(w.line, w.kind, w.message);
    }
    out.papers(papers);
    Ok(())
}

/// Lines of a file in batches, read on their own thread while the previous batch parses.
struct LineBatch {
    text: Vec<u8>,
    /// (start offset in `text`, 1-based line number) of each line; a line ends at the next start.
    lines: Vec<(usize, usize)>,
}

impl LineBatch {
    fn line(&self, i: usize) -> &[u8] {
        let start = self.lines[i].0;
        let end = self.lines.get(i + 1).map_or(self.text.len(), |l| l.0);
        let l = &self.text[start..end];
        let l = l.strip_suffix(b"\n").unwrap_or(l);
        l.strip_suffix(b"\r").unwrap_or(l)
    }
}

/// Reads JSON Lines: each non-blank line through `parse` (in parallel within a batch), papers
/// to `out`. A line that is not UTF-8, or that `parse` refuses, is a bad record; a stream cut
/// short keeps what came before, with a warning.
pub(crate) fn read_lines<F>(path: &Path, out: &mut Out, parse: F) -> Result<(), CorpusError>
where
    F: Fn(&str, usize) -> Parsed + Sync,
{
    let reader = input::reader(path)?;
    let (tx, rx) = mpsc::sync_channel::<LineBatch>(2);
    std::thread::scope(|scope| {
        let producer = scope.spawn(move || split_lines(reader, &tx));
        for batch in rx {
            let parsed: Vec<Option<Parsed>> = (0..batch.lines.len())
                .into_par_iter()
                .map(|i| {
                    let n = batch.lines[i].1;
                    let line = match std::str::from_utf8(batch.line(i)) {
                        Ok(l) => l,
                        Err(e) => return Some(Err(format!("line {n}: invalid UTF-8: {e}"))),
                    };
                    let line = line.trim_start_matches('\u{feff}');
                    if line.trim().is_empty() {
                        return None;
                    }
                    Some(parse(line, n))
                })
                .collect();
            let mut papers = Vec::with_capacity(parsed.len());
            for (i, p) in parsed.into_iter().enumerate() {
                match p {
                    None => {}
                    Some(Ok((p, note))) => {
                        out.tally.records += 1;
                        if let Some(note) = note {
                            out.notes
                                .warn(batch.lines[i].1, WarningKind::BadField, note);
                        }
                        papers.push(p);
                    }
                    Some(Err(why)) => {
                        out.tally.records += 1;
                        out.bad(batch.lines[i].1, why);
                    }
                }
            }
            out.papers(papers);
        }
        match producer.join() {
            Ok(Ok(())) => Ok(()),
            Ok(Err((line, e))) => {
                cut_short(out, line, &e);
                Ok(())
            }
            Err(_) => Err(CorpusError::Read {
                path: path.to_path_buf(),
                source: std::io::Error::other("the reading thread failed"),
            }),
        }
    })
}

/// The warning for a stream that ended in an error (gzip cut short, a read error).
pub(crate) fn cut_short(out: &mut Out, line: usize, e: &std::io::Error) {
    out.notes.warn(
        line,
        WarningKind::CutShort,
        format!(
            "the file ends early or cannot be read past here ({e}); the records before it are kept"
        ),
    );
}

/// Splits `reader` into batches of [`BATCH_LINES`] lines, sent on `tx`. An I/O error ends it,
/// with the line it happened on.
fn split_lines(
    mut reader: Box<dyn BufRead + Send>,
    tx: &mpsc::SyncSender<LineBatch>,
) -> Result<(), (usize, std::io::Error)> {
    let mut lineno = 0usize;
    loop {
        let mut batch = LineBatch {
            text: Vec::with_capacity(8 << 20),
            lines: Vec::with_capacity(BATCH_LINES),
        };
        let mut end = false;
        let mut error = None;
        while batch.lines.len() < BATCH_LINES {
            let start = batch.text.len();
            match reader.read_until(b'\n', &mut batch.text) {
                Ok(0) => {
                    end = true;
                    break;
                }
                Ok(_) => {
                    lineno += 1;
                    batch.lines.push((start, lineno));
                }
                Err(e) => {
                    // A partial last line before the error is not a record.
                    batch.text.truncate(start);
                    error = Some((lineno + 1, e));
                    break;
                }
            }
        }
        if !batch.lines.is_empty() && tx.send(batch).is_err() {
            return Ok(());
        }
        if let Some(e) = error {
            return Err(e);
        }
        if end {
            return Ok(());
        }
    }
}

/// A JSON error without serde's `at line 1 column N` (a line of JSON Lines is always line 1 of
/// its own parse; the warning names the file's line).
pub(crate) fn json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(at) => format!("{} (column {})", &text[..at], e.column()),
        None => text,
    }
}

/// Collapses runs of whitespace (arXiv's line wrapping) to one space and trims.
pub(crate) fn normalise_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// `YYYY-MM-DD` at the start of `s` (an ISO date or timestamp), if it is a calendar date.
pub(crate) fn iso_day(s: &str) -> Option<String> {
    let d = s.trim().get(..10)?;
    super::dates::calendar_day(d).map(|_| d.to_string())
}

/// The abstract link of an arXiv-shaped id, else `None`.
pub(crate) fn arxiv_url(id: &str) -> Option<String> {
    let old_style = id.contains('/') && !id.contains(':');
    let new_style = crate::text::arxiv::is_new_style(id);
    (old_style || new_style).then(|| format!("https://arxiv.org/abs/{id}"))
}
