//! NumPy arrays as a dataset: the `.npy` format read here (magic `\x93NUMPY`, versions 1–3,
//! the Python-dict header with `descr`, `fortran_order` and `shape`; little-endian integers
//! and floats of 1–8 bytes, C order only) and `.npz` archives of them (a zip file, stored or
//! deflated as `np.savez_compressed` writes it).
//!
//! Which arrays are the images and the labels: Keras' `x_train`, `y_train`, `x_test`,
//! `y_test` (what `keras.datasets.mnist.load_data()` caches) are used with their own split;
//! otherwise one array of images (N×28×28, N×784, or N×H×W resized to 28×28) and one of N
//! whole-number labels, split 80/20 like every importer; several candidates are an error
//! listing them, and [`NpzArrays`] names the ones to use. A `.npy` file alone is images
//! without labels: every image gets label 0, one class "all". Pixel values: `uint8` are
//! 0–255; other types are taken as 0–1 unless a value exceeds 1.5, then as 0–255.
//!
//! A header is checked before any data is read: a shape whose size overflows, or that
//! claims more data than the file holds or than [`MAX_ARRAY_BYTES`], is an error naming
//! the file, never a large allocation.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::dataset::{resize_all, stratified_split, DatasetSource, Split};
use super::options::NpzArrays;
use super::{DataError, Dataset, Result};

/// The largest array read (1 GiB of data, like the largest CSV file).
pub const MAX_ARRAY_BYTES: u64 = 1 << 30;
/// The longest header accepted (numpy writes about a hundred bytes).
pub const MAX_HEADER_BYTES: usize = 1 << 16;
/// The most arrays read from one `.npz` file.
pub const MAX_ARRAYS: usize = 1024;

const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// The element types read (all little-endian).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    U64,
    I64,
    F32,
    F64,
}

impl Dtype {
    /// From a `descr` such as `|u1` or `<f4`; `Err` says why not.
    fn parse(descr: &str) -> std::result::Result<Dtype, String> {
        let supported = "supported: u1, i1, <u2, <i2, <u4, <i4, <u8, <i8, <f4, <f8";
        let (order, code) = match descr.chars().next() {
            Some(c @ ('<' | '>' | '|' | '=')) => (c, &descr[1..]),
            _ => ('|', descr),
        };
        let t = match code {
            "u1" => Dtype::U8,
            "i1" => Dtype::I8,
            "u2" => Dtype::U16,
            "i2" => Dtype::I16,
            "u4" => Dtype::U32,
            "i4" => Dtype::I32,
            "u8" => Dtype::U64,
            "i8" => Dtype::I64,
            "f4" => Dtype::F32,
            "f8" => Dtype::F64,
            _ => return Err(format!("data type '{descr}' is not read ({supported})")),
        };
        let big_endian = order == '>' || (order == '=' && cfg!(target_endian = "big"));
        if big_endian && t.size() > 1 {
            return Err(format!(
                "data type '{descr}' is big-endian; save it little-endian (e.g. \
                 a.astype('<{code}')) ({supported})"
            ));
        }
        Ok(t)
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::U8 | Dtype::I8 => 1,
            Dtype::U16 | Dtype::I16 => 2,
            Dtype::U32 | Dtype::I32 | Dtype::F32 => 4,
            Dtype::U64 | Dtype::I64 | Dtype::F64 => 8,
        }
    }

    /// numpy's name: "uint8", "float32", …
    pub fn name(self) -> &'static str {
        match self {
            Dtype::U8 => "uint8",
            Dtype::I8 => "int8",
            Dtype::U16 => "uint16",
            Dtype::I16 => "int16",
            Dtype::U32 => "uint32",
            Dtype::I32 => "int32",
            Dtype::U64 => "uint64",
            Dtype::I64 => "int64",
            Dtype::F32 => "float32",
            Dtype::F64 => "float64",
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, Dtype::F32 | Dtype::F64)
    }
}

/// One array as stored: its name (in an `.npz`, the entry without `.npy`), type, shape and
/// little-endian bytes in C order.
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    pub name: String,
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    pub data: Vec<u8>,
}

