//! Pre-trained models compiled into the binary, so every panel has something to show the
//! moment the app opens, with no network and no files around it. They were trained on the
//! embedded MNIST digits by `assets/models/make_models.sh` (the project's own command line,
//! fixed seeds) and are checked like any saved model when loaded.

use std::path::Path;

use super::io::{self, ModelIoError};
use super::TrainedModel;

/// One bundled model.
#[derive(Clone, Copy, Debug)]
pub struct Bundled {
    /// Short stable name (file stem in assets/models/).
    pub key: &'static str,
    pub title: &'static str,
    weights: &'static [u8],
    meta: &'static str,
}

macro_rules! bundled {
    ($key:literal, $title:literal) => {
        Bundled {
            key: $key,
            title: $title,
            weights: include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../..",
                "/assets/models/",
                $key,
                ".safetensors"
            )),
            meta: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../..",
                "/assets/models/",
                $key,
                ".json"
            )),
        }
    };
}

/// The models shipped with Bottleneck; the first is the one the app opens with.
pub const ALL: [Bundled; 5] = [
    bundled!("dense-2d", "Dense autoencoder, 2-D code"),
    bundled!("vae-2d", "Variational autoencoder, 2-D code"),
    bundled!("dense-32d", "Dense autoencoder, 32-D code"),
    bundled!("denoising-32d", "Denoising autoencoder, 32-D code"),
    bundled!("cvae-4d", "Conditional VAE, 4-D style code"),
];

impl Bundled {
    /// Builds the model (a few milliseconds).
    pub fn load(&self) -> Result<TrainedModel, ModelIoError> {
        let path = Path::new("<built-in>").join(format!("{}.safetensors", self.key));
        let meta = io::parse_meta(self.meta, &path.with_extension("json"))?;
        io::from_parts(meta, self.weights, &path)
    }
}

/// The bundled model called `key`.
pub fn find(key: &str) -> Option<Bundled> {
    ALL.into_iter().find(|b| b.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_model_loads_and_is_trained() {
        let data = crate::data::Dataset::embedded().unwrap();
        let x = &data.test.images[..200 * crate::PIXELS];
        let labels = &data.test.labels[..200];
        for b in ALL {
            let m = b.load().unwrap_or_else(|e| panic!("{}: {e}", b.key));
            assert!(m.meta.epochs_trained >= 20, "{}", b.key);
            // (The conditional VAE reconstructs each digit given its class.)
            let r = m.reconstruct_labelled(x, labels).unwrap();
            let mse = crate::analysis::metrics::mse(&r, x);
            assert!(mse < 0.05, "{}: reconstruction MSE {mse}", b.key);
        }
        assert_eq!(find("dense-2d").unwrap().load().unwrap().latent(), 2);
        assert_eq!(
            find("vae-2d").unwrap().load().unwrap().config().variant,
            crate::model::Variant::Vae
        );
        assert_eq!(find("cvae-4d").unwrap().load().unwrap().classes(), 10);
        assert!(find("nope").is_none());
    }
}
