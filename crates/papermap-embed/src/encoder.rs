//! Tokenise, batch under a token budget, run the graph, collect the pooled vectors.

use candle_core::Device;
use tokenizers::Tokenizer;

use super::graph::{BertGraph, Kernels};
use super::model::read_config;
use super::{no_panic, EmbedError, Mode, ModelFiles, ModelIdentity};

/// Which E5 prefix an input gets: documents are passages, search text is a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    /// `passage: ` — for the texts being indexed.
    Passage,
    /// `query: ` — for search text.
    Query,
    /// No prefix: the caller already built the exact input.
    None,
}

impl Prefix {
    /// The literal prefix string.
    pub fn as_str(self) -> &'static str {
        match self {
            Prefix::Passage => "passage: ",
            Prefix::Query => "query: ",
            Prefix::None => "",
        }
    }
}

/// Vectors of a batch of inputs, in input order, plus what it cost.
#[derive(Debug, Clone, Default)]
pub struct Embedded {
    /// Row-major `[n, dim]`, each row L2-normalised.
    pub vectors: Vec<f32>,
    /// Vector dimension.
    pub dim: usize,
    /// Tokens fed to the model (after truncation, specials included).
    pub tokens: usize,
    /// Inputs longer than the model's maximum that were cut.
    pub truncated: usize,
    /// Arithmetic done ([`BertGraph::flops`]).
    pub flops: f64,
}

impl Embedded {
    /// Vector `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.vectors[i * self.dim..(i + 1) * self.dim]
    }
    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.vectors.len().checked_div(self.dim).unwrap_or(0)
    }
    /// True when there are no vectors.
    pub fn is_empty(&self) -> bool {
        self.vectors.is_empty()
    }
}

/// How to load an encoder.
#[derive(Debug, Clone)]
pub struct EncoderOptions {
    /// Where the graph runs.
    pub device: Device,
    /// Numeric mode (pooling is always f32).
    pub mode: Mode,
    /// The layers' implementation; by default papermap's kernels for the modes they implement
    /// on the CPU ([`Mode::native_on_cpu`]), candle's ops otherwise. Forcing
    /// [`Kernels::Candle`] on CPU runs the CUDA code path there (tests).
    pub kernels: Option<Kernels>,
}

impl Default for EncoderOptions {
    fn default() -> Self {
        EncoderOptions {
            device: Device::Cpu,
            mode: Mode::F32,
            kernels: None,
        }
    }
}

/// The tokenizer of an encoder: the whole vocabulary, or only what a few known inputs use (with
/// the whole one loaded if another input comes).
enum Vocab {
    Whole(Tokenizer),
    Only {
        tokenizer: Tokenizer,
        inputs: std::collections::HashSet<String>,
        path: std::path::PathBuf,
        whole: std::sync::OnceLock<Box<Tokenizer>>,
    },
}

/// A loaded sentence encoder: tokenizer + BERT graph on a device.
pub struct Encoder {
    graph: BertGraph,
    tokenizer: Vocab,
    device: Device,
    /// Output dimension (hidden size).
    pub dim: usize,
    /// Maximum sequence length in tokens, specials included.
    pub max_len: usize,
    /// Upper bound on tokens per forward pass (sequences are packed: no padding counts).
    pub token_budget: usize,
    /// Upper bound on sequences per forward pass.
    pub max_batch: usize,
    /// Synchronise the device after each stage of a forward pass, so that
    /// [`super::StageTimes`] gives each stage's own run time (`--profile`).
    pub sync_stages: bool,
    identity: ModelIdentity,
}

impl Encoder {
    /// Loads config, tokenizer and weights as `opts` say.
    pub fn load(files: &ModelFiles, opts: &EncoderOptions) -> Result<Self, EmbedError> {
        Encoder::load_with(files, opts, None)
    }

    /// [`Encoder::load`] for a command that embeds a few texts it knows before loading (a
    /// search query): the tokenizer keeps only the pieces they can use, so loading skips most of
    /// building the 250,002-piece vocabulary (see [`super::tokenizer_file::load_for`]). The
    /// vectors are the same; other texts still work, loading the whole tokenizer first.
    pub fn load_for(
        files: &ModelFiles,
        opts: &EncoderOptions,
        texts: &[String],
        prefix: Prefix,
    ) -> Result<Self, EmbedError> {
        let inputs: Vec<String> = texts
            .iter()
            .map(|t| format!("{}{}", prefix.as_str(), t))
            .collect();
        Encoder::load_with(files, opts, Some(inputs))
    }

