//! A CPU BERT forward written for throughput and latency: sequences are packed without padding,
//! each projection runs over all tokens of a batch at once with weights packed at load for a
//! register-blocked kernel ([`super::packed`], or int8 in [`super::int8`] with `--quant q8`),
//! attention runs per (sequence, head) in parallel (the `gemm` crate), and residual + LayerNorm
//! and GELU are fused row loops compiled for AVX2 where the CPU has it. candle's generic `BertModel` on CPU spends most of its time outside the matrix
//! products (padding, broadcast masks, unfused element-wise ops) and scales poorly with cores.
//!
//! The arithmetic is the same f32 model, so vectors match candle's and the reference's.

use std::path::Path;

use gemm::Parallelism;
use rayon::prelude::*;

use super::int8::{QActs, QLinear};
use super::packed::PackedLinear;
use super::simd::multiversion;
use super::{EmbedError, Quant, SharedMut};

/// Model dimensions read from `config.json`.
#[derive(Debug, Clone, Copy)]
struct Dims {
    hidden: usize,
    heads: usize,
    ffn: usize,
    eps: f32,
    max_pos: usize,
    type_vocab: usize,
}

struct Layer {
    /// Q, K and V stacked: `[3H, H]` (out × in, as stored by transformers).
    qkv: Dense,
    o: Dense,
    ln1_w: Vec<f32>,
    ln1_b: Vec<f32>,
    i: Dense,
    o2: Dense,
    ln2_w: Vec<f32>,
    ln2_b: Vec<f32>,
}

/// A projection `y = x·Wᵀ + b`, in f32 or int8.
enum Dense {
    F32(PackedLinear),
    Q8(QLinear),
}

impl Dense {
    fn new(w: Vec<f32>, b: Vec<f32>, out: usize, inp: usize, quant: Quant) -> Self {
        match quant {
            Quant::None => Dense::F32(PackedLinear::new(&w, &b, out, inp)),
            Quant::Q8 => Dense::Q8(QLinear::new(&w, &b, out, inp)),
        }
    }

    /// `y[t, out] = x[t, inp] · Wᵀ + b`.
    fn apply(&self, x: &[f32], t: usize, y: &mut [f32], acts: &mut QActs) {
        match self {
            Dense::F32(p) => p.forward(x, t, y),
            Dense::Q8(q) => q.forward(x, t, y, acts),
        }
    }
}

/// BERT encoder weights in f32 with a packed, fused CPU forward.
pub struct CpuBert {
    d: Dims,
    word: WordTable,
    vocab: usize,
    pos: Vec<f32>,
    typ: Vec<f32>,
    eln_w: Vec<f32>,
    eln_b: Vec<f32>,
    layers: Vec<Layer>,
    scratch: std::sync::Mutex<Scratch>,
}

/// Activation buffers of one forward pass, kept between batches.
#[derive(Default)]
struct Scratch {
    x: Vec<f32>,
    qkv: Vec<f32>,
    ctx: Vec<f32>,
    tmp: Vec<f32>,
    inter: Vec<f32>,
    acts: QActs,
}

/// The first `n` elements of `v`, growing it if needed; old contents are left in place, as
/// every buffer is fully written before it is read.
fn sized(v: &mut Vec<f32>, n: usize) -> &mut [f32] {
    if v.len() < n {
        v.resize(n, 0.0);
    }
    &mut v[..n]
}

/// The word-embedding table, read from the memory-mapped weights file on lookup.
struct WordTable {
    map: std::sync::Arc<memmap2::Mmap>,
    /// Byte offset of the tensor's data in the file.
    offset: usize,
    dtype: safetensors::Dtype,
    h: usize,
}

impl WordTable {
    /// Writes row `id` (checked against the vocabulary by the caller) as f32 into `out`.
    fn row(&self, id: usize, out: &mut [f32]) {
        let width = match self.dtype {
            safetensors::Dtype::F32 => 4,
            _ => 2,
        };
        let start = self.offset + id * self.h * width;
        let b = &self.map[start..start + self.h * width];
        for (o, c) in out.iter_mut().zip(b.chunks_exact(width)) {
            *o = match self.dtype {
                safetensors::Dtype::F32 => f32::from_le_bytes([c[0], c[1], c[2], c[3]]),
                safetensors::Dtype::F16 => half::f16::from_le_bytes([c[0], c[1]]).to_f32(),
                _ => half::bf16::from_le_bytes([c[0], c[1]]).to_f32(),
            };
        }
    }
}

