//! Helpers shared by the engine's integration tests (and, through a `#[path]` module, by the
//! application's): models trained on real data, Debian's Fashion-MNIST when installed, and
//! small files made on the fly.
#![allow(dead_code)]

use std::sync::Arc;

use bottleneck_engine::data::Dataset;
use bottleneck_engine::model::{TrainConfig, TrainedModel, Variant};
use bottleneck_engine::train::Trainer;

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
    // Written to the process's stderr directly: libtest captures `eprintln!` of a passing
    // test, and a skip must be seen in the test output.
    use std::io::Write;
    let test = std::thread::current()
        .name()
        .unwrap_or("this test")
        .to_string();
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: {} not found (apt-get install dataset-fashion-mnist)",
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
    use bottleneck_engine::data::idx;
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
pub fn seven_on_paper() -> bottleneck_engine::data::preprocess::Gray {
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
    bottleneck_engine::data::preprocess::Gray {
        width: w,
        height: h,
        pixels,
    }
}

/// ROC AUC by its definition, for checking the app's: the fraction of (anomalous, normal)
/// pairs whose anomalous member has the higher score (ties count half), NaN scores left out.
pub fn pairwise_auc(scores: &[f32], anomalous: &[bool]) -> f64 {
    let of = |want: bool| -> Vec<f32> {
        scores
            .iter()
            .zip(anomalous)
            .filter(|(s, &a)| a == want && !s.is_nan())
            .map(|(&s, _)| s)
            .collect()
    };
    let (pos, neg) = (of(true), of(false));
    let mut wins = 0f64;
    for p in &pos {
        for n in &neg {
            wins += if p > n {
                1.0
            } else if p == n {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / (pos.len() * neg.len()) as f64
}

/// Precision and recall of "anomalous when score >= threshold", by counting.
pub fn counted_precision_recall(scores: &[f32], anomalous: &[bool], threshold: f32) -> (f64, f64) {
    let flagged = |want: bool| {
        scores
            .iter()
            .zip(anomalous)
            .filter(|(&s, &a)| a == want && s >= threshold)
            .count() as f64
    };
    let (tp, fp) = (flagged(true), flagged(false));
    let positives = anomalous.iter().filter(|&&a| a).count() as f64;
    (tp / (tp + fp), tp / positives)
}

/// The model-exchange fixtures (`tests/fixtures/exchange`: PyTorch, Keras and ONNX models
/// with their frameworks' own outputs).
pub fn exchange_fixtures() -> std::path::PathBuf {
    // This module serves the engine's tests and (by path) the application's.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let here = root.join("tests/fixtures/exchange");
    if here.is_dir() {
        here
    } else {
        root.join("../../tests/fixtures/exchange")
    }
}

/// A CSV of floats of the exchange fixtures, no header: its rows concatenated.
pub fn exchange_csv(name: &str) -> Vec<f32> {
    let text = std::fs::read_to_string(exchange_fixtures().join(name)).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .flat_map(|l| l.split(',').map(|v| v.trim().parse::<f32>().unwrap()))
        .collect()
}

/// The largest absolute difference of two equally long slices.
pub fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}
