//! A dataset is a named pair of splits (train, test) of 28×28 grey images in [0, 1] with class
//! labels. Sources: the 10,000 MNIST digits compiled into the binary, a folder of IDX files
//! (this module), a CSV file or an image folder (`csv`, `folder`; `import` picks the importer).
//! Splits are fixed and stratified so every run sees the same train/test partition.
//!
//! A folder is searched for the standard MNIST names, each optionally gzipped (`.gz`):
//! `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte` and
//! `t10k-labels-idx1-ubyte`, and their dotted variants (`train-images.idx3-ubyte`,
//! `train-labels.idx1-ubyte`, `t10k-images.idx3-ubyte`, `t10k-labels.idx1-ubyte`). Both splits
//! present: they are used as they are. Only one: it is split 80/20 (stratified, fixed seed).
//! Images of another size than 28×28 are resized (area averaging), with a note saying so.
//! Class names come from an optional `classes.txt` (one name per line), else from the folder
//! (a path containing "fashion" gets Fashion-MNIST's names), else they are the digits.
//!
//! Where a dataset comes from is a [`DatasetSource`]; written as text (command line, settings
//! file) it is `"embedded"` or the path of a folder or CSV file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::idx::{self, IdxImages};
use super::{DataError, Result};

const EMBEDDED_IMAGES: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../..",
    "/assets/mnist-10k-images-idx3-ubyte.gz"
));
const EMBEDDED_LABELS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../..",
    "/assets/mnist-10k-labels-idx1-ubyte.gz"
));

/// The seed of every fixed train/test split. Changing it changes which images are test images.
const SPLIT_SEED: u64 = 0x0b07_71e2_ec4d;
/// Share of each class that goes to the training split when one split is cut in two.
const TRAIN_NUM: usize = 4;
const TRAIN_DEN: usize = 5;

/// One split: `len` images stored row-major, `PIXELS` floats each, values in [0, 1].
#[derive(Clone, Debug, Default)]
pub struct Split {
    pub images: Vec<f32>,
    pub labels: Vec<u8>,
}

impl Split {
    pub fn new(images: Vec<f32>, labels: Vec<u8>) -> Self {
        debug_assert_eq!(images.len(), labels.len() * crate::PIXELS);
        Self { images, labels }
    }
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    /// The `i`-th image's pixels.
    pub fn image(&self, i: usize) -> &[f32] {
        &self.images[i * crate::PIXELS..(i + 1) * crate::PIXELS]
    }
    /// A new split holding the listed images, in that order.
    pub fn subset(&self, indices: &[usize]) -> Split {
        let mut images = Vec::with_capacity(indices.len() * crate::PIXELS);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            images.extend_from_slice(self.image(i));
            labels.push(self.labels[i]);
        }
        Split { images, labels }
    }
    /// Only the images whose label is in `classes`.
    pub fn filter_classes(&self, classes: &[u8]) -> Split {
        let idx: Vec<usize> = (0..self.len())
            .filter(|&i| classes.contains(&self.labels[i]))
            .collect();
        self.subset(&idx)
    }
    /// The first `n` images (or all of them).
    pub fn take(&self, n: usize) -> Split {
        let idx: Vec<usize> = (0..self.len().min(n)).collect();
        self.subset(&idx)
    }
}

/// Where a dataset came from; saved with models so a user knows what a model was trained on.
/// As text (`FromStr`, `Display`, serde): `"embedded"` for the built-in digits, anything else
/// is a folder path (an empty string also means the built-in digits).
#[derive(Clone, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(from = "String", into = "String")]
pub enum DatasetSource {
    #[default]
    Embedded,
    Dir(PathBuf),
}

impl DatasetSource {
    const EMBEDDED: &'static str = "embedded";
}

impl std::str::FromStr for DatasetSource {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Ok(if s.is_empty() || s == Self::EMBEDDED {
            DatasetSource::Embedded
        } else {
            DatasetSource::Dir(PathBuf::from(s))
        })
    }
}

