//! Image folders (the layout torchvision calls ImageFolder): a folder whose subfolders are the
//! classes (named after the subfolders, sorted by name), each holding pictures (PNG, JPEG, BMP,
//! GIF, WebP; any size and colour; nested folders are searched too). A folder with no
//! subfolders is one unlabelled class; a folder holding only `train/` and `test/`, each laid
//! out that way, gives the two splits as they are. Every picture goes through [`prepare`]: MNIST-style
//! preprocessing or "fit" (see [`Preprocess`]). Files that cannot be read (corrupt, empty,
//! too large, not pictures) are skipped and listed with their reason; the import fails only
//! when no picture at all can be read. Pictures are decoded in parallel (rayon), with progress
//! and cancellation through [`Progress`]. One split: divided 80/20 stratified by class.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use rayon::prelude::*;

use super::classes::MAX_CLASSES;
use super::dataset::{stratified_split, DatasetSource, Split};
use super::options::{file_name, ImportOptions, Imported, Preprocess, Progress, Skipped};
use super::preprocess::{self, Gray};
use super::{DataError, Dataset, Result};
use crate::SIDE;

/// The most pictures one import reads (300,000 images take about 1 GB as floats).
pub const MAX_IMAGES: usize = 300_000;
/// How deep nested folders are searched below a class folder.
const MAX_DEPTH: usize = 8;
/// The class name of a flat folder's pictures.
pub const UNLABELLED: &str = "unlabelled";

/// What a folder holds, before any picture is decoded.
#[derive(Clone, Debug, Default)]
pub struct Scan {
    /// Class names (label = index).
    pub classes: Vec<String>,
    /// Every candidate file with its label, in order (class by class, sorted by path).
    pub files: Vec<(PathBuf, u8)>,
    /// Files left out while scanning.
    pub skipped: Vec<Skipped>,
    /// With `train/` and `test/` folders: the index in `files` where the test files start.
    pub test_start: Option<usize>,
}

fn hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let rd = std::fs::read_dir(dir).map_err(|error| DataError::Io {
        path: dir.to_path_buf(),
        error,
    })?;
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| !hidden(p))
        .collect();
    v.sort();
    Ok(v)
}

/// Every file under `dir` (depth-first, sorted); unreadable subfolders are skipped and named.
fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>, skipped: &mut Vec<Skipped>) {
    match sorted_entries(dir) {
        Err(e) => skipped.push(Skipped {
            path: dir.to_path_buf(),
            reason: format!("cannot read the folder: {e}"),
        }),
        Ok(entries) => {
            for p in entries {
                if p.is_dir() {
                    if depth < MAX_DEPTH {
                        walk(&p, depth + 1, out, skipped);
                    }
                } else {
                    out.push(p);
                }
            }
        }
    }
}

/// The `train` and `test` subfolders of `dir` (also `training`/`testing`, any case) when
/// those are its only two subfolders and both hold class folders.
fn split_dirs(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let dirs: Vec<PathBuf> = sorted_entries(dir)
        .ok()?
        .into_iter()
        .filter(|p| p.is_dir())
        .collect();
    if dirs.len() != 2 {
        return None;
    }
    let find = |names: [&str; 2]| {
        dirs.iter()
            .find(|p| names.iter().any(|n| file_name(p).eq_ignore_ascii_case(n)))
            .cloned()
    };
    let (train, test) = (find(["train", "training"])?, find(["test", "testing"])?);
    let has_classes = |p: &Path| sorted_entries(p).is_ok_and(|e| e.iter().any(|q| q.is_dir()));
    (has_classes(&train) && has_classes(&test)).then_some((train, test))
}

/// Lists a folder's classes and pictures (see the module docs). A folder holding only
/// `train/` and `test/`, each with class folders, gives the two splits as they are (classes
/// matched by name).
pub fn scan(dir: &Path) -> Result<Scan> {
    let Some((train, test)) = split_dirs(dir) else {
        return scan_classes(dir);
    };
    let (a, b) = (scan_classes(&train)?, scan_classes(&test)?);
    let mut classes: Vec<String> = a.classes.iter().chain(&b.classes).cloned().collect();
    classes.sort();
    classes.dedup();
    if classes.len() > MAX_CLASSES {
        return Err(DataError::BadDims {
            path: dir.to_path_buf(),
            message: format!(
                "{} classes, more than the {MAX_CLASSES} Bottleneck handles",
                classes.len()
            ),
        });
    }
    let relabel = |s: &Scan| -> Vec<(PathBuf, u8)> {
        s.files
            .iter()
            .map(|(p, l)| {
                let name = &s.classes[usize::from(*l)];
                let new = classes.binary_search(name).unwrap_or(0);
                (p.clone(), new as u8)
            })
            .collect()
    };
    let mut files = relabel(&a);
    let test_start = files.len();
    files.extend(relabel(&b));
    let scan = Scan {
        files,
        skipped: a.skipped.into_iter().chain(b.skipped).collect(),
        test_start: Some(test_start),
        classes,
    };
    check_count(dir, &scan)?;
    Ok(scan)
}

