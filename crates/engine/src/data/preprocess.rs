//! Turning a user's own picture into an MNIST-style input: decode with limits, grayscale,
//! invert a light background, crop to the ink's bounding box, scale the longer side to 20 px
//! keeping the aspect ratio, and centre by centre of mass in a 28×28 frame. Every step's image
//! is kept so the Denoise panel can show what the network really receives.
//!
//! This module owns decoding user pictures safely (size, memory and file-size limits are set
//! before any pixel is decoded, so a huge or hostile file is a clear error, never a panic or a
//! huge allocation), converting them to grey, the preprocessing pipeline itself, and writing
//! grey images back as PNG.

use std::io::{Cursor, Read, Write};
use std::path::Path;

use image::codecs::png::PngEncoder;
use image::error::LimitErrorKind;
use image::metadata::Orientation;
use image::{
    DynamicImage, ExtendedColorType, ImageDecoder, ImageEncoder, ImageError, ImageReader, Limits,
};

use super::{DataError, Result};
use crate::SIDE;

/// The largest width or height accepted, and the decoder's memory limit.
pub const MAX_SIDE: u32 = 8192;
pub const MAX_ALLOC_BYTES: u64 = 256 * 1024 * 1024;
/// The largest picture file [`load`] reads.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// The side of the box the ink is scaled into (MNIST: 20 px inside the 28 px frame).
pub const INK_BOX: usize = 20;
/// Pixels below this fraction of the brightest ink (after the background is removed) are
/// background.
pub const INK_THRESHOLD: f32 = 0.1;

const UNREADABLE: &str = "not an image Bottleneck can read (PNG, JPEG, BMP, GIF, WebP)";

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
///
/// Transparent pixels are composited over white (ink drawn on a transparent canvas reads as
/// ink on paper) and the EXIF orientation of photos is applied.
pub fn decode(bytes: &[u8], path: &Path) -> Result<Gray> {
    let error = |message: String| DataError::Image {
        path: path.to_path_buf(),
        message,
    };
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| error(format!("could not read the file: {e}")))?;
    if reader.format().is_none() {
        return Err(error(UNREADABLE.into()));
    }
    // Limits first: the decoder checks the dimensions against them as soon as it has read the
    // header, before it allocates anything for the pixels.
    reader.limits(limits());
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| error(describe(e, bytes)))?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(error(format!(
            "the image is {width}×{height}: it has no pixels"
        )));
    }
    let needed = decoder.total_bytes();
    if needed > MAX_ALLOC_BYTES {
        return Err(error(format!(
            "decoding this {width}×{height} image would need {} MiB, more than the {} MiB limit",
            needed.div_ceil(1 << 20),
            MAX_ALLOC_BYTES >> 20
        )));
    }
    // What is left of the memory budget once the output buffer is counted.
    let mut remaining = limits();
    remaining
        .reserve(needed)
        .and_then(|()| decoder.set_limits(remaining))
        .map_err(|e| error(describe(e, bytes)))?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| error(describe(e, bytes)))?;
    image.apply_orientation(orientation);
    Ok(to_gray(&image))
}

/// Reads and decodes an image file (see [`decode`]). Files over [`MAX_FILE_BYTES`] are refused
/// before they are read.
pub fn load(path: &Path) -> Result<Gray> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        error: source,
    };
    let too_big = |len: u64| DataError::Image {
        path: path.to_path_buf(),
        message: format!(
            "the file is {} MiB, larger than the {} MiB limit for pictures",
            len.div_ceil(1 << 20),
            MAX_FILE_BYTES >> 20
        ),
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    if len > MAX_FILE_BYTES {
        return Err(too_big(len));
    }
    let mut bytes = Vec::new();
    // The file may grow between the size check and the read: never read past the limit.
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big(bytes.len() as u64));
    }
    decode(&bytes, path)
}

