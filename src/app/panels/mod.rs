//! One module per tab of the app, named like the tab. Each panel is a struct with
//! `ui(&mut self, ui, &mut Shared)`: it reads the shared state, draws, and sends commands;
//! what it measures comes from `crate::analysis`.

pub mod anomaly;
pub mod compression;
pub mod denoise;
pub mod features;
pub mod generate;
pub mod interpolate;
pub mod latent;
pub mod pca;
pub mod step;
pub mod train;