impl From<String> for DatasetSource {
    fn from(s: String) -> Self {
        match s.parse() {
            Ok(source) => source,
            Err(never) => match never {},
        }
    }
}

impl From<DatasetSource> for String {
    fn from(s: DatasetSource) -> String {
        s.to_string()
    }
}

impl std::fmt::Display for DatasetSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatasetSource::Embedded => f.write_str(Self::EMBEDDED),
            DatasetSource::Dir(p) => write!(f, "{}", p.display()),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Dataset {
    /// Short human name: "MNIST (embedded 10k)", "Fashion-MNIST", or the folder's name.
    pub name: String,
    /// One name per class label (index = label).
    pub class_names: Vec<String>,
    pub train: Split,
    pub test: Split,
    pub source: DatasetSource,
    /// For cache keys (a clone gets its own); `Identity::new()` when building one.
    pub(crate) identity: crate::id::Identity,
}

impl Dataset {
    /// The 10,000 MNIST digits compiled into the binary, split 8,000 / 2,000 (stratified, fixed).
    pub fn embedded() -> Result<Dataset> {
        let images_path = Path::new("<embedded>/mnist-10k-images-idx3-ubyte.gz");
        let labels_path = Path::new("<embedded>/mnist-10k-labels-idx1-ubyte.gz");
        let images = idx::parse_images(EMBEDDED_IMAGES, images_path)?;
        let labels = idx::parse_labels(EMBEDDED_LABELS, labels_path)?;
        check_pair(&images, &labels, images_path, labels_path)?;
        let (train, test) = stratified_split(&to_28(&images), &labels);
        Ok(Dataset {
            name: "MNIST (embedded 10k)".into(),
            class_names: digit_names(10),
            train,
            test,
            source: DatasetSource::Embedded,
            identity: crate::id::Identity::new(),
        })
    }

    /// A folder holding IDX files (see module docs for the names looked for).
    pub fn load_dir(dir: &Path) -> Result<Dataset> {
        Self::load_dir_noted(dir).map(|(d, _)| d)
    }

    /// [`Self::load_dir`], with notes for the user (images resized).
    pub(crate) fn load_dir_noted(dir: &Path) -> Result<(Dataset, Vec<String>)> {
        if !dir.is_dir() {
            let source = match std::fs::metadata(dir) {
                Err(e) => e,
                Ok(_) => std::io::Error::new(
                    std::io::ErrorKind::NotADirectory,
                    "not a folder: choose the folder that holds the IDX files",
                ),
            };
            return Err(DataError::Io {
                path: dir.to_path_buf(),
                error: source,
            });
        }
        let train = find_split(dir, "train")?;
        let test = find_split(dir, "t10k")?;
        let (train, test, label_files, size) = match (train, test) {
            (Some(tr), Some(te)) => {
                let (train_images, train_labels) = read_pair(&tr)?;
                let (test_images, test_labels) = read_pair(&te)?;
                if (train_images.rows, train_images.cols) != (test_images.rows, test_images.cols) {
                    return Err(DataError::BadDims {
                        path: te.images.clone(),
                        message: format!(
                            "images are {}×{} but the training images are {}×{}",
                            test_images.rows,
                            test_images.cols,
                            train_images.rows,
                            train_images.cols
                        ),
                    });
                }
                let train = Split::new(to_28(&train_images), train_labels.clone());
                let test = Split::new(to_28(&test_images), test_labels.clone());
                (
                    train,
                    test,
                    vec![(tr.labels, train_labels), (te.labels, test_labels)],
                    (train_images.rows, train_images.cols),
                )
            }
            (Some(one), None) | (None, Some(one)) => {
                let (images, labels) = read_pair(&one)?;
                let (train, test) = stratified_split(&to_28(&images), &labels);
                let size = (images.rows, images.cols);
                (train, test, vec![(one.labels, labels)], size)
            }
            (None, None) => {
                return Err(DataError::MissingFiles {
                    dir: dir.to_path_buf(),
                    looked_for: looked_for(),
                })
            }
        };
        let mut notes = Vec::new();
        if size != (crate::SIDE, crate::SIDE) {
            notes.push(format!(
                "The images are {}×{}: resized to 28×28 (area averaging).",
                size.0, size.1
            ));
        }
        let (name, class_names) = names_for(dir, &label_files)?;
        let source = DatasetSource::Dir(std::path::absolute(dir).unwrap_or_else(|_| dir.into()));
        Ok((
            Dataset::from_parts(name, class_names, train, test, source),
            notes,
        ))
    }

