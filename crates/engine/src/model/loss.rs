//! Loss terms, each reported on its own: reconstruction (MSE or BCE, mean per pixel), KL
//! divergence of a VAE's posterior from N(0, I), L1 on the code (sparse AE), and the squared
//! Frobenius norm of the encoder's Jacobian (contractive AE).
//!
//! Conventions (so that numbers compare across variants and with PCA):
//! - reconstruction is the mean over the batch and the 784 pixels;
//! - KL is the per-sample sum over latent dimensions, averaged over the batch and divided by
//!   784, i.e. the textbook VAE objective (Σ pixels + KL) scaled to "per pixel";
//! - L1 is the per-sample Σ|zᵢ|, averaged over the batch; contractive is the per-sample ‖J‖²_F,
//!   averaged over the batch.
//!
//! The terms are named by [`Term`] (module `term`); [`LossTerms`] holds their values.
//!
//! Every term is reported *with its weight applied* (β·KL, λ·L1, λ·‖J‖²), so that the terms
//! add up to the total a user sees.

use std::collections::BTreeMap;

use candle_core::{Result, Tensor};
use serde::{Deserialize, Serialize};

use super::config::{LossKind, TrainConfig};
pub use super::term::Term;
use super::Forward;

/// Loss values by term. A JSON object keyed by the terms' names (`{"mse":0.1,"total":0.2}`),
/// ordered by name for stable JSON.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LossTerms(pub BTreeMap<Term, f64>);

impl LossTerms {
    pub fn get(&self, term: Term) -> Option<f64> {
        self.0.get(&term).copied()
    }
    pub fn total(&self) -> f64 {
        self.get(Term::Total).unwrap_or(f64::NAN)
    }
    pub fn set(&mut self, term: Term, v: f64) {
        self.0.insert(term, v);
    }
    /// Adds `w · other` term by term (for running averages).
    pub fn add_scaled(&mut self, other: &LossTerms, w: f64) {
        for (&k, v) in &other.0 {
            *self.0.entry(k).or_insert(0.0) += w * v;
        }
    }
    pub fn scale(&mut self, w: f64) {
        for v in self.0.values_mut() {
            *v *= w;
        }
    }
    pub fn is_finite(&self) -> bool {
        self.0.values().all(|v| v.is_finite())
    }
    pub fn iter(&self) -> impl Iterator<Item = (Term, f64)> + '_ {
        self.0.iter().map(|(&k, &v)| (k, v))
    }
}

/// Mean per-pixel reconstruction loss. BCE is computed from the logits, stably:
/// softplus(z) − t·z = max(z, 0) − t·z + log(1 + e^(−|z|)).
pub fn reconstruction(
    kind: LossKind,
    logits: &Tensor,
    recon: &Tensor,
    target: &Tensor,
) -> Result<Tensor> {
    match kind {
        LossKind::Mse => (recon - target)?.sqr()?.mean_all(),
        LossKind::Bce => {
            let softplus = (logits.relu()? + (logits.abs()?.neg()?.exp()? + 1.0)?.log()?)?;
            (softplus - (target * logits)?)?.mean_all()
        }
    }
}

/// KL(N(μ, σ²) ‖ N(0, 1)) summed over latent dimensions, averaged over the batch, / 784.
pub fn kl(mu: &Tensor, logvar: &Tensor) -> Result<Tensor> {
    let per = ((logvar + 1.0)? - mu.sqr()? - logvar.exp()?)?;
    let b = mu.dim(0)? as f64;
    per.sum_all()? * (-0.5 / (b * crate::PIXELS as f64))
}

/// Σ|z| per sample, averaged over the batch.
pub fn l1(code: &Tensor) -> Result<Tensor> {
    let b = code.dim(0)? as f64;
    code.abs()?.sum_all()? / b
}

/// The training objective and its weighted terms. `jacobian_sq` is the per-sample ‖J‖²
/// (needed only when the contractive weight is positive).
pub fn objective(
    cfg: &TrainConfig,
    fwd: &Forward,
    target: &Tensor,
    jacobian_sq: Option<&Tensor>,
) -> Result<(Tensor, Vec<(Term, Tensor)>)> {
    let mut terms = Vec::new();
    let rec = reconstruction(cfg.loss, &fwd.logits, &fwd.recon, target)?;
    let mut total = rec.clone();
    terms.push((Term::Reconstruction, rec));
    if let (Some(mu), Some(lv)) = (&fwd.mu, &fwd.logvar) {
        let k = (kl(mu, lv)? * cfg.beta as f64)?;
        total = (total + &k)?;
        terms.push((Term::Kl, k));
    }
    if cfg.l1 > 0.0 {
        let t = (l1(&fwd.code)? * cfg.l1 as f64)?;
        total = (total + &t)?;
        terms.push((Term::L1, t));
    }
    if cfg.contractive > 0.0 {
        if let Some(j) = jacobian_sq {
            let t = (j.mean_all()? * cfg.contractive as f64)?;
            total = (total + &t)?;
            terms.push((Term::Contractive, t));
        }
    }
    terms.push((Term::Total, total.clone()));
    Ok((total, terms))
}

/// Reads the scalar terms into plain numbers.
pub fn to_terms(terms: &[(Term, Tensor)]) -> Result<LossTerms> {
    let mut out = LossTerms::default();
    for (k, t) in terms {
        out.set(*k, t.to_scalar::<f32>()? as f64);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn todays_json_round_trips() {
        let json =
            r#"{"contractive":0.5,"kl":0.3,"l1":0.4,"mse":0.1,"reconstruction":0.25,"total":0.2}"#;
        let t: LossTerms = serde_json::from_str(json).unwrap();
        assert_eq!(t.get(Term::Mse), Some(0.1));
        assert_eq!(t.total(), 0.2);
        assert_eq!(serde_json::to_string(&t).unwrap(), json);
        let mut built = LossTerms::default();
        built.set(Term::Total, 0.2);
        built.set(Term::Mse, 0.1);
        assert_eq!(
            serde_json::to_string(&built).unwrap(),
            r#"{"mse":0.1,"total":0.2}"#
        );
    }
}
