//! The CPU's arithmetic peak, measured: f32 FMA, bf16 dot and int8 VNNI throughput on every core, the
//! yardsticks for the "fraction of peak" figures of `papermap embed` (docs/performance.md).
//!
//! Each thread runs 24 independent accumulator chains (enough to cover the FMA latency of every
//! core of this decade) of the widest instruction the CPU has: `vfmadd231ps` on 512 or 256 bits,
//! `vdpbf16ps` and `vpdpbusd` on 512 bits. No memory is touched inside the loop, so this is the compute roof.
//!
//! `cargo bench --bench peak` (all cores) or `-- --threads N`.

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    const CHAINS: usize = 24;

    #[target_feature(enable = "avx512f")]
    pub fn fma512(iters: u64) -> f32 {
        let mut a = [_mm512_set1_ps(1.0); CHAINS];
        let x = _mm512_set1_ps(0.999_999);
        let y = _mm512_set1_ps(1e-7);
        for _ in 0..iters {
            for v in a.iter_mut() {
                *v = _mm512_fmadd_ps(*v, x, y);
            }
        }
        let mut s = _mm512_setzero_ps();
        for v in a {
            s = _mm512_add_ps(s, v);
        }
        _mm512_reduce_add_ps(s)
    }

    #[target_feature(enable = "avx2,fma")]
    pub fn fma256(iters: u64) -> f32 {
        let mut a = [_mm256_set1_ps(1.0); 12];
        let x = _mm256_set1_ps(0.999_999);
        let y = _mm256_set1_ps(1e-7);
        for _ in 0..iters {
            for v in a.iter_mut() {
                *v = _mm256_fmadd_ps(*v, x, y);
            }
        }
        let mut out = [0f32; 8];
        let s = a
            .iter()
            .fold(_mm256_setzero_ps(), |s, v| _mm256_add_ps(s, *v));
        // SAFETY: `out` holds 8 floats.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), s) };
        out.iter().sum()
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub fn vnni512(iters: u64) -> i32 {
        let mut a = [_mm512_set1_epi32(1); CHAINS];
        let x = _mm512_set1_epi8(3);
        let y = _mm512_set1_epi8(-2);
        for _ in 0..iters {
            for v in a.iter_mut() {
                *v = _mm512_dpbusd_epi32(*v, x, y);
            }
        }
        a.iter()
            .fold(0, |s, v| s.wrapping_add(_mm512_reduce_add_epi32(*v)))
    }

    #[target_feature(enable = "avx512f,avx512bf16")]
    pub fn bf16dp512(iters: u64) -> f32 {
        let mut a = [_mm512_set1_ps(1.0); CHAINS];
        // SAFETY: __m512i and __m512bh are both 64 bytes of lanes.
        let (x, y) = unsafe {
            (
                std::mem::transmute::<__m512i, __m512bh>(_mm512_set1_epi16(0x3f80)),
                std::mem::transmute::<__m512i, __m512bh>(_mm512_set1_epi16(0x3380)),
            )
        };
        for _ in 0..iters {
            for v in a.iter_mut() {
                *v = _mm512_dpbf16_ps(*v, x, y);
            }
        }
        let mut s = _mm512_setzero_ps();
        for v in a {
            s = _mm512_add_ps(s, v);
        }
        _mm512_reduce_add_ps(s)
    }

    /// A peak kernel: name, operations per iteration per thread, the loop.
    pub type Kernel = (&'static str, f64, fn(u64) -> f64);

    /// The kernels this CPU runs.
    pub fn kernels() -> Vec<Kernel> {
        let mut k: Vec<Kernel> = Vec::new();
        if is_x86_feature_detected!("avx512f") {
            // SAFETY (every kernel below): the CPU has its features, checked here.
            k.push(("f32 FMA, 512-bit", (CHAINS * 16 * 2) as f64, |n| unsafe {
                fma512(n) as f64
            }));
        } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            k.push(("f32 FMA, 256-bit", (12 * 8 * 2) as f64, |n| unsafe {
                fma256(n) as f64
            }));
        }
        if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bf16") {
            k.push((
                "bf16 dot (vdpbf16ps)",
                (CHAINS * 32 * 2) as f64,
                |n| unsafe { bf16dp512(n) as f64 },
            ));
        }
        if is_x86_feature_detected!("avx512vnni") && is_x86_feature_detected!("avx512bw") {
            k.push((
                "int8 VNNI (vpdpbusd)",
                (CHAINS * 64 * 2) as f64,
                |n| unsafe { vnni512(n) as f64 },
            ));
        }
        k
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let threads = args
        .iter()
        .position(|a| a == "--threads")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    #[cfg(target_arch = "x86_64")]
    for (name, ops, kernel) in x86::kernels() {
        let iters = 20_000_000u64;
        let mut best = 0f64;
        for _ in 0..3 {
            let t = std::time::Instant::now();
            let hs: Vec<_> = (0..threads)
                .map(|_| std::thread::spawn(move || kernel(iters)))
                .collect();
            for h in hs {
                std::hint::black_box(h.join().unwrap_or(0.0));
            }
            best = best.max(threads as f64 * iters as f64 * ops / t.elapsed().as_secs_f64());
        }
        println!(
            "peak {name}: {:.1} G{}/s on {threads} threads (best of 3)",
            best / 1e9,
            if name.starts_with("int8") {
                "OP"
            } else {
                "FLOP"
            }
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    println!("peak: only x86-64 kernels are measured ({threads} threads)");
}
