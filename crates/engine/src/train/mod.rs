//! Training. [`Trainer`] owns a model, its optimiser state and a dataset, and advances one
//! mini-batch per [`Trainer::step`], so a caller can pause, resume or stop between any two
//! steps: the command line loops over it, the app's worker thread (`worker`) drives it from
//! typed commands. Three engines compute a step: candle's autograd with its AdamW (every
//! architecture and regulariser), and two hand-written forward/backward passes that compute
//! the same gradients several times faster: `fused` for dense models and VAEs, `fused_conv`
//! for the convolutional autoencoder, both layer code on one `framework` (batch split over the
//! threads, gradient fold, Adam through `kernels`). A step whose loss is not
//! finite, or whose smoothed loss runs away, stops training and restores the last good weights.

mod cond;
pub mod framework;
pub mod fused;
pub mod fused_conv;
pub mod kernels;
pub mod slow_step;
#[cfg(test)]
mod test_support;
pub mod worker;

use std::sync::Arc;
use std::time::Instant;

use candle_core::{Device, Tensor, Var};
use candle_nn::optim::{AdamW, Optimizer, ParamsAdamW};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::data::{batch, noise, Batcher, Dataset, Split};
use crate::model::io::EpochRecord;
use crate::model::loss::{self, LossTerms, Term};
use crate::model::{Arch, Autoencoder, ConfigError, OptimizerKind, TrainConfig, TrainedModel};

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("invalid settings: {0}")]
    Config(ConfigError),
    #[error(
        "training diverged at epoch {epoch}, step {step}: {reason}. The weights were restored to \
         {restored}. Try a smaller learning rate."
    )]
    Diverged {
        epoch: usize,
        step: usize,
        reason: Divergence,
        restored: String,
    },
    #[error("the dataset's training split is empty")]
    EmptyData,
    /// A conditional VAE continued on a data set with other classes, or a step with no labels.
    #[error("{0}")]
    Classes(String),
    /// An imported graph run for inference only (the sentence says why).
    #[error("{0}")]
    InferenceOnly(&'static str),
    #[error("{0}")]
    Candle(#[from] candle_core::Error),
}

pub type Result<T, E = TrainError> = std::result::Result<T, E>;

/// Why the divergence guard stopped a run (the `reason` of [`TrainError::Diverged`]).
#[derive(Debug, thiserror::Error)]
pub enum Divergence {
    #[error("the loss became {0}")]
    LossNotFinite(f64),
    #[error(
        "the smoothed loss rose to {ema:.4}, more than {}× its best ({best:.4})",
        RUNAWAY_FACTOR
    )]
    Runaway { ema: f64, best: f64 },
    #[error("a weight became NaN or infinite")]
    WeightNotFinite,
    #[error(
        "the weights exploded (their RMS grew from {initial:.3} to {now:.3e}, over {}×)",
        WEIGHT_GROWTH_LIMIT
    )]
    WeightsExploded { initial: f64, now: f64 },
    /// The weights could not be read to check them.
    #[error("{0}")]
    Unreadable(candle_core::Error),
}

/// What one [`Trainer::step`] did.
#[derive(Clone, Debug)]
pub struct StepReport {
    /// 1-based epoch this step belongs to.
    pub epoch: usize,
    /// 1-based step within the epoch.
    pub step: usize,
    pub steps_per_epoch: usize,
    /// Loss terms of this batch (before the update).
    pub terms: LossTerms,
    pub batch_size: usize,
    pub seconds: f64,
    /// Set when this step finished an epoch: the epoch's train and test terms.
    pub epoch_done: Option<EpochRecord>,
}

/// Which engine computes the steps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EngineChoice {
    /// The fused engine where it supports the model, candle's autograd otherwise.
    #[default]
    Auto,
    /// Always candle's autograd (the reference the fused engine is tested against).
    Candle,
}

enum Engine {
    Candle(AdamW),
    Fused(Box<fused::FusedMlp>),
    FusedConv(Box<fused_conv::FusedConv>),
}

