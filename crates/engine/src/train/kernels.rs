//! Elementwise kernels of the fused engine, written so the compiler vectorises them, and
//! compiled three times: for AVX-512, for AVX2+FMA (chosen at run time by what the CPU has)
//! and for the baseline target. Each public function dispatches; the bodies are plain Rust
//! shared by all builds (built for AVX-512 the sparse product `x·W` ran 13–18 % faster on
//! Zen 4; its transpose and the memory-bound passes about alike). The one exception is the
//! compaction of the first layer's input ([`Csr::fill`]), written with AVX-512 intrinsics.
//! Also: a sparse-times-dense product for inputs that are mostly zeros (MNIST digits are about
//! 80 % black), used by the first layer.

/// Runs `$body` compiled with AVX2+FMA when available, otherwise as is.
macro_rules! dispatch {
    ($name:ident, $generic:ident, ($($arg:ident : $ty:ty),*) -> $ret:ty) => {
        pub fn $name($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                if $crate::linalg::avx512() {
                    #[target_feature(enable = "avx512f,avx2,fma")]
                    unsafe fn avx512($($arg: $ty),*) -> $ret {
                        $generic($($arg),*)
                    }
                    // SAFETY: the CPU supports AVX-512F (checked just above), and with it
                    // AVX2 and FMA.
                    return unsafe { avx512($($arg),*) };
                }
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    #[target_feature(enable = "avx2,fma")]
                    unsafe fn avx2($($arg: $ty),*) -> $ret {
                        $generic($($arg),*)
                    }
                    // SAFETY: the CPU supports AVX2 and FMA (checked just above).
                    return unsafe { avx2($($arg),*) };
                }
            }
            $generic($($arg),*)
        }
    };
}

/// e^x for x in [-87, 88] with ~2 ulp error, branch-free so it vectorises.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    // x = n ln2 + r, |r| <= ln2 / 2
    // floor(v + 0.5) rather than round(): round's ties-away rule has no vector instruction.
    let n = (x * std::f32::consts::LOG2_E + 0.5).floor();
    let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6;
    // e^r by a degree-6 polynomial (Taylor, enough on |r| <= 0.347).
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (0.166_666_67
                    + r * (0.041_666_668 + r * (0.008_333_334 + r * 0.001_388_888_9)))));
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    p * scale
}

#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// ln(1 + e^x) computed stably.
#[inline(always)]
pub fn softplus(x: f32) -> f32 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// `out[r][o] = act(out[r][o] + b[o])` for every row; `relu` chooses the activation.
#[inline(always)]
fn bias_act_generic(out: &mut [f32], b: &[f32], relu: bool) {
    let n = b.len();
    for row in out.chunks_exact_mut(n) {
        if relu {
            for (o, &bb) in row.iter_mut().zip(b) {
                *o = (*o + bb).max(0.0);
            }
        } else {
            for (o, &bb) in row.iter_mut().zip(b) {
                *o += bb;
            }
        }
    }
}
dispatch!(bias_act, bias_act_generic, (out: &mut [f32], b: &[f32], relu: bool) -> ());

/// Zeroes `g[i]` where `x[i] <= 0` (the ReLU's derivative applied to a gradient).
#[inline(always)]
fn relu_mask_generic(g: &mut [f32], x: &[f32]) {
    for (gi, &xi) in g.iter_mut().zip(x) {
        *gi = if xi > 0.0 { *gi } else { 0.0 };
    }
}
dispatch!(relu_mask, relu_mask_generic, (g: &mut [f32], x: &[f32]) -> ());

/// Column sums of a row-major `[rows × n]` matrix into `out` (overwritten).
#[inline(always)]
fn col_sums_generic(m: &[f32], out: &mut [f32]) {
    out.fill(0.0);
    for row in m.chunks_exact(out.len()) {
        for (o, &v) in out.iter_mut().zip(row) {
            *o += v;
        }
    }
}
dispatch!(col_sums, col_sums_generic, (m: &[f32], out: &mut [f32]) -> ());

/// `x[i] = act(x[i] + b)` over a slice (one channel plane of the conv engine).
#[inline(always)]
fn add_scalar_act_generic(x: &mut [f32], b: f32, relu: bool) {
    if relu {
        for v in x {
            *v = (*v + b).max(0.0);
        }
    } else {
        for v in x {
            *v += b;
        }
    }
}
dispatch!(add_scalar_act, add_scalar_act_generic, (x: &mut [f32], b: f32, relu: bool) -> ());

