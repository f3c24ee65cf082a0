//! The numbers `train` and `eval` print: a model's test error (per loss term), and from
//! `analysis::compare` PCA's error with the same k on the same split and kNN accuracy of both
//! kinds of codes.

use serde::Serialize;

use crate::analysis::{compare, metrics};
use crate::data::Dataset;
use crate::model::{LossTerms, TrainedModel};

#[derive(Clone, Debug, Serialize)]
pub struct ModelReport {
    pub variant: String,
    pub latent: usize,
    pub dataset: String,
    /// Per-pixel MSE of reconstructing clean test images (deterministic; μ for a VAE).
    pub test_mse: f64,
    pub test_psnr: f64,
    /// The training objective's terms on the test split (weighted), plus "mse".
    pub test_terms: LossTerms,
    /// PCA fitted on the training images, k = latent, per-pixel MSE on the test images.
    pub pca_test_mse: f64,
    pub pca_fit_seconds: f64,
    /// `compare::KNN`-NN classification accuracy of test codes against training codes.
    pub knn_accuracy: f64,
    pub pca_knn_accuracy: f64,
}

pub fn measure(model: &TrainedModel, data: &Dataset) -> anyhow::Result<ModelReport> {
    let k = model.latent();
    let test_terms = crate::train::evaluate(model, &data.test)?;
    let test_mse = test_terms.get(crate::model::Term::Mse).unwrap_or(f64::NAN);

    // The test MSE stays the one of `evaluate` (the "mse" term printed beside it).
    let (c, _) = compare::compare(model, data, None, None)?;
    Ok(ModelReport {
        variant: model.config().variant.to_string(),
        latent: k,
        dataset: data.name.clone(),
        test_mse,
        test_psnr: metrics::psnr(test_mse as f32) as f64,
        test_terms,
        pca_test_mse: c.pca_test_mse,
        pca_fit_seconds: c.pca_fit_seconds.unwrap_or(0.0),
        knn_accuracy: c.ae_knn as f64,
        pca_knn_accuracy: c.pca_knn as f64,
    })
}

impl ModelReport {
    /// A short human summary.
    pub fn print_human(&self) {
        println!("dataset        {}", self.dataset);
        println!("model          {} (k = {})", self.variant, self.latent);
        for (name, v) in self.test_terms.iter() {
            println!("test {name:<10} {v:.5}");
        }
        println!(
            "test MSE       {:.5}   (PCA, k = {}: {:.5}){}",
            self.test_mse,
            self.latent,
            self.pca_test_mse,
            if self.test_mse < self.pca_test_mse {
                "  — the autoencoder wins"
            } else {
                ""
            }
        );
        println!("test PSNR      {:.2} dB", self.test_psnr);
        println!(
            "{}-NN accuracy  {:.2} %   (PCA codes: {:.2} %)",
            compare::KNN,
            100.0 * self.knn_accuracy,
            100.0 * self.pca_knn_accuracy
        );
    }
}
