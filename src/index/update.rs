//! Writing the index: embed only what is new or changed, commit crash-safely.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use super::store::{
    hex, read_chunk, read_manifest, read_manifest_file, read_papers, ChunkMeta, ChunkRef,
    IndexedPaper, Manifest, TextRecipe, MANIFEST, STAGING, VECTORS_DIR,
};
use super::{io_err, IndexError, FORMAT_VERSION};
use crate::corpus::Paper;
use crate::embed::{Embedded, Encoder, Prefix, StageTimes};

/// How to update an index.
#[derive(Debug, Clone)]
pub struct UpdateOptions {
    /// Text recipe of the embedded inputs.
    pub recipe: TextRecipe,
    /// Re-embed everything, replacing an index made with another model or recipe.
    pub rebuild: bool,
    /// Papers per vector chunk (and per crash-safe commit).
    pub chunk_rows: usize,
    /// Model id for the manifest.
    pub model_id: String,
    /// Model fingerprint; part of every vector key.
    pub model_fingerprint: String,
    /// Numeric mode of the encoder (`f32`).
    pub quant: crate::embed::Precision,
    /// Remove the stored papers that this run's papers do not include. Without it, an update
    /// adds and replaces, and removes only papers whose digest file is gone from one of
    /// `roots` (at most [`MAX_SILENT_REMOVAL`] of the index).
    pub prune: bool,
    /// The directories this run read, whose deleted digests take their papers with them.
    pub roots: Vec<std::path::PathBuf>,
}

/// The largest share of an index an update removes without `prune`: papers whose digest file
/// was deleted. A larger share is more likely a mistake (a moved archive, a wrong directory)
/// than a cleanup, and is refused.
pub const MAX_SILENT_REMOVAL: f64 = 0.05;

/// What an update did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct UpdateStats {
    /// Papers in the index after the update.
    pub papers: usize,
    /// Papers embedded by this run.
    pub embedded: usize,
    /// Papers whose vector was already stored.
    pub skipped: usize,
    /// Corpus entries left out because they have no summary.
    pub without_summary: usize,
    /// Tokens fed to the model.
    pub tokens: usize,
    /// Inputs cut to the model's maximum length.
    pub truncated: usize,
    /// Stored papers this run's inputs did not include, kept.
    pub kept: usize,
    /// Stored papers removed (by pruning, or because their digest file is gone).
    pub removed: usize,
    /// Damage found and repaired, one line each (a damaged chunk whose papers were embedded
    /// again, a manifest rebuilt from the chunks that verify, a file moved aside).
    pub repairs: Vec<String>,
    /// Where the embedding time went (tokenise, device stages, writing chunks).
    pub stages: crate::embed::StageTimes,
}

/// Test hook: abort (like `kill -9`) at a named point, to prove every point is crash-safe.
fn crash_point(name: &str) {
    if std::env::var("PAPERMAP_CRASH_AT").is_ok_and(|v| v == name) {
        std::process::abort();
    }
}

