//! One training step in slow motion: a real [`Trainer`] step (the same engine, noise, update
//! and divergence guard as [`Trainer::step`], so the model after it is bit-identical) that also
//! records what it did, for the Step view and `bottleneck step`.
//!
//! This module owns the record, [`SlowStep`]: the batch (and its corrupted version); every
//! layer's output going forward (a VAE's μ, log σ², σ, the drawn ε and z = μ + σ·ε); the loss
//! terms before the step, the per-pixel loss image, dL/dx̂ and dL/dz; per parameter tensor
//! (named as in `model::params`) the gradient the optimiser consumed and the change it made,
//! with their norms; and the same batch through the updated model, its loss terms measured
//! again. The weight gradients and updates are the engine's own (`framework::StepRecord`,
//! or candle's gradient store handed to AdamW); the layer outputs and the gradients at x̂ and
//! z come from a candle pass on the weights before the step with the same ε (the generator is
//! copied, not advanced), the intermediate ones by making x̂ and z variables of their own.
//!
//! Taking one: [`Trainer::slow_step`] (the next training batch; also what
//! `worker::Command::SlowStep { rows: None }` does, answered by `worker::Event::SlowStep`),
//! [`Trainer::slow_step_on`] (rows one picks, e.g. a few test digits; `rows: Some(…)`), or
//! [`step_model`] (a model on its own, with a fresh optimiser: `bottleneck step`). Reading
//! one, in the order of the walk-through: `batch` and `corrupted`; `before.layers` (each
//! layer's output, named, with its per-row shape), `eps`; `before.loss`, `pixel_loss`,
//! `kl_per_dim`; `grad_recon`, `grad_code`, then `tensors` from the output side back
//! (`grad_norm`); `tensors`' `update` and `update_norm`; `after` (`recon`, `code`, `loss`).

use std::sync::Arc;

use candle_core::{Device, Tensor, Var};
use rand_chacha::ChaCha8Rng;

use super::framework::StepRecord;
use super::{randn, Result, StepReport, TrainError, Trainer};
use crate::data::{Dataset, DatasetSource, Split};
use crate::model::config::{Arch, LossKind, TrainConfig};
use crate::model::loss::{self, LossTerms};
use crate::model::{params, Forward, TrainedModel};

/// One layer's output for the whole batch.
#[derive(Clone, Debug)]
pub struct LayerOutput {
    /// The layer's name ("enc.0", "mu", "conv.1", "deconv.0", …) or the step's ("sigma",
    /// "eps", "z", "recon"); see `Autoencoder::forward_layers`.
    pub name: String,
    /// One row's shape: `[n]` for a dense layer, `[c, h, w]` for a convolutional one.
    pub shape: Vec<usize>,
    /// Row-major, `rows × shape.product()`.
    pub values: Vec<f32>,
}

/// The batch through the model, before or after the step.
#[derive(Clone, Debug)]
pub struct Pass {
    /// Every layer's output, input side first.
    pub layers: Vec<LayerOutput>,
    /// The reconstructions, `rows × 784`.
    pub recon: Vec<f32>,
    /// The codes (μ for a VAE), `rows × k`.
    pub code: Vec<f32>,
    /// The loss terms (weighted, as the training objective has them) and their total.
    pub loss: LossTerms,
}

/// One parameter tensor's part of the step.
#[derive(Clone, Debug)]
pub struct TensorStep {
    /// The model's own name for it ("enc.0.weight", "mu.bias", "deconv.1.weight", …).
    pub name: String,
    pub shape: Vec<usize>,
    /// The gradient the optimiser consumed (candle's layout).
    pub grad: Vec<f32>,
    pub grad_norm: f64,
    /// What the step changed: new − old values.
    pub update: Vec<f32>,
    pub update_norm: f64,
}

