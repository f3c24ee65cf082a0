//! What a model's bottleneck holds: per-dimension statistics of the codes (variance, mean |z|,
//! how often a unit is active, a VAE's KL per dimension and its count of active units), the
//! spread of each dimension (percentile ranges for sliders), traversal codes (one dimension
//! swept, the others held) and the learned weights as plain matrices (a dense encoder's first
//! layer, a dense decoder's last layer, a conv encoder's first filters and their activation
//! maps). Plain slices and models in, numbers out; the Features panel and `bottleneck features`
//! draw and print them.

use candle_core::{Device, Tensor};

use crate::model::{Arch, TrainedModel};

/// A unit counts as active on an image when |z| exceeds this.
pub const ACTIVE_THRESHOLD: f32 = 0.1;
/// A VAE dimension with a mean KL above this (nats) is an active unit (Burda et al. use the
/// same bound on the variance of the mean code).
pub const KL_ACTIVE: f64 = 0.01;
/// A plain autoencoder's dimension counts as an active unit when its variance is at least this
/// fraction of the largest dimension's variance.
pub const VARIANCE_ACTIVE: f64 = 0.01;

#[derive(Debug, thiserror::Error)]
pub enum FeatureError {
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    #[error("no codes to measure (the code size is {k} and {len} values were given)")]
    NoCodes { k: usize, len: usize },
    #[error("dimension {dim} is out of range for a {k}-dimensional code")]
    BadDimension { dim: usize, k: usize },
    #[error("the model has no layer {0}")]
    NoLayer(String),
    #[error("{0}")]
    InferenceOnly(&'static str),
}

/// Statistics of one code dimension over a set of images.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct UnitStats {
    pub mean: f64,
    pub variance: f64,
    pub mean_abs: f64,
    /// Fraction of images with |z| > [`ACTIVE_THRESHOLD`].
    pub active_fraction: f64,
    /// 1st and 99th percentiles of the values (the slider range).
    pub p01: f32,
    pub p99: f32,
    /// VAE only: mean KL(q(z_j|x) || N(0, 1)) in nats.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kl: Option<f64>,
}

/// Statistics of every dimension, and what they add up to.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CodeStats {
    pub units: Vec<UnitStats>,
    /// Mean |z| over all dimensions and images (the Keras tutorial's "mean activation").
    pub mean_abs_activation: f64,
    /// VAE: dimensions with KL > [`KL_ACTIVE`]; otherwise dimensions with variance at least
    /// [`VARIANCE_ACTIVE`] of the largest.
    pub active_units: usize,
}

impl CodeStats {
    pub fn k(&self) -> usize {
        self.units.len()
    }

    /// The mean code (each dimension's mean).
    pub fn mean_code(&self) -> Vec<f32> {
        self.units.iter().map(|u| u.mean as f32).collect()
    }

    /// Dimensions ordered by KL (when known) or variance, largest first.
    pub fn order(&self) -> Vec<usize> {
        let key = |u: &UnitStats| u.kl.unwrap_or(u.variance);
        let mut idx: Vec<usize> = (0..self.units.len()).collect();
        idx.sort_by(|&a, &b| key(&self.units[b]).total_cmp(&key(&self.units[a])));
        idx
    }
}

