//! Times the fused engine's non-product kernels on one thread's share of a dense step (128
//! embedded digits, the 784-256 first layer, Adam over the 784-256-128-32 model's ~475,000
//! parameters on the rayon pool).
//!   cargo run --release -p bottleneck-engine --example kernprobe
use bottleneck_engine::model::{TrainConfig, Variant};
use bottleneck_engine::train::kernels::{self, Csr};
use std::time::Instant;

/// Best of 7 rounds of 50 calls.
fn time(name: &str, mut f: impl FnMut()) {
    let mut best = f64::MAX;
    for _ in 0..7 {
        let s = Instant::now();
        for _ in 0..50 {
            f();
        }
        best = best.min(s.elapsed().as_secs_f64() / 50.0);
    }
    println!("{name:20} {:8.1} µs", best * 1e6);
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = bottleneck_engine::data::Dataset::embedded()?;
    let (rows, d, n) = (128, bottleneck_engine::PIXELS, 256);
    let x = &data.train.images[..rows * d];
    let mut csr = Csr::default();
    time("Csr::fill", || {
        std::hint::black_box(csr.fill(x, d));
    });
    let wt: Vec<f32> = (0..d * n).map(|i| (i % 17) as f32 * 0.01).collect();
    let mut out = vec![0f32; rows * n];
    time("sparse_matmul", || {
        kernels::sparse_matmul(&csr, &wt, n, &mut out)
    });
    let mut gt = vec![0f32; d * n];
    time("sparse_t_matmul", || {
        kernels::sparse_t_matmul(&csr, &out, n, &mut gt)
    });
    let len = 475_000;
    let mut p = vec![0.1f32; len];
    let (g0, g1) = (vec![0.01f32; len], vec![0.02f32; len]);
    let mut adam = kernels::Adam::new(&TrainConfig::preset(Variant::Dense, 32), len);
    time("Adam::update", || adam.update(&mut p, &g0, &g1));
    time("all_finite", || {
        std::hint::black_box(kernels::all_finite(&g0));
    });
    Ok(())
}
