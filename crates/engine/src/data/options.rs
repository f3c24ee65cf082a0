//! What an import is asked and what it gives back, below every importer (`import`, `folder`,
//! `csv`, `npy`): how pictures become 28×28 inputs ([`Preprocess`], [`ImportOptions`]), which
//! arrays of a `.npz` file to use ([`NpzArrays`]), progress and
//! cancellation shared with a UI ([`Progress`]), and the dataset with its notes and skipped
//! files ([`Imported`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::dataset::Dataset;

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

/// Which arrays of a `.npz` file are the images and the labels, when the file alone does not
/// say (see `npy`); `None` lets the importer choose.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NpzArrays {
    pub images: Option<String>,
    pub labels: Option<String>,
}

impl NpzArrays {
    pub fn is_empty(&self) -> bool {
        self.images.is_none() && self.labels.is_none()
    }
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

pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}
