//! What defines a model and a training run: the variant presets (dense, deep, conv,
//! denoising, sparse, contractive, VAE, linear), the architecture, the loss and the
//! optimiser settings. Serialised into every saved model's JSON sidecar. Also owns checking
//! them ([`TrainConfig::validate`], [`ConfigError`]), switching presets
//! ([`TrainConfig::apply_preset`]), fitting a preset's schedule to a data set's size
//! ([`TrainConfig::schedule_for`]) and parsing layer sizes ([`parse_sizes`]).

use serde::{Deserialize, Serialize};

use super::term::Term;
use crate::data::NoiseKind;

/// Why a [`TrainConfig`] cannot train (its message is one sentence, shown as is in the UI).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("latent size must be between 1 and 784, got {0}")]
    Latent(usize),
    #[error("hidden layer sizes must be between 1 and 8192, got {0}")]
    HiddenSize(usize),
    #[error("at most 8 hidden layers")]
    TooManyHidden,
    #[error("a conv autoencoder needs 1 to 3 convolution layers")]
    ConvLayers,
    #[error("conv channels must be between 1 and 256, got {0}")]
    Channels(usize),
    #[error("a VAE needs at least one hidden layer")]
    VaeHidden,
    #[error("BCE needs outputs in [0, 1]: use MSE with a linear output")]
    BceLinear,
    #[error("learning rate must be positive, got {0}")]
    LearningRate(f64),
    #[error("batch size must be between 1 and 8192, got {0}")]
    Batch(usize),
    #[error("epochs must be between 1 and 100000, got {0}")]
    Epochs(usize),
    #[error("{name} must be zero or positive, got {value}")]
    Negative { name: &'static str, value: f32 },
    #[error("noise factor must be between 0 and 1, got {0}")]
    NoiseFactor(f32),
    #[error("a conditional VAE needs 2 to 256 classes, got {0}")]
    Classes(usize),
    #[error("only a VAE can be conditioned on the class")]
    ClassesNotVae,
}

/// A list of layer sizes that does not parse: the part that is not a number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a layer size (expected numbers like 256,128)")]
pub struct SizesError(pub String);

/// Parses layer sizes written like "256,128" (spaces allowed; empty means no layers), as the
/// settings form and `--hidden` / `--channels` take them.
pub fn parse_sizes(s: &str) -> Result<Vec<usize>, SizesError> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<usize>().map_err(|_| SizesError(p.to_string())))
        .collect()
}

/// The kinds of autoencoder a user picks from. Each is a preset over [`TrainConfig`]; the
/// regularisers (noise, L1, contractive) can also be combined with any architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    #[default]
    Dense,
    Deep,
    Conv,
    Denoising,
    Sparse,
    Contractive,
    Vae,
    Linear,
    /// Conditional VAE: the class label goes into the encoder and the decoder.
    Cvae,
}

impl Variant {
    pub const ALL: [Variant; 9] = [
        Variant::Dense,
        Variant::Deep,
        Variant::Conv,
        Variant::Denoising,
        Variant::Sparse,
        Variant::Contractive,
        Variant::Vae,
        Variant::Linear,
        Variant::Cvae,
    ];

    /// The command-line spelling.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Dense => "dense",
            Variant::Deep => "deep",
            Variant::Conv => "conv",
            Variant::Denoising => "denoising",
            Variant::Sparse => "sparse",
            Variant::Contractive => "contractive",
            Variant::Vae => "vae",
            Variant::Linear => "linear",
            Variant::Cvae => "cvae",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Variant::Dense => "Dense",
            Variant::Deep => "Deep",
            Variant::Conv => "Convolutional",
            Variant::Denoising => "Denoising",
            Variant::Sparse => "Sparse",
            Variant::Contractive => "Contractive",
            Variant::Vae => "Variational (VAE)",
            Variant::Linear => "Linear (PCA-like)",
            Variant::Cvae => "Conditional VAE (CVAE)",
        }
    }

    pub fn parse(s: &str) -> Option<Variant> {
        Self::ALL
            .into_iter()
            .find(|v| v.name().eq_ignore_ascii_case(s.trim()))
    }
}