    /// A dataset from its parts (for the importers).
    pub fn from_parts(
        name: String,
        class_names: Vec<String>,
        train: Split,
        test: Split,
        source: DatasetSource,
    ) -> Dataset {
        Dataset {
            name,
            class_names,
            train,
            test,
            source,
            identity: crate::id::Identity::new(),
        }
    }

    /// The labels that occur in either split, ascending (legends list only these).
    pub fn present_classes(&self) -> Vec<u8> {
        super::classes::present(&[&self.train.labels, &self.test.labels])
    }

    /// This dataset's identity, for cache keys.
    pub fn id(&self) -> crate::id::Id {
        self.identity.id()
    }

    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }

    /// The classes its labels need: its named classes, or more if a label goes past them (a
    /// conditional VAE's one-hot width, the pixel probe's outputs).
    pub fn label_classes(&self) -> usize {
        let top = self.present_classes().last().map_or(0, |&l| l as usize + 1);
        self.num_classes().max(top)
    }

    /// The name of class `label`, or the number itself when unknown.
    pub fn class_name(&self, label: u8) -> String {
        self.class_names
            .get(label as usize)
            .cloned()
            .unwrap_or_else(|| label.to_string())
    }

    pub fn into_arc(self) -> Arc<Dataset> {
        Arc::new(self)
    }
}

/// The two files of one split found in a folder.
struct PairPaths {
    images: PathBuf,
    labels: PathBuf,
}

/// The standard and the dotted name of one file, e.g. `train-images-idx3-ubyte` and
/// `train-images.idx3-ubyte`, for `prefix` ("train" or "t10k") and `kind` ("images" or
/// "labels").
fn base_names(prefix: &str, kind: &str) -> [String; 2] {
    let rank = if kind == "images" { 3 } else { 1 };
    [
        format!("{prefix}-{kind}-idx{rank}-ubyte"),
        format!("{prefix}-{kind}.idx{rank}-ubyte"),
    ]
}

/// Every file name tried, in order of preference (gzipped first).
fn candidates(prefix: &str, kind: &str) -> Vec<String> {
    base_names(prefix, kind)
        .into_iter()
        .flat_map(|base| [format!("{base}.gz"), base])
        .collect()
}

fn looked_for() -> String {
    let (mut plain, mut dotted) = (Vec::new(), Vec::new());
    for prefix in ["train", "t10k"] {
        for kind in ["images", "labels"] {
            let [p, d] = base_names(prefix, kind);
            plain.push(p);
            dotted.push(d);
        }
    }
    format!(
        "{}, each also as .gz, or dotted: {}",
        plain.join(", "),
        dotted.join(", ")
    )
}

