//! A reader's library: papers liked, saved or marked "not interested", saved searches and
//! followed authors, kept in the index directory under a name (`library/NAME.json`).
//!
//! Papers are kept by id, not by index row: a rebuilt or grown index keeps its readers'
//! libraries. Every change rewrites the file through [`crate::atomic::write`] (temporary
//! file, fsync, rename), so a crash leaves the old library or the new one, never a torn file.
//! [`recommend`] turns a library into recommendations; [`eval`] measures them.

pub mod eval;
pub mod recommend;
pub mod svm;
pub mod words;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The library used when none is named.
pub const DEFAULT_LIBRARY: &str = "default";
/// Longest library name, in bytes.
pub const MAX_NAME: usize = 64;

/// Why a library could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    /// A library name outside `[A-Za-z0-9_-]{1,64}` (it becomes a file name).
    #[error("library name {0:?}: use 1 to 64 letters, digits, '-' or '_'")]
    BadName(String),
    /// The library file could not be read or written.
    #[error("{path}")]
    Io {
        /// The library file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The library file is not a library.
    #[error("{path}: not a papermap library (line {line}): {msg}")]
    Corrupt {
        /// The library file.
        path: PathBuf,
        /// Line of the error (1-based).
        line: usize,
        /// What the JSON reader said.
        msg: String,
    },
}

/// What a reader said about a paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Mark {
    /// Liked: a positive example for recommendations.
    Like,
    /// Saved to read: also a positive example.
    Save,
    /// Not interested: a negative example, never recommended.
    Hide,
}

impl Mark {
    /// Whether recommendations learn this paper as one the reader wants.
    pub fn is_positive(self) -> bool {
        matches!(self, Mark::Like | Mark::Save)
    }
}

/// One marked paper.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The paper's id, as the index names it.
    pub id: String,
    /// What the reader said.
    pub mark: Mark,
    /// When, in seconds since 1970 (UTC).
    pub at: u64,
}

/// A library as stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Library {
    /// Marked papers, one entry per id, oldest first.
    #[serde(default)]
    pub papers: Vec<Entry>,
    /// Saved searches, as typed.
    #[serde(default)]
    pub searches: Vec<String>,
    /// Followed authors, as the papers name them.
    #[serde(default)]
    pub authors: Vec<String>,
}

impl Library {
    /// Marks paper `id` (a new mark replaces the old one); returns whether anything changed.
    pub fn mark(&mut self, id: &str, mark: Mark, at: u64) -> bool {
        if self.mark_of(id) == Some(mark) {
            return false;
        }
        self.papers.retain(|e| e.id != id);
        self.papers.push(Entry {
            id: id.to_string(),
            mark,
            at,
        });
        true
    }

    /// Removes paper `id`'s mark; returns whether it had one.
    pub fn unmark(&mut self, id: &str) -> bool {
        let before = self.papers.len();
        self.papers.retain(|e| e.id != id);
        self.papers.len() != before
    }

    /// Paper `id`'s mark, if it has one.
    pub fn mark_of(&self, id: &str) -> Option<Mark> {
        self.papers.iter().find(|e| e.id == id).map(|e| e.mark)
    }

    /// Adds `item` to `list` unless it is there (compared without case); returns whether it
    /// was added.
    fn add_to(list: &mut Vec<String>, item: &str) -> bool {
        let item = item.trim();
        if item.is_empty() || list.iter().any(|s| s.eq_ignore_ascii_case(item)) {
            return false;
        }
        list.push(item.to_string());
        true
    }

    /// Saves a search; returns whether it is new.
    pub fn save_search(&mut self, query: &str) -> bool {
        Self::add_to(&mut self.searches, query)
    }

    /// Follows an author; returns whether it is new.
    pub fn follow(&mut self, author: &str) -> bool {
        Self::add_to(&mut self.authors, author)
    }

