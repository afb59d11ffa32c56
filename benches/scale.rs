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
//! `--map` times the topics' 2-D map (t-SNE on a 5,000-paper sample, the rest placed by their
//! neighbours) at each size instead.
//! `--sklearn` names a Python with scikit-learn (benches/peers/setup.sh makes one); it runs
//! benches/scale_sklearn.py on the same vectors with `n_init` = `--runs`. `--linfa` also fits
//! linfa-clustering's `KMeans` (k-means++, `n_runs` = `--runs`, its default tolerance) on the
//! same vectors; its objective is recomputed the same way as ours (sum of squared distances to
//! the nearest centroid).
//!
//! `--ann [--ef 64,128,256]` (default features) measures the approximate related-for-all of
//! `papermap related --all --ann` instead: HNSW build time, search time for every vector at each
//! `ef`, and recall@10 against the exact top 10 of 1,000 evenly spaced vectors (computed by
//! brute force in the same run), with peak memory. `--mix` generates the vectors by [`mixed`]
//! (points between neighbouring archive papers) instead of noisy copies.
//!
//! `--index-papers N` measures the large-archive targets on a real index of N papers instead,
//! end to end through the binary (search, related, check, serve, topics, report): see
//! `benches/common/index_targets.rs`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

#[path = "common/http.rs"]
#[allow(dead_code)]
mod http;
#[path = "common/index_targets.rs"]
mod index_targets;
#[path = "large_index.rs"]
#[allow(dead_code)]
mod large_index;
#[path = "../tests/common/server.rs"]
#[allow(dead_code)]
mod server;

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
    ann: bool,
    ef: Vec<usize>,
    mix: bool,
    /// HNSW (connectivity, expansion_add); 0 keeps the default.
    graph: (usize, usize),
    linfa: bool,
    map: bool,
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
        ann: false,
        ef: vec![64, 128, 256],
        mix: false,
        graph: (0, 0),
        linfa: false,
        map: false,
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
            "--linfa" => o.linfa = true,
            "--map" => o.map = true,
            "--no-related" => o.related = false,
            "--device" => o.device = val()?,
            "--ann" => o.ann = true,
            "--mix" => o.mix = true,
            "--connectivity" => {
                o.graph.0 = val()?.parse().map_err(|e| format!("--connectivity: {e}"))?
            }
            "--expansion-add" => {
                o.graph.1 = val()?
                    .parse()
                    .map_err(|e| format!("--expansion-add: {e}"))?
            }
            "--ef" => {
                o.ef = val()?
                    .split(',')
                    .map(|s| s.trim().parse().map_err(|e| format!("--ef: {e}")))
                    .collect::<Result<_, _>>()?
            }
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

