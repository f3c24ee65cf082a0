//! The framework both fused training engines run on. It owns what they share: the flat
//! parameter buffer laid out from `model::params` (and copying it to and from the model's
//! `VarMap`), the data-parallel driver (the batch split over the rayon threads, each running a
//! chunk's forward and backward into buffers it owns and reuses every step), the fold of the
//! per-thread loss sums and gradients, the finite checks, and the Adam(W) update through
//! [`kernels::Adam`]. An engine is the layer code only: a [`LayerCode`] that runs one chunk.
//!
//! Each thread writes its own gradient; threads 3, 4, … are folded into the second one and the
//! Adam pass sums the first two as it reads them. A step whose loss or any gradient is not
//! finite leaves the parameters and the optimiser untouched.

use candle_core::{Device, Tensor, Var};
use candle_nn::VarMap;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

use super::kernels;
use crate::model::config::TrainConfig;
use crate::model::loss::{LossTerms, Term};
use crate::model::params::{LayerSpec, ParamKind};

/// Gradients by variable name.
pub type NamedGrads = Vec<(String, Vec<f32>)>;

/// What one step did to the parameters, recorded when asked (`train::slow_step`): per
/// variable, in `model::params::tensors` order and candle's layouts, the gradient the
/// optimiser consumed and the change it made (new − old values), and the noise drawn.
#[derive(Clone, Debug, Default)]
pub struct StepRecord {
    pub grads: NamedGrads,
    pub updates: NamedGrads,
    /// The standard normal draws of the step (a VAE's ε, row-major `[B, k]`); empty if none.
    pub eps: Vec<f32>,
    /// Whether the update was applied (not when the loss or a gradient was not finite).
    pub applied: bool,
}

/// A layer's place in the flat parameter vector: its weight, then its bias.
#[derive(Clone, Debug)]
pub struct Slot {
    pub spec: LayerSpec,
    pub w_off: usize,
    /// The (linear) weight is stored `[input, output]`, transposed from candle's
    /// `[output, input]` (the dense engine's first layer, for its sparse products).
    pub transposed: bool,
}

impl Slot {
    pub fn input(&self) -> usize {
        self.spec.input
    }
    pub fn output(&self) -> usize {
        self.spec.output
    }
    pub fn w_len(&self) -> usize {
        self.spec.len(ParamKind::Weight)
    }
    pub fn b_off(&self) -> usize {
        self.w_off + self.w_len()
    }
    pub fn end(&self) -> usize {
        self.b_off() + self.spec.len(ParamKind::Bias)
    }
    pub fn w<'a>(&self, p: &'a [f32]) -> &'a [f32] {
        &p[self.w_off..self.b_off()]
    }
    pub fn b<'a>(&self, p: &'a [f32]) -> &'a [f32] {
        &p[self.b_off()..self.end()]
    }
    /// The weight and bias parts of a parameter-shaped buffer, mutably.
    pub fn wb_mut<'a>(&self, p: &'a mut [f32]) -> (&'a mut [f32], &'a mut [f32]) {
        p[self.w_off..self.end()].split_at_mut(self.w_len())
    }

    /// One of the layer's tensors from a parameter-shaped buffer, in candle's layout.
    fn tensor(&self, which: ParamKind, buf: &[f32]) -> Vec<f32> {
        match which {
            ParamKind::Weight if self.transposed => {
                transpose(self.w(buf), self.input(), self.output())
            }
            ParamKind::Weight => self.w(buf).to_vec(),
            ParamKind::Bias => self.b(buf).to_vec(),
        }
    }

    /// Where one of the layer's tensors lives in the flat buffer.
    fn range(&self, which: ParamKind) -> std::ops::Range<usize> {
        match which {
            ParamKind::Weight => self.w_off..self.b_off(),
            ParamKind::Bias => self.b_off()..self.end(),
        }
    }
}

/// Lays the layers out one after the other; returns their slots and the buffer's length.
pub fn lay_out(specs: Vec<LayerSpec>) -> (Vec<Slot>, usize) {
    let mut off = 0;
    let slots = specs
        .into_iter()
        .map(|spec| {
            let s = Slot {
                spec,
                w_off: off,
                transposed: false,
            };
            off = s.end();
            s
        })
        .collect();
    (slots, off)
}

