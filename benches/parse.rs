//! Parse-time benchmark for the digest parser (`harness = false`: a plain timing loop).
//!
//! `cargo bench --bench parse [-- DIR [ITERATIONS]]`; DIR defaults to the shared archive.
//! Reports `load` (walk + read + parse + dedup) and parse-only time over in-memory bytes.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use papermap::corpus;

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; ignore flags, keep positional arguments.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let dir = args.first().map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/data/archive"
        ))
    });
    let iterations: usize = args
        .get(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(20)
        .max(1);

    let c = corpus::load(std::slice::from_ref(&dir))?;
    let files: Vec<(PathBuf, Vec<u8>)> = c
        .papers
        .iter()
        .map(|p| p.source.file.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|f| std::fs::read(&f).map(|b| (f, b)))
        .collect::<Result<_, _>>()?;
    let bytes: usize = files.iter().map(|(_, b)| b.len()).sum();

    let mut load_times = Vec::new();
    let mut parse_times = Vec::new();
    for _ in 0..iterations {
        let start = Instant::now();
        let again = corpus::load(std::slice::from_ref(&dir))?;
        load_times.push(start.elapsed());
        assert_eq!(again.papers.len(), c.papers.len());

        let start = Instant::now();
        let mut entries = 0;
        for (path, b) in &files {
            entries += corpus::parse_bytes(b, path).0.len();
        }
        parse_times.push(start.elapsed());
        assert!(entries >= c.papers.len());
    }
    println!(
        "{}: {} files, {} entries, {} papers, {:.1} MB",
        dir.display(),
        c.files,
        c.entries,
        c.papers.len(),
        bytes as f64 / 1e6
    );
    let (load_med, parse_med) = (median(load_times.clone()), median(parse_times.clone()));
    println!(
        "load (read + parse + dedup, parallel): median {load_med:?}, min {:?}",
        load_times.iter().min().copied().unwrap_or_default()
    );
    println!(
        "parse only (single thread, in memory): median {parse_med:?}, min {:?}, {:.0} MB/s",
        parse_times.iter().min().copied().unwrap_or_default(),
        bytes as f64 / 1e6 / parse_med.as_secs_f64()
    );
    Ok(())
}