fn check_count(dir: &Path, scan: &Scan) -> Result<()> {
    if scan.files.len() > MAX_IMAGES {
        return Err(DataError::BadDims {
            path: dir.to_path_buf(),
            message: format!(
                "{} files, more than the {MAX_IMAGES} pictures one import reads",
                scan.files.len()
            ),
        });
    }
    Ok(())
}

/// One split's folder: class subfolders, or a flat folder of pictures.
fn scan_classes(dir: &Path) -> Result<Scan> {
    let entries = sorted_entries(dir)?;
    let (dirs, files): (Vec<PathBuf>, Vec<PathBuf>) = entries.into_iter().partition(|p| p.is_dir());
    let mut scan = Scan::default();
    if dirs.is_empty() {
        scan.classes.push(UNLABELLED.into());
        scan.files = files.into_iter().map(|p| (p, 0)).collect();
    } else {
        if dirs.len() > MAX_CLASSES {
            return Err(DataError::BadDims {
                path: dir.to_path_buf(),
                message: format!(
                    "{} class folders, more than the {MAX_CLASSES} classes Bottleneck handles",
                    dirs.len()
                ),
            });
        }
        for p in files {
            if p.file_name().is_some_and(|n| n == "classes.txt") {
                continue;
            }
            scan.skipped.push(Skipped {
                path: p,
                reason: "not inside a class folder".into(),
            });
        }
        for (label, class_dir) in dirs.iter().enumerate() {
            scan.classes.push(file_name(class_dir));
            let mut found = Vec::new();
            walk(class_dir, 1, &mut found, &mut scan.skipped);
            scan.files
                .extend(found.into_iter().map(|p| (p, label as u8)));
        }
    }
    check_count(dir, &scan)?;
    Ok(scan)
}

/// "Fit": the whole picture resized to fit 28×28 keeping its aspect ratio, centred, the rest
/// filled with the picture's border grey.
pub fn fit(image: &Gray) -> Vec<f32> {
    let work = preprocess::sanitized(image);
    if work.width == 0 || work.height == 0 {
        return vec![0.0; SIDE * SIDE];
    }
    let long = work.width.max(work.height);
    let side = |n: usize| ((n * SIDE + long / 2) / long).clamp(1, SIDE);
    let (w, h) = (side(work.width), side(work.height));
    let small = preprocess::resample(&work, w, h);
    let fill = preprocess::border_median(&work);
    let mut out = vec![fill; SIDE * SIDE];
    let (x0, y0) = ((SIDE - w) / 2, (SIDE - h) / 2);
    for y in 0..h {
        out[(y0 + y) * SIDE + x0..(y0 + y) * SIDE + x0 + w]
            .copy_from_slice(&small.pixels[y * w..(y + 1) * w]);
    }
    out
}

/// A decoded picture as the 28×28 input the model sees, under `options`.
pub fn prepare(image: &Gray, options: &ImportOptions) -> Vec<f32> {
    match options.preprocess {
        Preprocess::Mnist => preprocess::preprocess(image).pixels,
        Preprocess::Fit => {
            let mut v = fit(image);
            if options.invert {
                v.iter_mut().for_each(|p| *p = 1.0 - *p);
            }
            v
        }
    }
}

/// Reads a picture file and prepares it.
fn read_one(path: &Path, options: &ImportOptions) -> std::result::Result<Vec<f32>, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.len() == 0 {
        return Err("empty file".into());
    }
    let gray = preprocess::load(path).map_err(|e| reason(&e, path))?;
    Ok(prepare(&gray, options))
}

/// The error's message without the path (the path is listed beside it).
fn reason(e: &DataError, path: &Path) -> String {
    let s = e.to_string();
    let prefix = format!("{}: ", path.display());
    s.strip_prefix(&prefix).map(str::to_string).unwrap_or(s)
}

/// One picture of a preview: the original (shrunk for display) and what the model would see.
#[derive(Clone, Debug)]
pub struct PreviewItem {
    pub path: PathBuf,
    pub class: String,
    /// The decoded picture in grey, at most 112 px on its longer side.
    pub original: Gray,
    /// The 28×28 input.
    pub prepared: Vec<f32>,
}

/// Up to `n` pictures for a preview, taken round-robin from the classes so each class shows.
/// Files that cannot be decoded are passed over.
pub fn preview(scan: &Scan, options: &ImportOptions, n: usize) -> Vec<PreviewItem> {
    let mut by_class: Vec<Vec<&PathBuf>> = vec![Vec::new(); scan.classes.len()];
    for (p, l) in &scan.files {
        by_class[usize::from(*l)].push(p);
    }
    let mut out = Vec::new();
    let mut round = 0;
    // Look at a bounded number of files (some may not decode).
    let mut tried = 0;
    while out.len() < n && tried < 4 * n + 8 {
        let mut any = false;
        for (label, files) in by_class.iter().enumerate() {
            if round >= files.len() {
                continue;
            }
            // Start each class at a different file, so the preview shows variety (files are
            // often numbered the same way in every class).
            let path = files[(round + label) % files.len()];
            any = true;
            tried += 1;
            if let Ok(gray) = preprocess::load(path) {
                let long = gray.width.max(gray.height).max(1);
                let original = if long > 112 {
                    let s = |v: usize| (v * 112 / long).max(1);
                    preprocess::resample(&gray, s(gray.width), s(gray.height))
                } else {
                    gray.clone()
                };
                out.push(PreviewItem {
                    path: path.to_path_buf(),
                    class: scan.classes[label].clone(),
                    original,
                    prepared: prepare(&gray, options),
                });
                if out.len() >= n {
                    break;
                }
            }
        }
        if !any {
            break;
        }
        round += 1;
    }
    out
}

