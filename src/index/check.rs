//! `papermap check`: verify every file of an index without changing anything (an fsck).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::store::{read_chunk, read_manifest, read_papers, read_regular, VECTORS_DIR};
use super::IndexError;

/// The verdict on one file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase", tag = "status", content = "detail")]
pub enum Verdict {
    /// Reads and verifies.
    Ok,
    /// Fails its checksum, does not parse, holds bad vectors, or is not a regular file.
    Damaged(String),
    /// Named by the manifest but absent.
    Missing,
    /// Present but named by nothing live (a leftover of an interrupted run); harmless.
    Stray,
}

/// One checked file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Checked {
    /// The file.
    pub path: PathBuf,
    /// What was found.
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// Everything `check` found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CheckReport {
    /// Every file looked at, in the order checked.
    pub files: Vec<Checked>,
    /// Papers the manifest lists.
    pub papers: usize,
    /// Papers with no stored vector in any chunk that verifies.
    pub papers_without_vector: usize,
}

impl CheckReport {
    /// Whether anything is damaged or missing (stray files are not damage).
    pub fn is_damaged(&self) -> bool {
        self.papers_without_vector > 0
            || self
                .files
                .iter()
                .any(|c| matches!(c.verdict, Verdict::Damaged(_) | Verdict::Missing))
    }
}

/// Files derived from an index that `check` parses when present (they are rebuilt when stale,
/// so only damage matters).
const DERIVED_JSON: [&str; 2] = ["topics.json", "ann.json"];
const DERIVED_SAFETENSORS: [&str; 1] = ["title-queries.safetensors"];

/// Checks the index in `dir`: manifest, papers file, every chunk, that every paper has a vector,
/// and the derived files. Only reads.
pub fn check(dir: &Path) -> Result<CheckReport, IndexError> {
    let mut r = CheckReport::default();
    let manifest_path = dir.join(super::store::MANIFEST);
    let manifest = match read_manifest(dir) {
        Ok(Some(m)) => {
            r.files.push(ok(&manifest_path));
            m
        }
        Ok(None) => return Err(IndexError::Missing(dir.to_path_buf())),
        Err(IndexError::Damaged { path, what }) => {
            r.files.push(Checked {
                path,
                verdict: Verdict::Damaged(what),
            });
            check_strays(dir, &HashSet::new(), &mut r);
            return Ok(r);
        }
        Err(e) => return Err(e),
    };
    let mut keys_in_chunks = HashSet::new();
    let mut live = HashSet::new();
    for c in &manifest.chunks {
        live.insert(c.file.clone());
        let path = dir.join(VECTORS_DIR).join(&c.file);
        match read_chunk(&path, manifest.dim, c.crc32) {
            Ok(chunk) => {
                keys_in_chunks.extend(chunk.keys.iter().map(super::store::hex));
                r.files.push(ok(&path));
            }
            Err(IndexError::Damaged { what, .. }) if what == "missing" => r.files.push(Checked {
                path,
                verdict: Verdict::Missing,
            }),
            Err(e) => r.files.push(Checked {
                path,
                verdict: Verdict::Damaged(damage_text(e)),
            }),
        }
    }
    if manifest.papers_file.is_empty() {
        r.files.push(Checked {
            path: dir.join("papers-*.jsonl"),
            verdict: Verdict::Damaged("partial index: the first build did not finish".into()),
        });
    } else {
        let path = dir.join(&manifest.papers_file);
        if !path.exists() {
            r.files.push(Checked {
                path,
                verdict: Verdict::Missing,
            });
        } else {
            match read_papers(&path, manifest.papers_crc32, Some(manifest.papers)) {
                Ok(papers) => {
                    r.papers = papers.len();
                    r.papers_without_vector = papers
                        .iter()
                        .filter(|p| !keys_in_chunks.contains(&p.key))
                        .count();
                    r.files.push(ok(&path));
                }
                Err(e) => r.files.push(Checked {
                    path,
                    verdict: Verdict::Damaged(damage_text(e)),
                }),
            }
        }
    }
    for name in DERIVED_JSON {
        let path = dir.join(name);
        if path.exists() {
            let verdict = match read_regular(&path) {
                Ok(b) => match serde_json::from_slice::<serde_json::Value>(&b) {
                    Ok(_) => Verdict::Ok,
                    Err(e) => Verdict::Damaged(format!("line {}: {e}", e.line())),
                },
                Err(e) => Verdict::Damaged(e.to_string()),
            };
            r.files.push(Checked { path, verdict });
        }
    }
    for name in DERIVED_SAFETENSORS {
        let path = dir.join(name);
        if path.exists() {
            let verdict = match read_regular(&path) {
                Ok(b) => match safetensors::SafeTensors::deserialize(&b) {
                    Ok(_) => Verdict::Ok,
                    Err(e) => Verdict::Damaged(e.to_string()),
                },
                Err(e) => Verdict::Damaged(e.to_string()),
            };
            r.files.push(Checked { path, verdict });
        }
    }
    check_strays(dir, &live, &mut r);
    Ok(r)
}

fn ok(path: &Path) -> Checked {
    Checked {
        path: path.to_path_buf(),
        verdict: Verdict::Ok,
    }
}

/// The `what` of a damage error, or the whole message of another.
fn damage_text(e: IndexError) -> String {
    match e {
        IndexError::Damaged { what, .. } => what,
        e => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(c) = src {
                s.push_str(&format!(": {c}"));
                src = c.source();
            }
            s
        }
    }
}

/// Chunk files the manifest does not name.
fn check_strays(dir: &Path, live: &HashSet<String>, r: &mut CheckReport) {
    let mut names: Vec<String> = std::fs::read_dir(dir.join(VECTORS_DIR))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !live.contains(n))
        .collect();
    names.sort();
    for n in names {
        r.files.push(Checked {
            path: dir.join(VECTORS_DIR).join(n),
            verdict: Verdict::Stray,
        });
    }
}