/// The `q`-quantile (0..=1) of sorted values, interpolated linearly.
fn quantile(sorted: &[f32], q: f64) -> f32 {
    if sorted.is_empty() {
        return 0.0;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (i, f) = (pos.floor() as usize, pos.fract() as f32);
    let j = (i + 1).min(sorted.len() - 1);
    sorted[i] + f * (sorted[j] - sorted[i])
}

/// Statistics of `codes` (row-major, `k` per image). `logvar`: a VAE's log σ² of the same
/// images (then `codes` are the means μ) for the KL per dimension. NaN values are skipped.
pub fn code_stats(
    codes: &[f32],
    k: usize,
    logvar: Option<&[f32]>,
) -> Result<CodeStats, FeatureError> {
    if k == 0 || codes.len() < k {
        return Err(FeatureError::NoCodes {
            k,
            len: codes.len(),
        });
    }
    let n = codes.len() / k;
    let logvar = logvar.filter(|l| l.len() >= n * k);
    let mut units = Vec::with_capacity(k);
    let mut col = Vec::with_capacity(n);
    let mut total_abs = 0.0;
    let mut total_n = 0usize;
    for j in 0..k {
        col.clear();
        col.extend((0..n).map(|i| codes[i * k + j]).filter(|v| v.is_finite()));
        let m = col.len().max(1) as f64;
        let mean = col.iter().map(|&v| v as f64).sum::<f64>() / m;
        let variance = col.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / m;
        let sum_abs = col.iter().map(|&v| v.abs() as f64).sum::<f64>();
        total_abs += sum_abs;
        total_n += col.len();
        let active = col.iter().filter(|v| v.abs() > ACTIVE_THRESHOLD).count();
        let kl = logvar.map(|lv| {
            (0..n)
                .map(|i| {
                    let (mu, l) = (codes[i * k + j] as f64, lv[i * k + j] as f64);
                    0.5 * (mu * mu + l.exp() - 1.0 - l)
                })
                .filter(|v| v.is_finite())
                .sum::<f64>()
                / n.max(1) as f64
        });
        col.sort_by(|a, b| a.total_cmp(b));
        units.push(UnitStats {
            mean,
            variance,
            mean_abs: sum_abs / m,
            active_fraction: active as f64 / m,
            p01: quantile(&col, 0.01),
            p99: quantile(&col, 0.99),
            kl,
        });
    }
    let active_units = if logvar.is_some() {
        units
            .iter()
            .filter(|u| u.kl.unwrap_or(0.0) > KL_ACTIVE)
            .count()
    } else {
        let max = units.iter().map(|u| u.variance).fold(0.0, f64::max);
        units
            .iter()
            .filter(|u| max > 0.0 && u.variance >= VARIANCE_ACTIVE * max)
            .count()
    };
    Ok(CodeStats {
        units,
        mean_abs_activation: total_abs / total_n.max(1) as f64,
        active_units,
    })
}

/// The statistics as CSV: one row per code dimension (`dim` counts from 1, as the panel's
/// `z1 … zk`), `kl` empty unless the model is a VAE.
pub fn stats_csv(stats: &CodeStats) -> String {
    let mut out = String::from("dim,mean,variance,mean_abs,active_fraction,p01,p99,kl\n");
    for (j, u) in stats.units.iter().enumerate() {
        let kl = u.kl.map(|k| k.to_string()).unwrap_or_default();
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{kl}\n",
            j + 1,
            u.mean,
            u.variance,
            u.mean_abs,
            u.active_fraction,
            u.p01,
            u.p99
        ));
    }
    out
}

/// The codes of `images` and, for a VAE, their log σ² (for [`code_stats`]).
pub fn encode_with_logvar(
    model: &TrainedModel,
    images: &[f32],
) -> Result<(Vec<f32>, Option<Vec<f32>>), FeatureError> {
    if model.config().model.arch != Arch::Vae {
        return Ok((model.encode(images)?, None));
    }
    let mut mu = Vec::new();
    let mut lv = Vec::new();
    for chunk in images.chunks(1024 * crate::PIXELS) {
        let n = chunk.len() / crate::PIXELS;
        let x = Tensor::from_slice(
            &chunk[..n * crate::PIXELS],
            (n, crate::PIXELS),
            &Device::Cpu,
        )?;
        let f = model.model.forward(&x, None)?;
        mu.extend(f.code.flatten_all()?.to_vec1::<f32>()?);
        if let Some(l) = f.logvar {
            lv.extend(l.flatten_all()?.to_vec1::<f32>()?);
        }
    }
    Ok((mu, Some(lv)))
}

/// The statistics of `model`'s codes of `images` (with the KL for a VAE).
pub fn model_stats(model: &TrainedModel, images: &[f32]) -> Result<CodeStats, FeatureError> {
    let (codes, logvar) = encode_with_logvar(model, images)?;
    code_stats(&codes, model.latent(), logvar.as_deref())
}

