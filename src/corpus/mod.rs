//! Digest parsing: Daily Papers Markdown digests into [`Paper`] records.
//!
//! A digest is a Markdown file with a `## Daily Papers (YYYY-MM-DD)` heading and one
//! `### [Title](https://arxiv.org/abs/ID)` entry per paper. A paper runs from its `### `
//! heading to the next line that starts with `### ` or `## `, or to the end of the file.
//! Inside an entry the parser recognises (by content, never by date, so every era of the
//! archive and any future mix of them parse the same way):
//!
//! - a thumbnail line `![](url)`, a `Vote: N` line (`Vote: -` means unknown), an
//!   `Authors: a, b, +, c` line (also written as a Python list `['a', 'b']`);
//! - bullet lines (`- ` after leading spaces), which form the summary; a leading bold label
//!   (`***What's New***:` or `**What's New**:`) is removed from the summary and, for the
//!   three known labels, starts the matching labelled section.
//!
//! The summary text follows the reference definition exactly (see
//! `shared/reference/README.md`, "Text definitions"), because the embedding stage must
//! reproduce the reference model inputs byte for byte.
//!
//! Bad input never panics and is never dropped silently; each case gets a [`Warning`]:
//!
//! - empty file, or a file without any `### ` heading: a file-level warning (line 0);
//! - a `### ` heading without a usable `[title](link)`: the entry is skipped, with a warning;
//! - an entry without bullet lines: kept, with an empty summary ([`Paper::has_summary`] is
//!   false), and a warning;
//! - invalid UTF-8: decoded lossily (invalid sequences become U+FFFD) and a warning names
//!   the file and the byte offset of the first invalid byte. Lossy decoding was chosen over
//!   rejecting the file because one damaged byte should not hide a whole day of papers;
//! - CRLF line endings and a leading byte order mark give the same result as clean LF text;
//! - unreadable paths are a [`CorpusError`] naming the path;
//! - past [`MAX_WARNINGS_PER_KIND`] warnings of one kind in a file, the rest are counted in
//!   one summary warning instead of being listed.
//!
//! The same arXiv id on several days is one paper (see [`load`]); every location is
//! reported in [`Corpus::duplicates`].

pub mod archive;
mod census;
pub mod dates;
mod parse;
mod spill;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use census::{census, Census};
pub use parse::{is_web_link, parse_bytes, parse_digest};
pub use spill::{Spill, SpilledCorpus};

/// At most this many warnings of one kind are listed per file; the rest are counted in one
/// summary warning of the same kind, so a damaged file cannot flood memory or the terminal.
pub const MAX_WARNINGS_PER_KIND: usize = 100;

/// Where an entry was found: the file and the 1-based line of its `### ` heading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceLoc {
    /// The digest file, as given or as found under a given directory.
    #[serde(serialize_with = "serialize_path_lossy")]
    pub file: PathBuf,
    /// 1-based line of the entry's `### ` heading.
    pub line: usize,
}

impl fmt::Display for SourceLoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// Paths are written lossily so that a non-UTF-8 file name cannot make JSON output fail.
fn serialize_path_lossy<S: serde::Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&path.to_string_lossy())
}

/// One paper of the digests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paper {
    /// arXiv id (version suffix removed) or, for a non-arXiv link, the link itself.
    pub arxiv_id: String,
    /// Title exactly as written (LaTeX included), surrounding whitespace removed.
    pub title: String,
    /// The heading's link target.
    pub url: String,
    /// YYYY-MM-DD of the first appearance, if any date is known.
    pub date: Option<String>,
    /// Every date the paper appeared on, sorted and deduplicated.
    pub dates: Vec<String>,
    /// `Vote: N`; `None` for `Vote: -` or when the entry has no vote line.
    pub votes: Option<u32>,
    /// Author names, without the `+` placeholder of elided authors.
    pub authors: Vec<String>,
    /// Link of the first `![](...)` image line of the entry.
    pub thumbnail: Option<String>,
    /// Text of the `What's New` section, if the entry has labelled sections.
    pub whats_new: Option<String>,
    /// Text of the `Technical Details` section.
    pub technical_details: Option<String>,
    /// Text of the `Performance Highlights` section.
    pub performance_highlights: Option<String>,
    /// Summary text as defined by the reference (bullet lines, labels removed, `\n`-joined);
    /// the digest's, empty for a paper only an archive names.
    pub summary: String,
    /// The paper's own abstract (arXiv's metadata, Hugging Face's feed, a table's text field),
    /// whitespace normalised; a paper found in a digest and an archive carries both texts.
    #[serde(rename = "abstract", default, skip_serializing_if = "Option::is_none")]
    pub abstract_text: Option<String>,
    /// arXiv categories (`cs.CL`, `hep-th`), primary first, when the source names them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    /// Where the (kept) entry was found.
    pub source: SourceLoc,
}