/// A row-major `[rows × cols]` matrix transposed.
fn transpose(m: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0; m.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = m[r * cols + c];
        }
    }
    t
}

/// An engine's layer code: the forward and backward pass over one chunk of rows.
pub trait LayerCode: Sync + Sized {
    /// The buffers one thread reuses from step to step.
    type Buffers: Default + Send;
    /// Named in errors ("the fused … engine does not support …").
    const NAME: &'static str;

    /// Whether this engine trains the model `cfg` describes.
    fn supports(cfg: &TrainConfig) -> bool;

    /// The layer code for `cfg`, given the slots of `model::params::layers` (it may mark a
    /// linear weight as stored transposed).
    fn build(cfg: &TrainConfig, slots: &mut [Slot]) -> candle_core::Result<Self>;

    /// Standard normal draws the chunk needs per row (the VAE's ε; 0 for none).
    fn noise_per_row(&self) -> usize {
        0
    }

    /// Values of the condition each row comes with (a conditional VAE's one-hot class; 0
    /// for none), set before a step with [`Fused::set_condition`].
    fn cond_per_row(&self) -> usize {
        0
    }

    /// The KL term's weight β, for a VAE.
    fn kl_weight(&self) -> Option<f32> {
        None
    }

    /// The L1 penalty's weight on the code (0 for none).
    fn l1(&self) -> f32;

    /// Forward and backward for one chunk with parameters `p`: overwrites `grad`
    /// (parameter-shaped) with the chunk's gradient of the batch mean and returns the chunk's
    /// sums of the reconstruction loss, of |code| and of the KL divergence.
    fn run_chunk(
        &self,
        p: &[f32],
        bufs: &mut Self::Buffers,
        grad: &mut [f32],
        c: Chunk,
    ) -> [f64; 3];
}

/// One thread's rows of the batch.
pub struct Chunk<'a> {
    /// What the network sees and what it should reconstruct, `rows × PIXELS` each.
    pub x: &'a [f32],
    pub t: &'a [f32],
    /// The rows' standard normal draws (`noise_per_row` each).
    pub eps: &'a [f32],
    /// The rows' condition (`cond_per_row` values each; empty if none).
    pub cond: &'a [f32],
    /// The whole batch's size (the loss is a mean over the whole batch).
    pub b: usize,
}

/// One thread's share of a step.
#[derive(Default)]
struct Lane<B> {
    bufs: B,
    grad: Vec<f32>,
    sums: [f64; 3],
    finite: bool,
}

/// A fused engine: layer code `L` on the shared parameters, driver and optimiser.
pub struct Fused<L: LayerCode> {
    code: L,
    slots: Vec<Slot>,
    params: Vec<f32>,
    adam: kernels::Adam,
    lanes: Vec<Lane<L::Buffers>>,
    eps: Vec<f32>,
    /// The next step's rows' condition (see [`Fused::set_condition`]).
    cond: Vec<f32>,
    /// Lanes holding gradients after the last forward/backward (1 or 2).
    active: usize,
}

impl<L: LayerCode> Fused<L> {
    pub fn supports(cfg: &TrainConfig) -> bool {
        L::supports(cfg)
    }

    /// The engine for `cfg`, with the weights of `varmap`.
    pub fn new(cfg: &TrainConfig, varmap: &VarMap) -> candle_core::Result<Self> {
        if !L::supports(cfg) {
            candle_core::bail!("the {} does not support {}", L::NAME, cfg.describe());
        }
        let (mut slots, len) = lay_out(crate::model::params::layers(&cfg.model));
        let code = L::build(cfg, &mut slots)?;
        let mut s = Self {
            code,
            slots,
            params: vec![0.0; len],
            adam: kernels::Adam::new(cfg, len),
            lanes: Vec::new(),
            eps: Vec::new(),
            cond: Vec::new(),
            active: 1,
        };
        s.read_from(varmap)?;
        Ok(s)
    }

    /// Calls `f` with every tensor's slot, kind, name and variable in `varmap`.
    fn each_var(
        &self,
        varmap: &VarMap,
        mut f: impl FnMut(&Slot, ParamKind, &str, &Var) -> candle_core::Result<()>,
    ) -> candle_core::Result<()> {
        let data = varmap.data().lock().expect("varmap lock");
        for s in &self.slots {
            for which in [ParamKind::Weight, ParamKind::Bias] {
                let name = s.spec.var(which);
                let var = data
                    .get(&name)
                    .ok_or_else(|| candle_core::Error::Msg(format!("missing variable {name}")))?;
                f(s, which, &name, var)?;
            }
        }
        Ok(())
    }

