//! CSV datasets in the common (Kaggle) layout: one image per row, the label first (a whole
//! number 0–255), then the pixels row by row (784 for 28×28; any square count is accepted and
//! resized to 28×28 with a note), values 0–255 or 0–1 (0–1 when no value exceeds 1), with or
//! without a header row (a first row whose first cell is not a number). The text is read by the
//! `csv` crate: cells separated by commas, optionally quoted (`"12"`), lines ending in `\n`,
//! `\r\n` or `\r`, a UTF-8 byte-order mark ignored (so a headerless file saved with one keeps
//! its first image); blank lines are skipped and spaces around a cell ignored.
//!
//! A file holding both splits is divided 80/20 (stratified, fixed: the same rows give the same
//! split as the same images read from IDX). A pair `NAME_train.csv` / `NAME_test.csv` (also
//! `-train`/`-test`, or `train.csv`/`test.csv`) is used as the two splits: opening either
//! file, or the folder holding them, finds its partner. Every bad row is an error naming the
//! file, the line and the column.
//!
//! Also plain matrices of numbers, a fixed count per row with an optional header
//! ([`read_matrix`]): the rows and codes the command line's `encode` and `decode` read.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::dataset::{resize_all, stratified_split, DatasetSource, Split};
use super::{DataError, Dataset, Result};

/// The largest CSV file read (1 GiB: Fashion-MNIST's 60,000 training rows are about 130 MB).
pub const MAX_FILE_BYTES: u64 = 1 << 30;
/// The largest image side a row may describe.
pub const MAX_SIDE: usize = 256;

/// Images parsed from one CSV file.
#[derive(Clone, Debug, PartialEq)]
pub struct CsvImages {
    /// Side of the images as stored (28 for MNIST).
    pub side: usize,
    /// Row-major images of `side`×`side` values in [0, 1].
    pub pixels: Vec<f32>,
    pub labels: Vec<u8>,
    /// The first line was a header.
    pub header: bool,
    /// Values were read as 0–1 (none above 1) rather than 0–255.
    pub unit_scale: bool,
}

fn bad(path: &Path, message: String) -> DataError {
    DataError::BadDims {
        path: path.to_path_buf(),
        message,
    }
}

/// One cell without surrounding spaces and quotes (a quote the CSV reader left in place, as in
/// `1, "3"`).
fn cell(raw: &str) -> &str {
    raw.trim().trim_matches('"').trim()
}

/// Records of a CSV text, each with the line it starts on (1-based; a line ends at `\n`, `\r\n`
/// or a lone `\r`). Reading, quoting and line ends are the `csv` crate's; blank lines and lines
/// of spaces are skipped.
struct Records<'a> {
    text: &'a str,
    reader: ::csv::Reader<&'a [u8]>,
    record: ::csv::StringRecord,
    /// Byte offset and line of the last record's start, so lines are counted once.
    counted: (usize, usize),
}

impl<'a> Records<'a> {
    fn new(text: &'a str) -> Self {
        // A byte-order mark is not part of the first cell (csv-core drops it too; stripping it
        // here keeps the byte offsets below relative to `text`).
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let reader = ::csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        Records {
            text,
            reader,
            record: ::csv::StringRecord::new(),
            counted: (0, 1),
        }
    }

