//! Argument types and value parsers shared by the commands.

use std::path::PathBuf;

use papermap::embed::model::Resolver;
use papermap::embed::{DeviceSpec, Mode, Quant};
use papermap::workspace::ModelChoice;

/// Index directory used when `--index` is not given.
pub const DEFAULT_INDEX: &str = "papermap-index";

/// Where the vector work runs; shared by every command that has a device.
#[derive(clap::Args, Debug, Clone)]
pub struct DeviceOpt {
    /// Device for embedding, k-means and related-for-all: cpu, cuda or cuda:N (cuda needs a
    /// `--features cuda` build).
    #[arg(
        long = "device",
        global = true,
        default_value = "cpu",
        value_name = "NAME"
    )]
    pub spec: DeviceSpec,
}

impl Default for DeviceOpt {
    fn default() -> Self {
        DeviceOpt {
            spec: DeviceSpec::Cpu,
        }
    }
}

/// How the sources are read: shared by every command that reads digests or archives.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct SourceOpts {
    /// Read every PATH as this format instead of finding it by extension and content: digest,
    /// arxiv (the metadata snapshot), hf-daily (Hugging Face Daily Papers JSON), jsonl, csv,
    /// parquet.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<papermap::corpus::archive::Format>,
    /// Keep only papers in these arXiv categories, comma-separated; one ending in `.` is a
    /// prefix (`cs.`). Papers whose source names no categories (digests) are kept.
    #[arg(long, value_name = "LIST")]
    pub categories: Option<String>,
    /// Keep only papers dated on or after this day (undated papers are kept).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = date)]
    pub since: Option<String>,
    /// Tables: the column of the paper's id (default: id, arxiv_id, paper_id).
    #[arg(long, value_name = "NAME")]
    pub id_field: Option<String>,
    /// Tables: the column of the title (default: title).
    #[arg(long, value_name = "NAME")]
    pub title_field: Option<String>,
    /// Tables: the column of the text to embed, read as the abstract (default: abstract, text).
    #[arg(long, value_name = "NAME")]
    pub text_field: Option<String>,
    /// Tables: the column of the date (default: date, published, publishedAt, published_at,
    /// update_date, created).
    #[arg(long, value_name = "NAME")]
    pub date_field: Option<String>,
}

impl SourceOpts {
    /// The library's reading options.
    pub fn read_options(&self) -> papermap::corpus::archive::ReadOptions {
        use papermap::corpus::archive::{Fields, ReadOptions, Selection};
        ReadOptions {
            format: self.format,
            select: Selection {
                categories: self
                    .categories
                    .as_deref()
                    .map(Selection::categories_from)
                    .unwrap_or_default(),
                since: self.since.clone(),
            },
            fields: Fields {
                id: self.id_field.clone(),
                title: self.title_field.clone(),
                text: self.text_field.clone(),
                date: self.date_field.clone(),
            },
        }
    }
}

/// A `YYYY-MM-DD` date.
pub fn date(s: &str) -> Result<String, String> {
    match papermap::corpus::dates::day_number(s) {
        Some(_) if s.len() == 10 => Ok(s.to_string()),
        _ => Err(format!("{s:?} is not a date (YYYY-MM-DD)")),
    }
}

/// Prints what reading the archives did, when it read any: records, bad ones, the selection.
pub fn report_tally(tally: &papermap::corpus::archive::Tally) {
    if tally.records == 0 && tally.by_category == 0 && tally.by_date == 0 {
        return;
    }
    let mut parts = Vec::new();
    if tally.bad > 0 {
        parts.push(format!("{} bad, skipped with a warning", tally.bad));
    }
    if tally.by_category > 0 {
        parts.push(format!("{} outside --categories", tally.by_category));
    }
    if tally.by_date > 0 {
        parts.push(format!("{} before --since", tally.by_date));
    }
    let rest = if parts.is_empty() {
        String::new()
    } else {
        format!(": {}", parts.join(", "))
    };
    super::output::note!("read {} archive records{rest}", tally.records);
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
    /// Compute dtype: f32, f16 or bf16 (bf16 on the CPU: 1.5x f32 with AVX512_BF16, cosine
    /// ≥ 0.99999; default: the index's mode, else f32 on CPU, f16 on CUDA).
    #[arg(long, global = true, value_name = "f32|f16|bf16")]
    pub dtype: Option<Mode>,
    /// `q8`: int8 projections on the CPU (about 2x faster, cosine ≥ 0.999 to f32).
    /// Recorded in the index manifest; an index is never mixed across modes.
    #[arg(long, global = true, value_name = "q8|none")]
    pub quant: Option<Quant>,
}

impl ModelOpts {
    /// The library's description of this choice: device and numeric mode typed once here.
    pub fn choice(&self) -> anyhow::Result<ModelChoice> {
        let device = self.device.spec;
        Ok(ModelChoice {
            resolver: Resolver {
                dir: self.model.clone(),
                model_id: self.model_id.clone(),
                offline: self.offline,
                progress: std::io::IsTerminal::is_terminal(&std::io::stderr())
                    && !super::output::quiet(),
            },
            device,
            mode: Mode::from_flags(self.dtype, self.quant, device)?,
        })
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