/// Weights kept to fall back to if training diverges.
struct Checkpoint {
    label: String,
    weights: Vec<(String, Tensor)>,
}

/// Watches the loss for divergence: a non-finite value, or an exponential moving average that
/// climbs far above the best it has reached.
#[derive(Clone, Debug)]
struct Guard {
    ema: Option<f64>,
    best: f64,
    steps: usize,
}

const EMA_ALPHA: f64 = 0.1;
/// How far above its best the smoothed loss may climb before the run counts as diverged.
const RUNAWAY_FACTOR: f64 = 3.0;
/// Steps before the runaway test applies (the first steps of any run are noisy).
const GUARD_WARMUP: usize = 5;
/// How far the weights' RMS may grow over its initial value before the run counts as
/// diverged. A sigmoid output keeps an MSE bounded however large the weights get, so with a
/// huge learning rate the loss alone may never blow up: the weights do.
const WEIGHT_GROWTH_LIMIT: f64 = 100.0;

impl Guard {
    fn new() -> Self {
        Self {
            ema: None,
            best: f64::INFINITY,
            steps: 0,
        }
    }
    /// `Err(reason)` when `loss` means the run diverged; `Ok(true)` when the smoothed loss
    /// reached a new best.
    fn observe(&mut self, loss: f64) -> Result<bool, Divergence> {
        if !loss.is_finite() {
            return Err(Divergence::LossNotFinite(loss));
        }
        self.steps += 1;
        let ema = match self.ema {
            None => loss,
            Some(e) => e + EMA_ALPHA * (loss - e),
        };
        self.ema = Some(ema);
        if self.steps > GUARD_WARMUP && ema > RUNAWAY_FACTOR * self.best {
            return Err(Divergence::Runaway {
                ema,
                best: self.best,
            });
        }
        if ema < self.best {
            self.best = ema;
            return Ok(true);
        }
        Ok(false)
    }
}

pub struct Trainer {
    cfg: TrainConfig,
    data: Arc<Dataset>,
    model: TrainedModel,
    engine: Engine,
    batcher: Batcher,
    rng: ChaCha8Rng,
    /// Completed epochs.
    epoch: usize,
    /// Steps taken in all.
    global_step: usize,
    // Running sums for the epoch in progress.
    epoch_terms: LossTerms,
    epoch_samples: usize,
    epoch_seconds: f64,
    // Reused batch buffers.
    clean: Vec<f32>,
    input: Vec<f32>,
    labels: Vec<u8>,
    guard: Guard,
    checkpoint: Checkpoint,
    steps_since_checkpoint: usize,
    initial_rms: f64,
}

/// Gives the fixed seed for evaluation noise, so test losses are comparable between epochs.
const EVAL_SEED: u64 = 0x5eed_e7a1;

impl Trainer {
    pub fn new(cfg: TrainConfig, data: Arc<Dataset>) -> Result<Self> {
        Self::with_engine(cfg, data, EngineChoice::Auto)
    }

    pub fn with_engine(
        mut cfg: TrainConfig,
        data: Arc<Dataset>,
        engine: EngineChoice,
    ) -> Result<Self> {
        if cfg.model.classes > 0 {
            // A conditional VAE takes the data set's classes.
            cfg.model.classes = data.label_classes();
        }
        cfg.validate().map_err(TrainError::Config)?;
        let model = TrainedModel::new(&cfg, &data.name)?;
        Self::from_model_with(model, data, engine)
    }

    /// Continues training `model` (its config decides the settings; its history is kept).
    pub fn from_model(model: TrainedModel, data: Arc<Dataset>) -> Result<Self> {
        Self::from_model_with(model, data, EngineChoice::Auto)
    }