impl std::fmt::Display for Variant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The network's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// Fully connected encoder and mirrored decoder.
    #[default]
    Dense,
    /// Strided 3×3 convolutions down, transposed convolutions up, a dense code between.
    Conv,
    /// Dense variational autoencoder: the encoder outputs μ and log σ².
    Vae,
}

/// Nonlinearity of the hidden layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    #[default]
    Relu,
    /// No nonlinearity: with a linear output this is the linear autoencoder that PCA solves.
    Identity,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub arch: Arch,
    /// Size of the code (the bottleneck).
    pub latent: usize,
    /// Hidden layer widths of a dense encoder, input side first; the decoder mirrors them.
    pub hidden: Vec<usize>,
    /// Channels of each stride-2 convolution of a conv encoder (28→14→7…).
    pub channels: Vec<usize>,
    pub activation: Activation,
    /// Sigmoid on the output so reconstructions lie in [0, 1]; off for the linear AE.
    pub sigmoid_output: bool,
    /// Activation of the code itself. Bottleneck's own models have a linear code; a model
    /// imported from a tutorial may have a ReLU code (Keras' `Dense(32, activation="relu")`).
    #[serde(default = "Activation::linear_code")]
    pub code_activation: Activation,
    /// Hidden widths of a dense decoder, code side first, when they are not the encoder's
    /// mirrored (only imported models; `None` mirrors `hidden`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoder_hidden: Option<Vec<usize>>,
    /// Classes of a conditional VAE: the one-hot label (this many values) is appended to the
    /// encoder's input and to the decoder's input. 0 for every other model.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub classes: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Activation {
    /// The code's activation of Bottleneck's own models (and of a sidecar written before the
    /// field existed).
    pub fn linear_code() -> Self {
        Activation::Identity
    }

    /// "ReLU" or "linear".
    pub fn label(self) -> &'static str {
        match self {
            Activation::Relu => "ReLU",
            Activation::Identity => "linear",
        }
    }

    /// The command-line spelling: `relu` or `linear` (`identity` and `none` are accepted too).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "relu" => Some(Activation::Relu),
            "linear" | "identity" | "none" => Some(Activation::Identity),
            _ => None,
        }
    }
}

impl ModelConfig {
    /// Hidden widths of the decoder, code side first.
    pub fn decoder_widths(&self) -> Vec<usize> {
        match &self.decoder_hidden {
            Some(d) => d.clone(),
            None => self.hidden.iter().rev().copied().collect(),
        }
    }

    /// Whether the model is Bottleneck's own shape: linear code, mirrored decoder (what the
    /// fused training engines compute).
    pub fn is_standard(&self) -> bool {
        self.code_activation == Activation::Identity && self.decoder_hidden.is_none()
    }
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            arch: Arch::Dense,
            latent: 32,
            hidden: vec![256, 128],
            channels: vec![16, 32],
            activation: Activation::Relu,
            sigmoid_output: true,
            code_activation: Activation::Identity,
            decoder_hidden: None,
            classes: 0,
        }
    }
}

/// Reconstruction loss, per pixel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LossKind {
    #[default]
    Mse,
    Bce,
}

impl LossKind {
    pub fn name(self) -> &'static str {
        match self {
            LossKind::Mse => "mse",
            LossKind::Bce => "bce",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    #[default]
    Adam,
    AdamW,
}

/// Input corruption of a denoising autoencoder: corrupted input, clean target.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct NoiseSpec {
    pub kind: NoiseKind,
    pub factor: f32,
}