fn find_file(dir: &Path, prefix: &str, kind: &str) -> Option<PathBuf> {
    candidates(prefix, kind)
        .into_iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// Both files of a split, none, or an error when only one of the two is there.
fn find_split(dir: &Path, prefix: &str) -> Result<Option<PairPaths>> {
    let images = find_file(dir, prefix, "images");
    let labels = find_file(dir, prefix, "labels");
    match (images, labels) {
        (Some(images), Some(labels)) => Ok(Some(PairPaths { images, labels })),
        (None, None) => Ok(None),
        (Some(found), None) => Err(missing_partner(dir, &found, prefix, "labels")),
        (None, Some(found)) => Err(missing_partner(dir, &found, prefix, "images")),
    }
}

fn missing_partner(dir: &Path, found: &Path, prefix: &str, missing: &str) -> DataError {
    let found = found
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    DataError::MissingFiles {
        dir: dir.to_path_buf(),
        looked_for: format!(
            "the {missing} that go with {found}: {}",
            candidates(prefix, missing).join(", ")
        ),
    }
}

fn read_pair(paths: &PairPaths) -> Result<(IdxImages, Vec<u8>)> {
    let images = idx::read_images(&paths.images)?;
    let labels = idx::read_labels(&paths.labels)?;
    check_pair(&images, &labels, &paths.images, &paths.labels)?;
    Ok((images, labels))
}

/// Same number of images and labels.
fn check_pair(
    images: &IdxImages,
    labels: &[u8],
    images_path: &Path,
    labels_path: &Path,
) -> Result<()> {
    if images.count != labels.len() {
        return Err(DataError::CountMismatch {
            images: images_path.to_path_buf(),
            labels: labels_path.to_path_buf(),
            n_images: images.count,
            n_labels: labels.len(),
        });
    }
    Ok(())
}

/// Whether a folder holds an IDX split (MNIST file names).
pub(crate) fn has_idx(dir: &Path) -> bool {
    ["train", "t10k"]
        .iter()
        .any(|p| find_file(dir, p, "images").is_some() || find_file(dir, p, "labels").is_some())
}

/// Pixels in [0, 1], each image resized to 28×28 when it is another size.
fn to_28(images: &IdxImages) -> Vec<f32> {
    let f: Vec<f32> = images
        .pixels
        .iter()
        .map(|&b| f32::from(b) / 255.0)
        .collect();
    resize_all(&f, images.rows, images.cols)
}

/// Resizes every `rows`×`cols` image in `pixels` to 28×28 (area averaging); 28×28 images are
/// returned as they are.
pub(crate) fn resize_all(pixels: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    if (rows, cols) == (crate::SIDE, crate::SIDE) || rows == 0 || cols == 0 {
        return pixels.to_vec();
    }
    let mut out = Vec::with_capacity(pixels.len() / (rows * cols) * crate::PIXELS);
    for image in pixels.chunks_exact(rows * cols) {
        let gray = super::preprocess::Gray {
            width: cols,
            height: rows,
            pixels: image.to_vec(),
        };
        out.extend(super::preprocess::resample(&gray, crate::SIDE, crate::SIDE).pixels);
    }
    out
}

/// Which examples go to the training split: per class, a fixed-seed shuffle puts about 80 % of
/// the class in training, and the rounding is spread over the classes so that the training
/// split holds exactly round(80 % of all). Returns one flag per example.
fn stratified_train_mask(labels: &[u8]) -> Vec<bool> {
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); 256];
    for (i, &l) in labels.iter().enumerate() {
        by_class[usize::from(l)].push(i);
    }
    // floor(80 % of each class), then the remainder to the classes with the largest fractional
    // parts (ties: smaller label first).
    let share = |c: usize| by_class[c].len() * TRAIN_NUM;
    let mut quota: Vec<usize> = (0..by_class.len()).map(|c| share(c) / TRAIN_DEN).collect();
    let target = (labels.len() * TRAIN_NUM * 2 + TRAIN_DEN) / (2 * TRAIN_DEN);
    let assigned: usize = quota.iter().sum();
    let mut order: Vec<usize> = (0..by_class.len())
        .filter(|&c| share(c) % TRAIN_DEN > 0)
        .collect();
    // Stable sort: among equal fractional parts the smaller label comes first.
    order.sort_by_key(|&c| std::cmp::Reverse(share(c) % TRAIN_DEN));
    for &c in order.iter().take(target.saturating_sub(assigned)) {
        quota[c] += 1;
    }

    let mut train = vec![false; labels.len()];
    for (class, members) in by_class.iter_mut().enumerate() {
        if members.is_empty() {
            continue;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(SPLIT_SEED ^ class as u64);
        members.shuffle(&mut rng);
        for &i in &members[..quota[class]] {
            train[i] = true;
        }
    }
    train
}

