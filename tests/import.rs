//! Bringing one's own data (issue 16), on real data: Fashion-MNIST from Debian's package written
//! out here as an image folder, as CSV and as IDX; folders with broken files; CSV files with bad
//! rows; letters with 26 classes; the command line's --data, --preprocess, --invert and
//! `train --json` counts.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use bottleneck::data::idx::{self, IdxImages};
use bottleneck::data::import::{self, Kind};
use bottleneck::data::{Dataset, DatasetSource, ImportOptions, Preprocess, Split};
use bottleneck::model::Variant;
use bottleneck::{PIXELS, SIDE};
use common::{fashion_mnist_dir, png_bytes, png_claiming};

const PER_CLASS: usize = 200;

/// The first `PER_CLASS` test images of each Fashion-MNIST class, in file order.
fn fashion_sample() -> Option<(Split, Vec<String>)> {
    let dir = fashion_mnist_dir()?;
    let d = Dataset::load_dir(dir).unwrap();
    let mut counts = [0usize; 10];
    let keep: Vec<usize> = (0..d.test.len())
        .filter(|&i| {
            let c = &mut counts[usize::from(d.test.labels[i])];
            *c += 1;
            *c <= PER_CLASS
        })
        .collect();
    Some((d.test.subset(&keep), d.class_names.clone()))
}

fn to_u8(v: f32) -> u8 {
    (v * 255.0).round() as u8
}

fn gray_png(pixels: &[f32], side: u32) -> Vec<u8> {
    let img =
        image::GrayImage::from_raw(side, side, pixels.iter().map(|&v| to_u8(v)).collect()).unwrap();
    png_bytes(&image::DynamicImage::ImageLuma8(img))
}

/// Writes `split` as an image folder (one subfolder per class, named after the class with
/// '/' replaced). Returns the folder names by label.
fn write_folder(dir: &Path, split: &Split, names: &[String]) -> Vec<String> {
    let folders: Vec<String> = names.iter().map(|n| n.replace('/', "-")).collect();
    for f in &folders {
        std::fs::create_dir_all(dir.join(f)).unwrap();
    }
    for i in 0..split.len() {
        let l = usize::from(split.labels[i]);
        let p = dir.join(&folders[l]).join(format!("{i:05}.png"));
        std::fs::write(p, gray_png(split.image(i), SIDE as u32)).unwrap();
    }
    folders
}

fn write_idx_single(dir: &Path, split: &Split) {
    let images = IdxImages {
        count: split.len(),
        rows: SIDE,
        cols: SIDE,
        pixels: split.images.iter().map(|&v| to_u8(v)).collect(),
    };
    std::fs::write(
        dir.join("train-images-idx3-ubyte"),
        idx::encode_images(&images),
    )
    .unwrap();
    std::fs::write(
        dir.join("train-labels-idx1-ubyte"),
        idx::encode_labels(&split.labels),
    )
    .unwrap();
}

fn source(p: &Path) -> DatasetSource {
    DatasetSource::Dir(p.to_path_buf())
}

fn fit() -> ImportOptions {
    ImportOptions {
        preprocess: Preprocess::Fit,
        invert: false,
    }
}

#[test]
fn fashion_as_an_image_folder_loads_with_counts_names_and_pixels_and_trains() {
    let Some((sample, names)) = fashion_sample() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("clothes");
    let folders = write_folder(&root, &sample, &names);
    assert_eq!(import::kind_of(&source(&root)).unwrap(), Kind::Images);
    let imported = import::load(&source(&root), &fit(), None).unwrap();
    assert!(imported.skipped.is_empty(), "{:?}", imported.skipped);
    let d = &imported.dataset;
    let mut sorted = folders.clone();
    sorted.sort();
    assert_eq!(
        d.class_names, sorted,
        "class names are the sorted folder names"
    );
    assert_eq!(d.name, "clothes");
    assert_eq!(d.train.len(), 8 * PER_CLASS);
    assert_eq!(d.test.len(), 2 * PER_CLASS);
    for c in 0..10u8 {
        let n = d.train.labels.iter().filter(|&&l| l == c).count();
        assert_eq!(n, PER_CLASS * 4 / 5, "class {c} in training");
    }
    // "Fit" on a 28×28 grey picture is the picture itself: every imported image is one of
    // the originals, under its class's name.
    let originals: std::collections::HashMap<Vec<u8>, &str> = (0..sample.len())
        .map(|i| {
            let key = sample.image(i).iter().map(|&v| to_u8(v)).collect();
            (key, folders[usize::from(sample.labels[i])].as_str())
        })
        .collect();
    for split in [&d.train, &d.test] {
        for i in 0..split.len() {
            let key: Vec<u8> = split.image(i).iter().map(|&v| to_u8(v)).collect();
            let class = originals.get(&key).expect("an original image");
            assert_eq!(*class, d.class_names[usize::from(split.labels[i])]);
        }
    }
    // MNIST-style preprocessing of the same folder: same counts, different pixels.
    let mnist = import::load(&source(&root), &ImportOptions::default(), None).unwrap();
    assert_eq!(mnist.dataset.train.len(), d.train.len());
    assert_ne!(mnist.dataset.train.images, d.train.images);
    // It trains.
    let model = common::train_model(Arc::new(imported.dataset), Variant::Dense, 2, 1);
    let loss = model.meta.history[0].test.total();
    assert!(loss.is_finite() && loss < 0.2, "test loss {loss}");
}