/// Runs the MNIST-style pipeline on a decoded grey image.
///
/// Steps: "original (grey)"; "inverted" when the border is mostly light (median > 0.5), so
/// the ink becomes light on dark; "cropped": the background level (the border's median) is
/// subtracted, the ink stretched so its maximum is 1, pixels under [`INK_THRESHOLD`] set to 0,
/// and the image cropped to the ink's bounding box; "scaled to 20 px": the longer side scaled
/// to [`INK_BOX`] keeping the aspect ratio (area averaging when shrinking, linear
/// interpolation when enlarging); "centred 28×28": placed so the centre of mass (pixel `i`
/// spanning `[i, i + 1)`) lands at (14, 14), shifted by whole pixels and clipped, then
/// normalised so the maximum is 1. An image without ink gives an all-zero 28×28 (and no
/// "cropped" or "scaled" steps). Never panics, whatever the input (inconsistent sizes and
/// NaN pixels are treated as no ink).
pub fn preprocess(image: &Gray) -> Preprocessed {
    let mut work = sanitized(image);
    let mut steps = vec![Step {
        name: "original (grey)",
        image: work.clone(),
    }];
    if border_median(&work) > 0.5 {
        work.pixels.iter_mut().for_each(|v| *v = 1.0 - *v);
        steps.push(Step {
            name: "inverted",
            image: work.clone(),
        });
    }
    let finish = |mut steps: Vec<Step>, pixels: Vec<f32>| {
        steps.push(Step {
            name: "centred 28×28",
            image: Gray {
                width: SIDE,
                height: SIDE,
                pixels: pixels.clone(),
            },
        });
        Preprocessed { steps, pixels }
    };

    level(&mut work);
    let Some(cropped) = crop_to_ink(&work) else {
        return finish(steps, vec![0.0; SIDE * SIDE]);
    };
    let long = cropped.width.max(cropped.height);
    let scaled_side = |n: usize| ((n * INK_BOX + long / 2) / long).clamp(1, INK_BOX);
    let scaled = resample(
        &cropped,
        scaled_side(cropped.width),
        scaled_side(cropped.height),
    );
    steps.push(Step {
        name: "cropped",
        image: cropped,
    });
    let mut pixels = centre(&scaled);
    steps.push(Step {
        name: "scaled to 20 px",
        image: scaled,
    });
    normalise_max(&mut pixels);
    finish(steps, pixels)
}

/// Writes a grey image in [0, 1] as an 8-bit PNG.
pub fn save_png(image: &Gray, path: &Path) -> Result<()> {
    let error = |message: String| DataError::Image {
        path: path.to_path_buf(),
        message,
    };
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        error: source,
    };
    let (w, h) = (image.width, image.height);
    if w == 0 || h == 0 || w.checked_mul(h) != Some(image.pixels.len()) {
        return Err(error(format!(
            "cannot save a {w}×{h} image holding {} pixels",
            image.pixels.len()
        )));
    }
    let (Ok(w32), Ok(h32)) = (u32::try_from(w), u32::try_from(h)) else {
        return Err(error(format!("{w}×{h} is too large for a PNG")));
    };
    // NaN becomes 0 (a float-to-int cast saturates and maps NaN to 0).
    let bytes: Vec<u8> = image
        .pixels
        .iter()
        .map(|&v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect();
    let file = std::fs::File::create(path).map_err(io)?;
    let mut out = std::io::BufWriter::new(file);
    PngEncoder::new(&mut out)
        .write_image(&bytes, w32, h32, ExtendedColorType::L8)
        .map_err(|e| match e {
            ImageError::IoError(source) => io(source),
            other => error(format!("could not encode the PNG: {other}")),
        })?;
    out.flush().map_err(io)
}

/// The decoder limits: [`MAX_SIDE`] on each side and [`MAX_ALLOC_BYTES`] of memory.
fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC_BYTES);
    limits
}

/// A sentence saying why decoding failed.
fn describe(e: ImageError, bytes: &[u8]) -> String {
    match e {
        ImageError::Limits(l) => match l.kind() {
            LimitErrorKind::DimensionError => match probe_dimensions(bytes) {
                Some((w, h)) => {
                    format!("image is {w}×{h}, larger than the {MAX_SIDE}×{MAX_SIDE} limit")
                }
                None => format!("image is larger than the {MAX_SIDE}×{MAX_SIDE} limit"),
            },
            LimitErrorKind::InsufficientMemory => format!(
                "decoding it would need more than the {} MiB memory limit",
                MAX_ALLOC_BYTES >> 20
            ),
            _ => format!("the image exceeds a decoding limit: {l}"),
        },
        ImageError::Unsupported(u) => format!("{UNREADABLE}: {u}"),
        ImageError::Decoding(d) => format!("the file is truncated or corrupt: {d}"),
        ImageError::IoError(io) => format!("the file is truncated or corrupt: {io}"),
        other => format!("could not decode the image: {other}"),
    }
}

