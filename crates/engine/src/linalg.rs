//! Dense linear algebra shared by the models and the training engine: the matrix product
//! behind the convolution ops (`model::convops`) and the fused engines (`train::fused`,
//! `train::fused_conv`), and which instruction set the engine's own kernels may use. Sits
//! below both, so neither has to reach into the other for it.
//!
//! Products on one thread (the fused engines' per-thread products) run on faer's x86 kernels
//! (the `private-gemm-x86` crate faer itself multiplies with) where the CPU has AVX2 and FMA,
//! since on the dense engine's layer shapes they measured faster than `gemm` with AVX2 and
//! with AVX-512 alike (`examples/gemmprobe.rs --layers`); everything else runs on `gemm`.
//! `BOTTLENECK_MATMUL=gemm` sends every product to `gemm` (for comparisons).

use std::sync::OnceLock;

/// Let the product run on one thread (the caller already splits the work across threads).
pub const SERIAL: gemm::Parallelism = gemm::Parallelism::None;

/// Whether the AVX-512 builds run: the CPU has AVX-512F and the `avx512` feature (default) is
/// on. Without the feature the engine runs its AVX2 path on any CPU.
#[inline]
pub fn avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        cfg!(feature = "avx512") && std::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// The instruction set the engine's kernels run on here: "avx512", "avx2" or "baseline".
pub fn isa() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if avx512() {
            return "avx512";
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            return "avx2";
        }
    }
    "baseline"
}

/// The library behind a matrix product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// The `gemm` crate (candle's matrix product).
    Gemm,
    /// faer's x86 kernels (`private-gemm-x86`), AVX2 or AVX-512 as [`avx512`] says.
    Faer,
}

impl Kernel {
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Gemm => "gemm",
            Kernel::Faer => "faer",
        }
    }

    /// Whether this kernel runs on this CPU.
    pub fn available(self) -> bool {
        match self {
            Kernel::Gemm => true,
            Kernel::Faer => isa() != "baseline",
        }
    }
}

/// The kernel for products on one thread: faer's where it runs, unless `BOTTLENECK_MATMUL`
/// says `gemm`.
pub fn serial_kernel() -> Kernel {
    static CHOICE: OnceLock<Kernel> = OnceLock::new();
    *CHOICE.get_or_init(|| {
        let forced = std::env::var("BOTTLENECK_MATMUL").is_ok_and(|v| v == "gemm");
        if !forced && Kernel::Faer.available() {
            Kernel::Faer
        } else {
            Kernel::Gemm
        }
    })
}

#[allow(clippy::too_many_arguments)]
/// `c[m×n] = a·b` (or `c += a·b` when `accumulate`), row-major, where `a` is `[m×k]` (or its
/// transpose is stored, `a_t`) and `b` is `[k×n]` (or transposed, `b_t`). On one thread
/// ([`SERIAL`]) by [`serial_kernel`], otherwise by `gemm` with `parallelism`.
pub fn matmul(
    m: usize,
    n: usize,
    k: usize,
    c: &mut [f32],
    a: &[f32],
    a_t: bool,
    b: &[f32],
    b_t: bool,
    accumulate: bool,
    parallelism: gemm::Parallelism,
) {
    // faer itself leaves products this small to other code; so does this.
    let kernel = if matches!(parallelism, gemm::Parallelism::None) && m * n * k > 16 * 16 * 16 {
        serial_kernel()
    } else {
        Kernel::Gemm
    };
    matmul_by(kernel, m, n, k, c, a, a_t, b, b_t, accumulate, parallelism);
}

#[allow(clippy::too_many_arguments)]
/// [`matmul`] by the given kernel (`parallelism` applies to `gemm`; faer's runs on one thread).
pub fn matmul_by(
    kernel: Kernel,
    m: usize,
    n: usize,
    k: usize,
    c: &mut [f32],
    a: &[f32],
    a_t: bool,
    b: &[f32],
    b_t: bool,
    accumulate: bool,
    parallelism: gemm::Parallelism,
) {
    let faer = (kernel == Kernel::Faer && Kernel::Faer.available()).then(avx512);
    product(faer, m, n, k, c, a, a_t, b, b_t, accumulate, parallelism);
}

#[allow(clippy::too_many_arguments)]
/// [`matmul`] on one thread by faer's kernels with their AVX-512 set or their AVX2 set
/// whatever the build's `avx512` feature says (`examples/gemmprobe` compares them). Panics
/// if the CPU lacks what is asked for.
pub fn matmul_faer(
    with_avx512: bool,
    m: usize,
    n: usize,
    k: usize,
    c: &mut [f32],
    a: &[f32],
    a_t: bool,
    b: &[f32],
    b_t: bool,
    accumulate: bool,
) {
    #[cfg(target_arch = "x86_64")]
    let has =
        Kernel::Faer.available() && (!with_avx512 || std::is_x86_feature_detected!("avx512f"));
    #[cfg(not(target_arch = "x86_64"))]
    let has = false;
    assert!(has, "this CPU cannot run faer's kernels as asked");
    product(
        Some(with_avx512),
        m,
        n,
        k,
        c,
        a,
        a_t,
        b,
        b_t,
        accumulate,
        SERIAL,
    );
}

