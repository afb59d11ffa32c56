//! The BERT encoder as one candle graph over packed tokens, for every device.
//!
//! A batch is one tensor of hidden states `[total_tokens, hidden]`, the sequences laid end to end,
//! with their row ranges beside it (flash-attention's `cu_seqlens`): no padding and no attention
//! mask exist anywhere, so nothing is computed for padding and f16/bf16 never meet a `-inf`. Each
//! layer type is one enum with per-device implementations, like candle's `QMatMul`:
//!
//! - [`Kernels::Native`] (CPU, the default there): papermap's kernels as candle custom ops
//!   ([`super::ops`]): the packed f32 or int8 VNNI projection with GELU fused into the
//!   intermediate one, attention over packed sequences, residual + LayerNorm in place, and the
//!   word table read from the memory-mapped weights file.
//! - [`Kernels::Candle`] (CUDA, and any device): candle's own ops in f32, f16 or bf16: cuBLAS
//!   matmuls, attention per run of equal-length sequences (packed sequences sorted by length
//!   form a few such runs per batch, each a batched matmul with no padding), candle's fused
//!   softmax and LayerNorm, pooling by `index_add`. On CPU this path is the reference the native
//!   kernels are tested against, since CI has no GPU.

use std::ops::Range;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use super::kernels::attention::Products;
use super::kernels::{
    bf16::Bf16Linear, embedding::WordTable, linear::Epilogue, linear::PackedLinear, q8::QLinear,
};
use super::model::Config;
use super::ops::{AttentionOp, EmbedOp, LinearOp, LinearWeights, MeanPoolOp, NormOp};
use super::pipeline::{StageClock, StageTimes};
use super::{EmbedError, Mode};

/// Which implementation the graph's layers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernels {
    /// papermap's CPU kernels as candle custom ops (CPU, f32 or q8).
    Native,
    /// candle's own tensor ops (any device and dtype; the CUDA path).
    Candle,
}

impl std::fmt::Display for Kernels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kernels::Native => "papermap kernels",
            Kernels::Candle => "candle ops",
        })
    }
}

/// How the sequences of a batch are laid end to end.
pub(crate) struct Packing {
    /// Token rows of each sequence.
    seqs: Vec<Range<usize>>,
}

impl Packing {
    /// Sequences of these lengths, in order.
    pub(crate) fn new(lens: impl IntoIterator<Item = usize>) -> Self {
        let mut at = 0;
        let seqs = lens
            .into_iter()
            .map(|l| {
                let r = at..at + l;
                at += l;
                r
            })
            .collect();
        Packing { seqs }
    }

    /// Tokens in the batch.
    fn total(&self) -> usize {
        self.seqs.last().map_or(0, |r| r.end)
    }

    /// Position of every token within its sequence.
    fn positions(&self) -> Vec<u32> {
        self.seqs.iter().flat_map(|r| 0..r.len() as u32).collect()
    }

    /// Runs of consecutive sequences of equal length, in order: (first row, sequences,
    /// length). Empty sequences form runs of length 0, so the runs cover every sequence.
    fn equal_length_runs(&self) -> Vec<(usize, usize, usize)> {
        let mut runs: Vec<(usize, usize, usize)> = Vec::new();
        for r in &self.seqs {
            match runs.last_mut() {
                Some((start, n, len)) if *len == r.len() && *start + *n * *len == r.start => {
                    *n += 1
                }
                _ => runs.push((r.start, 1, r.len())),
            }
        }
        runs
    }
}

/// Columns appended to a projection's input on the candle path: a 1 (which the bias row of the
/// weights multiplies) and zeros, so that the width stays a multiple of 8 (cuBLAS's tensor-core
/// kernels want 16-byte leading dimensions).
///
/// The bias is added inside the matrix product rather than by `broadcast_add`: candle's CUDA
/// kernel for a broadcast operand computes every element's source index with 64-bit divisions,
/// and on an H200 it ran at about 40 G elements/s (a broadcast mask over the attention scores
/// cost 17 s of 42 on 50,000 summaries); the bias adds of one layer are 3,456 elements per
/// token. The extra input columns are one plain copy of the input instead.
const BIAS_COLUMNS: usize = 8;