/// What one real training step did (see the module's note).
#[derive(Clone, Debug)]
pub struct SlowStep {
    pub config: TrainConfig,
    pub rows: usize,
    /// The clean batch (the target), `rows × 784`.
    pub batch: Vec<f32>,
    /// What the network saw, for a denoising model: the batch corrupted by the step's noise.
    pub corrupted: Option<Vec<f32>>,
    /// A VAE's ε, `rows × k` (the draws the step used).
    pub eps: Option<Vec<f32>>,
    /// A conv contractive model's Hutchinson probe v, `rows × 784` (the step's draws).
    pub probe: Option<Vec<f32>>,
    /// The batch through the model before the step. Its `loss` is the step's own (the
    /// numbers the engine computed and trained on).
    pub before: Pass,
    /// The reconstruction loss of every pixel before the step (unweighted, not averaged):
    /// (x̂ − x)² for MSE, the binary cross-entropy for BCE; `rows × 784`.
    pub pixel_loss: Vec<f32>,
    /// A VAE's KL divergence per row and latent dimension (unweighted), `rows × k`.
    pub kl_per_dim: Option<Vec<f32>>,
    /// dL/dx̂: the gradient of the loss at the reconstruction, `rows × 784`.
    pub grad_recon: Vec<f32>,
    /// dL/d(logits): at the output layer before its sigmoid, where backpropagation starts.
    pub grad_logits: Vec<f32>,
    /// dL/dz: the gradient at the code the decoder read (the sampled z for a VAE), from the
    /// reconstruction (and an L1 penalty on z), `rows × k`.
    pub grad_code: Vec<f32>,
    /// Every parameter tensor, in `model::params::tensors` order.
    pub tensors: Vec<TensorStep>,
    /// Whether the update was applied (not when the loss or a gradient was not finite).
    pub applied: bool,
    /// The same batch (the same corrupted input, ε and probe) through the updated model.
    pub after: Pass,
}

impl SlowStep {
    /// The loss before the step (the terms and their total).
    pub fn loss_before(&self) -> &LossTerms {
        &self.before.loss
    }
    /// The loss of the updated model on the same batch, measured.
    pub fn loss_after(&self) -> &LossTerms {
        &self.after.loss
    }
    /// A tensor's part of the step, by its name.
    pub fn tensor(&self, name: &str) -> Option<&TensorStep> {
        self.tensors.iter().find(|t| t.name == name)
    }
}

/// The Euclidean norm of `v`, summed in f64.
pub fn norm(v: &[f32]) -> f64 {
    v.iter()
        .map(|&x| (x as f64) * (x as f64))
        .sum::<f64>()
        .sqrt()
}

fn values(t: &Tensor) -> candle_core::Result<Vec<f32>> {
    t.flatten_all()?.to_vec1::<f32>()
}

/// What the step draws besides the engine's own work, and the batch as tensors.
struct Inputs {
    x: Tensor,
    target: Tensor,
    eps: Option<Tensor>,
    probe: Option<Tensor>,
}

/// The part of the record made before the engine runs.
struct Before {
    inputs: Inputs,
    batch: Vec<f32>,
    corrupted: Option<Vec<f32>>,
    pass: Pass,
    pixel_loss: Vec<f32>,
    kl_per_dim: Option<Vec<f32>>,
    grad_recon: Vec<f32>,
    grad_logits: Vec<f32>,
    grad_code: Vec<f32>,
}

/// Collects a step's record while [`Trainer`] takes it.
#[derive(Default)]
pub(crate) struct Recorder {
    /// Filled by the engine.
    pub(crate) record: StepRecord,
    before: Option<Before>,
}

/// The model's output as the objective sees it (sigmoid or linear).
fn output(cfg: &TrainConfig, logits: &Tensor) -> candle_core::Result<Tensor> {
    if cfg.model.sigmoid_output {
        candle_nn::ops::sigmoid(logits)
    } else {
        Ok(logits.clone())
    }
}

/// The batch through `model`: every layer's output and the objective's terms.
fn measure(model: &TrainedModel, inp: &Inputs) -> candle_core::Result<(Pass, Forward)> {
    let cfg = model.config();
    let (fwd, named) = model.model.forward_layers(&inp.x, inp.eps.as_ref())?;
    let jac = if cfg.contractive > 0.0 {
        Some(model.model.jacobian_sq_norm(&inp.x, inp.probe.as_ref())?)
    } else {
        None
    };
    let (_, terms) = loss::objective(cfg, &fwd, &inp.target, jac.as_ref())?;
    let layers = named
        .into_iter()
        .map(|(name, t)| {
            Ok(LayerOutput {
                name,
                shape: t.dims()[1..].to_vec(),
                values: values(&t)?,
            })
        })
        .collect::<candle_core::Result<_>>()?;
    let pass = Pass {
        layers,
        recon: values(&fwd.recon)?,
        code: values(&fwd.code)?,
        loss: loss::to_terms(&terms)?,
    };
    Ok((pass, fwd))
}