/// A histogram of every code value: `bins` counts over `[lo, hi]` (the 0.5th to 99.5th
/// percentile of all values, widened when they are equal).
pub fn value_histogram(codes: &[f32], bins: usize) -> (Vec<u32>, f32, f32) {
    let mut v: Vec<f32> = codes.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(|a, b| a.total_cmp(b));
    let (mut lo, mut hi) = (quantile(&v, 0.005), quantile(&v, 0.995));
    if hi <= lo {
        lo -= 0.5;
        hi += 0.5;
    }
    (super::metrics::histogram(&v, bins, lo, hi), lo, hi)
}

/// `base` with dimension `dim` set to `value`.
pub fn with_dim(base: &[f32], dim: usize, value: f32) -> Result<Vec<f32>, FeatureError> {
    if dim >= base.len() {
        return Err(FeatureError::BadDimension { dim, k: base.len() });
    }
    let mut z = base.to_vec();
    z[dim] = value;
    Ok(z)
}

/// A traversal grid: for each of `dims`, `steps` codes (row-major) that sweep that dimension
/// evenly from its 1st to its 99th percentile with the others held at `base`.
pub fn traversal_codes(
    base: &[f32],
    stats: &CodeStats,
    dims: &[usize],
    steps: usize,
) -> Result<Vec<f32>, FeatureError> {
    let k = base.len();
    let mut out = Vec::with_capacity(dims.len() * steps * k);
    for &d in dims {
        let u = stats
            .units
            .get(d)
            .ok_or(FeatureError::BadDimension { dim: d, k })?;
        for s in 0..steps {
            let t = if steps > 1 {
                s as f32 / (steps - 1) as f32
            } else {
                0.5
            };
            out.extend(with_dim(base, d, u.p01 + t * (u.p99 - u.p01))?);
        }
    }
    Ok(out)
}

/// A layer's weights as one row per unit (`rows × cols`, row-major); each row is what one
/// unit looks at (a 28×28 picture when `cols` = 784, a 3×3 filter for a conv layer).
#[derive(Clone, Debug, PartialEq)]
pub struct WeightMatrix {
    pub rows: usize,
    pub cols: usize,
    pub values: Vec<f32>,
    /// Side of each row's picture (28, or the filter size).
    pub side: usize,
}

impl WeightMatrix {
    pub fn row(&self, i: usize) -> &[f32] {
        &self.values[i * self.cols..(i + 1) * self.cols]
    }

    /// Each row's Euclidean norm.
    pub fn norms(&self) -> Vec<f32> {
        (0..self.rows)
            .map(|i| self.row(i).iter().map(|v| v * v).sum::<f32>().sqrt())
            .collect()
    }

    /// Row indices by norm, largest first.
    pub fn order_by_norm(&self) -> Vec<usize> {
        let n = self.norms();
        let mut idx: Vec<usize> = (0..self.rows).collect();
        idx.sort_by(|&a, &b| n[b].total_cmp(&n[a]));
        idx
    }

    /// The largest |value| (the symmetric colour scale).
    pub fn max_abs(&self) -> f32 {
        self.values
            .iter()
            .filter(|v| v.is_finite())
            .fold(0.0f32, |m, v| m.max(v.abs()))
    }
}

/// The tensor called `name` in the model's weights.
fn var(model: &TrainedModel, name: &str) -> Result<Tensor, FeatureError> {
    if let Some(why) = model.inference_only() {
        return Err(FeatureError::InferenceOnly(why));
    }
    let data = model.varmap.data().lock().expect("varmap lock");
    data.get(name)
        .map(|v| v.as_tensor().clone())
        .ok_or_else(|| FeatureError::NoLayer(name.into()))
}