/// A projection `y = x·Wᵀ + b` (GELU after it for the intermediate layer).
enum Linear {
    /// A CPU kernel (f32 packed or int8) as a custom op, with its epilogue.
    Native(LinearOp),
    /// candle's matmul (cuBLAS on CUDA) of `[x | 1 0 … 0]` with `w = [W | b | 0 … 0]`
    /// ([`BIAS_COLUMNS`]).
    Candle { w: Tensor, gelu: bool },
}

impl Linear {
    /// The candle form of `x·Wᵀ + b`: `[W | b | 0 … 0]`.
    fn candle(w: &Tensor, b: &Tensor, gelu: bool) -> candle_core::Result<Linear> {
        let (out, _) = w.dims2()?;
        let zeros = Tensor::zeros((out, BIAS_COLUMNS - 1), w.dtype(), w.device())?;
        let w = Tensor::cat(&[w, &b.unsqueeze(1)?, &zeros], 1)?;
        Ok(Linear::Candle { w, gelu })
    }

    /// `x·Wᵀ + b`; the native kernel writes into `out` (a workspace buffer) and returns it; the
    /// candle path reads `ones`, the batch's `[tokens, BIAS_COLUMNS]` block of `1 0 … 0` rows.
    fn forward(
        &self,
        x: &Tensor,
        out: Option<&Tensor>,
        ones: Option<&Tensor>,
    ) -> candle_core::Result<Tensor> {
        match self {
            Linear::Native(op) => {
                let out = native_slot(out)?;
                out.inplace_op2(x, op)?;
                Ok(out.clone())
            }
            Linear::Candle { w, gelu } => {
                let ones = ones.ok_or_else(|| {
                    candle_core::Error::Msg("candle projection without its bias columns".into())
                })?;
                let y = Tensor::cat(&[x, ones], 1)?.matmul(&w.t()?)?;
                if *gelu {
                    y.gelu_erf()
                } else {
                    Ok(y)
                }
            }
        }
    }
}

/// The workspace buffer a native op writes into (always given on the native path).
fn native_slot(out: Option<&Tensor>) -> candle_core::Result<&Tensor> {
    out.ok_or_else(|| candle_core::Error::Msg("native op without an output buffer".into()))
}

/// Activation buffers of the native path, `[tokens, width]` each, kept between batches and
/// grown when a batch has more tokens.
struct Workspace {
    tokens: usize,
    x: Tensor,
    qkv: Tensor,
    ctx: Tensor,
    tmp: Tensor,
    inter: Tensor,
}

/// This batch's views of the workspace (all `None` on the candle path), and on the candle path
/// the `[tokens, BIAS_COLUMNS]` block the projections append to their input.
#[derive(Default)]
struct Slots {
    ones: Option<Tensor>,
    x: Option<Tensor>,
    qkv: Option<Tensor>,
    ctx: Option<Tensor>,
    tmp: Option<Tensor>,
    inter: Option<Tensor>,
}

/// `LayerNorm(x + residual)`.
enum Norm {
    /// In place on the CPU tensor.
    Native(NormOp),
    /// candle's fused LayerNorm.
    Candle { w: Tensor, b: Tensor, eps: f32 },
}

impl Norm {
    /// `LayerNorm(x + residual)`, or `LayerNorm(x)`; the native op writes into `x`'s storage,
    /// which the graph owns alone.
    fn forward(&self, x: Tensor, residual: Option<&Tensor>) -> candle_core::Result<Tensor> {
        match self {
            Norm::Native(op) => {
                match residual {
                    Some(r) => x.inplace_op2(r, op)?,
                    None => x.inplace_op1(op)?,
                }
                Ok(x)
            }
            Norm::Candle { w, b, eps } => {
                let x = match residual {
                    Some(r) => (x + r)?,
                    None => x,
                };
                candle_nn::ops::layer_norm(&x, w, b, *eps)
            }
        }
    }
}