impl Recorder {
    /// Records the batch and the model before the step. `rng` is a copy of the generator the
    /// step draws its noise from, so ε (and a conv contractive probe) are the step's own.
    pub(crate) fn before(
        &mut self,
        model: &TrainedModel,
        input: &[f32],
        clean: &[f32],
        mut rng: ChaCha8Rng,
    ) -> candle_core::Result<()> {
        let cfg = model.config();
        let d = crate::PIXELS;
        let b = clean.len() / d;
        // Drawn in the order `objective_terms` and the fused engine draw them.
        let eps = if cfg.model.arch == Arch::Vae {
            Some(randn(&mut rng, (b, cfg.model.latent))?)
        } else {
            None
        };
        let probe = if cfg.contractive > 0.0 && cfg.model.arch == Arch::Conv {
            Some(randn(&mut rng, (b, d))?)
        } else {
            None
        };
        let inputs = Inputs {
            x: Tensor::from_slice(input, (b, d), &Device::Cpu)?,
            target: Tensor::from_slice(clean, (b, d), &Device::Cpu)?,
            eps,
            probe,
        };
        let (pass, fwd) = measure(model, &inputs)?;
        let t = &inputs.target;

        // The per-pixel loss and the gradient at the logits, with the logits a variable.
        let logits = Var::from_tensor(&fwd.logits.detach())?;
        let recon = output(cfg, logits.as_tensor())?;
        let pixel_loss = match cfg.loss {
            LossKind::Mse => (&recon - t)?.sqr()?,
            LossKind::Bce => {
                let l = logits.as_tensor();
                let softplus = (l.relu()? + (l.abs()?.neg()?.exp()? + 1.0)?.log()?)?;
                (softplus - (t * l)?)?
            }
        };
        let rec = loss::reconstruction(cfg.loss, logits.as_tensor(), &recon, t)?;
        let g_logits = rec
            .backward()?
            .get(logits.as_tensor())
            .cloned()
            .unwrap_or(fwd.logits.zeros_like()?);
        // dL/dx̂: with x̂ a variable for MSE; for BCE (a loss of the logits) through the
        // sigmoid's derivative x̂(1 − x̂).
        let g_recon = match (cfg.loss, cfg.model.sigmoid_output) {
            (LossKind::Mse, _) => {
                let r = Var::from_tensor(&fwd.recon.detach())?;
                let l = (r.as_tensor() - t)?.sqr()?.mean_all()?;
                values(
                    &l.backward()?
                        .get(r.as_tensor())
                        .cloned()
                        .unwrap_or(fwd.recon.zeros_like()?),
                )?
            }
            (LossKind::Bce, true) => values(&g_logits)?
                .iter()
                .zip(values(&fwd.recon)?)
                .map(|(&g, s)| {
                    let deriv = s * (1.0 - s);
                    if deriv > 0.0 {
                        g / deriv
                    } else {
                        0.0
                    }
                })
                .collect(),
            (LossKind::Bce, false) => values(&g_logits)?,
        };

        // dL/dz with the code the decoder read a variable.
        let z_now = match pass.layers.iter().find(|l| l.name == "z") {
            Some(z) => Tensor::from_slice(&z.values, fwd.code.dims(), &Device::Cpu)?,
            None => fwd.code.detach(),
        };
        let z = Var::from_tensor(&z_now)?;
        let logits_z = model.model.decode_logits(z.as_tensor())?;
        let recon_z = output(cfg, &logits_z)?;
        let mut lz = loss::reconstruction(cfg.loss, &logits_z, &recon_z, t)?;
        if cfg.model.arch != Arch::Vae && cfg.l1 > 0.0 {
            lz = (lz + (loss::l1(z.as_tensor())? * cfg.l1 as f64)?)?;
        }
        let g_code = lz
            .backward()?
            .get(z.as_tensor())
            .cloned()
            .unwrap_or(z_now.zeros_like()?);

        let kl_per_dim = match (&fwd.mu, &fwd.logvar) {
            (Some(mu), Some(lv)) => {
                let per = (((lv + 1.0)? - mu.sqr()?)? - lv.exp()?)?;
                Some(values(&(per * -0.5)?)?)
            }
            _ => None,
        };
        self.before = Some(Before {
            batch: clean.to_vec(),
            corrupted: cfg.noise.is_some().then(|| input.to_vec()),
            pass,
            pixel_loss: values(&pixel_loss)?,
            kl_per_dim,
            grad_recon: g_recon,
            grad_logits: values(&g_logits)?,
            grad_code: values(&g_code)?,
            inputs,
        });
        Ok(())
    }