impl CpuBert {
    /// Loads the f32 weights of a transformers BERT from `model.safetensors`, quantising the
    /// projections to int8 with [`Quant::Q8`].
    pub fn load(quant: Quant, config: &Path, weights: &Path) -> Result<Self, EmbedError> {
        let err = |p: &Path, m: String| EmbedError::Model(format!("{}: {m}", p.display()));
        let cfg: serde_json::Value =
            serde_json::from_slice(&std::fs::read(config).map_err(|e| EmbedError::Io {
                path: config.to_path_buf(),
                source: e,
            })?)
            .map_err(|e| err(config, e.to_string()))?;
        let get = |k: &str| {
            cfg[k]
                .as_u64()
                .map(|v| v as usize)
                .ok_or_else(|| err(config, format!("missing {k}")))
        };
        let act = cfg["hidden_act"].as_str().unwrap_or("gelu");
        if act != "gelu" {
            return Err(err(
                config,
                format!("hidden_act {act} not supported by the CPU engine"),
            ));
        }
        let d = Dims {
            hidden: get("hidden_size")?,
            heads: get("num_attention_heads")?,
            ffn: get("intermediate_size")?,
            eps: cfg["layer_norm_eps"].as_f64().unwrap_or(1e-12) as f32,
            max_pos: get("max_position_embeddings")?,
            type_vocab: get("type_vocab_size")?,
        };
        let n_layers = get("num_hidden_layers")?;
        if d.heads == 0 || !d.hidden.is_multiple_of(d.heads) {
            return Err(err(config, "hidden size not divisible by heads".into()));
        }
        let io = |e| EmbedError::Io {
            path: weights.to_path_buf(),
            source: e,
        };
        let file = std::fs::File::open(weights).map_err(io)?;
        // SAFETY: mapped read-only; papermap never rewrites a model file in place (imports write
        // a temporary file and rename it), so the mapping cannot change under us.
        let map = std::sync::Arc::new(unsafe { memmap2::Mmap::map(&file) }.map_err(io)?);
        let bytes: &[u8] = &map;
        let st = safetensors::SafeTensors::deserialize(bytes)
            .map_err(|e| err(weights, e.to_string()))?;
        // Checkpoints may prefix names with the model type (`bert.`); accept both.
        let prefix = if st.names().iter().any(|n| n.starts_with("bert.")) {
            "bert."
        } else {
            ""
        };
        let tensor = |name: &str, want: &[usize]| -> Result<Vec<f32>, EmbedError> {
            let full = format!("{prefix}{name}");
            let t = st
                .tensor(&full)
                .map_err(|e| err(weights, format!("{full}: {e}")))?;
            if t.shape() != want {
                return Err(err(
                    weights,
                    format!("{full}: shape {:?}, expected {want:?}", t.shape()),
                ));
            }
            match t.dtype() {
                safetensors::Dtype::F32 => Ok(t
                    .data()
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect()),
                safetensors::Dtype::F16 => Ok(t
                    .data()
                    .chunks_exact(2)
                    .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                    .collect()),
                safetensors::Dtype::BF16 => Ok(t
                    .data()
                    .chunks_exact(2)
                    .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                    .collect()),
                other => Err(err(
                    weights,
                    format!("{full}: dtype {other:?} not supported"),
                )),
            }
        };
        let h = d.hidden;
        let word_t = st
            .tensor(&format!("{prefix}embeddings.word_embeddings.weight"))
            .map_err(|e| err(weights, e.to_string()))?;
        let vocab = word_t.shape().first().copied().unwrap_or(0);
        // The word table is 3/4 of the model (250k × 384) but a batch reads a few hundred rows:
        // it stays in the mapping and rows are decoded on lookup, so it costs page cache, not
        // 380 MB of private memory.
        if word_t.shape() != [vocab, h] {
            return Err(err(
                weights,
                format!("word embeddings: shape {:?}", word_t.shape()),
            ));
        }
        let word = WordTable {
            map: map.clone(),
            offset: word_t.data().as_ptr() as usize - bytes.as_ptr() as usize,
            dtype: word_t.dtype(),
            h,
        };
        if !matches!(
            word.dtype,
            safetensors::Dtype::F32 | safetensors::Dtype::F16 | safetensors::Dtype::BF16
        ) {
            return Err(err(
                weights,
                format!("word embeddings: dtype {:?} not supported", word.dtype),
            ));
        }
        let pos = tensor("embeddings.position_embeddings.weight", &[d.max_pos, h])?;
        let typ = tensor(
            "embeddings.token_type_embeddings.weight",
            &[d.type_vocab, h],
        )?;
        let eln_w = tensor("embeddings.LayerNorm.weight", &[h])?;
        let eln_b = tensor("embeddings.LayerNorm.bias", &[h])?;
        let mut layers = Vec::with_capacity(n_layers);
        for l in 0..n_layers {
            let p = format!("encoder.layer.{l}.");
            let lin = |n: &str, o: usize, i: usize| -> Result<(Vec<f32>, Vec<f32>), EmbedError> {
                Ok((
                    tensor(&format!("{p}{n}.weight"), &[o, i])?,
                    tensor(&format!("{p}{n}.bias"), &[o])?,
                ))
            };
            let (wq, bq) = lin("attention.self.query", h, h)?;
            let (wk, bk) = lin("attention.self.key", h, h)?;
            let (wv, bv) = lin("attention.self.value", h, h)?;
            let (wo, bo) = lin("attention.output.dense", h, h)?;
            let (wi, bi) = lin("intermediate.dense", d.ffn, h)?;
            let (wo2, bo2) = lin("output.dense", h, d.ffn)?;
            layers.push(Layer {
                qkv: Dense::new(
                    [wq, wk, wv].concat(),
                    [bq, bk, bv].concat(),
                    3 * h,
                    h,
                    quant,
                ),
                o: Dense::new(wo, bo, h, h, quant),
                ln1_w: tensor(&format!("{p}attention.output.LayerNorm.weight"), &[h])?,
                ln1_b: tensor(&format!("{p}attention.output.LayerNorm.bias"), &[h])?,
                i: Dense::new(wi, bi, d.ffn, h, quant),
                o2: Dense::new(wo2, bo2, h, d.ffn, quant),
                ln2_w: tensor(&format!("{p}output.LayerNorm.weight"), &[h])?,
                ln2_b: tensor(&format!("{p}output.LayerNorm.bias"), &[h])?,
            });
        }
        Ok(CpuBert {
            d,
            word,
            vocab,
            pos,
            typ,
            eln_w,
            eln_b,
            layers,
            scratch: Default::default(),
        })
    }

