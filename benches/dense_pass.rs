//! The server's dense pass on a real index: the f32 scan (`dense::top_k`) against the int8
//! copy with its exact re-rank (`Int8Matrix::top_k`), for 1 and 8 queries at depth 100 (a
//! hybrid search's dense depth), alternating, median of `--runs`; the int8 copy's build time,
//! how many rows it scored again, and a check that both give the same hits.
//!
//! ```text
//! cargo bench --bench dense_pass -- --index DIR [--runs 5]
//! ```
//!
//! Queries are stored vectors of rows spread over the index, plus a little noise, so they
//! land among near neighbours as a real query does.

use std::time::Instant;

use papermap::index::Index;
use papermap::search::dense;
use papermap::vectors::int8_scan::Int8Matrix;

#[path = "common/index_runs.rs"]
mod index_runs;

fn main() {
    if let Err(e) = run() {
        eprintln!("dense_pass: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let index_runs::IndexRuns { index: dir, runs } = index_runs::parse(5)?;
    let index = Index::open(&dir).map_err(|e| e.to_string())?;
    let (n, dim) = (index.len(), index.dim());
    let vectors = index.vectors();
    let t = Instant::now();
    let int8 = Int8Matrix::build(vectors, dim).map_err(|e| e.to_string())?;
    let build = t.elapsed().as_secs_f64();
    let depth = 100;
    let mut queries = Vec::new();
    for i in 0..8 {
        let row = (i * 7919 + 13) * n / (8 * 7919 + 13);
        let mut q: Vec<f32> = vectors[row * dim..(row + 1) * dim].to_vec();
        for (d, x) in q.iter_mut().enumerate() {
            *x += 0.02 * (((d * 31 + i * 17) % 13) as f32 - 6.0) / 6.0;
        }
        let norm = q.iter().map(|x| x * x).sum::<f32>().sqrt();
        q.iter_mut().for_each(|x| *x /= norm);
        queries.extend(q);
    }
    // Warm both: the first f32 pass pages the matrix in.
    let want = dense::top_k(vectors, dim, &queries, depth, None).map_err(|e| e.to_string())?;
    let (got, rescored) = int8
        .top_k_counted(vectors, &queries, depth)
        .map_err(|e| e.to_string())?;
    if got != want {
        return Err("the int8 pass's hits differ from the f32 scan's".into());
    }
    let mut times: [Vec<f64>; 4] = Default::default();
    for _ in 0..runs {
        for (slot, nq) in [(0usize, 1usize), (2, 8)] {
            let q = &queries[..nq * dim];
            let t = Instant::now();
            dense::top_k(vectors, dim, q, depth, None).map_err(|e| e.to_string())?;
            times[slot].push(t.elapsed().as_secs_f64() * 1e3);
            let t = Instant::now();
            int8.top_k(vectors, q, depth).map_err(|e| e.to_string())?;
            times[slot + 1].push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "{n} rows × {dim}, depth {depth}, {} threads; int8 copy built in {build:.2} s \
         ({} MB); {rescored} rows scored again for 8 queries; hits equal\n",
        rayon::current_num_threads(),
        int8.len() * dim.div_ceil(64) * 64 / 1_000_000
    );
    println!("| queries | f32 scan ms | int8 + re-rank ms | ratio |\n|---:|---:|---:|---:|");
    for (slot, nq) in [(0usize, 1usize), (2, 8)] {
        let f = med(&mut times[slot]);
        let i = med(&mut times[slot + 1]);
        println!("| {nq} | {f:.1} | {i:.1} | {:.2}x |", f / i);
    }
    println!("\nmedian of {runs} alternating runs");
    Ok(())
}
