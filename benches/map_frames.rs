//! Frame times of the interactive map (`papermap serve`, `/map`) in headless Chromium with
//! software WebGL (SwiftShader): the page loads every paper of an index, then pans and zooms
//! for `--frames` frames (`papermapMap.measureFrames`); each run prints the time to a drawn
//! map and the median and 95th-percentile frame time, and the summary is the median of
//! `--runs` runs, each in a fresh browser.
//!
//! ```text
//! cargo bench --bench map_frames -- --index DIR [--frames 120] [--runs 3] [--chromium BIN]
//! ```
//! The index needs current topics with a map (`papermap topics`). For the million-paper index
//! of `cargo bench --bench scale -- --index-papers 1000000`, run `papermap topics --k 200` on
//! it once.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

#[path = "../tests/common/cdp.rs"]
#[allow(dead_code)]
mod cdp;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (mut index, mut frames, mut runs) = (PathBuf::new(), 120usize, 3usize);
    let mut chromium = "chromium".to_string();
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--index" => index = PathBuf::from(val()?),
            "--frames" => frames = val()?.parse().map_err(|e| format!("--frames: {e}"))?,
            "--runs" => runs = val()?.parse().map_err(|e| format!("--runs: {e}"))?,
            "--chromium" => chromium = val()?,
            "--bench" => {}
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_papermap"))
        .args(["serve", "--addr", "127.0.0.1:0", "--index"])
        .arg(&index)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().ok_or("no stdout")?)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let _server = Server(child);
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .ok_or_else(|| format!("server said {line:?}"))?
        .to_string();
    let (mut loads, mut medians, mut p95s) = (Vec::new(), Vec::new(), Vec::new());
    let mut papers = 0;
    for run in 0..runs {
        let mut b = cdp::Browser::start(&chromium, 1280, 800);
        let start = Instant::now();
        b.navigate(&format!("http://{addr}/map"));
        b.wait_for(
            "window.papermapMap && (papermapMap.ready || papermapMap.error)",
            600,
        );
        if let Some(e) = b.eval("papermapMap.error || null").as_str() {
            return Err(format!("the map failed: {e}"));
        }
        let load = start.elapsed().as_secs_f64();
        papers = b.eval("papermapMap.n").as_u64().unwrap_or(0);
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
            "run {}: {papers} points, map drawn {load:.1} s after navigation, frame time median \
             {median:.1} ms, p95 {p95:.1} ms ({:.0} fps)",
            run + 1,
            1000.0 / median
        );
        loads.push(load);
        medians.push(median);
        p95s.push(p95);
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "{papers} points, median of {runs} runs: map drawn in {:.1} s, frame time median {:.1} \
         ms, p95 {:.1} ms",
        med(&mut loads),
        med(&mut medians),
        med(&mut p95s)
    );
    Ok(())
}