    /// Hidden size, i.e. the output dimension.
    pub fn dim(&self) -> usize {
        self.d.hidden
    }

    /// Maximum sequence length.
    pub fn max_len(&self) -> usize {
        self.d.max_pos
    }

    /// Mean-pooled, L2-normalised vectors of `seqs` (each at most `max_len` ids), row-major.
    pub fn forward(&self, seqs: &[&[u32]]) -> Result<Vec<f32>, EmbedError> {
        // The whole pass runs on a pool thread: its ~100 parallel loops then start on that
        // thread and are stolen from, instead of each being injected from the caller's thread and
        // waited for (which costs milliseconds over a single short query).
        rayon::scope(|_| self.forward_in_pool(seqs))
    }

    fn forward_in_pool(&self, seqs: &[&[u32]]) -> Result<Vec<f32>, EmbedError> {
        let h = self.d.hidden;
        let offsets: Vec<usize> = seqs
            .iter()
            .scan(0, |acc, s| {
                let o = *acc;
                *acc += s.len();
                Some(o)
            })
            .collect();
        let t: usize = seqs.iter().map(|s| s.len()).sum();
        for s in seqs {
            if s.len() > self.d.max_pos {
                return Err(EmbedError::Model(format!(
                    "sequence of {} tokens exceeds the model's {}",
                    s.len(),
                    self.d.max_pos
                )));
            }
            if let Some(&bad) = s.iter().find(|&&id| id as usize >= self.vocab) {
                return Err(EmbedError::Model(format!(
                    "token id {bad} outside vocabulary"
                )));
            }
        }
        // Reused across batches: fresh multi-megabyte buffers cost a page fault per 4 KiB.
        let mut guard = self
            .scratch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Scratch {
            x,
            qkv,
            ctx,
            tmp,
            inter,
            acts,
        } = &mut *guard;
        let x = sized(x, t * h);
        // Embeddings: word + position + type 0, then LayerNorm.
        for (s, &o) in seqs.iter().zip(&offsets) {
            for (p, &id) in s.iter().enumerate() {
                let row = &mut x[(o + p) * h..(o + p + 1) * h];
                self.word.row(id as usize, row);
                let ps = &self.pos[p * h..(p + 1) * h];
                for j in 0..h {
                    row[j] += ps[j] + self.typ[j];
                }
            }
        }
        layer_norm_rows(x, None, &self.eln_w, &self.eln_b, h, self.d.eps);

        let qkv = sized(qkv, t * 3 * h);
        let ctx = sized(ctx, t * h);
        let tmp = sized(tmp, t * h);
        let inter = sized(inter, t * self.d.ffn);
        for l in &self.layers {
            l.qkv.apply(x, t, qkv, acts);
            self.attention(qkv, seqs, &offsets, ctx);
            l.o.apply(ctx, t, tmp, acts);
            layer_norm_rows(x, Some(tmp), &l.ln1_w, &l.ln1_b, h, self.d.eps);
            l.i.apply(x, t, inter, acts);
            inter.par_chunks_mut(4096).for_each(gelu_slice);
            l.o2.apply(inter, t, tmp, acts);
            layer_norm_rows(x, Some(tmp), &l.ln2_w, &l.ln2_b, h, self.d.eps);
        }

        let mut out = vec![0f32; seqs.len() * h];
        out.par_chunks_mut(h).enumerate().for_each(|(i, o)| {
            let (start, len) = (offsets[i], seqs[i].len());
            if len == 0 {
                return;
            }
            let mut acc = vec![0f64; h];
            for r in start..start + len {
                for (a, v) in acc.iter_mut().zip(&x[r * h..(r + 1) * h]) {
                    *a += *v as f64;
                }
            }
            let norm = acc.iter().map(|a| a * a).sum::<f64>().sqrt().max(1e-12);
            for (o, a) in o.iter_mut().zip(&acc) {
                *o = (a / norm) as f32;
            }
        });
        Ok(out)
    }

