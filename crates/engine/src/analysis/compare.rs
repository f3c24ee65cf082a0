//! PCA against an autoencoder at the same k: the one measurement behind the PCA vs AE panel
//! and the numbers `bottleneck train` / `eval` print. Both methods' test error (per pixel),
//! the [`KNN`]-NN classification accuracy of both kinds of codes (test codes against training
//! codes), and PCA's fitting time when it had to be fitted. Also the textbook result beside it:
//! a linear autoencoder trained to land on PCA's error ([`train_linear`]).

use std::sync::Arc;
use std::time::Instant;

use super::{metrics, AnalysisError, Pca};
use crate::data::Dataset;
use crate::model::{TrainConfig, TrainedModel, Variant};
use crate::tasks::RunControl;
use crate::train::Trainer;

/// Neighbours of the kNN classifier that measures how well codes separate the classes.
pub const KNN: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    #[error(transparent)]
    Analysis(#[from] AnalysisError),
    #[error(transparent)]
    Train(Box<crate::train::TrainError>),
    #[error("the model's output does not match the images")]
    OutputMismatch,
    #[error(transparent)]
    Panicked(#[from] crate::tasks::Panicked),
}

impl From<crate::train::TrainError> for CompareError {
    fn from(e: crate::train::TrainError) -> Self {
        CompareError::Train(Box::new(e))
    }
}

/// What [`compare`] measured.
pub struct Comparison {
    /// The model's code size, the k of PCA.
    pub k: usize,
    /// The PCA used: the one given, or one fitted on the training images with k components.
    pub pca: Arc<Pca>,
    /// Seconds to fit `pca` (the given time when it was given).
    pub pca_fit_seconds: Option<f64>,
    /// Per-pixel MSE of reconstructing the test images ([`test_mse`]).
    pub ae_test_mse: f64,
    /// PCA's per-pixel MSE on the test images with k components.
    pub pca_test_mse: f64,
    /// [`KNN`]-NN accuracy of the model's test codes against its training codes.
    pub ae_knn: f32,
    /// The same with PCA's k-dimensional projections.
    pub pca_knn: f32,
}

/// The model's codes [`compare`] computed on the way, for whoever wants to draw them.
pub struct Codes {
    /// Codes of the training images (k per image).
    pub train: Vec<f32>,
    /// Codes of the test images (k per image).
    pub test: Vec<f32>,
}

/// Measures `model` against PCA on `data`. `pca`: a PCA already fitted on `data`'s training
/// images with its fitting time (refitted with k components when it has fewer); `None` fits
/// one. `test_codes`: the model's codes of the test images when already known.
pub fn compare(
    model: &TrainedModel,
    data: &Dataset,
    pca: Option<(Arc<Pca>, Option<f64>)>,
    test_codes: Option<&[f32]>,
) -> Result<(Comparison, Codes), CompareError> {
    let k = model.latent();
    let (train, test) = (&data.train, &data.test);
    let (pca, pca_fit_seconds) = match pca {
        Some((p, seconds)) if k <= p.n_components() => (p, seconds),
        _ => {
            let started = Instant::now();
            let p = Pca::fit(&train.images, crate::PIXELS, k)?;
            (Arc::new(p), Some(started.elapsed().as_secs_f64()))
        }
    };
    let test_codes = match test_codes {
        Some(c) if c.len() == test.len() * k => c.to_vec(),
        _ => model.encode_labelled(&test.images, &test.labels)?,
    };
    let train_codes = model.encode_labelled(&train.images, &train.labels)?;
    let ae_test_mse = test_mse(model, data)?;
    let pca_test_mse = pca.mse(&test.images, k) as f64;
    let ae_knn = metrics::knn_accuracy(
        &train_codes,
        &train.labels,
        &test_codes,
        &test.labels,
        k,
        KNN,
    );
    let pca_train = pca.project(&train.images, k);
    let pca_test = pca.project(&test.images, k);
    let kp = k.min(pca.n_components());
    let pca_knn =
        metrics::knn_accuracy(&pca_train, &train.labels, &pca_test, &test.labels, kp, KNN);
    let measured = Comparison {
        k,
        pca,
        pca_fit_seconds,
        ae_test_mse,
        pca_test_mse,
        ae_knn,
        pca_knn,
    };
    let codes = Codes {
        train: train_codes,
        test: test_codes,
    };
    Ok((measured, codes))
}

/// Per-pixel MSE of reconstructing `data`'s test images.
pub fn test_mse(model: &TrainedModel, data: &Dataset) -> Result<f64, CompareError> {
    if model.classes() > 0 {
        // A conditional VAE reconstructs each image given its class.
        let recon = model.reconstruct_labelled(&data.test.images, &data.test.labels)?;
        if recon.len() != data.test.images.len() {
            return Err(CompareError::OutputMismatch);
        }
        return Ok(metrics::mse(&recon, &data.test.images) as f64);
    }
    let (mut sum, mut values, mut matched) = (0.0f64, 0usize, true);
    model.reconstruct_each(&data.test.images, |x, recon| {
        matched &= recon.len() == x.len();
        sum += metrics::sum_sq_diff(recon, x);
        values += x.len();
    })?;
    if !matched {
        return Err(CompareError::OutputMismatch);
    }
    // As metrics::mse over all values, without a copy of all the reconstructions.
    Ok(if values == 0 {
        0.0
    } else {
        (sum / values as f64) as f32 as f64
    })
}

/// The linear autoencoder (the PCA vs AE panel's button): the Linear preset (no hidden layer, no
/// activation, linear output, Adam at 3e-3) with enough epochs to reach PCA's error (20 up to
/// k = 32, 40 above; about a second on the embedded digits).
pub fn linear_config(k: usize) -> TrainConfig {
    let mut c = TrainConfig::preset(Variant::Linear, k);
    c.epochs = if k <= 32 { 20 } else { 40 };
    c
}

/// Trains [`linear_config`]`(k)` on `data`, counting steps done in `control`, stopping (with
/// `Ok(None)`) when it is cancelled. Returns the model, its test MSE and the training time in
/// seconds.
pub fn train_linear(
    k: usize,
    data: Arc<Dataset>,
    control: &RunControl,
) -> Result<Option<(TrainedModel, f64, f64)>, CompareError> {
    let started = Instant::now();
    let mut t = Trainer::new(linear_config(k), data.clone())?;
    while !t.is_finished() {
        if control.is_cancelled() {
            return Ok(None);
        }
        t.step()?;
        control.step();
    }
    let seconds = started.elapsed().as_secs_f64();
    let model = t.snapshot()?;
    let mse = test_mse(&model, &data)?;
    Ok(Some((model, mse, seconds)))
}

/// A finished run's test MSE is "near the mean image" above this fraction of the mean image's.
const NEAR_MEAN: f64 = 0.9;
/// "More epochs" multiplies the epochs trained by this.
const MORE_EPOCHS: usize = 3;

/// What the panel says about a finished model that does not beat PCA at its k.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub sentence: String,
    /// The epochs the fix button puts in the form.
    pub epochs: usize,
}

/// The verdict on a model with final test MSE `mse` after `epochs` epochs, given PCA's test MSE
/// at the same k and the mean image's; `None` when the model beats PCA.
pub fn verdict(mse: f64, epochs: usize, k: usize, pca: f64, mean: Option<f64>) -> Option<Verdict> {
    let near_mean = mean.is_some_and(|m| mse > NEAR_MEAN * m);
    if !(mse > pca || near_mean) {
        return None;
    }
    let more =
        (epochs.max(1) * MORE_EPOCHS).min(crate::model::config::MAX_FITTED_EPOCHS.max(epochs + 1));
    let what = if near_mean {
        format!(
            "test MSE {mse:.4} is near the mean image's {:.4} (PCA at k = {k}: {pca:.4})",
            mean.unwrap_or(f64::NAN)
        )
    } else {
        format!("test MSE {mse:.4} is behind PCA's {pca:.4} at the same k = {k}")
    };
    Some(Verdict {
        sentence: format!(
            "This model's {what}: it has likely not trained enough. More epochs (or a smaller \
             batch, or a higher learning rate) usually fix it."
        ),
        epochs: more,
    })
}