/// Imports an image folder (see the module docs).
pub fn load(dir: &Path, options: &ImportOptions, progress: Option<&Progress>) -> Result<Imported> {
    let scan = scan(dir)?;
    load_scanned(dir, scan, options, progress)
}

/// Imports the pictures a [`scan`] found.
pub fn load_scanned(
    dir: &Path,
    scan: Scan,
    options: &ImportOptions,
    progress: Option<&Progress>,
) -> Result<Imported> {
    if let Some(p) = progress {
        p.total.store(scan.files.len(), Ordering::Relaxed);
        p.done.store(0, Ordering::Relaxed);
    }
    let results: Vec<Option<std::result::Result<Vec<f32>, String>>> = scan
        .files
        .par_iter()
        .map(|(path, _)| {
            if progress.is_some_and(Progress::cancelled) {
                return None;
            }
            let r = read_one(path, options);
            if let Some(p) = progress {
                p.done.fetch_add(1, Ordering::Relaxed);
            }
            Some(r)
        })
        .collect();
    if progress.is_some_and(Progress::cancelled) {
        return Err(DataError::Other("the import was cancelled".into()));
    }
    let mut skipped = scan.skipped;
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    // How many of the pictures read are training pictures (with train/ and test/ folders).
    let mut n_train = 0;
    for (i, ((path, label), r)) in scan.files.iter().zip(results).enumerate() {
        match r {
            Some(Ok(v)) => {
                pixels.extend(v);
                labels.push(*label);
                if scan.test_start.is_some_and(|t| i < t) {
                    n_train += 1;
                }
            }
            Some(Err(reason)) => skipped.push(Skipped {
                path: path.clone(),
                reason,
            }),
            None => {}
        }
    }
    if labels.is_empty() {
        let mut msg = format!("no picture Bottleneck can read in {}", dir.display());
        if !skipped.is_empty() {
            msg.push_str(&format!(
                " ({} file(s) skipped, e.g. {}: {})",
                skipped.len(),
                file_name(&skipped[0].path),
                skipped[0].reason
            ));
        }
        return Err(DataError::Other(msg));
    }
    let given = scan.test_start.is_some() && n_train > 0 && n_train < labels.len();
    let (train, test) = if given {
        let cut = n_train * crate::PIXELS;
        (
            Split::new(pixels[..cut].to_vec(), labels[..n_train].to_vec()),
            Split::new(pixels[cut..].to_vec(), labels[n_train..].to_vec()),
        )
    } else {
        stratified_split(&pixels, &labels)
    };
    let mut notes = vec![format!(
        "{} pictures in {} class(es), {} preprocessing{}; {}.",
        labels.len(),
        scan.classes.len(),
        options.preprocess.label(),
        if options.invert && options.preprocess == Preprocess::Fit {
            ", inverted"
        } else {
            ""
        },
        if given {
            "the train and test folders are the two splits"
        } else {
            "split 80/20 by class"
        }
    )];
    if options.invert && options.preprocess == Preprocess::Mnist {
        notes.push(
            "MNIST-style preprocessing finds the background itself: invert is ignored.".into(),
        );
    }
    let name = file_name(dir);
    let source = DatasetSource::Dir(std::path::absolute(dir).unwrap_or_else(|_| dir.into()));
    Ok(Imported {
        dataset: Dataset::from_parts(name, scan.classes, train, test, source),
        notes,
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_keeps_aspect_and_fills_with_the_border() {
        // A 56×28 white picture with a black band on its left (its border is mostly white).
        let mut pixels = vec![1.0; 56 * 28];
        for y in 0..28 {
            for x in 0..20 {
                pixels[y * 56 + x] = 0.0;
            }
        }
        let img = Gray {
            width: 56,
            height: 28,
            pixels,
        };
        let out = fit(&img);
        assert_eq!(out.len(), SIDE * SIDE);
        // 28×14 in the middle rows; the top rows are border fill (white).
        assert!(out[..SIDE * 7].iter().all(|&v| v == 1.0));
        assert!(out[14 * SIDE + 2] < 0.01, "left half dark");
        assert!(out[14 * SIDE + 25] > 0.99, "right half light");
        let inverted = prepare(
            &img,
            &ImportOptions {
                preprocess: Preprocess::Fit,
                invert: true,
            },
        );
        assert!(inverted[14 * SIDE + 2] > 0.99);
    }
}