/// Number of training images the presets' epochs were chosen for (the embedded digits).
pub const PRESET_TRAIN_IMAGES: usize = 8_000;
/// A fitted schedule never goes past this many epochs (a run on a handful of images).
pub const MAX_FITTED_EPOCHS: usize = 1_000;

/// How many epochs a run takes on a data set of a given size when the user left the preset's
/// epochs alone: enough optimizer steps to match the preset's schedule on 8,000 images.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// The preset's epochs (what the form shows).
    pub preset_epochs: usize,
    /// The epochs the run takes.
    pub epochs: usize,
    pub batch: usize,
    /// Training images.
    pub n_train: usize,
    /// Optimizer steps of the fitted run (epochs × ceil(n / batch)).
    pub steps: usize,
    /// Optimizer steps of the preset on 8,000 images (its step budget).
    pub budget: usize,
}

impl Schedule {
    /// Whether the run takes other epochs than the preset's.
    pub fn changed(&self) -> bool {
        self.epochs != self.preset_epochs
    }

    /// One line saying what was chosen and why, e.g. "54 epochs instead of 10 for 1,438
    /// images: 324 steps of 256, as the preset's 8,000-image schedule (320 steps)" (plain
    /// characters only: the app's font has no arrows).
    pub fn describe(&self) -> String {
        format!(
            "{} epochs instead of {} for {} images: {} steps of {}, as the preset's {}-image \
             schedule ({} steps)",
            self.epochs,
            self.preset_epochs,
            thousands(self.n_train),
            thousands(self.steps),
            self.batch,
            thousands(PRESET_TRAIN_IMAGES),
            thousands(self.budget)
        )
    }
}

/// 1438 → "1,438".
pub fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Everything that defines a training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub variant: Variant,
    pub model: ModelConfig,
    pub loss: LossKind,
    /// Denoising: corrupt the input, reconstruct the clean image.
    pub noise: Option<NoiseSpec>,
    /// Sparse: weight of the L1 penalty on the code (mean over the batch of Σ|z|).
    pub l1: f32,
    /// Contractive: weight of the squared Frobenius norm of the encoder's Jacobian.
    pub contractive: f32,
    /// VAE: weight of the KL term.
    pub beta: f32,
    pub optimizer: OptimizerKind,
    /// Decoupled weight decay (AdamW only).
    pub weight_decay: f32,
    pub lr: f64,
    pub batch: usize,
    pub epochs: usize,
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self::preset(Variant::Dense, 32)
    }
}

impl TrainConfig {
    /// The settings each variant starts from.
    pub fn preset(variant: Variant, latent: usize) -> Self {
        let mut c = TrainConfig {
            variant,
            model: ModelConfig {
                latent,
                ..ModelConfig::default()
            },
            loss: LossKind::Mse,
            noise: None,
            l1: 0.0,
            contractive: 0.0,
            beta: 1.0,
            optimizer: OptimizerKind::Adam,
            weight_decay: 0.0,
            lr: 1e-3,
            batch: 256,
            epochs: 10,
            seed: 42,
        };
        match variant {
            Variant::Dense => {}
            Variant::Deep => c.model.hidden = vec![512, 256, 128],
            Variant::Conv => {
                c.model.arch = Arch::Conv;
                // At batch 256 an epoch of 8,000 digits is only 31 steps, and the conv AE sat
                // near the mean image (test MSE 0.068 at k = 2 and k = 32 after 3 epochs, lr
                // 3e-3). Batch 32 with lr 2e-3 leaves it in the first two epochs and passes
                // PCA by the third (seed 1: 0.0544 at k = 2, PCA 0.0555; 0.0124 at k = 32).
                c.batch = 32;
                c.lr = 2e-3;
            }
            Variant::Denoising => {
                c.noise = Some(NoiseSpec {
                    kind: NoiseKind::Gaussian,
                    factor: 0.5,
                })
            }
            Variant::Sparse => c.l1 = 1e-3,
            Variant::Contractive => c.contractive = 1e-2,
            Variant::Vae => {
                c.model.arch = Arch::Vae;
                c.loss = LossKind::Bce;
            }
            Variant::Cvae => {
                // The digits' ten classes; a run on another data set takes its class count
                // (`Trainer::new`). Measured on the built-in digits (engine test `generate`:
                // 100 held-out digits written as all ten classes, judged by the pixel probe):
                // at 20 epochs, k = 4, β = 1 the probe recognised 87 % as the class asked for,
                // β = 2 95 % (k = 2: 98 %, k = 8: 83 %; β = 4 at k = 8: 99 % but less style
                // kept). β = 2 pushes what the label says out of z.
                c.model.arch = Arch::Vae;
                c.model.classes = 10;
                c.loss = LossKind::Bce;
                c.beta = 2.0;
                c.epochs = 20;
            }
            Variant::Linear => {
                c.model.hidden = vec![];
                c.model.activation = Activation::Identity;
                c.model.sigmoid_output = false;
                c.lr = 3e-3;
            }
        }
        c
    }

