//! NumPy data as a dataset: `.npy` and `.npz` files written here byte by byte (uint8 images
//! with Keras' names, float32 0–1 and float64 0–255 flat images, a deflated archive), the
//! hostile ones (Fortran order, data cut short, a shape claiming more than the file), the
//! choice among several arrays, and real files numpy wrote (tests/data/npz, with the script
//! that made them).

use std::io::Write;
use std::path::{Path, PathBuf};

use bottleneck_engine::data::import::{self, Kind};
use bottleneck_engine::data::npy;
use bottleneck_engine::data::{DatasetSource, ImportOptions, NpzArrays};

/// A `.npy` file (version 1) of `descr`, `shape` and raw little-endian `data`, laid out as
/// numpy does: the header padded with spaces and a newline to a multiple of 64 bytes.
fn npy_bytes(descr: &str, fortran: bool, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let fortran = if fortran { "True" } else { "False" };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(data);
    out
}

fn u8_npy(shape: &[usize], data: &[u8]) -> Vec<u8> {
    npy_bytes("|u1", false, shape, data)
}

fn f32_npy(shape: &[usize], data: &[f32]) -> Vec<u8> {
    let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    npy_bytes("<f4", false, shape, &bytes)
}

fn f64_npy(shape: &[usize], data: &[f64]) -> Vec<u8> {
    let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    npy_bytes("<f8", false, shape, &bytes)
}

fn i64_npy(data: &[i64]) -> Vec<u8> {
    let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    npy_bytes("<i8", false, &[data.len()], &bytes)
}

