//! Frame times of the interactive map (`papermap serve`, `/map`) in headless Chromium with
//! software WebGL (SwiftShader): the page loads every paper of an index, then pans and zooms
//! for `--frames` frames (`papermapMap.measureFrames`); each run prints the time to a drawn
//! map and the median and 95th-percentile frame time, and the summary is the median of
//! `--runs` runs, each in a fresh browser. The settled map's screenshot goes to the artifacts
//! directory (`map-frames-N.png`).
//!
//! ```text
//! cargo bench --bench map_frames -- --index DIR [--frames 120] [--runs 3] [--budget N] [--chromium BIN]
//! ```
//! Each run measures three interactions: the first draws the page's starting budget of points,
//! the next ones the budget the page chose from the frame times before (`--budget N` fixes it
//! instead: `/map?budget=N`).
//! The index needs current topics with a map (`papermap topics`). For the million-paper index
//! of `cargo bench --bench scale -- --index-papers 1000000`, run `papermap topics --k 200` on
//! it once.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Instant;

#[path = "../tests/common/cdp.rs"]
#[allow(dead_code)]
mod cdp;
#[path = "../tests/common/server.rs"]
#[allow(dead_code)]
mod server;

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (mut index, mut frames, mut runs) = (PathBuf::new(), 120usize, 3usize);
    let mut chromium = "chromium".to_string();
    let mut budget = None;
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--index" => index = PathBuf::from(val()?),
            "--frames" => frames = val()?.parse().map_err(|e| format!("--frames: {e}"))?,
            "--runs" => runs = val()?.parse().map_err(|e| format!("--runs: {e}"))?,
            "--chromium" => chromium = val()?,
            "--budget" => {
                budget = Some(
                    val()?
                        .parse::<u64>()
                        .map_err(|e| format!("--budget: {e}"))?,
                )
            }
            "--bench" => {}
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let server = server::start_default_model(&index, Stdio::inherit());
    let addr = &server.addr;
    let page = match budget {
        Some(n) => format!("http://{addr}/map?budget={n}"),
        None => format!("http://{addr}/map"),
    };
    // Per interaction (three, the page adapting its budget after each): points drawn, median and p95 frame times, per run.
    let mut loads = Vec::new();
    let mut seen: [(Vec<f64>, Vec<f64>, Vec<f64>); 3] = Default::default();
    let mut papers = 0;
    for run in 0..runs {
        let mut b = cdp::Browser::start(&chromium, 1280, 800);
        let start = Instant::now();
        b.navigate(&page);
        b.wait_for(
            "window.papermapMap && (papermapMap.ready || papermapMap.error)",
            600,
        );
        if let Some(e) = b.eval("papermapMap.error || null").as_str() {
            return Err(format!("the map failed: {e}"));
        }
        let load = start.elapsed().as_secs_f64();
        loads.push(load);
        papers = b.eval("papermapMap.n").as_u64().unwrap_or(0);
        for (which, (drawn_all, medians, p95s)) in seen.iter_mut().enumerate() {
            let settles = b.eval("papermapMap.lod.settles").as_u64().unwrap_or(0);
            let drawn = b.eval("papermapMap.lod.drawn").as_f64().unwrap_or(0.0);
            let mut times: Vec<f64> = b
                .eval(&format!("papermapMap.measureFrames({frames})"))
                .as_array()
                .ok_or("no frame times")?
                .iter()
                .filter_map(|v| v.as_f64())
                .collect();
            times.sort_by(f64::total_cmp);
            let median = times[times.len() / 2];
            let p95 = times[(times.len() * 95 / 100).min(times.len() - 1)];
            println!(
                "run {} {}: {papers} points, {drawn} drawn, map drawn {load:.1} s after \
                 navigation, frame time median {median:.1} ms, p95 {p95:.1} ms ({:.0} fps)",
                run + 1,
                ["first interaction", "second", "third"][which],
                1000.0 / median
            );
            drawn_all.push(drawn);
            medians.push(median);
            p95s.push(p95);
            // The page re-chooses its sample (and budget) when the view settles.
            b.wait_for(&format!("papermapMap.lod.settles > {settles}"), 120);
        }
        let shot = cdp::artifacts().join(format!("map-frames-{papers}.png"));
        b.screenshot(&shot);
        println!("  screenshot: {}", shot.display());
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "{papers} points, median of {runs} runs: map drawn in {:.1} s",
        med(&mut loads)
    );
    for (which, (drawn, medians, p95s)) in seen.iter_mut().enumerate() {
        println!(
            "  {}: {} points drawn, frame time median {:.1} ms, p95 {:.1} ms",
            ["first interaction", "second", "third"][which],
            med(drawn),
            med(medians),
            med(p95s)
        );
    }
    Ok(())
}
