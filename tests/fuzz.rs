//! Fuzzing on stable Rust: one target per parser a user's file reaches — IDX images and labels
//! (plain and gzipped), picture decoding plus MNIST-style preprocessing, the model's sidecar
//! JSON plus safetensors pair, the settings file, CSV datasets (parsing, then loading as a
//! dataset), NumPy `.npy` and `.npz` files (parsing, then choosing the arrays of a dataset),
//! image folders (a folder of class subfolders of mutated pictures, empty and non-image
//! files, imported with either preprocessing). The model importers are fuzzed in
//! `tests/fuzz_import.rs`.
//!
//! Inputs are real files (the embedded IDX digits, pictures encoded in every supported format,
//! a built-in model, saved settings) mutated by choices drawn from `arbitrary::Unstructured`
//! over seeded random bytes: bit flips, interesting bytes and big-endian words, header fields,
//! truncation, deleted, repeated and inserted chunks, and for JSON, values swapped for
//! hostile ones. A case fails if the parser panics or any single allocation asks for more than
//! [`MAX_ALLOC`] (an unbounded allocation from a header); errors are the expected outcome.
//!
//! The harness (allocation watch, mutations, driver) is in `fuzzing/mod.rs`.
//! `cargo test --release --test fuzz` runs [`CI_CASES`] cases per target.
//! `FUZZ_SECONDS=N cargo test --release --test fuzz -- --ignored --nocapture` runs each
//! target for N seconds and prints its executions. A failure prints the case's seed:
//! `FUZZ_SEED=S` replays it. Cases that found bugs stay below as named regression tests.
//!
//! No run has found a parser bug yet (the one failure, seed 9086458778878366349, was in this
//! harness: commit 92c8055). The regression section therefore holds, per target, the hostile
//! inputs its parser guards against — a truncated IDX header, a PNG claiming huge dimensions,
//! a sidecar describing another shape, a CSV row one value too long, … — each asserting the
//! clear error it must give, within the same allocation watch.

use std::io::Write;
use std::path::Path;

use bottleneck::app::settings::Settings;
use bottleneck::data::{idx, npy, preprocess};
use bottleneck::model::io;

mod common;
mod fuzzing;
use fuzzing::*;

// ---------------------------------------------------------------- seeds

fn asset(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("assets")
            .join(name),
    )
    .unwrap()
}

/// Small real IDX files: the first images and labels of the embedded digits, plain.
fn idx_seeds() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let p = Path::new("seed");
    let images = idx::parse_images(&asset("mnist-10k-images-idx3-ubyte.gz"), p).unwrap();
    let labels = idx::parse_labels(&asset("mnist-10k-labels-idx1-ubyte.gz"), p).unwrap();
    let mut img = Vec::new();
    let mut lab = Vec::new();
    for n in [1usize, 3, 20] {
        img.push(idx::encode_images(&idx::IdxImages {
            count: n,
            rows: 28,
            cols: 28,
            pixels: images.pixels[..n * 784].to_vec(),
        }));
        lab.push(idx::encode_labels(&labels[..n]));
    }
    (img, lab)
}

/// A digit encoded in every format the app reads, plus a wider RGBA picture.
fn image_seeds() -> Vec<Vec<u8>> {
    use image::{DynamicImage, ImageFormat};
    let images =
        idx::parse_images(&asset("mnist-10k-images-idx3-ubyte.gz"), Path::new("seed")).unwrap();
    let digit = image::GrayImage::from_raw(28, 28, images.pixels[..784].to_vec()).unwrap();
    let gray = DynamicImage::ImageLuma8(digit);
    let rgba = DynamicImage::ImageRgba8(image::RgbaImage::from_fn(40, 24, |x, y| {
        image::Rgba([
            (x * 6) as u8,
            (y * 10) as u8,
            128,
            if x > 20 { 0 } else { 255 },
        ])
    }));
    let mut out = Vec::new();
    for img in [&gray, &rgba] {
        for f in [
            ImageFormat::Png,
            ImageFormat::Jpeg,
            ImageFormat::Bmp,
            ImageFormat::Gif,
            ImageFormat::WebP,
        ] {
            let img = if f == ImageFormat::Jpeg {
                DynamicImage::ImageRgb8(img.to_rgb8())
            } else {
                img.clone()
            };
            let mut bytes = std::io::Cursor::new(Vec::new());
            if img.write_to(&mut bytes, f).is_ok() {
                out.push(bytes.into_inner());
            }
        }
    }
    assert!(out.len() >= 8, "only {} seed pictures", out.len());
    out
}

