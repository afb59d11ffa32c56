//! `papermap embed`: strings in, vectors out (`.npy`), for scripts and benchmarks.

use std::io::BufRead;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use papermap::embed::Prefix;

use super::export::write_npy;
use super::model::ModelOpts;

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
    #[arg(long, default_value = "passage")]
    prefix: String,
    #[command(flatten)]
    model: ModelOpts,
}

/// Runs `papermap embed`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let prefix = match args.prefix.as_str() {
        "passage" => Prefix::Passage,
        "query" => Prefix::Query,
        "none" => Prefix::None,
        p => anyhow::bail!("unknown prefix {p:?}: use passage, query or none"),
    };
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
    let (_, encoder) = args.model.encoder()?;
    let start = Instant::now();
    let e = encoder.embed(&texts, prefix, &mut |_, _| {})?;
    let secs = start.elapsed().as_secs_f64();
    write_npy(&args.out, e.len(), e.dim, &e.vectors)?;
    println!(
        "embedded {} texts, {} tokens, {} truncated in {:.2}s: {:.2} texts/s, {:.0} tokens/s ({:?} engine)",
        e.len(),
        e.tokens,
        e.truncated,
        secs,
        e.len() as f64 / secs.max(1e-9),
        e.tokens as f64 / secs.max(1e-9),
        encoder.engine()
    );
    Ok(())
}