/// `n` vectors: the index's rows, then points on the segments between each row and one of its
/// 20 nearest rows (uniform position, σ = 0.002 noise, re-normalised). Unlike [`synthetic`],
/// whose copies of one paper are near-ties for each other's top 10 at 1M (230 copies each),
/// this spreads the points along the archive's own neighbourhoods.
fn mixed(base: &[f32], dim: usize, n: usize) -> Result<Vec<f32>, String> {
    let n0 = base.len() / dim;
    let nn = papermap::search::dense::related_all(base, dim, 20).map_err(|e| e.to_string())?;
    let mut rng = Xoshiro256Plus::seed_from_u64(43);
    let mut unit = move || (rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32;
    let mut out = Vec::with_capacity(n * dim);
    out.extend_from_slice(&base[..n.min(n0) * dim]);
    for _ in n0..n {
        let a = ((unit() * n0 as f32) as usize).min(n0 - 1);
        let near = &nn[a];
        let b = near[((unit() * near.len() as f32) as usize).min(near.len() - 1)].row;
        let t = unit();
        let start = out.len();
        for j in 0..dim {
            let g: f32 = (0..4).map(|_| unit() - 0.5).sum::<f32>() * 3f32.sqrt();
            out.push((1.0 - t) * base[a * dim + j] + t * base[b * dim + j] + 0.002 * g);
        }
        let norm = out[start..].iter().map(|v| v * v).sum::<f32>().sqrt();
        out[start..].iter_mut().for_each(|v| *v /= norm);
    }
    Ok(out)
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
    let dim = index.dim();
    let base: Vec<f32> = (0..index.len())
        .flat_map(|i| index.vector(i).to_vec())
        .collect();
    drop(index);
    let data = if o.mix {
        mixed(&base, dim, n)?
    } else {
        synthetic(&base, dim, n)
    };
    drop(base);
    if o.ann {
        return run_ann(o, &data, dim);
    }
    let rows = Rows::new(&data, dim).map_err(|e| e.to_string())?;
    if o.map {
        let t = Instant::now();
        let layout = papermap::topics::map::layout(rows, 0, &papermap::vectors::VectorBackend::Cpu)
            .map_err(|e| e.to_string())?;
        println!(
            "map {n} {:.2} {}",
            t.elapsed().as_secs_f64(),
            layout.map_or(0, |l| l.fitted)
        );
        return Ok(());
    }
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
    let (linfa_s, linfa_obj) = if o.linfa {
        linfa_fit(&data, dim, k, o.runs)?
    } else {
        (f64::NAN, f64::NAN)
    };
    let rss = peak_rss_mib();
    let npy = if o.sklearn.is_some() {
        let p = std::env::temp_dir().join(format!("papermap-scale-{n}.npy"));
        let matrix =
            ndarray::ArrayView2::from_shape((n, dim), &data[..]).map_err(|e| e.to_string())?;
        ndarray_npy::write_npy(&p, &matrix).map_err(|e| e.to_string())?;
        p.display().to_string()
    } else {
        String::new()
    };
    println!(
        "result {n} {k} {fit_s:.3} {:.6e} {} {related_s:.3} {rss:.0} {linfa_s:.3} {linfa_obj:.6e} {npy}",
        c.objective, c.iterations
    );
    Ok(())
}

/// linfa-clustering's KMeans on the same vectors: (seconds, objective recomputed as ours is).
fn linfa_fit(data: &[f32], dim: usize, k: usize, runs: usize) -> Result<(f64, f64), String> {
    use linfa::prelude::*;
    let n = data.len() / dim;
    let records =
        ndarray::Array2::from_shape_vec((n, dim), data.to_vec()).map_err(|e| e.to_string())?;
    let ds = linfa::DatasetBase::from(records);
    let t = Instant::now();
    let model = linfa_clustering::KMeans::params_with_rng(k, Xoshiro256Plus::seed_from_u64(0))
        .n_runs(runs)
        .fit(&ds)
        .map_err(|e| e.to_string())?;
    let secs = t.elapsed().as_secs_f64();
    let cents: Vec<f32> = model.centroids().iter().copied().collect();
    let rows = Rows::new(data, dim).map_err(|e| e.to_string())?;
    let crow = Rows::new(&cents, dim).map_err(|e| e.to_string())?;
    let obj = kmeans::objective(rows, crow, kmeans::default_assign()).map_err(|e| e.to_string())?;
    Ok((secs, obj))
}

/// `--ann`: HNSW build, then related-for-all at each `ef` with recall@10 on a 1,000-row sample;
/// prints one `ann` line per `ef`.
#[cfg(feature = "ann")]
fn run_ann(o: &Opts, data: &[f32], dim: usize) -> Result<(), String> {
    use papermap::search::ann::{recall, Ann, AnnParams};
    let n = data.len() / dim;
    let sample: Vec<usize> = (0..n.min(1000)).map(|i| i * n / n.min(1000)).collect();
    let queries: Vec<f32> = sample
        .iter()
        .flat_map(|&r| data[r * dim..(r + 1) * dim].to_vec())
        .collect();
    let t = Instant::now();
    let exact = papermap::search::dense::top_k(data, dim, &queries, 10, Some(&sample))
        .map_err(|e| e.to_string())?;
    let exact_s = t.elapsed().as_secs_f64() * n as f64 / sample.len() as f64;
    let t = Instant::now();
    let mut params = AnnParams::default();
    if o.graph.0 > 0 {
        params.connectivity = o.graph.0;
    }
    if o.graph.1 > 0 {
        params.expansion_add = o.graph.1;
    }
    let ann = Ann::build(data, dim, &params).map_err(|e| e.to_string())?;
    let build_s = t.elapsed().as_secs_f64();
    for &ef in &o.ef {
        ann.set_expansion_search(ef);
        let t = Instant::now();
        let all = ann.related_all(data, 10).map_err(|e| e.to_string())?;
        let search_s = t.elapsed().as_secs_f64();
        let approx: Vec<_> = sample.iter().map(|&r| all[r].clone()).collect();
        let r = recall(&approx, &exact);
        println!(
            "ann {n} {build_s:.2} {ef} {search_s:.2} {r:.4} {exact_s:.1} {:.0}",
            peak_rss_mib()
        );
    }
    Ok(())
}

#[cfg(not(feature = "ann"))]
fn run_ann(_: &Opts, _: &[f32], _: usize) -> Result<(), String> {
    Err("--ann needs the default `ann` feature".into())
}

/// The `--ann` table: one row per size and `ef`.
fn ann_table(o: &Opts, exe: &Path) {
    println!(
        "Approximate related top 10 for all (HNSW: {}{}) on archive vectors {}; {} threads\n",
        ann_params(),
        if o.graph != (0, 0) {
            format!(
                "; overridden: connectivity {}, expansion_add {} (0: default)",
                o.graph.0, o.graph.1
            )
        } else {
            String::new()
        },
        if o.mix {
            "mixed with their neighbours"
        } else {
            "+ noise"
        },
        rayon::current_num_threads()
    );
    println!("| vectors | build s | ef | search all s | recall@10 | exact all s (extrapolated) | peak RSS |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for &n in &o.sizes {
        let ef: Vec<String> = o.ef.iter().map(|e| e.to_string()).collect();
        let out = Command::new(exe)
            .args(["--index", &o.index.display().to_string()])
            .args(["--one", &n.to_string(), "--ann", "--ef", &ef.join(",")])
            .args(if o.mix { &["--mix"][..] } else { &[][..] })
            .args(["--connectivity", &o.graph.0.to_string()])
            .args(["--expansion-add", &o.graph.1.to_string()])
            .output()
            .expect("run child");
        let text = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("ann ")).collect();
        if lines.is_empty() {
            eprintln!("{n}: failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        for l in lines {
            let f: Vec<&str> = l.split_whitespace().collect();
            println!(
                "| {} | {} | {} | {} | {} | {} | {} MiB |",
                f[1], f[2], f[3], f[4], f[5], f[6], f[7]
            );
        }
    }
}

/// The default graph's parameters, for the table heading.
#[cfg(feature = "ann")]
fn ann_params() -> String {
    let p = papermap::search::ann::AnnParams::default();
    format!(
        "connectivity {}, expansion_add {}",
        p.connectivity, p.expansion_add
    )
}

#[cfg(not(feature = "ann"))]
fn ann_params() -> String {
    "not built: no `ann` feature".into()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--index-papers") {
        if let Err(e) = index_targets::main(&args) {
            eprintln!("scale bench: {e}");
            std::process::exit(1);
        }
        return;
    }
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
    if o.ann {
        return ann_table(&o, &exe);
    }
    if o.map {
        println!("| vectors | t-SNE map s | fitted on | peak RSS |\n|---:|---:|---:|---:|");
        for &n in &o.sizes {
            let out = Command::new(&exe)
                .args(["--index", &o.index.display().to_string(), "--map"])
                .args(["--one", &n.to_string()])
                .output()
                .expect("run child");
            let text = String::from_utf8_lossy(&out.stdout);
            match text.lines().find(|l| l.starts_with("map ")) {
                Some(l) => {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    println!("| {} | {} | {} | |", f[1], f[2], f[3]);
                }
                None => eprintln!("{n}: failed: {}", String::from_utf8_lossy(&out.stderr)),
            }
        }
        return;
    }
    println!(
        "k-means k = {} ({} runs) and related top-10 for all, on archive vectors + noise; {} threads, device {}\n",
        o.k,
        o.runs,
        rayon::current_num_threads(),
        o.device
    );
    println!("| vectors | k-means s | iterations (best run) | objective | scikit-learn s | objective vs sklearn | papermap/sklearn time | linfa s | objective vs linfa | related-all s | peak RSS |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
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
        if o.linfa {
            cmd.arg("--linfa");
        }
        let out = cmd.output().expect("run child");
        let text = String::from_utf8_lossy(&out.stdout);
        let Some(line) = text.lines().find(|l| l.starts_with("result ")) else {
            eprintln!("{n}: failed: {}", String::from_utf8_lossy(&out.stderr));
            continue;
        };
        let f: Vec<&str> = line.split_whitespace().collect();
        let (fit_s, obj, iters, rel_s, rss) = (f[3], f[4], f[5], f[6], f[7]);
        let (li_s, li_obj): (f64, f64) = (
            f[8].parse().unwrap_or(f64::NAN),
            f[9].parse().unwrap_or(f64::NAN),
        );
        let (linfa_s, linfa_gap) = if li_s.is_finite() {
            let ours: f64 = obj.parse().unwrap_or(f64::NAN);
            (
                format!("{li_s:.2}"),
                format!("{:+.2} %", (ours / li_obj - 1.0) * 100.0),
            )
        } else {
            ("-".to_string(), "-".to_string())
        };
        let (mut sk_s, mut sk_gap, mut ratio) = ("-".to_string(), "-".to_string(), "-".to_string());
        if let (Some(py), Some(npy)) = (&o.sklearn, f.get(10)) {
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
            "| {n} | {fit_s} | {iters} | {} | {sk_s} | {sk_gap} | {ratio} | {linfa_s} | {linfa_gap} | {rel_s} | {rss} MiB |",
            obj.parse::<f64>()
                .map_or(obj.to_string(), |v| format!("{v:.1}"))
        );
    }
    println!("\npapermap/sklearn time below 1.00x means papermap is faster; objective gap > 0 means papermap's is higher.");
}