impl Paper {
    /// Whether the paper has summary text; later stages skip papers without one.
    pub fn has_summary(&self) -> bool {
        !self.summary.is_empty()
    }

    /// Whether the paper has any text of its own: a digest summary or an abstract.
    pub fn has_text(&self) -> bool {
        self.has_summary() || self.abstract_text.as_deref().is_some_and(|a| !a.is_empty())
    }

    /// The digest summary, or the abstract of a paper no digest summarised.
    pub fn text(&self) -> &str {
        if self.has_summary() {
            &self.summary
        } else {
            self.abstract_text.as_deref().unwrap_or("")
        }
    }

    /// The month (`YYYY-MM`) of the first appearance, if the date is known.
    pub fn month(&self) -> Option<&str> {
        self.date.as_deref().and_then(month_of)
    }
}

/// The month (`YYYY-MM`) of a date (`YYYY-MM-DD`); `None` when it is shorter, or its seventh
/// byte is inside a character (a date field of any text, never a panic).
pub fn month_of(date: &str) -> Option<&str> {
    date.get(..7)
}

/// What a [`Warning`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// The file is empty.
    EmptyFile,
    /// The file has no `### ` paper heading.
    NoPapers,
    /// The file is not valid UTF-8 and was decoded lossily.
    InvalidUtf8,
    /// A `### ` heading has no usable `[title](link)`; the entry was skipped.
    HeadingWithoutLink,
    /// A heading's title is empty.
    EmptyTitle,
    /// An entry has no bullet lines, so no summary.
    NoSummary,
    /// A `Vote:` line whose value is neither a number nor `-`.
    BadVote,
    /// A `## Daily Papers` heading without a valid date.
    BadDateHeading,
    /// The heading date differs from the date in the file's path.
    DateMismatch,
    /// Papers for which no date is known (no date heading, none in the path).
    NoDate,
    /// Bullet lines outside any paper entry, ignored.
    StrayBullets,
    /// A directory given to [`load`] holds no `*.md`/`*.txt` file.
    NoDigestFiles,
    /// A directory entry named like a digest is not a regular file (a FIFO, a socket, a
    /// device); it was skipped unread.
    NotAFile,
    /// A heading or image link is not `http(s)`; it is kept as text, never as a link.
    UnsafeLink,
    /// A date no paper can bear (before arXiv began, or after today): the papers keep it, but
    /// trends and the brief's default day leave them out.
    ImplausibleDate,
    /// An archive record that is not a paper (invalid JSON, no id or title, a wrong type); it
    /// was skipped.
    BadRecord,
    /// An archive record's optional field that could not be read (a date, votes, authors); the
    /// paper is kept without it.
    BadField,
    /// A file that ends early (a gzip, zstd or Parquet file cut short) or cannot be read past a
    /// point; the records before it are kept.
    CutShort,
}

/// A problem found in the input that did not stop parsing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// The file (or directory) concerned.
    #[serde(serialize_with = "serialize_path_lossy")]
    pub file: PathBuf,
    /// 1-based line; 0 when the warning concerns the whole file or directory.
    pub line: usize,
    /// The category, for code and tests to match on rather than the message's wording.
    pub kind: WarningKind,
    /// The explanation printed after `FILE:LINE: `, in plain English.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Line 0 means "the whole file": print it anyway so every warning has one shape.
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

