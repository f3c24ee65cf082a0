//! Generation experiments: what a conditional VAE (style and content) and a plain VAE (the
//! prior) draw, and how well. Shared by the Generate panel and `bottleneck generate`.
//!
//! - [`style_codes`]: the style z of images with their classes (μ(x, y));
//! - [`every_class`]: each style decoded as every class (the M2 analogy rows);
//! - [`style_plane`]: one class decoded across a grid of two style dimensions;
//! - [`prior_per_class`] and [`prior_samples`]: z ~ N(0, I), decoded with a chosen label or,
//!   for a plain VAE, as is;
//! - [`PixelProbe`]: the linear probe on pixels (`probe`), trained on the data set's own
//!   training labels, that says how often a generated image is recognised as the class asked
//!   for ([`PixelProbe::recognition`]);
//! - [`style_kept`]: each generated image re-encoded with its class: is its z nearer its own
//!   source's z than the other sources' z?

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::probe::{self, Probe};
use crate::data::Dataset;
use crate::model::TrainedModel;

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error(
        "{0} does not generate: train a conditional VAE (variant cvae) to write any class in a \
         given style, or a VAE to sample from its prior"
    )]
    NotGenerative(String),
    #[error(
        "{0} is a plain VAE: it samples from its prior, but to write a given style as every \
         class train a conditional VAE (variant cvae)"
    )]
    NotConditional(String),
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    #[error(transparent)]
    Probe(#[from] probe::ProbeError),
}

pub type Result<T> = std::result::Result<T, GenerateError>;

/// What a model can generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Generator {
    /// A conditional VAE with this many classes.
    Conditional(usize),
    /// A plain VAE: samples from the prior.
    Prior,
}

impl Generator {
    /// What `model` generates, or why it does not.
    pub fn of(model: &TrainedModel) -> Result<Generator> {
        let cfg = model.config();
        match model.classes() {
            c if c > 0 => Ok(Generator::Conditional(c)),
            _ if cfg.model.arch == crate::model::Arch::Vae && model.inference_only().is_none() => {
                Ok(Generator::Prior)
            }
            _ => Err(GenerateError::NotGenerative(describe(model))),
        }
    }
}

fn describe(model: &TrainedModel) -> String {
    format!("This model ({})", model.config().describe())
}

/// The classes of a conditional VAE, or why `model` is not one.
pub fn classes_of(model: &TrainedModel) -> Result<usize> {
    match Generator::of(model)? {
        Generator::Conditional(c) => Ok(c),
        Generator::Prior => Err(GenerateError::NotConditional(describe(model))),
    }
}

/// The style codes μ(x, y) of `images` (rows of 784) with their classes.
pub fn style_codes(model: &TrainedModel, images: &[f32], labels: &[u8]) -> Result<Vec<f32>> {
    classes_of(model)?;
    check_rows(images, labels.len())?;
    Ok(model.encode_labelled(images, labels)?)
}

fn check_rows(images: &[f32], n: usize) -> Result<()> {
    if images.len() != n * crate::PIXELS {
        return Err(GenerateError::Input(format!(
            "{} pixel values for {n} images of {}",
            images.len(),
            crate::PIXELS
        )));
    }
    Ok(())
}

/// Each style code (rows of k) decoded as every class in order: `codes.len() / k × classes`
/// images, the classes of one style together. Also gives the class of each image.
pub fn every_class(model: &TrainedModel, codes: &[f32]) -> Result<(Vec<f32>, Vec<u8>)> {
    let classes = classes_of(model)?;
    let k = model.latent();
    let n = codes.len() / k.max(1);
    let mut z = Vec::with_capacity(n * classes * k);
    let mut labels = Vec::with_capacity(n * classes);
    for row in codes.chunks_exact(k) {
        for c in 0..classes {
            z.extend_from_slice(row);
            labels.push(c as u8);
        }
    }
    let images = model.decode_labelled(&z, &labels)?;
    Ok((images, labels))
}

/// One class decoded across a `side × side` grid of two style dimensions `dims` (the other
/// dimensions as `base` has them), each from −`extent` to +`extent` (in units of the prior's
/// σ = 1); the first dimension goes left to right, the second bottom to top (the top row
/// first in the result, as a picture is read).
pub fn style_plane(
    model: &TrainedModel,
    class: u8,
    base: &[f32],
    dims: (usize, usize),
    side: usize,
    extent: f32,
) -> Result<Vec<f32>> {
    classes_of(model)?;
    let k = model.latent();
    if base.len() != k || dims.0 >= k || dims.1 >= k || dims.0 == dims.1 || side == 0 {
        return Err(GenerateError::Input(format!(
            "a style plane needs two different dimensions of the {k}-value code"
        )));
    }
    let at = |i: usize| {
        if side == 1 {
            0.0
        } else {
            -extent + 2.0 * extent * i as f32 / (side - 1) as f32
        }
    };
    let mut z = Vec::with_capacity(side * side * k);
    for r in 0..side {
        for c in 0..side {
            let mut row = base.to_vec();
            row[dims.0] = at(c);
            row[dims.1] = at(side - 1 - r);
            z.extend(row);
        }
    }
    Ok(model.decode_labelled(&z, &vec![class; side * side])?)
}