/// Word + position + token type 0, then LayerNorm.
enum Embeddings {
    Native {
        word: WordTable,
        pos: Vec<f32>,
        typ0: Vec<f32>,
    },
    /// `pos` holds the position rows with token type 0 already added (one addition per
    /// batch instead of two, and no broadcast).
    Candle { word: Tensor, pos: Tensor },
}

struct Layer {
    /// Q, K and V stacked: `[3h, h]`.
    qkv: Linear,
    attn_out: Linear,
    ln1: Norm,
    /// The intermediate projection, GELU included.
    inter: Linear,
    out: Linear,
    ln2: Norm,
}

/// The encoder: weights on a device, in the form its kernels read.
pub struct BertGraph {
    kernels: Kernels,
    /// Native path only: the activation buffers free for the next batch.
    workspace: std::sync::Mutex<Option<Workspace>>,
    ffn: usize,
    device: Device,
    /// Compute dtype of the candle path.
    dtype: DType,
    heads: usize,
    head_dim: usize,
    /// What attention's products multiply on papermap's kernels: bf16 in the bf16 and q8
    /// modes (within their fidelity floors, and a third of q8's time was f32 attention).
    attention_products: Products,
    hidden: usize,
    max_len: usize,
    vocab: usize,
    embeddings: Embeddings,
    embed_norm: Norm,
    layers: Vec<Layer>,
}

/// Reads one tensor of the checkpoint with its expected shape.
fn get(vb: &VarBuilder, shape: &[usize], name: &str) -> candle_core::Result<Tensor> {
    vb.get(shape, name)
}

/// The tensor's values as f32 on the host.
fn host(t: &Tensor) -> candle_core::Result<Vec<f32>> {
    t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()
}