#[allow(clippy::too_many_arguments)]
/// The product by faer's kernels (`Some(with_avx512)`, the CPU checked by the caller) or by
/// gemm (`None`).
fn product(
    faer: Option<bool>,
    m: usize,
    n: usize,
    k: usize,
    c: &mut [f32],
    a: &[f32],
    a_t: bool,
    b: &[f32],
    b_t: bool,
    accumulate: bool,
    parallelism: gemm::Parallelism,
) {
    assert!(c.len() >= m * n && a.len() >= m * k && b.len() >= k * n);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c[..m * n].fill(0.0);
        }
        return;
    }
    let (a_rs, a_cs) = if a_t {
        (1, m as isize)
    } else {
        (k as isize, 1)
    };
    let (b_rs, b_cs) = if b_t {
        (1, k as isize)
    } else {
        (n as isize, 1)
    };
    #[cfg(target_arch = "x86_64")]
    if let Some(with_avx512) = faer {
        use private_gemm_x86 as pg;
        let instr = if with_avx512 {
            pg::InstrSet::Avx512
        } else {
            pg::InstrSet::Avx256
        };
        let one = 1f32;
        // SAFETY: as for gemm below (strides in elements; the kernel multiplies them by the
        // element size); `alpha` points at an f32 that outlives the call; the CPU has the
        // instructions `instr` names (checked by the callers: `matmul_by`, `matmul_faer`).
        unsafe {
            pg::gemm(
                pg::DType::F32,
                pg::IType::U64,
                instr,
                m,
                n,
                k,
                c.as_mut_ptr() as *mut (),
                n as isize,
                1,
                std::ptr::null(),
                std::ptr::null(),
                pg::DstKind::Full,
                if accumulate {
                    pg::Accum::Add
                } else {
                    pg::Accum::Replace
                },
                a.as_ptr() as *const (),
                a_rs,
                a_cs,
                false,
                std::ptr::null(),
                0,
                b.as_ptr() as *const (),
                b_rs,
                b_cs,
                false,
                &raw const one as *const (),
                1,
            );
        }
        return;
    }
    // SAFETY: the asserts above bound every index gemm touches: rows/columns of a, b and c
    // with the given strides stay inside the slices, and c does not alias a or b (distinct
    // borrows).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `c = a·b` (plus `c` when accumulating) the slow way, in f64.
    #[allow(clippy::too_many_arguments)]
    fn reference(
        m: usize,
        n: usize,
        k: usize,
        c: &[f32],
        a: &[f32],
        a_t: bool,
        b: &[f32],
        b_t: bool,
        accumulate: bool,
    ) -> Vec<f32> {
        let mut out = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = if accumulate { c[i * n + j] as f64 } else { 0.0 };
                for l in 0..k {
                    let x = if a_t { a[l * m + i] } else { a[i * k + l] };
                    let y = if b_t { b[j * k + l] } else { b[l * n + j] };
                    s += x as f64 * y as f64;
                }
                out[i * n + j] = s as f32;
            }
        }
        out
    }

    /// Every kernel this CPU runs gives the product, in every storage layout, replacing and
    /// accumulating, on the dense engine's shapes, odd shapes and tiny ones.
    #[test]
    fn every_kernel_multiplies_in_every_layout() {
        let shapes = [
            (128, 784, 256),
            (256, 128, 128),
            (128, 32, 128),
            (37, 69, 5),
            (1, 300, 17),
            (300, 1, 33),
            (3, 2, 1),
        ];
        for kernel in [Kernel::Gemm, Kernel::Faer] {
            if !kernel.available() {
                continue;
            }
            for &(m, n, k) in &shapes {
                let a: Vec<f32> = (0..m * k)
                    .map(|i| ((i * 7919) % 23) as f32 / 23.0 - 0.4)
                    .collect();
                let b: Vec<f32> = (0..k * n)
                    .map(|i| ((i * 104_729) % 19) as f32 / 19.0 - 0.6)
                    .collect();
                let c0: Vec<f32> = (0..m * n).map(|i| (i % 5) as f32 - 2.0).collect();
                for (a_t, b_t, acc) in (0..8).map(|i| (i & 1 == 1, i & 2 == 2, i & 4 == 4)) {
                    let mut c = c0.clone();
                    matmul_by(kernel, m, n, k, &mut c, &a, a_t, &b, b_t, acc, SERIAL);
                    let want = reference(m, n, k, &c0, &a, a_t, &b, b_t, acc);
                    let worst = c
                        .iter()
                        .zip(&want)
                        .map(|(x, y)| (x - y).abs())
                        .fold(0f32, f32::max);
                    assert!(
                        worst < 1e-4 * k as f32,
                        "{} {m}x{n}x{k} a_t={a_t} b_t={b_t} accumulate={acc}: off by {worst}",
                        kernel.name()
                    );
                }
            }
        }
    }
}
