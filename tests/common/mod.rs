//! Shared helpers for the egui_kittest UI tests: an app in a headless harness with its own
//! settings folder, and waiting (in real time, stepping frames) for the worker thread.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bottleneck::app::{App, AppOptions};
use bottleneck::data::Dataset;
use bottleneck::model::{TrainConfig, TrainedModel, Variant};
use bottleneck::train::Trainer;
use egui_kittest::Harness;

pub type AppHarness = Harness<'static, Option<App>>;

/// The app on the embedded dataset, 1280×800, settings in a fresh temporary folder (kept alive
/// by the returned guard).
pub fn app(setup: impl FnOnce(&mut App) + 'static) -> (AppHarness, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let opts = AppOptions {
        data: Some(bottleneck::data::DatasetSource::Embedded),
        import: None,
        settings_path: Some(dir.path().join("settings.json")),
        load_bundled: false,
    };
    (harness_with(opts, setup), dir)
}

/// The app built from `opts` (as the binary would build it), 1280×800, deterministic, with
/// `setup` run once on it before its first frame.
pub fn harness_with(opts: AppOptions, setup: impl FnOnce(&mut App) + 'static) -> AppHarness {
    let builder = Harness::builder().with_size(egui::vec2(1280.0, 800.0));
    bottleneck::app::snapshot::harness(builder, opts, move |a| {
        a.deterministic = true;
        setup(a);
    })
}

pub fn state(h: &AppHarness) -> &App {
    h.state()
        .as_ref()
        .expect("the app is built on the first frame")
}

pub fn state_mut(h: &mut AppHarness) -> &mut App {
    h.state_mut()
        .as_mut()
        .expect("the app is built on the first frame")
}

/// Hands `model` to run A's worker (as if loaded), after a first frame.
pub fn adopt(h: &mut AppHarness, model: Arc<TrainedModel>) {
    h.step();
    let data = state(h).shared.data.clone();
    state(h).shared.a().adopt(model, data);
}

/// Steps frames until `cond` holds (true) or `timeout` passes (false).
pub fn wait_until(h: &mut AppHarness, timeout: Duration, cond: impl Fn(&App) -> bool) -> bool {
    let start = Instant::now();
    loop {
        h.step();
        if cond(state(h)) {
            return true;
        }
        if start.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A `variant` model with code size `k`, trained `epochs` epochs on `data` (its preset otherwise).
pub fn train_model(data: Arc<Dataset>, variant: Variant, k: usize, epochs: usize) -> TrainedModel {
    let mut cfg = TrainConfig::preset(variant, k);
    cfg.epochs = epochs;
    let mut t = Trainer::new(cfg, data).unwrap();
    while !t.is_finished() {
        t.step().unwrap();
    }
    t.snapshot().unwrap()
}

/// A 2-D `variant` model trained one epoch on the embedded digits, trained once per test
/// binary and shared by its tests.
pub fn one_epoch_2d(variant: Variant) -> Arc<TrainedModel> {
    static CACHE: Mutex<Vec<(Variant, Arc<TrainedModel>)>> = Mutex::new(Vec::new());
    let mut cache = CACHE.lock().unwrap();
    if let Some((_, m)) = cache.iter().find(|(v, _)| *v == variant) {
        return m.clone();
    }
    let data = Arc::new(Dataset::embedded().unwrap());
    let m = Arc::new(train_model(data, variant, 2, 1));
    cache.push((variant, m.clone()));
    m
}

/// A file dropped on the window.
#[derive(Debug)]
struct Dropped(PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

/// Drops `paths` onto the window, then runs a frame.
pub fn drop_files(h: &mut AppHarness, paths: &[PathBuf]) {
    for p in paths {
        h.input_mut()
            .dropped_files
            .push(Arc::new(Dropped(p.clone())));
    }
    h.step();
}

/// Debian's real Fashion-MNIST (60,000 + 10,000 images), or `None` with a note when the
/// package is not installed. Under `CI` a missing copy fails the test instead: CI installs it.
pub fn fashion_mnist_dir() -> Option<&'static std::path::Path> {
    let dir = std::path::Path::new("/usr/share/datasets/fashion-mnist");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "{} is missing: CI must install Fashion-MNIST",
            dir.display()
        );
    }
    eprintln!(
        "note: {} not found (apt-get install dataset-fashion-mnist), skipping this test",
        dir.display()
    );
    None
}

/// A temporary folder holding an IDX dataset (train and t10k files, the same images) of `n`
/// images made by `pixel(image, index)`, labelled by `label(image)`.
pub fn idx_folder(
    n: usize,
    pixel: impl Fn(usize, usize) -> u8,
    label: impl Fn(usize) -> u8,
) -> tempfile::TempDir {
    use bottleneck::data::idx;
    let dir = tempfile::tempdir().unwrap();
    let images = idx::IdxImages {
        count: n,
        rows: 28,
        cols: 28,
        pixels: (0..n * 784).map(|i| pixel(i / 784, i % 784)).collect(),
    };
    let labels: Vec<u8> = (0..n).map(label).collect();
    for prefix in ["train", "t10k"] {
        std::fs::write(
            dir.path().join(format!("{prefix}-images-idx3-ubyte")),
            idx::encode_images(&images),
        )
        .unwrap();
        std::fs::write(
            dir.path().join(format!("{prefix}-labels-idx1-ubyte")),
            idx::encode_labels(&labels),
        )
        .unwrap();
    }
    dir
}

/// An image encoded as PNG bytes.
pub fn png_bytes(img: &image::DynamicImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A real PNG whose IHDR is patched to claim `width`×`height` (CRC fixed), with the given
/// colour type and bit depth: a hostile header on an otherwise valid file.
pub fn png_claiming(width: u32, height: u32, bit_depth: u8, colour: u8) -> Vec<u8> {
    let mut png = png_bytes(&image::DynamicImage::new_luma8(4, 4));
    assert_eq!(&png[12..16], b"IHDR");
    png[16..20].copy_from_slice(&width.to_be_bytes());
    png[20..24].copy_from_slice(&height.to_be_bytes());
    png[24] = bit_depth;
    png[25] = colour;
    let mut crc = flate2::Crc::new();
    crc.update(&png[12..29]);
    png[29..33].copy_from_slice(&crc.sum().to_be_bytes());
    png
}

/// A dark "7" drawn on a light 60×80 page, off-centre.
pub fn seven_on_paper() -> bottleneck::data::preprocess::Gray {
    let (w, h) = (60usize, 80usize);
    let mut pixels = vec![0.95f32; w * h];
    for y in 10..16 {
        for x in 30..56 {
            pixels[y * w + x] = 0.05;
        }
    }
    for y in 16..70 {
        let x = 55 - (y - 16) / 3;
        for dx in 0..6 {
            pixels[y * w + x - dx] = 0.05;
        }
    }
    bottleneck::data::preprocess::Gray {
        width: w,
        height: h,
        pixels,
    }
}