/// `n` standard normal codes of size `k` from `seed`.
pub fn prior_codes(n: usize, k: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n * k)
        .map(|_| StandardNormal.sample(&mut rng))
        .collect()
}

/// `per_class` prior samples of every class of a conditional VAE, class by class (the same
/// codes for every class, so a column shares its style): images and their classes.
pub fn prior_per_class(
    model: &TrainedModel,
    per_class: usize,
    seed: u64,
) -> Result<(Vec<f32>, Vec<u8>)> {
    let classes = classes_of(model)?;
    let k = model.latent();
    let codes = prior_codes(per_class, k, seed);
    let mut z = Vec::with_capacity(classes * per_class * k);
    let mut labels = Vec::with_capacity(classes * per_class);
    for c in 0..classes {
        z.extend_from_slice(&codes);
        labels.extend(std::iter::repeat_n(c as u8, per_class));
    }
    Ok((model.decode_labelled(&z, &labels)?, labels))
}

/// `n` samples of a plain VAE's prior, z ~ N(0, I) decoded.
pub fn prior_samples(model: &TrainedModel, n: usize, seed: u64) -> Result<Vec<f32>> {
    match Generator::of(model)? {
        Generator::Prior => Ok(model.decode(&prior_codes(n, model.latent(), seed))?),
        Generator::Conditional(_) => Err(GenerateError::Input(
            "a conditional VAE's prior samples need a class: use prior_per_class".into(),
        )),
    }
}

/// At most this many training images train the pixel probe (evenly spaced).
pub const PROBE_IMAGES: usize = 10_000;

/// The linear probe on raw pixels, trained on a data set's own training labels: the judge of
/// whether a generated image looks like the class asked for.
pub struct PixelProbe {
    probe: Probe,
    /// Training images it saw.
    pub trained_on: usize,
    /// Its accuracy on the data set's real test images (what "recognised" can reach).
    pub test_accuracy: f32,
    /// The data set's name.
    pub data: String,
}

impl PixelProbe {
    /// Trains it on up to [`PROBE_IMAGES`] of `data`'s training images (evenly spaced).
    pub fn train(data: &Dataset, seed: u64) -> Result<PixelProbe> {
        let n = data.train.len();
        let step = n.div_ceil(PROBE_IMAGES).max(1);
        let rows: Vec<usize> = (0..n).step_by(step).collect();
        let classes = data.label_classes().max(1);
        let probe = probe::train_probe_on(
            &data.train.images,
            &data.train.labels,
            &rows,
            crate::PIXELS,
            classes,
            seed,
            None,
        )?;
        let test_accuracy = probe.accuracy(&data.test.images, &data.test.labels);
        Ok(PixelProbe {
            probe,
            trained_on: rows.len(),
            test_accuracy,
            data: data.name.clone(),
        })
    }

    /// The class it sees in each image.
    pub fn predict(&self, images: &[f32]) -> Vec<u8> {
        self.probe.predict(images)
    }

    /// The fraction of `images` it recognises as the class `asked` gives each.
    pub fn recognition(&self, images: &[f32], asked: &[u8]) -> f64 {
        let p = self.predict(images);
        if p.is_empty() {
            return 0.0;
        }
        p.iter().zip(asked).filter(|(a, b)| a == b).count() as f64 / p.len() as f64
    }

    /// "the linear probe on pixels, trained on 8,000 training images of NAME (it recognises
    /// 91.2 % of its real test images)".
    pub fn describe(&self) -> String {
        format!(
            "a linear probe on pixels trained on {} training images of {} (it recognises \
             {:.1} % of the real test images)",
            crate::model::config::thousands(self.trained_on),
            self.data,
            100.0 * self.test_accuracy
        )
    }
}

/// How well a conditional VAE keeps style: every generated image re-encoded with the class it
/// was drawn as, its code compared with the codes of the sources.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct StyleKept {
    /// Generated images measured.
    pub images: usize,
    /// Style sources.
    pub sources: usize,
    /// Fraction whose re-encoded code is nearer its own source's code than every other
    /// source's.
    pub nearest_own: f64,
    /// Fraction of (image, other source) pairs where the own source's code is the nearer.
    pub nearer_than_other: f64,
    /// Mean distance from the re-encoded code to its source's code.
    pub own_distance: f64,
    /// Mean distance from it to the other sources' codes.
    pub other_distance: f64,
    /// The spread of the sources' codes: their root mean square distance from their mean.
    pub spread: f64,
}

