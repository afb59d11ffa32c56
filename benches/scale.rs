//! Scaling of the vector stages: k-means (what `papermap topics` fits) and related-for-all
//! (top 10 per paper) on 1k … 1M vectors, with peak memory; optionally scikit-learn's KMeans on
//! the same vectors in the same run, for the time ratio and the objective gap.
//!
//! Vectors are the real archive vectors of an index, replicated with small Gaussian noise
//! (σ = 0.01 per coordinate, then re-normalised) up to each size; the generator is seeded, so a
//! size always gets the same vectors. Each size runs in a child process so its peak RSS
//! (`VmHWM`) is its own.
//!
//! ```text
//! cargo bench --bench scale -- --index DIR [--sizes 1000,10000,100000] [--k 100] [--runs 3]
//!                              [--sklearn PYTHON] [--no-related] [--device cuda]
//! ```
//! `--device cuda` (a `--features cuda` build) runs the k-means distance work and related-for-all
//! on the GPU, as `papermap topics --device cuda` and `papermap related --all --device cuda` do.
//! `--sklearn` names a Python with scikit-learn (benches/peers/setup.sh makes one); it runs
//! benches/scale_sklearn.py on the same vectors with `n_init` = `--runs`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use papermap::index::Index;
use papermap::topics::kmeans::{self, KMeansConfig, Rows};
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256Plus;

struct Opts {
    index: PathBuf,
    sizes: Vec<usize>,
    k: usize,
    runs: usize,
    sklearn: Option<String>,
    related: bool,
    one: Option<usize>,
    device: String,
}

