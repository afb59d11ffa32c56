//! Daily topic updates against full refits, on an index's real papers and vectors: fit the
//! topics on every paper dated before `--from` (default 2025-02-01), then add the following days
//! one at a time through `papermap::topics::update` (linfa-clustering's incremental k-means
//! seeded from the stored topics), and after each day fit the same papers from scratch
//! (`compute`, the same k, 3 starts) for the objective it would have reached.
//!
//! ```text
//! cargo bench --bench topics_daily -- --index DIR [--k 35] [--from 2025-02-01]
//! ```
//! Prints one row per day: papers, new papers, update time, objective per paper after the update
//! and after the refit, the gap, and whether the drift rule suggested a refit.

use std::time::Instant;

use papermap::corpus::Paper;
use papermap::index::Index;
use papermap::topics::kmeans::Rows;
use papermap::topics::{self, KChoice, Params};

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut index, mut k, mut from) = (String::new(), 35usize, "2025-02-01".to_string());
    while let Some(a) = args.next() {
        match a.as_str() {
            "--index" => index = args.next().unwrap_or_default(),
            "--k" => k = args.next().and_then(|v| v.parse().ok()).unwrap_or(k),
            "--from" => from = args.next().unwrap_or(from),
            "--bench" => {}
            other => {
                eprintln!("topics_daily: unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    let idx = match Index::open(std::path::Path::new(&index)) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("topics_daily: {e} (pass --index DIR)");
            std::process::exit(2);
        }
    };
    let dim = idx.dim();
    let date = |i: usize| idx.paper(i).date.clone().unwrap_or_default();
    let mut days: Vec<String> = (0..idx.len())
        .map(date)
        .filter(|d| d.as_str() >= from.as_str())
        .collect();
    days.sort();
    days.dedup();
    let subset = |until: &str| -> (Vec<Paper>, Vec<f32>) {
        let rows: Vec<usize> = (0..idx.len())
            .filter(|&i| date(i).as_str() < until)
            .collect();
        (
            rows.iter().map(|&i| idx.paper(i).clone()).collect(),
            rows.iter().flat_map(|&i| idx.vector(i).to_vec()).collect(),
        )
    };
    let params = Params {
        k: KChoice::Fixed(k),
        map: false,
        ..Params::default()
    };
    let (p0, v0) = subset(&from);
    let t = Instant::now();
    let mut current = topics::compute(
        &p0.iter().collect::<Vec<_>>(),
        Rows::new(&v0, dim).expect("rows"),
        &params,
        None,
        None,
        &papermap::vectors::VectorBackend::Cpu,
    )
    .expect("first fit");
    println!(
        "full fit on {} papers dated before {from}: k = {k}, {:.2} s, objective per paper {:.5}\n",
        p0.len(),
        t.elapsed().as_secs_f64(),
        current.objective / p0.len() as f64
    );
    println!("| day | papers | new | update s (clustering) | update obj/paper | refit s (clustering) | refit obj/paper | gap | refit suggested |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---|");
    let mut gaps = Vec::new();
    let mut times = Vec::new();
    for (d, day) in days.iter().enumerate() {
        let until = days.get(d + 1).cloned().unwrap_or_else(|| "9999".into());
        let (p, v) = subset(&until);
        let rows = Rows::new(&v, dim).expect("rows");
        let new = p.len() - current.papers.len();
        let t = Instant::now();
        current = topics::update(&p.iter().collect::<Vec<_>>(), rows, &params, &current, None)
            .expect("update");
        let upd_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let full = topics::compute(
            &p.iter().collect::<Vec<_>>(),
            rows,
            &params,
            None,
            None,
            &papermap::vectors::VectorBackend::Cpu,
        )
        .expect("refit");
        let full_s = t.elapsed().as_secs_f64();
        let (a, b) = (
            current.objective / p.len() as f64,
            full.objective / p.len() as f64,
        );
        gaps.push(a / b - 1.0);
        times.push(upd_s);
        println!(
            "| {day} | {} | {new} | {upd_s:.2} ({:.3}) | {a:.5} | {full_s:.2} ({:.3}) | {b:.5} | {:+.2} % | {} |",
            p.len(),
            current.timing.fit_s,
            full.timing.fit_s,
            100.0 * (a / b - 1.0),
            current.refit_suggested.as_deref().unwrap_or("no")
        );
    }
    times.sort_by(f64::total_cmp);
    if !times.is_empty() {
        println!(
            "\n{} daily updates: median {:.2} s each; objective gap to a full refit {:+.2} % at the end (largest {:+.2} %)",
            times.len(),
            times[times.len() / 2],
            100.0 * gaps.last().copied().unwrap_or(0.0),
            100.0 * gaps.iter().copied().fold(f64::MIN, f64::max)
        );
    }
}