impl StyleKept {
    /// One line for the screen and the terminal.
    pub fn describe(&self) -> String {
        format!(
            "re-encoded with its class, {:.1} % of the {} images land nearest their own \
             source's style (of {} sources); mean distance to it {:.2}, to the other sources \
             {:.2}, spread of the styles {:.2}",
            100.0 * self.nearest_own,
            self.images,
            self.sources,
            self.own_distance,
            self.other_distance,
            self.spread
        )
    }
}

/// [`StyleKept`] for `generated` images (`every_class`'s layout: `classes` images per source,
/// class by class) made from the style codes `sources` (rows of k).
pub fn style_kept(model: &TrainedModel, sources: &[f32], generated: &[f32]) -> Result<StyleKept> {
    let classes = classes_of(model)?;
    let k = model.latent();
    let n_src = sources.len() / k.max(1);
    let n = n_src * classes;
    check_rows(generated, n)?;
    if n_src < 2 {
        return Err(GenerateError::Input(
            "measuring style takes at least two sources".into(),
        ));
    }
    let labels: Vec<u8> = (0..n).map(|i| (i % classes) as u8).collect();
    let again = model.encode_labelled(generated, &labels)?;
    let dist = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| ((x - y) as f64).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let src = |s: usize| &sources[s * k..(s + 1) * k];
    let (mut nearest, mut nearer, mut own_sum, mut other_sum) = (0usize, 0usize, 0.0, 0.0);
    for (i, z) in again.chunks_exact(k).enumerate() {
        let own = i / classes;
        let d_own = dist(z, src(own));
        own_sum += d_own;
        let mut best = true;
        for s in (0..n_src).filter(|&s| s != own) {
            let d = dist(z, src(s));
            other_sum += d;
            if d <= d_own {
                best = false;
            } else {
                nearer += 1;
            }
        }
        nearest += best as usize;
    }
    let mut mean = vec![0f64; k];
    for s in 0..n_src {
        for (m, v) in mean.iter_mut().zip(src(s)) {
            *m += *v as f64 / n_src as f64;
        }
    }
    let spread = ((0..n_src)
        .map(|s| {
            src(s)
                .iter()
                .zip(&mean)
                .map(|(v, m)| (*v as f64 - m).powi(2))
                .sum::<f64>()
        })
        .sum::<f64>()
        / n_src as f64)
        .sqrt();
    let pairs = (n * (n_src - 1)) as f64;
    Ok(StyleKept {
        images: n,
        sources: n_src,
        nearest_own: nearest as f64 / n as f64,
        nearer_than_other: nearer as f64 / pairs,
        own_distance: own_sum / n as f64,
        other_distance: other_sum / pairs,
        spread,
    })
}

/// Everything measured for a set of style sources: each decoded as every class, how often the
/// pixel probe recognises the class asked for, and how well style is kept.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StyleReport {
    /// Fraction of the generated images the probe recognises as the class asked for.
    pub recognition: f64,
    pub style: StyleKept,
    /// What the recognition rate was measured with.
    pub judge: String,
}

/// Decodes every source (images with their classes) as every class and measures the result.
pub fn measure_sources(
    model: &TrainedModel,
    probe: &PixelProbe,
    images: &[f32],
    labels: &[u8],
) -> Result<(Vec<f32>, StyleReport)> {
    let codes = style_codes(model, images, labels)?;
    let (generated, asked) = every_class(model, &codes)?;
    let recognition = probe.recognition(&generated, &asked);
    let style = style_kept(model, &codes, &generated)?;
    Ok((
        generated,
        StyleReport {
            recognition,
            style,
            judge: probe.describe(),
        },
    ))
}

/// Held-out style sources per class for the measure the app shows (the Generate panel's line
/// and a lesson's Reveal).
pub const HELD_OUT_PER_CLASS: usize = 10;
/// The pixel probe's seed for the measure the app shows.
pub const PROBE_SEED: u64 = 42;

/// The first `per_class` test images of each class of `data`, each written by `model` as every
/// class and measured with `probe` (see [`measure_sources`]).
pub fn measure_held_out(
    model: &TrainedModel,
    probe: &PixelProbe,
    data: &Dataset,
    per_class: usize,
) -> Result<StyleReport> {
    let classes = classes_of(model)?;
    let src = data
        .test
        .subset(&held_out_sources(data, classes, per_class));
    measure_sources(model, probe, &src.images, &src.labels).map(|(_, r)| r)
}

/// The first `per_class` test images of each class (in class order): the held-out style
/// sources the measures use. Gives their indices in the test split.
pub fn held_out_sources(data: &Dataset, classes: usize, per_class: usize) -> Vec<usize> {
    let mut out = Vec::new();
    for c in 0..classes {
        out.extend(
            (0..data.test.len())
                .filter(|&i| data.test.labels[i] as usize == c)
                .take(per_class),
        );
    }
    out
}