    pub fn from_model_with(
        model: TrainedModel,
        data: Arc<Dataset>,
        choice: EngineChoice,
    ) -> Result<Self> {
        if let Some(why) = model.inference_only() {
            return Err(TrainError::InferenceOnly(why));
        }
        let cfg = model.config().clone();
        cfg.validate().map_err(TrainError::Config)?;
        if data.train.is_empty() {
            return Err(TrainError::EmptyData);
        }
        let classes = cfg.model.classes;
        if classes > 0 && data.label_classes() > classes {
            return Err(TrainError::Classes(format!(
                "this conditional VAE knows {classes} classes, but {} has {}: train a new one \
                 on it",
                data.name,
                data.label_classes()
            )));
        }
        let engine = if choice == EngineChoice::Auto && fused::FusedMlp::supports(&cfg) {
            Engine::Fused(Box::new(fused::FusedMlp::new(&cfg, &model.varmap)?))
        } else if choice == EngineChoice::Auto && fused_conv::FusedConv::supports(&cfg) {
            Engine::FusedConv(Box::new(fused_conv::FusedConv::new(&cfg, &model.varmap)?))
        } else {
            let params = ParamsAdamW {
                lr: cfg.lr,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: match cfg.optimizer {
                    OptimizerKind::Adam => 0.0,
                    OptimizerKind::AdamW => cfg.weight_decay as f64,
                },
            };
            Engine::Candle(AdamW::new(model.varmap.all_vars(), params)?)
        };
        let batcher = Batcher::new(data.train.len(), cfg.batch, cfg.seed);
        let checkpoint = Checkpoint {
            label: if model.meta.epochs_trained == 0 {
                "their initial values (before training)".into()
            } else {
                format!("the end of epoch {}", model.meta.epochs_trained)
            },
            weights: copy_weights(&model)?,
        };
        let initial_rms = weights_rms(&model)?;
        Ok(Self {
            initial_rms,
            rng: ChaCha8Rng::seed_from_u64(cfg.seed.wrapping_add(1)),
            epoch: model.meta.epochs_trained,
            cfg,
            data,
            model,
            engine,
            batcher,
            global_step: 0,
            epoch_terms: LossTerms::default(),
            epoch_samples: 0,
            epoch_seconds: 0.0,
            clean: Vec::new(),
            input: Vec::new(),
            labels: Vec::new(),
            guard: Guard::new(),
            checkpoint,
            steps_since_checkpoint: 0,
        })
    }

    pub fn config(&self) -> &TrainConfig {
        &self.cfg
    }
    pub fn dataset(&self) -> &Arc<Dataset> {
        &self.data
    }
    /// Epochs completed so far.
    pub fn epochs_done(&self) -> usize {
        self.epoch
    }
    /// True once the configured number of epochs has been trained.
    pub fn is_finished(&self) -> bool {
        self.epoch >= self.cfg.epochs
    }
    pub fn steps_per_epoch(&self) -> usize {
        self.batcher.batches_per_epoch()
    }
    /// Whether the fast fused engine trains this model.
    pub fn is_fused(&self) -> bool {
        matches!(self.engine, Engine::Fused(_) | Engine::FusedConv(_))
    }
    pub fn history(&self) -> &[EpochRecord] {
        &self.model.meta.history
    }

    /// Trains one mini-batch.
    pub fn step(&mut self) -> Result<StepReport> {
        self.step_with(None)
    }

    /// [`Trainer::step`], recording what it does when `rec` is given (`slow_step`).
    fn step_with(&mut self, rec: Option<&mut slow_step::Recorder>) -> Result<StepReport> {
        let idx = match self.batcher.next_indices() {
            Some(i) => i.to_vec(),
            None => {
                self.batcher.next_epoch();
                self.batcher
                    .next_indices()
                    .expect("non-empty split")
                    .to_vec()
            }
        };
        let step_in_epoch = self.batcher.position();
        batch::gather(&self.data.train, &idx, &mut self.clean, &mut self.labels);
        let b = idx.len();
        let started = Instant::now();
        let terms = self.train_batch(b, step_in_epoch, rec)?;
        let seconds = started.elapsed().as_secs_f64();
        self.epoch_terms.add_scaled(&terms, b as f64);
        self.epoch_samples += b;
        self.epoch_seconds += seconds;

        let mut report = StepReport {
            epoch: self.epoch + 1,
            step: step_in_epoch,
            steps_per_epoch: self.batcher.batches_per_epoch(),
            terms,
            batch_size: b,
            seconds,
            epoch_done: None,
        };
        if step_in_epoch == report.steps_per_epoch {
            report.epoch_done = Some(self.finish_epoch()?);
        }
        Ok(report)
    }