/// Test hook: pause (`PAPERMAP_PAUSE_MS`, default 1,000 ms) at a named point, so that a test
/// can look at the index between two commits of one run.
fn pause_point(name: &str) {
    if std::env::var("PAPERMAP_PAUSE_AT").is_ok_and(|v| v == name) {
        let ms = std::env::var("PAPERMAP_PAUSE_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1_000);
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

/// Holds `index.lock` for the life of a writer; the OS releases it if the process dies.
struct WriteLock {
    _file: std::fs::File,
}

impl WriteLock {
    fn acquire(dir: &Path) -> Result<Self, IndexError> {
        let path = dir.join("index.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        match file.try_lock() {
            Ok(()) => Ok(WriteLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(IndexError::Locked(dir.to_path_buf())),
            Err(std::fs::TryLockError::Error(e)) => Err(io_err(&path)(e)),
        }
    }
}

fn write_manifest(dir: &Path, m: &Manifest) -> Result<(), IndexError> {
    write_manifest_file(dir, MANIFEST, m)
}

fn write_manifest_file(dir: &Path, name: &str, m: &Manifest) -> Result<(), IndexError> {
    let path = dir.join(name);
    crate::atomic::write(&path, &m.to_json()).map_err(io_err(&path))
}

/// Writes a chunk with its own metadata (model, mode, dimension, data checksum); returns the
/// CRC-32 of the file for the manifest.
fn write_chunk(
    path: &Path,
    keys: &[[u8; 32]],
    vectors: &[f32],
    meta: ChunkMeta,
) -> Result<u32, IndexError> {
    let key_bytes: Vec<u8> = keys.iter().flatten().copied().collect();
    let vec_bytes: Vec<u8> = vectors.iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut h = crc32fast::Hasher::new();
    h.update(&key_bytes);
    h.update(&vec_bytes);
    let meta = ChunkMeta {
        data_crc32: h.finalize(),
        ..meta
    };
    let dim = meta.dim;
    let err = |e: safetensors::SafeTensorError| IndexError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    };
    let tensors = vec![
        (
            "keys",
            safetensors::tensor::TensorView::new(
                safetensors::Dtype::U8,
                vec![keys.len(), 32],
                &key_bytes,
            )
            .map_err(err)?,
        ),
        (
            "vectors",
            safetensors::tensor::TensorView::new(
                safetensors::Dtype::F32,
                vec![keys.len(), dim],
                &vec_bytes,
            )
            .map_err(err)?,
        ),
    ];
    let json = serde_json::to_string(&meta).unwrap_or_default();
    let info = std::collections::HashMap::from([("papermap".to_string(), json)]);
    let bytes = safetensors::serialize(tensors, Some(info)).map_err(err)?;
    crate::atomic::write(path, &bytes).map_err(io_err(path))?;
    Ok(crc32fast::hash(&bytes))
}

/// The generation after every one this directory has seen, from the manifest if it reads and
/// from the chunk file names (`GGGGGG-…`) otherwise, so new files never reuse a live name.
fn next_generation(dir: &Path, old: Option<&Manifest>) -> u64 {
    let from_files = std::fs::read_dir(dir.join(VECTORS_DIR))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.split('-').next()?.parse::<u64>().ok()
        })
        .max()
        .unwrap_or(0);
    old.map_or(0, |m| m.generation).max(from_files) + 1
}

/// Rebuilds the list of live chunks from the files under `vectors/` that verify against their
/// own checksum and were made with this run's model, mode and dimension.
fn chunks_that_verify(dir: &Path, m: &Manifest) -> Vec<(ChunkRef, Vec<[u8; 32]>)> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join(VECTORS_DIR))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".safetensors"))
        .collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let path = dir.join(VECTORS_DIR).join(&name);
        let Ok(chunk) = read_chunk(&path, m.dim, None) else {
            continue;
        };
        let fits = chunk.meta.as_ref().is_some_and(|c| {
            c.model_fingerprint == m.model_fingerprint && c.quant == m.quant && c.dim == m.dim
        });
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        if fits {
            let rows = chunk.keys.len();
            out.push((
                ChunkRef {
                    file: name,
                    rows,
                    crc32: Some(crc32fast::hash(&bytes)),
                },
                chunk.keys,
            ));
        }
    }
    out
}

/// Moves something in the way of the index's own files (a directory named like a file, a file
/// named like a directory) aside instead of deleting it, so nothing stored is lost.
fn move_aside(path: &Path, repairs: &mut Vec<String>) -> Result<(), IndexError> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".moved-aside-{stamp}"));
    let to = path.with_file_name(name);
    std::fs::rename(path, &to).map_err(io_err(path))?;
    repairs.push(format!(
        "moved {} aside to {}",
        path.display(),
        to.display()
    ));
    Ok(())
}

