//! Anomaly detection by reconstruction error, shared by the Anomaly panel and
//! `bottleneck anomaly`: train an autoencoder on the "normal" classes only, then score images
//! by how badly it reconstructs them (per-image MSE). Images of held-out classes, or of another
//! dataset altogether (out of distribution), should score higher; the ROC AUC measures how
//! well the score separates them. Owns the detector's settings, its training loop (with
//! progress and cancellation), the scoring and their errors ([`AnomalyError`]); drawing is the
//! panel's business.

use std::sync::Arc;

use crate::analysis::metrics;
use crate::data::{Dataset, Split};
use crate::model::{ConfigError, TrainConfig, TrainedModel, Variant};
use crate::train::{TrainError, Trainer};

/// What can go wrong building or using a detector (messages are shown as is in the panel and
/// by `bottleneck anomaly`).
#[derive(Debug, thiserror::Error)]
pub enum AnomalyError {
    #[error("choose at least one normal class")]
    NoNormalClass,
    #[error(
        "class {class} is not in the dataset (its classes are 0 to {})",
        .classes.saturating_sub(1)
    )]
    UnknownClass { class: u8, classes: usize },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("no training image belongs to the normal classes")]
    NoNormalImages,
    #[error("'{0}' is not a class number (expected e.g. 0,1,2)")]
    NotAClass(String),
    #[error("no class given (expected e.g. 0,1,2,3,4,5,6,8,9)")]
    NoClass,
    /// Boxed: a training error is large and rare.
    #[error(transparent)]
    Train(Box<TrainError>),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

impl From<TrainError> for AnomalyError {
    fn from(e: TrainError) -> Self {
        AnomalyError::Train(Box::new(e))
    }
}

/// How the detector is built: a plain dense autoencoder, small and quick to train.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DetectorSettings {
    /// Class labels that count as normal (the detector trains on these only).
    pub normal: Vec<u8>,
    pub latent: usize,
    pub epochs: usize,
    pub seed: u64,
}

impl DetectorSettings {
    /// All digits but 7, k = 16, 10 epochs.
    pub fn all_but(held_out: u8, classes: usize) -> Self {
        Self {
            normal: (0..classes.min(256) as u16)
                .map(|c| c as u8)
                .filter(|&c| c != held_out)
                .collect(),
            latent: 16,
            epochs: 10,
            seed: 42,
        }
    }

    /// The training settings: the dense preset with this code size, epochs and seed.
    pub fn train_config(&self) -> TrainConfig {
        let mut c = TrainConfig::preset(Variant::Dense, self.latent);
        c.epochs = self.epochs;
        c.seed = self.seed;
        c
    }

    /// Checks the settings against a dataset with `classes` classes; `Err` names the problem.
    pub fn validate(&self, classes: usize) -> Result<(), AnomalyError> {
        if self.normal.is_empty() {
            return Err(AnomalyError::NoNormalClass);
        }
        if let Some(&class) = self.normal.iter().find(|&&c| c as usize >= classes) {
            return Err(AnomalyError::UnknownClass { class, classes });
        }
        Ok(self.train_config().validate()?)
    }
}

/// The dataset the detector trains on: both splits keep only the normal classes (the test
/// split then gives the training curve's "test" loss on normal images).
pub fn normal_only(data: &Dataset, normal: &[u8]) -> Result<Dataset, AnomalyError> {
    let train = data.train.filter_classes(normal);
    if train.is_empty() {
        return Err(AnomalyError::NoNormalImages);
    }
    Ok(Dataset {
        name: format!("{} (normal classes)", data.name),
        class_names: data.class_names.clone(),
        train,
        test: data.test.filter_classes(normal),
        source: data.source.clone(),
        identity: crate::id::Identity::new(),
    })
}

