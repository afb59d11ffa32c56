//! BERT encoder as a candle graph, for CUDA (and as a CPU reference).
//!
//! candle-transformers' `BertModel` builds its additive attention mask as `(1 - mask) × f32::MIN`
//! in the compute dtype; in f16/bf16 `f32::MIN` becomes `-inf` and `0 × -inf` turns every output
//! into NaN. This graph uses a finite bias (−10⁴, far below any attention logit, exact zero for
//! real tokens), fuses Q/K/V into one matrix product, and uses candle's fused softmax and
//! LayerNorm kernels.

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Linear, VarBuilder};

/// Attention bias for padding positions: exp(−10⁴) is 0 in every float type, and −10⁴ is finite
/// in f16 and bf16.
const MASK_BIAS: f64 = -10_000.0;

struct LayerNorm {
    w: Tensor,
    b: Tensor,
    eps: f32,
}

impl LayerNorm {
    fn load(vb: VarBuilder, h: usize, eps: f32) -> candle_core::Result<Self> {
        Ok(LayerNorm {
            w: vb.get(h, "weight")?,
            b: vb.get(h, "bias")?,
            eps,
        })
    }
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        candle_nn::ops::layer_norm(x, &self.w, &self.b, self.eps)
    }
}

struct Layer {
    qkv: Linear,
    out: Linear,
    ln1: LayerNorm,
    inter: Linear,
    down: Linear,
    ln2: LayerNorm,
}

/// Configuration fields the graph needs.
#[derive(Debug, Clone, Copy)]
pub struct BertDims {
    /// Hidden size.
    pub hidden: usize,
    /// Attention heads.
    pub heads: usize,
    /// Feed-forward size.
    pub ffn: usize,
    /// Transformer layers.
    pub layers: usize,
    /// LayerNorm epsilon.
    pub eps: f32,
}

/// The encoder weights on a candle device in one dtype.
pub struct CandleBert {
    d: BertDims,
    word: Tensor,
    pos: Tensor,
    typ0: Tensor,
    eln: LayerNorm,
    layers: Vec<Layer>,
    dtype: DType,
    device: Device,
}

fn linear(vb: VarBuilder, inp: usize, out: usize) -> candle_core::Result<Linear> {
    Ok(Linear::new(
        vb.get((out, inp), "weight")?,
        Some(vb.get(out, "bias")?),
    ))
}

impl CandleBert {
    /// Loads weights named as transformers' `BertModel` (optionally under `bert.`).
    pub fn load(vb: VarBuilder, d: BertDims) -> candle_core::Result<Self> {
        let vb = if vb.contains_tensor("bert.embeddings.word_embeddings.weight") {
            vb.pp("bert")
        } else {
            vb
        };
        let h = d.hidden;
        let e = vb.pp("embeddings");
        let word = e.pp("word_embeddings").get_unchecked("weight")?;
        let pos = e.pp("position_embeddings").get_unchecked("weight")?;
        let typ = e.pp("token_type_embeddings").get_unchecked("weight")?;
        let typ0 = typ.get(0)?;
        let eln = LayerNorm::load(e.pp("LayerNorm"), h, d.eps)?;
        let mut layers = Vec::with_capacity(d.layers);
        for l in 0..d.layers {
            let v = vb.pp(format!("encoder.layer.{l}"));
            let a = v.pp("attention");
            let s = a.pp("self");
            let (q, k, vv) = (
                linear(s.pp("query"), h, h)?,
                linear(s.pp("key"), h, h)?,
                linear(s.pp("value"), h, h)?,
            );
            let w = Tensor::cat(&[q.weight(), k.weight(), vv.weight()], 0)?;
            let b = match (q.bias(), k.bias(), vv.bias()) {
                (Some(a), Some(b), Some(c)) => Some(Tensor::cat(&[a, b, c], 0)?),
                _ => None,
            };
            layers.push(Layer {
                qkv: Linear::new(w, b),
                out: linear(a.pp("output").pp("dense"), h, h)?,
                ln1: LayerNorm::load(a.pp("output").pp("LayerNorm"), h, d.eps)?,
                inter: linear(v.pp("intermediate").pp("dense"), h, d.ffn)?,
                down: linear(v.pp("output").pp("dense"), d.ffn, h)?,
                ln2: LayerNorm::load(v.pp("output").pp("LayerNorm"), h, d.eps)?,
            });
        }
        Ok(CandleBert {
            d,
            word,
            pos,
            typ0,
            eln,
            layers,
            dtype: vb.dtype(),
            device: vb.device().clone(),
        })
    }

    /// Hidden states `[B, L, H]` for padded ids `[B, L]` and a 0/1 mask `[B, L]` (f32).
    pub fn forward(&self, ids: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        let (b, l) = ids.dims2()?;
        let (h, nh) = (self.d.hidden, self.d.heads);
        let hd = h / nh;
        let positions = Tensor::arange(0u32, l as u32, &self.device)?;
        let x = self
            .word
            .index_select(&ids.flatten_all()?, 0)?
            .reshape((b, l, h))?
            .broadcast_add(&self.pos.index_select(&positions, 0)?.unsqueeze(0)?)?
            .broadcast_add(&self.typ0)?;
        let mut x = self.eln.forward(&x)?;
        // [B, 1, 1, L]: 0 for tokens, MASK_BIAS for padding.
        let bias = ((mask.to_dtype(DType::F32)? - 1.0)? * -MASK_BIAS)?
            .to_dtype(self.dtype)?
            .reshape((b, 1, 1, l))?;
        let scale = 1.0 / (hd as f64).sqrt();
        for layer in &self.layers {
            let qkv = layer.qkv.forward(&x)?.reshape((b, l, 3, nh, hd))?;
            let heads = |i: usize| -> candle_core::Result<Tensor> {
                qkv.narrow(2, i, 1)?
                    .squeeze(2)?
                    .transpose(1, 2)?
                    .contiguous()
            };
            let (q, k, v) = (heads(0)?, heads(1)?, heads(2)?);
            let scores = (q.matmul(&k.t()?)? * scale)?.broadcast_add(&bias)?;
            let probs = candle_nn::ops::softmax_last_dim(&scores)?;
            let ctx = probs
                .matmul(&v)?
                .transpose(1, 2)?
                .contiguous()?
                .reshape((b, l, h))?;
            x = layer.ln1.forward(&(layer.out.forward(&ctx)? + &x)?)?;
            let ff = layer.down.forward(&layer.inter.forward(&x)?.gelu_erf()?)?;
            x = layer.ln2.forward(&(ff + &x)?)?;
        }
        Ok(x)
    }
}

/// Reads the graph's dimensions from a transformers `config.json` value.
pub fn dims_from_config(cfg: &serde_json::Value) -> Option<BertDims> {
    let get = |k: &str| cfg[k].as_u64().map(|v| v as usize);
    Some(BertDims {
        hidden: get("hidden_size")?,
        heads: get("num_attention_heads")?,
        ffn: get("intermediate_size")?,
        layers: get("num_hidden_layers")?,
        eps: cfg["layer_norm_eps"].as_f64().unwrap_or(1e-12) as f32,
    })
}