impl BertGraph {
    /// Loads a transformers BERT checkpoint (`model.safetensors`, names optionally under `bert.`)
    /// for `kernels` on `device` in `mode` (int8 projections run on papermap's kernels only).
    pub fn load(
        weights: &std::path::Path,
        config: &Config,
        kernels: Kernels,
        device: &Device,
        mode: Mode,
    ) -> Result<Self, EmbedError> {
        // papermap's kernels hold f32 tensors in every mode: q8 and bf16 round inside them.
        let dtype = if kernels == Kernels::Native {
            DType::F32
        } else {
            mode.dtype()
        };
        let model_err = |e: candle_core::Error| EmbedError::Weights {
            path: weights.to_path_buf(),
            source: Box::new(e),
        };
        if kernels == Kernels::Native && (!device.is_cpu() || !mode.native_on_cpu()) {
            return Err(EmbedError::Device(format!(
                "papermap's kernels run on the CPU in f32, bf16 or q8, not {mode} on {device:?}"
            )));
        }
        if mode.int8_projections() && kernels != Kernels::Native {
            return Err(EmbedError::Device(
                "q8 runs on papermap's CPU kernels only".into(),
            ));
        }
        // SAFETY: the weights file is memory-mapped read-only; papermap never writes a model
        // file in place (imports go through a temporary file and a rename).
        let vb = unsafe {
            VarBuilder::from_mmaped_safetensors(std::slice::from_ref(&weights), dtype, device)
        }
        .map_err(model_err)?;
        let prefix = if vb.contains_tensor("bert.embeddings.word_embeddings.weight") {
            "bert."
        } else {
            ""
        };
        let vb = if prefix.is_empty() { vb } else { vb.pp("bert") };
        let (h, ffn) = (config.hidden_size, config.intermediate_size);
        let eps = config.layer_norm_eps as f32;
        let e = vb.pp("embeddings");
        let norm = |vb: VarBuilder| -> candle_core::Result<Norm> {
            let (w, b) = (get(&vb, &[h], "weight")?, get(&vb, &[h], "bias")?);
            Ok(match kernels {
                Kernels::Native => Norm::Native(NormOp {
                    w: host(&w)?,
                    b: host(&b)?,
                    eps,
                }),
                Kernels::Candle => Norm::Candle { w, b, eps },
            })
        };
        let linear =
            |ws: &[Tensor], bs: &[Tensor], epilogue: Epilogue| -> candle_core::Result<Linear> {
                let w = Tensor::cat(ws, 0)?;
                let b = Tensor::cat(bs, 0)?;
                let (out, inp) = w.dims2()?;
                Ok(match kernels {
                    Kernels::Native => {
                        let (w, b) = (host(&w)?, host(&b)?);
                        let weights = match mode {
                            Mode::Q8 => LinearWeights::Q8(QLinear::new(&w, &b, out, inp)),
                            Mode::Bf16 => LinearWeights::Bf16(Bf16Linear::new(&w, &b, out, inp)),
                            _ => LinearWeights::F32(PackedLinear::new(&w, &b, out, inp)),
                        };
                        Linear::Native(LinearOp::new(weights, epilogue))
                    }
                    Kernels::Candle => Linear::candle(&w, &b, epilogue == Epilogue::BiasGelu)?,
                })
            };
        let dense =
            |vb: VarBuilder, out: usize, inp: usize| -> candle_core::Result<(Tensor, Tensor)> {
                Ok((get(&vb, &[out, inp], "weight")?, get(&vb, &[out], "bias")?))
            };
        let max_len = config.max_position_embeddings;
        let pos = get(&e.pp("position_embeddings"), &[max_len, h], "weight").map_err(model_err)?;
        let typ = get(
            &e.pp("token_type_embeddings"),
            &[config.type_vocab_size, h],
            "weight",
        )
        .map_err(model_err)?;
        let typ0 = typ.get(0).map_err(model_err)?;
        let word_name = format!("{prefix}embeddings.word_embeddings.weight");
        let (embeddings, vocab) = match kernels {
            Kernels::Native => {
                let word =
                    WordTable::open(weights, &word_name, h).map_err(|msg| EmbedError::Weights {
                        path: weights.to_path_buf(),
                        source: msg.into(),
                    })?;
                let vocab = word.vocab;
                let emb = Embeddings::Native {
                    word,
                    pos: host(&pos).map_err(model_err)?,
                    typ0: host(&typ0).map_err(model_err)?,
                };
                (emb, vocab)
            }
            Kernels::Candle => {
                let word = e
                    .pp("word_embeddings")
                    .get_unchecked("weight")
                    .map_err(model_err)?;
                let (vocab, wh) = word.dims2().map_err(model_err)?;
                if wh != h {
                    return Err(EmbedError::Weights {
                        path: weights.to_path_buf(),
                        source: format!("{word_name}: width {wh}, config says {h}").into(),
                    });
                }
                let pos = pos.broadcast_add(&typ0).map_err(model_err)?;
                (Embeddings::Candle { word, pos }, vocab)
            }
        };
        let embed_norm = norm(e.pp("LayerNorm")).map_err(model_err)?;
        let mut layers: Vec<Layer> = Vec::with_capacity(config.num_hidden_layers);
        for l in 0..config.num_hidden_layers {
            let v = vb.pp(format!("encoder.layer.{l}"));
            let a = v.pp("attention");
            let s = a.pp("self");
            let layer = (|| -> candle_core::Result<Layer> {
                let (q, k, vv) = (
                    dense(s.pp("query"), h, h)?,
                    dense(s.pp("key"), h, h)?,
                    dense(s.pp("value"), h, h)?,
                );
                let o = dense(a.pp("output").pp("dense"), h, h)?;
                let i = dense(v.pp("intermediate").pp("dense"), ffn, h)?;
                let o2 = dense(v.pp("output").pp("dense"), h, ffn)?;
                let ln1 = norm(a.pp("output").pp("LayerNorm"))?;
                Ok(Layer {
                    qkv: linear(&[q.0, k.0, vv.0], &[q.1, k.1, vv.1], Epilogue::Bias)?,
                    attn_out: linear(&[o.0], &[o.1], Epilogue::Bias)?,
                    ln1,
                    inter: linear(&[i.0], &[i.1], Epilogue::BiasGelu)?,
                    out: linear(&[o2.0], &[o2.1], Epilogue::Bias)?,
                    ln2: norm(v.pp("output").pp("LayerNorm"))?,
                })
            })()
            .map_err(model_err)?;
            layers.push(layer);
        }
        Ok(BertGraph {
            kernels,
            workspace: std::sync::Mutex::new(None),
            ffn,
            device: device.clone(),
            dtype,
            heads: config.num_attention_heads,
            head_dim: h / config.num_attention_heads,
            attention_products: match mode {
                Mode::Bf16 | Mode::Q8 => Products::bf16(),
                _ => Products::F32,
            },
            hidden: h,
            max_len,
            vocab,
            embeddings,
            embed_norm,
            layers,
        })
    }