/// The encoder's first layer: for dense models and VAEs one 784-long row per unit of the first
/// layer (`enc.0`, or a VAE's `mu` when it has no hidden layer); for conv models the first
/// convolution's filters (3×3, one row per output channel).
pub fn encoder_weights(model: &TrainedModel) -> Result<WeightMatrix, FeatureError> {
    let cfg = &model.config().model;
    let (name, side) = match cfg.arch {
        Arch::Conv => ("conv.0.weight", 3),
        Arch::Vae if cfg.hidden.is_empty() => ("mu.weight", crate::SIDE),
        _ => ("enc.0.weight", crate::SIDE),
    };
    let t = var(model, name)?;
    let rows = t.dim(0)?;
    let values = t.flatten_all()?.to_vec1::<f32>()?;
    let cols = values.len() / rows.max(1);
    Ok(WeightMatrix {
        rows,
        cols,
        values,
        side,
    })
}

/// A dense decoder's last layer: one 784-long row per unit feeding the output (the picture
/// that unit adds to the output). `None` for conv models.
pub fn decoder_weights(model: &TrainedModel) -> Result<Option<WeightMatrix>, FeatureError> {
    let cfg = &model.config().model;
    if cfg.arch == Arch::Conv {
        return Ok(None);
    }
    let name = format!("dec.{}.weight", cfg.hidden.len());
    // Stored [784, in]: transpose so each row is one input unit.
    let t = var(model, &name)?.t()?.contiguous()?;
    let rows = t.dim(0)?;
    Ok(Some(WeightMatrix {
        rows,
        cols: crate::PIXELS,
        values: t.flatten_all()?.to_vec1::<f32>()?,
        side: crate::SIDE,
    }))
}

