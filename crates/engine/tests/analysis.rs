//! PCA and kNN on the embedded MNIST subset (10,000 digits): the first 8,000 as the training
//! split and the last 2,000 as the test split, read straight from the IDX files so the test
//! does not depend on the data module.
//!
//! The scikit-learn references of `pca_test_error_matches_sklearn` come from
//! `tests/reference/pca_reference.py`, run on exactly this split (its output is quoted there).

use std::io::Read;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Instant;

use bottleneck_engine::analysis::{metrics, Pca};

const PIXELS: usize = 784;
const N_TRAIN: usize = 8000;

struct Mnist {
    train: Vec<f32>,
    train_labels: Vec<u8>,
    test: Vec<f32>,
    test_labels: Vec<u8>,
}

fn gunzip(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../assets")
        .join(name);
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut bytes)
        .unwrap();
    bytes
}

fn be_u32(bytes: &[u8], at: usize) -> usize {
    u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize
}

fn mnist() -> &'static Mnist {
    static DATA: OnceLock<Mnist> = OnceLock::new();
    DATA.get_or_init(|| {
        let images = gunzip("mnist-10k-images-idx3-ubyte.gz");
        assert_eq!(be_u32(&images, 0), 0x803);
        let n = be_u32(&images, 4);
        assert_eq!(
            (n, be_u32(&images, 8), be_u32(&images, 12)),
            (10_000, 28, 28)
        );
        assert_eq!(images.len(), 16 + n * PIXELS);
        let pixels: Vec<f32> = images[16..].iter().map(|&b| b as f32 / 255.0).collect();

        let labels = gunzip("mnist-10k-labels-idx1-ubyte.gz");
        assert_eq!((be_u32(&labels, 0), be_u32(&labels, 4)), (0x801, n));
        let labels = labels[8..].to_vec();

        let (train, test) = pixels.split_at(N_TRAIN * PIXELS);
        let (train_labels, test_labels) = labels.split_at(N_TRAIN);
        Mnist {
            train: train.to_vec(),
            train_labels: train_labels.to_vec(),
            test: test.to_vec(),
            test_labels: test_labels.to_vec(),
        }
    })
}

fn fit(max_components: usize) -> Pca {
    let data = mnist();
    let started = Instant::now();
    let pca = Pca::fit(&data.train, PIXELS, max_components).unwrap();
    eprintln!(
        "PCA fit on {}×{PIXELS} ({max_components} components): {:.3} s",
        N_TRAIN,
        started.elapsed().as_secs_f64()
    );
    pca
}

/// Printed by `python3 crates/engine/tests/reference/pca_reference.py` (numpy 2.4.6,
/// scikit-learn 1.9.1, float64, `PCA(svd_solver="full")` on the same 8,000 / 2,000 split):
/// test MSE per element for k = 2, 8, 16, 32.
const SKLEARN_TEST_MSE: [(usize, f64); 4] = [
    (2, 0.05616658),
    (8, 0.03783377),
    (16, 0.02715323),
    (32, 0.01723889),
];
/// The same run's explained variance ratio: first component, first 10, first 50.
const SKLEARN_EVR: [(usize, f64); 3] = [(1, 0.10299794), (10, 0.49467500), (50, 0.82862415)];
/// Relative tolerance against the float64 references. Our fit accumulates the covariance in
/// f64 but reads f32 pixels and keeps f32 components and codes (24-bit mantissa, relative
/// rounding 6e-8); measured on an AMD EPYC, the test errors are 3e-8 to 9e-8 from
/// scikit-learn's and the ratios within 3e-8, and printing the references to 8 decimals
/// rounds them by up to 3e-7 (k = 32). 1e-6 leaves room for those and for another BLAS
/// summing in another order; a wrong component, centring or split misses by 1e-3 or more.
const REL_TOL: f64 = 1e-6;