impl Array {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len() / self.dtype.size()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Every element as f64, in order.
    pub fn values(&self) -> Box<dyn Iterator<Item = f64> + '_> {
        fn le<const N: usize>(c: &[u8]) -> [u8; N] {
            let mut a = [0u8; N];
            a.copy_from_slice(c);
            a
        }
        let d = &self.data;
        match self.dtype {
            Dtype::U8 => Box::new(d.iter().map(|&b| f64::from(b))),
            Dtype::I8 => Box::new(d.iter().map(|&b| f64::from(b as i8))),
            Dtype::U16 => Box::new(
                d.chunks_exact(2)
                    .map(|c| f64::from(u16::from_le_bytes(le(c)))),
            ),
            Dtype::I16 => Box::new(
                d.chunks_exact(2)
                    .map(|c| f64::from(i16::from_le_bytes(le(c)))),
            ),
            Dtype::U32 => Box::new(
                d.chunks_exact(4)
                    .map(|c| f64::from(u32::from_le_bytes(le(c)))),
            ),
            Dtype::I32 => Box::new(
                d.chunks_exact(4)
                    .map(|c| f64::from(i32::from_le_bytes(le(c)))),
            ),
            Dtype::U64 => Box::new(d.chunks_exact(8).map(|c| u64::from_le_bytes(le(c)) as f64)),
            Dtype::I64 => Box::new(d.chunks_exact(8).map(|c| i64::from_le_bytes(le(c)) as f64)),
            Dtype::F32 => Box::new(
                d.chunks_exact(4)
                    .map(|c| f64::from(f32::from_le_bytes(le(c)))),
            ),
            Dtype::F64 => Box::new(d.chunks_exact(8).map(|c| f64::from_le_bytes(le(c)))),
        }
    }

    /// "x_train (60000, 28, 28) uint8", for messages.
    pub fn describe(&self) -> String {
        format!(
            "{} {} {}",
            self.name,
            shape_text(&self.shape),
            self.dtype.name()
        )
    }

    /// The image count, height and width if this array holds images: N×H×W (sides 1–256)
    /// or N×784.
    pub fn image_shape(&self) -> Option<(usize, usize, usize)> {
        match self.shape[..] {
            [n, h, w]
                if (1..=super::csv::MAX_SIDE).contains(&h)
                    && (1..=super::csv::MAX_SIDE).contains(&w) =>
            {
                Some((n, h, w))
            }
            [n, p] if p == crate::PIXELS => Some((n, crate::SIDE, crate::SIDE)),
            _ => None,
        }
    }

    /// The label count if this array could hold labels: one dimension of whole numbers.
    pub fn label_count(&self) -> Option<usize> {
        match self.shape[..] {
            [n] if !self.dtype.is_float() => Some(n),
            _ => None,
        }
    }
}

