//! UMAP of codes, written here (no maintained Rust UMAP crate is small and pure enough): the
//! exact k-nearest-neighbour graph (`neighbours`), its fuzzy simplicial set (each point's
//! distance to its nearest neighbour ρ and the σ that makes its memberships sum to log₂ k,
//! symmetrised as a + b − ab), a start from the codes' first two principal components, and
//! the layout optimised by stochastic gradient descent with negative sampling (McInnes, Healy
//! and Melville 2018; min_dist 0.1, spread 1 give a = 1.577, b = 0.895). One thread and one
//! seeded generator: a seed gives one map.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::map_method::Stopped;
use super::neighbours::knn;
use super::tsne::pca_start;

/// UMAP's settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UmapParams {
    pub neighbours: usize,
    /// Passes over the graph (0: 500 up to 10,000 points, else 200, as umap-learn).
    pub epochs: usize,
    pub negative_samples: usize,
    pub seed: u64,
}

impl Default for UmapParams {
    fn default() -> Self {
        UmapParams {
            neighbours: 15,
            epochs: 0,
            negative_samples: 5,
            seed: 42,
        }
    }
}

const A: f32 = 1.577;
const B: f32 = 0.8951;

/// The fuzzy graph: edges (i, j, weight), each once.
fn fuzzy_graph(codes: &[f32], dim: usize, k: usize) -> Vec<(u32, u32, f32)> {
    let n = codes.len() / dim;
    let nb = knn(codes, codes, dim, k, true);
    let target = (k as f32).log2();
    let mut directed: Vec<std::collections::HashMap<u32, f32>> = vec![Default::default(); n];
    for (i, out) in directed.iter_mut().enumerate() {
        let row: Vec<(usize, f32)> = nb.row(i).collect();
        let rho = row.iter().map(|r| r.1).find(|&d| d > 0.0).unwrap_or(0.0);
        // Binary search for σ: Σ exp(−max(0, d − ρ)/σ) = log₂ k.
        let (mut lo, mut hi, mut sigma) = (0.0f32, f32::INFINITY, 1.0f32);
        for _ in 0..64 {
            let s: f32 = row
                .iter()
                .map(|&(_, d)| (-((d - rho).max(0.0)) / sigma).exp())
                .sum();
            if (s - target).abs() < 1e-5 {
                break;
            }
            if s > target {
                hi = sigma;
                sigma = (lo + hi) / 2.0;
            } else {
                lo = sigma;
                sigma = if hi.is_finite() {
                    (lo + hi) / 2.0
                } else {
                    sigma * 2.0
                };
            }
        }
        let mean_d = row.iter().map(|r| r.1).sum::<f32>() / row.len().max(1) as f32;
        let sigma = sigma.max(1e-3 * mean_d).max(1e-12);
        for &(j, d) in &row {
            out.insert(j as u32, (-((d - rho).max(0.0)) / sigma).exp());
        }
    }
    let mut edges = Vec::new();
    for i in 0..n {
        let mut keys: Vec<u32> = directed[i].keys().copied().collect();
        keys.sort_unstable();
        for j in keys {
            let a = directed[i][&j];
            let b = directed[j as usize]
                .get(&(i as u32))
                .copied()
                .unwrap_or(0.0);
            // Each undirected edge once: from its smaller end, or from i when j lacks it.
            if (i as u32) < j || b == 0.0 {
                let w = a + b - a * b;
                if w > 0.0 {
                    edges.push((i as u32, j, w));
                }
            }
        }
    }
    edges
}

fn clip(v: f32) -> f32 {
    v.clamp(-4.0, 4.0)
}

/// The UMAP map of `n × dim` codes. `step(epoch, total, layout)` is called after every epoch;
/// when it returns false the run stops with [`Stopped::Cancelled`].
pub fn umap(
    codes: &[f32],
    dim: usize,
    params: &UmapParams,
    step: &mut super::map_method::Step,
) -> Result<Vec<[f32; 2]>, Stopped> {
    let n = codes.len().checked_div(dim).unwrap_or(0);
    if n < 4 {
        return Err(Stopped::Failed(format!(
            "UMAP needs at least 4 points, got {n}"
        )));
    }
    if codes[..n * dim].iter().any(|v| !v.is_finite()) {
        return Err(Stopped::Failed(
            "some codes are not finite numbers: UMAP cannot place them".into(),
        ));
    }
    let k = params.neighbours.clamp(2, n - 1);
    let edges = fuzzy_graph(&codes[..n * dim], dim, k);
    let epochs = match params.epochs {
        0 if n <= 10_000 => 500,
        0 => 200,
        e => e,
    };
    // Start: PCA scaled into [−10, 10].
    let mut y = pca_start(&codes[..n * dim], dim, 1.0, params.seed);
    let extent = y
        .iter()
        .flat_map(|p| [p[0].abs(), p[1].abs()])
        .fold(0f32, f32::max)
        .max(1e-12);
    for p in &mut y {
        p[0] *= 10.0 / extent;
        p[1] *= 10.0 / extent;
    }
    // Each edge is sampled every max_w / w epochs; negative samples in proportion.
    let max_w = edges.iter().map(|e| e.2).fold(0f32, f32::max).max(1e-12);
    let every: Vec<f32> = edges.iter().map(|e| max_w / e.2).collect();
    let neg_every: Vec<f32> = every
        .iter()
        .map(|&e| e / params.negative_samples.max(1) as f32)
        .collect();
    let mut next: Vec<f32> = every.clone();
    let mut next_neg: Vec<f32> = neg_every.clone();
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    for epoch in 0..epochs {
        let alpha = 1.0 - epoch as f32 / epochs as f32;
        let e = epoch as f32;
        for (ei, &(i, j, _)) in edges.iter().enumerate() {
            if next[ei] > e + 1.0 {
                continue;
            }
            let (i, j) = (i as usize, j as usize);
            let d = [y[i][0] - y[j][0], y[i][1] - y[j][1]];
            let d2 = d[0] * d[0] + d[1] * d[1];
            if d2 > 0.0 {
                let c = -2.0 * A * B * d2.powf(B - 1.0) / (A * d2.powf(B) + 1.0);
                for c2 in 0..2 {
                    let g = clip(c * d[c2]) * alpha;
                    y[i][c2] += g;
                    y[j][c2] -= g;
                }
            }
            next[ei] += every[ei];
            // Negative samples owed since the last visit.
            let owed = ((e + 1.0 - next_neg[ei]) / neg_every[ei]).floor().max(0.0) as usize + 1;
            for _ in 0..owed.min(2 * params.negative_samples.max(1)) {
                let m = rng.random_range(0..n);
                if m == i {
                    continue;
                }
                let d = [y[i][0] - y[m][0], y[i][1] - y[m][1]];
                let d2 = d[0] * d[0] + d[1] * d[1];
                let c = if d2 > 0.0 {
                    2.0 * B / ((0.001 + d2) * (A * d2.powf(B) + 1.0))
                } else {
                    0.0
                };
                for c2 in 0..2 {
                    let g = if c > 0.0 { clip(c * d[c2]) } else { 4.0 };
                    y[i][c2] += g * alpha;
                }
            }
            next_neg[ei] += owed as f32 * neg_every[ei];
        }
        if !step(epoch + 1, epochs, &y) {
            return Err(Stopped::Cancelled);
        }
    }
    Ok(y)
}
