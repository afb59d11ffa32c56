//! BM25's top 100 on a real index (a hybrid search's lexical depth): `Bm25::search`, which
//! cuts a query's common words short (MaxScore), against scoring every document and ranking
//! them all (`Bm25::scores`, the same sums), alternating, median of `--runs`; and a check that
//! both give the same hits, bit for bit.
//!
//! ```text
//! cargo bench --bench lexical_top -- --index DIR [--runs 5]
//! ```
//!
//! The queries are the scale bench's, the server's load: a rare term with a common one, and
//! a Korean query of common words only.

use std::time::Instant;

use papermap::index::Index;
use papermap::search::{lexical_store, Bm25, Hit};

const QUERIES: [&str; 4] = [
    "speculative decoding",
    "3D Gaussian Splatting 렌더링",
    "강화 학습으로 추론 능력 향상",
    "KV cache compression",
];
const DEPTH: usize = 100;

#[path = "common/index_runs.rs"]
mod index_runs;

fn main() {
    if let Err(e) = run() {
        eprintln!("lexical_top: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let index_runs::IndexRuns { index: dir, runs } = index_runs::parse(5)?;
    let index = Index::open(&dir).map_err(|e| e.to_string())?;
    let bm25 = lexical_store::load_or_build(&index, None).map_err(|e| e.to_string())?;
    println!(
        "{} papers, top {DEPTH}, median of {runs} alternating runs of 20 searches each\n",
        bm25.len()
    );
    println!("| query | every score ranked, ms | search, ms | ratio |\n|---|---:|---:|---:|");
    for q in QUERIES {
        // The first reads bring the lists into memory and check them.
        let (want, got) = (ranked(&bm25, q), bm25.search(q, DEPTH, None));
        let bits = |h: &[Hit]| -> Vec<(usize, u32)> {
            h.iter().map(|h| (h.row, h.score.to_bits())).collect()
        };
        if bits(&want) != bits(&got) {
            return Err(format!("{q:?}: the hits differ"));
        }
        let (mut full, mut cut) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            full.push(time(|| ranked(&bm25, q)));
            cut.push(time(|| bm25.search(q, DEPTH, None)));
        }
        let (f, c) = (median(&mut full), median(&mut cut));
        println!("| {q} | {f:.2} | {c:.2} | {:.2}x |", f / c);
    }
    println!("\nhits equal, bit for bit");
    Ok(())
}

/// Every document scored, the positive ones ranked (score, then lower row).
fn ranked(bm25: &Bm25, q: &str) -> Vec<Hit> {
    let mut hits: Vec<Hit> = bm25
        .scores(q)
        .into_iter()
        .enumerate()
        .filter(|&(_, s)| s > 0.0)
        .map(|(row, score)| Hit { row, score })
        .collect();
    let at = DEPTH.min(hits.len());
    if at > 0 && at < hits.len() {
        hits.select_nth_unstable_by(at - 1, |a, b| {
            b.score.total_cmp(&a.score).then(a.row.cmp(&b.row))
        });
    }
    hits.truncate(at);
    hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.row.cmp(&b.row)));
    hits
}

/// Milliseconds per call of `f`, over 20 calls.
fn time<T>(mut f: impl FnMut() -> T) -> f64 {
    let t = Instant::now();
    for _ in 0..20 {
        std::hint::black_box(f());
    }
    t.elapsed().as_secs_f64() * 1e3 / 20.0
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
