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

use super::kernels::{embedding::WordTable, linear::Epilogue, linear::PackedLinear, q8::QLinear};
use super::model::Config;
use super::ops::{AttentionOp, EmbedOp, LinearOp, LinearWeights, MeanPoolOp, NormOp};
use super::{EmbedError, Quant};

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

    /// Runs of consecutive sequences of equal length: (first row, sequences, length).
    fn equal_length_runs(&self) -> Vec<(usize, usize, usize)> {
        let mut runs: Vec<(usize, usize, usize)> = Vec::new();
        for r in self.seqs.iter().filter(|r| !r.is_empty()) {
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

/// A projection `y = x·Wᵀ + b` (GELU after it for the intermediate layer).
enum Linear {
    /// A CPU kernel (f32 packed or int8) as a custom op, with its epilogue.
    Native(LinearOp),
    /// candle's matmul (cuBLAS on CUDA).
    Candle { w: Tensor, b: Tensor, gelu: bool },
}

impl Linear {
    /// `x·Wᵀ + b`; the native kernel writes into `out` (a workspace buffer) and returns it.
    fn forward(&self, x: &Tensor, out: Option<&Tensor>) -> candle_core::Result<Tensor> {
        match self {
            Linear::Native(op) => {
                let out = native_slot(out)?;
                out.inplace_op2(x, op)?;
                Ok(out.clone())
            }
            Linear::Candle { w, b, gelu } => {
                let y = x.matmul(&w.t()?)?.broadcast_add(b)?;
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

/// This batch's views of the workspace (all `None` on the candle path).
#[derive(Default)]
struct Slots {
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
    Candle {
        word: Tensor,
        pos: Tensor,
        typ0: Tensor,
    },
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
    heads: usize,
    head_dim: usize,
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
    /// for `kernels` on `device` in `dtype`; `quant` selects int8 projections (native only).
    pub fn load(
        weights: &std::path::Path,
        config: &Config,
        kernels: Kernels,
        device: &Device,
        dtype: DType,
        quant: Quant,
    ) -> Result<Self, EmbedError> {
        let model_err = |e: candle_core::Error| EmbedError::Weights {
            path: weights.to_path_buf(),
            source: Box::new(e),
        };
        if kernels == Kernels::Native && (!device.is_cpu() || dtype != DType::F32) {
            return Err(EmbedError::Device(format!(
                "papermap's kernels run on the CPU in f32 (or q8), not {dtype:?} on {device:?}"
            )));
        }
        if quant == Quant::Q8 && kernels != Kernels::Native {
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
                        let weights = match quant {
                            Quant::None => LinearWeights::F32(PackedLinear::new(&w, &b, out, inp)),
                            Quant::Q8 => LinearWeights::Q8(QLinear::new(&w, &b, out, inp)),
                        };
                        Linear::Native(LinearOp::new(weights, epilogue))
                    }
                    Kernels::Candle => Linear::Candle {
                        w,
                        b,
                        gelu: epilogue == Epilogue::BiasGelu,
                    },
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
                (Embeddings::Candle { word, pos, typ0 }, vocab)
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
            heads: config.num_attention_heads,
            head_dim: h / config.num_attention_heads,
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
    /// README's fraction-of-peak figures; element-wise work is not counted).
    pub fn flops(&self, len: usize) -> f64 {
        let (h, f, n) = (self.hidden as f64, self.ffn as f64, len as f64);
        self.layers.len() as f64 * (2.0 * n * (4.0 * h * h + 2.0 * h * f) + 4.0 * n * n * h)
    }

    /// Mean-pooled, L2-normalised vectors of `seqs` (token ids, each at most `max_len` long) as
    /// a `[sequences, hidden]` f32 tensor on the graph's device.
    pub fn embed(&self, seqs: &[&[u32]]) -> Result<Tensor, EmbedError> {
        for s in seqs {
            if s.len() > self.max_len {
                return Err(EmbedError::Input(format!(
                    "sequence of {} tokens exceeds the model's {}",
                    s.len(),
                    self.max_len
                )));
            }
            if let Some(&bad) = s.iter().find(|&&id| id as usize >= self.vocab) {
                return Err(EmbedError::Input(format!(
                    "token id {bad} outside the vocabulary of {}",
                    self.vocab
                )));
            }
        }
        let packing = Packing::new(seqs.iter().map(|s| s.len()));
        let ids: Vec<u32> = seqs.iter().flat_map(|s| s.iter().copied()).collect();
        let run = || -> candle_core::Result<Tensor> {
            let ids = Tensor::from_vec(ids, packing.total(), &self.device)?;
            if self.kernels == Kernels::Candle {
                let x = self.forward(&ids, &packing, &Slots::default())?;
                return self.pool(&x, &packing);
            }
            // Taken out for the batch, not locked through it (a rayon thread waiting inside
            // this forward may run another batch's tasks); a concurrent batch makes its own.
            let lock = || {
                self.workspace
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
            };
            let mut ws = lock().take();
            let slots = self.slots(&mut ws, packing.total())?;
            let x = self.forward(&ids, &packing, &slots)?;
            let pooled = self.pool(&x, &packing);
            drop((x, slots));
            let mut kept = lock();
            if kept
                .as_ref()
                .is_none_or(|k| ws.as_ref().is_some_and(|w| w.tokens > k.tokens))
            {
                *kept = ws;
            }
            pooled
        };
        let out = if self.kernels == Kernels::Native {
            // The whole pass runs on a pool thread: its ~100 parallel loops then start on that
            // thread and are stolen from, instead of each being injected from the caller's
            // thread and waited for (which costs milliseconds over a single short query).
            rayon::scope(|_| run())
        } else {
            run()
        };
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
        })
    }

    /// Hidden states `[T, hidden]` of the packed batch.
    fn forward(&self, ids: &Tensor, packing: &Packing, s: &Slots) -> candle_core::Result<Tensor> {
        let positions = packing.positions();
        let x = match &self.embeddings {
            Embeddings::Native { word, pos, typ0 } => {
                let x = native_slot(s.x.as_ref())?;
                x.inplace_op2(
                    ids,
                    &EmbedOp {
                        word,
                        pos,
                        typ0,
                        positions: &positions,
                    },
                )?;
                x.clone()
            }
            Embeddings::Candle { word, pos, typ0 } => {
                let p = Tensor::from_vec(positions, packing.total(), &self.device)?;
                word.index_select(ids, 0)?
                    .add(&pos.index_select(&p, 0)?)?
                    .broadcast_add(typ0)?
            }
        };
        let mut x = self.embed_norm.forward(x, None)?;
        for l in &self.layers {
            let qkv = l.qkv.forward(&x, s.qkv.as_ref())?;
            let ctx = self.attention(&qkv, packing, s.ctx.as_ref())?;
            let a = l.attn_out.forward(&ctx, s.tmp.as_ref())?;
            x = l.ln1.forward(x, Some(&a))?;
            let i = l.inter.forward(&x, s.inter.as_ref())?;
            let f = l.out.forward(&i, s.tmp.as_ref())?;
            x = l.ln2.forward(x, Some(&f))?;
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
                },
            )?;
            return Ok(out.clone());
        }
        let scale = 1.0 / (hd as f64).sqrt();
        let mut parts = Vec::new();
        for (start, n, len) in packing.equal_length_runs() {
            let g = qkv
                .narrow(0, start, n * len)?
                .reshape((n, len, 3, nh, hd))?;
            let part = |i: usize| -> candle_core::Result<Tensor> {
                g.narrow(2, i, 1)?.squeeze(2)?.transpose(1, 2)?.contiguous()
            };
            let (q, k, v) = (part(0)?, part(1)?, part(2)?);
            let p = candle_nn::ops::softmax_last_dim(&(q.matmul(&k.t()?)? * scale)?)?;
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
    fn pool(&self, x: &Tensor, packing: &Packing) -> candle_core::Result<Tensor> {
        if self.kernels == Kernels::Native {
            return x.apply_op1_no_bwd(&MeanPoolOp {
                seqs: &packing.seqs,
            });
        }
        let b = packing.seqs.len();
        let seq_of: Vec<u32> = packing
            .seqs
            .iter()
            .enumerate()
            .flat_map(|(i, r)| std::iter::repeat_n(i as u32, r.len()))
            .collect();
        let seq_of = Tensor::from_vec(seq_of, packing.total(), &self.device)?;
        let counts: Vec<f32> = packing.seqs.iter().map(|r| r.len().max(1) as f32).collect();
        let counts = Tensor::from_vec(counts, (b, 1), &self.device)?;
        let sums = Tensor::zeros((b, self.hidden), DType::F32, &self.device)?.index_add(
            &seq_of,
            &x.to_dtype(DType::F32)?,
            0,
        )?;
        let mean = sums.broadcast_div(&counts)?;
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
        // The empty sequence breaks nothing: runs are contiguous row ranges of equal lengths.
        assert_eq!(p.equal_length_runs(), [(0, 2, 3), (6, 2, 2), (10, 1, 3)]);
    }
}
