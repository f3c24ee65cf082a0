//! Measuring what a model learned: PCA (the linear baseline every autoencoder is compared
//! with, also used to project wide latent codes to 2-D) and metrics (MSE, BCE, PSNR, kNN
//! accuracy on codes, ROC AUC and curve, precision/recall, histograms), and anomaly detection
//! by reconstruction error (`anomaly`, which trains and runs models). Plain slices in,
//! numbers out; degenerate input (empty, constant, NaN) gives an error or a documented value,
//! never a panic. `denoise` is the denoising experiment (corrupt, reconstruct with a model or
//! PCA, measure) shared by the Denoise panel and the command line; `compare` measures a model
//! against PCA at the same k (the PCA vs AE panel and the command line's report). `projection`
//! maps codes to 2-D points and back (as is, or on principal components of the codes). `codec`
//! measures lossy compression byte for byte: quantised autoencoder and PCA codes against JPEG
//! and PNG (the Compression panel and `bottleneck compress`). `embed`, `tsne` and `umap` draw
//! wide codes on non-linear maps, `neighbours` finds exact nearest neighbours for them, and
//! `trust` measures how far such a map can be trusted; `posterior` is a VAE's q(z | x) (its
//! σ-ellipses and samples); `generate` is what a conditional VAE and a VAE's prior draw, and how
//! well (the Generate panel and `bottleneck generate`);
//! `answers` measures what a lesson's question asks (Reveal).

pub mod anomaly;
pub mod answers;
pub mod codec;
pub mod compare;
pub mod denoise;
pub mod embed;
pub mod features;
pub mod generate;
pub mod map_method;
pub mod metrics;
pub mod neighbours;
pub mod pca;
pub mod posterior;
pub mod probe;
pub mod projection;
pub mod trust;
pub mod tsne;
pub mod umap;

pub use pca::Pca;
pub use projection::Projection;

#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error("PCA needs at least 2 samples, got {0}")]
    TooFewSamples(usize),
    #[error("{0}")]
    Invalid(String),
}
