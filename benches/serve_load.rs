//! Load on `papermap serve`, loopback only, bounded in time: 1, 8 and 32 concurrent clients
//! against `/api/search` (hybrid, k = 10, a fixed list of Korean and English queries), each for
//! `--secs` seconds: requests/s, p50 and p99 latency, errors, and the server's RSS before and
//! after. Then `/v1/embeddings` with batches of 32 passages against `papermap embed` on the same
//! texts, alternating, 3 runs each (median).
//!
//! ```text
//! cargo bench --bench serve_load -- --index DIR [--secs 30] [--clients 1,8,32] [--papermap BIN]
//!                                   [--no-embeddings]
//! ```

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "common/http.rs"]
mod http;
use http::{encode, pct, request, rss_mib};

const QUERIES: [&str; 16] = [
    "비디오 생성 diffusion",
    "강화 학습으로 추론 능력 향상",
    "KV cache compression",
    "멀티모달 대형 언어 모델 환각",
    "3D Gaussian Splatting 렌더링",
    "text-to-speech 음성 합성",
    "mixture of experts 라우팅",
    "코드 생성 벤치마크",
    "robot manipulation policy",
    "긴 문맥 처리 long context",
    "preference optimization DPO",
    "이미지 편집 diffusion",
    "GUI agent",
    "양자화 quantization LLM",
    "retrieval augmented generation 검색",
    "수학 추론 chain of thought",
];

fn main() {
    let mut args = std::env::args().skip(1);
    let mut index = PathBuf::new();
    let mut secs = 30u64;
    let mut clients = vec![1usize, 8, 32];
    let mut with_embeddings = true;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    let mut bin = target.join("release").join("papermap");
    while let Some(a) = args.next() {
        match a.as_str() {
            "--index" => index = args.next().map(PathBuf::from).unwrap_or_default(),
            "--secs" => secs = args.next().and_then(|v| v.parse().ok()).unwrap_or(secs),
            "--clients" => {
                clients = args
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .filter_map(|c| c.trim().parse().ok())
                    .collect()
            }
            "--papermap" => bin = args.next().map(PathBuf::from).unwrap_or(bin),
            "--no-embeddings" => with_embeddings = false,
            "--bench" => {}
            other => {
                eprintln!("serve_load: unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    if let Err(e) = run(&index, secs, &clients, &bin, with_embeddings) {
        eprintln!("serve_load: {e}");
        std::process::exit(1);
    }
}

fn run(
    index: &Path,
    secs: u64,
    clients: &[usize],
    bin: &Path,
    with_embeddings: bool,
) -> Result<(), String> {
    let mut child = Command::new(bin)
        .args(["serve", "--addr", "127.0.0.1:0", "--index"])
        .arg(index)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().ok_or("no stdout")?)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .ok_or_else(|| format!("server said {line:?}"))?
        .to_string();
    let pid = child.id();
    let result = (|| -> Result<(), String> {
        for q in QUERIES.iter().cycle().take(32) {
            request(
                &addr,
                "GET",
                &format!("/api/search?q={}&k=10", encode(q)),
                b"",
            )?;
        }
        println!(
            "papermap serve on {} ({}); /api/search hybrid k=10, {secs} s per row\n",
            index.display(),
            addr
        );
        println!("| clients | requests/s | p50 ms | p99 ms | errors | server RSS before → after |");
        println!("|---:|---:|---:|---:|---:|---|");
        for &n in clients {
            let before = rss_mib(pid);
            let stop = Arc::new(AtomicBool::new(false));
            let start = Instant::now();
            let handles: Vec<_> = (0..n)
                .map(|c| {
                    let (addr, stop) = (addr.clone(), Arc::clone(&stop));
                    std::thread::spawn(move || {
                        let (mut lat, mut errors, mut i) = (Vec::new(), 0usize, c);
                        while !stop.load(Ordering::Relaxed) {
                            let q = QUERIES[i % QUERIES.len()];
                            i += 1;
                            let t = Instant::now();
                            match request(
                                &addr,
                                "GET",
                                &format!("/api/search?q={}&k=10", encode(q)),
                                b"",
                            ) {
                                Ok((200, _)) => lat.push(t.elapsed().as_secs_f64() * 1e3),
                                _ => errors += 1,
                            }
                        }
                        (lat, errors)
                    })
                })
                .collect();
            std::thread::sleep(Duration::from_secs(secs));
            stop.store(true, Ordering::Relaxed);
            let (mut lat, mut errors) = (Vec::new(), 0);
            for h in handles {
                let (l, e) = h.join().map_err(|_| "client panicked")?;
                lat.extend(l);
                errors += e;
            }
            let wall = start.elapsed().as_secs_f64();
            let done = lat.len();
            println!(
                "| {n} | {:.0} | {:.1} | {:.1} | {errors} | {before:.0} → {:.0} MiB |",
                done as f64 / wall,
                pct(&mut lat, 0.5),
                pct(&mut lat, 0.99),
                rss_mib(pid)
            );
        }
        if with_embeddings {
            embeddings(&addr, index, bin)?;
        }
        Ok(())
    })();
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// `/v1/embeddings` in batches of 32 against `papermap embed` on the same passages.
fn embeddings(addr: &str, index: &Path, bin: &Path) -> Result<(), String> {
    let idx = papermap::index::Index::open(index).map_err(|e| e.to_string())?;
    let texts: Vec<String> = idx
        .papers()
        .iter()
        .take(320)
        .map(|p| format!("passage: {}", p.paper.summary))
        .collect();
    let tmp = std::env::temp_dir().join(format!("papermap-serve-load-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
    let input = tmp.join("texts.jsonl");
    let lines: Vec<String> = texts
        .iter()
        .map(|t| serde_json::to_string(t).unwrap_or_default())
        .collect();
    std::fs::write(&input, lines.join("\n")).map_err(|e| e.to_string())?;
    let quant = if idx.manifest().mode == papermap::embed::Mode::Q8 {
        "q8"
    } else {
        "none"
    };
    let (mut served, mut cli) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let t = Instant::now();
        for batch in texts.chunks(32) {
            let body = serde_json::json!({ "input": batch }).to_string();
            let (st, _) = request(addr, "POST", "/v1/embeddings", body.as_bytes())?;
            if st != 200 {
                return Err(format!("/v1/embeddings answered {st}"));
            }
        }
        served.push(texts.len() as f64 / t.elapsed().as_secs_f64());
        let o = Command::new(bin)
            .args([
                "embed", "--prefix", "none", "--json", "--quant", quant, "--input",
            ])
            .arg(&input)
            .arg("--out")
            .arg(tmp.join("out.npy"))
            .output()
            .map_err(|e| e.to_string())?;
        let v: serde_json::Value =
            serde_json::from_slice(&o.stdout).map_err(|e| format!("papermap embed: {e}"))?;
        cli.push(v["texts_per_second"].as_f64().unwrap_or(f64::NAN));
    }
    let (s, c) = (pct(&mut served, 0.5), pct(&mut cli, 0.5));
    println!(
        "\n/v1/embeddings, {} passages in batches of 32: {s:.1} texts/s; `papermap embed` on the same texts: {c:.1} texts/s ({:.2}x; median of 3 alternating runs)",
        texts.len(),
        s / c
    );
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}