/// "(60000, 28, 28)", "(5,)" like Python prints a tuple.
fn shape_text(shape: &[usize]) -> String {
    match shape {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn bad(path: &Path, message: String) -> DataError {
    DataError::BadDims {
        path: path.to_path_buf(),
        message,
    }
}

// ---------------------------------------------------------------- the header

/// The values a header's dict holds.
#[derive(Debug, PartialEq)]
enum Value {
    Str(String),
    Bool(bool),
    Tuple(Vec<usize>),
}

/// A tiny reader of the Python literal numpy writes: `{'descr': '<f4', 'fortran_order':
/// False, 'shape': (3, 784), }`.
struct Literal<'a> {
    s: &'a [u8],
    at: usize,
}

impl Literal<'_> {
    fn skip_space(&mut self) {
        while self.s.get(self.at).is_some_and(|b| b.is_ascii_whitespace()) {
            self.at += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        self.skip_space();
        if self.s.get(self.at) == Some(&b) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, b: u8) -> std::result::Result<(), String> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(format!(
                "expected '{}' at character {} of the header",
                b as char, self.at
            ))
        }
    }

    fn string(&mut self) -> std::result::Result<String, String> {
        self.skip_space();
        let quote = match self.s.get(self.at) {
            Some(&q @ (b'\'' | b'"')) => q,
            _ => return Err(format!("expected a string at character {}", self.at)),
        };
        let start = self.at + 1;
        let len = self.s[start..]
            .iter()
            .position(|&b| b == quote)
            .ok_or("a string in the header is not closed")?;
        self.at = start + len + 1;
        Ok(String::from_utf8_lossy(&self.s[start..start + len]).into_owned())
    }

    fn value(&mut self) -> std::result::Result<Value, String> {
        self.skip_space();
        let rest = &self.s[self.at..];
        for (word, v) in [(&b"True"[..], true), (&b"False"[..], false)] {
            if rest.starts_with(word) {
                self.at += word.len();
                return Ok(Value::Bool(v));
            }
        }
        match rest.first() {
            Some(b'\'' | b'"') => self.string().map(Value::Str),
            Some(b'(') => {
                self.at += 1;
                let mut dims = Vec::new();
                while !self.eat(b')') {
                    self.skip_space();
                    let digits = self.s[self.at..]
                        .iter()
                        .take_while(|b| b.is_ascii_digit())
                        .count();
                    let text =
                        std::str::from_utf8(&self.s[self.at..self.at + digits]).unwrap_or_default();
                    let d: usize = text.parse().map_err(|_| {
                        format!(
                            "the shape holds something other than a whole number at character {}",
                            self.at
                        )
                    })?;
                    self.at += digits;
                    dims.push(d);
                    if dims.len() > 32 {
                        return Err("the shape has more than 32 dimensions".into());
                    }
                    if !self.eat(b',') {
                        self.expect(b')')?;
                        break;
                    }
                }
                Ok(Value::Tuple(dims))
            }
            _ => Err(format!(
                "unexpected value at character {} of the header",
                self.at
            )),
        }
    }

    fn dict(&mut self) -> std::result::Result<Vec<(String, Value)>, String> {
        self.expect(b'{')?;
        let mut entries = Vec::new();
        while !self.eat(b'}') {
            let key = self.string()?;
            self.expect(b':')?;
            entries.push((key, self.value()?));
            if entries.len() > 16 {
                return Err("the header has too many entries".into());
            }
            if !self.eat(b',') {
                self.expect(b'}')?;
                break;
            }
        }
        Ok(entries)
    }
}

/// A parsed header: type, shape and the number of data bytes it announces.
struct Header {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: u64,
}

/// Reads the magic, version and header of a `.npy` stream (the reader is left at the data).
fn read_header(r: &mut impl Read, path: &Path) -> Result<Header> {
    let short = |what: &str| bad(path, format!("not a .npy array: {what}"));
    let mut pre = [0u8; 8];
    r.read_exact(&mut pre)
        .map_err(|_| short("the file is shorter than the 8-byte preamble"))?;
    if &pre[..6] != MAGIC {
        return Err(short("it does not start with \\x93NUMPY"));
    }
    let header_len = match pre[6] {
        1 => {
            let mut n = [0u8; 2];
            r.read_exact(&mut n)
                .map_err(|_| short("the header length is cut short"))?;
            usize::from(u16::from_le_bytes(n))
        }
        2 | 3 => {
            let mut n = [0u8; 4];
            r.read_exact(&mut n)
                .map_err(|_| short("the header length is cut short"))?;
            u32::from_le_bytes(n) as usize
        }
        v => {
            return Err(bad(
                path,
                format!(".npy format version {v} is not read (expected 1, 2 or 3)"),
            ))
        }
    };
    if header_len > MAX_HEADER_BYTES {
        return Err(bad(
            path,
            format!(
                "the .npy header claims {header_len} bytes, more than the {MAX_HEADER_BYTES} \
                 accepted"
            ),
        ));
    }
    let mut text = vec![0u8; header_len];
    r.read_exact(&mut text).map_err(|_| {
        bad(
            path,
            format!("truncated: the .npy header of {header_len} bytes is cut short"),
        )
    })?;
    let entries = Literal { s: &text, at: 0 }
        .dict()
        .map_err(|e| bad(path, format!("unreadable .npy header: {e}")))?;
    let get = |key: &str| entries.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    let dtype = match get("descr") {
        Some(Value::Str(d)) => Dtype::parse(d).map_err(|e| bad(path, e))?,
        Some(_) => {
            return Err(bad(
                path,
                "the .npy header's 'descr' is a structured type; only plain numbers are read"
                    .into(),
            ))
        }
        None => return Err(bad(path, "the .npy header has no 'descr'".into())),
    };
    match get("fortran_order") {
        Some(Value::Bool(false)) => {}
        Some(Value::Bool(true)) => {
            return Err(bad(
                path,
                "the array is stored in Fortran (column-major) order; save it in C order \
                 (np.ascontiguousarray) to read it"
                    .into(),
            ))
        }
        _ => {
            return Err(bad(
                path,
                "the .npy header has no 'fortran_order' True or False".into(),
            ))
        }
    }
    let shape = match get("shape") {
        Some(Value::Tuple(s)) => s.clone(),
        _ => return Err(bad(path, "the .npy header has no 'shape' tuple".into())),
    };
    let bytes = shape
        .iter()
        .try_fold(dtype.size() as u64, |acc, &d| acc.checked_mul(d as u64))
        .filter(|&b| b <= MAX_ARRAY_BYTES)
        .ok_or_else(|| {
            bad(
                path,
                format!(
                    "the shape {} of {} is more than the {} GiB Bottleneck reads",
                    shape_text(&shape),
                    dtype.name(),
                    MAX_ARRAY_BYTES >> 30
                ),
            )
        })?;
    Ok(Header {
        dtype,
        shape,
        bytes,
    })
}