/// Σ f(x), with independent partial sums so it vectorises.
#[inline(always)]
fn lane_sum(x: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0f32; LANES];
    let mut it = x.chunks_exact(LANES);
    for c in &mut it {
        for l in 0..LANES {
            acc[l] += f(c[l]);
        }
    }
    let mut s: f32 = it.remainder().iter().map(|&v| f(v)).sum();
    for a in acc {
        s += a;
    }
    s
}

/// Σ x.
#[inline(always)]
fn sum_generic(x: &[f32]) -> f32 {
    lane_sum(x, |v| v)
}
dispatch!(sum, sum_generic, (x: &[f32]) -> f32);

/// Lanes of the accumulators in reductions: independent partial sums let the compiler
/// vectorise loops that add into a float (it may not reorder a single running sum).
const LANES: usize = 8;

/// The reconstruction loss at the output layer, with the output function it is taken after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputLoss {
    /// Mean squared error of the sigmoid of the logits.
    SigmoidMse,
    /// Binary cross-entropy of the sigmoid of the logits (computed from the logits).
    SigmoidBce,
    /// Mean squared error of the logits themselves (a linear output).
    LinearMse,
}

impl OutputLoss {
    /// The loss a config asks for: `loss` after a sigmoid output, or not. BCE always takes the
    /// sigmoid (it is defined on probabilities).
    pub fn new(loss: crate::model::LossKind, sigmoid_output: bool) -> Self {
        use crate::model::LossKind;
        match (loss, sigmoid_output) {
            (LossKind::Mse, true) => OutputLoss::SigmoidMse,
            (LossKind::Bce, _) => OutputLoss::SigmoidBce,
            (LossKind::Mse, false) => OutputLoss::LinearMse,
        }
    }
}

/// Output layer: from logits `z` and targets `t`, writes the outputs `y` and the gradient of
/// the mean loss at the logits into `g` (`scale` = 1 / (B·D)); returns the loss summed over
/// the elements.
pub fn output_grad(
    z: &[f32],
    t: &[f32],
    y: &mut [f32],
    g: &mut [f32],
    scale: f32,
    loss: OutputLoss,
) -> f64 {
    match loss {
        OutputLoss::SigmoidMse => output_grad_k::<0>(z, t, y, g, scale),
        OutputLoss::SigmoidBce => output_grad_k::<1>(z, t, y, g, scale),
        OutputLoss::LinearMse => output_grad_k::<2>(z, t, y, g, scale),
    }
}

/// One specialised loop per loss kind (a runtime `kind` inside the loop made the compiler
/// evaluate every variant and blend).
fn output_grad_k<const KIND: u8>(
    z: &[f32],
    t: &[f32],
    y: &mut [f32],
    g: &mut [f32],
    scale: f32,
) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2<const K: u8>(
                z: &[f32],
                t: &[f32],
                y: &mut [f32],
                g: &mut [f32],
                scale: f32,
            ) -> f64 {
                output_grad_generic::<K>(z, t, y, g, scale)
            }
            // SAFETY: the CPU supports AVX2 and FMA (checked just above).
            return unsafe { avx2::<KIND>(z, t, y, g, scale) };
        }
    }
    output_grad_generic::<KIND>(z, t, y, g, scale)
}