/// A `.npz` of named arrays, deflated or stored.
fn npz_bytes(arrays: &[(&str, Vec<u8>)], deflate: bool) -> Vec<u8> {
    let method = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let options = zip::write::SimpleFileOptions::default().compression_method(method);
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in arrays {
        w.start_file(format!("{name}.npy"), options).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// `n` images of 28×28 bytes: image i has pixel j = (i * 7 + j) % 256.
fn pixels(n: usize) -> Vec<u8> {
    (0..n * 784)
        .map(|k| ((k / 784) * 7 + k % 784) as u8)
        .collect()
}

fn labels(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 10) as u8).collect()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn load(path: &Path, pick: &NpzArrays) -> Result<import::Imported, String> {
    import::load_picking(
        &DatasetSource::Dir(path.to_path_buf()),
        &ImportOptions::default(),
        pick,
        None,
    )
    .map_err(|e| e.to_string())
}

fn keras_npz(deflate: bool) -> Vec<u8> {
    npz_bytes(
        &[
            ("x_train", u8_npy(&[30, 28, 28], &pixels(30))),
            ("y_train", u8_npy(&[30], &labels(30))),
            ("x_test", u8_npy(&[10, 28, 28], &pixels(10))),
            ("y_test", u8_npy(&[10], &labels(10))),
        ],
        deflate,
    )
}

#[test]
fn keras_names_give_their_own_split_and_uint8_is_divided_by_255() {
    let dir = tempfile::tempdir().unwrap();
    for deflate in [false, true] {
        let p = write(dir.path(), "mnist.npz", &keras_npz(deflate));
        let source = DatasetSource::Dir(p.clone());
        assert_eq!(import::kind_of(&source).unwrap(), Kind::Npy);
        let i = load(&p, &NpzArrays::default()).unwrap();
        let d = &i.dataset;
        assert_eq!((d.train.len(), d.test.len()), (30, 10));
        assert_eq!(d.train.labels, labels(30));
        assert_eq!(d.test.labels, labels(10));
        let expected: Vec<f32> = pixels(30).iter().map(|&b| f32::from(b) / 255.0).collect();
        assert_eq!(d.train.images, expected);
        assert_eq!(d.name, "mnist");
        assert_eq!(d.class_names.len(), 10);
        let notes = i.notes.join(" ");
        assert!(
            notes.contains("uint8") && notes.contains("255") && notes.contains("Keras"),
            "{notes}"
        );
    }
}

#[test]
fn float32_flat_images_in_0_1_are_kept_and_split_by_class() {
    let dir = tempfile::tempdir().unwrap();
    let values: Vec<f32> = pixels(20).iter().map(|&b| f32::from(b) / 255.0).collect();
    let p = write(
        dir.path(),
        "mine.npz",
        &npz_bytes(
            &[
                ("images", f32_npy(&[20, 784], &values)),
                (
                    "classes",
                    i64_npy(&labels(20).iter().map(|&l| i64::from(l)).collect::<Vec<_>>()),
                ),
            ],
            true,
        ),
    );
    let i = load(&p, &NpzArrays::default()).unwrap();
    let d = &i.dataset;
    assert_eq!(d.train.len() + d.test.len(), 20);
    assert_eq!(d.train.len(), 16);
    // Every image is found unchanged with its label.
    for s in [&d.train, &d.test] {
        for k in 0..s.len() {
            let img = s.image(k);
            let src = values
                .chunks(784)
                .position(|c| c == img)
                .expect("an input image");
            assert_eq!(s.labels[k], labels(20)[src]);
        }
    }
    let notes = i.notes.join(" ");
    assert!(
        notes.contains("used as they are") && notes.contains("80/20"),
        "{notes}"
    );
}

#[test]
fn float64_images_in_0_255_are_detected_and_divided() {
    let dir = tempfile::tempdir().unwrap();
    let values: Vec<f64> = pixels(5).iter().map(|&b| f64::from(b)).collect();
    let p = write(dir.path(), "big.npy", &f64_npy(&[5, 28, 28], &values));
    let i = load(&p, &NpzArrays::default()).unwrap();
    let d = &i.dataset;
    let mut all: Vec<f32> = d.train.images.clone();
    all.extend(&d.test.images);
    assert!(all.iter().all(|v| (0.0..=1.0).contains(v)));
    assert!(all.contains(&1.0), "255 became 1");
    assert_eq!(d.class_names, ["all"]);
    assert!(d.train.labels.iter().chain(&d.test.labels).all(|&l| l == 0));
    let notes = i.notes.join(" ");
    assert!(
        notes.contains("divided by 255") && notes.contains("No labels"),
        "{notes}"
    );
}

#[test]
fn fortran_order_truncated_data_and_lying_shapes_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let fortran = npy_bytes("|u1", true, &[2, 28, 28], &pixels(2));
    let e = load(&write(dir.path(), "f.npy", &fortran), &NpzArrays::default()).unwrap_err();
    assert!(e.contains("f.npy") && e.contains("Fortran"), "{e}");

    let mut cut = u8_npy(&[3, 28, 28], &pixels(3));
    cut.truncate(cut.len() - 100);
    let e = load(&write(dir.path(), "cut.npy", &cut), &NpzArrays::default()).unwrap_err();
    assert!(
        e.contains("cut.npy") && e.contains("truncated") && e.contains("2352"),
        "{e}"
    );

    // A shape far beyond the data, and one whose size overflows: refused from the header.
    let lying = u8_npy(&[1_000_000_000, 28, 28], &pixels(1));
    let e = load(&write(dir.path(), "lie.npy", &lying), &NpzArrays::default()).unwrap_err();
    assert!(e.contains("lie.npy") && e.contains("GiB"), "{e}");
    let lying = u8_npy(&[100, 28, 28], &pixels(1));
    let e = load(
        &write(dir.path(), "lie2.npy", &lying),
        &NpzArrays::default(),
    )
    .unwrap_err();
    assert!(e.contains("lie2.npy") && e.contains("truncated"), "{e}");
    let overflow = u8_npy(&[usize::MAX, 2], &pixels(1));
    let e = npy::parse_npy(&overflow, Path::new("o.npy"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("o.npy") && e.contains("GiB"), "{e}");
    // The same inside an archive, where the size is only known by reading.
    let npz = npz_bytes(&[("x", u8_npy(&[100, 28, 28], &pixels(1)))], true);
    let e = load(&write(dir.path(), "lie.npz", &npz), &NpzArrays::default()).unwrap_err();
    assert!(e.contains("lie.npz") && e.contains("truncated"), "{e}");
    // More data than the shape: trailing bytes.
    let long = u8_npy(&[1, 28, 28], &pixels(2));
    let e = npy::parse_npy(&long, Path::new("l.npy"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("784 unexpected bytes"), "{e}");
    // Not a .npy at all, and not a zip.
    let e = load(&write(dir.path(), "t.npy", b"hello"), &NpzArrays::default()).unwrap_err();
    assert!(e.contains("t.npy") && e.contains("not a .npy"), "{e}");
    let e = load(&write(dir.path(), "t.npz", b"hello"), &NpzArrays::default()).unwrap_err();
    assert!(e.contains("t.npz") && e.contains("zip"), "{e}");
}

#[test]
fn several_candidates_are_listed_and_names_pick_among_them() {
    let dir = tempfile::tempdir().unwrap();
    let npz = npz_bytes(
        &[
            ("a", u8_npy(&[6, 28, 28], &pixels(6))),
            ("b", u8_npy(&[6, 784], &pixels(6))),
            ("la", u8_npy(&[6], &[1, 1, 1, 2, 2, 2])),
            ("lb", i64_npy(&[3, 3, 3, 4, 4, 4])),
        ],
        false,
    );
    let p = write(dir.path(), "many.npz", &npz);
    let e = load(&p, &NpzArrays::default()).unwrap_err();
    for part in [
        "many.npz",
        "a (6, 28, 28) uint8",
        "b (6, 784) uint8",
        "la (6,) uint8",
        "lb (6,) int64",
        "--npz-images",
    ] {
        assert!(e.contains(part), "'{part}' not in: {e}");
    }
    // Images named, labels still ambiguous.
    let images_only = NpzArrays {
        images: Some("b".into()),
        labels: None,
    };
    let e = load(&p, &images_only).unwrap_err();
    assert!(e.contains("labels") && e.contains("--npz-labels"), "{e}");
    let both = NpzArrays {
        images: Some("b".into()),
        labels: Some("lb".into()),
    };
    let d = load(&p, &both).unwrap().dataset;
    let mut all: Vec<u8> = d.train.labels.clone();
    all.extend(&d.test.labels);
    all.sort();
    assert_eq!(all, [3, 3, 3, 4, 4, 4]);
    let missing = NpzArrays {
        images: Some("nope".into()),
        labels: None,
    };
    let e = load(&p, &missing).unwrap_err();
    assert!(e.contains("'nope'") && e.contains("la (6,) uint8"), "{e}");
    // Labels that do not fit a byte, and names given for a CSV file.
    let bad = NpzArrays {
        images: Some("a".into()),
        labels: Some("lb".into()),
    };
    let npz = npz_bytes(
        &[
            ("a", u8_npy(&[2, 28, 28], &pixels(2))),
            ("lb", i64_npy(&[3, 300])),
        ],
        false,
    );
    let e = load(&write(dir.path(), "l.npz", &npz), &bad).unwrap_err();
    assert!(e.contains("label 300 at index 1"), "{e}");
    let csv = write(dir.path(), "x.csv", b"1,0,0,0,0\n");
    let e = load(&csv, &bad).unwrap_err();
    assert!(e.contains("x.csv") && e.contains(".npz"), "{e}");
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/npz")
        .join(name)
}

#[test]
fn files_written_by_numpy_read_as_the_embedded_digits() {
    let embedded = bottleneck_engine::data::idx::parse_images(
        &std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../assets/mnist-10k-images-idx3-ubyte.gz"),
        )
        .unwrap(),
        Path::new("embedded"),
    )
    .unwrap();
    let first = |n: usize| -> Vec<f32> {
        embedded.pixels[..n * 784]
            .iter()
            .map(|&b| f32::from(b) / 255.0)
            .collect()
    };
    let i = load(&fixture("mnist50.npz"), &NpzArrays::default()).unwrap();
    let d = &i.dataset;
    assert_eq!((d.train.len(), d.test.len()), (40, 10));
    assert_eq!(d.train.images, first(40));
    assert_eq!(d.test.images, first(50)[40 * 784..]);
    assert_eq!(d.train.labels[..3], [8, 0, 2]);

    let arrays = npy::read_npy(&fixture("digits10.npy")).unwrap();
    assert_eq!(
        (arrays.dtype, arrays.shape.clone()),
        (npy::Dtype::F32, vec![10, 784])
    );
    let i = load(&fixture("digits10.npy"), &NpzArrays::default()).unwrap();
    let d = &i.dataset;
    assert_eq!(d.train.len() + d.test.len(), 10);
    let want = first(10);
    for k in 0..d.train.len() {
        let found = want.chunks(784).any(|c| {
            c.iter()
                .zip(d.train.image(k))
                .all(|(a, b)| (a - b).abs() < 1e-6)
        });
        assert!(found, "training image {k} is one of the ten digits");
    }
}
