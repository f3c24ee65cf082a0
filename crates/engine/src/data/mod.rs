//! Datasets and everything done to images before a model sees them: IDX files (`idx`),
//! the embedded MNIST subset and datasets on disk (`dataset`), one's own data (`import`
//! picks among IDX, `csv` files, NumPy arrays (`npy`) and image folders, `folder`; class names in `classes`),
//! corruption for denoising
//! (`noise`), MNIST-style preprocessing of a user's own pictures (`preprocess`) and
//! shuffled mini-batches (`batch`). Pure Rust, no tensors, no UI.

pub mod batch;
pub mod classes;
pub mod csv;
pub mod dataset;
pub mod folder;
pub mod idx;
pub mod import;
pub mod noise;
pub mod npy;
pub mod options;
pub mod preprocess;

pub use batch::Batcher;
pub use dataset::{Dataset, DatasetSource, Split};
pub use noise::{NoiseKind, Occlusion};
pub use options::{ImportOptions, Imported, NpzArrays, Preprocess};

use std::path::PathBuf;

/// Everything that can go wrong while reading a dataset or an image. Each variant names the
/// file it is about, so that the message alone tells the user what to fix.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        // In the message, not chained: the one-line CLI report would print it twice.
        error: std::io::Error,
    },
    #[error(
        "{path}: not an IDX {what} file (magic number {found:#010x}, expected {expected:#010x})"
    )]
    BadMagic {
        path: PathBuf,
        what: &'static str,
        found: u32,
        expected: u32,
    },
    #[error("{path}: IDX {what} file has {found} dimensions, expected {expected}")]
    BadRank {
        path: PathBuf,
        what: &'static str,
        found: u8,
        expected: u8,
    },
    #[error("{path}: {message}")]
    BadDims { path: PathBuf, message: String },
    #[error(
        "{path}: truncated: the header promises {expected} bytes of data, the file holds {found}"
    )]
    Truncated {
        path: PathBuf,
        expected: u64,
        found: u64,
    },
    #[error("{path}: {extra} unexpected bytes after the data the header describes")]
    TrailingData { path: PathBuf, extra: u64 },
    #[error("{images} holds {n_images} images but {labels} holds {n_labels} labels")]
    CountMismatch {
        images: PathBuf,
        labels: PathBuf,
        n_images: usize,
        n_labels: usize,
    },
    #[error("{path}: label {label} at index {index} is out of range (at most {max} classes)")]
    LabelOutOfRange {
        path: PathBuf,
        index: usize,
        label: u8,
        max: usize,
    },
    #[error("{dir}: no IDX dataset found (looked for {looked_for})")]
    MissingFiles { dir: PathBuf, looked_for: String },
    #[error("{path}: images are {rows}×{cols}; Bottleneck works on 28×28 images")]
    WrongImageSize {
        path: PathBuf,
        rows: usize,
        cols: usize,
    },
    #[error("{path}: {message}")]
    Image { path: PathBuf, message: String },
    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = DataError> = std::result::Result<T, E>;
