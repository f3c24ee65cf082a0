//! A dataset is a named pair of splits (train, test) of 28×28 grey images in [0, 1] with class
//! labels. Sources: the 10,000 MNIST digits compiled into the binary, or a folder of IDX files.
//! Splits are fixed and stratified so every run sees the same train/test partition.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{DataError, Result};

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
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatasetSource {
    Embedded,
    Dir(PathBuf),
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
}

impl Dataset {
    /// The 10,000 MNIST digits compiled into the binary, split 8,000 / 2,000 (stratified, fixed).
    pub fn embedded() -> Result<Dataset> {
        todo!("data helper")
    }

    /// A folder holding IDX files (see module docs for the names looked for).
    pub fn load_dir(dir: &Path) -> Result<Dataset> {
        let _ = dir;
        todo!("data helper")
    }

    /// `"embedded"` (or empty) for the built-in digits, anything else is a folder path.
    pub fn load(spec: &str) -> Result<Dataset> {
        if spec.is_empty() || spec == "embedded" {
            Self::embedded()
        } else {
            Self::load_dir(Path::new(spec))
        }
    }

    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }

    /// The name of class `label`, or the number itself when unknown.
    pub fn class_name(&self, label: u8) -> String {
        self.class_names
            .get(label as usize)
            .cloned()
            .unwrap_or_else(|| label.to_string())
    }

    /// The spec string that `load` accepts to reopen this dataset.
    pub fn spec(&self) -> String {
        match &self.source {
            DatasetSource::Embedded => "embedded".into(),
            DatasetSource::Dir(p) => p.display().to_string(),
        }
    }

    pub fn into_arc(self) -> Arc<Dataset> {
        Arc::new(self)
    }
}

#[allow(dead_code)]
fn _unused(_: DataError) {}
