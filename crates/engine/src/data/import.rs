//! Bringing one's own data: which importer reads a [`DatasetSource`] (IDX folder, CSV file or
//! pair, NumPy `.npz`/`.npy` file, image folder), the user's choices for pictures ([`ImportOptions`]), progress and
//! cancellation shared with a UI ([`Progress`]), and what the import has to tell the user
//! besides the dataset ([`Imported`]: notes such as "resized from 32×32", and the files
//! skipped, each with its reason).
//!
//! A folder is read as IDX when it holds MNIST-named IDX files, else as CSV when it holds
//! CSV files, else as an image folder. A `.npz` or `.npy` file is read as NumPy arrays, any
//! other file as CSV.

use super::dataset::{Dataset, DatasetSource};
use super::{DataError, Result};

pub use super::options::{ImportOptions, Imported, NpzArrays, Preprocess, Progress, Skipped};

impl Dataset {
    /// Any source with the default import options (see [`load`] for the
    /// options, progress, notes and skipped files).
    pub fn load(source: &DatasetSource) -> Result<Dataset> {
        load(source, &Default::default(), None).map(|i| i.dataset)
    }
}

/// What kind of data a path holds (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Embedded,
    Idx,
    Csv,
    /// NumPy arrays: a `.npz` or `.npy` file.
    Npy,
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
        let ext = |x: &str| path.extension().is_some_and(|e| e.eq_ignore_ascii_case(x));
        if ext("csv") {
            return Ok(Kind::Csv);
        }
        if ext("npz") || ext("npy") {
            return Ok(Kind::Npy);
        }
        return Err(DataError::Other(format!(
            "{}: not a dataset: choose a folder (IDX files, CSV files, or pictures in one \
             subfolder per class), a .csv file, or a NumPy .npz or .npy file",
            path.display()
        )));
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
    load_picking(source, options, &NpzArrays::default(), progress)
}

/// [`load`], with the arrays of a `.npz` file named (`arrays`; naming them for any other
/// source is an error).
pub fn load_picking(
    source: &DatasetSource,
    options: &ImportOptions,
    arrays: &NpzArrays,
    progress: Option<&Progress>,
) -> Result<Imported> {
    let plain = |dataset: Dataset, notes: Vec<String>| Imported {
        dataset,
        notes,
        skipped: Vec::new(),
    };
    let kind = kind_of(source)?;
    if kind != Kind::Npy && !arrays.is_empty() {
        return Err(DataError::Other(format!(
            "{source}: array names are only for a NumPy .npz file, and this is not one"
        )));
    }
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
        (Kind::Npy, DatasetSource::Dir(p)) => {
            let (d, notes) = super::npy::load(p, arrays)?;
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