    /// Trains one mini-batch of the given rows (`rows.len() / 784` images, values in 0..1)
    /// instead of the next one of the data set: the same step as [`Trainer::step`] (the same
    /// noise, engine, update and divergence guard), but the batcher does not move and the
    /// epoch's running loss does not count it. Returns the loss terms before the update.
    pub fn step_on(&mut self, rows: &[f32]) -> Result<LossTerms> {
        let b = self.load_rows(rows)?;
        self.train_batch(b, self.batcher.position(), None)
    }

    /// Puts `rows` in the batch buffer; gives the number of rows.
    fn load_rows(&mut self, rows: &[f32]) -> Result<usize> {
        if self.cfg.model.classes > 0 {
            return Err(TrainError::Classes(format!(
                "{}; a step on rows of pixels has no classes",
                crate::model::cvae::NEEDS_CLASS
            )));
        }
        let b = rows.len() / crate::PIXELS;
        if b == 0 || !rows.len().is_multiple_of(crate::PIXELS) {
            return Err(TrainError::Candle(candle_core::Error::Msg(format!(
                "a step needs whole rows of {} values, got {}",
                crate::PIXELS,
                rows.len()
            ))));
        }
        self.clean.clear();
        self.clean.extend_from_slice(rows);
        Ok(b)
    }

    /// One step on the `b` rows in `self.clean`: corrupts them for a denoising model, runs the
    /// engine's forward, backward and update, and watches for divergence. `rec` records what
    /// the step does (before, the model as it is; the engine's own gradients and update;
    /// nothing else changes). Returns the loss terms before the update.
    fn train_batch(
        &mut self,
        b: usize,
        step_in_epoch: usize,
        mut rec: Option<&mut slow_step::Recorder>,
    ) -> Result<LossTerms> {
        if rec.is_some() {
            // The model's variables hold the weights the engine steps from.
            self.sync_weights()?;
        }
        // Only a denoising run needs a separate (corrupted) input.
        let input: &[f32] = match self.cfg.noise {
            Some(n) => {
                self.input.clear();
                self.input.extend_from_slice(&self.clean);
                noise::apply(n.kind, n.factor, &mut self.input, &mut self.rng);
                &self.input
            }
            None => &self.clean,
        };
        if let Some(r) = rec.as_deref_mut() {
            // A copy of the generator: the step draws the same noise from the original.
            r.before(&self.model, input, &self.clean, self.rng.clone())?;
        }
        let record = rec.map(|r| &mut r.record);
        let classes = self.cfg.model.classes;
        let onehot = if classes > 0 {
            Some(crate::model::cvae::one_hot_rows(&self.labels, classes)?)
        } else {
            None
        };
        let terms = match &mut self.engine {
            Engine::Fused(f) => {
                if let Some(y) = &onehot {
                    f.set_condition(y);
                }
                f.step_recorded(input, &self.clean, b, &mut self.rng, record)
                    .map_err(TrainError::from)
            }
            Engine::FusedConv(f) => f
                .step_recorded(input, &self.clean, b, None, record)
                .map_err(TrainError::from),
            Engine::Candle(opt) => candle_step(
                &self.cfg,
                &self.model,
                opt,
                input,
                &self.clean,
                &self.labels,
                &mut self.rng,
                record,
            ),
        }?;
        self.global_step += 1;

        let verdict = self.guard.observe(terms.total()).and_then(|best| {
            let rms = self.param_rms()?;
            if !rms.is_finite() {
                return Err(Divergence::WeightNotFinite);
            }
            if self.initial_rms > 0.0 && rms > WEIGHT_GROWTH_LIMIT * self.initial_rms {
                return Err(Divergence::WeightsExploded {
                    initial: self.initial_rms,
                    now: rms,
                });
            }
            Ok(best)
        });
        match verdict {
            Err(reason) => {
                self.restore_checkpoint()?;
                Err(TrainError::Diverged {
                    epoch: self.epoch + 1,
                    step: step_in_epoch,
                    reason,
                    restored: self.checkpoint.label.clone(),
                })
            }
            Ok(new_best) => {
                self.steps_since_checkpoint += 1;
                if new_best && self.steps_since_checkpoint >= 20 {
                    self.take_checkpoint(format!(
                        "epoch {}, step {step_in_epoch} (the best smoothed loss)",
                        self.epoch + 1
                    ))?;
                }
                Ok(terms)
            }
        }
    }

