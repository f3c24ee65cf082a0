//! The IDX format (LeCun's MNIST files): a big-endian header (magic 0x0000_08_0R where R is the
//! rank, then R u32 dimensions) followed by unsigned bytes. Files may be gzipped. Every header is
//! checked against limits and against the data actually present before anything is allocated
//! from it, so a corrupt or hostile file is an error, never a panic or a huge allocation.
//!
//! This module owns reading (plain or gzipped, detected by the gzip magic `1f 8b` whatever the
//! file name) and writing (always uncompressed) of the two IDX flavours MNIST uses: `u8` images
//! of rank 3 and `u8` labels of rank 1.

use std::io::{self, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use super::{DataError, Result};

/// Images read from an IDX3 file: `count` images of `rows`×`cols` bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxImages {
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
    pub pixels: Vec<u8>,
}

/// The largest image side accepted (MNIST is 28; anything above this is a corrupt header).
pub const MAX_SIDE: usize = 4096;
/// The largest number of items (images or labels) accepted in one file.
pub const MAX_COUNT: usize = 10_000_000;
/// The largest amount of pixel data accepted in one file (2 GiB).
pub const MAX_DATA_BYTES: u64 = 2 << 30;

/// The longest header read: magic number and three dimensions.
const MAX_HEADER_BYTES: u64 = 16;
/// The IDX type byte for unsigned bytes, the only element type Bottleneck reads.
const TYPE_U8: u8 = 0x08;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Reads an images file (`...-idx3-ubyte`, gzipped or not).
pub fn read_images(path: &Path) -> Result<IdxImages> {
    parse_images(&read_file(path)?, path)
}

/// Reads a labels file (`...-idx1-ubyte`, gzipped or not).
pub fn read_labels(path: &Path) -> Result<Vec<u8>> {
    parse_labels(&read_file(path)?, path)
}

/// Parses an images file already in memory; `path` is only used in error messages.
pub fn parse_images(bytes: &[u8], path: &Path) -> Result<IdxImages> {
    let (dims, pixels) = parse(bytes, path, Kind::Images)?;
    Ok(IdxImages {
        count: dims[0],
        rows: dims[1],
        cols: dims[2],
        pixels,
    })
}

/// Parses a labels file already in memory; `path` is only used in error messages.
pub fn parse_labels(bytes: &[u8], path: &Path) -> Result<Vec<u8>> {
    let (_, labels) = parse(bytes, path, Kind::Labels)?;
    Ok(labels)
}

/// Encodes images as an (uncompressed) IDX3 file. The header is written from `count`, `rows`
/// and `cols` and followed by `pixels` as they are, so an inconsistent `IdxImages` gives an
/// inconsistent file (handy to build broken fixtures in tests).
pub fn encode_images(images: &IdxImages) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + images.pixels.len());
    out.extend_from_slice(&Kind::Images.magic().to_be_bytes());
    for d in [images.count, images.rows, images.cols] {
        out.extend_from_slice(&dim_u32(d).to_be_bytes());
    }
    out.extend_from_slice(&images.pixels);
    out
}

/// Encodes labels as an (uncompressed) IDX1 file.
pub fn encode_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + labels.len());
    out.extend_from_slice(&Kind::Labels.magic().to_be_bytes());
    out.extend_from_slice(&dim_u32(labels.len()).to_be_bytes());
    out.extend_from_slice(labels);
    out
}

/// A dimension as written in a header (saturating: such a file is rejected when read back).
fn dim_u32(d: usize) -> u32 {
    u32::try_from(d).unwrap_or(u32::MAX)
}

/// Reads a whole file, refusing (without reading it all) one too large to be an IDX file we
/// accept: a header and [`MAX_DATA_BYTES`] of data.
fn read_file(path: &Path) -> Result<Vec<u8>> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        error: source,
    };
    let limit = MAX_DATA_BYTES + MAX_HEADER_BYTES;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(limit + 1).read_to_end(&mut bytes))
        .map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(bad_dims(
            path,
            format!(
                "the file is larger than {} GiB, more than Bottleneck reads",
                MAX_DATA_BYTES >> 30
            ),
        ));
    }
    Ok(bytes)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Images,
    Labels,
}

