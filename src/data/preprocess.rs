//! Turning a user's own picture into an MNIST-style input: decode with limits, grayscale,
//! invert a light background, crop to the ink's bounding box, scale the longer side to 20 px
//! keeping the aspect ratio, and centre by centre of mass in a 28×28 frame. Every step's image
//! is kept so the Denoise panel can show what the network really receives.

use std::path::Path;

use super::Result;

/// The largest width or height accepted, and the decoder's memory limit.
pub const MAX_SIDE: u32 = 8192;
pub const MAX_ALLOC_BYTES: u64 = 256 * 1024 * 1024;

/// A grey image with values in [0, 1], row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Gray {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<f32>,
}

/// One named stage of preprocessing.
#[derive(Clone, Debug)]
pub struct Step {
    pub name: &'static str,
    pub image: Gray,
}

#[derive(Clone, Debug)]
pub struct Preprocessed {
    /// The stages in order, ending with the final 28×28 image.
    pub steps: Vec<Step>,
    /// The final 28×28 input, light ink on a dark background, values in [0, 1].
    pub pixels: Vec<f32>,
}

/// Decodes an image file's bytes (PNG, JPEG, BMP, GIF, WebP) with size and memory limits.
/// `path` names the file in error messages.
pub fn decode(bytes: &[u8], path: &Path) -> Result<Gray> {
    let _ = (bytes, path);
    todo!("data helper")
}

/// Reads and decodes an image file (see [`decode`]).
pub fn load(path: &Path) -> Result<Gray> {
    let _ = path;
    todo!("data helper")
}

/// Runs the MNIST-style pipeline on a decoded grey image.
pub fn preprocess(image: &Gray) -> Preprocessed {
    let _ = image;
    todo!("data helper")
}

/// Writes a grey image in [0, 1] as an 8-bit PNG.
pub fn save_png(image: &Gray, path: &Path) -> Result<()> {
    let _ = (image, path);
    todo!("data helper")
}