/// Reads one array from a `.npy` stream. `total` is how many bytes the stream holds (when
/// known), so that a shape claiming more is refused before reading.
fn read_array(r: &mut impl Read, total: Option<u64>, name: String, path: &Path) -> Result<Array> {
    let mut counting = CountingReader { inner: r, n: 0 };
    let h = read_header(&mut counting, path)?;
    let header_len = counting.n;
    let r = counting.inner;
    if let Some(avail) = total
        .map(|t| t.saturating_sub(header_len))
        .filter(|&a| a < h.bytes)
    {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: h.bytes,
            found: avail,
        });
    }
    // Grows with the data actually there: a lying header costs nothing.
    let mut data = Vec::with_capacity(h.bytes.min(1 << 24) as usize);
    r.take(h.bytes + 1)
        .read_to_end(&mut data)
        .map_err(io_error(path))?;
    let found = data.len() as u64;
    if found < h.bytes {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: h.bytes,
            found,
        });
    }
    if found > h.bytes {
        let rest = std::io::copy(&mut r.take(MAX_ARRAY_BYTES), &mut std::io::sink()).unwrap_or(0);
        return Err(DataError::TrailingData {
            path: path.to_path_buf(),
            extra: rest + 1,
        });
    }
    Ok(Array {
        name,
        dtype: h.dtype,
        shape: h.shape,
        data,
    })
}

/// Parses the bytes of a `.npy` file. `path` names it in errors.
pub fn parse_npy(bytes: &[u8], path: &Path) -> Result<Array> {
    read_array(
        &mut &bytes[..],
        Some(bytes.len() as u64),
        array_name(path),
        path,
    )
}

/// The name of the array in a `.npy` file: its stem.
fn array_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> DataError + '_ {
    move |error| DataError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// Reads a `.npy` file.
pub fn read_npy(path: &Path) -> Result<Array> {
    let file = std::fs::File::open(path).map_err(io_error(path))?;
    let len = file.metadata().map_err(io_error(path))?.len();
    let mut r = std::io::BufReader::new(file);
    read_array(&mut r, Some(len), array_name(path), path)
}

/// Counts the bytes read through it.
struct CountingReader<'a, R> {
    inner: &'a mut R,
    n: u64,
}

impl<R: Read> Read for CountingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

/// Parses the bytes of a `.npz` file: every `.npy` entry, in the archive's order. `path`
/// names it in errors, with the entry's name.
pub fn parse_npz(bytes: &[u8], path: &Path) -> Result<Vec<Array>> {
    read_npz_from(std::io::Cursor::new(bytes), path)
}