#[inline(always)]
fn output_grad_generic<const KIND: u8>(
    z: &[f32],
    t: &[f32],
    y: &mut [f32],
    g: &mut [f32],
    scale: f32,
) -> f64 {
    #[inline(always)]
    fn one<const KIND: u8>(zi: f32, ti: f32, scale: f32) -> (f32, f32, f32) {
        if KIND == 0 {
            let s = sigmoid(zi);
            let e = s - ti;
            (s, 2.0 * e * scale * s * (1.0 - s), e * e)
        } else if KIND == 1 {
            // softplus(z) − t z with softplus(z) = max(z, 0) + ln(1 + e^−|z|)
            let e = exp(-zi.abs());
            let sp = zi.max(0.0) + ln_1p_small(e);
            let inv = 1.0 / (1.0 + e);
            let s = if zi >= 0.0 { inv } else { e * inv };
            (s, (s - ti) * scale, sp - ti * zi)
        } else {
            let e = zi - ti;
            (zi, 2.0 * e * scale, e * e)
        }
    }
    let n = z.len().min(t.len()).min(y.len()).min(g.len());
    let (z, t, y, g) = (&z[..n], &t[..n], &mut y[..n], &mut g[..n]);
    let mut total = 0f64;
    let mut count = 0;
    let mut acc = [0f32; LANES];
    for (((zc, tc), yc), gc) in z
        .chunks_exact(LANES)
        .zip(t.chunks_exact(LANES))
        .zip(y.chunks_exact_mut(LANES))
        .zip(g.chunks_exact_mut(LANES))
    {
        let zc: &[f32; LANES] = zc.try_into().expect("exact chunk");
        let tc: &[f32; LANES] = tc.try_into().expect("exact chunk");
        let yc: &mut [f32; LANES] = yc.try_into().expect("exact chunk");
        let gc: &mut [f32; LANES] = gc.try_into().expect("exact chunk");
        for l in 0..LANES {
            let (yi, gi, li) = one::<KIND>(zc[l], tc[l], scale);
            yc[l] = yi;
            gc[l] = gi;
            acc[l] += li;
        }
        count += 1;
        // Flush to f64 now and then so long inputs keep their precision.
        if count % 128 == 0 {
            total += acc.iter().map(|&a| a as f64).sum::<f64>();
            acc = [0.0; LANES];
        }
    }
    for j in n / LANES * LANES..n {
        let (yi, gi, li) = one::<KIND>(z[j], t[j], scale);
        y[j] = yi;
        g[j] = gi;
        total += li as f64;
    }
    total + acc.iter().map(|&a| a as f64).sum::<f64>()
}

/// ln(1 + u) for u in [0, 1], vectorisable (atanh series: ln(1+u) = 2 atanh(u / (2 + u))).
#[inline(always)]
fn ln_1p_small(u: f32) -> f32 {
    let s = u / (2.0 + u);
    let s2 = s * s;
    // 2 (s + s³/3 + s⁵/5 + … + s¹³/13); s <= 1/3, error < 1e-8.
    2.0 * s
        * (1.0
            + s2 * (1.0 / 3.0
                + s2 * (1.0 / 5.0
                    + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0 + s2 * (1.0 / 11.0 + s2 * (1.0 / 13.0)))))))
}

/// Adam(W)'s settings for one step (bias corrections included).
#[derive(Clone, Copy, Debug)]
pub struct AdamStep {
    pub lr: f32,
    /// 1 − lr·weight_decay (AdamW's decoupled decay; 1 for Adam).
    pub decay: f32,
    pub b1: f32,
    pub b2: f32,
    pub eps: f32,
    /// 1 / (1 − β₁ᵗ) and 1 / (1 − β₂ᵗ).
    pub scale_m: f32,
    pub scale_v: f32,
}

/// Adam(W)'s state for a flat parameter vector, shared by both fused engines: the moments, the
/// step count and Σθ² after the last update (for the parameters' RMS).
pub struct Adam {
    lr: f64,
    /// 0 for Adam; AdamW's decoupled decay.
    weight_decay: f64,
    m: Vec<f32>,
    v: Vec<f32>,
    t: i32,
    sq_sum: f64,
}

impl Adam {
    /// The optimiser `cfg` asks for, over `len` parameters.
    pub fn new(cfg: &crate::model::TrainConfig, len: usize) -> Adam {
        use crate::model::config::OptimizerKind;
        Adam {
            lr: cfg.lr,
            weight_decay: match cfg.optimizer {
                OptimizerKind::Adam => 0.0,
                OptimizerKind::AdamW => cfg.weight_decay as f64,
            },
            m: vec![0.0; len],
            v: vec![0.0; len],
            t: 0,
            sq_sum: 0.0,
        }
    }

    /// Takes Σθ² from `params` (after they were loaded from elsewhere).
    pub fn measure(&mut self, params: &[f32]) {
        self.sq_sum = params.iter().map(|&v| (v as f64) * (v as f64)).sum();
    }

    /// Root mean square of the parameters after the last update (or [`Adam::measure`]).
    pub fn param_rms(&self) -> f64 {
        (self.sq_sum / self.m.len().max(1) as f64).sqrt()
    }