/// Refuses to mix vectors made another way, unless rebuilding.
fn check_compatible(dir: &Path, old: &Manifest, new: &Manifest) -> Result<(), IndexError> {
    let fields: [(&'static str, String, String); 4] = [
        (
            "model",
            old.model_fingerprint.clone(),
            new.model_fingerprint.clone(),
        ),
        (
            "text recipe",
            old.text_recipe.name().into(),
            new.text_recipe.name().into(),
        ),
        ("quant", old.quant.to_string(), new.quant.to_string()),
        ("dim", old.dim.to_string(), new.dim.to_string()),
    ];
    for (field, stored, wanted) in fields {
        if stored != wanted {
            let (stored, wanted) = if field == "model" {
                (
                    format!("{} ({stored})", old.model_id),
                    format!("{} ({wanted})", new.model_id),
                )
            } else {
                (stored, wanted)
            };
            return Err(IndexError::Incompatible {
                dir: dir.to_path_buf(),
                field,
                stored,
                wanted,
            });
        }
    }
    Ok(())
}

/// Removes files neither the live manifest nor the one before it names: leftovers of killed or
/// replaced runs. The previous generation's files stay one run longer, so a reader that read
/// the old manifest just before this run committed still finds everything it names.
fn collect_garbage(dir: &Path, m: &Manifest, previous: Option<&Manifest>) {
    let live: HashSet<&str> = m
        .chunks
        .iter()
        .chain(previous.into_iter().flat_map(|p| p.chunks.iter()))
        .map(|c| c.file.as_str())
        .collect();
    let named = |m: &'_ Manifest| -> Vec<String> {
        let mut names = vec![m.papers_file.clone()];
        names.extend(m.rows.iter().chain(&m.matrix).map(|f| f.file.clone()));
        names
    };
    let live_names: Vec<String> = named(m)
        .into_iter()
        .chain(previous.map(named).unwrap_or_default())
        .collect();
    let live_papers: HashSet<&str> = live_names.iter().map(String::as_str).collect();
    if let Ok(rd) = std::fs::read_dir(dir.join(VECTORS_DIR)) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !live.contains(name.as_str()) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let derived = (name.starts_with("papers-")
                && (name.ends_with(".jsonl") || name.ends_with(".rows")))
                || (name.starts_with("matrix-") && name.ends_with(".f32"));
            let stale_papers = derived && !live_papers.contains(name.as_str());
            // Another process's temporary file (a `topics` run saving, say) is not garbage.
            if stale_papers || crate::atomic::abandoned(&e.path()) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// Where the vectors of new inputs come from: the [`Encoder`], or (benches that need an index
/// of a million papers without embedding them) vectors made some other way.
pub trait VectorSource: Sync {
    /// Vector dimension.
    fn dim(&self) -> usize;
    /// Vectors of `texts` (passages), handed to `sink` window by window in order (windows of
    /// at most `window` texts); `progress(done, tokens)` follows the work.
    fn stream(
        &self,
        texts: &[&str],
        window: usize,
        progress: &mut dyn FnMut(usize, usize),
        sink: &mut (dyn FnMut(std::ops::Range<usize>, Embedded) -> Result<(), IndexError> + Send),
    ) -> Result<StageTimes, IndexError>;
}

impl VectorSource for Encoder {
    fn dim(&self) -> usize {
        self.dim
    }

    fn stream(
        &self,
        texts: &[&str],
        window: usize,
        progress: &mut dyn FnMut(usize, usize),
        sink: &mut (dyn FnMut(std::ops::Range<usize>, Embedded) -> Result<(), IndexError> + Send),
    ) -> Result<StageTimes, IndexError> {
        self.embed_stream(texts, Prefix::Passage, window, progress, sink)
    }
}

/// Brings the index in `dir` up to date with `papers`: embeds what is new or changed, keeps the
/// rest, and commits. `progress(done, total, tokens)` follows the embedding.
pub fn update(
    dir: &Path,
    papers: &[Paper],
    encoder: &Encoder,
    opts: &UpdateOptions,
    progress: &mut dyn FnMut(usize, usize, usize),
) -> Result<UpdateStats, IndexError> {
    update_from(dir, papers, encoder, opts, progress)
}

/// [`update`] with the vectors of new papers from `source`.
pub fn update_from(
    dir: &Path,
    papers: &[Paper],
    source: &dyn VectorSource,
    opts: &UpdateOptions,
    progress: &mut dyn FnMut(usize, usize, usize),
) -> Result<UpdateStats, IndexError> {
    let dim = source.dim();
    let mut stats = UpdateStats::default();
    let mut stats_stages = crate::embed::StageTimes::default();
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let vectors_dir = dir.join(VECTORS_DIR);
    if opts.rebuild {
        for (path, want_dir) in [(vectors_dir.clone(), true), (dir.join("index.lock"), false)] {
            if let Ok(meta) = std::fs::symlink_metadata(&path) {
                if meta.is_dir() != want_dir {
                    move_aside(&path, &mut stats.repairs)?;
                }
            }
        }
    }
    std::fs::create_dir_all(&vectors_dir).map_err(io_err(&vectors_dir))?;
    let _lock = WriteLock::acquire(dir)?;
    let mut manifest_damaged = false;
    let old = match read_manifest(dir) {
        Ok(m) => m,
        // A damaged manifest is rebuilt below from the chunks that verify; an unreadable or
        // foreign one is replaced outright by a rebuild.
        Err(IndexError::Damaged { what, .. }) if !opts.rebuild => {
            manifest_damaged = true;
            stats.repairs.push(format!(
                "manifest.json was damaged ({what}): rebuilt from the chunks that verify"
            ));
            None
        }
        Err(_) if opts.rebuild => None,
        Err(e) => return Err(e),
    };
    let mut m = Manifest {
        format_version: FORMAT_VERSION,
        model_id: opts.model_id.clone(),
        model_fingerprint: opts.model_fingerprint.clone(),
        dim,
        pooling: "mean".into(),
        normalized: true,
        passage_prefix: Prefix::Passage.as_str().into(),
        query_prefix: Prefix::Query.as_str().into(),
        text_recipe: opts.recipe,
        quant: opts.quant,
        generation: next_generation(dir, old.as_ref()),
        papers_file: String::new(),
        papers: 0,
        chunks: Vec::new(),
        papers_crc32: None,
        rows: None,
        matrix: None,
        checksum: None,
    };
    let mut stored: HashSet<[u8; 32]> = HashSet::new();
    // Keys of every chunk in `m.chunks`, in the same order: read once here, reused by `compact`.
    let mut chunk_keys: Vec<Vec<[u8; 32]>> = Vec::new();
    // Whether this run replaces an index made another way: its chunk commits then go to the
    // staging manifest, and the live one names the previous generation until the end.
    let mut rebuilding = false;
    if let Some(old) = &old {
        match check_compatible(dir, old, &m) {
            Ok(()) => {
                for c in &old.chunks {
                    let path = vectors_dir.join(&c.file);
                    match read_chunk(&path, old.dim, c.crc32) {
                        Ok(chunk) => {
                            stored.extend(chunk.keys.iter().copied());
                            chunk_keys.push(chunk.keys);
                            m.chunks.push(c.clone());
                        }
                        // Its papers are embedded again; the file goes with the garbage.
                        Err(IndexError::Damaged { what, .. }) => stats.repairs.push(format!(
                            "{} was damaged ({what}): its {} papers are embedded again",
                            path.display(),
                            c.rows
                        )),
                        Err(e) => return Err(e),
                    }
                }
                // Until this run's papers file is committed, the old one stays live.
                m.papers_file = old.papers_file.clone();
                m.papers = old.papers;
                m.papers_crc32 = old.papers_crc32;
                m.rows = old.rows.clone();
                m.matrix = old.matrix.clone();
            }
            Err(e) if !opts.rebuild => return Err(e),
            Err(_) => rebuilding = true,
        }
    } else if manifest_damaged {
        for (c, keys) in chunks_that_verify(dir, &m) {
            stored.extend(keys.iter().copied());
            chunk_keys.push(keys);
            m.chunks.push(c);
        }
    }
    if rebuilding {
        // A killed rebuild's committed chunks are taken up again rather than embedded anew.
        if let Ok(Some(st)) = read_manifest_file(dir, STAGING) {
            if check_compatible(dir, &st, &m).is_ok() {
                for c in &st.chunks {
                    if let Ok(chunk) = read_chunk(&vectors_dir.join(&c.file), st.dim, c.crc32) {
                        stored.extend(chunk.keys.iter().copied());
                        chunk_keys.push(chunk.keys);
                        m.chunks.push(c.clone());
                    }
                }
            }
        }
    }
    // The papers already stored join this run's (see `merge`).
    let previous: Vec<Paper> = match &old {
        Some(o) if !o.papers_file.is_empty() => {
            let path = dir.join(&o.papers_file);
            match read_papers(&path, o.papers_crc32, Some(o.papers)) {
                Ok(ps) => ps.into_iter().map(|p| p.paper).collect(),
                Err(e @ IndexError::Damaged { .. }) => {
                    stats.repairs.push(format!(
                        "{e}: the papers it listed are not kept (only this run's papers are)"
                    ));
                    Vec::new()
                }
                Err(e) => return Err(e),
            }
        }
        _ => Vec::new(),
    };
    let merged = merge(dir, previous, papers, opts, &mut stats)?;
    let papers: &[Paper] = &merged;

    let mut records = Vec::with_capacity(papers.len());
    let mut live: HashSet<[u8; 32]> = HashSet::with_capacity(papers.len());
    let mut todo: Vec<([u8; 32], String)> = Vec::new();
    let mut queued: HashSet<[u8; 32]> = HashSet::new();
    // Texts and their keys (a SHA-256 each) in parallel; the bookkeeping below stays in order.
    use rayon::prelude::*;
    let keyed: Vec<Option<(String, [u8; 32])>> = papers
        .par_iter()
        .map(|p| {
            opts.recipe.embeds(p).then(|| {
                let text = opts.recipe.text(p);
                let input = format!("{}{}", Prefix::Passage.as_str(), text);
                let key = crate::text::input_key(&opts.model_fingerprint, opts.quant, &input);
                (text, key)
            })
        })
        .collect();
    for (p, keyed) in papers.iter().zip(keyed) {
        let Some((text, key)) = keyed else {
            stats.without_summary += 1;
            continue;
        };
        live.insert(key);
        if stored.contains(&key) {
            stats.skipped += 1;
        } else if queued.insert(key) {
            todo.push((key, text));
        } else {
            stats.skipped += 1; // identical input already queued: shares its vector
        }
        records.push(IndexedPaper {
            paper: p.clone(),
            key: hex(&key),
        });
    }

    let total = todo.len();
    let texts: Vec<&str> = todo.iter().map(|(_, t)| t.as_str()).collect();
    let mut n = 0;
    let generation = m.generation;
    let mut commit =
        |range: std::ops::Range<usize>, emb: crate::embed::Embedded| -> Result<(), IndexError> {
            let keys: Vec<[u8; 32]> = todo[range.clone()].iter().map(|(k, _)| *k).collect();
            let file = format!("{generation:06}-{n:05}.safetensors");
            n += 1;
            let path = vectors_dir.join(&file);
            let crc32 = write_chunk(
                &path,
                &keys,
                &emb.vectors,
                ChunkMeta {
                    model_fingerprint: m.model_fingerprint.clone(),
                    quant: m.quant,
                    dim,
                    data_crc32: 0,
                },
            )?;
            crash_point("chunk-written");
            m.chunks.push(ChunkRef {
                file,
                rows: keys.len(),
                crc32: Some(crc32),
            });
            chunk_keys.push(keys);
            let written = if rebuilding {
                write_manifest_file(dir, STAGING, &m)
            } else {
                write_manifest(dir, &m)
            };
            if let Err(e) = written {
                // Not committed: the chunk would only be an orphan until the next run.
                let _ = std::fs::remove_file(&path);
                return Err(e);
            }
            crash_point("chunk-committed");
            pause_point("chunk-committed");
            stats.tokens += emb.tokens;
            stats.truncated += emb.truncated;
            stats.embedded += range.len();
            Ok(())
        };
    if total > 0 {
        stats_stages = source.stream(
            &texts,
            opts.chunk_rows.max(1),
            &mut |done, tokens| progress(done, total, tokens),
            &mut commit,
        )?;
    }

    // Chunks whose vectors no paper uses any more are dropped once they are mostly garbage.
    m.chunks = compact(dir, &m, &chunk_keys, &live)?;

    let papers_file = format!("papers-{:06}.jsonl", m.generation);
    let path = dir.join(&papers_file);
    // Lines are serialised in parallel blocks and written in order, a group of blocks at a
    // time: a million papers are gigabytes of JSON, which are not held in memory at once.
    let mut crc = crc32fast::Hasher::new();
    crate::atomic::write_with(&path, |tmp| {
        let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(tmp)?);
        for group in records.chunks(WRITE_GROUP) {
            let blocks: Vec<String> = group
                .par_chunks(4096)
                .map(|block| {
                    let mut out = String::new();
                    for r in block {
                        out.push_str(&serde_json::to_string(r)?);
                        out.push('\n');
                    }
                    Ok(out)
                })
                .collect::<Result<_, serde_json::Error>>()
                .map_err(std::io::Error::other)?;
            for b in &blocks {
                crc.update(b.as_bytes());
                f.write_all(b.as_bytes())?;
            }
        }
        f.flush()?;
        f.get_ref().sync_all()
    })
    .map_err(io_err(&path))?;
    let papers_crc32 = crc.finalize();
    crash_point("papers-written");
    // The rows file and the matrix let the next open map the index instead of reading it.
    let text = std::fs::File::open(&path)
        .and_then(|f| crate::embed::kernels::mapped::map(&f))
        .map_err(io_err(&path))?;
    let rows_bytes = super::store::rows_file(&text);
    drop(text);
    let rows = write_derived(dir, format!("papers-{:06}.rows", m.generation), &rows_bytes)?;
    drop(rows_bytes);
    let vectors = super::store::gather_vectors(dir, &m, &records)?;
    // Little-endian f32, as the chunks hold them (every platform papermap builds for is).
    let matrix = write_derived(
        dir,
        format!("matrix-{:06}.f32", m.generation),
        bytemuck::cast_slice(&vectors),
    )?;
    drop(vectors);
    crash_point("matrix-written");
    m.papers_file = papers_file;
    m.papers = records.len();
    m.papers_crc32 = Some(papers_crc32);
    m.rows = Some(rows);
    m.matrix = Some(matrix);
    write_manifest(dir, &m)?;
    crash_point("manifest-committed");
    // The staging manifest is done with (or, after a plain update, names only garbage).
    let _ = std::fs::remove_file(dir.join(STAGING));
    collect_garbage(dir, &m, old.as_ref());
    stats.papers = records.len();
    stats.stages = stats_stages;
    Ok(stats)
}