    /// Switches to `variant`'s preset, keeping the latent size, epochs, batch and seed (what the
    /// settings form does when the variant changes, and how run B's settings are made). A
    /// batch size still at the old preset's value is not a choice the user made: it becomes
    /// the new preset's (the conv preset trains in smaller batches).
    pub fn apply_preset(&mut self, variant: Variant) {
        let old = TrainConfig::preset(self.variant, self.model.latent);
        let old_default = old.batch;
        let mut p = TrainConfig::preset(variant, self.model.latent);
        // Epochs still at the old preset's are no choice either (the CVAE's preset trains
        // longer than the others' 10).
        if self.epochs != old.epochs {
            p.epochs = self.epochs;
        }
        if self.batch != old_default {
            p.batch = self.batch;
        }
        p.seed = self.seed;
        *self = p;
    }

    /// The schedule this configuration's epochs stand for on `n_train` training images. The
    /// presets were tuned on 8,000 images, so their step budget is epochs × ceil(8000 / batch)
    /// (10 × 32 = 320 steps at batch 256); on fewer images the run takes as many epochs as
    /// reach that budget (never fewer than set, at most [`MAX_FITTED_EPOCHS`]). Measured on
    /// 1,438 Fashion-MNIST images at k = 2: 10 epochs end at test MSE 0.061, behind PCA's
    /// 0.044; the fitted 54 epochs reach 0.034 in 9 s on 2 cores. On 8,000 images or more it
    /// changes nothing.
    pub fn schedule_for(&self, n_train: usize) -> Schedule {
        let batch = self.batch.max(1);
        let budget = self
            .epochs
            .saturating_mul(PRESET_TRAIN_IMAGES.div_ceil(batch));
        let per_epoch = n_train.div_ceil(batch).max(1);
        let epochs = if n_train == 0 {
            self.epochs
        } else {
            budget
                .div_ceil(per_epoch)
                .min(MAX_FITTED_EPOCHS)
                .max(self.epochs)
        };
        Schedule {
            preset_epochs: self.epochs,
            epochs,
            batch,
            n_train,
            steps: epochs.saturating_mul(per_epoch),
            budget,
        }
    }

    /// Whether the epochs and batch are still the variant preset's (the user chose neither).
    pub fn has_preset_schedule(&self) -> bool {
        let p = TrainConfig::preset(self.variant, self.model.latent);
        self.epochs == p.epochs && self.batch == p.batch
    }

