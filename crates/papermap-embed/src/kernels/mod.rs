//! The CPU kernels behind the graph's custom ops ([`super::ops`]): packed f32 projections, int8
//! VNNI projections, attention over packed sequences, LayerNorm, GELU and pooling.
//!
//! Each kernel has an AVX-512 (or AVX2) body picked at run time and a portable one, and all of
//! them sum in the same order, so a vector does not depend on the machine that computed it
//! (tests check the bits). Crate-private: the rest of papermap reaches them through candle.
//!
//! Unsafe code here is raw-pointer access to buffers that parallel tasks share and SIMD
//! intrinsics behind run-time feature checks. Every `unsafe fn` states its contract under
//! `# Safety` and checks it with `debug_assert!`s at its entry, so a debug test run catches a
//! violation; every unsafe operation sits in its own `unsafe` block with the reason it holds.

#![deny(unsafe_op_in_unsafe_fn)]

pub(crate) mod attention;
pub(crate) mod bf16;
pub(crate) mod elementwise;
pub(crate) mod embedding;
pub(crate) mod linear;
pub mod mapped;
pub(crate) mod q8;
pub mod scan;

/// The widest SIMD instruction set the kernels use on this CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Isa {
    /// AVX-512 F (with AVX2 + FMA).
    Avx512,
    /// AVX2 + FMA.
    Avx2,
    /// Plain Rust.
    Portable,
}

impl Isa {
    /// The fastest instruction set this CPU has.
    pub(crate) fn best() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if has_avx512() {
                return Isa::Avx512;
            }
            if has_avx2_fma() {
                return Isa::Avx2;
            }
        }
        Isa::Portable
    }

    /// Whether this CPU runs `self`: the condition under which a kernel may enter its
    /// `#[target_feature]` body (a cached atomic load after the first call).
    pub(crate) fn available(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => has_avx512(),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => has_avx2_fma(),
            Isa::Portable => true,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// Every instruction set this CPU runs, fastest first.
    #[cfg(test)]
    pub(crate) fn usable() -> Vec<Isa> {
        [Isa::Avx512, Isa::Avx2, Isa::Portable]
            .into_iter()
            .filter(|i| i.available())
            .collect()
    }
}

/// Whether the CPU has AVX2 and FMA (std caches the answer after the first call).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub fn has_avx2_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// How bf16 products run on this CPU when it has no AVX512_BF16 (`None` when it has): an
/// emulation with the same bits, slower than f32.
pub fn bf16_emulation() -> Option<&'static str> {
    match bf16::Kernel::best() {
        bf16::Kernel::Native => None,
        bf16::Kernel::Emulated => Some("an AVX-512 emulation (the same vectors) at about 0.7x f32"),
        bf16::Kernel::Portable => {
            Some("a portable loop (the same vectors), several times slower than f32")
        }
    }
}

/// Whether the CPU has AVX-512 F besides AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub fn has_avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx512f") && has_avx2_fma()
}

/// Defines a function whose body is compiled three times, for baseline x86-64, AVX2 + FMA and
/// AVX-512, and picks one at run time. The release binary targets baseline x86-64 (SSE2), so
/// loops over `exp`, `round` and lane sums otherwise compile to 4-wide code with a libm call per
/// rounding, without a `-C target-cpu` build that would not run elsewhere. Everything the body
/// calls should be `#[inline(always)]` so it is compiled with the same features.
#[macro_export]
#[doc(hidden)]
macro_rules! multiversion {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$m])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn imp($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx2,fma")]
            fn avx512($($arg: $ty),*) $(-> $ret)? {
                imp($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            fn avx2($($arg: $ty),*) $(-> $ret)? {
                imp($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            {
                if $crate::kernels::has_avx512() {
                    // SAFETY: the CPU has avx512f, avx2 and fma, checked just above.
                    return unsafe { avx512($($arg),*) };
                }
                if $crate::kernels::has_avx2_fma() {
                    // SAFETY: the CPU has avx2 and fma, checked just above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            imp($($arg),*)
        }
    };
}
#[doc(hidden)]
pub use multiversion;

/// A mutable f32 buffer shared by rayon tasks that each write a region no other task touches
/// (attention heads, projection tiles). It keeps the buffer's length so that every access can
/// be checked against it in debug builds, and borrows the buffer for `'a` so no task can outlive
/// it.
#[derive(Clone, Copy)]
pub(crate) struct SharedMut<'a> {
    ptr: *mut f32,
    len: usize,
    _buf: std::marker::PhantomData<&'a mut [f32]>,
}
// SAFETY: the wrapper is only a pointer into a `&'a mut [f32]` held for 'a; sending it to another
// thread is sound because every user gives each task a region no other task reads or writes.
unsafe impl Send for SharedMut<'_> {}
// SAFETY: as for Send: shared references only hand out the pointer, and the regions written
// through it by different tasks are disjoint.
unsafe impl Sync for SharedMut<'_> {}

impl<'a> SharedMut<'a> {
    /// Shares `buf` for the duration of its borrow.
    pub(crate) fn new(buf: &'a mut [f32]) -> Self {
        SharedMut {
            ptr: buf.as_mut_ptr(),
            len: buf.len(),
            _buf: std::marker::PhantomData,
        }
    }

    /// The pointer; a method call makes closures capture the whole (Send) wrapper.
    #[inline(always)]
    pub(crate) fn ptr(self) -> *mut f32 {
        self.ptr
    }

    /// Elements in the buffer.
    #[inline(always)]
    pub(crate) fn len(self) -> usize {
        self.len
    }

    /// Elements `start..start + n` as a slice.
    ///
    /// # Safety
    /// `start + n <= self.len()`, and while the slice lives no other task or reference reads or
    /// writes those elements.
    #[inline(always)]
    pub(crate) unsafe fn slice_mut(self, start: usize, n: usize) -> &'a mut [f32] {
        debug_assert!(
            start + n <= self.len,
            "SharedMut: {start} + {n} > {}",
            self.len
        );
        // SAFETY: in bounds of the borrowed buffer and exclusive to the caller (contract).
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), n) }
    }
}

/// Work split of a projection over `t` token rows and `blocks` output blocks: tiles of `tm` rows
/// × `per` blocks, as `(row range, block range)`. A short input is split over its outputs so every
/// core gets work; a long one over rows (4 block groups, for balance at the end).
pub(crate) fn projection_tiles(
    t: usize,
    blocks: usize,
    tm: usize,
) -> Vec<(std::ops::Range<usize>, std::ops::Range<usize>)> {
    let per = if t <= tm {
        blocks.div_ceil(rayon::current_num_threads() * 2).max(1)
    } else {
        blocks.div_ceil(4).max(1)
    };
    (0..t.div_ceil(tm))
        .flat_map(|r| {
            (0..blocks)
                .step_by(per)
                .map(move |b| (r * tm..((r + 1) * tm).min(t), b..(b + per).min(blocks)))
        })
        .collect()
}

/// `out[r, c] = a[r] · b[c]` for row-major `a` (`rows × dim`) and `b` (`cols × dim`).
pub fn matmul_t(a: &[f32], rows: usize, b: &[f32], cols: usize, dim: usize, out: &mut [f32]) {
    assert!(a.len() >= rows * dim && b.len() >= cols * dim && out.len() >= rows * cols);
    // SAFETY: the assert above bounds every access gemm makes with these strides.
    unsafe {
        gemm::gemm(
            rows,
            cols,
            dim,
            out.as_mut_ptr(),
            1,
            cols as isize,
            false,
            a.as_ptr(),
            1,
            dim as isize,
            b.as_ptr(),
            dim as isize,
            1,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}
