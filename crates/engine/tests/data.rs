//! Integration tests of the data module on real data (the embedded MNIST subset, the system's
//! Fashion-MNIST) and on small IDX and image fixtures generated here, never downloaded.

mod common;

use common::{fashion_mnist_dir, png_bytes, png_claiming};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bottleneck_engine::data::idx::{self, IdxImages};
use bottleneck_engine::data::preprocess::{self, Gray};
use bottleneck_engine::data::{DataError, Dataset, DatasetSource, Split};
use bottleneck_engine::{PIXELS, SIDE};

// ---------------------------------------------------------------------------------------------
// Fixtures

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// `labels.len()` 28×28 images whose first two pixels encode their index (so tests can tell
/// which image went where) and whose third pixel is the label.
fn images_for(labels: &[u8]) -> IdxImages {
    let mut pixels = vec![0u8; labels.len() * PIXELS];
    for (i, (img, &l)) in pixels.chunks_exact_mut(PIXELS).zip(labels).enumerate() {
        img[0] = (i % 256) as u8;
        img[1] = (i / 256) as u8;
        img[2] = l;
        img[100 + i % 600] = 255;
    }
    IdxImages {
        count: labels.len(),
        rows: SIDE,
        cols: SIDE,
        pixels,
    }
}

/// Uneven class sizes so that 80 % of a class is rarely a whole number.
fn uneven_labels() -> Vec<u8> {
    let mut labels = Vec::new();
    for class in 0..10u8 {
        let n = 7 + 3 * class as usize; // 7, 10, 13, ..., 34: 205 in all
        labels.extend(std::iter::repeat_n(class, n));
    }
    // Interleave the classes deterministically.
    let n = labels.len();
    (0..n).map(|i| labels[(i * 37) % n]).collect()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn write_pair(dir: &Path, images: &str, labels: &str, l: &[u8], gz: bool) {
    let (img, lab) = (idx::encode_images(&images_for(l)), idx::encode_labels(l));
    if gz {
        write(dir, images, &gzip(&img));
        write(dir, labels, &gzip(&lab));
    } else {
        write(dir, images, &img);
        write(dir, labels, &lab);
    }
}

fn index_of(image: &[f32]) -> usize {
    let byte = |v: f32| (v * 255.0).round() as usize;
    byte(image[0]) + 256 * byte(image[1])
}

fn class_counts(split: &Split) -> [usize; 256] {
    let mut c = [0usize; 256];
    for &l in &split.labels {
        c[l as usize] += 1;
    }
    c
}

// ---------------------------------------------------------------------------------------------
// The embedded MNIST subset

#[test]
fn embedded_has_8000_train_and_2000_test_digits() {
    let d = Dataset::embedded().unwrap();
    assert_eq!(d.train.len(), 8000);
    assert_eq!(d.test.len(), 2000);
    assert_eq!(d.train.images.len(), 8000 * PIXELS);
    assert_eq!(d.test.images.len(), 2000 * PIXELS);
    assert_eq!(d.name, "MNIST (embedded 10k)");
    assert_eq!(
        d.class_names,
        (0..10).map(|i| i.to_string()).collect::<Vec<_>>()
    );
    assert_eq!(d.source, DatasetSource::Embedded);
    assert_eq!(d.source.to_string(), "embedded");
}

#[test]
fn embedded_split_is_stratified_80_20() {
    let d = Dataset::embedded().unwrap();
    let (tr, te) = (class_counts(&d.train), class_counts(&d.test));
    for c in 0..10 {
        assert!(tr[c] > 0 && te[c] > 0, "class {c} missing from a split");
        let share = tr[c] as f64 / (tr[c] + te[c]) as f64;
        assert!((share - 0.8).abs() < 0.002, "class {c}: {share}");
    }
    assert!(tr[10..].iter().chain(&te[10..]).all(|&n| n == 0));
}

#[test]
fn embedded_pixels_are_in_unit_range_and_look_like_digits() {
    let d = Dataset::embedded().unwrap();
    for split in [&d.train, &d.test] {
        assert!(split.images.iter().all(|v| (0.0..=1.0).contains(v)));
        // MNIST: dark background, (nearly) saturated ink in every digit.
        for i in 0..split.len() {
            let img = split.image(i);
            assert!(
                img.iter().any(|&v| v >= 254.0 / 255.0),
                "image {i} has no bright ink"
            );
            assert_eq!(img[0], 0.0);
        }
    }
}

#[test]
fn embedded_is_deterministic_and_a_partition_of_the_file() {
    let a = Dataset::embedded().unwrap();
    let b = Dataset::embedded().unwrap();
    assert_eq!(a.train.images, b.train.images);
    assert_eq!(a.train.labels, b.train.labels);
    assert_eq!(a.test.images, b.test.images);
    assert_eq!(a.test.labels, b.test.labels);

    // Train and test together are exactly the 10,000 digits of the file.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets");
    let file = idx::read_images(&root.join("mnist-10k-images-idx3-ubyte.gz")).unwrap();
    let labels = idx::read_labels(&root.join("mnist-10k-labels-idx1-ubyte.gz")).unwrap();
    assert_eq!((file.count, file.rows, file.cols), (10_000, 28, 28));
    let key = |img: &[f32], l: u8| {
        let mut k: Vec<u8> = img.iter().map(|&v| (v * 255.0).round() as u8).collect();
        k.push(l);
        k
    };
    let mut from_file: Vec<Vec<u8>> = file
        .pixels
        .chunks_exact(PIXELS)
        .zip(&labels)
        .map(|(img, &l)| {
            let mut k = img.to_vec();
            k.push(l);
            k
        })
        .collect();
    let mut from_splits: Vec<Vec<u8>> = Vec::new();
    for s in [&a.train, &a.test] {
        from_splits.extend((0..s.len()).map(|i| key(s.image(i), s.labels[i])));
    }
    from_file.sort();
    from_splits.sort();
    assert!(from_file == from_splits);
}

// ---------------------------------------------------------------------------------------------
// IDX files

#[test]
fn idx_round_trip_through_files_plain_and_gzipped() {
    let dir = tempfile::tempdir().unwrap();
    let labels = uneven_labels();
    let images = images_for(&labels);
    for gz in [false, true] {
        let (img, lab) = (idx::encode_images(&images), idx::encode_labels(&labels));
        let (img, lab) = if gz {
            (gzip(&img), gzip(&lab))
        } else {
            (img, lab)
        };
        // Gzip is detected from the content, not the name.
        let pi = write(dir.path(), &format!("images-{gz}"), &img);
        let pl = write(dir.path(), &format!("labels-{gz}"), &lab);
        assert_eq!(idx::read_images(&pi).unwrap(), images);
        assert_eq!(idx::read_labels(&pl).unwrap(), labels);
        assert_eq!(idx::parse_images(&img, &pi).unwrap(), images);
        assert_eq!(idx::parse_labels(&lab, &pl).unwrap(), labels);
    }
}

#[test]
fn idx_missing_file_is_an_io_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("nope-idx3-ubyte");
    let err = idx::read_images(&p).unwrap_err();
    assert!(matches!(err, DataError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("nope-idx3-ubyte"), "{err}");
}

#[test]
fn idx_rejects_truncated_images_and_labels() {
    let p = Path::new("cut-idx-ubyte");
    let labels = uneven_labels();
    let img = idx::encode_images(&images_for(&labels));
    let lab = idx::encode_labels(&labels);
    for bytes in [
        img[..img.len() - 1].to_vec(),
        gzip(&img[..img.len() - 1000]),
    ] {
        match idx::parse_images(&bytes, p) {
            Err(DataError::Truncated {
                expected, found, ..
            }) => {
                assert_eq!(expected, (labels.len() * PIXELS) as u64);
                assert!(found < expected);
            }
            other => panic!("expected Truncated, got {other:?}"),
        }
    }
    for bytes in [lab[..lab.len() - 5].to_vec(), gzip(&lab[..lab.len() - 5])] {
        let err = idx::parse_labels(&bytes, p).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::Truncated {
                    expected: 205,
                    found: 200,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("cut-idx-ubyte"), "{err}");
    }
    // Cut inside the header, and an empty file.
    assert!(idx::parse_images(&img[..10], p).is_err());
    assert!(idx::parse_labels(&[], p).is_err());
    // A gzip stream cut in the middle.
    let z = gzip(&img);
    assert!(idx::parse_images(&z[..z.len() / 2], p).is_err());
}

#[test]
fn idx_rejects_wrong_magic_and_wrong_rank() {
    let p = Path::new("f");
    let labels = uneven_labels();
    let mut img = idx::encode_images(&images_for(&labels));
    img[2] = 0x0d; // float data
    assert!(matches!(
        idx::parse_images(&img, p),
        Err(DataError::BadMagic {
            found: 0x0d03,
            expected: 0x0803,
            ..
        })
    ));
    img[2] = 0x08;
    img[0] = 1;
    assert!(matches!(
        idx::parse_images(&img, p),
        Err(DataError::BadMagic { .. })
    ));
    // A PNG is not an IDX file.
    assert!(matches!(
        idx::parse_labels(b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR", p),
        Err(DataError::BadMagic { .. })
    ));
    // Labels where images are expected and the other way round.
    let lab = idx::encode_labels(&labels);
    assert!(matches!(
        idx::parse_images(&lab, p),
        Err(DataError::BadRank {
            found: 1,
            expected: 3,
            ..
        })
    ));
    assert!(matches!(
        idx::parse_labels(&gzip(&idx::encode_images(&images_for(&labels))), p),
        Err(DataError::BadRank {
            found: 3,
            expected: 1,
            ..
        })
    ));
}

#[test]
fn idx_rejects_absurd_headers_quickly_without_allocating() {
    let p = Path::new("huge");
    let header = |count: u32, rows: u32, cols: u32| {
        let mut h = vec![0, 0, 8, 3];
        for d in [count, rows, cols] {
            h.extend_from_slice(&d.to_be_bytes());
        }
        h.extend_from_slice(&[0u8; 1000]);
        h
    };
    let start = Instant::now();
    for bytes in [
        header(4_000_000_000, 28, 28),
        header(0, 28, 28),
        header(10, 0, 28),
        header(10, 28, 100_000),
        header(u32::MAX, u32::MAX, u32::MAX),
        // Each dimension plausible, the product not.
        header(9_000_000, 4096, 4096),
    ] {
        for b in [bytes.clone(), gzip(&bytes)] {
            let err = idx::parse_images(&b, p).unwrap_err();
            assert!(matches!(err, DataError::BadDims { .. }), "{err:?}");
            assert!(err.to_string().starts_with("huge: "), "{err}");
        }
    }
    // A believable header over a tiny file: an error about the data, no 1.5 GB allocation.
    for b in [header(2_000_000, 28, 28), gzip(&header(2_000_000, 28, 28))] {
        assert!(matches!(
            idx::parse_images(&b, p),
            Err(DataError::Truncated {
                expected: 1_568_000_000,
                found: 1000,
                ..
            })
        ));
    }
    let mut lab = vec![0, 0, 8, 1];
    lab.extend_from_slice(&4_000_000_000u32.to_be_bytes());
    assert!(matches!(
        idx::parse_labels(&lab, p),
        Err(DataError::BadDims { .. })
    ));
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn idx_gzip_bomb_is_cut_at_the_promised_size() {
    // A small header followed by 200 MB of zeros compresses to a few hundred kB; the reader
    // must stop one byte after what the header promises.
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(&idx::encode_labels(&[1, 2, 3])).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..200 {
        e.write_all(&zeros).unwrap();
    }
    let bomb = e.finish().unwrap();
    let err = idx::parse_labels(&bomb, Path::new("bomb.gz")).unwrap_err();
    assert!(matches!(err, DataError::TrailingData { .. }), "{err:?}");
}

#[test]
fn idx_rejects_trailing_data() {
    let p = Path::new("long");
    let mut lab = idx::encode_labels(&[1, 2, 3]);
    lab.extend_from_slice(b"extra");
    assert!(matches!(
        idx::parse_labels(&lab, p),
        Err(DataError::TrailingData { extra: 5, .. })
    ));
    assert!(matches!(
        idx::parse_labels(&gzip(&lab), p),
        Err(DataError::TrailingData { extra: 5, .. })
    ));
    let mut img = idx::encode_images(&images_for(&[1, 2]));
    img.push(0);
    assert!(matches!(
        idx::parse_images(&img, p),
        Err(DataError::TrailingData { extra: 1, .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Datasets in folders

#[test]
fn load_dir_with_both_splits_uses_them_as_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let train: Vec<u8> = (0..50).map(|i| (i % 10) as u8).collect();
    let test: Vec<u8> = (0..20).map(|i| (i * 3 % 10) as u8).collect();
    write_pair(
        dir.path(),
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        &train,
        true,
    );
    write_pair(
        dir.path(),
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
        &test,
        false,
    );
    let d = Dataset::load_dir(dir.path()).unwrap();
    assert_eq!(d.train.labels, train);
    assert_eq!(d.test.labels, test);
    for i in 0..train.len() {
        assert_eq!(index_of(d.train.image(i)), i);
    }
    assert_eq!(d.class_names.len(), 10);
    let folder = dir
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert_eq!(d.name, folder);
    // The spec reopens the same dataset.
    let again = Dataset::load(&d.source).unwrap();
    assert_eq!(again.train.images, d.train.images);
}

fn check_single_split(d: &Dataset, labels: &[u8]) {
    let n = labels.len();
    assert_eq!(d.train.len() + d.test.len(), n);
    assert_eq!(d.train.len(), (n * 4 + 2) / 5);
    let mut total = [0usize; 10];
    for &l in labels {
        total[l as usize] += 1;
    }
    let tr = class_counts(&d.train);
    for c in 0..10 {
        // floor(80 %) or one more.
        let floor = total[c] * 4 / 5;
        assert!(
            tr[c] == floor || tr[c] == floor + 1,
            "class {c}: {} of {}",
            tr[c],
            total[c]
        );
    }
    // Every image once, with its own label, each split in the file's order.
    let mut seen = vec![false; n];
    for s in [&d.train, &d.test] {
        let idx: Vec<usize> = (0..s.len()).map(|i| index_of(s.image(i))).collect();
        assert!(idx.windows(2).all(|w| w[0] < w[1]), "order not kept");
        for (k, &i) in idx.iter().enumerate() {
            assert!(!seen[i]);
            seen[i] = true;
            assert_eq!(s.labels[k], labels[i]);
            assert_eq!((s.image(k)[2] * 255.0).round() as u8, labels[i]);
        }
    }
    assert!(seen.iter().all(|&s| s));
}

#[test]
fn load_dir_with_only_t10k_splits_it_80_20_stratified() {
    let dir = tempfile::tempdir().unwrap();
    let labels = uneven_labels();
    write_pair(
        dir.path(),
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
        &labels,
        true,
    );
    let d = Dataset::load_dir(dir.path()).unwrap();
    check_single_split(&d, &labels);
    // Fixed: the same split every time.
    let again = Dataset::load_dir(dir.path()).unwrap();
    assert_eq!(again.train.images, d.train.images);
    assert_eq!(again.test.labels, d.test.labels);
}

#[test]
fn load_dir_with_only_train_splits_it_too() {
    let dir = tempfile::tempdir().unwrap();
    let labels = uneven_labels();
    write_pair(
        dir.path(),
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        &labels,
        false,
    );
    check_single_split(&Dataset::load_dir(dir.path()).unwrap(), &labels);
}

#[test]
fn load_dir_accepts_the_dotted_names() {
    let dir = tempfile::tempdir().unwrap();
    let train: Vec<u8> = (0..30).map(|i| (i % 10) as u8).collect();
    let test: Vec<u8> = (0..10).collect();
    write_pair(
        dir.path(),
        "train-images.idx3-ubyte",
        "train-labels.idx1-ubyte",
        &train,
        false,
    );
    write_pair(
        dir.path(),
        "t10k-images.idx3-ubyte.gz",
        "t10k-labels.idx1-ubyte.gz",
        &test,
        true,
    );
    let d = Dataset::load_dir(dir.path()).unwrap();
    assert_eq!(d.train.labels, train);
    assert_eq!(d.test.labels, test);
}

#[test]
fn load_dir_rejects_mismatched_counts() {
    let dir = tempfile::tempdir().unwrap();
    let labels: Vec<u8> = (0..30).map(|i| (i % 10) as u8).collect();
    write(
        dir.path(),
        "t10k-images-idx3-ubyte",
        &idx::encode_images(&images_for(&labels)),
    );
    write(
        dir.path(),
        "t10k-labels-idx1-ubyte",
        &idx::encode_labels(&labels[..29]),
    );
    match Dataset::load_dir(dir.path()) {
        Err(
            e @ DataError::CountMismatch {
                n_images: 30,
                n_labels: 29,
                ..
            },
        ) => assert!(e.to_string().contains("t10k-labels-idx1-ubyte"), "{e}"),
        other => panic!("expected CountMismatch, got {other:?}"),
    }
}

/// Issue 16: a 32×32 IDX dataset used to be refused ("Bottleneck works on 28×28 images");
/// it is now resized to 28×28, with a note saying so.
#[test]
fn load_dir_resizes_images_that_are_not_28_by_28_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    // Two 32×32 images: all white, and a white left half.
    let mut pixels = vec![255u8; 32 * 32];
    pixels.extend((0..32 * 32).map(|i| if i % 32 < 16 { 255 } else { 0 }));
    let images = IdxImages {
        count: 2,
        rows: 32,
        cols: 32,
        pixels,
    };
    write(
        dir.path(),
        "t10k-images-idx3-ubyte",
        &idx::encode_images(&images),
    );
    write(
        dir.path(),
        "t10k-labels-idx1-ubyte",
        &idx::encode_labels(&[0, 1]),
    );
    let source = DatasetSource::Dir(dir.path().to_path_buf());
    let imported =
        bottleneck_engine::data::import::load(&source, &Default::default(), None).unwrap();
    assert!(
        imported.notes.iter().any(|n| n.contains("32×32")),
        "{:?}",
        imported.notes
    );
    let d = &imported.dataset;
    assert_eq!(d.train.len() + d.test.len(), 2);
    for split in [&d.train, &d.test] {
        for i in 0..split.len() {
            let img = split.image(i);
            assert_eq!(img.len(), PIXELS);
            assert_eq!(img[0], 1.0, "left edge stays white");
            let right = img[SIDE - 1];
            assert_eq!(right, if split.labels[i] == 0 { 1.0 } else { 0.0 });
        }
    }
}

#[test]
fn load_dir_without_files_says_what_it_looked_for() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "readme.txt", b"nothing here");
    let err = Dataset::load_dir(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::MissingFiles { .. }), "{err:?}");
    let msg = err.to_string();
    for name in [
        "train-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
        ".gz",
        "train-images.idx3-ubyte",
    ] {
        assert!(msg.contains(name), "{msg}");
    }

    // Images without their labels.
    write(
        dir.path(),
        "train-images-idx3-ubyte",
        &idx::encode_images(&images_for(&[1])),
    );
    let err = Dataset::load_dir(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::MissingFiles { .. }), "{err:?}");
    assert!(err.to_string().contains("train-labels-idx1-ubyte"), "{err}");

    // Not a folder at all.
    let file = dir.path().join("readme.txt");
    assert!(Dataset::load_dir(&file).is_err());
    assert!(Dataset::load_dir(&dir.path().join("no-such-folder")).is_err());
}

#[test]
fn load_dir_reads_class_names_from_classes_txt() {
    let dir = tempfile::tempdir().unwrap();
    let labels: Vec<u8> = (0..20).map(|i| (i % 3) as u8).collect();
    write_pair(
        dir.path(),
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
        &labels,
        false,
    );
    write(dir.path(), "classes.txt", b"cat\r\ndog\nbird\n\n");
    let d = Dataset::load_dir(dir.path()).unwrap();
    assert_eq!(d.class_names, ["cat", "dog", "bird"]);
    assert_eq!(d.class_name(1), "dog");

    // A label without a name.
    write(dir.path(), "classes.txt", b"cat\ndog\n");
    let err = Dataset::load_dir(dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::LabelOutOfRange {
                index: 2,
                label: 2,
                max: 2,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn load_dir_counts_classes_beyond_ten() {
    let dir = tempfile::tempdir().unwrap();
    let labels: Vec<u8> = (0..60).map(|i| (i % 15) as u8).collect();
    write_pair(
        dir.path(),
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
        &labels,
        false,
    );
    let d = Dataset::load_dir(dir.path()).unwrap();
    assert_eq!(d.num_classes(), 15);
    assert_eq!(d.class_name(14), "14");
}

#[test]
fn load_dir_names_a_fashion_folder_fashion_mnist() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("My-Fashion-data");
    std::fs::create_dir(&dir).unwrap();
    let labels: Vec<u8> = (0..30).map(|i| (i % 10) as u8).collect();
    write_pair(
        &dir,
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
        &labels,
        false,
    );
    let d = Dataset::load_dir(&dir).unwrap();
    assert_eq!(d.name, "Fashion-MNIST");
    assert_eq!(d.class_names[0], "T-shirt/top");
    assert_eq!(d.class_names[9], "Ankle boot");
}

#[test]
fn fashion_mnist_from_the_system_folder() {
    let Some(dir) = fashion_mnist_dir() else {
        return;
    };
    let d = Dataset::load_dir(dir).unwrap();
    assert_eq!(d.name, "Fashion-MNIST");
    assert_eq!(d.train.len(), 60_000);
    assert_eq!(d.test.len(), 10_000);
    assert_eq!(d.class_names.len(), 10);
    assert_eq!(d.class_names[9], "Ankle boot");
    assert_eq!(d.class_names[0], "T-shirt/top");
    assert!(d.train.images.iter().all(|v| (0.0..=1.0).contains(v)));
    let (tr, te) = (class_counts(&d.train), class_counts(&d.test));
    assert!(tr[..10].iter().all(|&n| n == 6000));
    assert!(te[..10].iter().all(|&n| n == 1000));
    assert_eq!(d.source, DatasetSource::Dir(dir.to_path_buf()));
}

// ---------------------------------------------------------------------------------------------
// Preprocessing a user's picture

/// A white 100×60 canvas (width 100, height 60) with a thick black bar, off-centre.
fn dark_bar_on_white() -> Gray {
    let (w, h) = (100, 60);
    let mut pixels = vec![1.0f32; w * h];
    for y in 8..48 {
        for x in 70..79 {
            pixels[y * w + x] = 0.0;
        }
    }
    Gray {
        width: w,
        height: h,
        pixels,
    }
}

fn ink_bounding_box(pixels: &[f32], side: usize) -> Option<(usize, usize)> {
    let mut xs = (usize::MAX, 0);
    let mut ys = (usize::MAX, 0);
    for (i, &v) in pixels.iter().enumerate() {
        if v > 0.0 {
            let (x, y) = (i % side, i / side);
            xs = (xs.0.min(x), xs.1.max(x));
            ys = (ys.0.min(y), ys.1.max(y));
        }
    }
    (xs.0 != usize::MAX).then(|| (xs.1 - xs.0 + 1, ys.1 - ys.0 + 1))
}

fn names(p: &preprocess::Preprocessed) -> Vec<&'static str> {
    p.steps.iter().map(|s| s.name).collect()
}

#[test]
fn preprocess_turns_dark_ink_on_white_into_an_mnist_style_digit() {
    let p = preprocess::preprocess(&dark_bar_on_white());
    assert_eq!(
        names(&p),
        [
            "original (grey)",
            "inverted",
            "cropped",
            "scaled to 20 px",
            "centred 28×28"
        ]
    );
    assert_eq!(p.pixels.len(), PIXELS);
    let last = &p.steps.last().unwrap().image;
    assert_eq!((last.width, last.height), (SIDE, SIDE));
    assert_eq!(last.pixels, p.pixels);
    // Light ink on a dark background, saturated.
    assert!(p.pixels.iter().all(|v| (0.0..=1.0).contains(v)));
    assert_eq!(p.pixels[0], 0.0);
    assert_eq!(p.pixels.iter().copied().fold(0.0, f32::max), 1.0);
    // The crop is the bar, the scaled bar 20 px tall.
    let cropped = &p.steps[2].image;
    assert_eq!((cropped.width, cropped.height), (9, 40));
    let scaled = &p.steps[3].image;
    assert_eq!((scaled.width, scaled.height), (5, 20));
    let (bw, bh) = ink_bounding_box(&p.pixels, SIDE).unwrap();
    assert!(bw.max(bh) <= 20, "{bw}×{bh}");
    assert_eq!(bh, 20);
    let final_image = Gray {
        width: SIDE,
        height: SIDE,
        pixels: p.pixels.clone(),
    };
    let (cx, cy) = preprocess::centre_of_mass(&final_image).unwrap();
    assert!(
        (cx - 14.0).abs() <= 0.5 && (cy - 14.0).abs() <= 0.5,
        "({cx}, {cy})"
    );
}

#[test]
fn preprocess_keeps_light_ink_on_dark_as_it_is() {
    let mut img = dark_bar_on_white();
    img.pixels.iter_mut().for_each(|v| *v = 1.0 - *v);
    let p = preprocess::preprocess(&img);
    assert_eq!(
        names(&p),
        [
            "original (grey)",
            "cropped",
            "scaled to 20 px",
            "centred 28×28"
        ]
    );
    // Same digit as from the dark-on-light version.
    let q = preprocess::preprocess(&dark_bar_on_white());
    assert_eq!(p.pixels, q.pixels);
}

#[test]
fn preprocess_of_a_blank_or_odd_image_is_all_zeros_without_panicking() {
    let white = Gray {
        width: 50,
        height: 40,
        pixels: vec![1.0; 2000],
    };
    let p = preprocess::preprocess(&white);
    assert_eq!(p.pixels, vec![0.0; PIXELS]);
    assert_eq!(p.steps.last().unwrap().image.pixels.len(), PIXELS);

    for odd in [
        Gray {
            width: 0,
            height: 0,
            pixels: vec![],
        },
        Gray {
            width: 10,
            height: 10,
            pixels: vec![0.5; 3],
        },
        Gray {
            width: 1,
            height: 1,
            pixels: vec![1.0],
        },
        Gray {
            width: 3,
            height: 1,
            pixels: vec![f32::NAN, 1.0, f32::INFINITY],
        },
        Gray {
            width: usize::MAX,
            height: 2,
            pixels: vec![0.0; 4],
        },
        Gray {
            width: 30,
            height: 30,
            pixels: vec![0.3; 900],
        },
    ] {
        let p = preprocess::preprocess(&odd);
        assert_eq!(p.pixels.len(), PIXELS);
        assert!(p.pixels.iter().all(|v| (0.0..=1.0).contains(v)));
    }
    // A single ink pixel on black still becomes a (tiny, centred) digit.
    let mut dot = vec![0.0f32; 400];
    dot[3 * 20 + 17] = 0.8;
    let p = preprocess::preprocess(&Gray {
        width: 20,
        height: 20,
        pixels: dot,
    });
    assert_eq!(p.pixels.iter().copied().fold(0.0, f32::max), 1.0);
}

#[test]
fn preprocess_downscales_a_big_photo_quickly() {
    // A 4000×3000 light page with a dark ring: it must take well under a second in release.
    let (w, h) = (4000usize, 3000usize);
    let mut pixels = vec![0.9f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let r = ((x as f64 - 2100.0).powi(2) + (y as f64 - 1400.0).powi(2)).sqrt();
            if (700.0..900.0).contains(&r) {
                pixels[y * w + x] = 0.1;
            }
        }
    }
    let img = Gray {
        width: w,
        height: h,
        pixels,
    };
    let start = Instant::now();
    let p = preprocess::preprocess(&img);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(3), "{took:?}");
    let scaled = &p.steps[3].image;
    assert_eq!((scaled.width, scaled.height), (20, 20));
    // A ring: dark in the middle, bright on the circle.
    assert_eq!(p.pixels[14 * SIDE + 14], 0.0);
    assert!(p.pixels[14 * SIDE + 5] > 0.5, "{}", p.pixels[14 * SIDE + 5]);
}

#[test]
fn decode_reads_png_with_alpha_over_white() {
    // Black ink on a transparent canvas, and a half-transparent black pixel.
    let mut rgba = image::RgbaImage::new(3, 1);
    rgba.put_pixel(0, 0, image::Rgba([0, 0, 0, 0]));
    rgba.put_pixel(1, 0, image::Rgba([0, 0, 0, 255]));
    rgba.put_pixel(2, 0, image::Rgba([0, 0, 0, 128]));
    let g = preprocess::decode(&png_bytes(&rgba.into()), Path::new("ink.png")).unwrap();
    assert_eq!((g.width, g.height), (3, 1));
    assert_eq!(g.pixels[0], 1.0);
    assert_eq!(g.pixels[1], 0.0);
    assert!((g.pixels[2] - (1.0 - 128.0 / 255.0)).abs() < 1e-6);
}

#[test]
fn decode_rejects_a_png_claiming_20000_by_20000() {
    let png = png_claiming(20_000, 20_000, 8, 0);
    let start = Instant::now();
    let err = preprocess::decode(&png, Path::new("huge.png")).unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(1));
    match &err {
        DataError::Image { path, message } => {
            assert_eq!(path, Path::new("huge.png"));
            assert!(message.contains("20000×20000"), "{message}");
            assert!(message.contains("8192"), "{message}");
        }
        other => panic!("expected DataError::Image, got {other:?}"),
    }
    assert!(err.to_string().contains("huge.png"));
    // Wide but not tall is refused too.
    let err = preprocess::decode(&png_claiming(9000, 10, 8, 0), Path::new("wide.png")).unwrap_err();
    assert!(err.to_string().contains("9000×10"), "{err}");
}