/// Papers serialised and written at a time by a commit (about 200 MB of JSON at most).
const WRITE_GROUP: usize = 65_536;

/// Writes a file derived at a commit (rows, matrix) under its final name, atomically.
fn write_derived(
    dir: &Path,
    name: String,
    bytes: &[u8],
) -> Result<super::store::FileRef, IndexError> {
    let path = dir.join(&name);
    crate::atomic::write(&path, bytes).map_err(io_err(&path))?;
    Ok(super::store::FileRef {
        file: name,
        bytes: bytes.len() as u64,
        crc32: crc32fast::hash(bytes),
    })
}

/// This run's papers joined with the `previous` ones: a stored paper this run also read is
/// replaced by this run's version in its place, the others are kept, and new papers follow.
/// A stored paper leaves only with `opts.prune`, or when its digest file is gone from one of
/// `opts.roots`; without `prune`, a run that would remove more than [`MAX_SILENT_REMOVAL`] of
/// the index that way is refused ([`IndexError::WouldRemove`]).
/// A first build, with nothing stored, takes `papers` as they are (no copy of the corpus).
fn merge<'a>(
    dir: &Path,
    previous: Vec<Paper>,
    papers: &'a [Paper],
    opts: &UpdateOptions,
    stats: &mut UpdateStats,
) -> Result<std::borrow::Cow<'a, [Paper]>, IndexError> {
    if previous.is_empty() {
        return Ok(std::borrow::Cow::Borrowed(papers));
    }
    let index_of: std::collections::HashMap<&str, usize> = papers
        .iter()
        .enumerate()
        .map(|(i, p)| (p.arxiv_id.as_str(), i))
        .collect();
    let roots = Roots::new(&opts.roots);
    let mut placed = vec![false; papers.len()];
    let mut out = Vec::with_capacity(previous.len() + papers.len());
    let (stored, mut kept, mut removed) = (previous.len(), 0, 0);
    for p in previous {
        match index_of.get(p.arxiv_id.as_str()) {
            Some(&i) => {
                if !std::mem::replace(&mut placed[i], true) {
                    let mut paper = papers[i].clone();
                    // A paper read from another source keeps what that source gave it (a
                    // digest's summary beside arXiv's abstract); from the same file, the new
                    // reading replaces the old one (an edited digest).
                    if p.source.file != paper.source.file {
                        crate::corpus::absorb(&mut paper, p);
                    }
                    out.push(paper);
                }
            }
            None if opts.prune || roots.lost(&p.source.file) => removed += 1,
            None => {
                kept += 1;
                out.push(p);
            }
        }
    }
    if !opts.prune && removed as f64 > MAX_SILENT_REMOVAL * stored as f64 {
        return Err(IndexError::WouldRemove {
            dir: dir.to_path_buf(),
            removing: removed,
            papers: stored,
        });
    }
    out.extend(
        papers
            .iter()
            .zip(&placed)
            .filter(|(_, &done)| !done)
            .map(|(p, _)| p.clone()),
    );
    stats.kept = kept;
    stats.removed = removed;
    Ok(std::borrow::Cow::Owned(out))
}