/// A built-in model's sidecar and weights.
fn model_seeds() -> (String, Vec<u8>) {
    (
        String::from_utf8(asset("models/dense-2d.json")).unwrap(),
        asset("models/dense-2d.safetensors"),
    )
}

/// Saved settings: the defaults and a changed form.
fn settings_seeds() -> Vec<String> {
    let a = Settings::default();
    let mut b = a.clone();
    b.train.model.latent = 16;
    b.window_size = Some([1280.0, 800.0]);
    b.compare = true;
    b.dataset = bottleneck::data::DatasetSource::Dir("/data/fashion".into());
    [a, b]
        .iter()
        .map(|s| serde_json::to_string_pretty(s).unwrap())
        .collect()
}

/// Real CSV files: the first embedded digits as 0–255 with a header, as 0–1 without one, and
/// a few 2×2 images.
fn csv_seeds() -> Vec<Vec<u8>> {
    let d = bottleneck::data::Dataset::embedded().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("seed.csv");
    bottleneck::data::csv::write(&p, &d.test.take(3)).unwrap();
    let with_header = std::fs::read(&p).unwrap();
    let mut unit = String::new();
    for i in 0..2 {
        unit.push_str(&d.test.labels[i].to_string());
        for v in d.test.image(i) {
            unit.push_str(&format!(",{v:.3}"));
        }
        unit.push('\n');
    }
    let small = b"label,a,b,c,d\n1,0,255,0,12\n0,\"3\",4,5,6\n\n2,9,9,9,9\r\n".to_vec();
    vec![with_header, unit.into_bytes(), small]
}

/// Real `.npy` files as numpy lays them out: uint8 images, float32 flat images, int64 labels
/// (version 1 headers), one with a version 2 header, and the float32 file numpy wrote.
fn npy_seeds() -> Vec<Vec<u8>> {
    fn npy(version: u8, descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        let len_bytes = if version == 1 { 2 } else { 4 };
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (8 + len_bytes + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY".to_vec();
        out.extend([version, 0]);
        if version == 1 {
            out.extend((header.len() as u16).to_le_bytes());
        } else {
            out.extend((header.len() as u32).to_le_bytes());
        }
        out.extend(header.as_bytes());
        out.extend(data);
        out
    }
    let images = idx::parse_images(&asset("mnist-10k-images-idx3-ubyte.gz"), Path::new("seed"))
        .unwrap()
        .pixels;
    let floats: Vec<u8> = images[..2 * 784]
        .iter()
        .flat_map(|&b| (f32::from(b) / 255.0).to_le_bytes())
        .collect();
    let labels: Vec<u8> = [3i64, 1, 4, 1, 5]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    vec![
        npy(1, "|u1", "(3, 28, 28)", &images[..3 * 784]),
        npy(1, "<f4", "(2, 784)", &floats),
        npy(1, "<i8", "(5,)", &labels),
        npy(2, "<f8", "(2, 2)", &[0u8; 32]),
        std::fs::read(npz_fixture("digits10.npy")).unwrap(),
    ]
}

fn npz_fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("crates/engine/tests/data/npz")
        .join(name)
}

/// `.npz` files: the one numpy wrote (deflated, Keras' names) and the `.npy` seeds stored.
fn npz_seeds() -> Vec<Vec<u8>> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (i, bytes) in npy_seeds().iter().take(3).enumerate() {
        w.start_file(format!("a{i}.npy"), stored).unwrap();
        w.write_all(bytes).unwrap();
    }
    vec![
        std::fs::read(npz_fixture("mnist50.npz")).unwrap(),
        w.finish().unwrap().into_inner(),
    ]
}

// ---------------------------------------------------------------- targets

