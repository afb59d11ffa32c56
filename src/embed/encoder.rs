//! Tokenise, batch by length under a token budget, run the BERT forward, mean-pool, normalise.

use super::candle_bert::{dims_from_config, CandleBert};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use tokenizers::Tokenizer;

use super::{EmbedError, ModelFiles};

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
    /// Tokens fed to the model (after truncation, specials included, padding excluded).
    pub tokens: usize,
    /// Inputs longer than the model's maximum that were cut.
    pub truncated: usize,
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

/// Which implementation runs the forward pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// papermap's packed CPU forward ([`super::cpu`]): the default on CPU.
    Fast,
    /// A candle graph ([`super::candle_bert`]) on any candle device: CUDA, or CPU as a reference.
    Candle,
}

impl std::str::FromStr for Engine {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "fast" => Ok(Engine::Fast),
            "candle" => Ok(Engine::Candle),
            _ => Err(format!("unknown engine {s:?}: use fast or candle")),
        }
    }
}

enum Backend {
    Candle(CandleBert),
    Fast(Box<super::cpu::CpuBert>),
}

/// A loaded sentence encoder: tokenizer + BERT on a device.
pub struct Encoder {
    backend: Backend,
    tokenizer: Tokenizer,
    device: Device,
    /// Output dimension (hidden size).
    pub dim: usize,
    /// Maximum sequence length in tokens, specials included.
    pub max_len: usize,
    /// Upper bound on `batch size × padded length` per forward pass.
    pub token_budget: usize,
    /// Upper bound on sequences per forward pass.
    pub max_batch: usize,
    dtype: DType,
    quant: Quant,
}

/// Weight quantisation of the fast CPU engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Quant {
    /// Full-precision weights and activations.
    #[default]
    None,
    /// Int8 weights (per output row) and activations (per token) in the projections; attention,
    /// LayerNorm and pooling stay f32.
    Q8,
}

impl std::str::FromStr for Quant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" | "f32" => Ok(Quant::None),
            "q8" => Ok(Quant::Q8),
            _ => Err(format!("unknown quantisation {s:?}: use q8 or none")),
        }
    }
}

impl Encoder {
    /// Loads config, tokenizer and f32 weights onto `device`, with the fast engine on CPU.
    pub fn load(files: &ModelFiles, device: Device) -> Result<Self, EmbedError> {
        let engine = if device.is_cpu() {
            Engine::Fast
        } else {
            Engine::Candle
        };
        Self::load_with(files, device, engine, DType::F32)
    }

    /// Loads with an explicit engine (the fast engine runs on CPU only) and compute dtype
    /// (f16/bf16 are for the candle engine on CUDA; pooling is always done in f32).
    pub fn load_with(
        files: &ModelFiles,
        device: Device,
        engine: Engine,
        dtype: DType,
    ) -> Result<Self, EmbedError> {
        Self::load_quantised(files, device, engine, dtype, Quant::None)
    }

    /// As [`Encoder::load_with`], with int8 projections when `quant` is [`Quant::Q8`] (fast
    /// engine only).
    pub fn load_quantised(
        files: &ModelFiles,
        device: Device,
        engine: Engine,
        dtype: DType,
        quant: Quant,
    ) -> Result<Self, EmbedError> {
        if quant == Quant::Q8 && engine != Engine::Fast {
            return Err(EmbedError::Device(
                "--quant q8 runs on the fast CPU engine only".into(),
            ));
        }
        if engine == Engine::Fast && dtype != DType::F32 {
            return Err(EmbedError::Device(format!(
                "the fast CPU engine computes in f32, not {dtype:?}"
            )));
        }
        let io = |p: &std::path::Path, e| EmbedError::Io {
            path: p.to_path_buf(),
            source: e,
        };
        let cfg_text = std::fs::read_to_string(&files.config).map_err(|e| io(&files.config, e))?;
        let config: serde_json::Value = serde_json::from_str(&cfg_text)
            .map_err(|e| EmbedError::Model(format!("{}: {e}", files.config.display())))?;
        let bad_config = |what: &str| {
            EmbedError::Model(format!(
                "{}: {what} missing or invalid",
                files.config.display()
            ))
        };
        let dims = dims_from_config(&config).ok_or_else(|| bad_config("BERT dimensions"))?;
        let max_len = config["max_position_embeddings"]
            .as_u64()
            .ok_or_else(|| bad_config("max_position_embeddings"))? as usize;
        let tokenizer = Tokenizer::from_file(&files.tokenizer)
            .map_err(|e| EmbedError::Tokenizer(format!("{}: {e}", files.tokenizer.display())))?;
        let backend =
            match engine {
                Engine::Fast if !device.is_cpu() => {
                    return Err(EmbedError::Device(
                        "the fast engine runs on CPU only; use --engine candle with CUDA".into(),
                    ))
                }
                Engine::Fast => Backend::Fast(Box::new(super::cpu::CpuBert::load(
                    quant,
                    &files.config,
                    &files.weights,
                )?)),
                Engine::Candle => {
                    // SAFETY: the weights file is memory-mapped read-only; papermap never writes a
                    // model file in place (imports go through a temporary file and a rename).
                    let vb = unsafe {
                        VarBuilder::from_mmaped_safetensors(
                            std::slice::from_ref(&files.weights),
                            dtype,
                            &device,
                        )
                    }
                    .map_err(|e| EmbedError::Model(format!("{}: {e}", files.weights.display())))?;
                    Backend::Candle(CandleBert::load(vb, dims).map_err(|e| {
                        EmbedError::Model(format!("{}: {e}", files.weights.display()))
                    })?)
                }
            };
        let (token_budget, max_batch) = if device.is_cpu() {
            (8 * 1024, 256)
        } else {
            (64 * 1024, 2048)
        };
        Ok(Encoder {
            backend,
            tokenizer,
            device,
            dim: dims.hidden,
            max_len,
            token_budget,
            max_batch,
            dtype,
            quant,
        })
    }

