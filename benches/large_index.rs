//! Writes a real index directory of N papers without a model, for timing the commands that
//! read an index (`topics`, `related`, `report`, `search`, `serve`) at sizes no CPU embeds.
//!
//! Papers are the archive's, copied: copy `r` of paper `j` gets the id `10YY.NNNNN` with
//! `YY.NNNNN = r · papers + j` (as `benches/gpu/replicate.py` numbers the GPU run's papers) and
//! ` (rR)` after its summary; its vector is paper `j`'s stored summary vector
//! (`tests/data/archive-summary-vectors.safetensors`) plus Gaussian noise (σ = 0.02 per
//! coordinate, seeded by the copy), re-normalised. The index goes through the library's own
//! writer ([`papermap::index::update`]), so it is what `papermap index` would store.
//!
//! ```text
//! cargo bench --bench large_index -- --papers 1000000 --out DIR [--archive DIR]
//!                                     [--fingerprint FP] [--vectors FILE]
//! ```
//! `--fingerprint` stamps the index with a model's fingerprint (`papermap model info --json`), so
//! that the commands that load the model (topics' keywords, the report's summary check) take it
//! as that model's index; by default it is the fingerprint the stored vectors were made with.

use std::collections::HashMap;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Instant;

use papermap::embed::{Embedded, Mode, ModelIdentity, StageTimes};
use papermap::index::{update, IndexError, TextFetch, TextRecipe, UpdateOptions, VectorSource};
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256Plus;
use rayon::prelude::*;

/// Noise per coordinate of a copy's vector.
const SIGMA: f32 = 0.02;

/// Vectors of the copies: a text is its source paper's text with ` (rR)` after it, which gives
/// the source paper and the copy number without a map of a million texts.
struct Copies<'a> {
    dim: usize,
    identity: ModelIdentity,
    base: &'a [f32],
    of_text: HashMap<String, usize>,
}

impl Copies<'_> {
    /// The source paper and copy number of `text`.
    fn source(&self, text: &str) -> (usize, u64) {
        let parsed = text.strip_suffix(')').and_then(|t| {
            let (base, r) = t.rsplit_once(" (r")?;
            Some((*self.of_text.get(base)?, r.parse().ok()?))
        });
        parsed.unwrap_or((0, u64::MAX))
    }

    fn vector(&self, text: &str) -> Vec<f32> {
        let (j, r) = self.source(text);
        let mut rng = Xoshiro256Plus::seed_from_u64(r.wrapping_mul(1_000_003) ^ j as u64);
        let mut v: Vec<f32> = self.base[j * self.dim..(j + 1) * self.dim].to_vec();
        // Box-Muller pairs.
        for pair in v.chunks_mut(2) {
            let u1 = ((rng.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
            let u2 = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            let r = (-2.0 * u1.ln()).sqrt();
            let t = 2.0 * std::f64::consts::PI * u2;
            pair[0] += SIGMA * (r * t.cos()) as f32;
            if let Some(x) = pair.get_mut(1) {
                *x += SIGMA * (r * t.sin()) as f32;
            }
        }
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        v.iter_mut().for_each(|x| *x /= norm);
        v
    }
}

impl VectorSource for Copies<'_> {
    fn dim(&self) -> usize {
        self.dim
    }

    fn identity(&self) -> ModelIdentity {
        self.identity.clone()
    }

    fn stream(
        &self,
        n: usize,
        texts: &TextFetch<'_>,
        window: usize,
        progress: &mut dyn FnMut(usize, usize),
        sink: &mut (dyn FnMut(Range<usize>, Embedded) -> Result<(), IndexError> + Send),
    ) -> Result<StageTimes, IndexError> {
        let start = Instant::now();
        let mut done = 0;
        let window = window.max(1);
        for first in (0..n).step_by(window) {
            let chunk = texts(first..(first + window).min(n))?;
            let vectors: Vec<f32> = chunk.par_iter().flat_map(|t| self.vector(t)).collect();
            sink(
                first..first + chunk.len(),
                Embedded {
                    vectors,
                    dim: self.dim,
                    ..Embedded::default()
                },
            )?;
            done += chunk.len();
            progress(done, 0);
        }
        Ok(StageTimes {
            wall_s: start.elapsed().as_secs_f64(),
            ..StageTimes::default()
        })
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut n = 100_000usize;
    let mut out: Option<PathBuf> = None;
    let mut archive = root.join("../shared/data/archive");
    let mut fingerprint: Option<String> = None;
    let mut vectors = root.join("tests/data/archive-summary-vectors.safetensors");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--papers" => n = val()?.parse()?,
            "--out" => out = Some(PathBuf::from(val()?)),
            "--archive" => archive = PathBuf::from(val()?),
            "--fingerprint" => fingerprint = Some(val()?),
            "--vectors" => vectors = PathBuf::from(val()?),
            "--bench" => {}
            _ => return Err(format!("unknown argument {a}").into()),
        }
    }
    let out = out.ok_or("--out DIR is required")?;
    write(0..n, &out, &archive, &vectors, fingerprint)
}