#[test]
fn pca_test_error_matches_sklearn() {
    let data = mnist();
    let pca = fit(100);
    for (k, reference) in SKLEARN_TEST_MSE {
        let mse = pca.mse(&data.test, k) as f64;
        let rel = (mse - reference).abs() / reference;
        eprintln!("k = {k:>2}: test MSE {mse:.8} (sklearn {reference:.8}, {rel:.1e} apart)");
        assert!(
            rel <= REL_TOL,
            "k = {k}: test MSE {mse} is {rel:.1e} away from scikit-learn's {reference}"
        );
    }
    let ratio = pca.explained_variance_ratio();
    for (k, reference) in SKLEARN_EVR {
        let ours: f64 = ratio[..k].iter().map(|&r| r as f64).sum();
        let rel = (ours - reference).abs() / reference;
        eprintln!("explained variance of the first {k}: {ours:.8} (sklearn {reference:.8})");
        assert!(
            rel <= REL_TOL,
            "first {k}: explained variance {ours} is {rel:.1e} away from scikit-learn's {reference}"
        );
    }
}

#[test]
fn pca_error_curve_decreases() {
    let data = mnist();
    let pca = fit(100);
    let started = Instant::now();
    let curve = pca.mse_curve(&data.test, 100);
    eprintln!(
        "mse_curve k = 1..100 on the test split: {:.3} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(curve.len(), 100);
    assert!(curve.windows(2).all(|w| w[1] <= w[0]), "{curve:?}");
    // The one-pass curve agrees with reconstructing for real.
    for k in [1, 2, 8, 16, 32, 100] {
        let mse = pca.mse(&data.test, k);
        let c = curve[k - 1];
        assert!((c - mse).abs() <= 1e-4 * mse, "k = {k}: {c} vs {mse}");
    }
    // The training error is the sum of the discarded variances (up to n vs n − 1).
    let train_curve = pca.mse_curve(&data.train, 50);
    let n = N_TRAIN as f32;
    let tail: f32 = pca.total_variance - pca.variances[..50].iter().sum::<f32>();
    let want = tail / PIXELS as f32 * (n - 1.0) / n;
    assert!(
        (train_curve[49] - want).abs() <= 1e-3 * want,
        "{} vs {want}",
        train_curve[49]
    );
}

#[test]
fn pca_explained_variance() {
    let pca = fit(PIXELS);
    let ratio = pca.explained_variance_ratio();
    eprintln!(
        "explained variance ratio: first {:.4}, first 10 {:.4}, first 50 {:.4}",
        ratio[0],
        ratio[..10].iter().sum::<f32>(),
        ratio[..50].iter().sum::<f32>()
    );
    // MNIST: about 10% for the first component, about half for the first 10.
    assert!((0.09..=0.11).contains(&ratio[0]), "{}", ratio[0]);
    assert!((0.45..=0.55).contains(&ratio[..10].iter().sum::<f32>()));
    let total: f32 = ratio.iter().sum();
    assert!((total - 1.0).abs() < 1e-4, "{total}");
    // Full-rank reconstruction of unseen digits is exact up to rounding.
    let data = mnist();
    assert!(pca.mse(&data.test[..100 * PIXELS], PIXELS) < 1e-9);
}

#[test]
fn knn_on_pca_codes() {
    let data = mnist();
    let pca = fit(32);
    let started = Instant::now();
    let train = pca.project(&data.train, 32);
    let test = pca.project(&data.test, 32);
    eprintln!(
        "projecting 10,000 rows to 32-D: {:.3} s",
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let acc = metrics::knn_accuracy(&train, &data.train_labels, &test, &data.test_labels, 32, 5);
    eprintln!(
        "5-NN on PCA-32 codes (8000 × 2000): accuracy {acc:.4} in {:.3} s",
        started.elapsed().as_secs_f64()
    );
    assert!(acc > 0.9, "{acc}");

    // On raw pixels (dim 784) kNN is also accurate, and must stay fast.
    let started = Instant::now();
    let raw = metrics::knn_accuracy(
        &data.train,
        &data.train_labels,
        &data.test,
        &data.test_labels,
        PIXELS,
        5,
    );
    eprintln!(
        "5-NN on raw pixels (8000 × 2000 × 784): accuracy {raw:.4} in {:.3} s",
        started.elapsed().as_secs_f64()
    );
    assert!(raw > 0.9, "{raw}");
}