/// The dimensions in the header of an image refused for its size (for the error message).
/// The memory limit still applies; only the side limits are lifted.
fn probe_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .ok()?;
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_ALLOC_BYTES);
    reader.limits(limits);
    reader.into_dimensions().ok()
}

/// Grey in [0, 1] from any decoded image; alpha is composited over white.
fn to_gray(image: &DynamicImage) -> Gray {
    let u8n = |v: u8| f32::from(v) / 255.0;
    let u16n = |v: u16| f32::from(v) / 65535.0;
    let f32n = |v: f32| v;
    let pixels = match image {
        DynamicImage::ImageLuma8(b) => grey_from(b.as_raw(), 1, u8n),
        DynamicImage::ImageLumaA8(b) => grey_from(b.as_raw(), 2, u8n),
        DynamicImage::ImageRgb8(b) => grey_from(b.as_raw(), 3, u8n),
        DynamicImage::ImageRgba8(b) => grey_from(b.as_raw(), 4, u8n),
        DynamicImage::ImageLuma16(b) => grey_from(b.as_raw(), 1, u16n),
        DynamicImage::ImageLumaA16(b) => grey_from(b.as_raw(), 2, u16n),
        DynamicImage::ImageRgb16(b) => grey_from(b.as_raw(), 3, u16n),
        DynamicImage::ImageRgba16(b) => grey_from(b.as_raw(), 4, u16n),
        DynamicImage::ImageRgb32F(b) => grey_from(b.as_raw(), 3, f32n),
        DynamicImage::ImageRgba32F(b) => grey_from(b.as_raw(), 4, f32n),
        other => grey_from(other.to_rgba8().as_raw(), 4, u8n),
    };
    Gray {
        width: image.width() as usize,
        height: image.height() as usize,
        pixels,
    }
}

/// Interleaved samples (grey, grey+alpha, RGB or RGBA) to grey over a white background.
fn grey_from<T: Copy>(raw: &[T], channels: usize, norm: impl Fn(T) -> f32) -> Vec<f32> {
    let unit = |v: T| {
        let v = norm(v);
        if v.is_nan() {
            0.0
        } else {
            v.clamp(0.0, 1.0)
        }
    };
    // Rec. 709 luma, as the image crate uses.
    let luma = |c: &[T]| 0.2126 * unit(c[0]) + 0.7152 * unit(c[1]) + 0.0722 * unit(c[2]);
    raw.chunks_exact(channels)
        .map(|c| {
            let (grey, alpha) = match channels {
                1 => (unit(c[0]), 1.0),
                2 => (unit(c[0]), unit(c[1])),
                3 => (luma(c), 1.0),
                _ => (luma(c), unit(c[3])),
            };
            (alpha * grey + (1.0 - alpha)).clamp(0.0, 1.0)
        })
        .collect()
}

/// A copy with consistent dimensions and values in [0, 1]: NaN becomes 0, and a size that
/// does not match the pixels becomes an empty image.
pub(crate) fn sanitized(image: &Gray) -> Gray {
    let consistent = image.width.checked_mul(image.height) == Some(image.pixels.len());
    if !consistent || image.pixels.is_empty() {
        return Gray {
            width: 0,
            height: 0,
            pixels: Vec::new(),
        };
    }
    Gray {
        width: image.width,
        height: image.height,
        pixels: image
            .pixels
            .iter()
            .map(|&v| if v.is_nan() { 0.0 } else { v.clamp(0.0, 1.0) })
            .collect(),
    }
}

/// The median of the pixels on the image's border (0 for an empty image).
pub(crate) fn border_median(image: &Gray) -> f32 {
    let (w, h) = (image.width, image.height);
    if w == 0 || h == 0 {
        return 0.0;
    }
    let px = |x: usize, y: usize| image.pixels[y * w + x];
    let mut border: Vec<f32> = Vec::with_capacity(2 * (w + h));
    for x in 0..w {
        border.push(px(x, 0));
        if h > 1 {
            border.push(px(x, h - 1));
        }
    }
    for y in 1..h.saturating_sub(1) {
        border.push(px(0, y));
        if w > 1 {
            border.push(px(w - 1, y));
        }
    }
    border.sort_by(f32::total_cmp);
    let n = border.len();
    if n % 2 == 1 {
        border[n / 2]
    } else {
        0.5 * (border[n / 2 - 1] + border[n / 2])
    }
}