impl Kind {
    fn rank(self) -> u8 {
        match self {
            Kind::Images => 3,
            Kind::Labels => 1,
        }
    }
    fn magic(self) -> u32 {
        u32::from_be_bytes([0, 0, TYPE_U8, self.rank()])
    }
    fn what(self) -> &'static str {
        match self {
            Kind::Images => "images",
            Kind::Labels => "labels",
        }
    }
}

/// Parses plain or gzipped bytes into the checked dimensions and the data.
fn parse(bytes: &[u8], path: &Path, kind: Kind) -> Result<(Vec<usize>, Vec<u8>)> {
    if bytes.starts_with(&GZIP_MAGIC) {
        parse_stream(MultiGzDecoder::new(bytes), path, kind)
    } else {
        // A byte slice is a reader too: one code path for both, and the slice's length bounds
        // every allocation.
        parse_stream(bytes, path, kind)
    }
}

/// Reads up to `n` bytes (fewer only at the end of the stream).
fn read_up_to(reader: &mut impl Read, n: usize, path: &Path) -> Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(n);
    match reader.by_ref().take(n as u64).read_to_end(&mut buf) {
        // A gzip stream cut short: keep what was there, the caller reports a short header.
        Err(e) if e.kind() != io::ErrorKind::UnexpectedEof => Err(stream_error(e, path)),
        _ => Ok(buf),
    }
}

fn stream_error(source: io::Error, path: &Path) -> DataError {
    DataError::Io {
        path: path.to_path_buf(),
        error: source,
    }
}

fn bad_dims(path: &Path, message: String) -> DataError {
    DataError::BadDims {
        path: path.to_path_buf(),
        message,
    }
}

fn parse_stream(mut reader: impl Read, path: &Path, kind: Kind) -> Result<(Vec<usize>, Vec<u8>)> {
    // Magic number: 0x00 0x00 type rank.
    let magic = read_up_to(&mut reader, 4, path)?;
    if magic.len() < 4 {
        return Err(bad_dims(
            path,
            format!(
                "only {} bytes: too short to be an IDX {} file",
                magic.len(),
                kind.what()
            ),
        ));
    }
    let found = u32::from_be_bytes([magic[0], magic[1], magic[2], magic[3]]);
    if magic[0] != 0 || magic[1] != 0 || magic[2] != TYPE_U8 {
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            what: kind.what(),
            found,
            expected: kind.magic(),
        });
    }
    if magic[3] != kind.rank() {
        return Err(DataError::BadRank {
            path: path.to_path_buf(),
            what: kind.what(),
            found: magic[3],
            expected: kind.rank(),
        });
    }

    // Dimensions.
    let rank = usize::from(kind.rank());
    let raw = read_up_to(&mut reader, 4 * rank, path)?;
    if raw.len() < 4 * rank {
        return Err(bad_dims(
            path,
            format!(
                "the header is cut short: its {} dimensions need {} bytes, the file has {}",
                rank,
                4 * rank,
                raw.len()
            ),
        ));
    }
    let dims: Vec<usize> = raw
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let expected = check_dims(&dims, path, kind)?;

    // Data: read at most one byte more than promised, into a buffer that only grows with what
    // is really there, so a lying header or a decompression bomb cannot make us allocate.
    let mut data = Vec::new();
    let read = reader.by_ref().take(expected + 1).read_to_end(&mut data);
    if let Err(e) = read {
        return Err(if e.kind() == io::ErrorKind::UnexpectedEof {
            // A gzip stream cut short: report it like a truncated plain file.
            DataError::Truncated {
                path: path.to_path_buf(),
                expected,
                found: data.len() as u64,
            }
        } else {
            stream_error(e, path)
        });
    }
    let found = data.len() as u64;
    if found < expected {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected,
            found,
        });
    }
    if found > expected {
        // Count what is left (bounded, so a bomb after the data cannot keep us busy forever).
        let rest = io::copy(&mut reader.take(MAX_DATA_BYTES), &mut io::sink()).unwrap_or(0);
        return Err(DataError::TrailingData {
            path: path.to_path_buf(),
            extra: found - expected + rest,
        });
    }
    Ok((dims, data))
}