#[test]
fn fashion_as_csv_and_as_idx_gives_identical_splits_and_losses() {
    let Some((sample, names)) = fashion_sample() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let csv_dir = tmp.path().join("csv");
    let idx_dir = tmp.path().join("idx");
    std::fs::create_dir_all(&csv_dir).unwrap();
    std::fs::create_dir_all(&idx_dir).unwrap();
    let csv = csv_dir.join("clothes.csv");
    bottleneck::data::csv::write(&csv, &sample).unwrap();
    write_idx_single(&idx_dir, &sample);
    for d in [&csv_dir, &idx_dir] {
        std::fs::write(d.join("classes.txt"), names.join("\n")).unwrap();
    }
    let from_csv = import::load(&source(&csv), &ImportOptions::default(), None).unwrap();
    let from_idx = Dataset::load(&source(&idx_dir)).unwrap();
    // The folder holding the CSV opens it too.
    assert_eq!(import::kind_of(&source(&csv_dir)).unwrap(), Kind::Csv);
    let (a, b) = (&from_csv.dataset, &from_idx);
    assert_eq!(a.class_names, names);
    assert_eq!(a.name, "clothes");
    assert_eq!(a.train.len(), 8 * PER_CLASS);
    assert_eq!(a.test.len(), 2 * PER_CLASS);
    assert_eq!(a.train.labels, b.train.labels);
    assert_eq!(a.test.labels, b.test.labels);
    assert_eq!(a.train.images, b.train.images);
    assert_eq!(a.test.images, b.test.images);
    let ma = common::train_model(Arc::new(a.clone()), Variant::Dense, 2, 1);
    let mb = common::train_model(Arc::new(b.clone()), Variant::Dense, 2, 1);
    assert_eq!(
        ma.meta.history[0].train.total(),
        mb.meta.history[0].train.total()
    );
    assert_eq!(
        ma.meta.history[0].test.total(),
        mb.meta.history[0].test.total()
    );
}

#[test]
fn a_csv_pair_is_used_as_the_two_splits() {
    let Some((sample, _)) = fashion_sample() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let first: Vec<usize> = (0..1500).collect();
    let rest: Vec<usize> = (1500..sample.len()).collect();
    let dir = tmp.path().join("fashion-csv");
    std::fs::create_dir_all(&dir).unwrap();
    bottleneck::data::csv::write(&dir.join("fashion_train.csv"), &sample.subset(&first)).unwrap();
    bottleneck::data::csv::write(&dir.join("fashion_test.csv"), &sample.subset(&rest)).unwrap();
    // Opening either file, or the folder, finds both.
    for p in [
        dir.join("fashion_test.csv"),
        dir.join("fashion_train.csv"),
        dir.clone(),
    ] {
        let d = Dataset::load(&source(&p)).unwrap();
        assert_eq!(d.train.len(), 1500, "{}", p.display());
        assert_eq!(d.test.len(), sample.len() - 1500);
        assert_eq!(d.name, "fashion");
        // The path mentions "fashion": Fashion-MNIST's names.
        assert_eq!(d.class_names[9], "Ankle boot");
    }
}

