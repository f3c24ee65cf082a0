//! What codes are worth as features: a linear probe (softmax regression on standardised
//! features, minibatch SGD with momentum, early-stopped on a held-out tenth of its training
//! images, keeping the best weights) and the [`KNN`]-NN classifier, trained on 100, 1,000 and
//! all labelled training images, scored on the test split. [`sweep`] runs both for a model's
//! codes, PCA's codes at the same k and raw pixels (the Features panel's probe plot and
//! `bottleneck probe`).

use std::sync::Arc;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::compare::KNN;
use super::{metrics, AnalysisError, Pca};
use crate::data::Dataset;
use crate::model::TrainedModel;
use crate::tasks::RunControl;

/// The numbers of labelled images the sweep tries before "all".
pub const SIZES: [usize; 2] = [100, 1000];
/// Images per SGD step.
const BATCH: usize = 64;
/// Epochs without a better held-out loss before stopping.
const PATIENCE: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    #[error(transparent)]
    Analysis(#[from] AnalysisError),
    #[error(
        "the probe needs at least 10 labelled images with {dim}-dimensional features, got {n}"
    )]
    TooFew { n: usize, dim: usize },
}

/// A trained softmax regression: `classes × dim` weights on standardised features.
pub struct Probe {
    dim: usize,
    classes: usize,
    mean: Vec<f32>,
    inv_std: Vec<f32>,
    w: Vec<f32>,
    b: Vec<f32>,
    /// Epochs run before early stopping.
    pub epochs: usize,
}

impl Probe {
    /// Logits of one standardised row.
    fn logits(&self, x: &[f32], out: &mut [f32]) {
        for (c, o) in out.iter_mut().enumerate() {
            let w = &self.w[c * self.dim..(c + 1) * self.dim];
            *o = self.b[c] + w.iter().zip(x).map(|(a, b)| a * b).sum::<f32>();
        }
    }

    fn standardise(&self, row: &[f32], out: &mut [f32]) {
        for (j, o) in out.iter_mut().enumerate() {
            let v = (row[j] - self.mean[j]) * self.inv_std[j];
            *o = if v.is_finite() { v } else { 0.0 };
        }
    }

    /// The predicted class of each row of `x`.
    pub fn predict(&self, x: &[f32]) -> Vec<u8> {
        let mut z = vec![0.0; self.dim];
        let mut l = vec![0.0; self.classes];
        x.chunks_exact(self.dim)
            .map(|row| {
                self.standardise(row, &mut z);
                self.logits(&z, &mut l);
                argmax(&l) as u8
            })
            .collect()
    }

    /// Accuracy on `x` (rows of `dim`) against `labels`.
    pub fn accuracy(&self, x: &[f32], labels: &[u8]) -> f32 {
        let p = self.predict(x);
        if p.is_empty() {
            return 0.0;
        }
        p.iter().zip(labels).filter(|(a, b)| a == b).count() as f32 / p.len() as f32
    }

    /// Mean cross-entropy on the rows `rows` of `x` (raw features, standardised here),
    /// `labels` indexed like `x`'s rows.
    fn loss(&self, x: &[f32], labels: &[u8], rows: &[usize]) -> f64 {
        let mut z = vec![0.0; self.dim];
        let mut l = vec![0.0; self.classes];
        let mut total = 0.0;
        for &r in rows {
            self.standardise(&x[r * self.dim..(r + 1) * self.dim], &mut z);
            self.logits(&z, &mut l);
            softmax(&mut l);
            total -= (l[labels[r] as usize].max(1e-12) as f64).ln();
        }
        total / rows.len().max(1) as f64
    }
}

fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &x)| {
            if x > bv {
                (i, x)
            } else {
                (bi, bv)
            }
        })
        .0
}

fn softmax(v: &mut [f32]) {
    let m = v.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    let mut s = 0.0;
    for x in v.iter_mut() {
        *x = (*x - m).exp();
        s += *x;
    }
    for x in v.iter_mut() {
        *x /= s;
    }
}

