//! Writing the index: embed only what is new or changed, commit crash-safely.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use super::store::{
    hex, read_chunk, read_manifest, read_manifest_file, ChunkMeta, ChunkRef, IndexedPaper,
    Manifest, TextRecipe, MANIFEST, STAGING, VECTORS_DIR,
};
use super::{io_err, IndexError, FORMAT_VERSION};
use crate::corpus::{Paper, SpilledCorpus};
use crate::embed::{Embedded, Encoder, ModelIdentity, Prefix, StageTimes};

/// How to update an index.
#[derive(Debug, Clone)]
pub struct UpdateOptions {
    /// Text recipe of the embedded inputs.
    pub recipe: TextRecipe,
    /// Re-embed everything, replacing an index made with another model or recipe.
    pub rebuild: bool,
    /// Papers per vector chunk (and per crash-safe commit).
    pub chunk_rows: usize,
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
            c.model_fingerprint == m.model_fingerprint && c.mode == m.mode && c.dim == m.dim
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

/// Refuses to mix vectors made another way, unless rebuilding: another model or mode (the
/// rule queries pass too, [`Manifest::accepts`]), another text recipe or dimension.
fn check_compatible(dir: &Path, old: &Manifest, new: &Manifest) -> Result<(), IndexError> {
    old.accepts(dir, &new.identity())?;
    let fields: [(&'static str, String, String); 2] = [
        (
            "text recipe",
            old.text_recipe.name().into(),
            new.text_recipe.name().into(),
        ),
        ("dim", old.dim.to_string(), new.dim.to_string()),
    ];
    for (field, stored, wanted) in fields {
        if stored != wanted {
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

/// Texts `range` of an update's inputs, fetched when the embedding reaches them.
pub type TextFetch<'a> =
    dyn Fn(std::ops::Range<usize>) -> Result<Vec<String>, IndexError> + Sync + 'a;

/// Where the vectors of new inputs come from: the [`Encoder`], or (benches that need an index
/// of a million papers without embedding them) vectors made some other way.
pub trait VectorSource: Sync {
    /// Values per vector it makes: the manifest's `dim`, which an update may not change.
    fn dim(&self) -> usize;
    /// Which vectors it makes (model and numeric mode): recorded in the manifest and hashed
    /// into every key, and refused beside vectors of another identity.
    fn identity(&self) -> ModelIdentity;
    /// Vectors of `n` texts (passages) given by `texts`, handed to `sink` window by window in
    /// order (windows of at most `window` texts); `progress(done, tokens)` follows the work.
    fn stream(
        &self,
        n: usize,
        texts: &TextFetch<'_>,
        window: usize,
        progress: &mut dyn FnMut(usize, usize),
        sink: &mut (dyn FnMut(std::ops::Range<usize>, Embedded) -> Result<(), IndexError> + Send),
    ) -> Result<StageTimes, IndexError>;
}

impl VectorSource for Encoder {
    fn dim(&self) -> usize {
        self.dim
    }

    fn identity(&self) -> ModelIdentity {
        Encoder::identity(self).clone()
    }

    fn stream(
        &self,
        n: usize,
        texts: &TextFetch<'_>,
        window: usize,
        progress: &mut dyn FnMut(usize, usize),
        sink: &mut (dyn FnMut(std::ops::Range<usize>, Embedded) -> Result<(), IndexError> + Send),
    ) -> Result<StageTimes, IndexError> {
        self.embed_fetched(n, texts, Prefix::Passage, window, progress, sink)
    }
}

/// Brings the index in `dir` up to date with the papers of `run`: embeds what is new or changed,
/// keeps the rest, and commits. `progress(done, total, tokens)` follows the embedding.
///
/// Nothing grows with the corpus but a few dozen bytes per paper (keys, offsets, row numbers):
/// the stored papers and this run's are read a group at a time and written to the new papers
/// file at once, the texts to embed are read back from it a window at a time, and the matrix is
/// written chunk by chunk.
pub fn update(
    dir: &Path,
    run: &SpilledCorpus,
    source: &dyn VectorSource,
    opts: &UpdateOptions,
    progress: &mut dyn FnMut(usize, usize, usize),
) -> Result<UpdateStats, IndexError> {
    let dim = source.dim();
    let identity = source.identity();
    let mut stats = UpdateStats::default();
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
        model_id: identity.id.clone(),
        model_fingerprint: identity.fingerprint.clone(),
        dim,
        pooling: "mean".into(),
        normalized: true,
        passage_prefix: Prefix::Passage.as_str().into(),
        query_prefix: Prefix::Query.as_str().into(),
        text_recipe: opts.recipe,
        mode: identity.mode,
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

    // The papers already stored join this run's (see `Merge`), once their file is known whole.
    let previous = match &old {
        Some(o) if !o.papers_file.is_empty() => previous_papers(dir, o, run, opts, &mut stats)?,
        _ => None,
    };

    // The new papers file is written first, under its temporary name; the texts to embed are
    // read back from it, and it is renamed into place at the commit.
    let papers_file = format!("papers-{:06}.jsonl", m.generation);
    let papers_path = dir.join(&papers_file);
    let pending = crate::atomic::Pending::create(&papers_path).map_err(io_err(&papers_path))?;
    let mut out = PapersOut {
        file: std::io::BufWriter::with_capacity(1 << 20, pending.file()),
        rows: super::store::RowsBuilder::new(),
        keys: Vec::new(),
        live: HashSet::new(),
        todo: Vec::new(),
        stored: &stored,
        opts,
        identity: &identity,
    };
    let mut placed = vec![false; run.len()];
    let write_err = io_err(pending.tmp_path());
    if let Some(path) = &previous {
        let roots = Roots::new(&opts.roots);
        for_each_line_group(path, &mut |lines| {
            let stored_papers: Vec<Paper> = parse_lines(path, lines)?;
            let mut group = Vec::with_capacity(stored_papers.len());
            for p in stored_papers {
                match run.find(&p.arxiv_id) {
                    Some(i) => {
                        if !std::mem::replace(&mut placed[i], true) {
                            let mut paper = run.paper(i)?;
                            // A paper read from another source keeps what that source gave it
                            // (a digest's summary beside arXiv's abstract); from the same file,
                            // the new reading replaces the old one (an edited digest).
                            if p.source.file != paper.source.file {
                                crate::corpus::absorb(&mut paper, p);
                            }
                            group.push(paper);
                        }
                    }
                    None if opts.prune || roots.lost(&p.source.file) => {}
                    None => group.push(p),
                }
            }
            out.write(group, &mut stats).map_err(&write_err)
        })?;
    }
    let mut at = 0;
    while at < run.len() {
        let end = (at + WRITE_GROUP).min(run.len());
        let group: Vec<Paper> = run
            .papers(at..end)?
            .into_iter()
            .zip(&placed[at..end])
            .filter(|(_, &done)| !done)
            .map(|(p, _)| p)
            .collect();
        out.write(group, &mut stats).map_err(&write_err)?;
        at = end;
    }
    drop(placed);
    let (rows_builder, row_keys, live, todo) = out.finish().map_err(&write_err)?;
    let offsets = rows_builder.offsets().to_vec();

    let total = todo.len();
    let recipe = opts.recipe;
    let tmp_path = pending.tmp_path().to_path_buf();
    let fetch = |range: std::ops::Range<usize>| -> Result<Vec<String>, IndexError> {
        read_rows(&tmp_path, &offsets, &todo[range])
            .map(|papers| papers.iter().map(|p| recipe.text(&p.paper)).collect())
    };
    let mut n = 0;
    let generation = m.generation;
    let mut commit =
        |range: std::ops::Range<usize>, emb: crate::embed::Embedded| -> Result<(), IndexError> {
            let keys: Vec<[u8; 32]> = todo[range.clone()]
                .iter()
                .map(|&r| row_keys[r as usize])
                .collect();
            let file = format!("{generation:06}-{n:05}.safetensors");
            n += 1;
            let path = vectors_dir.join(&file);
            let crc32 = write_chunk(
                &path,
                &keys,
                &emb.vectors,
                ChunkMeta {
                    model_fingerprint: m.model_fingerprint.clone(),
                    mode: m.mode,
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
        stats.stages = source.stream(
            total,
            &fetch,
            opts.chunk_rows.max(1),
            &mut |done, tokens| progress(done, total, tokens),
            &mut commit,
        )?;
    }
    drop(todo);
    drop(offsets);

    // Chunks whose vectors no paper uses any more are dropped once they are mostly garbage.
    m.chunks = compact(dir, &m, &chunk_keys, &live)?;
    drop(live);
    drop(chunk_keys);

    let papers = rows_builder.len();
    let (papers_crc32, rows_bytes) = rows_builder.finish();
    drop(write_err);
    pending.commit().map_err(io_err(&papers_path))?;
    crash_point("papers-written");
    // The rows file and the matrix let the next open map the index instead of reading it.
    let rows = write_derived(dir, format!("papers-{:06}.rows", m.generation), &rows_bytes)?;
    drop(rows_bytes);
    let matrix = write_matrix(
        dir,
        format!("matrix-{:06}.f32", m.generation),
        &m,
        &row_keys,
    )?;
    crash_point("matrix-written");
    m.papers_file = papers_file;
    m.papers = papers;
    m.papers_crc32 = Some(papers_crc32);
    m.rows = Some(rows);
    m.matrix = Some(matrix);
    write_manifest(dir, &m)?;
    crash_point("manifest-committed");
    // The staging manifest is done with (or, after a plain update, names only garbage).
    let _ = std::fs::remove_file(dir.join(STAGING));
    collect_garbage(dir, &m, old.as_ref());
    stats.papers = papers;
    Ok(stats)
}

/// Papers serialised and written at a time by an update (about 200 MB of JSON at most).
const WRITE_GROUP: usize = 65_536;

/// Bytes of a stored papers file read and parsed at a time.
const READ_GROUP_BYTES: usize = 64 << 20;

/// A stored paper's line, its vector key and its id.
type KeyedLine = (Vec<u8>, [u8; 32], String);

/// What [`for_each_line_group`] hands each group of whole lines to.
type LineGroupFn<'a> = dyn FnMut(&[&[u8]]) -> Result<(), IndexError> + 'a;

/// The new papers file as it is written, with what the embedding and the matrix need of it.
struct PapersOut<'a> {
    file: std::io::BufWriter<&'a std::fs::File>,
    rows: super::store::RowsBuilder,
    /// Each row's vector key.
    keys: Vec<[u8; 32]>,
    /// Every key a row uses.
    live: HashSet<[u8; 32]>,
    /// Rows whose input is embedded by this run (the first row of each new input).
    todo: Vec<u32>,
    stored: &'a HashSet<[u8; 32]>,
    opts: &'a UpdateOptions,
    /// The identity whose fingerprint and mode key each input.
    identity: &'a ModelIdentity,
}

impl PapersOut<'_> {
    /// Flushes the file; the rows, each row's key, the live keys and the rows to embed.
    #[allow(clippy::type_complexity)]
    fn finish(
        mut self,
    ) -> std::io::Result<(
        super::store::RowsBuilder,
        Vec<[u8; 32]>,
        HashSet<[u8; 32]>,
        Vec<u32>,
    )> {
        self.file.flush()?;
        Ok((self.rows, self.keys, self.live, self.todo))
    }

    /// Writes a group of papers as rows (those the recipe has no text for are counted and left
    /// out), keying each input.
    fn write(&mut self, group: Vec<Paper>, stats: &mut UpdateStats) -> std::io::Result<()> {
        use rayon::prelude::*;
        let (opts, identity) = (self.opts, self.identity);
        let lines: Vec<Option<KeyedLine>> = group
            .into_par_iter()
            .map(|p| {
                if !opts.recipe.embeds(&p) {
                    return Ok(None);
                }
                let input = format!("{}{}", Prefix::Passage.as_str(), opts.recipe.text(&p));
                let key = crate::text::input_key(&identity.fingerprint, identity.mode, &input);
                let id = p.arxiv_id.clone();
                let record = IndexedPaper {
                    paper: p,
                    key: hex(&key),
                };
                let mut line = serde_json::to_vec(&record)?;
                line.push(b'\n');
                Ok(Some((line, key, id)))
            })
            .collect::<Result<_, serde_json::Error>>()
            .map_err(std::io::Error::other)?;
        for entry in lines {
            let Some((line, key, id)) = entry else {
                stats.without_summary += 1;
                continue;
            };
            let row = self.rows.len();
            let new = self.live.insert(key);
            if self.stored.contains(&key) || !new {
                // Stored, or an identical input already queued: shares its vector.
                stats.skipped += 1;
            } else {
                self.todo.push(u32::try_from(row).map_err(|_| {
                    std::io::Error::other("more than 4,294,967,295 papers in one index")
                })?);
            }
            self.keys.push(key);
            self.rows.push(&line, &id);
            self.file.write_all(&line)?;
        }
        Ok(())
    }
}

/// The stored papers file of `old`, if it reads whole (a damaged one is reported in `stats`
/// and its papers are not kept), having counted what this run keeps and removes of it. Without
/// `opts.prune`, refuses a run that would remove more than [`MAX_SILENT_REMOVAL`] of the index
/// ([`IndexError::WouldRemove`]) before anything is written.
fn previous_papers(
    dir: &Path,
    old: &Manifest,
    run: &SpilledCorpus,
    opts: &UpdateOptions,
    stats: &mut UpdateStats,
) -> Result<Option<std::path::PathBuf>, IndexError> {
    /// What the count needs of a stored line.
    #[derive(serde::Deserialize)]
    struct Head {
        arxiv_id: String,
        source: Option<crate::corpus::SourceLoc>,
    }
    let path = dir.join(&old.papers_file);
    let roots = Roots::new(&opts.roots);
    let mut crc = crc32fast::Hasher::new();
    let (mut count, mut kept, mut removed) = (0usize, 0usize, 0usize);
    let mut bad: Option<String> = None;
    let scanned = for_each_line_group(&path, &mut |lines| {
        use rayon::prelude::*;
        for l in lines {
            crc.update(l);
        }
        let heads: Vec<Result<Option<Head>, String>> = lines
            .par_iter()
            .map(|l| {
                if l.iter().all(u8::is_ascii_whitespace) {
                    return Ok(None);
                }
                serde_json::from_slice::<Head>(l)
                    .map(Some)
                    .map_err(|e| e.to_string())
            })
            .collect();
        for (n, h) in heads.into_iter().enumerate() {
            match h {
                Ok(Some(h)) => {
                    count += 1;
                    if run.find(&h.arxiv_id).is_none() {
                        let lost = h.source.is_some_and(|s| roots.lost(&s.file));
                        if opts.prune || lost {
                            removed += 1;
                        } else {
                            kept += 1;
                        }
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    if bad.is_none() {
                        bad = Some(format!("line {}: {e}", count + n + 1));
                    }
                }
            }
        }
        Ok(())
    });
    let what = match scanned {
        Err(IndexError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Some("missing".to_string())
        }
        Err(e) => return Err(e),
        Ok(())
            if old
                .papers_crc32
                .is_some_and(|w| w != crc.clone().finalize()) =>
        {
            Some("checksum mismatch".into())
        }
        Ok(()) if bad.is_some() => bad,
        Ok(()) if count != old.papers => {
            Some(format!("{count} papers, the manifest says {}", old.papers))
        }
        Ok(()) => None,
    };
    if let Some(what) = what {
        stats.repairs.push(format!(
            "{}: damaged: {what}: the papers it listed are not kept (only this run's papers are)",
            path.display()
        ));
        return Ok(None);
    }
    if !opts.prune && removed as f64 > MAX_SILENT_REMOVAL * count as f64 {
        return Err(IndexError::WouldRemove {
            dir: dir.to_path_buf(),
            removing: removed,
            papers: count,
        });
    }
    stats.kept = kept;
    stats.removed = removed;
    Ok(Some(path))
}

/// Reads the file at `path` in groups of whole lines (about [`READ_GROUP_BYTES`] each), each
/// line with its `\n`, handing each group to `f`.
fn for_each_line_group(path: &Path, f: &mut LineGroupFn<'_>) -> Result<(), IndexError> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).map_err(io_err(path))?;
    let mut buf: Vec<u8> = Vec::new();
    let mut eof = false;
    while !eof {
        let have = buf.len();
        buf.resize(have + READ_GROUP_BYTES, 0);
        let mut filled = have;
        while filled < buf.len() {
            let n = file.read(&mut buf[filled..]).map_err(io_err(path))?;
            if n == 0 {
                eof = true;
                break;
            }
            filled += n;
        }
        buf.truncate(filled);
        // Whole lines now; the tail of a line cut by the read waits for the next group.
        let cut = if eof {
            buf.len()
        } else {
            buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)
        };
        let lines: Vec<&[u8]> = buf[..cut].split_inclusive(|&b| b == b'\n').collect();
        if !lines.is_empty() {
            f(&lines)?;
        }
        buf.drain(..cut);
    }
    Ok(())
}

/// The stored papers of `lines` (blank lines skipped), or the first that does not parse.
fn parse_lines(path: &Path, lines: &[&[u8]]) -> Result<Vec<Paper>, IndexError> {
    use rayon::prelude::*;
    lines
        .par_iter()
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .map(|l| {
            serde_json::from_slice::<IndexedPaper>(l)
                .map(|r| r.paper)
                .map_err(|e| IndexError::Damaged {
                    path: path.to_path_buf(),
                    what: e.to_string(),
                })
        })
        .collect()
}

/// Rows `rows` (increasing) of the papers file at `path`, whose rows start at `offsets`: runs
/// of consecutive rows are read with one read each.
fn read_rows(path: &Path, offsets: &[u64], rows: &[u32]) -> Result<Vec<IndexedPaper>, IndexError> {
    use rayon::prelude::*;
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).map_err(io_err(path))?;
    let mut out = Vec::with_capacity(rows.len());
    let mut i = 0;
    while i < rows.len() {
        let mut j = i + 1;
        while j < rows.len() && rows[j] == rows[j - 1] + 1 {
            j += 1;
        }
        let (a, b) = (offsets[rows[i] as usize], offsets[rows[j - 1] as usize + 1]);
        let mut buf = vec![0u8; (b - a) as usize];
        file.seek(SeekFrom::Start(a))
            .and_then(|_| file.read_exact(&mut buf))
            .map_err(io_err(path))?;
        let parsed: Vec<IndexedPaper> = rows[i..j]
            .par_iter()
            .map(|&r| {
                let (x, y) = (offsets[r as usize] - a, offsets[r as usize + 1] - a);
                serde_json::from_slice(&buf[x as usize..y as usize]).map_err(|e| {
                    IndexError::Damaged {
                        path: path.to_path_buf(),
                        what: format!("row {r}: {e}"),
                    }
                })
            })
            .collect::<Result<_, _>>()?;
        out.extend(parsed);
        i = j;
    }
    Ok(out)
}

/// Writes the matrix (row `r` the vector of key `row_keys[r]`) chunk by chunk, each vector
/// written in place, so that neither the matrix nor a map of it is ever held whole.
fn write_matrix(
    dir: &Path,
    name: String,
    m: &Manifest,
    row_keys: &[[u8; 32]],
) -> Result<super::store::FileRef, IndexError> {
    use std::collections::hash_map::Entry;
    use std::io::{Read, Seek, SeekFrom};
    let path = dir.join(&name);
    let err = io_err(&path);
    let dim = m.dim;
    let row_bytes = (dim * 4) as u64;
    // The first row of each key; rows repeating a key copy that row's vector at the end.
    let mut first: std::collections::HashMap<[u8; 32], u32> =
        std::collections::HashMap::with_capacity(row_keys.len());
    let mut again: Vec<(u32, u32)> = Vec::new();
    for (r, k) in row_keys.iter().enumerate() {
        match first.entry(*k) {
            Entry::Vacant(v) => {
                v.insert(r as u32);
            }
            Entry::Occupied(o) => again.push((r as u32, *o.get())),
        }
    }
    let pending = crate::atomic::Pending::create(&path).map_err(&err)?;
    let mut file = pending.file();
    file.set_len(row_keys.len() as u64 * row_bytes)
        .map_err(&err)?;
    let mut filled = vec![false; row_keys.len()];
    for c in &m.chunks {
        let chunk = read_chunk(&dir.join(VECTORS_DIR).join(&c.file), dim, c.crc32)?;
        let mut targets: Vec<(u32, usize)> = chunk
            .keys
            .iter()
            .enumerate()
            .filter_map(|(i, k)| first.get(k).map(|&r| (r, i)))
            .filter(|&(r, _)| !std::mem::replace(&mut filled[r as usize], true))
            .collect();
        targets.sort_unstable();
        // Runs of consecutive rows are one write.
        let mut i = 0;
        while i < targets.len() {
            let mut j = i + 1;
            while j < targets.len() && targets[j].0 == targets[j - 1].0 + 1 {
                j += 1;
            }
            let bytes: Vec<u8> = targets[i..j]
                .iter()
                .flat_map(|&(_, at)| bytemuck::cast_slice(&chunk.vectors[at * dim..(at + 1) * dim]))
                .copied()
                .collect();
            file.seek(SeekFrom::Start(u64::from(targets[i].0) * row_bytes))
                .and_then(|_| file.write_all(&bytes))
                .map_err(&err)?;
            i = j;
        }
    }
    let missing = |r: usize| IndexError::Damaged {
        path: dir.join(&m.papers_file),
        what: format!("row {}: no stored vector for its input", r + 1),
    };
    if let Some(r) = (0..row_keys.len()).find(|&r| !filled[r] && first[&row_keys[r]] == r as u32) {
        return Err(missing(r));
    }
    let mut v = vec![0u8; row_bytes as usize];
    for (r, f) in again {
        file.seek(SeekFrom::Start(u64::from(f) * row_bytes))
            .and_then(|_| file.read_exact(&mut v))
            .and_then(|_| file.seek(SeekFrom::Start(u64::from(r) * row_bytes)))
            .and_then(|_| file.write_all(&v))
            .map_err(&err)?;
    }
    // The checksum is read back in order, a few MiB at a time.
    file.seek(SeekFrom::Start(0)).map_err(&err)?;
    let mut crc = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 8 << 20];
    loop {
        let n = file.read(&mut buf).map_err(&err)?;
        if n == 0 {
            break;
        }
        crc.update(&buf[..n]);
    }
    pending.commit().map_err(&err)?;
    Ok(super::store::FileRef {
        file: name,
        bytes: row_keys.len() as u64 * row_bytes,
        crc32: crc.finalize(),
    })
}

/// Writes a file derived at a commit (the rows file), under its final name, atomically.
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
                    mode: m.mode,
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
