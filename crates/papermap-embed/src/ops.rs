//! papermap's CPU kernels as candle custom ops, the pattern of candle's own `QMatMul`: the graph
//! ([`super::graph`]) applies them to CPU tensors and the op runs our kernel on their storage.
//! Most are in-place ops (`InplaceOp2`) writing into the graph's reusable activation buffers:
//! a fresh multi-megabyte output per op costs a zero-fill and a page fault per 4 KiB, which
//! measured 10 % of the forward. No CUDA body exists: on a GPU the graph uses candle's own ops.

use std::ops::Range;
use std::sync::{Mutex, PoisonError};

use candle_core::{bail, CpuStorage, CustomOp1, InplaceOp1, InplaceOp2, Layout, Shape};

/// `dst` must have exactly `rows × width` elements.
fn check_dst(dst: &[f32], rows: usize, width: usize, op: &str) -> candle_core::Result<()> {
    if dst.len() != rows * width {
        bail!(
            "{op}: output holds {} values, expected {rows} × {width}",
            dst.len()
        );
    }
    Ok(())
}

use super::kernels::{attention, bf16, elementwise, embedding, linear, q8};

/// The contiguous f32 data of a CPU tensor.
fn f32s<'a>(s: &'a CpuStorage, l: &Layout, op: &str) -> candle_core::Result<&'a [f32]> {
    let Some((a, b)) = l.contiguous_offsets() else {
        bail!("{op}: input is not contiguous")
    };
    Ok(&s.as_slice::<f32>()?[a..b])
}

/// The contiguous f32 data of a CPU tensor, mutable.
fn f32s_mut<'a>(s: &'a mut CpuStorage, l: &Layout, op: &str) -> candle_core::Result<&'a mut [f32]> {
    let Some((a, b)) = l.contiguous_offsets() else {
        bail!("{op}: input is not contiguous")
    };
    match s {
        CpuStorage::F32(v) => Ok(&mut v[a..b]),
        _ => bail!("{op}: expected f32 data"),
    }
}

/// Weights of a CPU projection.
pub(crate) enum LinearWeights {
    /// f32, packed for the register-blocked kernel.
    F32(linear::PackedLinear),
    /// int8 per output row, for the VNNI kernel.
    Q8(q8::QLinear),
    /// bf16 input pairs, for `vdpbf16ps` (or its portable twin).
    Bf16(bf16::Bf16Linear),
}

/// Scratch of a projection call (packed rows or quantised activations), shared by all layers:
/// one per projection would hold half a gigabyte at a 4k-token batch.
#[derive(Default)]
struct LinearScratch {
    panel: Vec<f32>,
    acts: q8::QActs,
    pairs: Vec<u32>,
}

/// Scratch buffers free for the next call. A call takes one out and puts it back, holding no
/// lock while it computes: a rayon thread that waits inside one forward may run another's
/// tasks, which a held lock (or a borrowed thread-local) would deadlock or panic on.
static LINEAR_SCRATCH: Mutex<Vec<LinearScratch>> = Mutex::new(Vec::new());

/// `y = epilogue(x·Wᵀ + b)` for `x` of shape `[T, in]`.
pub(crate) struct LinearOp {
    weights: LinearWeights,
    epilogue: linear::Epilogue,
}

impl LinearOp {
    /// A projection with these weights and epilogue.
    pub(crate) fn new(weights: LinearWeights, epilogue: linear::Epilogue) -> Self {
        LinearOp { weights, epilogue }
    }

    fn dims(&self) -> (usize, usize) {
        match &self.weights {
            LinearWeights::F32(p) => (p.inp(), p.out()),
            LinearWeights::Q8(q) => (q.inp(), q.out()),
            LinearWeights::Bf16(b) => (b.inp(), b.out()),
        }
    }
}

impl InplaceOp2 for LinearOp {
    fn name(&self) -> &'static str {
        "papermap-linear"
    }

    /// `dst[T, out] = epilogue(src[T, in] · Wᵀ + b)`.
    fn cpu_fwd(
        &self,
        dst: &mut CpuStorage,
        dl: &Layout,
        src: &CpuStorage,
        sl: &Layout,
    ) -> candle_core::Result<()> {
        let (inp, out) = self.dims();
        let (t, k) = sl.shape().dims2()?;
        if k != inp {
            bail!("papermap-linear: input width {k}, weights take {inp}");
        }
        let x = f32s(src, sl, self.name())?;
        let y = f32s_mut(dst, dl, self.name())?;
        check_dst(y, t, out, "papermap-linear")?;
        let pool = || {
            LINEAR_SCRATCH
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
        };
        let mut sc = pool().pop().unwrap_or_default();
        match &self.weights {
            LinearWeights::F32(p) => p.forward(x, t, y, self.epilogue, &mut sc.panel),
            LinearWeights::Q8(q) => q.forward(x, t, y, self.epilogue, &mut sc.acts),
            LinearWeights::Bf16(b) => b.forward(x, t, y, self.epilogue, &mut sc.pairs),
        }
        pool().push(sc);
        Ok(())
    }
}

/// Self-attention of each packed sequence (row range) over itself: `[T, 3h]` → `[T, h]`.
pub(crate) struct AttentionOp<'a> {
    /// Token rows of each sequence.
    pub(crate) seqs: &'a [Range<usize>],
    /// Heads.
    pub(crate) heads: usize,
    /// Width of one head.
    pub(crate) head_dim: usize,
    /// f32 or bf16 products.
    pub(crate) products: attention::Products,
}

