//! The large-archive targets on a real index of N papers, end to end through the binary:
//!
//! ```text
//! cargo bench --bench scale -- --index-papers 1000000 [--index-dir DIR] [--repeat 3]
//!                              [--serve-secs 10] [--no-topics] [--serve-only]
//! ```
//!
//! The index is written once by `large_index`'s writer (the archive's papers copied, their
//! stored vectors plus noise, through the library's own update) into `--index-dir` (default
//! `~/.cache/papermap/scale-index-N`) and reused by later runs. Then, in rounds that alternate
//! the commands, `--repeat` times each: `papermap search` (model load included), `papermap
//! related ID` (three ids spread over the index) and `papermap check`, with each one's peak RSS;
//! `papermap serve`'s start (until its first search answers) and its latency at 8 clients; and
//! once, `papermap topics --k 200` and `papermap report` with the report's size. Every figure
//! printed is the median of the runs.
//!
//! `--serve-only` measures only `papermap serve` (start and latency, `--repeat` times).
//!
//! `--write-only` only writes the index (under `/usr/bin/time -v`, the writer's peak RSS);
//! `--write-only --add K` adds K new papers to the index of N already written, as a day's
//! `papermap index` does.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::http::{encode, pct, request};

const BIN: &str = env!("CARGO_BIN_EXE_papermap");

const QUERIES: [&str; 4] = [
    "speculative decoding",
    "3D Gaussian Splatting 렌더링",
    "강화 학습으로 추론 능력 향상",
    "KV cache compression",
];

struct Opts {
    papers: usize,
    dir: PathBuf,
    repeat: usize,
    serve_secs: u64,
    topics: bool,
    /// Only write the index (the child that writes it, so its memory is gone before the
    /// commands are measured).
    write_only: bool,
    add: usize,
    serve_only: bool,
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let home = std::env::var_os("PAPERMAP_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/papermap")))
        .unwrap_or_else(|| PathBuf::from("."));
    let mut o = Opts {
        papers: 0,
        dir: PathBuf::new(),
        repeat: 3,
        serve_secs: 10,
        topics: true,
        write_only: false,
        add: 0,
        serve_only: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--index-papers" => o.papers = val()?.parse().map_err(|e| format!("{e}"))?,
            "--index-dir" => o.dir = PathBuf::from(val()?),
            "--repeat" => o.repeat = val()?.parse().map_err(|e| format!("{e}"))?,
            "--serve-secs" => o.serve_secs = val()?.parse().map_err(|e| format!("{e}"))?,
            "--no-topics" => o.topics = false,
            "--write-only" => o.write_only = true,
            "--serve-only" => o.serve_only = true,
            "--add" => o.add = val()?.parse().map_err(|e| format!("{e}"))?,
            "--bench" => {}
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if o.papers == 0 {
        return Err("--index-papers N is required".into());
    }
    if o.dir.as_os_str().is_empty() {
        o.dir = home.join(format!("scale-index-{}", o.papers));
    }
    o.repeat = o.repeat.max(1);
    Ok(o)
}