    fn load_with(
        files: &ModelFiles,
        opts: &EncoderOptions,
        only: Option<Vec<String>>,
    ) -> Result<Self, EmbedError> {
        let config = read_config(&files.config)?;
        let kernels =
            opts.kernels
                .unwrap_or(if opts.device.is_cpu() && opts.mode.native_on_cpu() {
                    Kernels::Native
                } else {
                    Kernels::Candle
                });
        // The tokenizer and the weights are read on two threads: each is a few hundred
        // milliseconds of a search's start-up, and they share nothing.
        std::thread::scope(|s| {
            let tokenizer = s.spawn(|| Encoder::read_tokenizer(files, only));
            // The fingerprint is cached beside the model; the first one hashes the files while
            // the weights load.
            let fingerprint = s.spawn(|| files.fingerprint());
            let graph = no_panic(
                || format!("reading {}", files.weights.display()),
                || BertGraph::load(&files.weights, &config, kernels, &opts.device, opts.mode),
            );
            let tokenizer = tokenizer
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            let fingerprint = fingerprint
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            let identity = ModelIdentity {
                id: files.id.clone(),
                fingerprint: fingerprint?,
                mode: opts.mode,
            };
            Encoder::assemble(opts, &config, tokenizer?, graph?, identity)
        })
    }

    fn read_tokenizer(files: &ModelFiles, only: Option<Vec<String>>) -> Result<Vocab, EmbedError> {
        no_panic(
            || format!("reading {}", files.tokenizer.display()),
            || {
                let err = |source| EmbedError::Tokenizer {
                    path: files.tokenizer.clone(),
                    source,
                };
                Ok(match only {
                    None => {
                        Vocab::Whole(super::tokenizer_file::load(&files.tokenizer).map_err(err)?)
                    }
                    Some(inputs) => Vocab::Only {
                        tokenizer: super::tokenizer_file::load_for(&files.tokenizer, &inputs)
                            .map_err(err)?,
                        inputs: inputs.into_iter().collect(),
                        path: files.tokenizer.clone(),
                        whole: std::sync::OnceLock::new(),
                    },
                })
            },
        )
    }

    fn assemble(
        opts: &EncoderOptions,
        config: &super::model::Config,
        tokenizer: Vocab,
        graph: BertGraph,
        identity: ModelIdentity,
    ) -> Result<Self, EmbedError> {
        // On CPU a few thousand tokens already give every core whole tiles of every projection
        // (and keep the reused activation buffers near 70 MB); a GPU wants large batches to
        // fill its cores and to spread each batch's fixed cost (a few hundred kernel launches).
        let (token_budget, max_batch) = if opts.device.is_cpu() {
            (4 * 1024, 256)
        } else {
            (128 * 1024, 4096)
        };
        Ok(Encoder {
            graph,
            tokenizer,
            device: opts.device.clone(),
            dim: config.hidden_size,
            max_len: config.max_position_embeddings,
            token_budget,
            max_batch,
            sync_stages: false,
            identity,
        })
    }

    /// The device the model runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Which implementation the graph's layers use.
    pub fn kernels(&self) -> Kernels {
        self.graph.kernels()
    }

    /// The encoder's graph.
    pub(crate) fn graph(&self) -> &BertGraph {
        &self.graph
    }

    /// The tokenizer that encodes `inputs` exactly.
    fn tokenizer_for(&self, inputs: &[String]) -> Result<&Tokenizer, EmbedError> {
        match &self.tokenizer {
            Vocab::Whole(t) => Ok(t),
            Vocab::Only {
                tokenizer,
                inputs: known,
                ..
            } if inputs.iter().all(|i| known.contains(i)) => Ok(tokenizer),
            Vocab::Only { path, whole, .. } => {
                if let Some(t) = whole.get() {
                    return Ok(t);
                }
                let t =
                    super::tokenizer_file::load(path).map_err(|source| EmbedError::Tokenizer {
                        path: path.clone(),
                        source,
                    })?;
                Ok(whole.get_or_init(|| Box::new(t)))
            }
        }
    }

    /// Token ids of each prefixed input, truncated to `max_len` (the last id stays `</s>`, as
    /// transformers' truncation keeps the specials). Returns the ids and how many were cut.
    pub fn tokenize(
        &self,
        texts: &[String],
        prefix: Prefix,
    ) -> Result<(Vec<Vec<u32>>, usize), EmbedError> {
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        self.tokenize_strs(&texts, prefix)
    }

    /// [`Encoder::tokenize`] of borrowed texts.
    pub(crate) fn tokenize_strs(
        &self,
        texts: &[&str],
        prefix: Prefix,
    ) -> Result<(Vec<Vec<u32>>, usize), EmbedError> {
        let inputs: Vec<String> = texts
            .iter()
            .map(|t| format!("{}{}", prefix.as_str(), t))
            .collect();
        let run_err = |source| EmbedError::TokenizerRun { source };
        let tokenizer = self.tokenizer_for(&inputs)?;
        // One text (a search query) is encoded on this thread: encode_batch hands even a
        // single input to the rayon pool, a wake-up that costs more than the encoding. The
        // `_fast` calls skip the character offsets, which nothing here reads.
        let encs = no_panic(
            || "tokenizing".to_string(),
            || {
                if inputs.len() == 1 {
                    let one = inputs.into_iter().next().unwrap_or_default();
                    Ok(vec![tokenizer.encode_fast(one, true).map_err(run_err)?])
                } else {
                    tokenizer.encode_batch_fast(inputs, true).map_err(run_err)
                }
            },
        )?;
        let mut truncated = 0;
        let ids = encs
            .into_iter()
            .map(|e| {
                let mut ids = e.get_ids().to_vec();
                if ids.len() > self.max_len && self.max_len >= 2 {
                    truncated += 1;
                    let last = ids[ids.len() - 1];
                    ids.truncate(self.max_len - 1);
                    ids.push(last);
                }
                ids
            })
            .collect();
        Ok((ids, truncated))
    }