/// The fixed stratified 80/20 split of one set of 28×28 images (values in [0, 1]); both
/// halves keep the input's order. The same labels in the same order always give the same
/// split, whatever format the images came from.
pub(crate) fn stratified_split(pixels: &[f32], labels: &[u8]) -> (Split, Split) {
    let mask = stratified_train_mask(labels);
    let n_train = mask.iter().filter(|&&t| t).count();
    let mut train = Split {
        images: Vec::with_capacity(n_train * crate::PIXELS),
        labels: Vec::with_capacity(n_train),
    };
    let mut test = Split {
        images: Vec::with_capacity((labels.len() - n_train) * crate::PIXELS),
        labels: Vec::with_capacity(labels.len() - n_train),
    };
    for ((image, &label), &is_train) in pixels.chunks_exact(crate::PIXELS).zip(labels).zip(&mask) {
        let split = if is_train { &mut train } else { &mut test };
        split.images.extend_from_slice(image);
        split.labels.push(label);
    }
    (train, test)
}

fn digit_names(n: usize) -> Vec<String> {
    (0..n).map(|i| i.to_string()).collect()
}

/// The dataset's name and class names (see the module docs for the rules). `label_files` are
/// the labels read, with the file each came from (for error messages).
fn names_for(dir: &Path, label_files: &[(PathBuf, Vec<u8>)]) -> Result<(String, Vec<String>)> {
    let full = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let folder_name = full
        .components()
        .next_back()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| dir.display().to_string());
    let refs: Vec<(PathBuf, &[u8])> = label_files
        .iter()
        .map(|(p, l)| (p.clone(), l.as_slice()))
        .collect();
    let names = super::classes::names_for_labels(dir, &refs)?;
    if !dir.join("classes.txt").is_file() && super::classes::is_fashion(dir) {
        return Ok(("Fashion-MNIST".into(), names));
    }
    Ok((folder_name, names))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn train_counts(labels: &[u8]) -> (usize, [usize; 256]) {
        let mask = stratified_train_mask(labels);
        let mut per_class = [0usize; 256];
        for (&l, &t) in labels.iter().zip(&mask) {
            per_class[usize::from(l)] += usize::from(t);
        }
        (mask.iter().filter(|&&t| t).count(), per_class)
    }

    #[test]
    fn stratified_split_hits_the_exact_total_with_per_class_rounding() {
        // Classes of 1..=13 examples: 91 in all, 80 % is 72.8 -> 73.
        let labels: Vec<u8> = (1..=13u8)
            .flat_map(|c| std::iter::repeat_n(c, usize::from(c)))
            .collect();
        let (total, per_class) = train_counts(&labels);
        assert_eq!(total, 73);
        for (c, &n) in per_class.iter().enumerate().take(14).skip(1) {
            let floor = c * 4 / 5;
            assert!(n == floor || n == floor + 1, "class {c}: {n}");
        }
        // Exactly 8000 of 10,000 whatever the class sizes.
        let labels: Vec<u8> = (0..10_000)
            .map(|i| ((i * 7919) % 10 + i % 3) as u8)
            .collect();
        assert_eq!(train_counts(&labels).0, 8000);
        assert_eq!(train_counts(&[]).0, 0);
        assert_eq!(train_counts(&[5]).0, 1);
    }

    #[test]
    fn stratified_split_is_fixed() {
        let labels: Vec<u8> = (0..500).map(|i| (i % 10) as u8).collect();
        assert_eq!(
            stratified_train_mask(&labels),
            stratified_train_mask(&labels)
        );
        // And not simply the first 80 % of each class.
        let mask = stratified_train_mask(&labels);
        assert!(mask[..400].iter().any(|&t| !t));
    }

    #[test]
    fn candidate_names() {
        assert_eq!(
            candidates("t10k", "labels"),
            [
                "t10k-labels-idx1-ubyte.gz",
                "t10k-labels-idx1-ubyte",
                "t10k-labels.idx1-ubyte.gz",
                "t10k-labels.idx1-ubyte"
            ]
        );
    }
}
