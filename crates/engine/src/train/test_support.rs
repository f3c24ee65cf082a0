//! Test helpers shared by the fused engines' tests: random sparse-ish batches, candle's
//! autograd on the same weights as the reference, and the comparison of an engine's loss and
//! named gradients against it.

use candle_core::{DType, Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::framework::NamedGrads;
use crate::model::config::TrainConfig;
use crate::model::loss::{LossTerms, Term};
use crate::model::tests::flat;
use crate::model::TrainedModel;

/// `b` rows of "digits": each pixel inked (uniform in [0, 1)) with probability `ink`, else 0.
pub fn batch(b: usize, seed: u64, ink: f32) -> Vec<f32> {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    (0..b * crate::PIXELS)
        .map(|_| {
            if r.random::<f32>() < ink {
                r.random::<f32>()
            } else {
                0.0
            }
        })
        .collect()
}

/// Loss and gradients of candle's objective on the model's weights, for `b` rows of `input`
/// and `target`, noise drawn from `seed`; a conditional VAE's row `i` has class
/// `i % classes` ([`labels`]).
pub fn autograd(
    cfg: &TrainConfig,
    model: &TrainedModel,
    input: &[f32],
    target: &[f32],
    b: usize,
    seed: u64,
) -> (f64, NamedGrads) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let xt = Tensor::from_slice(input, (b, crate::PIXELS), &Device::Cpu).unwrap();
    let tt = Tensor::from_slice(target, (b, crate::PIXELS), &Device::Cpu).unwrap();
    let labels: Vec<u8> = (0..b)
        .map(|i| (i % cfg.model.classes.max(1)) as u8)
        .collect();
    let y = crate::train::one_hot_for(cfg, &labels).unwrap();
    let (terms, total) =
        crate::train::objective_terms(cfg, &model.model, &xt, &tt, y.as_ref(), &mut rng).unwrap();
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

/// The classes [`autograd`] gives `b` rows of a model with `classes` classes, one-hot.
pub fn labels(b: usize, classes: usize) -> Vec<f32> {
    let l: Vec<u8> = (0..b).map(|i| (i % classes.max(1)) as u8).collect();
    crate::model::cvae::one_hot_rows(&l, classes).unwrap()
}

/// The engine's loss and every variable's gradient agree with autograd's.
pub fn assert_matches(cfg: &TrainConfig, got: (LossTerms, NamedGrads), want: (f64, NamedGrads)) {
    let ((terms, got), (want_total, want)) = (got, want);
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
