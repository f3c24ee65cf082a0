//! The Bottleneck engine: everything that is not drawing, with no UI dependency.
//!
//! Datasets and preprocessing (`data`), the autoencoder architectures, their losses and files
//! (`model`), training and the worker thread (`train`), PCA, maps and the panels' experiments
//! (`analysis`), and work on background threads (`tasks`). `linalg` holds the matrix product
//! both `model` and `train` use, below either; `id` the identities caches are keyed on. The
//! application crate (`bottleneck`) draws it and drives it from the command line.

pub mod analysis;
pub mod data;
pub mod id;
pub mod linalg;
pub mod model;
pub mod tasks;
pub mod train;

/// Side of the square images every model works on (MNIST-style 28×28).
pub const SIDE: usize = 28;
/// Pixels per image.
pub const PIXELS: usize = SIDE * SIDE;

/// Helpers shared by the unit tests.
#[doc(hidden)]
pub mod testing {
    /// A reproducible stream of numbers spread uniformly over [-1, 1) (a 64-bit linear
    /// congruential generator), for test data.
    pub fn uniform(seed: u64) -> impl FnMut() -> f32 {
        let mut s = seed;
        move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 33) as f32 / (1u64 << 31) as f32) * 2.0 - 1.0
        }
    }
}