    fn finish_epoch(&mut self) -> Result<EpochRecord> {
        self.sync_weights()?;
        let mut train = std::mem::take(&mut self.epoch_terms);
        train.scale(1.0 / self.epoch_samples.max(1) as f64);
        let data = Arc::clone(&self.data);
        let test = self.evaluate(&data.test)?;
        self.epoch += 1;
        let rec = EpochRecord {
            epoch: self.epoch,
            train,
            test,
            samples_per_sec: self.epoch_samples as f64 / self.epoch_seconds.max(1e-9),
            seconds: self.epoch_seconds,
        };
        self.epoch_samples = 0;
        self.epoch_seconds = 0.0;
        self.model.meta.epochs_trained = self.epoch;
        crate::model::io::push_record(&mut self.model.meta.history, rec.clone());
        self.batcher.next_epoch();
        self.take_checkpoint(format!("the end of epoch {}", self.epoch))?;
        Ok(rec)
    }

    /// Trains until the end of the current epoch.
    pub fn run_epoch(&mut self) -> Result<EpochRecord> {
        loop {
            if let Some(e) = self.step()?.epoch_done {
                return Ok(e);
            }
        }
    }

    /// Writes the engine's weights into the model's variables (a no-op for candle's engine).
    pub fn sync_weights(&mut self) -> Result<()> {
        match &self.engine {
            Engine::Fused(f) => f.write_to(&self.model.varmap)?,
            Engine::FusedConv(f) => f.write_to(&self.model.varmap)?,
            Engine::Candle(_) => {}
        }
        Ok(())
    }

    /// Root mean square of all weights now.
    fn param_rms(&self) -> Result<f64, Divergence> {
        match &self.engine {
            Engine::Fused(f) => Ok(f.param_rms()),
            Engine::FusedConv(f) => Ok(f.param_rms()),
            Engine::Candle(_) => weights_rms(&self.model).map_err(Divergence::Unreadable),
        }
    }

    fn take_checkpoint(&mut self, label: String) -> Result<()> {
        self.sync_weights()?;
        self.checkpoint = Checkpoint {
            label,
            weights: copy_weights(&self.model)?,
        };
        self.steps_since_checkpoint = 0;
        Ok(())
    }

    fn restore_checkpoint(&mut self) -> Result<()> {
        {
            let data = self.model.varmap.data().lock().expect("varmap lock");
            for (name, t) in &self.checkpoint.weights {
                if let Some(v) = data.get(name) {
                    v.set(t)?;
                }
            }
        }
        match &mut self.engine {
            Engine::Fused(f) => f.read_from(&self.model.varmap)?,
            Engine::FusedConv(f) => f.read_from(&self.model.varmap)?,
            Engine::Candle(_) => {}
        }
        Ok(())
    }

