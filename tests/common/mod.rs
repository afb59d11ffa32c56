//! Shared test helpers: locating ../shared data and the provisioned model, the one fixture
//! ([`fixture`]) and the one seeded generator ([`rng`]).
#![allow(dead_code)]

use std::path::PathBuf;

use papermap::corpus::Paper;
use papermap::embed::model::{ModelFiles, Resolver};
use papermap::index::{Index, IndexedPaper, Manifest, TextRecipe, FORMAT_VERSION};

/// `../shared` beside the checkout (CI has it there).
pub fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared")
}

/// The real model, resolved offline the way the CLI does; panics with the provisioning hint.
pub fn real_model() -> ModelFiles {
    let r = Resolver {
        offline: true,
        ..Default::default()
    };
    match r.resolve() {
        Ok(f) => f,
        Err(e) => panic!("the real model is needed: run models/provision.sh first\n{e}"),
    }
}

/// The golden reference papers, one JSON object per paper.
pub fn reference_papers() -> Vec<serde_json::Value> {
    let path = shared().join("reference/seeds_e5_small.json");
    let text = std::fs::read_to_string(&path).expect("reference json");
    let v: serde_json::Value = serde_json::from_str(&text).expect("reference parses");
    v["papers"].as_array().expect("papers array").clone()
}

/// Cosine of two vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut d, mut na, mut nb) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        d += *x as f64 * *y as f64;
        na += *x as f64 * *x as f64;
        nb += *y as f64 * *y as f64;
    }
    d / (na.sqrt() * nb.sqrt())
}

/// A JSON array of numbers as f32 / u32.
pub fn f32s(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("num") as f32)
        .collect()
}
pub fn u32s(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("int") as u32)
        .collect()
}
/// The archive's stored vectors (`tests/data/make_summary_vectors.py`): every paper's summary
/// vector and title query vector, rows in `ids` order, 384 each.
pub struct SummaryVectors {
    /// arXiv id of each row.
    pub ids: Vec<String>,
    /// Date of each row.
    pub dates: Vec<String>,
    /// Summary (passage) vectors, row-major.
    pub summaries: Vec<f32>,
    /// Title (query) vectors, row-major.
    pub titles: Vec<f32>,
}

/// Reads `tests/data/archive-summary-vectors.safetensors`; the f16 rows are renormalised so the
/// index's unit-vector contract holds.
pub fn archive_summary_vectors() -> SummaryVectors {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/archive-summary-vectors.safetensors");
    let bytes = std::fs::read(&path).expect("summary vectors");
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).expect("header");
    let meta = meta.metadata().clone().expect("metadata");
    let ids: Vec<String> = serde_json::from_str(&meta["ids"]).expect("ids");
    let dates: Vec<String> = serde_json::from_str(&meta["dates"]).expect("dates");
    let st = safetensors::SafeTensors::deserialize(&bytes).expect("tensors");
    let unit_rows = |name: &str| -> Vec<f32> {
        let mut v: Vec<f32> = st
            .tensor(name)
            .expect(name)
            .data()
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect();
        for row in v.chunks_exact_mut(384) {
            let n = row.iter().map(|x| x * x).sum::<f32>().sqrt();
            row.iter_mut().for_each(|x| *x /= n);
        }
        v
    };
    SummaryVectors {
        ids,
        dates,
        summaries: unit_rows("summaries"),
        titles: unit_rows("titles"),
    }
}

/// The manifest of an in-memory index of `papers` reference vectors (384, mean-pooled,
/// normalised, summary recipe, f32).
pub fn in_memory_manifest(papers: usize) -> Manifest {
    Manifest {
        format_version: FORMAT_VERSION,
        model_id: "reference".into(),
        model_fingerprint: "reference".into(),
        dim: 384,
        pooling: "mean".into(),
        normalized: true,
        passage_prefix: "passage: ".into(),
        query_prefix: "query: ".into(),
        text_recipe: TextRecipe::Summary,
        mode: papermap::embed::Mode::F32,
        generation: 1,
        papers_file: "papers.jsonl".into(),
        papers,
        chunks: Vec::new(),
        papers_crc32: None,
        rows: None,
        matrix: None,
        checksum: None,
    }
}

/// The archive's summary vectors and title query vectors (see
/// `tests/data/make_summary_vectors.py`), as an in-memory index of the papers dated `from` on
/// (all with `None`), and the title vectors of the same rows.
pub fn archive_summary_index(from: Option<&str>) -> (Index, Vec<f32>) {
    let stored = archive_summary_vectors();
    let dim = 384;
    let (mut papers, mut vectors, mut queries) = (Vec::new(), Vec::new(), Vec::new());
    for (i, (id, date)) in stored.ids.iter().zip(&stored.dates).enumerate() {
        if from.is_some_and(|f| date.as_str() < f) {
            continue;
        }
        let paper: Paper = serde_json::from_value(serde_json::json!({
            "arxiv_id": id, "title": id, "url": "", "date": date,
            "dates": [], "votes": null, "authors": [], "thumbnail": null, "whats_new": null,
            "technical_details": null, "performance_highlights": null, "summary": "",
            "source": {"file": "archive", "line": i + 1},
        }))
        .expect("paper");
        papers.push(IndexedPaper {
            paper,
            key: format!("{i:064x}"),
        });
        vectors.extend_from_slice(&stored.summaries[i * dim..(i + 1) * dim]);
        queries.extend_from_slice(&stored.titles[i * dim..(i + 1) * dim]);
    }
    let manifest = in_memory_manifest(papers.len());
    let index =
        Index::from_parts(PathBuf::from("/nonexistent"), manifest, papers, vectors).expect("index");
    (index, queries)
}

pub mod cdp;
pub mod fixture;
pub mod oracle;
pub mod rng;
pub mod server;
pub mod tiny;

// Every file that runs the binary on the sample says `common::Sample`; the few that do not
// (report, golden, embed_tiny) would otherwise warn about this re-export.
#[allow(unused_imports)]
pub use fixture::Sample;

/// Headless Chromium, when installed (CI always has it: .ci/run installs it).
pub fn chromium() -> Option<&'static str> {
    let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have chromium (.ci/run installs it)"
        );
        eprintln!("chromium not installed: browser check skipped");
    }
    found
}