    /// Multi-head self-attention of every sequence over itself; writes `[T, H]` into `ctx`.
    fn attention(&self, qkv: &[f32], seqs: &[&[u32]], offsets: &[usize], ctx: &mut [f32]) {
        let h = self.d.hidden;
        let nh = self.d.heads;
        let hd = h / nh;
        let scale = 1.0 / (hd as f32).sqrt();
        let stride = 3 * h;
        let ctx_ptr = SharedMut(ctx.as_mut_ptr());
        let jobs: Vec<(usize, usize)> = (0..seqs.len())
            .flat_map(|s| (0..nh).map(move |head| (s, head)))
            .collect();
        jobs.par_iter()
            .for_each_init(Vec::new, |scores: &mut Vec<f32>, &(s, head)| {
                let (o, len) = (offsets[s], seqs[s].len());
                if len == 0 {
                    return;
                }
                if len <= SHORT_SEQ {
                    short_attention(
                        qkv,
                        o,
                        len,
                        head * hd,
                        hd,
                        h,
                        scale,
                        scores,
                        &mut |i, row| {
                            // SAFETY: row o+i, columns of this head: a ctx block no other job
                            // writes.
                            unsafe {
                                std::ptr::copy_nonoverlapping(
                                    row.as_ptr(),
                                    ctx_ptr.ptr().add((o + i) * h + head * hd),
                                    hd,
                                );
                            }
                        },
                    );
                    return;
                }
                scores.resize(len * len, 0.0);
                let q = qkv[o * stride + head * hd..].as_ptr();
                let k = qkv[o * stride + h + head * hd..].as_ptr();
                let v = qkv[o * stride + 2 * h + head * hd..].as_ptr();
                // SAFETY: all pointers address rows o..o+len of qkv (and of ctx) with the given
                // strides, which lie inside the buffers; ctx blocks of different jobs are disjoint.
                unsafe {
                    gemm::gemm(
                        len,
                        len,
                        hd,
                        scores.as_mut_ptr(),
                        1,
                        len as isize,
                        false,
                        q,
                        1,
                        stride as isize,
                        k,
                        stride as isize,
                        1,
                        0.0,
                        scale,
                        false,
                        false,
                        false,
                        Parallelism::None,
                    );
                }
                softmax_rows(scores, len);
                unsafe {
                    gemm::gemm(
                        len,
                        hd,
                        len,
                        ctx_ptr.ptr().add(o * h + head * hd),
                        1,
                        h as isize,
                        false,
                        scores.as_ptr(),
                        1,
                        len as isize,
                        v,
                        1,
                        stride as isize,
                        0.0,
                        1.0,
                        false,
                        false,
                        false,
                        Parallelism::None,
                    );
                }
            });
    }
}

