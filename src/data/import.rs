//! Bringing one's own data: which importer reads a [`DatasetSource`] (IDX folder, CSV file or
//! pair, image folder), the user's choices for pictures ([`ImportOptions`]), progress and
//! cancellation shared with a UI ([`Progress`]), and what the import has to tell the user
//! besides the dataset ([`Imported`]: notes such as "resized from 32×32", and the files
//! skipped, each with its reason).
//!
//! A folder is read as IDX when it holds MNIST-named IDX files, else as CSV when it holds
//! CSV files, else as an image folder. A file is read as CSV.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::dataset::{Dataset, DatasetSource};
use super::{DataError, Result};

/// How pictures become 28×28 inputs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preprocess {
    /// MNIST's pipeline: grey, light ink on dark (a light background is inverted), cropped to
    /// the ink, scaled to 20 px, centred by centre of mass. For drawings and scans.
    #[default]
    Mnist,
    /// The whole picture in grey, resized to fit 28×28 keeping its aspect (the rest filled
    /// with its border's grey). For other pictures.
    Fit,
}

impl Preprocess {
    pub fn parse(s: &str) -> Option<Preprocess> {
        match s.trim().to_ascii_lowercase().as_str() {
            "mnist" | "mnist-style" => Some(Preprocess::Mnist),
            "fit" => Some(Preprocess::Fit),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Preprocess::Mnist => "mnist",
            Preprocess::Fit => "fit",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Preprocess::Mnist => "MNIST-style",
            Preprocess::Fit => "Fit whole picture",
        }
    }
}

/// The user's choices for an import (remembered in the settings).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ImportOptions {
    /// For image folders.
    pub preprocess: Preprocess,
    /// Make dark light and light dark (image folders read with `Fit`, CSV and IDX files).
    /// MNIST-style preprocessing finds the background itself and ignores it.
    pub invert: bool,
}

/// Progress of an import, readable from another thread; `cancel` asks it to stop.
#[derive(Debug, Default)]
pub struct Progress {
    pub done: AtomicUsize,
    pub total: AtomicUsize,
    pub cancel: AtomicBool,
}

impl Progress {
    /// Fraction done in [0, 1] (0 before the total is known).
    pub fn fraction(&self) -> f32 {
        let total = self.total.load(Ordering::Relaxed);
        if total == 0 {
            return 0.0;
        }
        (self.done.load(Ordering::Relaxed) as f32 / total as f32).min(1.0)
    }
    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// A file an import left out, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

/// A dataset with what its import has to say.
#[derive(Clone, Debug)]
pub struct Imported {
    pub dataset: Dataset,
    /// Sentences for the user ("images resized from 32×32 to 28×28", …).
    pub notes: Vec<String>,
    /// Files left out, in the order found.
    pub skipped: Vec<Skipped>,
}

impl Imported {
    /// One paragraph for a status line or the CLI: the notes, then how many files were
    /// skipped with the first few named.
    pub fn summary(&self) -> String {
        let mut parts = self.notes.clone();
        if !self.skipped.is_empty() {
            let named: Vec<String> = self
                .skipped
                .iter()
                .take(5)
                .map(|s| format!("{} ({})", file_name(&s.path), s.reason))
                .collect();
            let more = self.skipped.len().saturating_sub(named.len());
            parts.push(format!(
                "{} file(s) skipped: {}{}",
                self.skipped.len(),
                named.join("; "),
                if more > 0 {
                    format!("; and {more} more")
                } else {
                    String::new()
                }
            ));
        }
        parts.join(" ")
    }
}

pub(crate) fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// What kind of data a path holds (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Embedded,
    Idx,
    Csv,
    Images,
}

/// Which importer reads `source`. A path that does not exist is an error.
pub fn kind_of(source: &DatasetSource) -> Result<Kind> {
    let path = match source {
        DatasetSource::Embedded => return Ok(Kind::Embedded),
        DatasetSource::Dir(p) => p,
    };
    let meta = std::fs::metadata(path).map_err(|error| DataError::Io {
        path: path.clone(),
        error,
    })?;
    if meta.is_file() {
        let csv = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        if !csv {
            return Err(DataError::Other(format!(
                "{}: not a dataset: choose a folder (IDX files, CSV files, or pictures in one \
                 subfolder per class) or a .csv file",
                path.display()
            )));
        }
        return Ok(Kind::Csv);
    }
    if super::dataset::has_idx(path) {
        return Ok(Kind::Idx);
    }
    if super::csv::find_in_dir(path).is_some() {
        return Ok(Kind::Csv);
    }
    Ok(Kind::Images)
}

/// Reads any source with `options`, reporting to `progress` (image folders only) if given.
pub fn load(
    source: &DatasetSource,
    options: &ImportOptions,
    progress: Option<&Progress>,
) -> Result<Imported> {
    let plain = |dataset: Dataset, notes: Vec<String>| Imported {
        dataset,
        notes,
        skipped: Vec::new(),
    };
    let kind = kind_of(source)?;
    let mut imported = match (kind, source) {
        (Kind::Embedded, _) | (_, DatasetSource::Embedded) => plain(Dataset::embedded()?, vec![]),
        (Kind::Idx, DatasetSource::Dir(p)) => {
            let (d, notes) = Dataset::load_dir_noted(p)?;
            plain(d, notes)
        }
        (Kind::Csv, DatasetSource::Dir(p)) => {
            let (d, notes) = super::csv::load(p)?;
            plain(d, notes)
        }
        // The folder importer applies `invert` per picture (see `folder::prepare`).
        (Kind::Images, DatasetSource::Dir(p)) => return super::folder::load(p, options, progress),
    };
    if options.invert {
        let d = &mut imported.dataset;
        for v in d.train.images.iter_mut().chain(d.test.images.iter_mut()) {
            *v = 1.0 - *v;
        }
        imported
            .notes
            .push("Inverted: dark is light and light is dark.".into());
    }
    Ok(imported)
}