    /// A copy of the model as it is now, for inference elsewhere (safe to send to other threads).
    pub fn snapshot(&mut self) -> Result<TrainedModel> {
        self.sync_weights()?;
        Ok(TrainedModel::from_varmap(
            self.model.meta.clone(),
            &self.model.varmap,
        )?)
    }

    /// The loss terms of the training objective on `split`, plus "mse": the plain per-pixel MSE
    /// of reconstructing clean inputs deterministically (μ for a VAE). Noise, VAE sampling and
    /// Jacobian probes use a fixed seed, so successive evaluations are comparable.
    pub fn evaluate(&mut self, split: &Split) -> Result<LossTerms> {
        self.sync_weights()?;
        Ok(evaluate(&self.model, split)?)
    }

    pub fn model(&self) -> &TrainedModel {
        &self.model
    }
}

/// See [`Trainer::evaluate`]; usable on any model.
pub fn evaluate(model: &TrainedModel, split: &Split) -> candle_core::Result<LossTerms> {
    let cfg = model.config();
    let mut rng = ChaCha8Rng::seed_from_u64(EVAL_SEED);
    let mut sum = LossTerms::default();
    let n = split.len();
    const CHUNK: usize = 500;
    let mut input = Vec::new();
    let mut start = 0;
    while start < n {
        let end = (start + CHUNK).min(n);
        let b = end - start;
        let clean = &split.images[start * crate::PIXELS..end * crate::PIXELS];
        input.clear();
        input.extend_from_slice(clean);
        if let Some(nz) = cfg.noise {
            noise::apply(nz.kind, nz.factor, &mut input, &mut rng);
        }
        let x = Tensor::from_slice(&input, (b, crate::PIXELS), &Device::Cpu)?;
        let target = Tensor::from_slice(clean, (b, crate::PIXELS), &Device::Cpu)?;
        let y = one_hot_for(cfg, &split.labels[start..end])?;
        let (terms, _) = objective_terms(cfg, &model.model, &x, &target, y.as_ref(), &mut rng)?;
        let mut t = loss::to_terms(&terms)?;
        let det = model.model.forward_cond(&target, y.as_ref(), None)?;
        t.set(
            Term::Mse,
            (det.recon - &target)?
                .sqr()?
                .mean_all()?
                .to_scalar::<f32>()? as f64,
        );
        sum.add_scaled(&t, b as f64);
        start = end;
    }
    sum.scale(1.0 / n.max(1) as f64);
    Ok(sum)
}

fn randn(rng: &mut ChaCha8Rng, shape: (usize, usize)) -> candle_core::Result<Tensor> {
    let v: Vec<f32> = (0..shape.0 * shape.1)
        .map(|_| StandardNormal.sample(rng))
        .collect();
    Tensor::from_vec(v, shape, &Device::Cpu)
}

/// The rows' one-hot classes when `cfg` is a conditional VAE's.
pub(crate) fn one_hot_for(cfg: &TrainConfig, labels: &[u8]) -> candle_core::Result<Option<Tensor>> {
    match cfg.model.classes {
        0 => Ok(None),
        c => crate::model::cvae::one_hot(labels, c).map(Some),
    }
}

/// Forward pass and objective with candle tensors (autograd-ready). `y`: the rows' one-hot
/// classes, for a conditional VAE.
pub(crate) fn objective_terms(
    cfg: &TrainConfig,
    model: &Autoencoder,
    x: &Tensor,
    target: &Tensor,
    y: Option<&Tensor>,
    rng: &mut ChaCha8Rng,
) -> candle_core::Result<(Vec<(Term, Tensor)>, Tensor)> {
    let b = x.dim(0)?;
    let eps = if cfg.model.arch == Arch::Vae {
        Some(randn(rng, (b, cfg.model.latent))?)
    } else {
        None
    };
    let fwd = model.forward_cond(x, y, eps.as_ref())?;
    let jac = if cfg.contractive > 0.0 {
        let probe = if cfg.model.arch == Arch::Conv {
            Some(randn(rng, (b, crate::PIXELS))?)
        } else {
            None
        };
        Some(model.jacobian_sq_norm(x, probe.as_ref())?)
    } else {
        None
    };
    let (total, terms) = loss::objective(cfg, &fwd, target, jac.as_ref())?;
    Ok((terms, total))
}

