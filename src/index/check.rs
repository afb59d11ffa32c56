//! `papermap check`: verify every file of an index without changing anything (an fsck).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::store::{read_chunk, read_manifest, read_papers, read_regular, VECTORS_DIR};
use super::IndexError;

/// The verdict on one file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase", tag = "status", content = "detail")]
pub enum Verdict {
    /// Read, and passed every check its kind of file has.
    Ok,
    /// Fails its checksum, does not parse, holds bad vectors, or is not a regular file.
    Damaged(String),
    /// Named by the manifest but absent.
    Missing,
    /// Present but named by nothing live (a leftover of an interrupted run); harmless.
    Stray,
}

/// One file of the index with its verdict: an entry of `papermap check --json`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Checked {
    /// The file's path: the index directory joined with its name.
    pub path: PathBuf,
    /// Its verdict, written inline in JSON as `status` and `detail`.
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// Everything [`check`] found: a verdict per file and the paper counts; nothing is repaired.
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
const DERIVED_SAFETENSORS: [&str; 2] =
    ["title-queries.safetensors", "summary-passages.safetensors"];

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
                    if let Some(rows) = &manifest.rows {
                        r.files.push(check_rows(dir, rows, &path, manifest.papers));
                    }
                    if let Some(matrix) = &manifest.matrix {
                        r.files.push(check_matrix(dir, matrix, manifest.dim));
                    }
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

/// A derived file's bytes, when they are its manifest's length and CRC.
fn derived_bytes(dir: &Path, f: &super::FileRef) -> (std::path::PathBuf, Result<Vec<u8>, Verdict>) {
    let path = dir.join(&f.file);
    let bytes = match read_regular(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (path, Err(Verdict::Missing)),
        Err(e) => return (path, Err(Verdict::Damaged(e.to_string()))),
    };
    if bytes.len() as u64 != f.bytes || crc32fast::hash(&bytes) != f.crc32 {
        return (path, Err(Verdict::Damaged("checksum mismatch".into())));
    }
    (path, Ok(bytes))
}

/// The rows file: its checksum, and its content the one the writer makes of the papers file
/// (line offsets, block checksums, id table).
fn check_rows(dir: &Path, rows: &super::FileRef, papers_path: &Path, papers: usize) -> Checked {
    let (path, bytes) = derived_bytes(dir, rows);
    let text =
        std::fs::File::open(papers_path).and_then(|f| crate::embed::kernels::mapped::map(&f));
    let verdict = match (bytes, text) {
        (Err(v), _) => v,
        (Ok(_), Err(e)) => Verdict::Damaged(format!("papers file unreadable: {e}")),
        (Ok(b), Ok(text)) => match super::store::split_rows(&b, papers, text.len()) {
            Err(what) => Verdict::Damaged(what),
            Ok(_) if b != super::store::rows_file(&text) => Verdict::Damaged(
                "its offsets, block checksums or ids are not the papers file's".into(),
            ),
            Ok(_) => Verdict::Ok,
        },
    };
    Checked { path, verdict }
}

/// The matrix: its checksum, and every row a finite unit vector.
fn check_matrix(dir: &Path, matrix: &super::FileRef, dim: usize) -> Checked {
    let (path, bytes) = derived_bytes(dir, matrix);
    let verdict = match bytes {
        Err(v) => v,
        Ok(b) => {
            let bad = b.chunks_exact(4 * dim.max(1)).position(|row| {
                let n: f32 = row
                    .chunks_exact(4)
                    .map(|x| f32::from_le_bytes([x[0], x[1], x[2], x[3]]))
                    .map(|x| x * x)
                    .sum();
                !n.is_finite() || (n - 1.0).abs() > 1e-3
            });
            match bad {
                Some(r) => Verdict::Damaged(format!("row {r} is not a unit vector")),
                None => Verdict::Ok,
            }
        }
    };
    Checked { path, verdict }
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