/// Arrays that parse are as long as their shape says; as a dataset they give images in
/// [0, 1] or an error, never a panic.
fn check_arrays(arrays: &[npy::Array], path: &Path) -> bool {
    for a in arrays {
        let n: usize = a.shape.iter().product();
        assert_eq!(a.data.len(), n * a.dtype.size(), "{}", a.describe());
    }
    match npy::from_arrays(arrays, &Default::default(), path) {
        Ok((d, _)) => {
            assert_eq!(d.train.images.len(), d.train.len() * 784);
            assert!(d.train.images.iter().all(|v| (0.0..=1.0).contains(v)));
            true
        }
        Err(_) => false,
    }
}

/// A mutated `.npy` seed with header-shaped damage: shapes, types and flags numpy could have
/// written.
fn damaged_npy(u: &mut arbitrary::Unstructured, seeds: &[Vec<u8>]) -> arbitrary::Result<Vec<u8>> {
    let mut bytes = mutated(u, seeds)?;
    for _ in 0..u.int_in_range(0..=2)? {
        let token: &[u8] = u.choose(&[
            &b"("[..],
            b")",
            b",",
            b"4294967296",
            b"18446744073709551615",
            b"True",
            b"'<f8'",
            b"'>i4'",
            b"'shape': ",
            b"}",
        ])?;
        let at = u.choose_index(bytes.len().min(128) + 1)?;
        bytes.splice(at..at, token.iter().copied());
    }
    // A hostile shape in place of the real one: under the 1 GiB limit but far more than the
    // file holds, empty, overflowing, or of other ranks.
    if u.ratio(1, 4)? {
        let start = bytes
            .windows(10)
            .position(|w| w == b"'shape': (")
            .map(|i| i + 10);
        if let Some(start) = start {
            if let Some(len) = bytes[start..].iter().position(|&b| b == b')') {
                let shape: &str = u.choose(&[
                    "900000000,",
                    "1000, 1000, 900",
                    "0, 28, 28",
                    "",
                    "18446744073709551615, 2",
                    "3, 28, 28, 1",
                    "2, 30, 26",
                    "5",
                ])?;
                bytes.splice(start..start + len, shape.bytes());
            }
        }
    }
    Ok(bytes)
}

fn npy_target(long: bool) {
    let seeds = npy_seeds();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fuzz.npy");
    drive("npy", long, |u| {
        (|| -> arbitrary::Result<bool> {
            let bytes = damaged_npy(u, &seeds)?;
            Ok(match npy::parse_npy(&bytes, &path) {
                Ok(a) => check_arrays(&[a], &path),
                Err(_) => false,
            })
        })()
        .unwrap_or(false)
    });
}

fn npz_target(long: bool) {
    let seeds = npz_seeds();
    let npy = npy_seeds();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fuzz.npz");
    drive("npz", long, |u| {
        (|| -> arbitrary::Result<bool> {
            let bytes = if u.ratio(1, 2)? {
                mutated(u, &seeds)?
            } else {
                // Damaged arrays in a valid archive (stored or deflated), some with Keras'
                // names.
                let method = *u.choose(&[
                    zip::CompressionMethod::Stored,
                    zip::CompressionMethod::Deflated,
                ])?;
                let options = zip::write::SimpleFileOptions::default().compression_method(method);
                let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
                for _ in 0..u.int_in_range(1..=4)? {
                    let name = u.choose(&["x_train", "y_train", "x_test", "y_test", "a"])?;
                    if w.start_file(format!("{name}.npy"), options).is_err() {
                        continue;
                    }
                    w.write_all(&damaged_npy(u, &npy)?).unwrap();
                }
                w.finish().unwrap().into_inner()
            };
            Ok(match npy::parse_npz(&bytes, &path) {
                Ok(arrays) => check_arrays(&arrays, &path),
                Err(_) => false,
            })
        })()
        .unwrap_or(false)
    });
}

#[test]
fn fuzz_npy() {
    npy_target(false);
}

#[test]
fn fuzz_npz() {
    npz_target(false);
}

#[test]
#[ignore = "long: FUZZ_SECONDS=N cargo test --release --test fuzz -- --ignored"]
fn fuzz_npy_long() {
    npy_target(true);
}

#[test]
#[ignore = "long: FUZZ_SECONDS=N cargo test --release --test fuzz -- --ignored"]
fn fuzz_npz_long() {
    npz_target(true);
}

