//! The fused training engine for the convolutional autoencoder (and the denoising and sparse
//! variants built on it).
//!
//! candle's autograd step for the conv AE spent most of its time outside the matrix products:
//! im2col buffers allocated and filled on every call, layout shuffles between candle's
//! `[batch, channel, h, w]` and the `[channel, batch·h·w]` matrices the products want, the
//! graph walk and the optimiser's passes. This engine computes the same step by hand:
//!
//! - activations stay channel-major over the chunk (`[c][row][h][w]`), so a 3×3 stride-2
//!   convolution is one `gemm` of its weight `[o, c·9]` with the chunk's im2col matrix
//!   `[c·9, rows·ho·wo]`, its output needs no reshuffling, and a transposed convolution is the
//!   adjoint (`gemm` with the transposed weight, then col2im);
//! - the dense code layers are plain products on `[row, c·h·w]` (candle's flatten order);
//! - the batch is split across the rayon threads; each thread runs forward and backward on its
//!   rows with single-threaded `gemm` into buffers it owns and reuses every step;
//! - the per-thread gradients are summed inside the Adam(W) pass (as the dense engine does).
//!
//! Weights use candle's layouts (`[out, in, 3, 3]`, `[in, out, 3, 3]` for the transposed
//! convolutions, `[out, in]` for the linear layers), so reading and writing the `VarMap` are
//! plain copies. The unit tests check loss and gradients against candle's autograd.

use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use rayon::prelude::*;

use super::fused::NamedGrads;
use super::kernels;
use crate::linalg::{matmul, SERIAL};
use crate::model::config::{Activation, Arch, LossKind, TrainConfig};
use crate::model::loss::{LossTerms, Term};

/// Kernel size, stride and padding of every (transposed) convolution of the conv AE.
const K: usize = 3;
const S: usize = 2;
const P: usize = 1;

/// A 3×3 stride-2 convolution from `[c, h, h]` to `[o, ho, ho]`. A transposed convolution is
/// described by the convolution it is the adjoint of (input and output swapped).
#[derive(Clone, Copy, Debug)]
struct Geom {
    c: usize,
    h: usize,
    o: usize,
    ho: usize,
}

impl Geom {
    fn hw(&self) -> usize {
        self.h * self.h
    }
    fn howo(&self) -> usize {
        self.ho * self.ho
    }
    fn ckk(&self) -> usize {
        self.c * K * K
    }

    /// For kernel offset `kd` (ky or kx): the input coordinate of output coordinate `od`.
    #[inline(always)]
    fn src(&self, od: usize, kd: usize) -> Option<usize> {
        (od * S + kd).checked_sub(P).filter(|&i| i < self.h)
    }

    /// For kernel offset `kd`: the output coordinates `lo..hi` whose input lies inside, and
    /// the input coordinate of `lo` (steps of `S` from there).
    #[inline(always)]
    fn span(&self, kd: usize) -> (usize, usize, usize) {
        let lo = (0..self.ho)
            .find(|&o| self.src(o, kd).is_some())
            .unwrap_or(self.ho);
        let hi = (lo..self.ho)
            .find(|&o| self.src(o, kd).is_none())
            .unwrap_or(self.ho);
        (lo, hi, self.src(lo, kd).unwrap_or(0))
    }

    /// `x` `[c][rows][h][w]` → `cols` `[c·9][rows·ho·wo]`.
    fn im2col(&self, rows: usize, x: &[f32], cols: &mut [f32]) {
        let (hw, howo, wd, wo) = (self.hw(), self.howo(), self.h, self.ho);
        let n = rows * howo;
        for kx in 0..K {
            let (lo, hi, ix0) = self.span(kx);
            for c in 0..self.c {
                for ky in 0..K {
                    let row = &mut cols[((c * K + ky) * K + kx) * n..][..n];
                    for r in 0..rows {
                        let plane = &x[(c * rows + r) * hw..][..hw];
                        let dst = &mut row[r * howo..][..howo];
                        for oy in 0..wo {
                            let line = &mut dst[oy * wo..][..wo];
                            let Some(iy) = self.src(oy, ky) else {
                                line.fill(0.0);
                                continue;
                            };
                            let src = &plane[iy * wd..][..wd];
                            line[..lo].fill(0.0);
                            line[hi..].fill(0.0);
                            for (v, &s) in line[lo..hi].iter_mut().zip(src[ix0..].iter().step_by(S))
                            {
                                *v = s;
                            }
                        }
                    }
                }
            }
        }
    }