    /// One step over all `params` with the summed gradient `g0 + g1` (`g1` empty: one
    /// worker), in parallel blocks.
    pub fn update(&mut self, params: &mut [f32], g0: &[f32], g1: &[f32]) {
        use rayon::prelude::*;
        const BLOCK: usize = 16 * 1024;
        self.t += 1;
        let (b1, b2) = (0.9f64, 0.999f64);
        let h = AdamStep {
            lr: self.lr as f32,
            decay: (1.0 - self.lr * self.weight_decay) as f32,
            b1: b1 as f32,
            b2: b2 as f32,
            eps: 1e-8,
            scale_m: (1.0 / (1.0 - b1.powi(self.t))) as f32,
            scale_v: (1.0 / (1.0 - b2.powi(self.t))) as f32,
        };
        self.sq_sum = params
            .par_chunks_mut(BLOCK)
            .zip(self.m.par_chunks_mut(BLOCK))
            .zip(self.v.par_chunks_mut(BLOCK))
            .enumerate()
            .map(|(i, ((p, m), v))| {
                let start = i * BLOCK;
                let end = start + p.len();
                let g1 = if g1.is_empty() { g1 } else { &g1[start..end] };
                adam(p, m, v, &g0[start..end], g1, h)
            })
            .sum();
    }
}

/// The sign of `v` (0 for 0), as the L1 penalty's gradient.
pub fn sign(v: f32) -> f32 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// Adam(W) update of one block with the gradient `g0 + g1` (`g1` may be empty: one worker);
/// returns Σ of the squared new parameters (NaN if a gradient was not finite).
#[inline(always)]
fn adam_generic(
    p: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    g0: &[f32],
    g1: &[f32],
    h: AdamStep,
) -> f64 {
    #[inline(always)]
    fn one(p: &mut f32, m: &mut f32, v: &mut f32, g: f32, h: AdamStep) -> f32 {
        let m2 = *m * h.b1 + g * (1.0 - h.b1);
        let v2 = *v * h.b2 + g * g * (1.0 - h.b2);
        *m = m2;
        *v = v2;
        let np = *p * h.decay - h.lr * ((m2 * h.scale_m) / ((v2 * h.scale_v).sqrt() + h.eps));
        *p = np;
        np * np
    }
    let n = p.len();
    let (m, v, g0) = (&mut m[..n], &mut v[..n], &g0[..n]);
    let two = g1.len() == n;
    let mut acc = [0f32; LANES];
    let full = n / LANES * LANES;
    let chunks = p
        .chunks_exact_mut(LANES)
        .zip(m.chunks_exact_mut(LANES))
        .zip(v.chunks_exact_mut(LANES))
        .zip(g0.chunks_exact(LANES));
    if two {
        for ((((pc, mc), vc), gc), hc) in chunks.zip(g1.chunks_exact(LANES)) {
            let pc: &mut [f32; LANES] = pc.try_into().expect("exact chunk");
            let mc: &mut [f32; LANES] = mc.try_into().expect("exact chunk");
            let vc: &mut [f32; LANES] = vc.try_into().expect("exact chunk");
            let gc: &[f32; LANES] = gc.try_into().expect("exact chunk");
            let hc: &[f32; LANES] = hc.try_into().expect("exact chunk");
            for l in 0..LANES {
                acc[l] += one(&mut pc[l], &mut mc[l], &mut vc[l], gc[l] + hc[l], h);
            }
        }
    } else {
        for (((pc, mc), vc), gc) in chunks {
            let pc: &mut [f32; LANES] = pc.try_into().expect("exact chunk");
            let mc: &mut [f32; LANES] = mc.try_into().expect("exact chunk");
            let vc: &mut [f32; LANES] = vc.try_into().expect("exact chunk");
            let gc: &[f32; LANES] = gc.try_into().expect("exact chunk");
            for l in 0..LANES {
                acc[l] += one(&mut pc[l], &mut mc[l], &mut vc[l], gc[l], h);
            }
        }
    }
    let mut sq: f64 = acc.iter().map(|&a| a as f64).sum();
    for j in full..n {
        let g = if two { g0[j] + g1[j] } else { g0[j] };
        sq += one(&mut p[j], &mut m[j], &mut v[j], g, h) as f64;
    }
    sq
}
dispatch!(adam, adam_generic, (p: &mut [f32], m: &mut [f32], v: &mut [f32], g0: &[f32], g1: &[f32], h: AdamStep) -> f64);