    /// The device the model runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Token ids of each prefixed input, truncated to `max_len` (the last id stays `</s>`, as
    /// transformers' truncation keeps the specials). Returns the ids and how many were cut.
    pub fn tokenize(
        &self,
        texts: &[String],
        prefix: Prefix,
    ) -> Result<(Vec<Vec<u32>>, usize), EmbedError> {
        let inputs: Vec<String> = texts
            .iter()
            .map(|t| format!("{}{}", prefix.as_str(), t))
            .collect();
        // One text (a search query) is encoded on this thread: encode_batch hands even a
        // single input to the rayon pool, a wake-up that costs more than the encoding.
        let encs = if inputs.len() == 1 {
            let one = inputs.into_iter().next().unwrap_or_default();
            vec![self
                .tokenizer
                .encode(one, true)
                .map_err(|e| EmbedError::Tokenizer(e.to_string()))?]
        } else {
            self.tokenizer
                .encode_batch(inputs, true)
                .map_err(|e| EmbedError::Tokenizer(e.to_string()))?
        };
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

    /// Embeds pre-tokenised sequences. Sequences are sorted by length and cut into batches under
    /// the token budget, so padding stays small; results come back in input order.
    pub fn embed_ids(
        &self,
        ids: &[Vec<u32>],
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Embedded, EmbedError> {
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(ids[i].len()));
        let mut vectors = vec![0f32; ids.len() * self.dim];
        let (mut done, mut tokens) = (0, 0);
        for batch in plan_batches(&order, ids, self.token_budget, self.max_batch) {
            let seqs: Vec<&[u32]> = batch.iter().map(|&i| ids[i].as_slice()).collect();
            let pooled = self.forward(&seqs)?;
            for (row, &i) in batch.iter().enumerate() {
                vectors[i * self.dim..(i + 1) * self.dim]
                    .copy_from_slice(&pooled[row * self.dim..(row + 1) * self.dim]);
            }
            done += batch.len();
            tokens += seqs.iter().map(|s| s.len()).sum::<usize>();
            progress(done, tokens);
        }
        Ok(Embedded {
            vectors,
            dim: self.dim,
            tokens,
            truncated: 0,
        })
    }

    /// Numeric mode of the vectors, as recorded in index manifests (`f32`, `f16`, `bf16`, `q8`).
    pub fn precision(&self) -> &'static str {
        if self.quant == Quant::Q8 {
            return "q8";
        }
        match self.dtype {
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            _ => "f32",
        }
    }

    /// Which engine runs the forward pass.
    pub fn engine(&self) -> Engine {
        match self.backend {
            Backend::Candle(_) => Engine::Candle,
            Backend::Fast(_) => Engine::Fast,
        }
    }

    /// One forward pass; returns `[batch, dim]` pooled, normalised vectors.
    fn forward(&self, seqs: &[&[u32]]) -> Result<Vec<f32>, EmbedError> {
        let model = match &self.backend {
            Backend::Fast(m) => return m.forward(seqs),
            Backend::Candle(m) => m,
        };
        let b = seqs.len();
        let len = seqs.iter().map(|s| s.len()).max().unwrap_or(0).max(1);
        let mut flat = vec![0u32; b * len];
        let mut mask = vec![0f32; b * len];
        for (r, s) in seqs.iter().enumerate() {
            flat[r * len..r * len + s.len()].copy_from_slice(s);
            mask[r * len..r * len + s.len()].fill(1.0);
        }
        let input = Tensor::from_vec(flat, (b, len), &self.device)?;
        let mask = Tensor::from_vec(mask, (b, len), &self.device)?;
        let hidden = model.forward(&input, &mask)?;
        let pooled = mean_pool_normalise(&hidden.to_dtype(DType::F32)?, &mask)?;
        Ok(pooled
            .to_dtype(DType::F32)?
            .flatten_all()?
            .to_vec1::<f32>()?)
    }
}

/// Mean over the unmasked positions, then L2 normalisation.
fn mean_pool_normalise(hidden: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
    let mask = mask.to_dtype(hidden.dtype())?;
    let summed = hidden.broadcast_mul(&mask.unsqueeze(2)?)?.sum(1)?;
    let counts = mask.sum_keepdim(1)?;
    let mean = summed.broadcast_div(&counts)?;
    let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?;
    mean.broadcast_div(&norm)
}

/// Cuts `order` (indices sorted by decreasing length) into batches whose padded size
/// (`count × longest`) stays within `budget`, at most `max_batch` long.
fn plan_batches(
    order: &[usize],
    ids: &[Vec<u32>],
    budget: usize,
    max_batch: usize,
) -> Vec<Vec<usize>> {
    let mut batches = Vec::new();
    let mut cur: Vec<usize> = Vec::new();
    let mut longest = 0;
    for &i in order {
        let l = ids[i].len().max(1);
        let new_longest = longest.max(l);
        if !cur.is_empty() && (new_longest * (cur.len() + 1) > budget || cur.len() >= max_batch) {
            batches.push(std::mem::take(&mut cur));
            longest = 0;
        }
        longest = longest.max(l);
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
            let longest = b.iter().map(|&i| ids[i].len()).max().unwrap_or(0);
            assert!(b.len() == 1 || longest * b.len() <= 640, "{b:?}");
            assert!(b.len() <= 4);
        }
        assert_eq!(batches[0], vec![0]);
    }
}