    /// Copies the weights from the model's variables.
    pub fn read_from(&mut self, varmap: &VarMap) -> candle_core::Result<()> {
        let mut params = std::mem::take(&mut self.params);
        let read = self.each_var(varmap, |s, which, name, var| {
            let values = var.as_tensor().flatten_all()?.to_vec1::<f32>()?;
            let range = s.range(which);
            if values.len() != range.len() {
                candle_core::bail!(
                    "variable {name} has {} values, expected {}",
                    values.len(),
                    range.len()
                );
            }
            let dst = &mut params[range];
            if which == ParamKind::Weight && s.transposed {
                // candle's [output, input] → our [input, output]
                dst.copy_from_slice(&transpose(&values, s.output(), s.input()));
            } else {
                dst.copy_from_slice(&values);
            }
            Ok(())
        });
        self.params = params;
        read?;
        self.adam.measure(&self.params);
        Ok(())
    }

    /// Copies the weights into the model's variables (keeping each variable's shape).
    pub fn write_to(&self, varmap: &VarMap) -> candle_core::Result<()> {
        self.each_var(varmap, |s, which, _, var| {
            let values = s.tensor(which, &self.params);
            var.set(&Tensor::from_vec(values, var.shape(), &Device::Cpu)?)
        })
    }

    /// The condition of the next step's rows, `cond_per_row` values a row (a conditional
    /// VAE's one-hot classes); kept until set again.
    pub fn set_condition(&mut self, rows: &[f32]) {
        self.cond.clear();
        self.cond.extend_from_slice(rows);
    }

    /// Root mean square of all parameters (after the last update).
    pub fn param_rms(&self) -> f64 {
        self.adam.param_rms()
    }

