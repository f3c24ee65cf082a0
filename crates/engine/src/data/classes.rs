//! Class names for a dataset: from a `classes.txt` beside the data (one name per line), from
//! the folder names of an image folder (the caller passes those), or known ones (the digits,
//! Fashion-MNIST's ten names for a path that mentions "fashion"); otherwise the label numbers.
//! Also which classes are present in a set of labels, for legends that list only those.

use std::path::{Path, PathBuf};

use super::{DataError, Result};

/// The most classes a dataset may have (labels are bytes).
pub const MAX_CLASSES: usize = 256;

pub const FASHION_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// "0", "1", … "n-1".
pub fn numbers(n: usize) -> Vec<String> {
    (0..n).map(|i| i.to_string()).collect()
}

/// Reads `classes.txt` (one name per line; blank lines inside get the label's number, trailing
/// blank lines are dropped). `Ok(None)` when there is no such file.
pub fn read_classes_txt(path: &Path) -> Result<Option<Vec<String>>> {
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(|error| DataError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    let mut names: Vec<String> = text.lines().map(|l| l.trim().to_string()).collect();
    while names.last().is_some_and(|n| n.is_empty()) {
        names.pop();
    }
    if names.len() > MAX_CLASSES {
        return Err(DataError::BadDims {
            path: path.to_path_buf(),
            message: format!(
                "{} class names, more than the {MAX_CLASSES} Bottleneck handles",
                names.len()
            ),
        });
    }
    for (i, n) in names.iter_mut().enumerate() {
        if n.is_empty() {
            *n = i.to_string();
        }
    }
    Ok(Some(names))
}

/// Names for labels read from files (`label_files`: each file's labels, for error messages),
/// for data at `path` (a folder or a file; `classes.txt` is looked for in the folder, or beside
/// the file). With a `classes.txt`, every label must have a name. Without one, a path that
/// mentions "fashion" gets Fashion-MNIST's names and anything else the label numbers (at least
/// ten: the digits).
pub fn names_for_labels(path: &Path, label_files: &[(PathBuf, &[u8])]) -> Result<Vec<String>> {
    let dir = if path.is_dir() {
        path.to_path_buf()
    } else {
        path.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    let max_label = label_files
        .iter()
        .flat_map(|(_, labels)| labels.iter().copied())
        .max()
        .map_or(0, usize::from);
    if let Some(names) = read_classes_txt(&dir.join("classes.txt"))? {
        for (file, labels) in label_files {
            if let Some((index, &label)) = labels
                .iter()
                .enumerate()
                .find(|&(_, &l)| usize::from(l) >= names.len())
            {
                return Err(DataError::LabelOutOfRange {
                    path: file.clone(),
                    index,
                    label,
                    max: names.len(),
                });
            }
        }
        return Ok(names);
    }
    let mut names = numbers((max_label + 1).max(10));
    if is_fashion(path) {
        for (name, fashion) in names.iter_mut().zip(FASHION_CLASSES) {
            *name = fashion.to_string();
        }
    }
    Ok(names)
}

/// Whether the path mentions Fashion-MNIST (any case).
pub fn is_fashion(path: &Path) -> bool {
    let full = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    full.to_string_lossy().to_lowercase().contains("fashion")
}

/// The labels that occur in any of `splits`, ascending.
pub fn present(splits: &[&[u8]]) -> Vec<u8> {
    let mut seen = [false; MAX_CLASSES];
    for labels in splits {
        for &l in *labels {
            seen[usize::from(l)] = true;
        }
    }
    (0..=255u8).filter(|&l| seen[usize::from(l)]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn present_lists_only_labels_that_occur() {
        assert_eq!(present(&[&[0, 200, 1], &[1, 0]]), vec![0, 1, 200]);
        assert!(present(&[]).is_empty());
    }

    #[test]
    fn classes_txt_names_and_checks_labels() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("classes.txt"), "cat\n\ndog\n\n").unwrap();
        let labels = [0u8, 2];
        let names = names_for_labels(dir.path(), &[(dir.path().join("l"), &labels)]).unwrap();
        assert_eq!(names, ["cat", "1", "dog"]);
        let bad = [3u8];
        let err = names_for_labels(dir.path(), &[(dir.path().join("l"), &bad)]).unwrap_err();
        assert!(err.to_string().contains("label 3"), "{err}");
    }
}