/// `acc += other`, elementwise.
#[inline(always)]
fn add_assign_generic(acc: &mut [f32], other: &[f32]) {
    for (a, &o) in acc.iter_mut().zip(other) {
        *a += o;
    }
}
dispatch!(add_assign, add_assign_generic, (acc: &mut [f32], other: &[f32]) -> ());

/// Whether every value of `x` is finite: `0·v` is 0 for a finite `v` and NaN otherwise, so the
/// sum stays 0 exactly when all are (one vectorised pass, no branch per value).
#[inline(always)]
fn all_finite_generic(x: &[f32]) -> bool {
    lane_sum(x, |v| v * 0.0) == 0.0
}
dispatch!(all_finite, all_finite_generic, (x: &[f32]) -> bool);

/// Nonzero entries of a row-major `[rows × d]` matrix, by row (CSR) and by column (CSC).
#[derive(Default, Debug, Clone)]
pub struct Csr {
    pub row_start: Vec<usize>,
    pub cols: Vec<u32>,
    pub vals: Vec<f32>,
    /// The same entries by column: `col_start[j]..col_start[j + 1]` index `rows_of`/`cvals`.
    pub col_start: Vec<usize>,
    pub rows_of: Vec<u32>,
    pub cvals: Vec<f32>,
    next: Vec<usize>,
}

impl Csr {
    /// Rebuilds from `x`; returns the fraction of nonzero entries.
    pub fn fill(&mut self, x: &[f32], d: usize) -> f32 {
        let rows = x.len() / d.max(1);
        // Room for a whole vector's store past the last nonzero.
        self.cols.resize(x.len() + COMPACT_SLACK, 0);
        self.vals.resize(x.len() + COMPACT_SLACK, 0.0);
        self.row_start.clear();
        self.row_start.push(0);
        let nnz = compact(x, d, &mut self.cols, &mut self.vals, &mut self.row_start);
        self.cols.truncate(nnz);
        self.vals.truncate(nnz);
        // Counting sort into columns; `next` reuses `rows_of`'s neighbour buffer.
        self.col_start.clear();
        self.col_start.resize(d + 1, 0);
        for &c in &self.cols {
            self.col_start[c as usize + 1] += 1;
        }
        for j in 0..d {
            self.col_start[j + 1] += self.col_start[j];
        }
        self.rows_of.resize(nnz, 0);
        self.cvals.resize(nnz, 0.0);
        self.next.clear();
        self.next.extend_from_slice(&self.col_start[..d]);
        for r in 0..rows {
            for k in self.row_start[r]..self.row_start[r + 1] {
                let c = self.cols[k] as usize;
                let at = self.next[c];
                self.rows_of[at] = r as u32;
                self.cvals[at] = self.vals[k];
                self.next[c] = at + 1;
            }
        }
        nnz as f32 / x.len().max(1) as f32
    }
}

/// Entries [`compact`] may write past the last nonzero (one AVX-512 vector).
const COMPACT_SLACK: usize = 16;

/// Writes the nonzero entries of the rows of `x` (`d` wide) to `cols`/`vals` in order, pushes
/// each row's end to `row_start`, returns their count. `cols` and `vals` hold `x.len() +
/// COMPACT_SLACK` entries. With AVX-512 sixteen values at a time (compressed in a register
/// and stored whole: on Zen 4 the compressing store to memory is microcoded and slower than
/// the scalar loop); otherwise branch-free, one value at a time.
fn compact(
    x: &[f32],
    d: usize,
    cols: &mut [u32],
    vals: &mut [f32],
    row_start: &mut Vec<usize>,
) -> usize {
    assert!(cols.len() >= x.len() + COMPACT_SLACK && vals.len() >= x.len() + COMPACT_SLACK);
    #[cfg(target_arch = "x86_64")]
    if crate::linalg::avx512() {
        // SAFETY: the CPU has AVX-512F (checked just above); the buffers have the slack the
        // whole-vector stores need (asserted above).
        return unsafe { compact_avx512(x, d, cols, vals, row_start) };
    }
    let mut nnz = 0;
    for row in x.chunks_exact(d) {
        nnz = compact_row(row, 0, nnz, cols, vals);
        row_start.push(nnz);
    }
    nnz
}

