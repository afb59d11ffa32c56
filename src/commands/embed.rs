//! `papermap embed`: strings in, vectors out (`.npy`), for scripts and benchmarks.

use std::io::BufRead;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use papermap::embed::Prefix;

use super::options::ModelOpts;

/// `papermap embed`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// JSON Lines input: each line a JSON string, or an object with a "text" field.
    #[arg(long)]
    input: PathBuf,
    /// Output `.npy` (float32 [n, dim]).
    #[arg(long)]
    out: PathBuf,
    /// Prefix added to every input: passage, query or none.
    #[arg(long, default_value = "passage", value_parser = ["passage", "query", "none"])]
    prefix: String,
    /// Embed the inputs one at a time, as a search query is, and report the median latency.
    #[arg(long)]
    one_by_one: bool,
    /// Upper bound on tokens per forward pass (default: 4096 on CPU, 131072 on CUDA).
    #[arg(long, value_parser = super::options::at_least_one)]
    batch_tokens: Option<usize>,
    /// Texts tokenised and sorted by length together (default: 1024 on CPU, 65536 on CUDA).
    #[arg(long, value_parser = super::options::at_least_one)]
    window: Option<usize>,
    /// Synchronise the device after each stage, so the stage times it prints are each stage's
    /// own (slightly slower).
    #[arg(long)]
    profile: bool,
    #[command(flatten)]
    model: ModelOpts,
}

/// Runs `papermap embed`.
pub fn run(args: Args, output: super::output::Output) -> anyhow::Result<()> {
    let prefix = match args.prefix.as_str() {
        "passage" => Prefix::Passage,
        "query" => Prefix::Query,
        "none" => Prefix::None,
        p => anyhow::bail!("unknown prefix {p:?}: use passage, query or none"),
    };
    let read_start = Instant::now();
    let file = std::fs::File::open(&args.input)
        .with_context(|| format!("opening {}", args.input.display()))?;
    let mut texts = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("{}:{}", args.input.display(), n + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(&line)
            .with_context(|| format!("{}:{}: not JSON", args.input.display(), n + 1))?;
        let text = match &v {
            serde_json::Value::String(s) => s.clone(),
            _ => v["text"]
                .as_str()
                .with_context(|| format!("{}:{}: no \"text\" field", args.input.display(), n + 1))?
                .to_string(),
        };
        texts.push(text);
    }
    let read_s = read_start.elapsed().as_secs_f64();
    let (_, mut encoder) = args.model.choice()?.load()?;
    if args.one_by_one {
        return one_by_one(&args, output, &encoder, &texts, prefix);
    }
    let window =
        super::options::pipeline(&mut encoder, args.batch_tokens, args.profile, args.window);
    let start = Instant::now();
    let strs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let dim = encoder.dim;
    let mut e = papermap::embed::Embedded {
        vectors: vec![0f32; texts.len() * dim],
        dim,
        ..Default::default()
    };
    let mut stages = encoder.embed_stream(
        &strs,
        prefix,
        window,
        &mut |_, _| {},
        &mut |range, part: papermap::embed::Embedded| -> Result<(), papermap::embed::EmbedError> {
            e.vectors[range.start * dim..range.end * dim].copy_from_slice(&part.vectors);
            e.tokens += part.tokens;
            e.truncated += part.truncated;
            e.flops += part.flops;
            Ok(())
        },
    )?;
    let secs = start.elapsed().as_secs_f64();
    let write_start = Instant::now();
    let rows = ndarray::ArrayView2::from_shape((e.len(), e.dim), &e.vectors[..])?;
    papermap::export::write_npy(&args.out, rows)?;
    stages.read_s = read_s;
    stages.write_s += write_start.elapsed().as_secs_f64();
    if output.json {
        return super::output::print_json(&serde_json::json!({
            "out": args.out,
            "texts": e.len(),
            "dim": e.dim,
            "tokens": e.tokens,
            "truncated": e.truncated,
            "seconds": secs,
            "texts_per_second": e.len() as f64 / secs.max(1e-9),
            "tokens_per_second": e.tokens as f64 / secs.max(1e-9),
            "kernels": encoder.kernels().to_string(),
            "precision": encoder.mode(),
            "stages": stages,
        }));
    }
    println!(
        "embedded {} texts, {} tokens, {} truncated in {:.2}s: {:.2} texts/s, {:.0} tokens/s, \
         {:.1} GFLOP/s ({}, {})",
        e.len(),
        e.tokens,
        e.truncated,
        secs,
        e.len() as f64 / secs.max(1e-9),
        e.tokens as f64 / secs.max(1e-9),
        e.flops / secs.max(1e-9) / 1e9,
        encoder.kernels(),
        encoder.mode()
    );
    super::output::note!("{}", super::output::stage_line(&stages));
    Ok(())
}

/// Embeds each text alone and prints the median and 90th-percentile latency.
fn one_by_one(
    args: &Args,
    output: super::output::Output,
    encoder: &papermap::embed::Encoder,
    texts: &[String],
    prefix: Prefix,
) -> anyhow::Result<()> {
    anyhow::ensure!(!texts.is_empty(), "{}: no inputs", args.input.display());
    // One warm-up call: buffers and thread pool start cold, as after a model load.
    encoder.embed_one(&texts[0], prefix)?;
    let mut vectors = Vec::with_capacity(texts.len() * encoder.dim);
    let mut ms = Vec::with_capacity(texts.len());
    for t in texts {
        let start = Instant::now();
        vectors.extend(encoder.embed_one(t, prefix)?);
        ms.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let rows = ndarray::ArrayView2::from_shape((texts.len(), encoder.dim), &vectors[..])?;
    papermap::export::write_npy(&args.out, rows)?;
    ms.sort_by(f64::total_cmp);
    let (median, p90) = (ms[ms.len() / 2], ms[(ms.len() * 9 / 10).min(ms.len() - 1)]);
    if output.json {
        return super::output::print_json(&serde_json::json!({
            "out": args.out,
            "texts": ms.len(),
            "median_ms": median,
            "p90_ms": p90,
            "kernels": encoder.kernels().to_string(),
            "precision": encoder.mode(),
        }));
    }
    println!(
        "latency over {} single inputs: median {:.2} ms, p90 {:.2} ms ({}, {})",
        ms.len(),
        median,
        p90,
        encoder.kernels(),
        encoder.mode()
    );
    Ok(())
}