/// Checks the header's dimensions against fixed limits; returns the promised number of bytes.
fn check_dims(dims: &[usize], path: &Path, kind: Kind) -> Result<u64> {
    let count = dims[0];
    if count == 0 {
        return Err(bad_dims(
            path,
            format!("the header says it holds no {}", kind.what()),
        ));
    }
    if count > MAX_COUNT {
        return Err(bad_dims(
            path,
            format!(
                "the header claims {count} {}, more than the {MAX_COUNT} Bottleneck accepts",
                kind.what()
            ),
        ));
    }
    for (name, &d) in ["rows", "columns"].iter().zip(&dims[1..]) {
        if d == 0 || d > MAX_SIDE {
            return Err(bad_dims(
                path,
                format!("the header claims {d} {name} per image (expected 1 to {MAX_SIDE})"),
            ));
        }
    }
    let total = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .filter(|&t| t <= MAX_DATA_BYTES);
    total.ok_or_else(|| {
        bad_dims(
            path,
            format!(
                "the header's dimensions {:?} describe more than {} GiB of data",
                dims,
                MAX_DATA_BYTES >> 30
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn sample() -> IdxImages {
        IdxImages {
            count: 3,
            rows: 2,
            cols: 4,
            pixels: (0..24).collect(),
        }
    }

    #[test]
    fn round_trip_plain_and_gzipped() {
        let p = Path::new("x");
        let img = sample();
        let bytes = encode_images(&img);
        assert_eq!(&bytes[..4], &[0, 0, 8, 3]);
        assert_eq!(parse_images(&bytes, p).unwrap(), img);
        assert_eq!(parse_images(&gz(&bytes), p).unwrap(), img);
        let labels = vec![1, 2, 3, 9];
        let bytes = encode_labels(&labels);
        assert_eq!(parse_labels(&bytes, p).unwrap(), labels);
        assert_eq!(parse_labels(&gz(&bytes), p).unwrap(), labels);
    }

    #[test]
    fn header_errors() {
        let p = Path::new("bad.idx");
        assert!(matches!(
            parse_images(&[], p),
            Err(DataError::BadDims { .. })
        ));
        assert!(matches!(
            parse_images(&[0, 0, 9, 3, 0, 0, 0, 1], p),
            Err(DataError::BadMagic { found: 0x0903, .. })
        ));
        assert!(matches!(
            parse_images(&encode_labels(&[1]), p),
            Err(DataError::BadRank {
                found: 1,
                expected: 3,
                ..
            })
        ));
        // Header cut inside the dimensions.
        assert!(matches!(
            parse_images(&[0, 0, 8, 3, 0, 0, 0, 1, 0, 0], p),
            Err(DataError::BadDims { .. })
        ));
        let mut zero_rows = sample();
        zero_rows.rows = 0;
        assert!(matches!(
            parse_images(&encode_images(&zero_rows), p),
            Err(DataError::BadDims { .. })
        ));
    }

    #[test]
    fn truncated_and_trailing() {
        let p = Path::new("t");
        let bytes = encode_images(&sample());
        let err = parse_images(&bytes[..bytes.len() - 5], p).unwrap_err();
        assert!(matches!(
            err,
            DataError::Truncated {
                expected: 24,
                found: 19,
                ..
            }
        ));
        let mut long = bytes.clone();
        long.extend_from_slice(&[7, 7, 7]);
        assert!(matches!(
            parse_images(&long, p),
            Err(DataError::TrailingData { extra: 3, .. })
        ));
        assert!(matches!(
            parse_images(&gz(&long), p),
            Err(DataError::TrailingData { extra: 3, .. })
        ));
        assert!(matches!(
            parse_images(&gz(&bytes[..20]), p),
            Err(DataError::Truncated { found: 4, .. })
        ));
        // A gzip stream cut in the middle.
        let z = gz(&bytes);
        assert!(parse_images(&z[..z.len() / 2], p).is_err());
    }

    #[test]
    fn error_names_the_file() {
        let err = parse_labels(&[1, 2, 3, 4, 5, 6, 7, 8], Path::new("some/labels.gz")).unwrap_err();
        assert!(err.to_string().contains("some/labels.gz"), "{err}");
    }
}