    /// Which implementation the layers use.
    pub fn kernels(&self) -> Kernels {
        self.kernels
    }

    /// Arithmetic of one sequence of `len` tokens through the encoder: two operations per
    /// multiply-add of the projections and of attention's two products (the yardstick of the
    /// fraction-of-peak figures of docs/performance.md; element-wise work is not counted).
    pub fn flops(&self, len: usize) -> f64 {
        let (h, f, n) = (self.hidden as f64, self.ffn as f64, len as f64);
        self.layers.len() as f64 * (2.0 * n * (4.0 * h * h + 2.0 * h * f) + 4.0 * n * n * h)
    }

    /// Mean-pooled, L2-normalised vectors of `seqs` (token ids, each at most `max_len` long),
    /// row-major `[sequences, hidden]` f32 on the host.
    pub fn embed(&self, seqs: &[&[u32]]) -> Result<Vec<f32>, EmbedError> {
        let lens: Vec<usize> = seqs.iter().map(|s| s.len()).collect();
        let ids: Vec<u32> = seqs.iter().flat_map(|s| s.iter().copied()).collect();
        self.embed_packed(ids, &lens, &mut StageTimes::default())
    }

    /// [`BertGraph::embed`] of sequences laid end to end in `ids` (`lens` gives their lengths),
    /// adding the time of each stage to `times` (upload, forward, pool, download; see
    /// [`StageTimes::sync`] for what they measure on an asynchronous device).
    pub fn embed_packed(
        &self,
        ids: Vec<u32>,
        lens: &[usize],
        times: &mut StageTimes,
    ) -> Result<Vec<f32>, EmbedError> {
        if lens.iter().sum::<usize>() != ids.len() {
            return Err(EmbedError::Input(format!(
                "{} token ids for sequences of {} tokens in all",
                ids.len(),
                lens.iter().sum::<usize>()
            )));
        }
        if let Some(&long) = lens.iter().find(|&&l| l > self.max_len) {
            return Err(EmbedError::Input(format!(
                "sequence of {long} tokens exceeds the model's {}",
                self.max_len
            )));
        }
        if let Some(&bad) = ids.iter().find(|&&id| id as usize >= self.vocab) {
            return Err(EmbedError::Input(format!(
                "token id {bad} outside the vocabulary of {}",
                self.vocab
            )));
        }
        let packing = Packing::new(lens.iter().copied());
        let run = || -> candle_core::Result<Vec<f32>> {
            let sync = times.sync;
            let mut clock = StageClock::new(&self.device, sync);
            let ids = Tensor::from_vec(ids, packing.total(), &self.device)?;
            if self.kernels == Kernels::Candle {
                clock.lap(&mut times.upload_s)?;
                let t = packing.total();
                let ones = Tensor::cat(
                    &[
                        Tensor::ones((t, 1), self.dtype, &self.device)?,
                        Tensor::zeros((t, BIAS_COLUMNS - 1), self.dtype, &self.device)?,
                    ],
                    1,
                )?;
                let slots = Slots {
                    ones: Some(ones),
                    ..Slots::default()
                };
                let x = self.forward(&ids, &packing, &slots, times)?;
                clock.lap(&mut times.forward_s)?;
                let pooled = self.pool(&x, &packing)?;
                clock.lap(&mut times.pool_s)?;
                let out = pooled.flatten_all()?.to_vec1::<f32>()?;
                clock.lap(&mut times.download_s)?;
                return Ok(out);
            }
            clock.lap(&mut times.upload_s)?;
            // Taken out for the batch, not locked through it (a rayon thread waiting inside
            // this forward may run another batch's tasks); a concurrent batch makes its own.
            let lock = || {
                self.workspace
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
            };
            let mut ws = lock().take();
            let slots = self.slots(&mut ws, packing.total())?;
            let x = self.forward(&ids, &packing, &slots, times)?;
            clock.lap(&mut times.forward_s)?;
            let pooled = self.pool(&x, &packing);
            drop((x, slots));
            let mut kept = lock();
            if kept
                .as_ref()
                .is_none_or(|k| ws.as_ref().is_some_and(|w| w.tokens > k.tokens))
            {
                *kept = ws;
            }
            drop(kept);
            let pooled = pooled?;
            clock.lap(&mut times.pool_s)?;
            let out = pooled.flatten_all()?.to_vec1::<f32>()?;
            clock.lap(&mut times.download_s)?;
            Ok(out)
        };
        let out = if self.kernels == Kernels::Native {
            // The whole pass runs on a pool thread: its ~100 parallel loops then start on that
            // thread and are stolen from, instead of each being injected from the caller's
            // thread and waited for (which costs milliseconds over a single short query).
            rayon::scope(|_| run())
        } else {
            run()
        };
        times.batches += 1;
        times.sequences += lens.len();
        times.tokens += packing.total();
        out.map_err(|e| EmbedError::Forward(Box::new(e)))
    }