#[test]
fn npy_regression_huge_and_lying_shapes_are_refused_before_reading() {
    let seed = &npy_seeds()[0];
    let header_end = seed.iter().position(|&b| b == b'\n').unwrap() + 1;
    let with_shape = |shape: &str| {
        let text = String::from_utf8_lossy(&seed[10..header_end]).replace("(3, 28, 28)", shape);
        let mut out = seed[..8].to_vec();
        out.extend((text.len() as u16).to_le_bytes());
        out.extend(text.as_bytes());
        out.extend(&seed[header_end..]);
        out
    };
    let path = Path::new("x.npy");
    let big = regression("npy huge", || {
        npy::parse_npy(&with_shape("(1000000, 1000, 1000)"), path)
    });
    assert_mentions("npy huge", &big, &["x.npy", "GiB"]);
    let over = regression("npy overflow", || {
        npy::parse_npy(&with_shape("(18446744073709551615, 2)"), path)
    });
    assert_mentions("npy overflow", &over, &["x.npy", "GiB"]);
    let lie = regression("npy lie", || {
        npy::parse_npy(&with_shape("(300, 28, 28)"), path)
    });
    assert_mentions("npy lie", &lie, &["x.npy", "truncated", "235200"]);
    let cut = regression("npy cut", || npy::parse_npy(&seed[..header_end - 5], path));
    assert_mentions("npy cut", &cut, &["x.npy", "header"]);
}

#[test]
fn npz_regression_a_truncated_archive_says_it_is_not_readable() {
    let seed = &npz_seeds()[0];
    let path = Path::new("x.npz");
    let cut = regression("npz cut", || npy::parse_npz(&seed[..seed.len() / 2], path));
    assert_mentions("npz cut", &cut, &["x.npz", "zip"]);
}

// ---------------------------------------------------------------- targets

fn idx_target(long: bool) {
    let (images, labels) = idx_seeds();
    let gz_images: Vec<Vec<u8>> = images.iter().map(|b| gzip(b)).collect();
    let path = Path::new("fuzz-idx3-ubyte");
    drive("idx", long, |u| {
        (|| -> arbitrary::Result<bool> {
            Ok(match u.int_in_range(0..=3)? {
                0 => idx::parse_images(&mutated(u, &images)?, path).is_ok(),
                1 => idx::parse_labels(&mutated(u, &labels)?, path).is_ok(),
                // Mutated, then gzipped: the parser sees a valid stream of a broken file.
                2 => idx::parse_images(&gzip(&mutated(u, &images)?), path).is_ok(),
                // A mutated gzip stream.
                _ => idx::parse_images(&mutated(u, &gz_images)?, path).is_ok(),
            })
        })()
        .unwrap_or(false)
    });
}

fn image_target(long: bool) {
    let seeds = image_seeds();
    let path = Path::new("fuzz-picture");
    drive("image", long, |u| {
        let Ok(bytes) = mutated(u, &seeds) else {
            return false;
        };
        let Ok(g) = preprocess::decode(&bytes, path) else {
            return false;
        };
        let p = preprocess::preprocess(&g);
        assert_eq!(p.pixels.len(), 784);
        assert!(p.pixels.iter().all(|v| (0.0..=1.0).contains(v)));
        true
    });
}

fn model_target(long: bool) {
    let (json, weights) = model_seeds();
    let (jsons, weights) = (vec![json], vec![weights]);
    let path = Path::new("fuzz.safetensors");
    let side = Path::new("fuzz.json");
    drive("model", long, |u| {
        (|| -> arbitrary::Result<bool> {
            let text = if u.ratio(1, 2)? {
                mutated_json(u, &jsons)?
            } else {
                jsons[0].clone()
            };
            let bytes = if u.ratio(1, 2)? {
                // Mostly the safetensors header (its first few hundred bytes).
                let mut w = weights[0].clone();
                for _ in 0..u.int_in_range(1..=4)? {
                    if u.ratio(3, 4)? {
                        // An earlier mutation may have cut the file short.
                        let i = u.choose_index(w.len().min(600))?;
                        w[i] = u.arbitrary()?;
                    } else {
                        mutate_once(u, &mut w)?;
                    }
                }
                w
            } else {
                weights[0].clone()
            };
            let Ok(meta) = io::parse_meta(&text, side) else {
                return Ok(false);
            };
            let Ok(m) = io::from_parts(meta, &bytes, path) else {
                return Ok(false);
            };
            // A model that loads must also run.
            let codes = m.encode(&vec![0.5; 784]);
            assert!(codes.is_ok(), "{codes:?}");
            Ok(true)
        })()
        .unwrap_or(false)
    });
}

