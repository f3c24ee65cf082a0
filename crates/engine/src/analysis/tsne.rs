//! t-SNE of codes on top of the `bhtsne` crate (Barnes-Hut t-SNE): this module builds the
//! exact neighbour graph itself (`neighbours`, 3 × perplexity neighbours, as in the original
//! method), seeds the layout from the codes' first two principal components (scaled as
//! scikit-learn does, plus a tiny jitter drawn from the seed, so a seed gives one map), hands
//! every iteration's layout to the caller (the panel animates it) and stops early when the
//! caller asks (a cancelled map). The optimisation runs on one thread, so that a seed gives
//! exactly one map (the neighbour search before it uses every core).

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use std::sync::atomic::{AtomicBool, Ordering};

use bhtsne::{tSNE, Neighbor};
use crossbeam_channel::bounded;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::neighbours::knn;
use super::projection::Projection;

/// t-SNE's settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TsneParams {
    /// Effective number of neighbours (clamped to what the number of points allows).
    pub perplexity: f32,
    pub iterations: usize,
    /// Barnes-Hut accuracy (0.5 as in scikit-learn).
    pub theta: f32,
    pub seed: u64,
}

impl Default for TsneParams {
    fn default() -> Self {
        TsneParams {
            perplexity: 30.0,
            iterations: 1000,
            theta: 0.5,
            seed: 42,
        }
    }
}

pub use super::map_method::Stopped;

struct CancelToken;

/// The 2-D starting layout: the first two principal components of the codes, scaled so the
/// first has standard deviation `scale`, plus a jitter of 1e-4 × `scale` from `seed`.
pub fn pca_start(codes: &[f32], dim: usize, scale: f32, seed: u64) -> Vec<[f32; 2]> {
    let (p, _) = Projection::fit(codes, dim, (0, 1), None);
    let mut xy = p.project_all(codes);
    let n = xy.len().max(1) as f64;
    let mean = xy.iter().map(|p| p[0] as f64).sum::<f64>() / n;
    let sd = (xy.iter().map(|p| (p[0] as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
    let f = if sd > 0.0 && sd.is_finite() {
        scale as f64 / sd
    } else {
        1.0
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for p in &mut xy {
        for v in p.iter_mut() {
            let x = if v.is_finite() { *v as f64 * f } else { 0.0 };
            *v = x as f32 + scale * 1e-4 * rng.random_range(-1.0f32..1.0);
        }
    }
    xy
}

/// The t-SNE map of `n × dim` codes. `step(iteration, total, layout)` is called after every
/// iteration; when it returns false the run stops with [`Stopped::Cancelled`].
pub fn tsne(
    codes: &[f32],
    dim: usize,
    params: &TsneParams,
    step: &mut super::map_method::Step,
) -> Result<Vec<[f32; 2]>, Stopped> {
    let n = codes.len().checked_div(dim).unwrap_or(0);
    if n < 5 {
        return Err(Stopped::Failed(format!(
            "t-SNE needs at least 5 points, got {n}"
        )));
    }
    if codes[..n * dim].iter().any(|v| !v.is_finite()) {
        return Err(Stopped::Failed(
            "some codes are not finite numbers: t-SNE cannot place them".into(),
        ));
    }
    // bhtsne needs n − 1 > 3 × perplexity neighbours.
    let perplexity = params.perplexity.min((n as f32 - 2.0) / 3.0).max(1.0);
    let k = ((3.0 * perplexity) as usize).clamp(1, n - 1);
    let nb = knn(codes, codes, dim, k, true);
    let neighbours: Vec<Vec<Neighbor<f32>>> = (0..n)
        .map(|q| {
            nb.row(q)
                .map(|(index, distance)| Neighbor { index, distance })
                .collect()
        })
        .collect();
    if neighbours.iter().any(|r| r.len() != k) {
        return Err(Stopped::Failed(
            "could not find every point's neighbours".into(),
        ));
    }
    let start: Vec<f32> = pca_start(codes, dim, 1e-4, params.seed)
        .into_iter()
        .flatten()
        .collect();
    let rows: Vec<&[f32]> = codes[..n * dim].chunks_exact(dim).collect();
    let total = params.iterations.max(1);
    // bhtsne sums the repulsion over rayon's threads, whose splitting varies from run to run
    // and with it the rounding: on one thread a seed gives one map.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .thread_name(|_| "bottleneck-tsne".into())
        .build()
        .map_err(|e| Stopped::Failed(format!("cannot start t-SNE's thread: {e}")))?;
    // The fit runs on the pool's thread and hands each iteration's layout over a channel to
    // this thread, which calls `step`; a cancel is passed back through `cancel`.
    let cancel = AtomicBool::new(false);
    let stop = &cancel;
    let (tx, rx) = bounded::<(usize, Vec<[f32; 2]>)>(2);
    let run = std::thread::scope(|scope| {
        let fit = scope.spawn(|| {
            catch_unwind(AssertUnwindSafe(|| {
                pool.install(|| {
                    let mut t: tSNE<f32, &[f32]> = tSNE::new(&rows);
                    t.perplexity(perplexity)
                        .epochs(total)
                        .initial_embedding(start)
                        .epoch_callback(move |epoch, y: &[f32]| {
                            if stop.load(Ordering::Relaxed) {
                                // Unwinds out of the fit without running the panic hook.
                                resume_unwind(Box::new(CancelToken));
                            }
                            let layout = y.chunks_exact(2).map(|c| [c[0], c[1]]).collect();
                            let _ = tx.send((epoch + 1, layout));
                        })
                        .barnes_hut_with_neighbors(params.theta, &neighbours);
                    t.embedding()
                })
            }))
        });
        // Until the fit ends (and drops the sender with its callback).
        for (done, layout) in rx.iter() {
            if !cancel.load(Ordering::Relaxed) && !step(done, total, &layout) {
                cancel.store(true, Ordering::Relaxed);
            }
        }
        fit.join().unwrap_or_else(Err)
    });
    match run {
        Ok(y) => Ok(y.chunks_exact(2).map(|c| [c[0], c[1]]).collect()),
        Err(e) if e.is::<CancelToken>() => Err(Stopped::Cancelled),
        Err(e) => {
            let why = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown error".into());
            Err(Stopped::Failed(format!("t-SNE failed: {why}")))
        }
    }
}