    /// The line of the record starting at or after byte `from` (past any empty lines).
    fn line_at(&mut self, from: usize) -> usize {
        let bytes = self.text.as_bytes();
        let from = from.clamp(self.counted.0, bytes.len());
        let start = from
            + bytes[from..]
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .count();
        let span = &bytes[self.counted.0..start];
        let breaks = span
            .iter()
            .enumerate()
            .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && span.get(i + 1) != Some(&b'\n')))
            .count();
        self.counted = (start, self.counted.1 + breaks);
        self.counted.1
    }

    /// The next record that is not blank, with its line; `Err` names the line the reader
    /// stopped on.
    fn next_record(
        &mut self,
    ) -> std::result::Result<Option<(usize, &::csv::StringRecord)>, String> {
        loop {
            let before = self.reader.position().byte() as usize;
            match self.reader.read_record(&mut self.record) {
                Ok(false) => return Ok(None),
                Ok(true) => {}
                Err(e) => {
                    let line = self.line_at(before);
                    return Err(format!("line {line}: {e}"));
                }
            }
            let from = self.record.position().map_or(before, |p| p.byte() as usize);
            let line = self.line_at(from);
            let blank = self.record.len() == 1 && self.record[0].trim().is_empty();
            if !blank {
                return Ok(Some((line, &self.record)));
            }
        }
    }
}

/// Parses a CSV file's text (see the module docs). `path` names the file in errors.
pub fn parse(text: &str, path: &Path) -> Result<CsvImages> {
    let mut records = Records::new(text);
    let mut header = false;
    let mut width = None;
    let mut values: Vec<f32> = Vec::new();
    let mut labels = Vec::new();
    let mut max_value = 0.0f32;
    while let Some((line, cells)) = records.next_record().map_err(|m| bad(path, m))? {
        let first = cell(cells.get(0).unwrap_or(""));
        if width.is_none() && !header && first.parse::<f64>().is_err() {
            header = true;
            continue;
        }
        let w = *width.get_or_insert(cells.len());
        if w == cells.len() && labels.is_empty() {
            let n = w.saturating_sub(1);
            let side = (n as f64).sqrt().round() as usize;
            if n == 0 || side * side != n || side > MAX_SIDE {
                return Err(bad(
                    path,
                    format!(
                        "line {line}: {n} pixel values after the label; expected a square \
                         number such as 784 (28×28), at most {MAX_SIDE}×{MAX_SIDE}"
                    ),
                ));
            }
        }
        if cells.len() != w {
            return Err(bad(
                path,
                format!(
                    "line {line}: {} values, expected {w} (a label and {} pixels, like the first row)",
                    cells.len(),
                    w - 1
                ),
            ));
        }
        let label_text = first;
        let label = label_text.parse::<u8>().map_err(|_| {
            bad(
                path,
                format!(
                    "line {line}, column 1: label '{}' is not a whole number from 0 to 255",
                    shorten(label_text)
                ),
            )
        })?;
        labels.push(label);
        for (col, raw) in cells.iter().skip(1).enumerate() {
            let c = cell(raw);
            let v: f32 = c.parse().map_err(|_| {
                bad(
                    path,
                    format!(
                        "line {line}, column {}: '{}' is not a number",
                        col + 2,
                        shorten(c)
                    ),
                )
            })?;
            if !(0.0..=255.0).contains(&v) {
                return Err(bad(
                    path,
                    format!(
                        "line {line}, column {}: pixel value {c} is outside 0–255",
                        col + 2
                    ),
                ));
            }
            max_value = max_value.max(v);
            values.push(v);
        }
        if labels.len() > super::idx::MAX_COUNT {
            return Err(bad(
                path,
                format!("more than {} rows", super::idx::MAX_COUNT),
            ));
        }
    }
    let Some(w) = width.filter(|_| !labels.is_empty()) else {
        let what = if header {
            "only a header, no rows of data"
        } else {
            "no rows of data"
        };
        return Err(bad(path, what.into()));
    };
    let side = ((w - 1) as f64).sqrt().round() as usize;
    let unit_scale = max_value <= 1.0;
    if !unit_scale {
        values.iter_mut().for_each(|v| *v /= 255.0);
    }
    Ok(CsvImages {
        side,
        pixels: values,
        labels,
        header,
        unit_scale,
    })
}

fn shorten(s: &str) -> String {
    if s.chars().count() > 20 {
        format!("{}…", s.chars().take(20).collect::<String>())
    } else {
        s.to_string()
    }
}