/// The directories a run read, as given and resolved.
struct Roots {
    given: Vec<std::path::PathBuf>,
    resolved: Vec<std::path::PathBuf>,
}

impl Roots {
    fn new(roots: &[std::path::PathBuf]) -> Roots {
        Roots {
            given: roots.to_vec(),
            resolved: roots.iter().filter_map(|r| r.canonicalize().ok()).collect(),
        }
    }

    /// Whether the digest `file` no longer exists and lay under one of the roots.
    fn lost(&self, file: &Path) -> bool {
        if self.given.is_empty()
            || file.as_os_str().is_empty()
            || std::fs::symlink_metadata(file).is_ok()
        {
            return false;
        }
        if self.given.iter().any(|r| file.starts_with(r)) {
            return true;
        }
        // Resolve the deepest ancestor that still exists, then put the rest back on.
        let mut rest = Vec::new();
        let mut at = file;
        while let Some(parent) = at.parent() {
            if let Some(name) = at.file_name() {
                rest.push(name.to_os_string());
            }
            let parent = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            if let Ok(real) = parent.canonicalize() {
                let full = rest.iter().rev().fold(real, |p, n| p.join(n));
                return self.resolved.iter().any(|r| full.starts_with(r));
            }
            at = parent;
        }
        false
    }
}