    /// The adjoint of `im2col`: `x` `[c][rows][h][w]` = Σ of `cols` scattered back
    /// (overwrites `x`).
    fn col2im(&self, rows: usize, cols: &[f32], x: &mut [f32]) {
        let (hw, howo, wd, wo) = (self.hw(), self.howo(), self.h, self.ho);
        let n = rows * howo;
        x[..self.c * rows * hw].fill(0.0);
        let spans = [self.span(0), self.span(1), self.span(2)];
        for c in 0..self.c {
            for ky in 0..K {
                for (kx, &(lo, hi, ix0)) in spans.iter().enumerate() {
                    let row = &cols[((c * K + ky) * K + kx) * n..][..n];
                    for r in 0..rows {
                        let plane = &mut x[(c * rows + r) * hw..][..hw];
                        let src = &row[r * howo..][..howo];
                        for oy in 0..wo {
                            let Some(iy) = self.src(oy, ky) else {
                                continue;
                            };
                            let dst = &mut plane[iy * wd..][..wd];
                            for (d, &v) in dst[ix0..]
                                .iter_mut()
                                .step_by(S)
                                .zip(&src[oy * wo + lo..oy * wo + hi])
                            {
                                *d += v;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A parameter tensor pair's place in the flat parameter vector.
#[derive(Clone, Debug)]
struct Slot {
    /// Variable prefix in the VarMap, e.g. "conv.0".
    name: String,
    w_off: usize,
    w_len: usize,
    b_len: usize,
}

impl Slot {
    fn new(name: String, w_len: usize, b_len: usize, offset: &mut usize) -> Self {
        let s = Self {
            name,
            w_off: *offset,
            w_len,
            b_len,
        };
        *offset = s.end();
        s
    }
    fn b_off(&self) -> usize {
        self.w_off + self.w_len
    }
    fn end(&self) -> usize {
        self.b_off() + self.b_len
    }
    fn w<'a>(&self, p: &'a [f32]) -> &'a [f32] {
        &p[self.w_off..self.b_off()]
    }
    fn b<'a>(&self, p: &'a [f32]) -> &'a [f32] {
        &p[self.b_off()..self.end()]
    }
    /// The weight and bias parts of a parameter-shaped buffer, mutably.
    fn wb_mut<'a>(&self, p: &'a mut [f32]) -> (&'a mut [f32], &'a mut [f32]) {
        p[self.w_off..self.end()].split_at_mut(self.w_len)
    }
}

/// Per-thread buffers, sized for the largest chunk seen so far.
#[derive(Default)]
struct Worker {
    rows: usize,
    /// Encoder: each convolution's im2col matrix (kept for its weight gradient) and its
    /// activated output `[o][rows][ho·wo]`.
    cols: Vec<Vec<f32>>,
    enc: Vec<Vec<f32>>,
    /// The last convolution's output as `[rows, flat]` (candle's flatten order).
    flat: Vec<f32>,
    code: Vec<f32>,
    /// The decoder's dense layer output, `[rows, flat]` then channel-major.
    dfc: Vec<f32>,
    dfc_c: Vec<f32>,
    /// Decoder: each transposed convolution's output `[co][rows][ho·wo]`; the last holds the
    /// logits.
    dec: Vec<Vec<f32>>,
    /// Scratch for the transposed convolutions' column matrices (forward and backward).
    scratch: Vec<f32>,
    y: Vec<f32>,
    /// Two gradient buffers, swapped as backprop walks down.
    g_a: Vec<f32>,
    g_b: Vec<f32>,
    g_code: Vec<f32>,
    /// This thread's parameter gradient.
    grad: Vec<f32>,
    /// Partial sums: reconstruction, Σ|code|.
    sums: [f64; 2],
}

pub struct FusedConv {
    /// Encoder convolutions (geometry, parameters).
    convs: Vec<(Geom, Slot)>,
    enc_fc: Slot,
    dec_fc: Slot,
    /// Transposed convolutions, deepest first; each is the adjoint of `Geom`.
    deconvs: Vec<(Geom, Slot)>,
    /// Channels and side of the last convolution's output.
    last_c: usize,
    last_hw: usize,
    latent: usize,
    relu: bool,
    /// 0 MSE with sigmoid, 1 BCE with sigmoid, 2 MSE with a linear output.
    loss_kind: u8,
    l1: f32,
    params: Vec<f32>,
    adam: kernels::Adam,
    workers: Vec<Worker>,
    active: usize,
}

/// Adds `bias[c]` to plane `c` (`n` values each) of `out`, then the ReLU when `relu`.
fn plane_bias_act(out: &mut [f32], bias: &[f32], n: usize, relu: bool) {
    for (plane, &b) in out.chunks_exact_mut(n).zip(bias) {
        kernels::add_scalar_act(plane, b, relu);
    }
}

/// `bias[c] = Σ plane c` of `g` (`n` values a plane).
fn plane_sums(g: &[f32], bias: &mut [f32], n: usize) {
    for (plane, b) in g.chunks_exact(n).zip(bias.iter_mut()) {
        *b = kernels::sum(plane);
    }
}

/// `[c][rows][hw]` → `[rows][c·hw]`.
fn to_rows(x: &[f32], c: usize, rows: usize, hw: usize, out: &mut [f32]) {
    for ch in 0..c {
        for r in 0..rows {
            out[(r * c + ch) * hw..][..hw].copy_from_slice(&x[(ch * rows + r) * hw..][..hw]);
        }
    }
}

/// `[rows][c·hw]` → `[c][rows][hw]`.
fn to_channels(x: &[f32], c: usize, rows: usize, hw: usize, out: &mut [f32]) {
    for ch in 0..c {
        for r in 0..rows {
            out[(ch * rows + r) * hw..][..hw].copy_from_slice(&x[(r * c + ch) * hw..][..hw]);
        }
    }
}

impl FusedConv {
    /// Conv AEs without the contractive penalty (its finite-difference Jacobian stays on
    /// candle's autograd).
    pub fn supports(cfg: &TrainConfig) -> bool {
        cfg.model.arch == Arch::Conv && cfg.contractive == 0.0
    }

    pub fn new(cfg: &TrainConfig, varmap: &VarMap) -> candle_core::Result<Self> {
        if !Self::supports(cfg) {
            candle_core::bail!("the fused conv engine does not support {}", cfg.describe());
        }
        let m = &cfg.model;
        let mut sizes = vec![crate::SIDE];
        for _ in &m.channels {
            let s = *sizes.last().expect("non-empty");
            sizes.push((s - 1) / 2 + 1);
        }
        let mut chans = vec![1usize];
        chans.extend(&m.channels);
        let geom = |i: usize| Geom {
            c: chans[i],
            h: sizes[i],
            o: chans[i + 1],
            ho: sizes[i + 1],
        };
        let n = m.channels.len();
        let mut off = 0;
        let convs = (0..n)
            .map(|i| {
                let g = geom(i);
                let s = Slot::new(format!("conv.{i}"), g.o * g.ckk(), g.o, &mut off);
                (g, s)
            })
            .collect();
        let (last_c, last_s) = (chans[n], sizes[n]);
        let flat = last_c * last_s * last_s;
        let enc_fc = Slot::new("enc_fc".into(), m.latent * flat, m.latent, &mut off);
        let dec_fc = Slot::new("dec_fc".into(), flat * m.latent, flat, &mut off);
        let deconvs = (0..n)
            .map(|j| {
                let g = geom(n - 1 - j);
                let s = Slot::new(format!("deconv.{j}"), g.o * g.ckk(), g.c, &mut off);
                (g, s)
            })
            .collect();
        let mut s = Self {
            convs,
            enc_fc,
            dec_fc,
            deconvs,
            last_c,
            last_hw: last_s * last_s,
            latent: m.latent,
            relu: m.activation == Activation::Relu,
            loss_kind: match (cfg.loss, m.sigmoid_output) {
                (LossKind::Mse, true) => 0,
                (LossKind::Bce, _) => 1,
                (LossKind::Mse, false) => 2,
            },
            l1: cfg.l1,
            params: vec![0.0; off],
            adam: kernels::Adam::new(cfg, off),
            workers: Vec::new(),
            active: 1,
        };
        s.read_from(varmap)?;
        Ok(s)
    }

    fn slots(&self) -> impl Iterator<Item = &Slot> {
        self.convs
            .iter()
            .map(|(_, s)| s)
            .chain([&self.enc_fc, &self.dec_fc])
            .chain(self.deconvs.iter().map(|(_, s)| s))
    }

    fn flat_len(&self) -> usize {
        self.last_c * self.last_hw
    }

    /// Copies the weights from the model's variables.
    pub fn read_from(&mut self, varmap: &VarMap) -> candle_core::Result<()> {
        let data = varmap.data().lock().expect("varmap lock");
        let slots: Vec<Slot> = self.slots().cloned().collect();
        for s in slots {
            for (suffix, start, end) in
                [("weight", s.w_off, s.b_off()), ("bias", s.b_off(), s.end())]
            {
                let name = format!("{}.{suffix}", s.name);
                let var = data
                    .get(&name)
                    .ok_or_else(|| candle_core::Error::Msg(format!("missing variable {name}")))?;
                let values = var.as_tensor().flatten_all()?.to_vec1::<f32>()?;
                if values.len() != end - start {
                    candle_core::bail!(
                        "variable {name} has {} values, expected {}",
                        values.len(),
                        end - start
                    );
                }
                self.params[start..end].copy_from_slice(&values);
            }
        }
        self.adam.measure(&self.params);
        Ok(())
    }

    /// Copies the weights into the model's variables (keeping each variable's shape).
    pub fn write_to(&self, varmap: &VarMap) -> candle_core::Result<()> {
        let data = varmap.data().lock().expect("varmap lock");
        for s in self.slots() {
            for (suffix, start, end) in
                [("weight", s.w_off, s.b_off()), ("bias", s.b_off(), s.end())]
            {
                let name = format!("{}.{suffix}", s.name);
                let var = data
                    .get(&name)
                    .ok_or_else(|| candle_core::Error::Msg(format!("missing variable {name}")))?;
                let t = Tensor::from_slice(&self.params[start..end], var.shape(), &Device::Cpu)?;
                var.set(&t)?;
            }
        }
        Ok(())
    }

    /// Root mean square of all parameters (after the last update).
    pub fn param_rms(&self) -> f64 {
        self.adam.param_rms()
    }

    /// One training step on `b` rows of `input` (what the network sees) and `target` (what it
    /// should reconstruct). Returns the loss terms before the update; the update is skipped
    /// when the loss is not finite.
    pub fn step(
        &mut self,
        input: &[f32],
        target: &[f32],
        b: usize,
    ) -> candle_core::Result<LossTerms> {
        let terms = self.forward_backward(input, target, b)?;
        if terms.total().is_finite() {
            self.adam_update();
        }
        Ok(terms)
    }

    /// The gradient of the loss for one batch, by variable name (candle's layouts), without
    /// updating anything (for tests against autograd).
    pub fn gradients(
        &mut self,
        input: &[f32],
        target: &[f32],
        b: usize,
    ) -> candle_core::Result<(LossTerms, NamedGrads)> {
        let terms = self.forward_backward(input, target, b)?;
        let mut g = self.workers[0].grad.clone();
        if self.active == 2 {
            kernels::add_assign(&mut g, &self.workers[1].grad);
        }
        let mut out = Vec::new();
        for s in self.slots() {
            out.push((format!("{}.weight", s.name), s.w(&g).to_vec()));
            out.push((format!("{}.bias", s.name), s.b(&g).to_vec()));
        }
        Ok((terms, out))
    }

    fn forward_backward(
        &mut self,
        input: &[f32],
        target: &[f32],
        b: usize,
    ) -> candle_core::Result<LossTerms> {
        let d = crate::PIXELS;
        if input.len() != b * d || target.len() != b * d || b == 0 {
            candle_core::bail!("fused conv step: expected {b} rows of {d} pixels");
        }
        let threads = rayon::current_num_threads().clamp(1, b);
        let chunk = b.div_ceil(threads);
        let n_chunks = b.div_ceil(chunk);
        if self.workers.len() < n_chunks {
            self.workers.resize_with(n_chunks, Worker::default);
        }
        let mut workers = std::mem::take(&mut self.workers);
        workers[..n_chunks]
            .par_iter_mut()
            .enumerate()
            .for_each(|(c, w)| {
                let r0 = c * chunk;
                let r1 = ((c + 1) * chunk).min(b);
                self.run_chunk(w, &input[r0 * d..r1 * d], &target[r0 * d..r1 * d], b);
            });
        let mut sums = [0f64; 2];
        for w in &workers[..n_chunks] {
            sums[0] += w.sums[0];
            sums[1] += w.sums[1];
        }
        let plen = self.params.len();
        if n_chunks > 2 {
            let (head, rest) = workers[..n_chunks].split_at_mut(2);
            for other in rest.iter() {
                kernels::add_assign(&mut head[1].grad[..plen], &other.grad[..plen]);
            }
        }
        self.active = n_chunks.min(2);
        self.workers = workers;
        let mut terms = LossTerms::default();
        let rec = sums[0] / (b * d) as f64;
        let mut total = rec;
        terms.set(Term::Reconstruction, rec);
        if self.l1 > 0.0 {
            let l = self.l1 as f64 * sums[1] / b as f64;
            terms.set(Term::L1, l);
            total += l;
        }
        terms.set(Term::Total, total);
        Ok(terms)
    }

    /// Applies Adam(W) with the summed gradient, in parallel blocks.
    fn adam_update(&mut self) {
        let plen = self.params.len();
        let g1: &[f32] = if self.active == 2 {
            &self.workers[1].grad[..plen]
        } else {
            &[]
        };
        self.adam
            .update(&mut self.params, &self.workers[0].grad[..plen], g1);
    }

    /// Sizes the worker's buffers for `rows` rows (reallocating only when it grows).
    fn ensure(&self, w: &mut Worker, rows: usize) {
        let plen = self.params.len();
        if w.grad.len() != plen {
            w.grad = vec![0.0; plen];
        }
        if w.rows >= rows && w.enc.len() == self.convs.len() {
            return;
        }
        let flat = self.flat_len();
        w.cols = self
            .convs
            .iter()
            .map(|(g, _)| vec![0.0; g.ckk() * rows * g.howo()])
            .collect();
        w.enc = self
            .convs
            .iter()
            .map(|(g, _)| vec![0.0; g.o * rows * g.howo()])
            .collect();
        w.dec = self
            .deconvs
            .iter()
            .map(|(g, _)| vec![0.0; g.c * rows * g.hw()])
            .collect();
        let widest = self
            .deconvs
            .iter()
            .map(|(g, _)| (g.ckk() * g.howo()).max(g.c * g.hw()).max(g.o * g.howo()))
            .max()
            .unwrap_or(0)
            .max(flat);
        w.flat = vec![0.0; rows * flat];
        w.code = vec![0.0; rows * self.latent];
        w.g_code = vec![0.0; rows * self.latent];
        w.dfc = vec![0.0; rows * flat];
        w.dfc_c = vec![0.0; rows * flat];
        w.scratch = vec![0.0; rows * widest];
        w.y = vec![0.0; rows * crate::PIXELS];
        w.g_a = vec![0.0; rows * widest];
        w.g_b = vec![0.0; rows * widest];
        w.rows = rows;
    }

    /// Forward and backward for one chunk of rows; `b` is the whole batch's size (the loss is a
    /// mean over the whole batch).
    fn run_chunk(&self, w: &mut Worker, x: &[f32], t: &[f32], b: usize) {
        let d = crate::PIXELS;
        let rows = x.len() / d;
        self.ensure(w, rows);
        let p = &self.params;
        let relu = self.relu;
        let k = self.latent;
        let flat = self.flat_len();
        let (lc, lhw) = (self.last_c, self.last_hw);
        let n_conv = self.convs.len();

        // ---- forward: convolutions (x is [1][rows][784], already channel-major) ----
        for (i, (g, s)) in self.convs.iter().enumerate() {
            let n = rows * g.howo();
            let (before, after) = w.enc.split_at_mut(i);
            let inp: &[f32] = if i == 0 { x } else { &before[i - 1] };
            let cols = &mut w.cols[i];
            g.im2col(rows, inp, cols);
            let out = &mut after[0][..g.o * n];
            matmul(
                g.o,
                n,
                g.ckk(),
                out,
                s.w(p),
                false,
                cols,
                false,
                false,
                SERIAL,
            );
            plane_bias_act(out, s.b(p), n, relu);
        }
        // ---- forward: dense code layers ----
        to_rows(&w.enc[n_conv - 1], lc, rows, lhw, &mut w.flat);
        let code = &mut w.code[..rows * k];
        matmul(
            rows,
            k,
            flat,
            code,
            &w.flat,
            false,
            self.enc_fc.w(p),
            true,
            false,
            SERIAL,
        );
        kernels::bias_act(code, self.enc_fc.b(p), false);
        let l1_sum = if self.l1 > 0.0 {
            code.iter().map(|v| v.abs() as f64).sum()
        } else {
            0.0
        };
        let dfc = &mut w.dfc[..rows * flat];
        matmul(
            rows,
            flat,
            k,
            dfc,
            code,
            false,
            self.dec_fc.w(p),
            true,
            false,
            SERIAL,
        );
        kernels::bias_act(dfc, self.dec_fc.b(p), relu);
        to_channels(dfc, lc, rows, lhw, &mut w.dfc_c);
        // ---- forward: transposed convolutions ----
        let n_dec = self.deconvs.len();
        for (j, (g, s)) in self.deconvs.iter().enumerate() {
            let n = rows * g.howo();
            let (before, after) = w.dec.split_at_mut(j);
            let inp: &[f32] = if j == 0 { &w.dfc_c } else { &before[j - 1] };
            let cols = &mut w.scratch[..g.ckk() * n];
            // cols[co·9, n] = Wᵀ[co·9, ci] · X[ci, n]
            matmul(
                g.ckk(),
                n,
                g.o,
                cols,
                s.w(p),
                true,
                inp,
                false,
                false,
                SERIAL,
            );
            let out = &mut after[0];
            g.col2im(rows, cols, out);
            // The last layer gives logits: no activation.
            plane_bias_act(
                &mut out[..g.c * rows * g.hw()],
                s.b(p),
                rows * g.hw(),
                relu && j + 1 < n_dec,
            );
        }

        // ---- loss and its gradient at the logits ----
        let n = rows * d;
        let scale = 1.0 / (b * d) as f32;
        let rec_sum = kernels::output_grad(
            &w.dec[n_dec - 1][..n],
            &t[..n],
            &mut w.y[..n],
            &mut w.g_a[..n],
            scale,
            self.loss_kind,
        );
        w.sums = [rec_sum, l1_sum];

        // ---- backward: transposed convolutions ----
        // Invariant: w.g_a holds the gradient at the current layer's (masked) output.
        for j in (0..n_dec).rev() {
            let (g, s) = &self.deconvs[j];
            let n = rows * g.howo();
            let inp: &[f32] = if j == 0 { &w.dfc_c } else { &w.dec[j - 1] };
            let (gw, gb) = s.wb_mut(&mut w.grad);
            plane_sums(&w.g_a[..g.c * rows * g.hw()], gb, rows * g.hw());
            let cols = &mut w.scratch[..g.ckk() * n];
            g.im2col(rows, &w.g_a, cols);
            // dW[ci, co·9] = X[ci, n] · colsᵀ ; dX[ci, n] = W[ci, co·9] · cols
            matmul(g.o, g.ckk(), n, gw, inp, false, cols, true, false, SERIAL);
            let gx = &mut w.g_b[..g.o * n];
            matmul(
                g.o,
                n,
                g.ckk(),
                gx,
                s.w(p),
                false,
                cols,
                false,
                false,
                SERIAL,
            );
            if relu {
                kernels::relu_mask(gx, &inp[..g.o * n]);
            }
            std::mem::swap(&mut w.g_a, &mut w.g_b);
        }
        // ---- backward: dense code layers ----
        // g_a: gradient at dfc_c (channel-major, masked).
        let g_dfc = &mut w.g_b[..rows * flat];
        to_rows(&w.g_a, lc, rows, lhw, g_dfc);
        {
            let (gw, gb) = self.dec_fc.wb_mut(&mut w.grad);
            matmul(
                flat, k, rows, gw, g_dfc, true, &w.code, false, false, SERIAL,
            );
            kernels::col_sums(g_dfc, gb);
        }
        let g_code = &mut w.g_code[..rows * k];
        matmul(
            rows,
            k,
            flat,
            g_code,
            g_dfc,
            false,
            self.dec_fc.w(p),
            false,
            false,
            SERIAL,
        );
        if self.l1 > 0.0 {
            let l1_scale = self.l1 / b as f32;
            for (g, &c) in g_code.iter_mut().zip(&w.code) {
                *g += l1_scale * kernels::sign(c);
            }
        }
        {
            let (gw, gb) = self.enc_fc.wb_mut(&mut w.grad);
            matmul(
                k, flat, rows, gw, g_code, true, &w.flat, false, false, SERIAL,
            );
            kernels::col_sums(g_code, gb);
        }
        let g_flat = &mut w.g_b[..rows * flat];
        matmul(
            rows,
            flat,
            k,
            g_flat,
            g_code,
            false,
            self.enc_fc.w(p),
            false,
            false,
            SERIAL,
        );
        if relu {
            kernels::relu_mask(g_flat, &w.flat[..rows * flat]);
        }
        to_channels(g_flat, lc, rows, lhw, &mut w.g_a);
        // ---- backward: convolutions ----
        for i in (0..n_conv).rev() {
            let (g, s) = &self.convs[i];
            let n = rows * g.howo();
            let gy = &w.g_a[..g.o * n];
            let (gw, gb) = s.wb_mut(&mut w.grad);
            plane_sums(gy, gb, n);
            // dW[o, c·9] = dY[o, n] · colsᵀ
            matmul(
                g.o,
                g.ckk(),
                n,
                gw,
                gy,
                false,
                &w.cols[i],
                true,
                false,
                SERIAL,
            );
            if i > 0 {
                // dX = col2im(Wᵀ[c·9, o] · dY[o, n])
                let cols = &mut w.scratch[..g.ckk() * n];
                matmul(
                    g.ckk(),
                    n,
                    g.o,
                    cols,
                    s.w(p),
                    true,
                    gy,
                    false,
                    false,
                    SERIAL,
                );
                let gx = &mut w.g_b[..g.c * rows * g.hw()];
                g.col2im(rows, cols, gx);
                if relu {
                    kernels::relu_mask(gx, &w.enc[i - 1][..g.c * rows * g.hw()]);
                }
                std::mem::swap(&mut w.g_a, &mut w.g_b);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::{NoiseSpec, Variant};
    use crate::model::tests::flat;
    use crate::model::TrainedModel;
    use candle_core::DType;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn batch(b: usize, seed: u64) -> Vec<f32> {
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        (0..b * crate::PIXELS)
            .map(|_| {
                if r.random::<f32>() < 0.3 {
                    r.random::<f32>()
                } else {
                    0.0
                }
            })
            .collect()
    }

    /// Loss and gradients of candle's objective (autograd through `model::convops`) on the
    /// same weights and batch.
    fn autograd(
        cfg: &TrainConfig,
        model: &TrainedModel,
        x: &[f32],
        target: &[f32],
        b: usize,
    ) -> (f64, NamedGrads) {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let xt = Tensor::from_slice(x, (b, crate::PIXELS), &Device::Cpu).unwrap();
        let tt = Tensor::from_slice(target, (b, crate::PIXELS), &Device::Cpu).unwrap();
        let (terms, total) =
            crate::train::objective_terms(cfg, &model.model, &xt, &tt, &mut rng).unwrap();
        let grads = total.backward().unwrap();
        let data = model.varmap.data().lock().unwrap();
        let out = data
            .iter()
            .map(|(name, var)| (name.clone(), flat(grads.get(var.as_tensor()).unwrap())))
            .collect();
        let total = terms
            .iter()
            .find(|(k, _)| *k == Term::Total)
            .unwrap()
            .1
            .to_dtype(DType::F64)
            .unwrap()
            .to_scalar::<f64>()
            .unwrap();
        (total, out)
    }

    /// Every variable's gradient (and the loss) agrees with autograd; biases are perturbed
    /// first so that they matter.
    fn check(cfg: TrainConfig, b: usize, noisy_input: bool) {
        let model = TrainedModel::new(&cfg, "test").unwrap();
        {
            let data = model.varmap.data().lock().unwrap();
            for (name, var) in data.iter() {
                if name.ends_with("bias") {
                    let n = var.as_tensor().elem_count();
                    let v: Vec<f32> = (0..n).map(|i| ((i * 7 % 13) as f32 - 6.0) * 0.01).collect();
                    var.set(&Tensor::from_vec(v, var.shape(), &Device::Cpu).unwrap())
                        .unwrap();
                }
            }
        }
        let target = batch(b, 3);
        let input = if noisy_input {
            batch(b, 4)
        } else {
            target.clone()
        };
        let (want_total, want) = autograd(&cfg, &model, &input, &target, b);
        let mut f = FusedConv::new(&cfg, &model.varmap).unwrap();
        let (terms, got) = f.gradients(&input, &target, b).unwrap();
        assert!(
            (terms.total() - want_total).abs() <= 1e-5 * want_total.abs().max(1e-3),
            "{}: loss {} vs autograd {}",
            cfg.describe(),
            terms.total(),
            want_total
        );
        assert_eq!(got.len(), want.len(), "every variable has a gradient");
        for (name, g) in got {
            let w = &want.iter().find(|(n, _)| *n == name).unwrap().1;
            assert_eq!(g.len(), w.len(), "{name}");
            let scale = w.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-12);
            let err = g.iter().zip(w).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(
                err <= 2e-4 * scale,
                "{}: {name} differs by {err} (scale {scale})",
                cfg.describe()
            );
        }
    }

    #[test]
    fn conv_gradients_match_autograd_mse() {
        check(TrainConfig::preset(Variant::Conv, 8), 13, false);
    }

    #[test]
    fn conv_gradients_match_autograd_bce_one_and_three_layers() {
        let mut c = TrainConfig::preset(Variant::Conv, 3);
        c.loss = LossKind::Bce;
        c.model.channels = vec![5];
        check(c.clone(), 6, false);
        c.model.channels = vec![4, 6, 3];
        check(c, 5, false);
    }

    #[test]
    fn conv_gradients_match_autograd_sparse_denoising_linear() {
        let mut c = TrainConfig::preset(Variant::Conv, 4);
        c.l1 = 0.05;
        c.noise = Some(NoiseSpec {
            kind: crate::data::NoiseKind::Gaussian,
            factor: 0.5,
        });
        check(c.clone(), 9, true);
        c.model.activation = Activation::Identity;
        c.model.sigmoid_output = false;
        check(c, 4, false);
    }

    #[test]
    fn conv_engine_supports_conv_but_not_contractive_or_dense() {
        assert!(FusedConv::supports(&TrainConfig::preset(Variant::Conv, 2)));
        let mut c = TrainConfig::preset(Variant::Conv, 2);
        c.contractive = 0.01;
        assert!(!FusedConv::supports(&c));
        assert!(!FusedConv::supports(&TrainConfig::preset(
            Variant::Dense,
            2
        )));
    }

    /// Training for a few steps gives identical losses from the same seed, and the weights
    /// written back to the model reproduce the engine's own loss.
    #[test]
    fn conv_engine_is_deterministic_and_round_trips_weights() {
        let cfg = TrainConfig::preset(Variant::Conv, 4);
        let run = || {
            let model = TrainedModel::new(&cfg, "test").unwrap();
            let mut f = FusedConv::new(&cfg, &model.varmap).unwrap();
            let x = batch(32, 5);
            let losses: Vec<f64> = (0..4)
                .map(|_| f.step(&x, &x, 32).unwrap().total())
                .collect();
            f.write_to(&model.varmap).unwrap();
            let mut again = FusedConv::new(&cfg, &model.varmap).unwrap();
            let (t, _) = again.gradients(&x, &x, 32).unwrap();
            let (t2, _) = f.gradients(&x, &x, 32).unwrap();
            assert_eq!(t.total(), t2.total());
            losses
        };
        let (a, b) = (run(), run());
        assert_eq!(a, b);
        assert!(a[3] < a[0], "the loss goes down: {a:?}");
    }
}