    /// Embeds prefixed texts; `progress(done, tokens)` is called after every batch.
    pub fn embed(
        &self,
        texts: &[String],
        prefix: Prefix,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Embedded, EmbedError> {
        let (ids, truncated) = self.tokenize(texts, prefix)?;
        let mut out = self.embed_ids(&ids, progress)?;
        out.truncated = truncated;
        Ok(out)
    }

    /// Embeds one text (a search query, typically).
    pub fn embed_one(&self, text: &str, prefix: Prefix) -> Result<Vec<f32>, EmbedError> {
        let e = self.embed(&[text.to_string()], prefix, &mut |_, _| {})?;
        Ok(e.vectors)
    }

    /// Embeds pre-tokenised sequences. Sequences are sorted by length and packed into batches
    /// under the token budget (equal lengths side by side, which the CUDA path batches); results
    /// come back in input order.
    pub fn embed_ids(
        &self,
        ids: &[Vec<u32>],
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Embedded, EmbedError> {
        let mut vectors = vec![0f32; ids.len() * self.dim];
        let (mut done, mut tokens, mut flops) = (0, 0, 0.0);
        for batch in self.length_sorted_batches(ids) {
            let seqs: Vec<&[u32]> = batch.iter().map(|&i| ids[i].as_slice()).collect();
            let pooled = self.graph.embed(&seqs)?;
            for (row, &i) in batch.iter().enumerate() {
                vectors[i * self.dim..(i + 1) * self.dim]
                    .copy_from_slice(&pooled[row * self.dim..(row + 1) * self.dim]);
            }
            done += batch.len();
            tokens += seqs.iter().map(|s| s.len()).sum::<usize>();
            flops += seqs.iter().map(|s| self.graph.flops(s.len())).sum::<f64>();
            progress(done, tokens);
        }
        Ok(Embedded {
            vectors,
            dim: self.dim,
            tokens,
            truncated: 0,
            flops,
        })
    }

    /// Indices of `ids` sorted by decreasing length and cut into batches under the token budget.
    /// The sort is stable: equal lengths keep their input order, so runs are reproducible.
    pub(crate) fn length_sorted_batches(&self, ids: &[Vec<u32>]) -> Vec<Vec<usize>> {
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(ids[i].len()));
        plan_batches(&order, ids, self.token_budget, self.max_batch)
    }

    /// Which vectors this encoder makes: its model and numeric mode, as an index records them.
    pub fn identity(&self) -> &ModelIdentity {
        &self.identity
    }

    /// Numeric mode of the vectors (f32, f16, bf16, q8).
    pub fn mode(&self) -> Mode {
        self.identity.mode
    }
}

/// Cuts `order` (indices sorted by decreasing length) into batches of at most `budget` tokens
/// (a longer sequence goes alone) and `max_batch` sequences.
fn plan_batches(
    order: &[usize],
    ids: &[Vec<u32>],
    budget: usize,
    max_batch: usize,
) -> Vec<Vec<usize>> {
    let mut batches = Vec::new();
    let mut cur: Vec<usize> = Vec::new();
    let mut tokens = 0;
    for &i in order {
        let l = ids[i].len();
        if !cur.is_empty() && (tokens + l > budget || cur.len() >= max_batch) {
            batches.push(std::mem::take(&mut cur));
            tokens = 0;
        }
        tokens += l;
        cur.push(i);
    }
    if !cur.is_empty() {
        batches.push(cur);
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_respect_budget_and_cover_everything() {
        let ids: Vec<Vec<u32>> = [500, 300, 300, 20, 20, 20, 5]
            .iter()
            .map(|&n| vec![1u32; n])
            .collect();
        let order: Vec<usize> = (0..ids.len()).collect();
        let batches = plan_batches(&order, &ids, 640, 4);
        let mut seen: Vec<usize> = batches.iter().flatten().copied().collect();
        seen.sort();
        assert_eq!(seen, (0..ids.len()).collect::<Vec<_>>());
        for b in &batches {
            let tokens: usize = b.iter().map(|&i| ids[i].len()).sum();
            assert!(b.len() == 1 || tokens <= 640, "{b:?}");
            assert!(b.len() <= 4);
        }
        assert_eq!(batches[0], vec![0]);
        assert_eq!(batches[1], vec![1, 2, 3, 4]);
    }
}