/// The branch-free compaction of `row[from..]` (its columns counted from 0) after entry `nnz`:
/// every entry is written, the count advances only past nonzeros. Returns the new count.
#[inline(always)]
fn compact_row(
    row: &[f32],
    from: usize,
    mut nnz: usize,
    cols: &mut [u32],
    vals: &mut [f32],
) -> usize {
    for (j, &v) in row.iter().enumerate().skip(from) {
        cols[nnz] = j as u32;
        vals[nnz] = v;
        nnz += (v != 0.0) as usize;
    }
    nnz
}

/// [`compact`] with AVX-512: per 16 values a not-equal-to-zero mask (true for NaN, as `!=`),
/// the kept values and their column numbers compressed to the front of a register, the whole
/// register stored, the count advanced by the mask's population.
///
/// # Safety
/// The CPU must support AVX-512F, and `cols`/`vals` must hold `x.len() + COMPACT_SLACK`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn compact_avx512(
    x: &[f32],
    d: usize,
    cols: &mut [u32],
    vals: &mut [f32],
    row_start: &mut Vec<usize>,
) -> usize {
    use std::arch::x86_64::*;
    let zero = _mm512_setzero_ps();
    let iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let mut nnz = 0;
    for row in x.chunks_exact(d) {
        let mut j = 0;
        while j + 16 <= d {
            // SAFETY: j + 16 <= d = row.len(); nnz + 16 <= entries so far + 16 <= x.len() +
            // COMPACT_SLACK, the buffers' length.
            unsafe {
                let v = _mm512_loadu_ps(row.as_ptr().add(j));
                let keep = _mm512_cmp_ps_mask::<_CMP_NEQ_UQ>(v, zero);
                let at = _mm512_add_epi32(iota, _mm512_set1_epi32(j as i32));
                _mm512_storeu_ps(
                    vals.as_mut_ptr().add(nnz),
                    _mm512_maskz_compress_ps(keep, v),
                );
                _mm512_storeu_epi32(
                    cols.as_mut_ptr().add(nnz) as *mut i32,
                    _mm512_maskz_compress_epi32(keep, at),
                );
                nnz += keep.count_ones() as usize;
            }
            j += 16;
        }
        nnz = compact_row(row, j, nnz, cols, vals);
        row_start.push(nnz);
    }
    nnz
}

/// Width of the register blocks in the sparse products (8 AVX registers of 8 floats).
const BLOCK_W: usize = 64;

/// `acc += v · row` over a block of `BLOCK_W` (fixed size, so it stays in registers).
#[inline(always)]
fn axpy_block(acc: &mut [f32; BLOCK_W], v: f32, row: &[f32]) {
    let row: &[f32; BLOCK_W] = row[..BLOCK_W].try_into().expect("block");
    for l in 0..BLOCK_W {
        acc[l] += v * row[l];
    }
}

/// `o = Σ_k vals[k] · src[idx[k]]`, where `src[i]` is row `i` of the row-major `src`, `n`
/// wide like `o`; `o` is overwritten. The row is walked in blocks held in registers while the
/// weighted rows stream past. Both sparse products below are this, once per output row.
#[inline(always)]
fn weighted_rows_sum(o: &mut [f32], vals: &[f32], idx: &[u32], src: &[f32], n: usize) {
    let w = o.len();
    let mut c0 = 0;
    while c0 + BLOCK_W <= w {
        let mut acc = [0f32; BLOCK_W];
        for (&v, &i) in vals.iter().zip(idx) {
            axpy_block(&mut acc, v, &src[i as usize * n + c0..]);
        }
        o[c0..c0 + BLOCK_W].copy_from_slice(&acc);
        c0 += BLOCK_W;
    }
    if c0 < w {
        let tail = &mut o[c0..];
        tail.fill(0.0);
        for (&v, &i) in vals.iter().zip(idx) {
            let row = &src[i as usize * n + c0..][..tail.len()];
            for (a, &s) in tail.iter_mut().zip(row) {
                *a += v * s;
            }
        }
    }
}