/// Reads and parses a CSV file (at most [`MAX_FILE_BYTES`]).
pub fn read(path: &Path) -> Result<CsvImages> {
    parse(&read_text(path)?, path)
}

/// The text of a file of at most [`MAX_FILE_BYTES`] that must be UTF-8.
fn read_text(path: &Path) -> Result<String> {
    let io = |error| DataError::Io {
        path: path.to_path_buf(),
        error,
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(bad(
            path,
            format!(
                "the file is larger than {} GiB, more than Bottleneck reads",
                MAX_FILE_BYTES >> 30
            ),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        bad(
            path,
            format!(
                "not a text file (byte {} is not UTF-8)",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// Parses a CSV text of numbers, `width` per row (codes, or 784 pixels): a first row whose
/// first cell is not a number is a header and skipped; every value must be a finite number.
/// Returns the rows one after another. No rows, a row of another width or a cell that is not
/// a number is an error naming the row (and its line) and what was expected. `path` names
/// the file in errors.
pub fn parse_matrix(text: &str, path: &Path, width: usize) -> Result<Vec<f32>> {
    if width == 0 {
        return Err(bad(path, "rows of no values were asked for".into()));
    }
    let mut records = Records::new(text);
    let mut values = Vec::new();
    let (mut rows, mut header) = (0usize, false);
    while let Some((line, cells)) = records.next_record().map_err(|m| bad(path, m))? {
        let number = |c: &str| cell(c).parse::<f32>().ok().filter(|v| v.is_finite());
        if rows == 0 && !header && number(cells.get(0).unwrap_or("")).is_none() {
            header = true;
            continue;
        }
        rows += 1;
        if cells.len() != width {
            return Err(bad(
                path,
                format!(
                    "row {rows} (line {line}) has {} values, expected {width}",
                    cells.len()
                ),
            ));
        }
        for (col, raw) in cells.iter().enumerate() {
            let v = number(raw).ok_or_else(|| {
                bad(
                    path,
                    format!(
                        "row {rows} (line {line}), column {}: '{}' is not a number",
                        col + 1,
                        shorten(cell(raw))
                    ),
                )
            })?;
            values.push(v);
        }
    }
    if rows == 0 {
        let what = if header {
            "only a header, no rows of numbers"
        } else {
            "no rows of numbers"
        };
        return Err(bad(path, format!("{what} (expected {width} per row)")));
    }
    Ok(values)
}

/// Reads a CSV file of numbers, `width` per row (see [`parse_matrix`]).
pub fn read_matrix(path: &Path, width: usize) -> Result<Vec<f32>> {
    parse_matrix(&read_text(path)?, path, width)
}

fn is_csv(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

/// The train/test partner names of a file name, if it is one of a pair: returns
/// (train name, test name).
fn pair_names(name: &str) -> Option<(String, String)> {
    let lower = name.to_ascii_lowercase();
    let stem = lower.strip_suffix(".csv")?;
    let orig_stem = &name[..stem.len()];
    for (a, b) in [("train", "test"), ("test", "train")] {
        if let Some(prefix) = stem.strip_suffix(a) {
            let base = &orig_stem[..prefix.len()];
            let ext = &name[stem.len()..];
            let this = format!("{base}{}{ext}", &orig_stem[prefix.len()..]);
            let other = format!("{base}{b}{ext}");
            return Some(if a == "train" {
                (this, other)
            } else {
                (other, this)
            });
        }
    }
    None
}

/// A CSV file in a folder, preferring one of a train/test pair (the train one).
pub(crate) fn find_in_dir(dir: &Path) -> Option<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && is_csv(p))
        .collect();
    files.sort();
    files
        .iter()
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .and_then(pair_names)
                .is_some_and(|(train, _)| p.ends_with(&train))
        })
        .or(files.first())
        .cloned()
}

/// Loads a CSV file (with its partner if it is one of a pair) or a folder's CSV files. Returns
/// the dataset and notes for the user.
pub fn load(path: &Path) -> Result<(Dataset, Vec<String>)> {
    let file = if path.is_dir() {
        find_in_dir(path).ok_or_else(|| DataError::MissingFiles {
            dir: path.to_path_buf(),
            looked_for: "a .csv file".into(),
        })?
    } else {
        path.to_path_buf()
    };
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let pair = pair_names(&name).and_then(|(train, test)| {
        let dir = file.parent().unwrap_or(Path::new("."));
        let (tr, te) = (dir.join(train), dir.join(test));
        (tr.is_file() && te.is_file()).then_some((tr, te))
    });
    let mut notes = Vec::new();
    let (train, test, label_files, side, dataset_name) = if let Some((tr, te)) = pair {
        let a = read(&tr)?;
        let b = read(&te)?;
        if a.side != b.side {
            return Err(bad(
                &te,
                format!(
                    "images are {}×{} but {} holds {}×{}",
                    b.side,
                    b.side,
                    tr.display(),
                    a.side,
                    a.side
                ),
            ));
        }
        if a.unit_scale != b.unit_scale {
            notes.push(
                "The two files use different pixel scales (0–1 and 0–255); each was read as its own."
                    .into(),
            );
        }
        let side = a.side;
        let stem = dataset_stem(&tr);
        let train = Split::new(resize_all(&a.pixels, side, side), a.labels.clone());
        let test = Split::new(resize_all(&b.pixels, side, side), b.labels.clone());
        (
            train,
            test,
            vec![(tr, a.labels), (te, b.labels)],
            side,
            stem,
        )
    } else {
        let a = read(&file)?;
        let side = a.side;
        let (train, test) = stratified_split(&resize_all(&a.pixels, side, side), &a.labels);
        notes.push("One file: split 80/20 by class (the same split every time).".into());
        (
            train,
            test,
            vec![(file.clone(), a.labels)],
            side,
            dataset_stem(&file),
        )
    };
    if side != crate::SIDE {
        notes.push(format!(
            "The images are {side}×{side}: resized to 28×28 (area averaging)."
        ));
    }
    let refs: Vec<(PathBuf, &[u8])> = label_files
        .iter()
        .map(|(p, l)| (p.clone(), l.as_slice()))
        .collect();
    let class_names = super::classes::names_for_labels(&file, &refs)?;
    let source = DatasetSource::Dir(std::path::absolute(&file).unwrap_or(file));
    Ok((
        Dataset::from_parts(dataset_name, class_names, train, test, source),
        notes,
    ))
}

/// "fashion-mnist" for `fashion-mnist_train.csv`.
fn dataset_stem(file: &Path) -> String {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let lower = stem.to_ascii_lowercase();
    for suffix in ["_train", "-train", "_test", "-test"] {
        if lower.ends_with(suffix) && stem.len() > suffix.len() {
            return stem[..stem.len() - suffix.len()].to_string();
        }
    }
    stem
}

/// Writes images (28×28 values in [0, 1], written as 0–255 integers) as CSV with a header.
pub fn write(path: &Path, split: &Split) -> Result<()> {
    use std::io::Write;
    let io = |error| DataError::Io {
        path: path.to_path_buf(),
        error,
    };
    let file = std::fs::File::create(path).map_err(io)?;
    let mut out = std::io::BufWriter::new(file);
    let mut header = String::from("label");
    for i in 1..=crate::PIXELS {
        header.push_str(&format!(",pixel{i}"));
    }
    writeln!(out, "{header}").map_err(io)?;
    for i in 0..split.len() {
        let mut row = split.labels[i].to_string();
        for &v in split.image(i) {
            row.push(',');
            row.push_str(&((v.clamp(0.0, 1.0) * 255.0).round() as u8).to_string());
        }
        writeln!(out, "{row}").map_err(io)?;
    }
    out.flush().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(label: &str, pixels: &[&str]) -> String {
        std::iter::once(label)
            .chain(pixels.iter().copied())
            .collect::<Vec<_>>()
            .join(",")
    }

    #[test]
    fn parses_header_scale_and_side() {
        let text = format!(
            "label,a,b,c,d\n{}\n{}\n",
            row("1", &["0", "255", "0", "0"]),
            row("0", &["0", "0", "51", "0"])
        );
        let c = parse(&text, Path::new("x.csv")).unwrap();
        assert!(c.header && !c.unit_scale);
        assert_eq!(c.side, 2);
        assert_eq!(c.labels, vec![1, 0]);
        assert_eq!(c.pixels[1], 1.0);
        assert!((c.pixels[6] - 0.2).abs() < 1e-6);
        let unit = parse("3,0,0.5,1,0\n", Path::new("u.csv")).unwrap();
        assert!(unit.unit_scale && !unit.header);
        assert_eq!(unit.pixels[1], 0.5);
    }

    #[test]
    fn errors_name_the_line_and_column() {
        let p = Path::new("bad.csv");
        let err = |t: &str| parse(t, p).unwrap_err().to_string();
        let short = err("label,a,b,c,d\n1,0,0,0,0\n2,0,0,0\n");
        assert!(
            short.contains("line 3") && short.contains("4 values"),
            "{short}"
        );
        let nan = err("1,0,0,0,0\n2,0,x7,0,0\n");
        assert!(
            nan.contains("line 2, column 3") && nan.contains("'x7'"),
            "{nan}"
        );
        let big = err("1,0,0,0,0\n2,0,0,0,300\n");
        assert!(
            big.contains("line 2, column 5") && big.contains("300"),
            "{big}"
        );
        let label = err("1,0,0,0,0\n256,0,0,0,0\n");
        assert!(label.contains("line 2, column 1"), "{label}");
        let not_square = err("1,0,0,0\n");
        assert!(not_square.contains("square"), "{not_square}");
        assert!(err("").contains("no rows"));
        assert!(err("label,a\n").contains("only a header"));
        assert!(err("1,0,0,0,-1\n").contains("outside"));
    }

    #[test]
    fn matrices_skip_a_header_and_name_a_row_of_another_width() {
        let p = Path::new("m.csv");
        assert_eq!(
            parse_matrix("z1,z2\n1,2.5\n\n-3,4e-2\n", p, 2).unwrap(),
            [1.0, 2.5, -3.0, 0.04]
        );
        assert_eq!(parse_matrix("1,2\n", p, 2).unwrap(), [1.0, 2.0]);
        let err = |t: &str| parse_matrix(t, p, 2).unwrap_err().to_string();
        let wide = err("z1,z2\n1,2\n1,2,3\n");
        assert!(
            wide.contains("m.csv")
                && wide.contains("row 2 (line 3)")
                && wide.contains("expected 2"),
            "{wide}"
        );
        assert!(err("1,2\n3,x\n").contains("row 2 (line 2), column 2: 'x'"));
        assert!(err("1,2\n3,NaN\n").contains("'NaN'"));
        assert!(err("").contains("no rows"));
        assert!(err("a,b\n").contains("only a header"));
    }

    #[test]
    fn pair_names_find_the_partner() {
        assert_eq!(
            pair_names("fashion-mnist_train.csv"),
            Some((
                "fashion-mnist_train.csv".into(),
                "fashion-mnist_test.csv".into()
            ))
        );
        assert_eq!(
            pair_names("Digits-TEST.CSV"),
            Some(("Digits-train.CSV".into(), "Digits-TEST.CSV".into()))
        );
        assert_eq!(pair_names("letters.csv"), None);
        assert_eq!(
            dataset_stem(Path::new("/a/fashion-mnist_train.csv")),
            "fashion-mnist"
        );
    }
}
