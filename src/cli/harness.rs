//! What the benches and the soak share, below both: the app in a headless harness and where
//! Debian's Fashion-MNIST lives.

use crate::data::DatasetSource;

/// Where `latent-ui` and the soak look for the full Fashion-MNIST (60,000 training images).
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// The app on the embedded digits in a 1280×800 headless harness, nothing persisted, with
/// `setup` applied before its first frame.
pub fn app_harness(
    setup: impl FnOnce(&mut crate::app::App) + 'static,
) -> egui_kittest::Harness<'static, Option<crate::app::App>> {
    let opts = crate::app::AppOptions {
        data: Some(DatasetSource::Embedded),
        import: None,
        settings_path: None,
        load_bundled: false,
    };
    let builder = egui_kittest::Harness::builder().with_size(egui::vec2(1280.0, 800.0));
    crate::app::snapshot::harness(builder, opts, setup)
}