    /// The finished record: `terms` are the step's own loss terms, `model` the model after it.
    fn finish(self, terms: LossTerms, model: &TrainedModel) -> Result<SlowStep> {
        let Some(before) = self.before else {
            return Err(internal("the step was not recorded"));
        };
        let record = self.record;
        if let Some(eps) = &before.inputs.eps {
            // The fused engine draws ε itself: it must be the one the record shows.
            if !record.eps.is_empty() && record.eps != values(eps)? {
                return Err(internal("the engine drew another ε than the record's"));
            }
        }
        let (after, _) = measure(model, &before.inputs)?;
        let cfg = model.config().clone();
        let shapes = params::tensors(&cfg.model);
        if record.grads.len() != shapes.len() || record.updates.len() != shapes.len() {
            return Err(internal("the engine did not record every tensor"));
        }
        let tensors = shapes
            .into_iter()
            .zip(record.grads)
            .zip(record.updates)
            .map(|(((name, shape, _), (gn, grad)), (un, update))| {
                debug_assert!(gn == name && un == name);
                TensorStep {
                    name,
                    shape,
                    grad_norm: norm(&grad),
                    update_norm: norm(&update),
                    grad,
                    update,
                }
            })
            .collect();
        let mut before_pass = before.pass;
        before_pass.loss = terms;
        Ok(SlowStep {
            rows: before.batch.len() / crate::PIXELS,
            batch: before.batch,
            corrupted: before.corrupted,
            eps: before.inputs.eps.as_ref().map(values).transpose()?,
            probe: before.inputs.probe.as_ref().map(values).transpose()?,
            before: before_pass,
            pixel_loss: before.pixel_loss,
            kl_per_dim: before.kl_per_dim,
            grad_recon: before.grad_recon,
            grad_logits: before.grad_logits,
            grad_code: before.grad_code,
            tensors,
            applied: record.applied,
            after,
            config: cfg,
        })
    }
}

fn internal(what: &str) -> TrainError {
    TrainError::Candle(candle_core::Error::Msg(format!("slow step: {what}")))
}

impl Trainer {
    /// [`Trainer::step`] in slow motion: the same step on the next training batch (the model
    /// after it is bit-identical), with the record of what it did.
    pub fn slow_step(&mut self) -> Result<(StepReport, SlowStep)> {
        if self.config().model.classes > 0 {
            return Err(TrainError::Classes(
                "one step in slow motion does not show a conditional VAE (its layers take the \
                 class beside the pixels and the code); step a VAE instead"
                    .into(),
            ));
        }
        let mut rec = Recorder::default();
        let report = self.step_with(Some(&mut rec))?;
        self.sync_weights()?;
        let slow = rec.finish(report.terms.clone(), &self.model)?;
        Ok((report, slow))
    }

    /// [`Trainer::step_on`] in slow motion: one step on the given rows (`rows.len() / 784`
    /// images, values in 0..1), with the record of what it did.
    pub fn slow_step_on(&mut self, rows: &[f32]) -> Result<SlowStep> {
        let b = self.load_rows(rows)?;
        let mut rec = Recorder::default();
        let terms = self.train_batch(b, self.batcher.position(), Some(&mut rec))?;
        self.sync_weights()?;
        rec.finish(terms, &self.model)
    }
}

/// One slow step of `model` on `rows` with a fresh optimiser of the model's own settings (what
/// `bottleneck step` does); gives the record and the stepped model.
pub fn step_model(model: TrainedModel, rows: &[f32]) -> Result<(SlowStep, TrainedModel)> {
    let n = rows.len() / crate::PIXELS;
    let data = Dataset::from_parts(
        "the step's rows".into(),
        Vec::new(),
        Split::new(rows.to_vec(), vec![0; n]),
        Split::new(Vec::new(), Vec::new()),
        DatasetSource::Embedded,
    );
    let mut t = Trainer::from_model(model, Arc::new(data))?;
    let slow = t.slow_step_on(rows)?;
    Ok((slow, t.snapshot()?))
}