/// Trains a detector on `data`'s normal classes. `progress(done, total)` is called after every
/// step with the steps done and to do; when it returns `false` training stops and the result
/// is `Ok(None)` (cancelled).
pub fn train_detector(
    settings: &DetectorSettings,
    data: &Dataset,
    mut progress: impl FnMut(usize, usize) -> bool,
) -> Result<Option<TrainedModel>, AnomalyError> {
    settings.validate(data.num_classes())?;
    let normal = Arc::new(normal_only(data, &settings.normal)?);
    let mut trainer = Trainer::new(settings.train_config(), normal)?;
    let total = trainer.steps_per_epoch() * settings.epochs;
    let mut done = 0;
    while !trainer.is_finished() {
        trainer.step()?;
        done += 1;
        if !progress(done, total) {
            return Ok(None);
        }
    }
    Ok(Some(trainer.snapshot()?))
}

/// Reconstruction error (MSE per pixel) of each image of `images` (row-major, 784 per image),
/// a batch at a time.
pub fn reconstruction_errors(
    model: &TrainedModel,
    images: &[f32],
) -> Result<Vec<f32>, AnomalyError> {
    let mut errors = Vec::with_capacity(images.len() / crate::PIXELS);
    model.reconstruct_each(images, |x, recon| {
        errors.extend(metrics::row_mse(x, recon, crate::PIXELS));
    })?;
    Ok(errors)
}

/// Images scored by a detector: which are anomalies, and each one's error.
#[derive(Clone, Debug, Default)]
pub struct Scored {
    /// The images scored (with their labels in their own dataset), normal ones first for an
    /// out-of-distribution score.
    pub split: Split,
    pub errors: Vec<f32>,
    /// True for the anomalies (the positives of the ROC curve).
    pub anomalous: Vec<bool>,
}

impl Scored {
    /// How many normal and how many anomalous images were scored.
    pub fn counts(&self) -> (usize, usize) {
        let a = self.anomalous.iter().filter(|&&x| x).count();
        (self.anomalous.len() - a, a)
    }

    /// ROC AUC of the error as an anomaly score; `None` when either group is empty.
    pub fn auc(&self) -> Option<f32> {
        let (n, a) = self.counts();
        (n > 0 && a > 0).then(|| metrics::roc_auc(&self.errors, &self.anomalous))
    }

    /// Errors of one group (`anomalous` true or false).
    pub fn errors_of(&self, anomalous: bool) -> Vec<f32> {
        self.errors
            .iter()
            .zip(&self.anomalous)
            .filter(|(_, &a)| a == anomalous)
            .map(|(&e, _)| e)
            .collect()
    }

    /// The `q`-quantile (0..=1) of the normal images' errors (nearest rank); `None` without
    /// normal images. The default threshold is the 0.95 quantile: 5 % false alarms.
    pub fn normal_quantile(&self, q: f32) -> Option<f32> {
        let mut e = self.errors_of(false);
        e.retain(|v| v.is_finite());
        if e.is_empty() {
            return None;
        }
        e.sort_by(|a, b| a.total_cmp(b));
        let i = ((q.clamp(0.0, 1.0) * (e.len() - 1) as f32).round() as usize).min(e.len() - 1);
        Some(e[i])
    }

    /// Precision and recall of "anomaly when error >= threshold".
    pub fn precision_recall(&self, threshold: f32) -> (f32, f32) {
        metrics::precision_recall_at(&self.errors, &self.anomalous, threshold)
    }

    /// Indices of the `n` highest errors, highest first (NaN last).
    pub fn top(&self, n: usize) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..self.errors.len()).collect();
        idx.sort_by(|&a, &b| {
            let (x, y) = (self.errors[a], self.errors[b]);
            match (x.is_nan(), y.is_nan()) {
                (false, false) => y.total_cmp(&x).then(a.cmp(&b)),
                (nx, ny) => nx.cmp(&ny),
            }
        });
        idx.truncate(n);
        idx
    }
}