/// `out[r] = Σ_j x[r][j] · wt[j]` for the nonzero `x[r][j]`, with `wt` row-major `[d × n]`
/// (the layer's weight stored transposed). `out` is overwritten.
#[inline(always)]
fn sparse_matmul_generic(x: &Csr, wt: &[f32], n: usize, out: &mut [f32]) {
    for (r, o) in out.chunks_exact_mut(n).enumerate() {
        let nz = x.row_start[r]..x.row_start[r + 1];
        weighted_rows_sum(o, &x.vals[nz.clone()], &x.cols[nz], wt, n);
    }
}
dispatch!(sparse_matmul, sparse_matmul_generic, (x: &Csr, wt: &[f32], n: usize, out: &mut [f32]) -> ());

/// `gt[j] = Σ_r x[r][j] · g[r]` (the transposed weight's gradient `Xᵀ G`), with `gt`
/// row-major `[d × n]` and `g` row-major `[rows × n]`. `gt` is overwritten. Walks `x` by
/// column so each output row is accumulated in registers.
#[inline(always)]
fn sparse_t_matmul_generic(x: &Csr, g: &[f32], n: usize, gt: &mut [f32]) {
    for (j, dst) in gt.chunks_exact_mut(n).enumerate() {
        let nz = x.col_start[j]..x.col_start[j + 1];
        if nz.is_empty() {
            dst.fill(0.0);
            continue;
        }
        weighted_rows_sum(dst, &x.cvals[nz.clone()], &x.rows_of[nz], g, n);
    }
}
dispatch!(sparse_t_matmul, sparse_t_matmul_generic, (x: &Csr, g: &[f32], n: usize, gt: &mut [f32]) -> ());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_is_accurate() {
        let mut worst = 0f32;
        let mut x = -87.0f32;
        while x < 88.0 {
            let rel = ((exp(x) - x.exp()) / x.exp()).abs();
            worst = worst.max(rel);
            x += 0.0137;
        }
        assert!(worst < 5e-7, "worst relative error {worst}");
    }

    #[test]
    fn ln_1p_small_is_accurate() {
        for i in 0..=1000 {
            let u = i as f32 / 1000.0;
            assert!((ln_1p_small(u) - u.ln_1p()).abs() < 2e-7, "{u}");
        }
    }

    #[test]
    fn sparse_products_match_dense() {
        // n = 3: the tail only; 69 and 128: whole register blocks, with and without a tail.
        for n in [3, 69, 128] {
            sparse_products_match_dense_at(n);
        }
    }

    fn sparse_products_match_dense_at(n: usize) {
        let (rows, d) = (5, 7);
        let x: Vec<f32> = (0..rows * d)
            .map(|i| if i % 3 == 0 { (i as f32).sin() } else { 0.0 })
            .collect();
        let wt: Vec<f32> = (0..d * n).map(|i| (i as f32 * 0.7).cos()).collect();
        let mut csr = Csr::default();
        let density = csr.fill(&x, d);
        assert!((density - (x.iter().filter(|v| **v != 0.0).count() as f32 / 35.0)).abs() < 1e-6);
        let mut out = vec![9.0; rows * n];
        sparse_matmul(&csr, &wt, n, &mut out);
        for r in 0..rows {
            for c in 0..n {
                let want: f32 = (0..d).map(|j| x[r * d + j] * wt[j * n + c]).sum();
                assert!((out[r * n + c] - want).abs() < 1e-5, "n = {n}");
            }
        }
        let g: Vec<f32> = (0..rows * n).map(|i| i as f32 - 4.0).collect();
        let mut gt = vec![9.0; d * n];
        sparse_t_matmul(&csr, &g, n, &mut gt);
        for j in 0..d {
            for c in 0..n {
                let want: f32 = (0..rows).map(|r| x[r * d + j] * g[r * n + c]).sum();
                assert!((gt[j * n + c] - want).abs() < 1e-4, "n = {n}");
            }
        }
    }

    #[test]
    fn output_grad_matches_plain_formulas() {
        let z: Vec<f32> = (0..37).map(|i| (i as f32 - 18.0) * 0.7).collect();
        let t: Vec<f32> = (0..37).map(|i| (i % 5) as f32 / 4.0).collect();
        let (mut y, mut g) = (vec![0.0; 37], vec![0.0; 37]);
        let losses = [
            OutputLoss::SigmoidMse,
            OutputLoss::SigmoidBce,
            OutputLoss::LinearMse,
        ];
        for (kind, loss) in losses.into_iter().enumerate() {
            let total = output_grad(&z, &t, &mut y, &mut g, 0.5, loss);
            let mut want = 0f64;
            for i in 0..37 {
                let s = 1.0 / (1.0 + (-z[i] as f64).exp());
                let (yy, gg, l) = match kind {
                    0 => (
                        s,
                        (s - t[i] as f64) * s * (1.0 - s),
                        (s - t[i] as f64).powi(2),
                    ),
                    1 => (
                        s,
                        0.5 * (s - t[i] as f64),
                        (1.0 + (z[i] as f64).exp()).ln() - t[i] as f64 * z[i] as f64,
                    ),
                    _ => (
                        z[i] as f64,
                        z[i] as f64 - t[i] as f64,
                        (z[i] as f64 - t[i] as f64).powi(2),
                    ),
                };
                want += l;
                assert!((y[i] as f64 - yy).abs() < 1e-5, "kind {kind} y[{i}]");
                assert!((g[i] as f64 - gg).abs() < 1e-5, "kind {kind} g[{i}]");
            }
            assert!(
                (total - want).abs() < 1e-4 * want.abs().max(1.0),
                "kind {kind}: {total} vs {want}"
            );
        }
    }

    #[test]
    fn adam_sums_two_gradients_and_reports_nan() {
        let mut p = vec![1.0f32; 19];
        let (mut m, mut v) = (vec![0.0; 19], vec![0.0; 19]);
        let g0 = vec![0.5f32; 19];
        let g1 = vec![-1.5f32; 19];
        let h = AdamStep {
            lr: 0.1,
            decay: 1.0,
            b1: 0.9,
            b2: 0.999,
            eps: 1e-8,
            scale_m: 10.0,
            scale_v: 1000.0,
        };
        let sq = adam(&mut p, &mut m, &mut v, &g0, &g1, h);
        // First Adam step moves each weight by lr·sign(g) = +0.1 (g = −1).
        assert!(p.iter().all(|&x| (x - 1.1).abs() < 1e-5), "{p:?}");
        assert!((sq - 19.0 * 1.21).abs() < 1e-3);
        let bad = vec![f32::NAN; 19];
        assert!(adam(&mut p, &mut m, &mut v, &bad, &[], h).is_nan());
    }

    #[test]
    fn all_finite_finds_one_nan_or_infinity_anywhere() {
        let mut x: Vec<f32> = (0..37).map(|i| i as f32 * 1e30 - 1e31).collect();
        assert!(all_finite(&x));
        assert!(all_finite(&[]));
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            // In a full lane block and in the tail.
            for at in [3, 36] {
                let keep = x[at];
                x[at] = bad;
                assert!(!all_finite(&x), "{bad} at {at}");
                x[at] = keep;
            }
        }
    }

    /// The compaction keeps exactly the entries `v != 0.0` (NaN kept, −0 dropped) in order,
    /// with their columns and each row's end, for rows whose width is and is not a multiple of
    /// the vector width, whichever build (AVX-512 or not) this CPU runs.
    #[test]
    fn compaction_keeps_exactly_the_nonzero_entries() {
        for d in [784usize, 16, 37, 5, 1] {
            let rows = 9;
            let x: Vec<f32> = (0..rows * d)
                .map(|i| match (i * 7919) % 11 {
                    0 => f32::NAN,
                    1 => -0.0,
                    2 => 1e-40,
                    3 | 4 => (i as f32) * 0.01 - 3.0,
                    _ => 0.0,
                })
                .collect();
            let mut csr = Csr::default();
            csr.fill(&x, d);
            let mut want_cols = Vec::new();
            let mut want_vals = Vec::new();
            let mut want_starts = vec![0];
            for row in x.chunks_exact(d) {
                for (j, &v) in row.iter().enumerate() {
                    if v != 0.0 {
                        want_cols.push(j as u32);
                        want_vals.push(v.to_bits());
                    }
                }
                want_starts.push(want_cols.len());
            }
            assert_eq!(csr.cols, want_cols, "columns, d = {d}");
            let got: Vec<u32> = csr.vals.iter().map(|v| v.to_bits()).collect();
            assert_eq!(got, want_vals, "values, d = {d}");
            assert_eq!(csr.row_start, want_starts, "row ends, d = {d}");
        }
    }
}