/// Runs the targets; see the module doc.
pub fn main(args: &[String]) -> Result<(), String> {
    let o = parse(args)?;
    let have = papermap::index::read_manifest(&o.dir)
        .ok()
        .flatten()
        .is_some_and(|m| m.papers == o.papers && m.matrix.is_some());
    if o.write_only {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        // `--add K`: a day's update of the written index, K new papers beside the N stored.
        let papers = if o.add > 0 {
            o.papers..o.papers + o.add
        } else {
            let _ = std::fs::remove_dir_all(&o.dir);
            0..o.papers
        };
        return super::large_index::write(
            papers,
            &o.dir,
            &root.join("../shared/data/archive"),
            &root.join("tests/data/archive-summary-vectors.safetensors"),
            None,
        )
        .map_err(|e| e.to_string());
    }
    if !have {
        // Written by a child process: the writer's gigabytes (papers and vectors of a million
        // papers) would otherwise stay in this process's heap while the commands run beside it.
        let start = Instant::now();
        eprintln!(
            "writing an index of {} papers into {}",
            o.papers,
            o.dir.display()
        );
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let status = Command::new(exe)
            .args(args)
            .arg("--write-only")
            .status()
            .map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("writing the index failed: {status}"));
        }
        eprintln!("written in {:.0} s", start.elapsed().as_secs_f64());
    }
    let dir = o.dir.to_string_lossy().into_owned();
    let m = papermap::index::read_manifest(&o.dir)
        .map_err(|e| e.to_string())?
        .ok_or("no index")?;
    let mib = |f: &Option<papermap::index::FileRef>| {
        f.as_ref()
            .map_or(0.0, |f| f.bytes as f64 / (1 << 20) as f64)
    };
    let matrix_mib = mib(&m.matrix);
    let papers_mib = std::fs::metadata(o.dir.join(&m.papers_file))
        .map_or(0.0, |x| x.len() as f64 / (1 << 20) as f64);
    // The first search learns the search lexicon when the index has none (as `papermap index`
    // does while its model is loaded); timed on its own.
    let first = timed(&["search", QUERIES[0], "--index", &dir])?;
    eprintln!("first search: {:.2} s", first.0);
    if o.serve_only {
        let (mut starts, mut p50, mut p99) = serve_runs(&o)?;
        println!(
            "serve on {} papers, median of {} runs: start {:.2} s, /api/search at 8 clients \
             p50 / p99 {:.0} / {:.0} ms",
            o.papers,
            o.repeat,
            pct(&mut starts, 0.5),
            pct(&mut p50, 0.5),
            pct(&mut p99, 0.5)
        );
        return Ok(());
    }
    let ids = [
        id_at(0),
        id_at(o.papers / 2),
        id_at(o.papers.saturating_sub(1)),
    ];
    let (mut search, mut related, mut check) = (Vec::new(), Vec::new(), Vec::new());
    let (mut search_rss, mut related_rss, mut check_rss) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..o.repeat {
        let q = QUERIES[round % QUERIES.len()];
        let (s, r) = timed(&["search", q, "--index", &dir])?;
        search.push(s);
        search_rss.extend(r);
        for id in &ids {
            let (s, r) = timed(&["related", id, "--index", &dir])?;
            related.push(s);
            related_rss.extend(r);
        }
        let (s, r) = timed(&["check", "--index", &dir])?;
        check.push(s);
        check_rss.extend(r);
        eprintln!(
            "round {}: search {:.2} s, related {:.2} s, check {:.1} s",
            round + 1,
            search[round],
            related[related.len() - 1],
            check[round]
        );
    }
    let (mut starts, mut p50, mut p99) = serve_runs(&o)?;
    let med = |v: &mut [f64]| pct(v, 0.5);
    println!(
        "index of {} papers ({dir}): papers file {papers_mib:.0} MiB, matrix {matrix_mib:.0} MiB; \
         median of {} runs, commands alternating, {} threads\n",
        o.papers,
        o.repeat,
        rayon::current_num_threads()
    );
    println!("| target | limit | measured | peak RSS |\n|---|---:|---:|---:|");
    println!(
        "| first search (learns the lexicon) | | {:.2} s | {} |",
        first.0,
        rss(first.1)
    );
    println!(
        "| `papermap search`, model load included | ≤ 1 s | {:.2} s | {} |",
        med(&mut search),
        rss(median_opt(&mut search_rss))
    );
    println!(
        "| `papermap related ID` | ≤ 0.5 s | {:.2} s | {} |",
        med(&mut related),
        rss(median_opt(&mut related_rss))
    );
    println!(
        "| `papermap check` | ≤ 30 s | {:.1} s | {} |",
        med(&mut check),
        rss(median_opt(&mut check_rss))
    );
    println!(
        "| `papermap serve` start, to its first answer | ≤ 5 s | {:.2} s | |",
        med(&mut starts)
    );
    println!(
        "| `/api/search` at 8 clients, p50 / p99 | p99 ≤ 100 ms | {:.0} / {:.0} ms | |",
        med(&mut p50),
        med(&mut p99)
    );
    if o.topics {
        let (t, r) = timed(&["topics", "--k", "200", "--index", &dir])?;
        println!(
            "| `papermap topics --k 200` | finishes | {t:.0} s | {} |",
            rss(r)
        );
        let out = o.dir.join("bench-report");
        let (t, r) = timed(&["report", "--index", &dir, "--out", &out.to_string_lossy()])?;
        let size: u64 = std::fs::read_dir(&out)
            .map(|d| {
                d.flatten()
                    .filter_map(|e| e.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0);
        println!(
            "| `papermap report` | a few MB | {t:.0} s, {:.1} MB | {} |",
            size as f64 / 1e6,
            rss(r)
        );
    }
    println!(
        "\npeak RSS includes the mapped files a command touched (matrix {matrix_mib:.0} MiB, papers \
         file {papers_mib:.0} MiB)"
    );
    Ok(())
}

/// The id `large_index` gives paper `i`.
fn id_at(i: usize) -> String {
    format!("10{:02}.{:05}", i / 100_000, i % 100_000)
}

fn rss(mib: Option<f64>) -> String {
    mib.map_or_else(String::new, |m| format!("{m:.0} MiB"))
}

fn median_opt(v: &mut [f64]) -> Option<f64> {
    (!v.is_empty()).then(|| pct(v, 0.5))
}

/// Runs papermap with `args` (under GNU time when it is installed, for the peak RSS); seconds
/// and peak RSS in MiB.
fn timed(args: &[&str]) -> Result<(f64, Option<f64>), String> {
    let gnu_time = Path::new("/usr/bin/time");
    let rss_file = std::env::temp_dir().join(format!("papermap-scale-{}.rss", std::process::id()));
    let mut cmd = if gnu_time.exists() {
        let mut c = Command::new(gnu_time);
        c.arg("-f").arg("%M").arg("-o").arg(&rss_file).arg(BIN);
        c
    } else {
        Command::new(BIN)
    };
    cmd.args(args).arg("--quiet").stdout(Stdio::null());
    let start = Instant::now();
    let out = cmd.output().map_err(|e| e.to_string())?;
    let secs = start.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!(
            "papermap {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let rss = std::fs::read_to_string(&rss_file)
        .ok()
        .and_then(|s| s.trim().lines().last()?.parse::<f64>().ok())
        .map(|kb| kb / 1024.0);
    let _ = std::fs::remove_file(&rss_file);
    Ok((secs, rss))
}

/// Start times, p50s and p99s of server runs (s, ms, ms).
type ServeRuns = (Vec<f64>, Vec<f64>, Vec<f64>);

/// `--repeat` server runs: their start times, p50s and p99s.
fn serve_runs(o: &Opts) -> Result<ServeRuns, String> {
    let (mut starts, mut p50, mut p99) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..o.repeat {
        let (start, mut lat) = serve(&o.dir, o.serve_secs)?;
        starts.push(start);
        p50.push(pct(&mut lat, 0.5));
        p99.push(pct(&mut lat, 0.99));
        eprintln!(
            "serve: started in {start:.2} s, p50 / p99 {:.0} / {:.0} ms, {} answers",
            p50[p50.len() - 1],
            p99[p99.len() - 1],
            lat.len()
        );
    }
    Ok((starts, p50, p99))
}

/// Starts `papermap serve`, times it to its first search answer, then runs 8 clients for
/// `secs`; the start time and every latency (ms).
fn serve(dir: &Path, secs: u64) -> Result<(f64, Vec<f64>), String> {
    let start = Instant::now();
    // Stopped when dropped, at the end of this function.
    let server = super::server::start_default_model(dir, Stdio::null());
    let addr = server.addr.clone();
    let first = format!("/api/search?q={}&k=10", encode(QUERIES[0]));
    while request(&addr, "GET", &first, b"")?.0 != 200 {
        if start.elapsed() > Duration::from_secs(120) {
            return Err("no answer in 120 s".to_string());
        }
    }
    let started = start.elapsed().as_secs_f64();
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..8)
        .map(|c| {
            let (addr, stop) = (addr.clone(), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut lat = Vec::new();
                let mut i = c;
                while !stop.load(Ordering::Relaxed) {
                    let path = format!("/api/search?q={}&k=10", encode(QUERIES[i % QUERIES.len()]));
                    i += 1;
                    let t = Instant::now();
                    if matches!(request(&addr, "GET", &path, b""), Ok((200, _))) {
                        lat.push(t.elapsed().as_secs_f64() * 1e3);
                    }
                }
                lat
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for c in clients {
        all.extend(c.join().map_err(|_| "client failed")?);
    }
    Ok((started, all))
}
