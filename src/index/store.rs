//! Reading the index: manifest, papers, vector chunks.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{io_err, IndexError};
use crate::corpus::Paper;

/// Version of the on-disk layout; bumped on incompatible change.
pub const FORMAT_VERSION: u32 = 1;

/// How a paper becomes the text that is embedded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum TextRecipe {
    /// `passage: ` + title + `\n` + summary (default: titles carry the English terms).
    #[default]
    #[serde(rename = "title+summary")]
    TitleSummary,
    /// `passage: ` + summary — the reference recipe of the golden vectors.
    #[serde(rename = "summary")]
    Summary,
}

impl TextRecipe {
    /// The embedded text of `paper`, without the `passage: ` prefix (the encoder adds it).
    pub fn text(self, paper: &Paper) -> String {
        match self {
            TextRecipe::TitleSummary => format!("{}\n{}", paper.title, paper.summary),
            TextRecipe::Summary => paper.summary.clone(),
        }
    }
    /// Name as written in the manifest and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            TextRecipe::TitleSummary => "title+summary",
            TextRecipe::Summary => "summary",
        }
    }
}

impl std::str::FromStr for TextRecipe {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "title+summary" => Ok(TextRecipe::TitleSummary),
            "summary" => Ok(TextRecipe::Summary),
            _ => Err(format!(
                "unknown text recipe {s:?}: use title+summary or summary"
            )),
        }
    }
}

/// A live chunk file and its row count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkRef {
    /// File name under `vectors/`.
    pub file: String,
    /// Rows in it.
    pub rows: usize,
}

/// What the index holds and how its vectors were made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT_VERSION`] of the writer.
    pub format_version: u32,
    /// Model id.
    pub model_id: String,
    /// Model fingerprint (hash of config, tokenizer and weights).
    pub model_fingerprint: String,
    /// Vector dimension.
    pub dim: usize,
    /// Pooling of token states (`mean`).
    pub pooling: String,
    /// Whether vectors are L2-normalised.
    pub normalized: bool,
    /// Prefix of indexed texts.
    pub passage_prefix: String,
    /// Prefix of search queries.
    pub query_prefix: String,
    /// Text recipe of the embedded inputs.
    pub text_recipe: TextRecipe,
    /// Numeric mode of the encoder (`f32`); vectors of different modes are never mixed.
    pub quant: String,
    /// Generation counter, bumped by every writer.
    pub generation: u64,
    /// Live papers file, or empty before the first complete run.
    pub papers_file: String,
    /// Number of papers in it.
    pub papers: usize,
    /// Live vector chunks.
    pub chunks: Vec<ChunkRef>,
}

/// A paper as stored: the corpus record plus the key of its vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexedPaper {
    /// The parsed paper.
    #[serde(flatten)]
    pub paper: Paper,
    /// Hex SHA-256 of model fingerprint and embedded input.
    pub key: String,
}

/// A loaded index: papers and their vectors, row `i` belonging to paper `i`.
#[derive(Debug, Clone)]
pub struct Index {
    /// Index directory.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// Papers in corpus order.
    pub papers: Vec<IndexedPaper>,
    /// Row-major `[papers, dim]`.
    pub vectors: Vec<f32>,
}

pub(crate) const MANIFEST: &str = "manifest.json";
pub(crate) const VECTORS_DIR: &str = "vectors";

/// Reads the manifest, or `None` when the directory has none yet.
pub fn read_manifest(dir: &Path) -> Result<Option<Manifest>, IndexError> {
    let path = dir.join(MANIFEST);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(&path)(e)),
    };
    let m: Manifest = serde_json::from_str(&text).map_err(|e| IndexError::Corrupt {
        path: path.clone(),
        line: e.line(),
        msg: e.to_string(),
    })?;
    if m.format_version != FORMAT_VERSION {
        return Err(IndexError::Incompatible {
            dir: dir.to_path_buf(),
            field: "format_version",
            stored: m.format_version.to_string(),
            wanted: FORMAT_VERSION.to_string(),
        });
    }
    Ok(Some(m))
}