/// Sequences up to this length take [`short_attention`]: plain loops beat two GEMM calls, whose
/// set-up costs more than the arithmetic at this size (a search query is ~25 tokens).
const SHORT_SEQ: usize = 64;

multiversion! {
/// One head of attention over a short sequence: `softmax(q·kᵀ·scale)·v` for rows `o..o+len` of
/// `qkv` (`[T, 3h]`), columns `col..col+hd` of each of Q, K, V. Sizes `scratch` and writes row
/// `i` of the result through `emit(i, row)`.
///
/// Both products run as 4 rows × 8 lanes of accumulators over the reduction index, with K
/// copied transposed: each step is one 8-lane load and four broadcast FMAs on independent
/// registers. A dot product per (query, key) pair ends each 32-wide product with a horizontal
/// sum, and accumulating in place through memory waits on store forwarding every step.
#[allow(clippy::too_many_arguments)]
fn short_attention(
    qkv: &[f32],
    o: usize,
    len: usize,
    col: usize,
    hd: usize,
    h: usize,
    scale: f32,
    scratch: &mut Vec<f32>,
    emit: &mut dyn FnMut(usize, &[f32]),
) {
    let stride = 3 * h;
    let (rows, len8, hd8) = (len.div_ceil(4) * 4, len.div_ceil(8) * 8, hd.div_ceil(8) * 8);
    scratch.clear();
    scratch.resize(rows * hd + hd * len8 + rows * len8 + rows * hd8, 0.0);
    let (qs, rest) = scratch.split_at_mut(rows * hd);
    let (kt, rest) = rest.split_at_mut(hd * len8);
    let (scores, out) = rest.split_at_mut(rows * len8);
    for i in 0..len {
        let base = (o + i) * stride + col;
        for (d, (q, (&qv, &k))) in qs[i * hd..(i + 1) * hd]
            .iter_mut()
            .zip(qkv[base..base + hd].iter().zip(&qkv[base + h..base + h + hd]))
            .enumerate()
        {
            *q = scale * qv;
            kt[d * len8 + i] = k;
        }
    }
    for i0 in (0..len).step_by(4) {
        for c in (0..len8).step_by(8) {
            let mut acc = [[0f32; 8]; 4];
            for d in 0..hd {
                let k = &kt[d * len8 + c..][..8];
                for (r, a) in acc.iter_mut().enumerate() {
                    let q = qs[(i0 + r) * hd + d];
                    for (x, &kv) in a.iter_mut().zip(k) {
                        *x = q.mul_add(kv, *x);
                    }
                }
            }
            for (r, a) in acc.iter().enumerate() {
                scores[(i0 + r) * len8 + c..(i0 + r) * len8 + c + 8].copy_from_slice(a);
            }
        }
    }
    for i in 0..len {
        // Padding columns are pushed to exp(-87) ≈ 1e-38 so the row softmax runs in full
        // 8-lane steps; the products below stop at `len`, and 1e-38 vanishes in the sum.
        let row = &mut scores[i * len8..(i + 1) * len8];
        row[len..].fill(-1e30);
        softmax(row);
    }
    for i0 in (0..len).step_by(4) {
        for c in (0..hd).step_by(8) {
            let w = (hd - c).min(8);
            let mut acc = [[0f32; 8]; 4];
            for j in 0..len {
                let vb = (o + j) * stride + 2 * h + col + c;
                let mut v = [0f32; 8];
                if w == 8 {
                    v.copy_from_slice(&qkv[vb..vb + 8]);
                } else {
                    v[..w].copy_from_slice(&qkv[vb..vb + w]);
                }
                for (r, a) in acc.iter_mut().enumerate() {
                    let p = scores[(i0 + r) * len8 + j];
                    for (x, &vv) in a.iter_mut().zip(&v) {
                        *x = p.mul_add(vv, *x);
                    }
                }
            }
            for (r, a) in acc.iter().enumerate() {
                out[(i0 + r) * hd8 + c..(i0 + r) * hd8 + c + 8].copy_from_slice(a);
            }
        }
    }
    for i in 0..len {
        emit(i, &out[i * hd8..i * hd8 + hd]);
    }
}
}