/// Reads a `.npz` file.
pub fn read_npz(path: &Path) -> Result<Vec<Array>> {
    let file = std::fs::File::open(path).map_err(io_error(path))?;
    read_npz_from(std::io::BufReader::new(file), path)
}

fn read_npz_from(r: impl Read + std::io::Seek, path: &Path) -> Result<Vec<Array>> {
    let zip_error =
        |e: zip::result::ZipError| bad(path, format!("not a readable .npz (zip) archive: {e}"));
    let mut archive = zip::ZipArchive::new(r).map_err(zip_error)?;
    if archive.len() > MAX_ARRAYS {
        return Err(bad(
            path,
            format!(
                "{} entries, more than the {MAX_ARRAYS} arrays accepted",
                archive.len()
            ),
        ));
    }
    let mut arrays = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(zip_error)?;
        let entry_name = entry.name().map_err(zip_error)?.to_string();
        let Some(name) = entry_name.strip_suffix(".npy") else {
            continue;
        };
        let name = name.to_string();
        let inner = path.join(&entry_name);
        // The declared size is only a hint (the reader stops at the real end).
        let array = read_array(&mut entry, None, name, &inner)?;
        arrays.push(array);
    }
    if arrays.is_empty() {
        return Err(bad(path, "the archive holds no .npy arrays".into()));
    }
    Ok(arrays)
}

// ---------------------------------------------------------------- as a dataset

/// Images of an array as 28×28 values in [0, 1], with a note on their scale (and size).
fn images_of(a: &Array, path: &Path, notes: &mut Vec<String>) -> Result<Vec<f32>> {
    let (n, h, w) = a.image_shape().ok_or_else(|| {
        bad(
            path,
            format!(
                "array {} is not images (expected N×28×28 or N×784)",
                a.describe()
            ),
        )
    })?;
    if n == 0 {
        return Err(bad(path, format!("array {} holds no images", a.describe())));
    }
    if n > super::idx::MAX_COUNT {
        return Err(bad(
            path,
            format!(
                "array {} holds more than {} images",
                a.describe(),
                super::idx::MAX_COUNT
            ),
        ));
    }
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in a.values() {
        if !v.is_finite() {
            return Err(bad(
                path,
                format!("array {} holds {v}; pixels must be numbers", a.name),
            ));
        }
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo < 0.0 || hi > 255.0 {
        return Err(bad(
            path,
            format!(
                "array {} holds values from {lo} to {hi}; pixels must be 0–1 or 0–255",
                a.name
            ),
        ));
    }
    let scale = if a.dtype == Dtype::U8 || hi > 1.5 {
        255.0
    } else {
        1.0
    };
    notes.push(if a.dtype == Dtype::U8 {
        format!("{}: {} 0–255, divided by 255.", a.name, a.dtype.name())
    } else if scale > 1.0 {
        format!(
            "{}: {} values up to {hi}, read as 0–255 and divided by 255.",
            a.name,
            a.dtype.name()
        )
    } else if hi > 1.0 {
        format!(
            "{}: {} values up to {hi}, read as 0–1 (values above 1 clipped to 1).",
            a.name,
            a.dtype.name()
        )
    } else {
        format!("{}: {} 0–1, used as they are.", a.name, a.dtype.name())
    });
    let pixels: Vec<f32> = a.values().map(|v| ((v / scale) as f32).min(1.0)).collect();
    if (h, w) != (crate::SIDE, crate::SIDE) {
        notes.push(format!(
            "{}: the images are {h}×{w}: resized to 28×28 (area averaging).",
            a.name
        ));
    }
    Ok(resize_all(&pixels, h, w))
}

/// Labels of an array (whole numbers 0–255).
fn labels_of(a: &Array, path: &Path) -> Result<Vec<u8>> {
    if a.label_count().is_none() {
        return Err(bad(
            path,
            format!(
                "array {} is not labels (expected one dimension of whole numbers)",
                a.describe()
            ),
        ));
    }
    a.values()
        .enumerate()
        .map(|(i, v)| {
            if (0.0..=255.0).contains(&v) {
                Ok(v as u8)
            } else {
                Err(bad(
                    path,
                    format!(
                        "array {}: label {v} at index {i} is not a whole number from 0 to 255",
                        a.name
                    ),
                ))
            }
        })
        .collect()
}

fn list(arrays: &[Array]) -> String {
    arrays
        .iter()
        .map(Array::describe)
        .collect::<Vec<_>>()
        .join(", ")
}

fn find<'a>(arrays: &'a [Array], name: &str, path: &Path) -> Result<&'a Array> {
    arrays.iter().find(|a| a.name == name).ok_or_else(|| {
        bad(
            path,
            format!("no array named '{name}'; the file holds: {}", list(arrays)),
        )
    })
}