    /// Views of `t` rows of the workspace, growing it first if needed.
    fn slots(&self, ws: &mut Option<Workspace>, t: usize) -> candle_core::Result<Slots> {
        if ws.as_ref().is_none_or(|w| w.tokens < t) {
            let t = t.max(ws.as_ref().map_or(0, |w| w.tokens));
            let buf = |width: usize| Tensor::zeros((t, width), DType::F32, &self.device);
            let h = self.hidden;
            *ws = Some(Workspace {
                tokens: t,
                x: buf(h)?,
                qkv: buf(3 * h)?,
                ctx: buf(h)?,
                tmp: buf(h)?,
                inter: buf(self.ffn)?,
            });
        }
        let Some(w) = ws.as_ref() else {
            unreachable!("workspace created above")
        };
        let view = |b: &Tensor| b.narrow(0, 0, t).map(Some);
        Ok(Slots {
            x: view(&w.x)?,
            qkv: view(&w.qkv)?,
            ctx: view(&w.ctx)?,
            tmp: view(&w.tmp)?,
            inter: view(&w.inter)?,
            ones: None,
        })
    }

    /// Hidden states `[T, hidden]` of the packed batch.
    fn forward(
        &self,
        ids: &Tensor,
        packing: &Packing,
        s: &Slots,
        times: &mut StageTimes,
    ) -> candle_core::Result<Tensor> {
        let x = match &self.embeddings {
            Embeddings::Native { word, pos, typ0 } => {
                let x = native_slot(s.x.as_ref())?;
                x.inplace_op2(
                    ids,
                    &EmbedOp {
                        word,
                        pos,
                        typ0,
                        positions: &packing.positions(),
                    },
                )?;
                x.clone()
            }
            Embeddings::Candle { word, pos } => {
                let p = Tensor::from_vec(packing.positions(), packing.total(), &self.device)?;
                word.index_select(ids, 0)?.add(&pos.index_select(&p, 0)?)?
            }
        };
        let mut x = self.embed_norm.forward(x, None)?;
        // With `times.sync`, the device is synchronised after each part, so that each part's
        // time is its own (the `--profile` breakdown of the forward pass); without it the parts
        // are not timed (the host would only measure how long it took to queue them).
        let mut clock = times.sync.then(|| StageClock::new(&self.device, true));
        let mut lap = |slot: &mut f64| clock.as_mut().map_or(Ok(()), |c| c.lap(slot));
        lap(&mut times.embeddings_s)?;
        for l in &self.layers {
            let ones = s.ones.as_ref();
            let qkv = l.qkv.forward(&x, s.qkv.as_ref(), ones)?;
            lap(&mut times.projections_s)?;
            let ctx = self.attention(&qkv, packing, s.ctx.as_ref())?;
            lap(&mut times.attention_s)?;
            let a = l.attn_out.forward(&ctx, s.tmp.as_ref(), ones)?;
            lap(&mut times.projections_s)?;
            x = l.ln1.forward(x, Some(&a))?;
            lap(&mut times.norms_s)?;
            let i = l.inter.forward(&x, s.inter.as_ref(), ones)?;
            let f = l.out.forward(&i, s.tmp.as_ref(), ones)?;
            lap(&mut times.projections_s)?;
            x = l.ln2.forward(x, Some(&f))?;
            lap(&mut times.norms_s)?;
        }
        Ok(x)
    }