/// `x = LayerNorm(x + residual)` row by row, in place.
fn layer_norm_rows(
    x: &mut [f32],
    residual: Option<&[f32]>,
    w: &[f32],
    b: &[f32],
    h: usize,
    eps: f32,
) {
    let one = |(r, row): (usize, &mut [f32])| {
        let res = residual.map(|res| &res[r * h..(r + 1) * h]);
        layer_norm_row(row, res, w, b, eps);
    };
    // A query's few dozen rows take microseconds: less than handing half to another thread.
    if x.len() < 64 * h {
        x.chunks_mut(h).enumerate().for_each(one);
    } else {
        x.par_chunks_mut(h)
            .enumerate()
            .with_min_len(16)
            .for_each(one);
    }
}

multiversion! {
/// One row of [`layer_norm_rows`]. Statistics in f64 over 8 lanes: the lanes let the loops
/// vectorise, f64 keeps the mean and variance as exact as the reference's.
fn layer_norm_row(row: &mut [f32], res: Option<&[f32]>, w: &[f32], b: &[f32], eps: f32) {
    if let Some(res) = res {
        for (v, a) in row.iter_mut().zip(res) {
            *v += *a;
        }
    }
    let h = row.len();
    let mean = lane_sum(row, |v| v as f64) / h as f64;
    let var = lane_sum(row, |v| (v as f64 - mean) * (v as f64 - mean)) / h as f64;
    let inv = 1.0 / (var + eps as f64).sqrt();
    for ((v, g), bb) in row.iter_mut().zip(w).zip(b) {
        *v = ((*v as f64 - mean) * inv) as f32 * g + bb;
    }
}
}

/// `Σ f(v)` in f64 with 8 independent accumulators (a single running sum cannot vectorise).
#[inline(always)]
fn lane_sum(row: &[f32], f: impl Fn(f32) -> f64) -> f64 {
    let mut acc = [0f64; 8];
    let chunks = row.chunks_exact(8);
    let tail: f64 = chunks.remainder().iter().map(|&v| f(v)).sum();
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += f(v);
        }
    }
    acc.iter().sum::<f64>() + tail
}

multiversion! {
/// Softmax of every `len`-long row of `scores`, in place.
fn softmax_rows(scores: &mut [f32], len: usize) {
    // Plain loops, not `for_each`: its `fold` may stay out of line, compiled without AVX2.
    for row in scores.chunks_exact_mut(len) {
        softmax(row);
    }
}
}

multiversion! {
/// Exact-erf GELU over a slice, in place.
fn gelu_slice(c: &mut [f32]) {
    for v in c.iter_mut() {
        *v = gelu_erf(*v);
    }
}
}

/// Softmax of one attention row, in place, with lane-wise max and sum so it vectorises.
#[inline(always)]
fn softmax(row: &mut [f32]) {
    let mut mx = [f32::NEG_INFINITY; 8];
    let chunks = row.chunks_exact(8);
    let tail_max = chunks
        .remainder()
        .iter()
        .fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m });
    for c in chunks {
        for (m, &v) in mx.iter_mut().zip(c) {
            // Not f32::max: its NaN rule keeps the loop scalar; scores are never NaN.
            *m = if v > *m { v } else { *m };
        }
    }
    let max = mx.iter().fold(tail_max, |m, &v| if v > m { v } else { m });
    let mut acc = [0f32; 8];
    let mut chunks = row.chunks_exact_mut(8);
    for c in &mut chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *v = exp_f32(*v - max);
            *a += *v;
        }
    }
    let mut sum = acc.iter().sum::<f32>();
    for v in chunks.into_remainder() {
        *v = exp_f32(*v - max);
        sum += *v;
    }
    let inv = 1.0 / sum;
    for v in row.iter_mut() {
        *v *= inv;
    }
}