/// Scores every image of `test`: those outside `normal` are the anomalies.
pub fn score_held_out(
    model: &TrainedModel,
    test: &Split,
    normal: &[u8],
) -> Result<Scored, AnomalyError> {
    let errors = reconstruction_errors(model, &test.images)?;
    Ok(Scored {
        anomalous: test.labels.iter().map(|l| !normal.contains(l)).collect(),
        split: test.clone(),
        errors,
    })
}

/// Out of distribution: `test`'s images of the normal classes are the normals, every image of
/// `other` (another dataset's test split) is an anomaly.
pub fn score_ood(
    model: &TrainedModel,
    test: &Split,
    normal: &[u8],
    other: &Split,
) -> Result<Scored, AnomalyError> {
    let normals = test.filter_classes(normal);
    let mut images = normals.images;
    images.extend_from_slice(&other.images);
    let mut labels = normals.labels;
    let n_normal = labels.len();
    labels.extend_from_slice(&other.labels);
    let errors = reconstruction_errors(model, &images)?;
    let anomalous = (0..labels.len()).map(|i| i >= n_normal).collect();
    Ok(Scored {
        split: Split { images, labels },
        errors,
        anomalous,
    })
}

/// Parses a list of classes such as "0,1,2,3,4,5,6,8,9" (spaces allowed, duplicates ignored).
pub fn parse_classes(s: &str) -> Result<Vec<u8>, AnomalyError> {
    let mut out = Vec::new();
    for p in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let c: u8 = p
            .parse()
            .map_err(|_| AnomalyError::NotAClass(p.to_string()))?;
        if !out.contains(&c) {
            out.push(c);
        }
    }
    if out.is_empty() {
        return Err(AnomalyError::NoClass);
    }
    out.sort_unstable();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scored(errors: &[f32], anomalous: &[bool]) -> Scored {
        Scored {
            split: Split::default(),
            errors: errors.to_vec(),
            anomalous: anomalous.to_vec(),
        }
    }

    #[test]
    fn counts_auc_quantile_and_top() {
        let s = scored(
            &[0.1, 0.2, 0.9, 0.3, f32::NAN, 0.8],
            &[false, false, true, false, false, true],
        );
        assert_eq!(s.counts(), (4, 2));
        // Both anomalies beat every finite normal score; the NaN is skipped.
        assert_eq!(s.auc(), Some(1.0));
        assert_eq!(s.normal_quantile(0.0), Some(0.1));
        assert_eq!(s.normal_quantile(1.0), Some(0.3));
        assert_eq!(s.normal_quantile(0.5), Some(0.2));
        assert_eq!(s.top(3), vec![2, 5, 3]);
        assert_eq!(s.top(10).last(), Some(&4), "NaN last");
        assert_eq!(s.precision_recall(0.5), (1.0, 1.0));
        assert_eq!(scored(&[0.1], &[false]).auc(), None);
        assert_eq!(scored(&[], &[]).normal_quantile(0.95), None);
    }

    #[test]
    fn classes_parse() {
        assert_eq!(parse_classes("0, 1,2,1").unwrap(), vec![0, 1, 2]);
        assert_eq!(parse_classes("9,3").unwrap(), vec![3, 9]);
        assert!(parse_classes("0,x")
            .unwrap_err()
            .to_string()
            .contains("'x'"));
        assert!(parse_classes("300").is_err());
        assert!(parse_classes(" , ").is_err());
    }

    #[test]
    fn settings_are_checked() {
        let s = DetectorSettings::all_but(7, 10);
        assert_eq!(s.normal, vec![0, 1, 2, 3, 4, 5, 6, 8, 9]);
        assert!(s.validate(10).is_ok());
        assert!(s.validate(5).unwrap_err().to_string().contains("class 5"));
        let none = DetectorSettings {
            normal: vec![],
            ..s.clone()
        };
        assert!(none.validate(10).is_err());
        let zero = DetectorSettings { epochs: 0, ..s };
        assert!(zero
            .validate(10)
            .unwrap_err()
            .to_string()
            .contains("epochs"));
    }
}
