//! Times the matrix products of the dense engine's layers (`linalg::matmul` on one thread,
//! 128 rows: one thread's half of a batch of 256) in every storage layout, beside a large
//! square product: which layout of a weight keeps its products fast.
//!   cargo run --release -p bottleneck-engine --example gemmprobe
use bottleneck_engine::linalg::{matmul, SERIAL};
use std::time::Instant;

/// Best of 5 rounds of `c[m×n] = a·b` with `a`/`b` stored transposed as asked.
fn time(name: &str, m: usize, n: usize, k: usize, a_t: bool, b_t: bool) {
    let a: Vec<f32> = (0..m * k).map(|i| (i % 13) as f32 * 0.01).collect();
    let b: Vec<f32> = (0..k * n).map(|i| (i % 7) as f32 * 0.01).collect();
    let mut c = vec![0f32; m * n];
    let reps = (2e9 / (2.0 * (m * n * k) as f64)).max(3.0) as usize;
    let mut best = f64::MAX;
    for _ in 0..5 {
        let s = Instant::now();
        for _ in 0..reps {
            matmul(m, n, k, &mut c, &a, a_t, &b, b_t, false, SERIAL);
        }
        best = best.min(s.elapsed().as_secs_f64() / reps as f64);
    }
    let gflops = 2.0 * (m * n * k) as f64 / best / 1e9;
    println!(
        "{name:16} {m:5}x{n:5}x{k:5} a_t={a_t:5} b_t={b_t:5} {gflops:7.1} GFLOP/s {:8.1} µs",
        best * 1e6
    );
}

fn main() {
    let rows = 128;
    time("square", 1024, 1024, 1024, false, false);
    for (input, output) in [
        (256usize, 784usize),
        (256, 128),
        (128, 256),
        (128, 32),
        (32, 128),
    ] {
        for a_t in [false, true] {
            for b_t in [false, true] {
                time(
                    &format!("fwd {input}->{output}"),
                    rows,
                    output,
                    input,
                    a_t,
                    b_t,
                );
                time(
                    &format!("in-grad {input}->{output}"),
                    rows,
                    input,
                    output,
                    a_t,
                    b_t,
                );
                time(
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