    /// Drops a saved search or a followed author; returns whether one was dropped.
    pub fn forget(&mut self, item: &str) -> bool {
        let before = self.searches.len() + self.authors.len();
        self.searches
            .retain(|s| !s.eq_ignore_ascii_case(item.trim()));
        self.authors
            .retain(|s| !s.eq_ignore_ascii_case(item.trim()));
        self.searches.len() + self.authors.len() != before
    }
}

/// The file of library `name` in index directory `dir`.
pub fn path(dir: &Path, name: &str) -> Result<PathBuf, LibraryError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        return Err(LibraryError::BadName(name.to_string()));
    }
    Ok(dir.join("library").join(format!("{name}.json")))
}

/// Reads library `name` of index directory `dir`; an empty library when it has no file yet.
pub fn load(dir: &Path, name: &str) -> Result<Library, LibraryError> {
    let path = path(dir, name)?;
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Library::default()),
        Err(source) => return Err(LibraryError::Io { path, source }),
    };
    serde_json::from_slice(&bytes).map_err(|e| LibraryError::Corrupt {
        line: e.line(),
        msg: e.to_string(),
        path,
    })
}

/// Writes library `name` into index directory `dir`, atomically.
pub fn save(dir: &Path, name: &str, library: &Library) -> Result<(), LibraryError> {
    let path = path(dir, name)?;
    let io = |source| LibraryError::Io {
        path: path.clone(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let json = serde_json::to_vec_pretty(library).map_err(|e| io(std::io::Error::other(e)))?;
    crate::atomic::write(&path, &json).map_err(io)
}

/// Reads library `name`, applies `change`, and writes it back when `change` says it changed
/// something; returns what `change` returned.
pub fn update<T>(
    dir: &Path,
    name: &str,
    change: impl FnOnce(&mut Library) -> (bool, T),
) -> Result<T, LibraryError> {
    let mut lib = load(dir, name)?;
    let (changed, out) = change(&mut lib);
    if changed {
        save(dir, name, &lib)?;
    }
    Ok(out)
}

/// Seconds since 1970, for an entry's `at`.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_searches_and_authors_round_trip_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path(), "default").unwrap(), Library::default());
        update(dir.path(), "default", |l| {
            let a = l.mark("2401.15077", Mark::Like, 10);
            let b = l.mark("2402.00001", Mark::Hide, 11);
            let c = l.save_search("speculative decoding");
            let d = l.follow("Tri Dao");
            (a && b && c && d, ())
        })
        .unwrap();
        let lib = load(dir.path(), "default").unwrap();
        assert_eq!(lib.mark_of("2401.15077"), Some(Mark::Like));
        assert_eq!(lib.mark_of("2402.00001"), Some(Mark::Hide));
        assert_eq!(lib.searches, ["speculative decoding"]);
        assert_eq!(lib.authors, ["Tri Dao"]);
        // Another library of the same index is separate.
        assert_eq!(load(dir.path(), "work").unwrap(), Library::default());
    }

    #[test]
    fn a_new_mark_replaces_the_old_and_repeats_change_nothing() {
        let mut l = Library::default();
        assert!(l.mark("a", Mark::Save, 1));
        assert!(!l.mark("a", Mark::Save, 2));
        assert!(l.mark("a", Mark::Hide, 3));
        assert_eq!(l.papers.len(), 1);
        assert_eq!(l.papers[0].at, 3);
        assert!(!l.save_search("  "));
        assert!(l.save_search("RAG"));
        assert!(!l.save_search("rag"));
        assert!(l.forget("Rag"));
        assert!(l.unmark("a") && !l.unmark("a"));
    }

    #[test]
    fn names_that_are_not_file_names_and_broken_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["", "../x", "a/b", "a b", &"x".repeat(65)] {
            assert!(matches!(
                load(dir.path(), bad),
                Err(LibraryError::BadName(_))
            ));
        }
        let p = path(dir.path(), "default").unwrap();
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, "{\"papers\": [\n{\"id\": 3}]}").unwrap();
        let e = load(dir.path(), "default").unwrap_err();
        assert!(matches!(e, LibraryError::Corrupt { line: 2, .. }), "{e}");
        assert!(e.to_string().contains("default.json"), "{e}");
    }
}
