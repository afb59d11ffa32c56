//! Runtime CPU-feature dispatch for the element-wise loops of the CPU engines.
//!
//! The release binary targets baseline x86-64 (SSE2), so loops over `exp`, `round` and lane sums
//! compile to 4-wide code with a libm call per rounding. Compiling the same body a second time
//! inside an `avx2,fma` function lets LLVM emit 8-wide code with `vroundps` and FMA on the
//! machines that have them, without a `-C target-cpu` build that would not run elsewhere.

/// Whether the CPU has AVX2 and FMA (std caches the answer after the first call).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub fn has_avx2_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// Defines a function whose body is compiled twice, for baseline and for AVX2 + FMA, and picks
/// one at run time. Everything the body calls should be `#[inline(always)]` so it is compiled
/// with the same features.
macro_rules! multiversion {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$m])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn imp($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                imp($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            if $crate::embed::simd::has_avx2_fma() {
                // SAFETY: the CPU has avx2 and fma, checked just above.
                return unsafe { avx2($($arg),*) };
            }
            imp($($arg),*)
        }
    };
}
pub(crate) use multiversion;