/// One step of candle's engine: the objective, its gradient by autograd, AdamW's update (what
/// `Optimizer::backward_step` does, in its two halves so that `record` can read the gradient
/// the optimiser is given and the change it makes).
#[allow(clippy::too_many_arguments)]
fn candle_step(
    cfg: &TrainConfig,
    model: &TrainedModel,
    opt: &mut AdamW,
    input: &[f32],
    clean: &[f32],
    labels: &[u8],
    rng: &mut ChaCha8Rng,
    record: Option<&mut framework::StepRecord>,
) -> Result<LossTerms> {
    let b = clean.len() / crate::PIXELS;
    let x = Tensor::from_slice(input, (b, crate::PIXELS), &Device::Cpu)?;
    let target = Tensor::from_slice(clean, (b, crate::PIXELS), &Device::Cpu)?;
    let y = one_hot_for(cfg, labels)?;
    let (terms, total) = objective_terms(cfg, &model.model, &x, &target, y.as_ref(), rng)?;
    let out = loss::to_terms(&terms)?;
    let apply = out.is_finite();
    match record {
        None => {
            if apply {
                let grads = total.backward()?;
                opt.step(&grads)?;
            }
        }
        Some(r) => {
            let grads = total.backward()?;
            let names: Vec<String> = crate::model::params::tensors(&cfg.model)
                .into_iter()
                .map(|(name, _, _)| name)
                .collect();
            let vars = {
                let data = model.varmap.data().lock().expect("varmap lock");
                names
                    .iter()
                    .map(|n| {
                        data.get(n)
                            .cloned()
                            .ok_or_else(|| candle_core::Error::Msg(format!("missing variable {n}")))
                    })
                    .collect::<candle_core::Result<Vec<Var>>>()?
            };
            let values = |v: &Var| v.as_tensor().flatten_all()?.to_vec1::<f32>();
            let before = vars
                .iter()
                .map(values)
                .collect::<candle_core::Result<Vec<_>>>()?;
            r.grads = names
                .iter()
                .zip(&vars)
                .map(|(n, v)| {
                    let g = match grads.get(v.as_tensor()) {
                        Some(g) => g.flatten_all()?.to_vec1::<f32>()?,
                        None => vec![0.0; v.elem_count()],
                    };
                    Ok((n.clone(), g))
                })
                .collect::<candle_core::Result<_>>()?;
            if apply {
                opt.step(&grads)?;
            }
            r.updates = names
                .iter()
                .zip(&vars)
                .zip(before)
                .map(|((n, v), old)| {
                    let new = values(v)?;
                    Ok((
                        n.clone(),
                        new.iter().zip(&old).map(|(a, b)| a - b).collect(),
                    ))
                })
                .collect::<candle_core::Result<_>>()?;
            r.applied = apply;
        }
    }
    Ok(out)
}

fn weights_rms(model: &TrainedModel) -> candle_core::Result<f64> {
    let data = model.varmap.data().lock().expect("varmap lock");
    let (mut sq, mut n) = (0f64, 0usize);
    for v in data.values() {
        let t = v.as_tensor();
        sq += t
            .sqr()?
            .sum_all()?
            .to_dtype(candle_core::DType::F64)?
            .to_scalar::<f64>()?;
        n += t.elem_count();
    }
    Ok((sq / n.max(1) as f64).sqrt())
}

fn copy_weights(model: &TrainedModel) -> candle_core::Result<Vec<(String, Tensor)>> {
    let data = model.varmap.data().lock().expect("varmap lock");
    data.iter()
        .map(|(k, v): (&String, &Var)| Ok((k.clone(), v.as_tensor().copy()?)))
        .collect()
}