#[test]
fn decode_rejects_a_decompression_bomb_by_its_memory_needs() {
    // Within the side limit, but 8000×8000 RGBA at 16 bits would need 512 MB.
    let png = png_claiming(8000, 8000, 16, 6);
    let start = Instant::now();
    let err = preprocess::decode(&png, Path::new("bomb.png")).unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(1));
    assert!(matches!(err, DataError::Image { .. }), "{err:?}");
    assert!(err.to_string().contains("MiB"), "{err}");
}

#[test]
fn decode_rejects_random_and_truncated_files() {
    // Deterministic noise.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let noise: Vec<u8> = (0..5000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let err = preprocess::decode(&noise, Path::new("noise.bin")).unwrap_err();
    assert!(matches!(err, DataError::Image { .. }), "{err:?}");
    assert!(err.to_string().contains("noise.bin"), "{err}");
    assert!(err.to_string().contains("PNG, JPEG"), "{err}");
    assert!(preprocess::decode(&[], Path::new("empty.png")).is_err());

    let mut big = image::GrayImage::new(64, 64);
    for (x, y, p) in big.enumerate_pixels_mut() {
        p.0 = [((x * 7 + y * 13) % 256) as u8];
    }
    let png = png_bytes(&big.into());
    for cut in [png.len() / 2, 40, 20, 9] {
        let err = preprocess::decode(&png[..cut], Path::new("cut.png")).unwrap_err();
        assert!(
            matches!(err, DataError::Image { .. }),
            "cut at {cut}: {err:?}"
        );
    }
    // A PNG signature and nothing else.
    assert!(preprocess::decode(&png[..8], Path::new("sig.png")).is_err());
}

#[test]
fn load_and_save_png_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gray {
        width: 3,
        height: 2,
        pixels: vec![0.0, 0.5, 1.0, 0.25, f32::NAN, 2.0],
    };
    let path = dir.path().join("out.png");
    preprocess::save_png(&g, &path).unwrap();
    let back = preprocess::load(&path).unwrap();
    assert_eq!((back.width, back.height), (3, 2));
    let expect = [0.0, 128.0 / 255.0, 1.0, 64.0 / 255.0, 0.0, 1.0];
    for (a, b) in back.pixels.iter().zip(expect) {
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }
    // Errors name the file.
    let missing = dir.path().join("missing.png");
    let err = preprocess::load(&missing).unwrap_err();
    assert!(matches!(err, DataError::Io { .. }) && err.to_string().contains("missing.png"));
    let bad = Gray {
        width: 4,
        height: 4,
        pixels: vec![0.0; 3],
    };
    assert!(preprocess::save_png(&bad, &dir.path().join("bad.png")).is_err());
    let err = preprocess::save_png(&g, &dir.path().join("no/such/dir/x.png")).unwrap_err();
    assert!(err.to_string().contains("x.png"), "{err}");
}