fn settings_target(long: bool) {
    let seeds = settings_seeds();
    drive("settings", long, |u| {
        let Ok(text) = mutated_json(u, &seeds) else {
            return false;
        };
        let Ok(s) = Settings::parse(&text) else {
            return false;
        };
        assert!(s.train.validate().is_ok());
        true
    });
}

fn csv_target(long: bool) {
    use bottleneck::data::{csv, Dataset, DatasetSource};
    let seeds = csv_seeds();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fuzz.csv");
    drive("csv", long, |u| {
        (|| -> arbitrary::Result<bool> {
            // Half the cases keep the bytes and only get CSV-shaped damage, which a parser
            // must tell apart from good rows.
            let mut bytes = if u.ratio(1, 2)? {
                mutated(u, &seeds)?
            } else {
                seeds[u.choose_index(seeds.len())?].clone()
            };
            // CSV-shaped damage: cells and rows added, values out of range.
            for _ in 0..u.int_in_range(0..=3)? {
                let token: &[u8] = u.choose(&[
                    &b","[..],
                    b"\n",
                    b"300",
                    b"-1",
                    b"NaN",
                    b"inf",
                    b"1e40",
                    b"\"",
                    b"label,",
                    b"0.5",
                    b"256",
                ])?;
                let at = u.choose_index(bytes.len() + 1)?;
                bytes.splice(at..at, token.iter().copied());
            }
            let text = String::from_utf8_lossy(&bytes);
            let Ok(c) = csv::parse(&text, &path) else {
                return Ok(false);
            };
            assert_eq!(c.pixels.len(), c.labels.len() * c.side * c.side);
            assert!(c.pixels.iter().all(|v| (0.0..=1.0).contains(v)));
            if u.ratio(1, 4)? {
                // The whole import: split, resize, class names.
                std::fs::write(&path, text.as_bytes()).unwrap();
                let d = Dataset::load(&DatasetSource::Dir(path.clone()));
                let d = d.expect("a CSV that parses loads");
                assert_eq!(d.train.len() + d.test.len(), c.labels.len());
                assert_eq!(d.train.images.len(), d.train.len() * 784);
                assert!(d.train.images.iter().all(|v| (0.0..=1.0).contains(v)));
            }
            Ok(true)
        })()
        .unwrap_or(false)
    });
}

fn folder_target(long: bool) {
    use bottleneck::data::{import, DatasetSource, ImportOptions, Preprocess};
    let seeds = image_seeds();
    let root = tempfile::tempdir().unwrap();
    drive("folder", long, |u| {
        (|| -> arbitrary::Result<bool> {
            let case = root.path().join(format!("case-{}", u.arbitrary::<u32>()?));
            let _ = std::fs::remove_dir_all(&case);
            std::fs::create_dir_all(&case).unwrap();
            let classes = u.int_in_range(0..=3)?;
            let mut files = 0usize;
            for c in 0..classes.max(1) {
                let dir = if classes == 0 {
                    case.clone()
                } else {
                    case.join(format!("class {c}"))
                };
                let dir = if u.ratio(1, 6)? {
                    dir.join("nested")
                } else {
                    dir
                };
                std::fs::create_dir_all(&dir).unwrap();
                for f in 0..u.int_in_range(0..=3)? {
                    let bytes = match u.int_in_range(0..=5)? {
                        0 => seeds[u.choose_index(seeds.len())?].clone(),
                        1 => Vec::new(),
                        2 => b"not a picture".to_vec(),
                        _ => mutated(u, &seeds)?,
                    };
                    std::fs::write(dir.join(format!("{f}.png")), bytes).unwrap();
                    files += 1;
                }
            }
            if classes > 0 && u.ratio(1, 5)? {
                // Outside the class folders: skipped.
                std::fs::write(case.join("stray.png"), &seeds[0]).unwrap();
            }
            let options = ImportOptions {
                preprocess: if u.ratio(1, 2)? {
                    Preprocess::Mnist
                } else {
                    Preprocess::Fit
                },
                invert: u.ratio(1, 2)?,
            };
            let r = import::load(&DatasetSource::Dir(case.clone()), &options, None);
            let _ = std::fs::remove_dir_all(&case);
            let Ok(imported) = r else {
                return Ok(false);
            };
            let d = &imported.dataset;
            let read = d.train.len() + d.test.len();
            assert!(read >= 1 && read <= files, "{read} of {files}");
            assert_eq!(d.class_names.len(), classes.max(1));
            for split in [&d.train, &d.test] {
                assert_eq!(split.images.len(), split.len() * 784);
                assert!(split.images.iter().all(|v| (0.0..=1.0).contains(v)));
            }
            Ok(true)
        })()
        .unwrap_or(false)
    });
}