/// Removes the background level, stretches the ink to a maximum of 1 and zeroes what is below
/// [`INK_THRESHOLD`]. An image without contrast becomes all zeros.
fn level(image: &mut Gray) {
    let background = border_median(image);
    let max = image.pixels.iter().copied().fold(0.0f32, f32::max);
    let range = max - background;
    if range <= 1e-3 {
        image.pixels.iter_mut().for_each(|v| *v = 0.0);
        return;
    }
    for v in image.pixels.iter_mut() {
        let x = ((*v - background) / range).clamp(0.0, 1.0);
        *v = if x > INK_THRESHOLD { x } else { 0.0 };
    }
}

/// The image cropped to the bounding box of its non-zero pixels, or `None` without any.
fn crop_to_ink(image: &Gray) -> Option<Gray> {
    let w = image.width;
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for (i, &v) in image.pixels.iter().enumerate() {
        if v > 0.0 {
            let (x, y) = (i % w, i / w);
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
    }
    if x0 == usize::MAX {
        return None;
    }
    let (cw, ch) = (x1 - x0 + 1, y1 - y0 + 1);
    let mut pixels = Vec::with_capacity(cw * ch);
    for y in y0..=y1 {
        pixels.extend_from_slice(&image.pixels[y * w + x0..=y * w + x1]);
    }
    Some(Gray {
        width: cw,
        height: ch,
        pixels,
    })
}

/// For each output index along one axis: the first input index and the weights (summing to 1)
/// of the input pixels it averages. Each output pixel averages the input over a window as wide
/// as one output pixel (area averaging) or, when enlarging, one input pixel wide (which is
/// linear interpolation between pixel centres).
fn axis_weights(n_in: usize, n_out: usize) -> Vec<(usize, Vec<f32>)> {
    let ratio = n_in as f64 / n_out as f64;
    let half = ratio.max(1.0) / 2.0;
    (0..n_out)
        .map(|o| {
            let centre = (o as f64 + 0.5) * ratio;
            let lo = (centre - half).max(0.0);
            let hi = (centre + half).min(n_in as f64);
            let first = (lo.floor() as usize).min(n_in - 1);
            let last = (hi.ceil() as usize).clamp(first + 1, n_in);
            let mut weights: Vec<f64> = (first..last)
                .map(|j| (hi.min(j as f64 + 1.0) - lo.max(j as f64)).max(0.0))
                .collect();
            let total: f64 = weights.iter().sum();
            if total > 0.0 {
                weights.iter_mut().for_each(|w| *w /= total);
            } else {
                weights = vec![1.0];
            }
            (first, weights.into_iter().map(|w| w as f32).collect())
        })
        .collect()
}

/// Separable resampling to `width`×`height` (see [`axis_weights`]). `src` must not be empty.
pub(crate) fn resample(src: &Gray, width: usize, height: usize) -> Gray {
    let wx = axis_weights(src.width, width);
    let wy = axis_weights(src.height, height);
    // Rows first: src.height × width.
    let mut rows = vec![0.0f32; src.height * width];
    for (row_in, row_out) in src
        .pixels
        .chunks_exact(src.width)
        .zip(rows.chunks_exact_mut(width))
    {
        for (out, (first, weights)) in row_out.iter_mut().zip(&wx) {
            *out = weights
                .iter()
                .zip(&row_in[*first..])
                .map(|(w, v)| w * v)
                .sum();
        }
    }
    // Then columns: height × width.
    let mut pixels = vec![0.0f32; height * width];
    for (row_out, (first, weights)) in pixels.chunks_exact_mut(width).zip(&wy) {
        for (k, &w) in weights.iter().enumerate() {
            let row_in = &rows[(first + k) * width..(first + k + 1) * width];
            for (o, &v) in row_out.iter_mut().zip(row_in) {
                *o += w * v;
            }
        }
    }
    pixels.iter_mut().for_each(|v| *v = v.clamp(0.0, 1.0));
    Gray {
        width,
        height,
        pixels,
    }
}

/// The centre of mass of an image, pixel `i` spanning `[i, i + 1)`; `None` without mass.
pub fn centre_of_mass(image: &Gray) -> Option<(f64, f64)> {
    let (mut mass, mut sx, mut sy) = (0.0f64, 0.0f64, 0.0f64);
    for (i, &v) in image.pixels.iter().enumerate() {
        let v = f64::from(v);
        let (x, y) = (i % image.width, i / image.width);
        mass += v;
        sx += v * (x as f64 + 0.5);
        sy += v * (y as f64 + 0.5);
    }
    (mass > 0.0).then(|| (sx / mass, sy / mass))
}

/// Places `src` in a 28×28 frame so its centre of mass lands at (14, 14), shifting by whole
/// pixels and clipping what falls outside.
fn centre(src: &Gray) -> Vec<f32> {
    let mut out = vec![0.0f32; SIDE * SIDE];
    let Some((cx, cy)) = centre_of_mass(src) else {
        return out;
    };
    let mid = SIDE as f64 / 2.0;
    let dx = (mid - cx).round() as isize;
    let dy = (mid - cy).round() as isize;
    for (i, &v) in src.pixels.iter().enumerate() {
        let x = (i % src.width) as isize + dx;
        let y = (i / src.width) as isize + dy;
        if (0..SIDE as isize).contains(&x) && (0..SIDE as isize).contains(&y) {
            out[y as usize * SIDE + x as usize] = v;
        }
    }
    out
}

/// Scales so the maximum is 1 (MNIST strokes are saturated); all-zero stays all-zero.
fn normalise_max(pixels: &mut [f32]) {
    let max = pixels.iter().copied().fold(0.0f32, f32::max);
    if max > 0.0 {
        pixels.iter_mut().for_each(|v| *v = (*v / max).min(1.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gray(width: usize, height: usize, pixels: Vec<f32>) -> Gray {
        Gray {
            width,
            height,
            pixels,
        }
    }

    #[test]
    fn weights_sum_to_one_and_stay_inside() {
        for (n_in, n_out) in [(4000, 20), (7, 20), (20, 20), (1, 20), (21, 20), (3, 1)] {
            for (first, w) in axis_weights(n_in, n_out) {
                assert!(first + w.len() <= n_in, "{n_in}->{n_out}");
                let total: f32 = w.iter().sum();
                assert!((total - 1.0).abs() < 1e-5, "{n_in}->{n_out}: {total}");
                assert!(w.iter().all(|&x| x >= 0.0));
            }
        }
    }

    #[test]
    fn resampling_preserves_flat_images_and_averages_areas() {
        let flat = gray(40, 10, vec![0.25; 400]);
        let r = resample(&flat, 20, 5);
        assert!(r.pixels.iter().all(|&v| (v - 0.25).abs() < 1e-6));
        // 2×1 → 1×1 is the mean.
        let r = resample(&gray(2, 1, vec![0.0, 1.0]), 1, 1);
        assert!((r.pixels[0] - 0.5).abs() < 1e-6);
        // Enlarging interpolates between pixel centres.
        let r = resample(&gray(2, 1, vec![0.0, 1.0]), 4, 1);
        assert_eq!(r.pixels[0], 0.0);
        assert!((r.pixels[1] - 0.25).abs() < 1e-6);
        assert!((r.pixels[2] - 0.75).abs() < 1e-6);
        assert_eq!(r.pixels[3], 1.0);
    }

    #[test]
    fn border_median_looks_at_the_border_only() {
        let mut img = gray(5, 5, vec![1.0; 25]);
        img.pixels[12] = 0.0;
        assert_eq!(border_median(&img), 1.0);
        assert_eq!(border_median(&gray(1, 1, vec![0.3])), 0.3);
        assert_eq!(border_median(&gray(0, 0, vec![])), 0.0);
    }

    #[test]
    fn centring_puts_the_centre_of_mass_in_the_middle() {
        // A 3×3 blob in the corner of a 20×20 image.
        let mut px = vec![0.0f32; 400];
        for y in 0..3 {
            for x in 0..3 {
                px[y * 20 + x] = 1.0;
            }
        }
        let out = centre(&gray(20, 20, px));
        let (cx, cy) = centre_of_mass(&gray(SIDE, SIDE, out)).unwrap();
        assert_eq!((cx, cy), (14.5, 14.5));
    }

    #[test]
    fn limits_are_the_documented_ones() {
        let l = limits();
        assert_eq!(l.max_image_width, Some(MAX_SIDE));
        assert_eq!(l.max_image_height, Some(MAX_SIDE));
        assert_eq!(l.max_alloc, Some(MAX_ALLOC_BYTES));
    }
}