/// Which arrays are the images and the labels (see the module docs). Returns the
/// (images, labels) of the training and, with Keras' names, the test split.
type Chosen<'a> = (&'a Array, Option<&'a Array>, Option<(&'a Array, &'a Array)>);

fn choose<'a>(arrays: &'a [Array], pick: &NpzArrays, path: &Path) -> Result<Chosen<'a>> {
    let ask = "name the arrays to use (on the command line: --npz-images NAME --npz-labels NAME)";
    let images_named = pick
        .images
        .as_deref()
        .map(|n| find(arrays, n, path))
        .transpose()?;
    let labels_named = pick
        .labels
        .as_deref()
        .map(|n| find(arrays, n, path))
        .transpose()?;
    if images_named.is_none() && labels_named.is_none() {
        let keras =
            ["x_train", "y_train", "x_test", "y_test"].map(|n| arrays.iter().find(|a| a.name == n));
        if let [Some(xtr), Some(ytr), Some(xte), Some(yte)] = keras {
            return Ok((xtr, Some(ytr), Some((xte, yte))));
        }
    }
    let image_candidates: Vec<&Array> = arrays
        .iter()
        .filter(|a| a.image_shape().is_some())
        .collect();
    let images = match (images_named, &image_candidates[..]) {
        (Some(a), _) => a,
        (None, [one]) => one,
        (None, []) => {
            return Err(bad(
                path,
                format!(
                    "no array of images (N×28×28 or N×784); the file holds: {}",
                    list(arrays)
                ),
            ))
        }
        (None, _) => {
            return Err(bad(
                path,
                format!(
                    "several arrays could be the images: {}; {ask}",
                    list(arrays)
                ),
            ))
        }
    };
    let n = images.shape.first().copied().unwrap_or(0);
    let labels = match labels_named {
        Some(l) => Some(l),
        None => {
            let same_n: Vec<&Array> = arrays
                .iter()
                .filter(|a| a.label_count() == Some(n) && a.name != images.name)
                .collect();
            match same_n[..] {
                [] => None,
                [one] => Some(one),
                _ => {
                    return Err(bad(
                        path,
                        format!(
                            "several arrays could be the labels: {}; {ask}",
                            list(arrays)
                        ),
                    ))
                }
            }
        }
    };
    Ok((images, labels, None))
}

/// Loads a `.npz` or `.npy` file as a dataset, the arrays chosen by `pick` (see the module
/// docs). Returns the dataset and notes for the user.
pub fn load(path: &Path, pick: &NpzArrays) -> Result<(Dataset, Vec<String>)> {
    let npy = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
    let arrays = if npy {
        vec![read_npy(path)?]
    } else {
        read_npz(path)?
    };
    from_arrays(&arrays, pick, path)
}