#[test]
fn fuzz_csv() {
    csv_target(false);
}

#[test]
fn fuzz_folder() {
    folder_target(false);
}

#[test]
#[ignore = "long: FUZZ_SECONDS=N cargo test --release --test fuzz -- --ignored"]
fn fuzz_csv_long() {
    csv_target(true);
}

#[test]
#[ignore = "long: FUZZ_SECONDS=N cargo test --release --test fuzz -- --ignored"]
fn fuzz_folder_long() {
    folder_target(true);
}

#[test]
fn fuzz_idx() {
    idx_target(false);
}

#[test]
fn fuzz_image() {
    image_target(false);
}

#[test]
fn fuzz_model() {
    model_target(false);
}

#[test]
fn fuzz_settings() {
    settings_target(false);
}

#[test]
#[ignore = "long: FUZZ_SECONDS=N cargo test --release --test fuzz -- --ignored"]
fn fuzz_idx_long() {
    idx_target(true);
}

#[test]
#[ignore = "long: FUZZ_SECONDS=N cargo test --release --test fuzz -- --ignored"]
fn fuzz_image_long() {
    image_target(true);
}

#[test]
#[ignore = "long: FUZZ_SECONDS=N cargo test --release --test fuzz -- --ignored"]
fn fuzz_model_long() {
    model_target(true);
}

#[test]
#[ignore = "long: FUZZ_SECONDS=N cargo test --release --test fuzz -- --ignored"]
fn fuzz_settings_long() {
    settings_target(true);
}

// ---------------------------------------------------------------- regressions

/// An IDX images header: magic 0x803, then `dims` as big-endian words.
fn idx_header(dims: &[u32]) -> Vec<u8> {
    let mut b = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b
}

#[test]
fn idx_regression_a_header_cut_short_names_its_missing_bytes() {
    let path = Path::new("cut-idx3-ubyte");
    let mut bytes = idx_header(&[1, 28, 28]);
    bytes.truncate(10);
    let e = regression("idx cut header", || idx::parse_images(&bytes, path));
    assert_mentions(
        "idx cut header",
        &e,
        &["cut-idx3-ubyte", "header is cut short", "12 bytes"],
    );
    let e = regression("idx 3 bytes", || idx::parse_images(&bytes[..3], path));
    assert_mentions("idx 3 bytes", &e, &["only 3 bytes", "too short"]);
}

#[test]
fn idx_regression_a_header_claiming_billions_of_images_is_refused_before_reading() {
    let path = Path::new("huge-idx3-ubyte");
    let mut bytes = idx_header(&[0x7fff_ffff, 28, 28]);
    bytes.extend_from_slice(&[0u8; 784]);
    let e = regression("idx huge count", || idx::parse_images(&bytes, path));
    assert_mentions("idx huge count", &e, &["2147483647", "more than the"]);
    // Gzipped, the stream is not inflated past what the header may promise.
    let e = regression("idx huge count gz", || {
        idx::parse_images(&gzip(&bytes), path)
    });
    assert_mentions("idx huge count gz", &e, &["2147483647"]);
    // Sides of 0 and of 4 billion pixels.
    for (side, what) in [(0u32, "0 rows"), (0xffff_ffff, "4294967295 rows")] {
        let bytes = idx_header(&[1, side, 28]);
        let e = regression("idx side", || idx::parse_images(&bytes, path));
        assert_mentions("idx side", &e, &[what, "per image"]);
    }
}