/// `e^x` for f32, branch-free so loops over it vectorise (libm's `expf` is a call per element).
/// Cephes-style: x = n·ln2 + r with |r| ≤ ln2/2, e^r by a degree-6 polynomial, 2^n through the
/// exponent bits. Rounding uses the 1.5·2²³ trick, which also leaves n in the low mantissa bits:
/// no float-to-int conversion, whose saturating semantics keep loops scalar.
/// Relative error below 2e-7 over the range softmax and GELU use.
#[inline(always)]
fn exp_f32(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 · 2^23
    let x = x.clamp(-87.0, 88.0);
    let j = x * std::f32::consts::LOG2_E + MAGIC;
    let n = j - MAGIC;
    let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (0.166_666_67
                    + r * (0.041_666_58 + r * (0.008_333_452 + r * 0.001_388_89)))));
    // j's bits are 0x4B40_0000 + n; shifting by 23 keeps exactly (n + 127) << 23.
    p * f32::from_bits(j.to_bits().wrapping_add(127) << 23)
}

/// GELU with the exact error function, as BERT's `gelu` (not the tanh approximation).
/// erf by Abramowitz & Stegun 7.1.26 refined to |error| < 1.5e-7, with the vectorisable exp.
#[inline(always)]
fn gelu_erf(x: f32) -> f32 {
    let z = (x * std::f32::consts::FRAC_1_SQRT_2).abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152_1 + t * 1.061_405_4))));
    let erf_abs = 1.0 - poly * exp_f32(-z * z);
    let erf = if x < 0.0 { -erf_abs } else { erf_abs };
    0.5 * x * (1.0 + erf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_and_gelu_match_libm() {
        let mut worst_exp = 0f64;
        let mut worst_gelu = 0f64;
        for i in -20000..=20000 {
            let x = i as f32 / 1000.0;
            let e = libm::exp(x as f64);
            worst_exp = worst_exp.max(((exp_f32(x) as f64 - e) / e).abs());
            let g = 0.5 * x as f64 * (1.0 + libm::erf(x as f64 / std::f64::consts::SQRT_2));
            worst_gelu = worst_gelu.max((gelu_erf(x) as f64 - g).abs());
        }
        assert!(worst_exp < 5e-7, "exp relative error {worst_exp}");
        assert!(worst_gelu < 5e-6, "gelu absolute error {worst_gelu}");
    }

    #[test]
    fn short_attention_equals_the_plain_formula() {
        let mut s = 11u64;
        let mut rnd = || 2.0 * crate::embed::test_lcg(&mut s);
        // (len, hd, heads): query lengths around the 4-row and 8-column steps, a head width
        // that is not a multiple of 8, and the longest sequence the short path takes.
        for &(len, hd, nh) in &[
            (1, 32, 2),
            (5, 32, 3),
            (28, 32, 12),
            (9, 12, 2),
            (SHORT_SEQ, 32, 2),
        ] {
            let h = hd * nh;
            let o = 3; // rows before the sequence, as in a packed batch
            let qkv: Vec<f32> = (0..(o + len) * 3 * h).map(|_| rnd()).collect();
            let scale = 1.0 / (hd as f32).sqrt();
            let at = |i: usize, part: usize, head: usize, d: usize| {
                qkv[(o + i) * 3 * h + part * h + head * hd + d] as f64
            };
            let mut scratch = Vec::new();
            for head in 0..nh {
                let mut got = vec![f32::NAN; len * hd];
                short_attention(
                    &qkv,
                    o,
                    len,
                    head * hd,
                    hd,
                    h,
                    scale,
                    &mut scratch,
                    &mut |i, row| got[i * hd..(i + 1) * hd].copy_from_slice(row),
                );
                for i in 0..len {
                    let sc: Vec<f64> = (0..len)
                        .map(|j| {
                            (0..hd)
                                .map(|d| at(i, 0, head, d) * at(j, 1, head, d))
                                .sum::<f64>()
                                * scale as f64
                        })
                        .collect();
                    let mx = sc.iter().cloned().fold(f64::MIN, f64::max);
                    let e: Vec<f64> = sc.iter().map(|v| (v - mx).exp()).collect();
                    let sum: f64 = e.iter().sum();
                    for d in 0..hd {
                        let want: f64 = (0..len).map(|j| e[j] / sum * at(j, 2, head, d)).sum();
                        let g = got[i * hd + d] as f64;
                        assert!(
                            (g - want).abs() < 1e-5,
                            "len {len} hd {hd} head {head} ({i},{d}): {g} vs {want}"
                        );
                    }
                }
            }
        }
    }
}
