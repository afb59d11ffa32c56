//! Argument types and value parsers shared by the commands.

use std::path::PathBuf;

use papermap::embed::model::Resolver;
use papermap::embed::parse_device;
use papermap::workspace::ModelChoice;

/// Index directory used when `--index` is not given.
pub const DEFAULT_INDEX: &str = "papermap-index";

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
    /// The library's description of this choice.
    pub fn choice(&self) -> ModelChoice {
        ModelChoice {
            resolver: Resolver {
                dir: self.model.clone(),
                model_id: self.model_id.clone(),
                offline: self.offline,
                progress: std::io::IsTerminal::is_terminal(&std::io::stderr())
                    && !super::output::quiet(),
            },
            device: self.device.name.clone(),
            dtype: self.dtype.clone(),
            quant: self.quant,
        }
    }

    /// Whether a model was named explicitly (`--model` or `--model-id`).
    pub fn explicit(&self) -> bool {
        self.model.is_some() || self.model_id.is_some()
    }
}

/// Applies the embedding pipeline's options (`--batch-tokens`, `--profile`) to `encoder` and
/// returns the window (`--chunk` or `--window`): texts tokenised, sorted and stored together,
/// 1,024 on the CPU and 65,536 on a GPU unless given.
pub fn pipeline(
    encoder: &mut papermap::embed::Encoder,
    batch_tokens: Option<usize>,
    profile: bool,
    window: Option<usize>,
) -> usize {
    if let Some(budget) = batch_tokens {
        encoder.token_budget = budget.max(encoder.max_len);
    }
    encoder.sync_stages = profile;
    window.unwrap_or(if encoder.device().is_cpu() {
        1024
    } else {
        65_536
    })
}

/// Parses an integer of at least 1 (a count, a size): 0 is a usage error, not a silent default.
pub fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// Parses a number in [0, 1].
pub fn unit_interval(s: &str) -> Result<f32, String> {
    let v: f32 = s
        .parse()
        .map_err(|e: std::num::ParseFloatError| e.to_string())?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is outside 0..=1"))
    }
}

/// Parses a cosine threshold in [-1, 1].
pub fn cosine_threshold(s: &str) -> Result<f32, String> {
    let v: f32 = s
        .parse()
        .map_err(|e: std::num::ParseFloatError| e.to_string())?;
    if (-1.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is outside -1..=1"))
    }
}