/// A dataset from arrays already read (`path` is the file they came from).
pub fn from_arrays(
    arrays: &[Array],
    pick: &NpzArrays,
    path: &Path,
) -> Result<(Dataset, Vec<String>)> {
    let (images, labels, test) = choose(arrays, pick, path)?;
    let mut notes = Vec::new();
    let pixels = images_of(images, path, &mut notes)?;
    let n = pixels.len() / crate::PIXELS;
    let check_count = |l: &Array, n: usize, images: &Array| {
        if l.shape.first() == Some(&n) {
            Ok(())
        } else {
            Err(bad(
                path,
                format!(
                    "array {} has {} labels but {} holds {n} images",
                    l.name,
                    l.len(),
                    images.name
                ),
            ))
        }
    };
    let (train, test, label_sets, class_names) = match (labels, test) {
        (Some(l), Some((xte, yte))) => {
            check_count(l, n, images)?;
            let train_labels = labels_of(l, path)?;
            let test_pixels = images_of(xte, path, &mut notes)?;
            let n_test = test_pixels.len() / crate::PIXELS;
            check_count(yte, n_test, xte)?;
            let test_labels = labels_of(yte, path)?;
            notes.push(format!(
                "Keras' arrays: {} training and {} test images, their own split.",
                n, n_test
            ));
            let sets = vec![train_labels.clone(), test_labels.clone()];
            (
                Split::new(pixels, train_labels),
                Split::new(test_pixels, test_labels),
                sets,
                None,
            )
        }
        (Some(l), None) => {
            check_count(l, n, images)?;
            let all = labels_of(l, path)?;
            let (train, test) = stratified_split(&pixels, &all);
            notes.push(format!(
                "Images from {}, labels from {}: split 80/20 by class (the same split every \
                 time).",
                images.name, l.name
            ));
            (train, test, vec![all], None)
        }
        (None, _) => {
            let zeros = vec![0u8; n];
            let (train, test) = stratified_split(&pixels, &zeros);
            notes.push(format!(
                "No labels: every image of {} has label 0 in one class, \"all\"; split 80/20.",
                images.name
            ));
            (train, test, vec![], Some(vec!["all".to_string()]))
        }
    };
    let class_names = match class_names {
        Some(names) => names,
        None => {
            let refs: Vec<(PathBuf, &[u8])> = label_sets
                .iter()
                .map(|l| (path.to_path_buf(), l.as_slice()))
                .collect();
            super::classes::names_for_labels(path, &refs)?
        }
    };
    let name = array_name(path);
    let source = DatasetSource::Dir(std::path::absolute(path).unwrap_or_else(|_| path.into()));
    Ok((
        Dataset::from_parts(name, class_names, train, test, source),
        notes,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(dict: &str) -> Result<Header> {
        let mut bytes = MAGIC.to_vec();
        bytes.extend([1, 0]);
        bytes.extend((dict.len() as u16).to_le_bytes());
        bytes.extend(dict.as_bytes());
        read_header(&mut bytes.as_slice(), Path::new("h.npy"))
    }

    #[test]
    fn headers_parse_like_numpy_writes_them() {
        let h = header("{'descr': '|u1', 'fortran_order': False, 'shape': (3, 28, 28), }   \n")
            .unwrap();
        assert_eq!(
            (h.dtype, h.shape.clone(), h.bytes),
            (Dtype::U8, vec![3, 28, 28], 2352)
        );
        let h = header("{\"shape\": (5,), \"descr\": \"<f8\", \"fortran_order\": False}").unwrap();
        assert_eq!((h.dtype, h.bytes), (Dtype::F64, 40));
        assert_eq!(
            header("{'descr': '<i4', 'fortran_order': False, 'shape': ()}")
                .unwrap()
                .bytes,
            4
        );
        let err = |d: &str| header(d).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            err("{'descr': '>f4', 'fortran_order': False, 'shape': (1,)}").contains("big-endian")
        );
        assert!(err("{'descr': '<c8', 'fortran_order': False, 'shape': (1,)}").contains("'<c8'"));
        assert!(err("{'descr': '<f4', 'fortran_order': True, 'shape': (1,)}").contains("Fortran"));
        assert!(err("{'descr': '<f4', 'fortran_order': False, 'shape': (1, x)}").contains("shape"));
        let huge = err("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296)}");
        assert!(huge.contains("GiB"), "{huge}");
        assert!(err("{'descr': '<f4', 'fortran_order': False").contains("header"));
    }

    #[test]
    fn shapes_print_like_python_tuples() {
        assert_eq!(shape_text(&[5]), "(5,)");
        assert_eq!(shape_text(&[2, 28, 28]), "(2, 28, 28)");
        assert_eq!(shape_text(&[]), "()");
    }
}