/// Keeps chunks that still hold live vectors; a chunk with more dead than live rows is rewritten
/// with only the live ones, so the store does not grow without bound as papers change.
/// `chunk_keys[i]` holds the keys of `m.chunks[i]`; a chunk's vectors are read only to rewrite it.
fn compact(
    dir: &Path,
    m: &Manifest,
    chunk_keys: &[Vec<[u8; 32]>],
    live: &HashSet<[u8; 32]>,
) -> Result<Vec<ChunkRef>, IndexError> {
    let mut out = Vec::with_capacity(m.chunks.len());
    let mut seen: HashSet<[u8; 32]> = HashSet::new();
    for (n, (c, keys)) in m.chunks.iter().zip(chunk_keys).enumerate() {
        let keep: Vec<usize> = (0..keys.len())
            .filter(|&r| live.contains(&keys[r]) && seen.insert(keys[r]))
            .collect();
        if keep.len() == keys.len() {
            out.push(c.clone());
        } else if keep.len() * 2 >= keys.len() {
            out.push(c.clone()); // mostly live: not worth rewriting yet
        } else if !keep.is_empty() {
            let vecs = read_chunk(&dir.join(VECTORS_DIR).join(&c.file), m.dim, c.crc32)?.vectors;
            let file = format!("{:06}-c{:05}.safetensors", m.generation, n);
            let k: Vec<[u8; 32]> = keep.iter().map(|&r| keys[r]).collect();
            let v: Vec<f32> = keep
                .iter()
                .flat_map(|&r| vecs[r * m.dim..(r + 1) * m.dim].iter().copied())
                .collect();
            let crc32 = write_chunk(
                &dir.join(VECTORS_DIR).join(&file),
                &k,
                &v,
                ChunkMeta {
                    model_fingerprint: m.model_fingerprint.clone(),
                    quant: m.quant,
                    dim: m.dim,
                    data_crc32: 0,
                },
            )?;
            out.push(ChunkRef {
                file,
                rows: k.len(),
                crc32: Some(crc32),
            });
        }
    }
    Ok(out)
}
