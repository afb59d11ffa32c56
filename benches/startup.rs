//! Where the start-up of one `papermap search` goes, and its end-to-end wall clock.
//!
//! In-process, each stage of a hybrid search timed on its own (median of `--runs`): opening the
//! index, the lexical side (BM25 postings and term translations), resolving the model, reading
//! the tokenizer, loading the whole encoder (tokenizer, weights, q8 packing), embedding the
//! query, and the search itself. Then the real command, `papermap search TEXT --index DIR`, run
//! `--runs` times in a child process: the median wall clock is what a person waits.
//!
//! ```text
//! cargo bench --bench startup -- --index DIR [--runs 5] [--query TEXT] [--papermap BIN]
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

use papermap::embed::model::Resolver;
use papermap::embed::{EncoderOptions, Prefix};
use papermap::index::Index;
use papermap::search::{Mode, Searcher};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut index = PathBuf::new();
    let mut runs = 5usize;
    let mut query = "비디오 생성 diffusion transformer".to_string();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    let mut bin = target.join("release").join("papermap");
    while let Some(a) = args.next() {
        match a.as_str() {
            "--index" => index = args.next().map(PathBuf::from).unwrap_or_default(),
            "--runs" => runs = args.next().and_then(|v| v.parse().ok()).unwrap_or(runs),
            "--query" => query = args.next().unwrap_or(query),
            "--papermap" => bin = args.next().map(PathBuf::from).unwrap_or(bin),
            "--bench" => {}
            other => {
                eprintln!("startup: unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    if let Err(e) = run(&index, runs.max(1), &query, &bin) {
        eprintln!("startup: {e}");
        std::process::exit(1);
    }
}

fn time<T>(f: impl FnOnce() -> Result<T, String>) -> Result<(f64, T), String> {
    let t = Instant::now();
    let v = f()?;
    Ok((t.elapsed().as_secs_f64(), v))
}

fn run(dir: &Path, runs: usize, query: &str, bin: &Path) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let names = [
        "open index",
        "lexical side (BM25, translations), built",
        "lexical side, read from lexical.bin",
        "resolve model",
        "tokenizer.json, the tokenizers crate's reader",
        "tokenizer.json, papermap's reader",
        "encoder (tokenizer, weights, q8 packing)",
        "encoder for one known query (Encoder::load_for)",
        "embed the query",
        "hybrid search",
    ];
    let mut stages: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for _ in 0..runs {
        let (s, index) = time(|| Index::open(dir).map_err(|e| err(&e)))?;
        stages[0].push(s);
        let (s, _bm25) =
            time(|| papermap::search::Bm25::from_index(&index, None).map_err(|e| err(&e)))?;
        stages[1].push(s);
        let (s, searcher) = time(|| {
            Searcher::new(&index, &papermap::vectors::VectorBackend::Cpu, None).map_err(|e| err(&e))
        })?;
        stages[2].push(s);
        let (s, files) = time(|| Resolver::default().resolve().map_err(|e| err(&e)))?;
        stages[3].push(s);
        let (s, _tok) =
            time(|| tokenizers::Tokenizer::from_file(&files.tokenizer).map_err(|e| err(&e)))?;
        stages[4].push(s);
        let (s, _tok) =
            time(|| papermap::embed::tokenizer_file::load(&files.tokenizer).map_err(|e| err(&e)))?;
        stages[5].push(s);
        let opts = EncoderOptions {
            mode: index.manifest().mode,
            ..EncoderOptions::default()
        };
        let (s, _whole) =
            time(|| papermap::embed::Encoder::load(&files, &opts).map_err(|e| err(&e)))?;
        stages[6].push(s);
        let q = [query.to_string()];
        let (s, encoder) = time(|| {
            papermap::embed::Encoder::load_for(&files, &opts, &q, Prefix::Query)
                .map_err(|e| err(&e))
        })?;
        stages[7].push(s);
        let (s, v) = time(|| encoder.embed_one(query, Prefix::Query).map_err(|e| err(&e)))?;
        stages[8].push(s);
        let (s, hits) = time(|| {
            searcher
                .search(query, Some(&v), Mode::Hybrid, 10)
                .map_err(|e| err(&e))
        })?;
        stages[9].push(s);
        if hits.is_empty() {
            return Err("no hits".into());
        }
    }
    println!(
        "{} papers in {}; query {query:?}; median of {runs}",
        Index::open(dir).map_err(|e| err(&e))?.len(),
        dir.display()
    );
    println!("\n| stage | seconds |\n|---|---:|");
    for (name, v) in names.iter().zip(stages) {
        println!("| {name} | {:.3} |", median(v));
    }
    let mut walls = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let out = std::process::Command::new(bin)
            .args(["search", query, "--index"])
            .arg(dir)
            .output()
            .map_err(|e| format!("{}: {e}", bin.display()))?;
        if !out.status.success() {
            return Err(format!(
                "papermap search failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        walls.push(t.elapsed().as_secs_f64());
    }
    println!(
        "\n`papermap search` end to end: median {:.3} s of {runs} (min {:.3}, max {:.3})",
        median(walls.clone()),
        walls.iter().copied().fold(f64::INFINITY, f64::min),
        walls.iter().copied().fold(0.0, f64::max)
    );
    Ok(())
}