/// A small picture of a digit-like blob for class `c`.
fn blob_png(c: usize) -> Vec<u8> {
    let img = image::GrayImage::from_fn(20, 24, |x, y| {
        let on = (x as usize + c) % 5 < 2 || y as usize % 7 == c % 7;
        image::Luma([if on { 20 } else { 240 }])
    });
    png_bytes(&image::DynamicImage::ImageLuma8(img))
}

#[test]
fn a_folder_with_corrupt_empty_huge_and_non_image_files_imports_the_good_ones_and_names_the_bad() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("digits");
    for c in ["a", "b"] {
        std::fs::create_dir_all(root.join(c)).unwrap();
        for i in 0..10 {
            std::fs::write(root.join(c).join(format!("{i}.png")), blob_png(i)).unwrap();
        }
    }
    let good = blob_png(3);
    std::fs::write(root.join("a/corrupt.png"), &good[..good.len() / 2]).unwrap();
    std::fs::write(root.join("a/empty.png"), b"").unwrap();
    std::fs::write(
        root.join("b/huge.png"),
        png_claiming(100_000, 100_000, 8, 0),
    )
    .unwrap();
    std::fs::write(root.join("b/notes.txt"), "these are my digits").unwrap();
    std::fs::write(root.join("stray.png"), &good).unwrap();
    let imported = import::load(&source(&root), &ImportOptions::default(), None).unwrap();
    let d = &imported.dataset;
    assert_eq!(d.train.len() + d.test.len(), 20);
    assert_eq!(d.class_names, ["a", "b"]);
    let mut bad: Vec<String> = imported
        .skipped
        .iter()
        .map(|s| s.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    bad.sort();
    assert_eq!(
        bad,
        [
            "corrupt.png",
            "empty.png",
            "huge.png",
            "notes.txt",
            "stray.png"
        ]
    );
    let reason = |name: &str| {
        imported
            .skipped
            .iter()
            .find(|s| s.path.ends_with(name))
            .unwrap()
            .reason
            .clone()
    };
    assert!(reason("empty.png").contains("empty"));
    assert!(
        reason("huge.png").contains("100000×100000"),
        "{}",
        reason("huge.png")
    );
    assert!(reason("stray.png").contains("class folder"));
    let summary = imported.summary();
    assert!(summary.contains("5 file(s) skipped"), "{summary}");

    // Nothing readable at all: an error that names a skipped file.
    let empty = tmp.path().join("nothing");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("readme.txt"), "no pictures").unwrap();
    let err = import::load(&source(&empty), &ImportOptions::default(), None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no picture") && err.contains("readme.txt"),
        "{err}"
    );
}

#[test]
fn a_flat_folder_is_one_unlabelled_class() {
    let tmp = tempfile::tempdir().unwrap();
    for i in 0..10 {
        std::fs::write(tmp.path().join(format!("{i}.png")), blob_png(i)).unwrap();
    }
    let d = Dataset::load(&source(tmp.path())).unwrap();
    assert_eq!(d.class_names, ["unlabelled"]);
    assert_eq!((d.train.len(), d.test.len()), (8, 2));
}