fn parse() -> Result<Opts, String> {
    let mut o = Opts {
        index: std::env::var_os("PAPERMAP_SCALE_INDEX")
            .map(PathBuf::from)
            .unwrap_or_default(),
        sizes: vec![1_000, 10_000, 100_000],
        k: 100,
        runs: 3,
        sklearn: None,
        related: true,
        one: None,
        device: "cpu".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--index" => o.index = PathBuf::from(val()?),
            "--sizes" => {
                o.sizes = val()?
                    .split(',')
                    .map(|s| s.trim().parse().map_err(|e| format!("--sizes: {e}")))
                    .collect::<Result<_, _>>()?
            }
            "--k" => o.k = val()?.parse().map_err(|e| format!("--k: {e}"))?,
            "--runs" => o.runs = val()?.parse().map_err(|e| format!("--runs: {e}"))?,
            "--sklearn" => o.sklearn = Some(val()?),
            "--no-related" => o.related = false,
            "--device" => o.device = val()?,
            "--one" => o.one = Some(val()?.parse().map_err(|e| format!("--one: {e}"))?),
            "--bench" => {} // passed by `cargo bench`
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if o.index.as_os_str().is_empty() {
        return Err("--index DIR (an index built with `papermap index`) is required".into());
    }
    Ok(o)
}

/// `n` vectors: the index's rows in turn, each copy after the first with seeded noise.
fn synthetic(base: &[f32], dim: usize, n: usize) -> Vec<f32> {
    let n0 = base.len() / dim;
    let mut rng = Xoshiro256Plus::seed_from_u64(42);
    let mut out = Vec::with_capacity(n * dim);
    for i in 0..n {
        let src = &base[(i % n0) * dim..(i % n0 + 1) * dim];
        if i < n0 {
            out.extend_from_slice(src);
            continue;
        }
        let start = out.len();
        for &x in src {
            // Sum of 4 uniforms: close enough to a Gaussian for noise, and cheap.
            let g: f32 = (0..4)
                .map(|_| (rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32 - 0.5)
                .sum::<f32>()
                * (12.0f32 / 4.0).sqrt();
            out.push(x + 0.01 * g);
        }
        let norm = out[start..].iter().map(|v| v * v).sum::<f32>().sqrt();
        out[start..].iter_mut().for_each(|v| *v /= norm);
    }
    out
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        })
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// One size, in this (child) process: prints a `result` line.
fn run_one(o: &Opts, n: usize) -> Result<(), String> {
    let index = Index::open(&o.index).map_err(|e| e.to_string())?;
    let dim = index.manifest.dim;
    let base: Vec<f32> = (0..index.len())
        .flat_map(|i| index.vector(i).to_vec())
        .collect();
    drop(index);
    let data = synthetic(&base, dim, n);
    drop(base);
    let rows = Rows::new(&data, dim).map_err(|e| e.to_string())?;
    let k = o.k.min(n);
    let t = Instant::now();
    let c = kmeans::fit(
        rows,
        &KMeansConfig::new(k, o.runs, 0),
        kmeans::default_assign(),
    )
    .map_err(|e| e.to_string())?;
    let fit_s = t.elapsed().as_secs_f64();
    let related_s = if o.related {
        let t = Instant::now();
        let hits =
            papermap::search::dense::related_all(&data, dim, 10).map_err(|e| e.to_string())?;
        assert_eq!(hits.len(), n);
        t.elapsed().as_secs_f64()
    } else {
        f64::NAN
    };
    let rss = peak_rss_mib();
    let npy = if o.sklearn.is_some() {
        let p = std::env::temp_dir().join(format!("papermap-scale-{n}.npy"));
        papermap::index::npy::write(&p, n, dim, &data).map_err(|e| e.to_string())?;
        p.display().to_string()
    } else {
        String::new()
    };
    println!(
        "result {n} {k} {fit_s:.3} {:.6e} {} {related_s:.3} {rss:.0} {npy}",
        c.objective, c.iterations
    );
    Ok(())
}

fn main() {
    let o = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("scale bench: {e}");
            std::process::exit(2);
        }
    };
    if let Some(n) = o.one {
        if let Err(e) = run_one(&o, n) {
            eprintln!("scale bench: {e}");
            std::process::exit(1);
        }
        return;
    }
    let exe = std::env::current_exe().expect("own path");
    println!(
        "k-means k = {} ({} runs) and related top-10 for all, on archive vectors + noise; {} threads, device {}\n",
        o.k,
        o.runs,
        rayon::current_num_threads(),
        o.device
    );
    println!("| vectors | k-means s | iterations (best run) | objective | scikit-learn s | objective vs sklearn | papermap/sklearn time | related-all s | peak RSS |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &n in &o.sizes {
        let mut cmd = Command::new(&exe);
        cmd.args(["--index", &o.index.display().to_string()])
            .args(["--k", &o.k.to_string(), "--runs", &o.runs.to_string()])
            .args(["--one", &n.to_string()])
            .args(["--device", &o.device]);
        if !o.related {
            cmd.arg("--no-related");
        }
        if let Some(py) = &o.sklearn {
            cmd.args(["--sklearn", py]);
        }
        let out = cmd.output().expect("run child");
        let text = String::from_utf8_lossy(&out.stdout);
        let Some(line) = text.lines().find(|l| l.starts_with("result ")) else {
            eprintln!("{n}: failed: {}", String::from_utf8_lossy(&out.stderr));
            continue;
        };
        let f: Vec<&str> = line.split_whitespace().collect();
        let (fit_s, obj, iters, rel_s, rss) = (f[3], f[4], f[5], f[6], f[7]);
        let (mut sk_s, mut sk_gap, mut ratio) = ("-".to_string(), "-".to_string(), "-".to_string());
        if let (Some(py), Some(npy)) = (&o.sklearn, f.get(8)) {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/scale_sklearn.py");
            let r = Command::new(py)
                .arg(script)
                .args([npy.to_string(), f[2].to_string(), o.runs.to_string()])
                .output()
                .expect("run scikit-learn");
            let s = String::from_utf8_lossy(&r.stdout);
            if let Some(l) = s.lines().find(|l| l.starts_with("sklearn ")) {
                let g: Vec<&str> = l.split_whitespace().collect();
                let (secs, sobj): (f64, f64) = (
                    g[1].parse().unwrap_or(f64::NAN),
                    g[2].parse().unwrap_or(f64::NAN),
                );
                let (ours_s, ours_obj): (f64, f64) = (
                    fit_s.parse().unwrap_or(f64::NAN),
                    obj.parse().unwrap_or(f64::NAN),
                );
                sk_s = format!("{secs:.2}");
                sk_gap = format!("{:+.2} %", (ours_obj / sobj - 1.0) * 100.0);
                ratio = format!("{:.2}x", ours_s / secs);
            } else {
                eprintln!(
                    "scikit-learn failed: {}",
                    String::from_utf8_lossy(&r.stderr)
                );
            }
            let _ = std::fs::remove_file(npy);
        }
        println!(
            "| {n} | {fit_s} | {iters} | {} | {sk_s} | {sk_gap} | {ratio} | {rel_s} | {rss} MiB |",
            obj.parse::<f64>()
                .map_or(obj.to_string(), |v| format!("{v:.1}"))
        );
    }
    println!("\npapermap/sklearn time below 1.00x means papermap is faster; objective gap > 0 means papermap's is higher.");
}
