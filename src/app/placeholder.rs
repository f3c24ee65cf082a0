//! A tab whose panel has not been built yet: it says what it will show instead of being blank.

use super::{Shared, Tab};

pub struct Placeholder {
    pub tab: Tab,
}

impl Placeholder {
    pub fn new(tab: Tab) -> Self {
        Self { tab }
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, _shared: &mut Shared) {
        ui.heading(self.tab.label());
        ui.add_space(8.0);
        ui.label(match self.tab {
            Tab::Latent => "Every test image as a point in the latent space, coloured by its class. Hover a point to see its image; click anywhere to decode that location.",
            Tab::Interpolate => "Pick two codes and slide between them: the decoded images along the way, beside a plain crossfade of the two pictures.",
            Tab::Denoise => "Corrupt a digit (or your own drawing) with noise and watch the autoencoder clean it up, measured in MSE and PSNR.",
            Tab::Pca => "PCA and the autoencoder side by side at the same k: reconstructions, error against k, and both 2-D maps.",
            Tab::Anomaly => "Train on some classes only, then find the others by their reconstruction error: histogram, threshold, ROC curve.",
            Tab::Train => "",
        });
        ui.add_space(8.0);
        ui.weak("This panel is coming in a later version.");
    }
}