    /// Checks the settings; the error's message is a one-sentence reason they cannot train.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let m = &self.model;
        if m.latent == 0 || m.latent > 784 {
            return Err(ConfigError::Latent(m.latent));
        }
        let widths = m.hidden.iter().chain(m.decoder_hidden.iter().flatten());
        if let Some(&h) = widths.clone().find(|&&h| h == 0 || h > 8192) {
            return Err(ConfigError::HiddenSize(h));
        }
        if m.hidden.len() > 8 || m.decoder_widths().len() > 8 {
            return Err(ConfigError::TooManyHidden);
        }
        if m.arch == Arch::Conv {
            if m.channels.is_empty() || m.channels.len() > 3 {
                return Err(ConfigError::ConvLayers);
            }
            if let Some(&c) = m.channels.iter().find(|&&c| c == 0 || c > 256) {
                return Err(ConfigError::Channels(c));
            }
        }
        if m.classes > 0 && m.arch != Arch::Vae {
            return Err(ConfigError::ClassesNotVae);
        }
        if (self.variant == Variant::Cvae || m.classes > 0) && !(2..=256).contains(&m.classes) {
            return Err(ConfigError::Classes(m.classes));
        }
        if m.arch == Arch::Vae && m.hidden.is_empty() {
            return Err(ConfigError::VaeHidden);
        }
        if self.loss == LossKind::Bce && !m.sigmoid_output {
            return Err(ConfigError::BceLinear);
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(ConfigError::LearningRate(self.lr));
        }
        if self.batch == 0 || self.batch > 8192 {
            return Err(ConfigError::Batch(self.batch));
        }
        if self.epochs == 0 || self.epochs > 100_000 {
            return Err(ConfigError::Epochs(self.epochs));
        }
        for (name, value) in [
            ("L1 weight", self.l1),
            ("contractive weight", self.contractive),
            ("beta", self.beta),
            ("weight decay", self.weight_decay),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(ConfigError::Negative { name, value });
            }
        }
        if let Some(n) = self.noise {
            if !(n.factor.is_finite() && (0.0..=1.0).contains(&n.factor)) {
                return Err(ConfigError::NoiseFactor(n.factor));
            }
        }
        Ok(())
    }

    /// Loss terms this configuration produces, in display order (always ends with `Total`).
    pub fn terms(&self) -> Vec<Term> {
        let mut t = vec![Term::Reconstruction];
        if self.model.arch == Arch::Vae {
            t.push(Term::Kl);
        }
        if self.l1 > 0.0 {
            t.push(Term::L1);
        }
        if self.contractive > 0.0 {
            t.push(Term::Contractive);
        }
        t.push(Term::Total);
        t
    }

    /// One line describing the model, e.g. "dense 784-256-128-32, MSE".
    pub fn describe(&self) -> String {
        let m = &self.model;
        let shape = match m.arch {
            // The variant's name already says "conv": "conv 16-32-32, MSE".
            Arch::Conv => format!(
                "{}-{}",
                m.channels
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join("-"),
                m.latent
            ),
            Arch::Vae if m.classes > 0 => {
                // "cvae 784+10-256-128-8, BCE": the label goes in beside the pixels.
                let mut s = vec![format!("784+{}", m.classes)];
                s.extend(m.hidden.iter().chain([&m.latent]).map(|v| v.to_string()));
                s.join("-")
            }
            _ => {
                let mut s = vec![784];
                s.extend(&m.hidden);
                s.push(m.latent);
                if m.decoder_hidden.is_some() {
                    s.extend(m.decoder_widths());
                    s.push(784);
                }
                s.iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join("-")
            }
        };
        format!(
            "{} {}, {}",
            self.variant,
            shape,
            self.loss.name().to_uppercase()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conv_model_is_described_with_conv_once() {
        // It read "conv conv 16-32-32, MSE".
        let d = TrainConfig::preset(Variant::Conv, 32).describe();
        assert_eq!(d.matches("conv").count(), 1, "{d}");
        assert!(d.starts_with("conv 16-32-32"), "{d}");
    }

    #[test]
    fn every_preset_is_valid() {
        for v in Variant::ALL {
            let c = TrainConfig::preset(v, 2);
            assert_eq!(c.validate(), Ok(()), "{v}");
            assert_eq!(Variant::parse(v.name()), Some(v));
        }
    }

    #[test]
    fn invalid_settings_are_explained() {
        let mut c = TrainConfig::preset(Variant::Dense, 0);
        assert!(c.validate().unwrap_err().to_string().contains("latent"));
        c.model.latent = 2;
        c.lr = -1.0;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("learning rate"));
        let mut l = TrainConfig::preset(Variant::Linear, 2);
        l.loss = LossKind::Bce;
        assert!(l.validate().unwrap_err().to_string().contains("BCE"));
    }

    #[test]
    fn sizes_parse_or_name_the_bad_part() {
        assert_eq!(parse_sizes(" 256, 128 "), Ok(vec![256, 128]));
        assert_eq!(parse_sizes(""), Ok(vec![]));
        let e = parse_sizes("256,x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "'x' is not a layer size (expected numbers like 256,128)"
        );
    }

    #[test]
    fn a_preset_keeps_the_run_settings() {
        let mut c = TrainConfig::preset(Variant::Dense, 7);
        (c.epochs, c.batch, c.seed, c.lr) = (3, 64, 9, 0.5);
        c.apply_preset(Variant::Conv);
        assert_eq!((c.model.latent, c.epochs, c.batch, c.seed), (7, 3, 64, 9));
        assert_eq!(c.model.arch, Arch::Conv);
        assert_eq!(c.lr, TrainConfig::preset(Variant::Conv, 7).lr);
    }

    #[test]
    fn a_default_batch_follows_the_preset() {
        let mut c = TrainConfig::preset(Variant::Dense, 2);
        c.apply_preset(Variant::Conv);
        assert_eq!(c.batch, TrainConfig::preset(Variant::Conv, 2).batch);
        assert_ne!(c.batch, TrainConfig::preset(Variant::Dense, 2).batch);
        c.apply_preset(Variant::Vae);
        assert_eq!(c.batch, TrainConfig::preset(Variant::Vae, 2).batch);
    }

    #[test]
    fn a_schedule_keeps_the_presets_step_budget() {
        let c = TrainConfig::preset(Variant::Dense, 2);
        // The embedded digits keep today's schedule exactly.
        let s = c.schedule_for(PRESET_TRAIN_IMAGES);
        assert_eq!((s.epochs, s.batch, s.steps, s.budget), (10, 256, 320, 320));
        assert!(!s.changed());
        // 1,438 images: 6 steps an epoch, 54 epochs reach the 320-step budget.
        let s = c.schedule_for(1438);
        assert_eq!((s.epochs, s.steps, s.budget), (54, 324, 320));
        assert_eq!(
            s.describe(),
            "54 epochs instead of 10 for 1,438 images: 324 steps of 256, as the preset's \
             8,000-image schedule (320 steps)"
        );
        // Bigger data sets never get fewer epochs than set; tiny ones are capped.
        assert_eq!(c.schedule_for(60_000).epochs, 10);
        assert_eq!(c.schedule_for(1).epochs, 320);
        let mut long = c.clone();
        long.epochs = 50;
        assert_eq!(long.schedule_for(10).epochs, MAX_FITTED_EPOCHS);
        assert_eq!(c.schedule_for(0).epochs, 10);
        // The conv preset's batch of 32: 250 steps an epoch on 8,000 images.
        let conv = TrainConfig::preset(Variant::Conv, 2);
        assert_eq!(conv.schedule_for(8000).epochs, conv.epochs);
        assert_eq!(conv.schedule_for(1438).epochs, 2500usize.div_ceil(45));
        assert!(c.has_preset_schedule());
        assert!(!long.has_preset_schedule());
    }

    #[test]
    fn config_round_trips_through_json() {
        let c = TrainConfig::preset(Variant::Denoising, 8);
        let s = serde_json::to_string(&c).unwrap();
        let back: TrainConfig = serde_json::from_str(&s).unwrap();
        assert_eq!(c, back);
    }
}
