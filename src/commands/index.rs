//! `papermap index`: parse digests, embed what is new or changed, store.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use papermap::index::{update, TextRecipe, UpdateOptions};
use papermap::workspace;

use super::options::ModelOpts;

use super::options::DEFAULT_INDEX;

/// `papermap index PATH...`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Digests and archives: files, or directories searched recursively (*.md, *.txt, *.json,
    /// *.jsonl, *.csv, *.parquet, also .gz or .zst compressed).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    source: super::options::SourceOpts,
    /// Index directory.
    #[arg(long, default_value = DEFAULT_INDEX)]
    index: PathBuf,
    /// What is embedded per paper: `title+summary` (a paper without a digest summary gives its
    /// abstract), `title+abstract` (the abstract first), or `summary` (the reference recipe).
    #[arg(long, default_value = "title+summary")]
    text: TextRecipe,
    /// Re-embed everything, replacing an index built with another model or recipe (the old
    /// index stays whole, and searchable, until the new one is).
    #[arg(long)]
    rebuild: bool,
    /// Remove the stored papers these PATHs do not include. Without it, `index` adds and
    /// updates, and removes only papers whose digest file was deleted from a directory given
    /// again (refusing when that would be more than 5% of the index).
    #[arg(long)]
    prune: bool,
    /// Upper bound on tokens per forward pass (sequences are packed, no padding; default: 4096
    /// on CPU, 131072 on CUDA).
    #[arg(long, value_parser = super::options::at_least_one)]
    batch_tokens: Option<usize>,
    /// Papers per stored chunk: a killed run loses at most one chunk of work, and each chunk is
    /// tokenised and sorted by length as one window (default: 1024 on CPU, 65536 on CUDA).
    #[arg(long, value_parser = super::options::at_least_one)]
    chunk: Option<usize>,
    /// Synchronise the device after each stage, so the stage times it prints are each stage's
    /// own (slightly slower).
    #[arg(long)]
    profile: bool,
    #[command(flatten)]
    model: ModelOpts,
}

/// Runs `papermap index`.
pub fn run(args: Args, output: super::output::Output) -> anyhow::Result<()> {
    let start = Instant::now();
    // The papers read wait in a scratch file in the index directory (gone when the run ends),
    // so that an archive of millions is held a batch at a time.
    let (run, read) =
        papermap::corpus::spill(&args.paths, &args.source.read_options(), &args.index)
            .context("reading sources")?;
    let read_s = start.elapsed().as_secs_f64();
    for w in &read.warnings {
        super::output::note!("warning: {}", super::output::one_line(&w.to_string()));
    }
    super::options::report_tally(&read.tally);
    // An existing index keeps its mode (q8, f16…) unless --dtype/--quant say otherwise (then
    // --rebuild is needed). Only the manifest is read here; a missing or broken one is the
    // update's to report.
    let (_, mut encoder) = args.model.choice()?.following_index(&args.index).load()?;
    if encoder.identity().mode == papermap::embed::Mode::Bf16 && encoder.device().is_cpu() {
        if let Some(how) = papermap::embed::kernels::bf16_emulation() {
            super::output::note!(
                "note: this CPU has no AVX512_BF16: bf16 runs {how} here; f32 or --quant q8 are \
                 faster on it"
            );
        }
    }
    let chunk = super::options::pipeline(&mut encoder, args.batch_tokens, args.profile, args.chunk);
    let opts = UpdateOptions {
        recipe: args.text,
        rebuild: args.rebuild,
        chunk_rows: chunk,
        prune: args.prune,
        roots: args.paths.iter().filter(|p| p.is_dir()).cloned().collect(),
    };
    let embed_start = Instant::now();
    let mut reporter = Reporter::new(output.quiet);
    let stats = update(&args.index, &run, &encoder, &opts, &mut |d, t, tok| {
        reporter.update(d, t, tok)
    })
    .with_context(|| format!("updating index {}", args.index.display()))?;
    reporter.finish();
    // Repairs are printed even under --quiet: damage was found, and someone should know.
    for r in &stats.repairs {
        eprintln!("repaired: {r}");
    }
    let secs = embed_start.elapsed().as_secs_f64();
    let mut stages = stats.stages.clone();
    stages.read_s = read_s;
    // The search lexicon is learned now, while the model is loaded, so that searches find it
    // current and confirmed by the model's word vectors. It is derived: failing here loses nothing.
    if let Err(e) = workspace::prepare_lexical(&args.index, &encoder) {
        super::output::note!(
            "note: the search lexicon was not prepared ({e:#}); the first search learns one"
        );
    }
    if output.json {
        let mut v = serde_json::to_value(&stats)?;
        v["index"] = serde_json::to_value(&args.index)?;
        v["embed_seconds"] = secs.into();
        v["stages"] = serde_json::to_value(&stages)?;
        v["total_seconds"] = start.elapsed().as_secs_f64().into();
        return super::output::print_json(&v);
    }
    if stats.truncated > 0 {
        super::output::note!(
            "note: {} inputs longer than {} tokens were truncated",
            stats.truncated,
            encoder.max_len
        );
    }
    println!(
        "indexed {} papers into {}: embedded {}, skipped {} unchanged, {} without text, \
         kept {} stored papers these paths do not include, removed {}; \
         {} tokens, {} truncated; {:.1}s embedding ({:.1} papers/s, {:.0} tokens/s), {:.1}s total",
        stats.papers,
        args.index.display(),
        stats.embedded,
        stats.skipped,
        stats.without_summary,
        stats.kept,
        stats.removed,
        stats.tokens,
        stats.truncated,
        secs,
        stats.embedded as f64 / secs.max(1e-9),
        stats.tokens as f64 / secs.max(1e-9),
        start.elapsed().as_secs_f64()
    );
    if stats.embedded > 0 {
        super::output::note!("{}", super::output::stage_line(&stages));
    }
    Ok(())
}

/// Progress on a terminal (indicatif bar with rate and ETA), plain lines otherwise.
struct Reporter {
    bar: Option<indicatif::ProgressBar>,
    quiet: bool,
    last_line: Instant,
    start: Instant,
}

impl Reporter {
    fn new(quiet: bool) -> Self {
        Reporter {
            bar: None,
            quiet,
            last_line: Instant::now(),
            start: Instant::now(),
        }
    }

    fn update(&mut self, done: usize, total: usize, tokens: usize) {
        if self.quiet {
            return;
        }
        if std::io::stderr().is_terminal() {
            let bar = self.bar.get_or_insert_with(|| {
                let b = indicatif::ProgressBar::new(total as u64);
                b.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{bar:40} {pos}/{len} papers  {per_sec}  ETA {eta}  {msg}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                b
            });
            bar.set_position(done as u64);
            bar.set_message(format!("{tokens} tokens"));
        } else if self.last_line.elapsed().as_secs_f64() >= 5.0 || done == total {
            self.last_line = Instant::now();
            let rate = done as f64 / self.start.elapsed().as_secs_f64().max(1e-9);
            let eta = (total - done) as f64 / rate.max(1e-9);
            eprintln!("embedded {done}/{total} papers, {tokens} tokens, {rate:.1} papers/s, ETA {eta:.0}s");
        }
    }

    fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}