#[test]
fn idx_regression_data_shorter_than_the_header_promises_is_truncated() {
    let path = Path::new("short-idx3-ubyte");
    let mut bytes = idx_header(&[2, 28, 28]);
    bytes.extend_from_slice(&[0u8; 784 + 100]);
    let e = regression("idx short data", || idx::parse_images(&bytes, path));
    assert_mentions("idx short data", &e, &["truncated", "1568", "884"]);
    let labels = [0, 0, 8, 1, 0, 0, 0, 5, 1, 2];
    let e = regression("idx short labels", || idx::parse_labels(&labels, path));
    assert_mentions(
        "idx short labels",
        &e,
        &["truncated", "promises 5", "holds 2"],
    );
}

#[test]
fn image_regression_a_png_claiming_huge_dimensions_is_refused_by_its_header() {
    let path = Path::new("huge.png");
    for (w, h) in [(100_000u32, 100_000u32), (20_000, 20_000), (1, 0x7fff_ffff)] {
        let png = common::png_claiming(w, h, 8, 0);
        let e = regression("png claiming", || {
            preprocess::decode(&png, path).map(|g| g.width)
        });
        assert_mentions("png claiming", &e, &["huge.png", "limit"]);
    }
    // 16-bit RGBA: eight bytes a pixel.
    let png = common::png_claiming(16_000, 16_000, 16, 6);
    let e = regression("png 16-bit", || {
        preprocess::decode(&png, path).map(|g| g.width)
    });
    assert_mentions("png 16-bit", &e, &["limit"]);
}

#[test]
fn image_regression_empty_truncated_and_foreign_files_say_what_they_are() {
    let path = Path::new("bad.png");
    let e = regression("empty picture", || {
        preprocess::decode(&[], path).map(|g| g.width)
    });
    assert_mentions(
        "empty picture",
        &e,
        &["bad.png", "not an image Bottleneck can read"],
    );
    let png = &image_seeds()[0];
    let cut = &png[..png.len() / 2];
    let e = regression("cut png", || preprocess::decode(cut, path).map(|g| g.width));
    assert_mentions("cut png", &e, &["truncated or corrupt"]);
    let e = regression("text", || {
        preprocess::decode(b"label,pixel1\n", path).map(|g| g.width)
    });
    assert_mentions("text", &e, &["not an image Bottleneck can read"]);
}

#[test]
fn model_regression_a_sidecar_describing_another_shape_names_the_tensor() {
    let (json, weights) = model_seeds();
    let side = Path::new("fuzz.json");
    let path = Path::new("fuzz.safetensors");
    for (from, to) in [("\"latent\": 2", "\"latent\": 3"), ("128\n", "64\n")] {
        assert!(json.contains(from), "{from}");
        let text = json.replacen(from, to, 1);
        let meta = io::parse_meta(&text, side).expect("still a valid sidecar");
        let e = regression("model shape", || {
            io::from_parts(meta, &weights, path).map(|m| m.latent())
        });
        assert_mentions(
            "model shape",
            &e,
            &["fuzz.safetensors", "has shape", "expects"],
        );
    }
}

#[test]
fn model_regression_broken_sidecars_and_weights_say_which_file() {
    let (json, weights) = model_seeds();
    let side = Path::new("fuzz.json");
    let path = Path::new("fuzz.safetensors");
    let e = regression("sidecar cut", || {
        io::parse_meta(&json[..json.len() / 2], side)
    });
    assert_mentions(
        "sidecar cut",
        &e,
        &["fuzz.json", "not a Bottleneck model description"],
    );
    let e = regression("latent 0", || {
        io::parse_meta(&json.replacen("\"latent\": 2", "\"latent\": 0", 1), side)
            .and_then(|m| io::from_parts(m, &weights, path))
            .map(|m| m.latent())
    });
    assert_mentions("latent 0", &e, &["configuration"]);
    // The safetensors header's length word claiming 4 GiB, and the weights cut in half.
    let mut huge = weights.clone();
    huge[..8].copy_from_slice(&0xffff_ffffu64.to_le_bytes());
    for (what, bytes) in [
        ("huge header", huge),
        ("cut", weights[..weights.len() / 2].to_vec()),
    ] {
        let meta = io::parse_meta(&json, side).unwrap();
        let e = regression(what, || {
            io::from_parts(meta, &bytes, path).map(|m| m.latent())
        });
        assert_mentions(
            what,
            &e,
            &["fuzz.safetensors", "not a readable safetensors file"],
        );
    }
}