/// A conv model's first-layer activation maps on one image: one row per channel, `side`² each.
pub fn conv_activations(model: &TrainedModel, image: &[f32]) -> Result<WeightMatrix, FeatureError> {
    if model.config().model.arch != Arch::Conv || image.len() != crate::PIXELS {
        return Err(FeatureError::NoLayer("conv.0 on a 28x28 image".into()));
    }
    let w = var(model, "conv.0.weight")?;
    let b = var(model, "conv.0.bias")?;
    let x = Tensor::from_slice(image, (1, 1, crate::SIDE, crate::SIDE), &Device::Cpu)?;
    let relu = model.config().model.activation == crate::model::Activation::Relu;
    let h = crate::model::convops::conv2d(&x, &w, &b, 2, 1, relu)?;
    let (_, c, s, _) = h.dims4()?;
    Ok(WeightMatrix {
        rows: c,
        cols: s * s,
        values: h.flatten_all()?.to_vec1::<f32>()?,
        side: s,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{TrainConfig, Variant};

    #[test]
    fn stats_of_known_codes() {
        // Two dims over four images: dim 0 is 0,0,1,1 and dim 1 is -2,2,-2,2.
        let codes = [0.0, -2.0, 0.0, 2.0, 1.0, -2.0, 1.0, 2.0];
        let s = code_stats(&codes, 2, None).unwrap();
        assert!((s.units[0].mean - 0.5).abs() < 1e-9);
        assert!((s.units[0].variance - 0.25).abs() < 1e-9);
        assert!((s.units[1].variance - 4.0).abs() < 1e-9);
        assert!((s.units[1].mean_abs - 2.0).abs() < 1e-9);
        assert!((s.units[0].active_fraction - 0.5).abs() < 1e-9);
        assert!((s.mean_abs_activation - 1.25).abs() < 1e-9);
        assert_eq!(s.order(), vec![1, 0]);
        assert_eq!(s.active_units, 2);
        assert!(s.units[1].p01 < -1.9 && s.units[1].p99 > 1.9);
    }

    #[test]
    fn kl_is_zero_for_the_prior_and_counts_active_units() {
        // dim 0 matches N(0,1) exactly (mu 0, logvar 0); dim 1 is far from it.
        let mu = [0.0, 2.0, 0.0, -2.0];
        let lv = [0.0, -2.0, 0.0, -2.0];
        let s = code_stats(&mu, 2, Some(&lv)).unwrap();
        assert!(s.units[0].kl.unwrap().abs() < 1e-12);
        assert!(s.units[1].kl.unwrap() > 1.0);
        assert_eq!(s.active_units, 1);
        assert_eq!(s.order()[0], 1);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(code_stats(&[], 3, None).is_err());
        assert!(code_stats(&[1.0], 0, None).is_err());
        assert!(with_dim(&[0.0, 1.0], 2, 0.0).is_err());
        let (h, lo, hi) = value_histogram(&[1.0, 1.0], 4);
        assert!(lo < hi && h.iter().sum::<u32>() == 2);
    }

    #[test]
    fn traversal_sweeps_one_dimension() {
        let codes = [0.0, 0.0, 10.0, 1.0];
        let s = code_stats(&codes, 2, None).unwrap();
        let base = s.mean_code();
        let t = traversal_codes(&base, &s, &[0], 3).unwrap();
        assert_eq!(t.len(), 6);
        assert_eq!(t[1], base[1]);
        assert_eq!(t[5], base[1]);
        assert!(t[0] < t[2] && t[2] < t[4]);
        assert!((t[2] - 5.0).abs() < 1e-4);
    }

    #[test]
    fn traversal_at_the_mean_decodes_the_mean_code() {
        let model = TrainedModel::new(&TrainConfig::preset(Variant::Dense, 4), "test").unwrap();
        let codes: Vec<f32> = (0..40).map(|i| ((i * 7) % 11) as f32 * 0.3 - 1.0).collect();
        let s = code_stats(&codes, 4, None).unwrap();
        let base = s.mean_code();
        let moved = with_dim(&base, 2, s.units[2].mean as f32).unwrap();
        assert_eq!(model.decode(&moved).unwrap(), model.decode(&base).unwrap());
        let other = with_dim(&base, 2, s.units[2].p99).unwrap();
        assert_ne!(model.decode(&other).unwrap(), model.decode(&base).unwrap());
    }

    #[test]
    fn weights_reproduce_the_layers() {
        let model = TrainedModel::new(&TrainConfig::preset(Variant::Dense, 8), "test").unwrap();
        let enc = encoder_weights(&model).unwrap();
        let w = var(&model, "enc.0.weight").unwrap();
        let (out, inp) = w.dims2().unwrap();
        assert_eq!((enc.rows, enc.cols), (out, inp));
        assert_eq!(inp, crate::PIXELS);
        let w2 = w.to_vec2::<f32>().unwrap();
        assert_eq!(enc.row(3), w2[3].as_slice());
        let dec = decoder_weights(&model).unwrap().unwrap();
        let name = format!("dec.{}.weight", model.config().model.hidden.len());
        let d = var(&model, &name).unwrap().to_vec2::<f32>().unwrap(); // [784, in]
        assert_eq!(dec.cols, crate::PIXELS);
        for p in [0, 400, 783] {
            assert_eq!(dec.row(5)[p], d[p][5]);
        }
        let order = enc.order_by_norm();
        let norms = enc.norms();
        assert!(norms[order[0]] >= norms[order[enc.rows - 1]]);
        assert!(enc.max_abs() > 0.0);
    }

    #[test]
    fn conv_filters_and_maps() {
        let model = TrainedModel::new(&TrainConfig::preset(Variant::Conv, 8), "test").unwrap();
        let f = encoder_weights(&model).unwrap();
        assert_eq!((f.cols, f.side), (9, 3));
        assert!(decoder_weights(&model).unwrap().is_none());
        let img = vec![0.5; crate::PIXELS];
        let a = conv_activations(&model, &img).unwrap();
        assert_eq!((a.rows, a.side, a.cols), (f.rows, 14, 196));
        assert!(conv_activations(&model, &[0.0; 3]).is_err());
    }

    #[test]
    fn vae_stats_have_kl() {
        let model = TrainedModel::new(&TrainConfig::preset(Variant::Vae, 3), "test").unwrap();
        let images = vec![0.3; 5 * crate::PIXELS];
        let s = model_stats(&model, &images).unwrap();
        assert_eq!(s.k(), 3);
        assert!(s.units.iter().all(|u| u.kl.is_some()));
    }
}