impl InplaceOp2 for AttentionOp<'_> {
    fn name(&self) -> &'static str {
        "papermap-attention"
    }

    /// `dst[T, h]` = attention over `src[T, 3h]`.
    fn cpu_fwd(
        &self,
        dst: &mut CpuStorage,
        dl: &Layout,
        src: &CpuStorage,
        sl: &Layout,
    ) -> candle_core::Result<()> {
        let (t, w) = sl.shape().dims2()?;
        let h = self.heads * self.head_dim;
        if w != 3 * h || self.seqs.last().is_some_and(|r| r.end != t) {
            bail!("papermap-attention: input [{t}, {w}] does not fit the packing");
        }
        let qkv = f32s(src, sl, self.name())?;
        let ctx = f32s_mut(dst, dl, self.name())?;
        check_dst(ctx, t, h, "papermap-attention")?;
        attention::attention(
            self.products,
            qkv,
            self.seqs,
            self.heads,
            self.head_dim,
            ctx,
        );
        Ok(())
    }
}

/// `x = LayerNorm(x + residual)` in place (`InplaceOp2`), or `x = LayerNorm(x)` (`InplaceOp1`).
pub(crate) struct NormOp {
    /// Scale.
    pub(crate) w: Vec<f32>,
    /// Shift.
    pub(crate) b: Vec<f32>,
    /// Epsilon.
    pub(crate) eps: f32,
}

impl NormOp {
    fn run(&self, x: &mut [f32], res: Option<&[f32]>) -> candle_core::Result<()> {
        let h = self.w.len();
        if h == 0 || !x.len().is_multiple_of(h) || res.is_some_and(|r| r.len() != x.len()) {
            bail!("papermap-layer-norm: shapes do not fit a hidden size of {h}");
        }
        elementwise::layer_norm_rows(x, res, &self.w, &self.b, h, self.eps);
        Ok(())
    }
}

impl InplaceOp1 for NormOp {
    fn name(&self) -> &'static str {
        "papermap-layer-norm"
    }

    fn cpu_fwd(&self, s: &mut CpuStorage, l: &Layout) -> candle_core::Result<()> {
        self.run(f32s_mut(s, l, "papermap-layer-norm")?, None)
    }
}

impl InplaceOp2 for NormOp {
    fn name(&self) -> &'static str {
        "papermap-residual-layer-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<()> {
        let res = f32s(s2, l2, "papermap-residual-layer-norm")?;
        self.run(f32s_mut(s1, l1, "papermap-residual-layer-norm")?, Some(res))
    }
}

/// Token ids `[T]` (u32) → word + position + type-0 embeddings `[T, h]`.
pub(crate) struct EmbedOp<'a> {
    /// The memory-mapped word table.
    pub(crate) word: &'a embedding::WordTable,
    /// Position embeddings `[max_len, h]`.
    pub(crate) pos: &'a [f32],
    /// Token-type 0 embedding `[h]`.
    pub(crate) typ0: &'a [f32],
    /// Position of every packed token within its sequence.
    pub(crate) positions: &'a [u32],
}

impl InplaceOp2 for EmbedOp<'_> {
    fn name(&self) -> &'static str {
        "papermap-embed"
    }

    /// `dst[T, h]` = embeddings of the ids in `src[T]` (u32).
    fn cpu_fwd(
        &self,
        dst: &mut CpuStorage,
        dl: &Layout,
        src: &CpuStorage,
        sl: &Layout,
    ) -> candle_core::Result<()> {
        let Some((a, b)) = sl.contiguous_offsets() else {
            bail!("papermap-embed: ids are not contiguous")
        };
        let ids = &src.as_slice::<u32>()?[a..b];
        let h = self.word.h;
        let max_pos = self.pos.len() / h.max(1);
        if ids.len() != self.positions.len()
            || ids.iter().any(|&i| i as usize >= self.word.vocab)
            || self.positions.iter().any(|&p| p as usize >= max_pos)
        {
            bail!("papermap-embed: token id or position outside the model's tables");
        }
        let x = f32s_mut(dst, dl, self.name())?;
        check_dst(x, ids.len(), h, "papermap-embed")?;
        embedding::embed_tokens(self.word, self.pos, self.typ0, ids, self.positions, x);
        Ok(())
    }
}

/// Mean over each sequence's rows, L2-normalised: `[T, h]` → `[sequences, h]`.
pub(crate) struct MeanPoolOp<'a> {
    /// Token rows of each sequence.
    pub(crate) seqs: &'a [Range<usize>],
}

impl CustomOp1 for MeanPoolOp<'_> {
    fn name(&self) -> &'static str {
        "papermap-mean-pool"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (t, h) = l.shape().dims2()?;
        if self.seqs.iter().any(|r| r.end > t) {
            bail!("papermap-mean-pool: packing longer than the input");
        }
        let x = f32s(s, l, self.name())?;
        let mut out = vec![0f32; self.seqs.len() * h];
        elementwise::mean_pool_normalise(x, h, self.seqs, &mut out);
        Ok((CpuStorage::F32(out), Shape::from((self.seqs.len(), h))))
    }
}