#[test]
fn train_and_test_folders_are_used_as_the_two_splits() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("kaggle");
    for (split, classes, n) in [
        ("train", ["cat", "dog"].as_slice(), 5),
        ("Test", &["cat", "dog", "eel"], 2),
    ] {
        for c in classes {
            let d = root.join(split).join(c);
            std::fs::create_dir_all(&d).unwrap();
            for i in 0..n {
                std::fs::write(d.join(format!("{i}.png")), blob_png(i)).unwrap();
            }
        }
    }
    let d = Dataset::load(&source(&root)).unwrap();
    assert_eq!(d.class_names, ["cat", "dog", "eel"]);
    assert_eq!(d.train.labels, [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
    assert_eq!(d.test.labels, [0, 0, 1, 1, 2, 2]);
}

fn write_csv(dir: &Path, name: &str, rows: &[String]) -> PathBuf {
    let p = dir.join(name);
    let mut text = String::from("label");
    for i in 0..PIXELS {
        text.push_str(&format!(",p{i}"));
    }
    text.push('\n');
    for r in rows {
        text.push_str(r);
        text.push('\n');
    }
    std::fs::write(&p, text).unwrap();
    p
}

fn csv_row(label: u8, fill: &str) -> Vec<String> {
    std::iter::once(label.to_string())
        .chain(std::iter::repeat_n(fill.to_string(), PIXELS))
        .collect()
}

#[test]
fn csv_errors_name_the_file_and_the_line() {
    let tmp = tempfile::tempdir().unwrap();
    let good = csv_row(1, "0").join(",");
    let mut short = csv_row(2, "0");
    short.pop();
    let mut nan = csv_row(3, "0");
    nan[10] = "abc".into();
    let mut big = csv_row(4, "0");
    big[100] = "300".into();
    for (name, bad, expect) in [
        ("short.csv", short.join(","), "784 values, expected 785"),
        ("nan.csv", nan.join(","), "column 11: 'abc' is not a number"),
        (
            "big.csv",
            big.join(","),
            "column 101: pixel value 300 is outside 0–255",
        ),
    ] {
        let p = write_csv(tmp.path(), name, &[good.clone(), good.clone(), bad]);
        let err = Dataset::load(&source(&p)).unwrap_err().to_string();
        // The header is line 1, so the bad row is line 4.
        assert!(err.contains(name) && err.contains("line 4"), "{err}");
        assert!(err.contains(expect), "{err}");
    }
}

#[test]
fn twenty_six_letter_folders_give_twenty_six_named_classes() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("letters");
    for (i, c) in ('A'..='Z').enumerate() {
        let d = root.join(c.to_string());
        std::fs::create_dir_all(&d).unwrap();
        for j in 0..5 {
            std::fs::write(d.join(format!("{j}.png")), blob_png(i + j)).unwrap();
        }
    }
    let d = Dataset::load(&source(&root)).unwrap();
    let letters: Vec<String> = ('A'..='Z').map(|c| c.to_string()).collect();
    assert_eq!(d.class_names, letters);
    assert_eq!(d.present_classes().len(), 26);
    assert_eq!(d.train.len(), 26 * 4);
}

fn bottleneck(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_bottleneck"))
        .args(args)
        .env("RAYON_NUM_THREADS", "2")
        .output()
        .unwrap()
}

#[test]
fn train_json_reports_image_and_class_counts_for_a_folder_and_a_csv() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("letters");
    for (i, c) in ('a'..='l').enumerate() {
        let d = root.join(c.to_string());
        std::fs::create_dir_all(&d).unwrap();
        for j in 0..10 {
            std::fs::write(d.join(format!("{j}.png")), blob_png(i + j)).unwrap();
        }
    }
    let root_s = root.to_string_lossy().into_owned();
    let o = bottleneck(&[
        "train",
        "--data",
        &root_s,
        "--preprocess",
        "fit",
        "--invert",
        "--epochs",
        "1",
        "--latent",
        "2",
        "--json",
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let out = String::from_utf8_lossy(&o.stdout);
    let v: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(v["train_images"], 96);
    assert_eq!(v["test_images"], 24);
    assert_eq!(v["classes"], 12);
    assert!(stderr.contains("inverted"), "{stderr}");

    let rows: Vec<String> = (0..50)
        .map(|i| csv_row((i % 5) as u8, if i % 2 == 0 { "0" } else { "200" }).join(","))
        .collect();
    let csv = write_csv(tmp.path(), "five.csv", &rows);
    let o = bottleneck(&[
        "train",
        "--data",
        &csv.to_string_lossy(),
        "--epochs",
        "1",
        "--latent",
        "2",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    let v: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(
        (v["train_images"].as_u64(), v["test_images"].as_u64()),
        (Some(40), Some(10))
    );
    // The classes present (labels 0–4), not the ten digit names they are given.
    assert_eq!(v["classes"], 5);

    // A bad CSV: one line on stderr naming the file and the line, non-zero exit.
    let bad = write_csv(tmp.path(), "bad.csv", &["1,2,3".into()]);
    let o = bottleneck(&["train", "--data", &bad.to_string_lossy(), "--epochs", "1"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.csv") && err.contains("line 2"), "{err}");
    // An unknown preprocessing is named.
    let o = bottleneck(&["train", "--preprocess", "squash", "--epochs", "1"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("squash"));
}

/// Not a test: writes the 10,000 Fashion-MNIST test images as PNG files in class folders to
/// $PNG_DIR (for measuring an import of 10,000 files).
#[test]
#[ignore]
fn write_fashion_png_folder() {
    let dir = PathBuf::from(std::env::var("PNG_DIR").expect("set PNG_DIR"));
    let d = Dataset::load_dir(fashion_mnist_dir().expect("Fashion-MNIST")).unwrap();
    write_folder(&dir, &d.test, &d.class_names);
}
