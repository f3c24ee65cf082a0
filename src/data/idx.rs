//! The IDX format (LeCun's MNIST files): a big-endian header (magic 0x0000_08_0R where R is the
//! rank, then R u32 dimensions) followed by unsigned bytes. Files may be gzipped. Every header is
//! checked against limits and against the data actually present before anything is allocated
//! from it, so a corrupt or hostile file is an error, never a panic or a huge allocation.

use std::path::Path;

use super::Result;

/// Images read from an IDX3 file: `count` images of `rows`×`cols` bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxImages {
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
    pub pixels: Vec<u8>,
}

/// Reads an images file (`...-idx3-ubyte`, gzipped or not).
pub fn read_images(path: &Path) -> Result<IdxImages> {
    let _ = path;
    todo!("data helper")
}

/// Reads a labels file (`...-idx1-ubyte`, gzipped or not).
pub fn read_labels(path: &Path) -> Result<Vec<u8>> {
    let _ = path;
    todo!("data helper")
}

/// Parses an images file already in memory; `path` is only used in error messages.
pub fn parse_images(bytes: &[u8], path: &Path) -> Result<IdxImages> {
    let _ = (bytes, path);
    todo!("data helper")
}

/// Parses a labels file already in memory; `path` is only used in error messages.
pub fn parse_labels(bytes: &[u8], path: &Path) -> Result<Vec<u8>> {
    let _ = (bytes, path);
    todo!("data helper")
}

/// Encodes images as an (uncompressed) IDX3 file.
pub fn encode_images(images: &IdxImages) -> Vec<u8> {
    let _ = images;
    todo!("data helper")
}

/// Encodes labels as an (uncompressed) IDX1 file.
pub fn encode_labels(labels: &[u8]) -> Vec<u8> {
    let _ = labels;
    todo!("data helper")
}
