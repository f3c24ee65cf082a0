//! Times the matrix products of the dense engine's layers (one thread, 128 rows: one thread's
//! half of a batch of 256) in every storage layout, beside a large square product: which
//! layout of a weight keeps its products fast, and how `gemm` compares with faer's x86
//! kernels (private-gemm-x86) with their AVX2 and their AVX-512 set (NaN where the CPU lacks
//! AVX-512). `--layers`: each layer's three products together, in both weight layouts.
//!   cargo run --release -p bottleneck-engine --example gemmprobe [--no-default-features]
use bottleneck_engine::linalg::{matmul_by, matmul_faer, Kernel, SERIAL};
use std::time::Instant;

#[derive(Clone, Copy, PartialEq)]
enum Lib {
    Gemm,
    Faer256,
    Faer512,
}

/// `c[m×n] = a·b` with `a`/`b` stored transposed as asked, by `lib`.
#[allow(clippy::too_many_arguments)]
fn product(
    lib: Lib,
    m: usize,
    n: usize,
    k: usize,
    c: &mut [f32],
    a: &[f32],
    a_t: bool,
    b: &[f32],
    b_t: bool,
) {
    if lib == Lib::Gemm {
        matmul_by(Kernel::Gemm, m, n, k, c, a, a_t, b, b_t, false, SERIAL);
        return;
    }
    matmul_faer(lib == Lib::Faer512, m, n, k, c, a, a_t, b, b_t, false);
}

/// Whether this CPU runs `lib`.
fn runs(lib: Lib) -> bool {
    #[cfg(target_arch = "x86_64")]
    let avx512 = std::is_x86_feature_detected!("avx512f");
    #[cfg(not(target_arch = "x86_64"))]
    let avx512 = false;
    match lib {
        Lib::Gemm => true,
        Lib::Faer256 => Kernel::Faer.available(),
        Lib::Faer512 => Kernel::Faer.available() && avx512,
    }
}

/// Best of 5 rounds; returns GFLOP/s.
fn time(lib: Lib, m: usize, n: usize, k: usize, a_t: bool, b_t: bool) -> f64 {
    if !runs(lib) {
        return f64::NAN;
    }
    let a: Vec<f32> = (0..m * k).map(|i| (i % 13) as f32 * 0.01).collect();
    let b: Vec<f32> = (0..k * n).map(|i| (i % 7) as f32 * 0.01).collect();
    let mut c = vec![0f32; m * n];
    let mut want = vec![0f32; m * n];
    product(Lib::Gemm, m, n, k, &mut want, &a, a_t, &b, b_t);
    let reps = (1e9 / (2.0 * (m * n * k) as f64)).max(3.0) as usize;
    let mut best = f64::MAX;
    for _ in 0..5 {
        let s = Instant::now();
        for _ in 0..reps {
            product(lib, m, n, k, &mut c, &a, a_t, &b, b_t);
        }
        best = best.min(s.elapsed().as_secs_f64() / reps as f64);
    }
    let err = c
        .iter()
        .zip(&want)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(err < 1e-3, "results differ by {err}");
    2.0 * (m * n * k) as f64 / best / 1e9
}

/// Microseconds for one product, median of `rounds` timings of `reps` calls each.
#[allow(clippy::too_many_arguments)]
fn micros(lib: Lib, m: usize, n: usize, k: usize, a_t: bool, b_t: bool, reps: usize) -> f64 {
    let a: Vec<f32> = (0..m * k).map(|i| (i % 13) as f32 * 0.01).collect();
    let b: Vec<f32> = (0..k * n).map(|i| (i % 7) as f32 * 0.01).collect();
    let mut c = vec![0f32; m * n];
    let s = Instant::now();
    for _ in 0..reps {
        product(lib, m, n, k, &mut c, &a, a_t, &b, b_t);
    }
    s.elapsed().as_secs_f64() * 1e6 / reps as f64
}

/// A layer `input -> output` on 128 rows: the forward product, the weight gradient and the
/// input gradient, with the weight stored `[output, input]` (as candle) or transposed.
fn layer_micros(lib: Lib, input: usize, output: usize, transposed: bool, reps: usize) -> f64 {
    if !runs(lib) {
        return f64::NAN;
    }
    let r = 128;
    if transposed {
        micros(lib, r, output, input, false, false, reps)
            + micros(lib, input, output, r, true, false, reps)
            + micros(lib, r, input, output, false, true, reps)
    } else {
        micros(lib, r, output, input, false, true, reps)
            + micros(lib, output, input, r, true, false, reps)
            + micros(lib, r, input, output, false, false, reps)
    }
}

fn layers() {
    let libs = [
        (Lib::Gemm, "gemm"),
        (Lib::Faer256, "faer-avx2"),
        (Lib::Faer512, "faer-avx512"),
    ];
    println!("per layer, 128 rows: forward + weight gradient + input gradient, µs (median of 15 alternating rounds)");
    for (input, output) in [
        (256usize, 128usize),
        (128, 32),
        (32, 128),
        (128, 256),
        (256, 784),
    ] {
        let mut t = vec![Vec::new(); 6];
        for _ in 0..15 {
            for (li, &(lib, _)) in libs.iter().enumerate() {
                for (ti, tr) in [false, true].into_iter().enumerate() {
                    t[li * 2 + ti].push(layer_micros(lib, input, output, tr, 20));
                }
            }
        }
        let med = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let mut line = format!("{input:4}->{output:<4}");
        for (li, &(_, name)) in libs.iter().enumerate() {
            line += &format!(
                "  {name} [O,I] {:6.1} [I,O] {:6.1}",
                med(&mut t[li * 2]),
                med(&mut t[li * 2 + 1])
            );
        }
        println!("{line}");
    }
}

fn row(name: &str, m: usize, n: usize, k: usize, a_t: bool, b_t: bool) {
    let libs = [Lib::Gemm, Lib::Faer256, Lib::Faer512];
    let g: Vec<f64> = libs.iter().map(|&l| time(l, m, n, k, a_t, b_t)).collect();
    println!(
        "{name:18} {m:5}x{n:5}x{k:5} a_t={a_t:5} b_t={b_t:5}  gemm {:6.1}  faer-avx2 {:6.1}  faer-avx512 {:6.1} GFLOP/s",
        g[0], g[1], g[2]
    );
}

fn main() {
    println!(
        "gemm built {} AVX-512",
        if cfg!(feature = "avx512") {
            "with"
        } else {
            "without"
        }
    );
    if std::env::args().any(|a| a == "--layers") {
        layers();
        return;
    }
    let rows = 128;
    row("square", 1024, 1024, 1024, false, false);
    for (input, output) in [
        (256usize, 784usize),
        (256, 128),
        (128, 256),
        (128, 32),
        (32, 128),
    ] {
        for a_t in [false, true] {
            for b_t in [false, true] {
                row(
                    &format!("fwd {input}->{output}"),
                    rows,
                    output,
                    input,
                    a_t,
                    b_t,
                );
                row(
                    &format!("in-grad {input}->{output}"),
                    rows,
                    input,
                    output,
                    a_t,
                    b_t,
                );
                row(
                    &format!("w-grad {input}->{output}"),
                    output,
                    input,
                    rows,
                    a_t,
                    b_t,
                );
            }
        }
    }
}