/// Errors that stop loading: paths that cannot be read.
///
/// The message names the path; the I/O reason is the error's `source()`, so `{:#}` with
/// anyhow prints `cannot read PATH: reason` without repeating it.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// A file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The digest or archive file that could not be opened or read.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A directory could not be listed.
    #[error("cannot list directory {}", path.display())]
    ReadDir {
        /// The directory, given or met while walking one, whose entries could not be listed.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A path does not exist or its type cannot be determined.
    #[error("cannot access {}", path.display())]
    Access {
        /// The argument, or an entry met while walking a directory (a dangling symlink).
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A path given as an argument is neither a regular file nor a directory.
    #[error("{} is not a regular file or a directory", path.display())]
    NotAFile {
        /// The argument as given: a FIFO, a socket or a device.
        path: PathBuf,
    },
    /// The scratch file holding a run's papers could not be written or read back.
    #[error("cannot write or read back the papers of this run in {}", path.display())]
    Scratch {
        /// `run-papers.jsonl` in the scratch directory, or the `.PID.tmp` file it is written as.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A digest larger than [`MAX_DIGEST_BYTES`]: refused without reading it.
    #[error("{} is {size} bytes, larger than a digest can be ({} bytes)", path.display(), MAX_DIGEST_BYTES)]
    TooLarge {
        /// The digest file that was refused.
        path: PathBuf,
        /// Its size in bytes as reported, or the bytes read (one past the limit) if that was wrong.
        size: u64,
    },
}

/// The largest digest file read (256 MiB; a real day is 5-50 KiB). Larger files, and files whose
/// size the system does not report (a device, `/proc`), are refused rather than read into memory.
pub const MAX_DIGEST_BYTES: u64 = 256 << 20;

/// All papers of a set of digests, deduplicated by id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Corpus {
    /// Unique papers, in the order of their kept entry (file order, then line).
    pub papers: Vec<Paper>,
    /// Everything odd found while parsing, in file order.
    pub warnings: Vec<Warning>,
    /// Number of digest files parsed.
    pub files: usize,
    /// Number of paper entries parsed, before deduplication.
    pub entries: usize,
    /// Ids seen more than once, with every location (the kept one first).
    pub duplicates: Vec<(String, Vec<SourceLoc>)>,
    /// Archive records read, skipped as bad, and left out by the selection.
    pub tally: archive::Tally,
}

impl Corpus {
    /// Number of unique papers per month (`YYYY-MM`; `unknown` for undated papers).
    pub fn papers_per_month(&self) -> BTreeMap<String, usize> {
        let mut months = BTreeMap::new();
        for p in &self.papers {
            let key = p.month().unwrap_or("unknown").to_string();
            *months.entry(key).or_insert(0) += 1;
        }
        months
    }

    /// Number of unique papers without summary text.
    pub fn without_summary(&self) -> usize {
        self.papers.iter().filter(|p| !p.has_summary()).count()
    }
}

/// Whether a directory is a papermap index (its papers file is JSON Lines, not a source).
fn is_index_dir(dir: &Path) -> bool {
    dir.join("manifest.json").is_file() && dir.join("vectors").is_dir()
}

/// Expands `paths` into the list of files to parse.
///
/// Files given explicitly are always parsed (the user asked for them); directories are
/// walked recursively for `*.md`/`*.txt`, sorted by path so `YYYY/MM/DD.md` archives come
/// out in date order. Hidden entries (name starting with `.`) are skipped, and each
/// directory is visited once, so symlink loops cannot recurse forever.
fn collect_files(
    paths: &[PathBuf],
    warnings: &mut Vec<Warning>,
) -> Result<Vec<PathBuf>, CorpusError> {
    let mut files = Vec::new();
    let mut visited = HashSet::new();
    for path in paths {
        let meta = fs::metadata(path).map_err(|source| CorpusError::Access {
            path: path.clone(),
            source,
        })?;
        if meta.is_dir() {
            let before = files.len();
            walk_dir(path, &mut files, &mut visited, warnings)?;
            if files.len() == before {
                warnings.push(Warning {
                    file: path.clone(),
                    line: 0,
                    kind: WarningKind::NoDigestFiles,
                    message: "directory holds no digest (.md, .txt) or archive (.json, .jsonl, .csv, .parquet) files".to_string(),
                });
            }
        } else if meta.is_file() {
            files.push(path.clone());
        } else {
            return Err(CorpusError::NotAFile { path: path.clone() });
        }
    }
    Ok(files)
}

/// Appends the digest files under `dir` (recursively, sorted) to `files`.
fn walk_dir(
    dir: &Path,
    files: &mut Vec<PathBuf>,
    visited: &mut HashSet<PathBuf>,
    warnings: &mut Vec<Warning>,
) -> Result<(), CorpusError> {
    let canonical = fs::canonicalize(dir).map_err(|source| CorpusError::Access {
        path: dir.to_path_buf(),
        source,
    })?;
    if !visited.insert(canonical) {
        return Ok(());
    }
    let read_dir_err = |source| CorpusError::ReadDir {
        path: dir.to_path_buf(),
        source,
    };
    let mut children = Vec::new();
    for entry in fs::read_dir(dir).map_err(read_dir_err)? {
        let entry = entry.map_err(read_dir_err)?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        children.push(entry.path());
    }
    children.sort();
    for child in children {
        // `metadata` follows symlinks: a link to a digest is a digest, and a dangling
        // link is an error rather than a silently missing day.
        let meta = fs::metadata(&child).map_err(|source| CorpusError::Access {
            path: child.clone(),
            source,
        })?;
        if meta.is_dir() {
            if !is_index_dir(&child) {
                walk_dir(&child, files, visited, warnings)?;
            }
        } else if archive::is_source_name(&child) {
            if meta.is_file() {
                files.push(child);
            } else {
                // Reading a FIFO blocks for ever, a device never ends.
                warnings.push(Warning {
                    file: child,
                    line: 0,
                    kind: WarningKind::NotAFile,
                    message: "not a regular file; skipped".to_string(),
                });
            }
        }
    }
    Ok(())
}

/// Loads digests: files, or every `*.md`/`*.txt` under a directory (recursively, sorted).
///
/// Entries with the same id are merged into one paper: the first appearance in date order
/// (undated entries last, ties broken by input order) is kept, `dates` lists every date,
/// and all locations are listed in [`Corpus::duplicates`].
///
/// # Errors
///
/// [`CorpusError`] when a path, a directory entry or a file cannot be read; the error
/// names the path. Files that can be read never cause an error, only warnings.
pub fn load(paths: &[PathBuf]) -> Result<Corpus, CorpusError> {
    load_with(paths, &archive::ReadOptions::default())
}

/// [`load`] of digests and archives alike (see [`archive`]): each file's format is found by
/// extension and content unless `opts.format` names it, and `opts.select` takes a slice. A paper
/// several sources name is one paper, carrying what each gave (see [`absorb`]).
pub fn load_with(paths: &[PathBuf], opts: &archive::ReadOptions) -> Result<Corpus, CorpusError> {
    let mut entries = Vec::new();
    let read = stream(paths, opts, &mut |batch| entries.extend(batch))?;
    let entry_count = entries.len();
    let (papers, duplicates) = dedup(entries);
    Ok(Corpus {
        papers,
        warnings: read.warnings,
        files: read.files,
        entries: entry_count,
        duplicates,
        tally: read.tally,
    })
}

/// [`load_with`] into a [`SpilledCorpus`] whose scratch file lies in `dir`: the papers wait on
/// disk, so that reading all of arXiv holds a batch at a time, not the archive.
pub fn spill(
    paths: &[PathBuf],
    opts: &archive::ReadOptions,
    dir: &Path,
) -> Result<(SpilledCorpus, Streamed), CorpusError> {
    let mut spill = Spill::create(dir)?;
    let read = stream(paths, opts, &mut |batch| spill.push(batch))?;
    Ok((spill.finish()?, read))
}

/// What [`stream`] read, besides the papers it handed on.
#[derive(Debug, Default)]
pub struct Streamed {
    /// Files read: those given plus the digests and archives found in the directories given.
    pub files: usize,
    /// Every warning, in file order.
    pub warnings: Vec<Warning>,
    /// Archive records read, skipped and selected out.
    pub tally: archive::Tally,
    /// Whether every file was a digest (so the whole input is small and may be held).
    pub only_digests: bool,
}

/// Digests parsed in parallel at a time: a whole archive of days in a few steps, in bounded
/// memory however many there are.
const DIGESTS_PER_STEP: usize = 256;

/// Reads `paths` in order, handing each file's papers (selected, not deduplicated) to `sink` in
/// batches: never more than a batch of one archive, or a step of digests, held at once.
pub fn stream(
    paths: &[PathBuf],
    opts: &archive::ReadOptions,
    sink: &mut dyn FnMut(Vec<Paper>),
) -> Result<Streamed, CorpusError> {
    let mut read = Streamed {
        only_digests: true,
        ..Streamed::default()
    };
    let files = collect_files(paths, &mut read.warnings)?;
    read.files = files.len();
    let formats: Vec<archive::Format> = match opts.format {
        Some(f) => vec![f; files.len()],
        None => files
            .par_iter()
            .map(|f| archive::detect(f))
            .collect::<Result<_, _>>()?,
    };
    let mut i = 0;
    while i < files.len() {
        if formats[i] != archive::Format::Digest {
            read.only_digests = false;
            let (tally, warnings) = archive::read_file(&files[i], formats[i], opts, sink)?;
            read.tally.add(tally);
            read.warnings.extend(warnings);
            i += 1;
            continue;
        }
        // A run of digests, a step at a time, parsed in parallel; `collect` keeps the order.
        let mut end = i;
        while end < files.len()
            && end - i < DIGESTS_PER_STEP
            && formats[end] == archive::Format::Digest
        {
            end += 1;
        }
        let parsed: Vec<(Vec<Paper>, Vec<Warning>)> = files[i..end]
            .par_iter()
            .map(|file| Ok(parse_bytes(&read_digest(file)?, file)))
            .collect::<Result<_, CorpusError>>()?;
        for (papers, warnings) in parsed {
            read.warnings.extend(warnings);
            let papers = opts.select.apply(papers, &mut read.tally);
            if !papers.is_empty() {
                sink(papers);
            }
        }
        i = end;
    }
    Ok(read)
}

/// Reads one digest, at most [`MAX_DIGEST_BYTES`] (checked before reading, and again while
/// reading for files whose reported size is not their length).
pub(crate) fn read_digest(file: &Path) -> Result<Vec<u8>, CorpusError> {
    use std::io::Read;
    let read_err = |source| CorpusError::Read {
        path: file.to_path_buf(),
        source,
    };
    let f = fs::File::open(file).map_err(read_err)?;
    let size = f.metadata().map_err(read_err)?.len();
    if size > MAX_DIGEST_BYTES {
        return Err(CorpusError::TooLarge {
            path: file.to_path_buf(),
            size,
        });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    f.take(MAX_DIGEST_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_DIGEST_BYTES {
        return Err(CorpusError::TooLarge {
            path: file.to_path_buf(),
            size: bytes.len() as u64,
        });
    }
    Ok(bytes)
}

/// Merges entries with the same id (see [`load`]); `entries` are in input order.
pub fn dedup(entries: Vec<Paper>) -> (Vec<Paper>, Vec<(String, Vec<SourceLoc>)>) {
    // Group entry indices by id, groups in order of first sight.
    let mut group_of: HashMap<&str, usize> = HashMap::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, p) in entries.iter().enumerate() {
        let g = *group_of.entry(p.arxiv_id.as_str()).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(i);
    }
    // Date order, undated last, then input order: stable sort keeps input order on ties.
    let key = |i: &usize| (entries[*i].date.is_none(), entries[*i].date.clone());
    for group in &mut groups {
        group.sort_by_key(key);
    }

    let mut duplicates = Vec::new();
    for group in &groups {
        if group.len() > 1 {
            let locs = group.iter().map(|&i| entries[i].source.clone()).collect();
            duplicates.push((entries[group[0]].arxiv_id.clone(), locs));
        }
    }
    // Groups in order of their kept entry, as the papers come out.
    groups.sort_by_key(|g| g[0]);

    let mut slots: Vec<Option<Paper>> = entries.into_iter().map(Some).collect();
    let papers = groups
        .iter()
        .filter_map(|group| {
            let mut paper = slots.get_mut(group[0])?.take()?;
            for &other in &group[1..] {
                if let Some(other) = slots.get_mut(other).and_then(Option::take) {
                    absorb(&mut paper, other);
                }
            }
            paper.dates.sort();
            paper.dates.dedup();
            paper.date = paper.dates.first().cloned();
            Some(paper)
        })
        .collect();
    (papers, duplicates)
}

/// Folds a later entry of the same paper into the kept one: every date, and what the kept one
/// lacks (a digest entry gains arXiv's abstract and categories; an arXiv record gains a digest's
/// summary, votes and thumbnail). The kept entry's own fields win.
pub fn absorb(paper: &mut Paper, mut other: Paper) {
    paper.dates.append(&mut other.dates);
    paper.dates.sort();
    paper.dates.dedup();
    paper.date = paper.dates.first().cloned();
    if !paper.has_summary() && other.has_summary() {
        paper.summary = other.summary;
        paper.whats_new = other.whats_new;
        paper.technical_details = other.technical_details;
        paper.performance_highlights = other.performance_highlights;
    }
    if paper.abstract_text.is_none() {
        paper.abstract_text = other.abstract_text;
    }
    if paper.categories.is_empty() {
        paper.categories = other.categories;
    }
    if paper.authors.is_empty() {
        paper.authors = other.authors;
    }
    if paper.votes.is_none() {
        paper.votes = other.votes;
    }
    if paper.thumbnail.is_none() {
        paper.thumbnail = other.thumbnail;
    }
}

/// Warnings of one file, at most [`MAX_WARNINGS_PER_KIND`] of a kind listed, the rest counted.
pub(crate) struct Notes {
    path: PathBuf,
    warnings: Vec<Warning>,
    issued: HashMap<WarningKind, usize>,
    suppressed: Vec<(WarningKind, usize, usize)>,
}

impl Notes {
    /// No warnings yet, for the file at `path`.
    pub(crate) fn new(path: &Path) -> Notes {
        Notes {
            path: path.to_path_buf(),
            warnings: Vec::new(),
            issued: HashMap::new(),
            suppressed: Vec::new(),
        }
    }

    /// Lists a warning, or counts it when its kind is past the cap.
    pub(crate) fn warn(&mut self, line: usize, kind: WarningKind, message: String) {
        // A pathological file (millions of bad headings) must not produce millions of
        // warnings; past the cap they are counted and reported as one summary warning.
        let issued = self.issued.entry(kind).or_insert(0);
        *issued += 1;
        if *issued > MAX_WARNINGS_PER_KIND {
            match self.suppressed.iter_mut().find(|(k, _, _)| *k == kind) {
                Some((_, n, _)) => *n += 1,
                None => self.suppressed.push((kind, 1, line)),
            }
            return;
        }
        self.warnings.push(Warning {
            file: self.path.clone(),
            line,
            kind,
            message,
        });
    }

    /// The warnings, with one summary per kind past the cap.
    pub(crate) fn finish(mut self) -> Vec<Warning> {
        for (kind, n, first) in std::mem::take(&mut self.suppressed) {
            self.warnings.push(Warning {
                file: self.path.clone(),
                line: first,
                kind,
                message: format!(
                    "{n} more warning(s) of this kind in this file, from line {first} on, not listed"
                ),
            });
        }
        self.warnings
    }
}