/// Writes the index of papers `papers` into `out` (see the module doc); `archive` gives the
/// papers, `vectors` their stored summary vectors. From paper 0 the index is built anew;
/// otherwise the papers are added to the index in `out`, as a day's `papermap index` adds.
pub fn write(
    papers: Range<usize>,
    out: &std::path::Path,
    archive: &std::path::Path,
    vectors: &std::path::Path,
    fingerprint: Option<String>,
) -> Result<(), Box<dyn std::error::Error>> {
    let bytes = std::fs::read(vectors)?;
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes)?;
    let meta = meta
        .metadata()
        .clone()
        .ok_or("vectors file without metadata")?;
    let ids: Vec<String> = serde_json::from_str(&meta["ids"])?;
    let st = safetensors::SafeTensors::deserialize(&bytes)?;
    let stored: Vec<f32> = st
        .tensor("summaries")?
        .data()
        .chunks_exact(2)
        .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
        .collect();
    let dim = stored.len() / ids.len().max(1);
    let row_of: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();

    let corpus = papermap::corpus::load(&[archive.to_path_buf()])?;
    let sources: Vec<(&papermap::corpus::Paper, usize)> = corpus
        .papers
        .iter()
        .filter(|p| p.has_summary())
        .filter_map(|p| row_of.get(p.arxiv_id.as_str()).map(|&r| (p, r)))
        .collect();
    if sources.is_empty() {
        return Err("no archive paper has a stored vector".into());
    }
    let m = sources.len();
    let start = Instant::now();
    let recipe = TextRecipe::TitleSummary;
    // Papers are made a group at a time into the run's scratch file, as `papermap index` reads
    // an archive: this process holds what the writer holds, not a million papers beside it.
    std::fs::create_dir_all(out)?;
    let mut spill = papermap::corpus::Spill::create(out)?;
    for group in papers.clone().step_by(65_536) {
        let batch: Vec<papermap::corpus::Paper> = (group..(group + 65_536).min(papers.end))
            .into_par_iter()
            .map(|i| {
                let (r, j) = (i / m, i % m);
                let mut p = sources[j].0.clone();
                p.arxiv_id = format!("10{:02}.{:05}", i / 100_000, i % 100_000);
                p.url = format!("https://arxiv.org/abs/{}", p.arxiv_id);
                p.summary.push_str(&format!(" (r{r})"));
                p
            })
            .collect();
        spill.push(batch);
    }
    let run = spill.finish()?;
    let base: Vec<f32> = sources
        .iter()
        .flat_map(|&(_, row)| stored[row * dim..(row + 1) * dim].iter().copied())
        .collect();
    let of_text: HashMap<String, usize> = sources
        .iter()
        .enumerate()
        .map(|(j, &(p, _))| (recipe.text(p), j))
        .collect();
    let source = Copies {
        dim,
        identity: ModelIdentity {
            id: "intfloat/multilingual-e5-small".into(),
            fingerprint: fingerprint.unwrap_or_else(|| {
                meta.get("model_fingerprint")
                    .cloned()
                    .unwrap_or_else(|| "synthetic".into())
            }),
            mode: Mode::F32,
        },
        base: &base,
        of_text,
    };
    let opts = UpdateOptions {
        recipe,
        rebuild: papers.start == 0,
        chunk_rows: 65_536,
        prune: false,
        roots: Vec::new(),
    };
    let stats = update(out, &run, &source, &opts, &mut |_, _, _| {})?;
    eprintln!(
        "wrote papers {papers:?} ({} copies of {m} archive papers) into {}: {} papers, {} embedded, in {:.1}s",
        papers.end.div_ceil(m),
        out.display(),
        stats.papers,
        stats.embedded,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