#[test]
fn settings_regression_hostile_training_values_fall_back_to_the_defaults() {
    let seeds = settings_seeds();
    let changed = &seeds[1];
    assert!(changed.contains("\"latent\": 16"));
    // A value that cannot be trained (latent 0): the rest is kept, training is reset.
    let s = Settings::parse(&changed.replacen("\"latent\": 16", "\"latent\": 0", 1)).unwrap();
    assert_eq!(s.train, Settings::default().train);
    assert!(s.compare, "the rest of the file is kept");
    // Values that are not numbers of the type at all: a parse error naming the place.
    for bad in ["-1", "1e309", "\"\\ud800\""] {
        let text = changed.replacen("\"latent\": 16", &format!("\"latent\": {bad}"), 1);
        let e = regression("settings", || Settings::parse(&text).map(|_| ()));
        assert_mentions("settings", &e, &["line"]);
    }
}

#[test]
fn csv_regression_a_row_one_value_too_long_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.csv");
    let row = |n: usize| {
        std::iter::once("3".to_string())
            .chain((0..n).map(|i| (i % 256).to_string()))
            .collect::<Vec<_>>()
            .join(",")
    };
    let text = format!("label,pixels\n{}\n{}\n{}\n", row(784), row(784), row(785));
    let e = regression("csv 786", || bottleneck::data::csv::parse(&text, &path));
    assert_mentions(
        "csv 786",
        &e,
        &["long.csv", "line 4: 786 values, expected 785"],
    );
    // One short, after a blank line and CRLF line ends: the line is still the file's own.
    let text = format!("{}\r\n\r\n{}\r\n", row(784), row(783));
    let e = regression("csv 784", || bottleneck::data::csv::parse(&text, &path));
    assert_mentions("csv 784", &e, &["line 3: 784 values, expected 785"]);
}

#[test]
fn csv_regression_hostile_cells_are_errors_naming_line_and_column() {
    let path = Path::new("cells.csv");
    let parse = |t: &str| regression(t, || bottleneck::data::csv::parse(t, path));
    for (text, parts) in [
        ("1,0,NaN,0,0\n", &["line 1, column 3", "outside 0–255"][..]),
        ("1,0,0,inf,0\n", &["line 1, column 4", "outside 0–255"]),
        ("1,0,0,0,1e40\n", &["line 1, column 5", "outside 0–255"]),
        ("-1,0,0,0,0\n", &["line 1, column 1", "label '-1'"]),
        ("256,0,0,0,0\n", &["line 1, column 1", "label '256'"]),
        // An unclosed quote runs to the end of the file: one long cell, not a number.
        (
            "1,\"0,0,0,0\n2,0,0,0,0\n",
            &["line 1, column 2", "is not a number"],
        ),
        ("1,0,0\n", &["line 1", "square"]),
        ("\u{feff}label,a,b,c,d\n", &["only a header"]),
        ("\u{feff}\r\n \n", &["no rows of data"]),
    ] {
        let e = parse(text);
        assert_mentions(text, &e, parts);
    }
}

#[test]
fn csv_regression_a_byte_order_mark_keeps_the_first_image_of_a_headerless_file() {
    let text = "\u{feff}7,0,255,0,0\r\n2,0,0,255,0\r\n";
    let c = bottleneck::data::csv::parse(text, Path::new("bom.csv")).unwrap();
    assert!(!c.header);
    assert_eq!(c.labels, vec![7, 2]);
}

#[test]
fn folder_regression_a_folder_of_no_pictures_says_so_and_names_a_skipped_file() {
    use bottleneck::data::{import, DatasetSource, ImportOptions};
    let dir = tempfile::tempdir().unwrap();
    let class = dir.path().join("cats");
    std::fs::create_dir_all(&class).unwrap();
    std::fs::write(class.join("empty.png"), b"").unwrap();
    std::fs::write(class.join("notes.png"), b"not a picture").unwrap();
    let source = DatasetSource::Dir(dir.path().to_path_buf());
    let e = regression("no pictures", || {
        import::load(&source, &ImportOptions::default(), None).map(|i| i.dataset.train.len())
    });
    assert_mentions(
        "no pictures",
        &e,
        &["no picture Bottleneck can read", "skipped"],
    );
}