/// Reads one chunk: `(keys, vectors)` with `vectors.len() == keys.len() * dim`.
pub(crate) fn read_chunk(path: &Path, dim: usize) -> Result<(Vec<[u8; 32]>, Vec<f32>), IndexError> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    let corrupt = |msg: String| IndexError::Corrupt {
        path: path.to_path_buf(),
        line: 0,
        msg,
    };
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| corrupt(e.to_string()))?;
    let keys = st.tensor("keys").map_err(|e| corrupt(e.to_string()))?;
    let vecs = st.tensor("vectors").map_err(|e| corrupt(e.to_string()))?;
    let rows = keys.shape().first().copied().unwrap_or(0);
    if keys.dtype() != safetensors::Dtype::U8
        || keys.shape() != [rows, 32]
        || vecs.dtype() != safetensors::Dtype::F32
        || vecs.shape() != [rows, dim]
    {
        return Err(corrupt(format!(
            "expected keys u8 [n, 32] and vectors f32 [n, {dim}], found {:?} {:?} / {:?} {:?}",
            keys.dtype(),
            keys.shape(),
            vecs.dtype(),
            vecs.shape()
        )));
    }
    let keys = keys
        .data()
        .chunks_exact(32)
        .map(|c| {
            let mut k = [0u8; 32];
            k.copy_from_slice(c);
            k
        })
        .collect();
    let vectors = vecs
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok((keys, vectors))
}

/// Hex encoding of a key.
pub(crate) fn hex(key: &[u8; 32]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

impl Index {
    /// Opens the index in `dir` as its manifest last committed it.
    pub fn open(dir: &Path) -> Result<Index, IndexError> {
        let manifest = read_manifest(dir)?.ok_or_else(|| IndexError::Missing(dir.to_path_buf()))?;
        if manifest.papers_file.is_empty() {
            return Err(IndexError::Missing(dir.to_path_buf()));
        }
        let papers = read_papers(&dir.join(&manifest.papers_file))?;
        let mut by_key: HashMap<String, usize> = HashMap::with_capacity(papers.len());
        for (i, p) in papers.iter().enumerate() {
            by_key.entry(p.key.clone()).or_insert(i);
        }
        let dim = manifest.dim;
        let mut vectors = vec![0f32; papers.len() * dim];
        let mut filled = vec![false; papers.len()];
        for c in &manifest.chunks {
            let (keys, vecs) = read_chunk(&dir.join(VECTORS_DIR).join(&c.file), dim)?;
            for (r, k) in keys.iter().enumerate() {
                if let Some(&i) = by_key.get(&hex(k)) {
                    vectors[i * dim..(i + 1) * dim].copy_from_slice(&vecs[r * dim..(r + 1) * dim]);
                    filled[i] = true;
                }
            }
        }
        // Papers with identical inputs share one vector.
        for i in 0..papers.len() {
            if !filled[i] {
                let j = by_key[&papers[i].key];
                if !filled[j] {
                    return Err(IndexError::Corrupt {
                        path: dir.join(&manifest.papers_file),
                        line: i + 1,
                        msg: format!("no vector for paper {}", papers[i].paper.arxiv_id),
                    });
                }
                vectors.copy_within(j * dim..(j + 1) * dim, i * dim);
            }
        }
        Ok(Index {
            dir: dir.to_path_buf(),
            manifest,
            papers,
            vectors,
        })
    }

    /// Number of papers.
    pub fn len(&self) -> usize {
        self.papers.len()
    }

    /// True when the index holds no papers.
    pub fn is_empty(&self) -> bool {
        self.papers.is_empty()
    }

    /// Vector of paper `i`.
    pub fn vector(&self, i: usize) -> &[f32] {
        let d = self.manifest.dim;
        &self.vectors[i * d..(i + 1) * d]
    }
}

/// Reads a papers file, naming the line of any malformed record.
pub(crate) fn read_papers(path: &Path) -> Result<Vec<IndexedPaper>, IndexError> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| {
            serde_json::from_str(l).map_err(|e| IndexError::Corrupt {
                path: path.to_path_buf(),
                line: n + 1,
                msg: e.to_string(),
            })
        })
        .collect()
}