    /// Self-attention of every sequence over itself: `[T, 3h]` → `[T, h]`.
    fn attention(
        &self,
        qkv: &Tensor,
        packing: &Packing,
        out: Option<&Tensor>,
    ) -> candle_core::Result<Tensor> {
        let (nh, hd) = (self.heads, self.head_dim);
        if self.kernels == Kernels::Native {
            let out = native_slot(out)?;
            out.inplace_op2(
                qkv,
                &AttentionOp {
                    seqs: &packing.seqs,
                    heads: nh,
                    head_dim: hd,
                    products: self.attention_products,
                },
            )?;
            return Ok(out.clone());
        }
        let scale = 1.0 / (hd as f64).sqrt();
        let mut parts = Vec::new();
        for (start, n, len) in packing.equal_length_runs() {
            if len == 0 {
                continue;
            }
            let g = qkv
                .narrow(0, start, n * len)?
                .reshape((n, len, 3, nh, hd))?;
            let part = |i: usize| -> candle_core::Result<Tensor> {
                g.narrow(2, i, 1)?.squeeze(2)?.transpose(1, 2)
            };
            // The scale goes on Q (len × head_dim per head) rather than on the scores (len × len):
            // one pass over a tenth of the bytes, and it is the copy that makes Q contiguous.
            let q = part(0)?.affine(scale, 0.0)?;
            let (k, v) = (part(1)?.contiguous()?, part(2)?.contiguous()?);
            let p = candle_nn::ops::softmax_last_dim(&q.matmul(&k.t()?)?)?;
            parts.push(
                p.matmul(&v)?
                    .transpose(1, 2)?
                    .contiguous()?
                    .reshape((n * len, self.hidden))?,
            );
        }
        Tensor::cat(&parts, 0)
    }

    /// Mean over each sequence's rows, L2-normalised, in f32: `[sequences, hidden]`.
    ///
    /// On the candle path each run of equal-length sequences is one `[n, len, hidden]` sum over
    /// its middle axis: a handful of reductions per batch. (candle's CUDA `index_add`, the
    /// obvious alternative, gives each of the `hidden` output columns one thread that walks
    /// every token of the batch in turn: tens of milliseconds per batch.)
    fn pool(&self, x: &Tensor, packing: &Packing) -> candle_core::Result<Tensor> {
        if self.kernels == Kernels::Native {
            return x.apply_op1_no_bwd(&MeanPoolOp {
                seqs: &packing.seqs,
            });
        }
        let x = x.to_dtype(DType::F32)?;
        let mut parts = Vec::new();
        for (start, n, len) in packing.equal_length_runs() {
            parts.push(if len == 0 {
                Tensor::zeros((n, self.hidden), DType::F32, &self.device)?
            } else {
                x.narrow(0, start, n * len)?
                    .reshape((n, len, self.hidden))?
                    .sum(1)?
                    .affine(1.0 / len as f64, 0.0)?
            });
        }
        if parts.is_empty() {
            return Tensor::zeros((0, self.hidden), DType::F32, &self.device);
        }
        let mean = Tensor::cat(&parts, 0)?;
        let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
        mean.broadcast_div(&norm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_positions_and_equal_length_runs() {
        let p = Packing::new([3, 3, 2, 0, 2, 3]);
        assert_eq!(p.total(), 13);
        assert_eq!(p.positions(), [0, 1, 2, 0, 1, 2, 0, 1, 0, 1, 0, 1, 2]);
        // Runs are contiguous row ranges of equal lengths; the empty sequence is a run of its
        // own, so pooling gives it a (zero) row in its place.
        assert_eq!(
            p.equal_length_runs(),
            [(0, 2, 3), (6, 1, 2), (8, 1, 0), (8, 1, 2), (10, 1, 3)]
        );
    }
}