    /// One training step on `b` rows of `input` (what the network sees) and `target` (what
    /// it should reconstruct); `rng` draws the VAE's noise (`None` for an engine that needs
    /// none). Returns the loss terms before the update; the update is skipped when the loss
    /// or a gradient is not finite.
    pub fn step<'r>(
        &mut self,
        input: &[f32],
        target: &[f32],
        b: usize,
        rng: impl Into<Option<&'r mut ChaCha8Rng>>,
    ) -> candle_core::Result<LossTerms> {
        self.step_recorded(input, target, b, rng, None)
    }

    /// [`Fused::step`], and when `record` is given, what it did: the summed gradient the Adam
    /// pass read, the change of every parameter, the noise drawn. The step itself is the same
    /// either way (recording only copies).
    pub fn step_recorded<'r>(
        &mut self,
        input: &[f32],
        target: &[f32],
        b: usize,
        rng: impl Into<Option<&'r mut ChaCha8Rng>>,
        record: Option<&mut StepRecord>,
    ) -> candle_core::Result<LossTerms> {
        let (terms, finite) = self.forward_backward(input, target, b, rng.into())?;
        let apply = finite && terms.total().is_finite();
        let before = record.as_ref().map(|_| self.params.clone());
        if apply {
            self.adam_update();
        }
        if let (Some(r), Some(before)) = (record, before) {
            r.grads = self.named(&self.summed_grad());
            let change: Vec<f32> = self
                .params
                .iter()
                .zip(&before)
                .map(|(new, old)| new - old)
                .collect();
            r.updates = self.named(&change);
            r.eps = if self.code.noise_per_row() > 0 {
                self.eps[..b * self.code.noise_per_row()].to_vec()
            } else {
                Vec::new()
            };
            r.applied = apply;
        }
        Ok(terms)
    }

    /// The gradient of the last forward/backward: the first lane's plus the second's, added
    /// as the Adam pass adds them.
    fn summed_grad(&self) -> Vec<f32> {
        let plen = self.params.len();
        let mut g = self.lanes[0].grad[..plen].to_vec();
        if self.active == 2 {
            kernels::add_assign(&mut g, &self.lanes[1].grad[..plen]);
        }
        g
    }

    /// A parameter-shaped buffer split into its tensors, by variable name (candle's layouts).
    fn named(&self, buf: &[f32]) -> NamedGrads {
        let mut out = Vec::new();
        for s in &self.slots {
            for which in [ParamKind::Weight, ParamKind::Bias] {
                out.push((s.spec.var(which), s.tensor(which, buf)));
            }
        }
        out
    }

    /// The gradient of the loss for one batch, by variable name (candle's layouts), without
    /// updating anything (for tests against autograd).
    pub fn gradients<'r>(
        &mut self,
        input: &[f32],
        target: &[f32],
        b: usize,
        rng: impl Into<Option<&'r mut ChaCha8Rng>>,
    ) -> candle_core::Result<(LossTerms, NamedGrads)> {
        let (terms, _) = self.forward_backward(input, target, b, rng.into())?;
        Ok((terms, self.named(&self.summed_grad())))
    }

    /// Forward and backward over the batch; leaves the summed gradient in the first lane's
    /// buffer (plus the second's, summed by the Adam pass). Returns the loss terms and whether
    /// every gradient is finite.
    fn forward_backward(
        &mut self,
        input: &[f32],
        target: &[f32],
        b: usize,
        rng: Option<&mut ChaCha8Rng>,
    ) -> candle_core::Result<(LossTerms, bool)> {
        let d = crate::PIXELS;
        if input.len() != b * d || target.len() != b * d || b == 0 {
            candle_core::bail!("{} step: expected {b} rows of {d} pixels", L::NAME);
        }
        let k = self.code.noise_per_row();
        if k > 0 {
            let Some(rng) = rng else {
                candle_core::bail!("{} step: no random generator for the noise", L::NAME);
            };
            // Drawn in the same order as the candle engine does, so both see the same ε.
            self.eps.clear();
            self.eps
                .extend((0..b * k).map(|_| -> f32 { StandardNormal.sample(rng) }));
        }
        let nc = self.code.cond_per_row();
        if self.cond.len() != b * nc {
            candle_core::bail!(
                "{} step: expected {nc} condition values for each of {b} rows, got {}",
                L::NAME,
                self.cond.len()
            );
        }
        let threads = rayon::current_num_threads().clamp(1, b);
        let chunk = b.div_ceil(threads);
        let n_chunks = b.div_ceil(chunk);
        if self.lanes.len() < n_chunks {
            self.lanes.resize_with(n_chunks, Lane::default);
        }
        let plen = self.params.len();
        let (code, params, eps, cond) = (&self.code, &self.params, &self.eps, &self.cond);
        self.lanes[..n_chunks]
            .par_iter_mut()
            .enumerate()
            .for_each(|(c, lane)| {
                let (r0, r1) = (c * chunk, ((c + 1) * chunk).min(b));
                if lane.grad.len() != plen {
                    lane.grad = vec![0.0; plen];
                }
                let eps = if k > 0 { &eps[r0 * k..r1 * k] } else { &[] };
                let rows = Chunk {
                    x: &input[r0 * d..r1 * d],
                    t: &target[r0 * d..r1 * d],
                    eps,
                    cond: &cond[r0 * nc..r1 * nc],
                    b,
                };
                lane.sums = code.run_chunk(params, &mut lane.bufs, &mut lane.grad, rows);
                lane.finite = kernels::all_finite(&lane.grad);
            });
        let lanes = &mut self.lanes[..n_chunks];
        let mut sums = [0f64; 3];
        for lane in lanes.iter() {
            for (s, ls) in sums.iter_mut().zip(lane.sums) {
                *s += ls;
            }
        }
        let finite = lanes.iter().all(|l| l.finite);
        // More than two lanes: fold the extra gradients into the second one; the first two
        // are summed inside the Adam pass.
        if let [_, second, rest @ ..] = lanes {
            for other in rest.iter() {
                kernels::add_assign(&mut second.grad[..plen], &other.grad[..plen]);
            }
        }
        self.active = n_chunks.min(2);
        Ok((self.terms(sums, b), finite))
    }

    /// The loss terms from the summed partial sums (reconstruction, Σ|code|, KL).
    fn terms(&self, sums: [f64; 3], b: usize) -> LossTerms {
        let bd = (b * crate::PIXELS) as f64;
        let mut terms = LossTerms::default();
        let rec = sums[0] / bd;
        let mut total = rec;
        terms.set(Term::Reconstruction, rec);
        if let Some(beta) = self.code.kl_weight() {
            let kl = beta as f64 * sums[2] / bd;
            terms.set(Term::Kl, kl);
            total += kl;
        }
        let l1 = self.code.l1();
        if l1 > 0.0 {
            let l = l1 as f64 * sums[1] / b as f64;
            terms.set(Term::L1, l);
            total += l;
        }
        terms.set(Term::Total, total);
        terms
    }

    /// Applies Adam(W) to every parameter with the summed gradient, in parallel blocks.
    fn adam_update(&mut self) {
        let plen = self.params.len();
        let g1: &[f32] = if self.active == 2 {
            &self.lanes[1].grad[..plen]
        } else {
            &[]
        };
        self.adam
            .update(&mut self.params, &self.lanes[0].grad[..plen], g1);
    }

    /// The parameters, mutably (for tests that plant a bad value).
    #[cfg(test)]
    pub(super) fn params_mut(&mut self) -> &mut [f32] {
        &mut self.params
    }

    /// The layer slots, in `model::params` order.
    #[cfg(test)]
    pub(super) fn slots(&self) -> &[Slot] {
        &self.slots
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::Variant;
    use crate::model::TrainedModel;
    use rand::SeedableRng;

    /// Every parameter's bits, so that a NaN compares equal to itself.
    fn bits(p: &[f32]) -> Vec<u32> {
        p.iter().map(|v| v.to_bits()).collect()
    }

    /// How many parameters differ (bit for bit) from `before`.
    fn changed(p: &[f32], before: &[u32]) -> usize {
        bits(p).iter().zip(before).filter(|(a, b)| a != b).count()
    }

    fn digits(b: usize) -> Vec<f32> {
        (0..b * crate::PIXELS)
            .map(|i| {
                if i % 5 == 0 {
                    (i % 7) as f32 / 7.0
                } else {
                    0.0
                }
            })
            .collect()
    }

    /// Plants a NaN in the weight of layer `layer` (a ReLU layer that is not the first: its
    /// ReLU turns the NaN into 0 going forward, so the loss stays finite, while the backward
    /// pass carries it into the gradients of the layers below).
    fn plant_nan<L: LayerCode>(f: &mut Fused<L>, layer: &str) {
        let at = f
            .slots()
            .iter()
            .find(|s| s.spec.name == layer)
            // candle's weight [0][3] (output 0, input 3), wherever the layout keeps it.
            .map(|s| s.w_off + if s.transposed { 3 * s.output() } else { 3 })
            .unwrap();
        f.params_mut()[at] = f32::NAN;
    }

    /// The bug: `forward_backward` said whether every gradient was finite but always answered
    /// yes, so a NaN gradient under a finite loss went into Adam and spread NaN over the
    /// weights. Now the step is skipped and the parameters stay exactly as they were.
    #[test]
    fn non_finite_gradient_with_finite_loss_is_not_applied() {
        let b = 16;
        let x = digits(b);
        let cfg = TrainConfig::preset(Variant::Dense, 4);
        let model = TrainedModel::new(&cfg, "test").unwrap();
        let mut dense = crate::train::fused::FusedMlp::new(&cfg, &model.varmap).unwrap();
        plant_nan(&mut dense, "enc.1");
        let before = bits(dense.params_mut());
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let terms = dense.step(&x, &x, b, &mut rng).unwrap();
        assert!(terms.total().is_finite(), "the loss stays finite");
        assert_eq!(
            changed(dense.params_mut(), &before),
            0,
            "dense: parameters changed"
        );
        let (_, grads) = dense.gradients(&x, &x, b, &mut rng).unwrap();
        let g = &grads.iter().find(|(n, _)| n == "enc.0.weight").unwrap().1;
        assert!(
            g.iter().any(|v| !v.is_finite()),
            "the gradient below is not"
        );

        let cfg = TrainConfig::preset(Variant::Conv, 4);
        let model = TrainedModel::new(&cfg, "test").unwrap();
        let mut conv = crate::train::fused_conv::FusedConv::new(&cfg, &model.varmap).unwrap();
        plant_nan(&mut conv, "conv.1");
        let before = bits(conv.params_mut());
        let terms = conv.step(&x, &x, b, None).unwrap();
        assert!(terms.total().is_finite(), "the conv loss stays finite");
        assert_eq!(
            changed(conv.params_mut(), &before),
            0,
            "conv: parameters changed"
        );
    }
}