/// Trains a softmax regression on `x` (rows of `dim`) with `labels` in `0..classes`: features
/// standardised with the training mean and deviation, a tenth of the images held out, SGD with
/// momentum until the held-out loss has not improved for [`PATIENCE`] epochs; the best weights
/// are kept. Stops early (returning what it has) when `control` is cancelled.
pub fn train_probe(
    x: &[f32],
    labels: &[u8],
    dim: usize,
    classes: usize,
    seed: u64,
    control: Option<&RunControl>,
) -> Result<Probe, ProbeError> {
    let n = x.len().checked_div(dim).unwrap_or(0).min(labels.len());
    let rows: Vec<usize> = (0..n).collect();
    train_probe_on(x, labels, &rows, dim, classes, seed, control)
}

/// [`train_probe`] on the rows `rows` of `x` (`labels` indexed like `x`'s rows), in that
/// order. The rows are neither copied nor standardised ahead: each is standardised when used,
/// so the memory does not grow with the images (the pixel probe on Fashion-MNIST's 60,000
/// training images used to hold two extra copies of 188 MB).
pub fn train_probe_on(
    x: &[f32],
    labels: &[u8],
    rows: &[usize],
    dim: usize,
    classes: usize,
    seed: u64,
    control: Option<&RunControl>,
) -> Result<Probe, ProbeError> {
    let n = rows.len();
    if n < 10 || classes == 0 || dim == 0 {
        return Err(ProbeError::TooFew { n, dim });
    }
    let row = |r: usize| &x[r * dim..(r + 1) * dim];
    let mut mean = vec![0.0f32; dim];
    let mut var = vec![0.0f32; dim];
    for &r in rows {
        for (m, v) in mean.iter_mut().zip(row(r)) {
            *m += v;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f32);
    for &r in rows {
        for j in 0..dim {
            var[j] += (row(r)[j] - mean[j]).powi(2);
        }
    }
    let inv_std = var
        .iter()
        .map(|v| {
            let s = (v / n as f32).sqrt();
            if s > 1e-6 {
                1.0 / s
            } else {
                0.0
            }
        })
        .collect();
    let mut p = Probe {
        dim,
        classes,
        mean,
        inv_std,
        w: vec![0.0; classes * dim],
        b: vec![0.0; classes],
        epochs: 0,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut order: Vec<usize> = rows.to_vec();
    order.shuffle(&mut rng);
    let n_hold = (n / 10).max(1);
    let (hold, fit) = order.split_at(n_hold);
    let mut fit = fit.to_vec();
    let steps_per_epoch = fit.len().div_ceil(BATCH);
    let max_epochs = (3000 / steps_per_epoch).clamp(30, 300);
    let (lr, momentum, decay) = (0.05f32, 0.9f32, 1e-4f32);
    let mut vw = vec![0.0f32; classes * dim];
    let mut vb = vec![0.0f32; classes];
    let mut gw = vec![0.0f32; classes * dim];
    let mut gb = vec![0.0f32; classes];
    let mut l = vec![0.0f32; classes];
    let mut z = vec![0.0f32; dim];
    let mut best = (p.loss(x, labels, hold), p.w.clone(), p.b.clone(), 0);
    let mut since_best = 0;
    for epoch in 1..=max_epochs {
        if control.is_some_and(|c| c.is_cancelled()) {
            break;
        }
        fit.shuffle(&mut rng);
        for batch in fit.chunks(BATCH) {
            gw.iter_mut().for_each(|g| *g = 0.0);
            gb.iter_mut().for_each(|g| *g = 0.0);
            for &r in batch {
                p.standardise(row(r), &mut z);
                p.logits(&z, &mut l);
                softmax(&mut l);
                l[labels[r] as usize] -= 1.0;
                for c in 0..classes {
                    let g = l[c];
                    gb[c] += g;
                    if g != 0.0 {
                        let gwc = &mut gw[c * dim..(c + 1) * dim];
                        for (a, &v) in gwc.iter_mut().zip(&z) {
                            *a += g * v;
                        }
                    }
                }
            }
            let scale = 1.0 / batch.len() as f32;
            for ((w, v), g) in p.w.iter_mut().zip(&mut vw).zip(&gw) {
                *v = momentum * *v - lr * (g * scale + decay * *w);
                *w += *v;
            }
            for ((b, v), g) in p.b.iter_mut().zip(&mut vb).zip(&gb) {
                *v = momentum * *v - lr * g * scale;
                *b += *v;
            }
        }
        let loss = p.loss(x, labels, hold);
        if loss < best.0 {
            best = (loss, p.w.clone(), p.b.clone(), epoch);
            since_best = 0;
        } else {
            since_best += 1;
            if since_best >= PATIENCE {
                break;
            }
        }
    }
    p.w = best.1;
    p.b = best.2;
    p.epochs = best.3;
    Ok(p)
}

/// Test accuracy against the number of labelled training images, for each kind of feature.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ProbeResult {
    /// The model's code size, PCA's k.
    pub k: usize,
    /// Labelled training images used, ending with all of them.
    pub sizes: Vec<usize>,
    /// Linear probe accuracy on the model's codes, PCA's codes and raw pixels.
    pub codes: Vec<f32>,
    pub pca: Vec<f32>,
    pub pixels: Vec<f32>,
    /// [`KNN`]-NN accuracy on the model's codes and PCA's codes.
    pub knn_codes: Vec<f32>,
    pub knn_pca: Vec<f32>,
}

impl ProbeResult {
    /// The sweep as CSV: one row per number of labels, test accuracies in [0, 1].
    pub fn to_csv(&self) -> String {
        let mut out = String::from("labels,probe_codes,probe_pca,probe_pixels,knn_codes,knn_pca\n");
        for (i, n) in self.sizes.iter().enumerate() {
            let at = |v: &[f32]| v.get(i).map(|a| a.to_string()).unwrap_or_default();
            out.push_str(&format!(
                "{n},{},{},{},{},{}\n",
                at(&self.codes),
                at(&self.pca),
                at(&self.pixels),
                at(&self.knn_codes),
                at(&self.knn_pca)
            ));
        }
        out
    }
}

/// The label counts of the sweep for a training split of `n` images: 100, 1,000 (those
/// smaller than `n`) and `n`.
pub fn sizes(n: usize) -> Vec<usize> {
    let mut s: Vec<usize> = SIZES.iter().copied().filter(|&m| m < n).collect();
    s.push(n);
    s
}

/// Steps [`sweep`] reports for a training split of `n` images.
pub fn sweep_steps(n: usize) -> usize {
    sizes(n).len() * 5
}

/// Trains and scores the probe and kNN on `model`'s codes, PCA's codes at the same k (`pca`,
/// fitted on the training images, refitted when it has fewer components) and raw pixels, with
/// 100, 1,000 and all labelled training images (a seeded random subset). Counts one step of
/// `control` per classifier; `Ok(None)` when cancelled.
pub fn sweep(
    model: &TrainedModel,
    data: &Dataset,
    pca: Option<Arc<Pca>>,
    control: &RunControl,
) -> Result<Option<ProbeResult>, ProbeError> {
    let k = model.latent();
    let (train, test) = (&data.train, &data.test);
    let n = train.len();
    let classes = data.num_classes().max(1);
    let sizes = sizes(n);
    control.report(0, sweep_steps(n));
    let pca = match pca {
        Some(p) if p.n_components() >= k => p,
        _ => Arc::new(Pca::fit(&train.images, crate::PIXELS, k.max(1))?),
    };
    let kp = k.min(pca.n_components());
    let code_train = model.encode_labelled(&train.images, &train.labels)?;
    let code_test = model.encode_labelled(&test.images, &test.labels)?;
    let pca_train = pca.project(&train.images, kp);
    let pca_test = pca.project(&test.images, kp);
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(7));
    let mut r = ProbeResult {
        k,
        sizes: sizes.clone(),
        codes: Vec::new(),
        pca: Vec::new(),
        pixels: Vec::new(),
        knn_codes: Vec::new(),
        knn_pca: Vec::new(),
    };
    let rows = |all: &[f32], dim: usize, idx: &[usize]| -> Vec<f32> {
        idx.iter()
            .flat_map(|&i| all[i * dim..(i + 1) * dim].iter().copied())
            .collect()
    };
    for &m in &sizes {
        let idx = &order[..m];
        let y: Vec<u8> = idx.iter().map(|&i| train.labels[i]).collect();
        for (feat_train, feat_test, dim, out, knn) in [
            (&code_train, &code_test, k, 0, true),
            (&pca_train, &pca_test, kp, 1, true),
            (&train.images, &test.images, crate::PIXELS, 2, false),
        ] {
            if control.is_cancelled() {
                return Ok(None);
            }
            let probe = train_probe_on(
                feat_train,
                &train.labels,
                idx,
                dim,
                classes,
                42,
                Some(control),
            )?;
            let acc = probe.accuracy(feat_test, &test.labels);
            control.step();
            [&mut r.codes, &mut r.pca, &mut r.pixels][out].push(acc);
            if knn {
                // Codes are narrow: a copy of the chosen rows is small.
                let x = rows(feat_train, dim, idx);
                let a = metrics::knn_accuracy(&x, &y, feat_test, &test.labels, dim, KNN);
                control.step();
                [&mut r.knn_codes, &mut r.knn_pca][out].push(a);
            }
        }
    }
    Ok(Some(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three well separated Gaussian-ish blobs in 2-D.
    fn blobs(n: usize, seed: u64) -> (Vec<f32>, Vec<u8>) {
        use rand::Rng;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let centres = [(0.0, 0.0), (4.0, 0.0), (0.0, 4.0)];
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let c = i % 3;
            x.push(centres[c].0 + rng.random_range(-1.0..1.0f32));
            x.push(centres[c].1 + rng.random_range(-1.0..1.0f32));
            y.push(c as u8);
        }
        (x, y)
    }

    /// Regression: the sweep copied the chosen training rows (188 MB for the pixels of 60,000
    /// images) and the probe standardised a second copy; training on the rows where they lie
    /// must give the very same probe.
    #[test]
    fn a_probe_on_chosen_rows_is_the_probe_on_a_copy_of_them() {
        let (x, y) = blobs(400, 3);
        let rows: Vec<usize> = (0..400).rev().step_by(3).collect();
        let copy: Vec<f32> = rows
            .iter()
            .flat_map(|&r| x[r * 2..r * 2 + 2].iter().copied())
            .collect();
        let labels: Vec<u8> = rows.iter().map(|&r| y[r]).collect();
        let a = train_probe(&copy, &labels, 2, 3, 5, None).unwrap();
        let b = train_probe_on(&x, &y, &rows, 2, 3, 5, None).unwrap();
        assert_eq!((&a.w, &a.b, a.epochs), (&b.w, &b.b, b.epochs));
        assert!(a.w.iter().any(|&w| w != 0.0));
        assert!(matches!(
            train_probe_on(&x, &y, &rows[..9], 2, 3, 5, None),
            Err(ProbeError::TooFew { n: 9, dim: 2 })
        ));
    }

    #[test]
    fn separates_blobs() {
        let (x, y) = blobs(300, 1);
        let (tx, ty) = blobs(300, 2);
        let p = train_probe(&x, &y, 2, 3, 0, None).unwrap();
        assert!(p.accuracy(&tx, &ty) > 0.97, "{}", p.accuracy(&tx, &ty));
        assert!(p.epochs >= 1);
    }

    #[test]
    fn constant_and_bad_features_do_not_panic() {
        let x = vec![1.0; 40];
        let y: Vec<u8> = (0..20).map(|i| (i % 2) as u8).collect();
        let p = train_probe(&x, &y, 2, 2, 0, None).unwrap();
        assert_eq!(p.predict(&[1.0, 1.0, f32::NAN, 0.0]).len(), 2);
        assert!(train_probe(&x[..4], &y[..2], 2, 2, 0, None).is_err());
        assert!(train_probe(&x, &y, 0, 2, 0, None).is_err());
    }

    #[test]
    fn sizes_end_with_all() {
        assert_eq!(sizes(8000), vec![100, 1000, 8000]);
        assert_eq!(sizes(500), vec![100, 500]);
        assert_eq!(sizes(100), vec![100]);
    }
}
