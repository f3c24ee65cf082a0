//! Lossy compression, counted byte for byte: an autoencoder's code (and PCA's coefficients)
//! quantised to b bits per dimension and packed, against JPEG at qualities 1–95 and lossless
//! PNG on the same 28×28 grey images. [`CodeRanges`] holds per-dimension ranges taken from
//! training codes; a [`Quantizer`] (ranges and b) turns one image's code into exactly
//! ⌈k·b/8⌉ bytes and back; [`jpeg_encode`] / [`png_encode`] count the whole file the `image`
//! crate writes. The rate–distortion sweep ([`autoencoder_points`], [`pca_points`],
//! [`jpeg_points`], [`png_point`], or all of them with [`sweep`]) returns typed [`RdPoint`]s:
//! bytes per image against the test set's MSE and PSNR. [`side_by_side`] decodes a few images
//! with each method at chosen settings. Every decoded image is clamped to [0, 1] (what a codec
//! would display), PSNR is that of the mean per-pixel MSE over the images.
//!
//! The decoder's weights (and PCA's basis, and the quantiser's ranges) are shared by all images
//! and are not in the per-image count; [`decoder_bytes`] says how large they are.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder, ImageFormat};

use super::metrics::{psnr, row_mse};
use super::Pca;
use crate::model::TrainedModel;
use crate::tasks::RunControl;
use crate::{PIXELS, SIDE};

/// The bit depths the sweep measures, and the only ones a [`Quantizer`] accepts.
pub const BITS: [u8; 7] = [2, 3, 4, 5, 6, 7, 8];
/// PCA's code sizes in the sweep (each at every bit depth).
pub const PCA_KS: [usize; 6] = [2, 4, 8, 16, 32, 64];
/// JPEG qualities in the sweep.
pub const JPEG_QUALITIES: [u8; 18] = [
    1, 2, 3, 4, 5, 7, 10, 15, 20, 25, 30, 40, 50, 60, 70, 80, 90, 95,
];

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("{0} bits per dimension is outside 2…8")]
    Bits(u8),
    #[error("JPEG quality {0} is outside 1…95")]
    Quality(u8),
    #[error("no training codes to take the quantiser's ranges from")]
    NoCodes,
    #[error("no images to measure")]
    NoImages,
    #[error("{got} bytes cannot hold a code of {k} values at {bits} bits (needs {need})")]
    ShortCode {
        got: usize,
        need: usize,
        k: usize,
        bits: u8,
    },
    #[error("the model could not encode or decode: {0}")]
    Model(#[from] candle_core::Error),
    #[error("the model's output does not match the images")]
    OutputMismatch,
    #[error("the image codec failed: {0}")]
    Image(#[from] image::ImageError),
    #[error("cancelled")]
    Cancelled,
}

pub type Result<T, E = CodecError> = std::result::Result<T, E>;

/// Per-dimension ranges of codes (k values per image), taken from training codes.
#[derive(Clone, Debug, PartialEq)]
pub struct CodeRanges {
    pub lo: Vec<f32>,
    pub hi: Vec<f32>,
}

impl CodeRanges {
    /// Minimum and maximum of each of the `k` dimensions over `codes` (row-major, k per image;
    /// non-finite values are ignored).
    pub fn fit(codes: &[f32], k: usize) -> Result<CodeRanges> {
        if k == 0 || codes.len() < k {
            return Err(CodecError::NoCodes);
        }
        let mut lo = vec![f32::INFINITY; k];
        let mut hi = vec![f32::NEG_INFINITY; k];
        for row in codes.chunks_exact(k) {
            for (d, &v) in row.iter().enumerate() {
                if v.is_finite() {
                    lo[d] = lo[d].min(v);
                    hi[d] = hi[d].max(v);
                }
            }
        }
        for d in 0..k {
            if lo[d] > hi[d] {
                // Never a finite value: a constant 0.
                (lo[d], hi[d]) = (0.0, 0.0);
            }
        }
        Ok(CodeRanges { lo, hi })
    }

    pub fn k(&self) -> usize {
        self.lo.len()
    }

    /// Size in bytes when stored beside the decoder (two f32 per dimension).
    pub fn stored_bytes(&self) -> usize {
        self.k() * 8
    }

    /// The quantiser at `bits` bits per dimension.
    pub fn quantizer(&self, bits: u8) -> Result<Quantizer<'_>> {
        if !BITS.contains(&bits) {
            return Err(CodecError::Bits(bits));
        }
        Ok(Quantizer { ranges: self, bits })
    }
}

/// Uniform quantisation of each dimension's range into 2^b levels, and the bit packing of one
/// image's levels into bytes.
#[derive(Clone, Copy, Debug)]
pub struct Quantizer<'a> {
    ranges: &'a CodeRanges,
    bits: u8,
}

impl Quantizer<'_> {
    pub fn bits(&self) -> u8 {
        self.bits
    }

    pub fn k(&self) -> usize {
        self.ranges.k()
    }

    fn levels(&self) -> u32 {
        1u32 << self.bits
    }

    /// The distance between two levels of dimension `d` (0 for a constant dimension).
    pub fn step(&self, d: usize) -> f32 {
        (self.ranges.hi[d] - self.ranges.lo[d]) / (self.levels() - 1) as f32
    }

    /// Bytes per image: k·b/8 (a stream of images packs them end to end).
    pub fn bytes_per_image(&self) -> f64 {
        (self.k() * self.bits as usize) as f64 / 8.0
    }

    /// Bytes of one image's code on its own: ⌈k·b/8⌉.
    pub fn packed_len(&self) -> usize {
        (self.k() * self.bits as usize).div_ceil(8)
    }

    /// The level of each value of one code (values outside the range are clamped to it).
    pub fn quantize(&self, code: &[f32]) -> Vec<u16> {
        let top = (self.levels() - 1) as f32;
        code.iter()
            .enumerate()
            .map(|(d, &v)| {
                let step = self.step(d);
                if step <= 0.0 || !v.is_finite() {
                    return 0;
                }
                ((v - self.ranges.lo[d]) / step).round().clamp(0.0, top) as u16
            })
            .collect()
    }

    /// The values the levels stand for.
    pub fn dequantize(&self, levels: &[u16]) -> Vec<f32> {
        levels
            .iter()
            .enumerate()
            .map(|(d, &q)| self.ranges.lo[d] + q as f32 * self.step(d))
            .collect()
    }

    /// One image's code as ⌈k·b/8⌉ bytes (levels packed most significant bit first).
    pub fn encode(&self, code: &[f32]) -> Vec<u8> {
        let mut out = vec![0u8; self.packed_len()];
        let mut bit = 0usize;
        for q in self.quantize(code) {
            for i in (0..self.bits).rev() {
                if (q >> i) & 1 == 1 {
                    out[bit / 8] |= 0x80 >> (bit % 8);
                }
                bit += 1;
            }
        }
        out
    }

    /// The code back from [`Quantizer::encode`]'s bytes.
    pub fn decode(&self, bytes: &[u8]) -> Result<Vec<f32>> {
        if bytes.len() < self.packed_len() {
            return Err(CodecError::ShortCode {
                got: bytes.len(),
                need: self.packed_len(),
                k: self.k(),
                bits: self.bits,
            });
        }
        let mut bit = 0usize;
        let levels: Vec<u16> = (0..self.k())
            .map(|_| {
                let mut q = 0u16;
                for _ in 0..self.bits {
                    let b = (bytes[bit / 8] >> (7 - bit % 8)) & 1;
                    q = (q << 1) | b as u16;
                    bit += 1;
                }
                q
            })
            .collect();
        Ok(self.dequantize(&levels))
    }

    /// Every code of `codes` (k per image) through bytes and back.
    pub fn round_trip(&self, codes: &[f32]) -> Result<Vec<f32>> {
        Ok(self.round_trip_sized(codes)?.0)
    }

    /// [`Quantizer::round_trip`], with the bytes each code took.
    pub fn round_trip_sized(&self, codes: &[f32]) -> Result<(Vec<f32>, Vec<usize>)> {
        let mut out = Vec::with_capacity(codes.len());
        let mut sizes = Vec::with_capacity(codes.len() / self.k().max(1));
        for code in codes.chunks_exact(self.k()) {
            let bytes = self.encode(code);
            sizes.push(bytes.len());
            out.extend(self.decode(&bytes)?);
        }
        Ok((out, sizes))
    }

    /// The point of `method` at this quantiser for `recon`, the decoded `images`.
    fn point(&self, method: Method, recon: &[f32], images: &[f32]) -> RdPoint {
        self.point_of_errors(method, &row_mse(recon, images, PIXELS))
    }

    /// The point of `method` at this quantiser from each image's error.
    fn point_of_errors(&self, method: Method, per_image: &[f32]) -> RdPoint {
        let mut p = RdPoint::new(method, self.bytes_per_image(), mean_mse(per_image));
        (p.k, p.bits) = (Some(self.k()), Some(self.bits));
        p
    }
}

/// A compression method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Autoencoder,
    Pca,
    Jpeg,
    Png,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Autoencoder => "autoencoder",
            Method::Pca => "pca",
            Method::Jpeg => "jpeg",
            Method::Png => "png",
        }
    }
}

/// One measured setting of one method.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct RdPoint {
    pub method: Method,
    /// Code size (autoencoder, PCA).
    pub k: Option<usize>,
    /// Bits per dimension (autoencoder, PCA).
    pub bits: Option<u8>,
    /// JPEG quality.
    pub quality: Option<u8>,
    /// Mean bytes per image.
    pub bytes_per_image: f64,
    /// Mean per-pixel squared error over the images.
    pub mse: f64,
    /// PSNR of that MSE, in dB (capped at 99 for lossless).
    pub psnr: f64,
}

impl RdPoint {
    fn new(method: Method, bytes_per_image: f64, mse: f64) -> RdPoint {
        RdPoint {
            method,
            k: None,
            bits: None,
            quality: None,
            bytes_per_image,
            mse,
            psnr: psnr(mse as f32) as f64,
        }
    }

    /// The setting the method's curve runs over: bits (autoencoder), k (PCA, with its bits
    /// beside it), quality (JPEG); none for PNG.
    pub fn setting(&self) -> Option<u32> {
        match self.method {
            Method::Autoencoder => self.bits.map(u32::from),
            Method::Pca => self.k.map(|k| k as u32),
            Method::Jpeg => self.quality.map(u32::from),
            Method::Png => None,
        }
    }

    /// "8 bits", "k = 32, 8 bits", "quality 10", "lossless".
    pub fn describe(&self) -> String {
        match (self.method, self.k, self.bits, self.quality) {
            (Method::Autoencoder, Some(k), Some(b), _) => format!("k = {k}, {b} bits"),
            (Method::Pca, Some(k), Some(b), _) => format!("k = {k}, {b} bits"),
            (Method::Jpeg, _, _, Some(q)) => format!("quality {q}"),
            _ => "lossless".into(),
        }
    }
}

/// Parameters of the model's decoder, in bytes (f32): what every receiver must hold once.
/// `None` for an imported graph run for inference only (its weights are not Bottleneck's to
/// count).
pub fn decoder_bytes(model: &TrainedModel) -> Option<usize> {
    if model.inference_only().is_some() {
        return None;
    }
    let vars = model.varmap.data().lock().expect("varmap lock");
    Some(
        vars.iter()
            .filter(|(name, _)| name.starts_with("dec"))
            .map(|(_, v)| v.as_tensor().elem_count() * 4)
            .sum(),
    )
}

/// Bytes of PCA's shared part for k components: the mean image and k basis images (f32).
pub fn pca_basis_bytes(k: usize) -> usize {
    (k + 1) * PIXELS * 4
}

fn check_images(images: &[f32]) -> Result<usize> {
    let n = images.len() / PIXELS;
    if n == 0 {
        return Err(CodecError::NoImages);
    }
    Ok(n)
}

fn to_u8(pixels: &[f32]) -> Vec<u8> {
    pixels
        .iter()
        .map(|&v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect()
}

fn clamp01(v: &mut [f32]) {
    for x in v {
        *x = if x.is_nan() { 0.0 } else { x.clamp(0.0, 1.0) };
    }
}

/// One 28×28 image (values in [0, 1], rounded to 8 bits) as a whole JPEG file.
pub fn jpeg_encode(pixels: &[f32], quality: u8) -> Result<Vec<u8>> {
    if !(1..=95).contains(&quality) {
        return Err(CodecError::Quality(quality));
    }
    let mut out = Vec::new();
    write_gray(JpegEncoder::new_with_quality(&mut out, quality), pixels)?;
    Ok(out)
}

/// Writes one 28×28 image (784 values in [0, 1], rounded to 8 bits) with `encoder`.
fn write_gray(encoder: impl ImageEncoder, pixels: &[f32]) -> Result<()> {
    let Some(pixels) = pixels.get(..PIXELS) else {
        return Err(CodecError::NoImages);
    };
    encoder.write_image(
        &to_u8(pixels),
        SIDE as u32,
        SIDE as u32,
        ExtendedColorType::L8,
    )?;
    Ok(())
}

/// Bytes of a JPEG file before its entropy-coded data: markers, quantisation and Huffman
/// tables, headers (everything up to the end of the start-of-scan segment). `None` when the
/// file has no start-of-scan segment.
pub fn jpeg_header_bytes(file: &[u8]) -> Option<usize> {
    let mut i = 2; // SOI
    while i + 4 <= file.len() {
        if file[i] != 0xFF {
            return None;
        }
        let marker = file[i + 1];
        let len = u16::from_be_bytes([file[i + 2], file[i + 3]]) as usize;
        i += 2 + len;
        if marker == 0xDA {
            return (i <= file.len()).then_some(i);
        }
    }
    None
}

/// One 28×28 image as a whole PNG file (lossless, 8-bit grey).
pub fn png_encode(pixels: &[f32]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    write_gray(PngEncoder::new(&mut out), pixels)?;
    Ok(out)
}

/// A JPEG or PNG file back to 784 values in [0, 1].
pub fn image_decode(bytes: &[u8], format: ImageFormat) -> Result<Vec<f32>> {
    let img = image::load(Cursor::new(bytes), format)?.to_luma8();
    Ok(img.as_raw().iter().map(|&v| v as f32 / 255.0).collect())
}

/// Mean per-pixel MSE and its PSNR.
fn mean_mse(per_image: &[f32]) -> f64 {
    per_image.iter().map(|&v| v as f64).sum::<f64>() / per_image.len().max(1) as f64
}

fn tick(control: Option<&RunControl>) -> Result<()> {
    if let Some(c) = control {
        if c.is_cancelled() {
            return Err(CodecError::Cancelled);
        }
        c.step();
    }
    Ok(())
}

/// The model's decoder on dequantised codes, clamped to [0, 1].
fn ae_decode(model: &TrainedModel, codes: &[f32], n: usize) -> Result<Vec<f32>> {
    let mut recon = model.decode(codes)?;
    if recon.len() != n * PIXELS {
        return Err(CodecError::OutputMismatch);
    }
    clamp01(&mut recon);
    Ok(recon)
}

/// The autoencoder's curve: its code of `images` at each of `bits`, through bytes, decoded.
/// `ranges`: from the model's codes of its training images ([`CodeRanges::fit`]). One step of
/// `control` per bit depth.
pub fn autoencoder_points(
    model: &TrainedModel,
    ranges: &CodeRanges,
    images: &[f32],
    bits: &[u8],
    control: Option<&RunControl>,
) -> Result<Vec<RdPoint>> {
    let n = check_images(images)?;
    let images = &images[..n * PIXELS];
    let codes = model.encode(images)?;
    let k = model.latent();
    if codes.len() != n * k || ranges.k() != k {
        return Err(CodecError::OutputMismatch);
    }
    let mut out = Vec::new();
    for &b in bits {
        let q = ranges.quantizer(b)?;
        // Decoded a batch at a time: only each image's error is kept.
        let mut errors = Vec::with_capacity(n);
        let mut matched = true;
        model.decode_each(&q.round_trip(&codes)?, |z, recon| {
            let (start, m) = (errors.len(), z.len() / k);
            if recon.len() != m * PIXELS {
                matched = false;
                return;
            }
            let mut recon = recon.to_vec();
            clamp01(&mut recon);
            let originals = &images[start * PIXELS..(start + m) * PIXELS];
            errors.extend(row_mse(&recon, originals, PIXELS));
        })?;
        if !matched || errors.len() != n {
            return Err(CodecError::OutputMismatch);
        }
        out.push(q.point_of_errors(Method::Autoencoder, &errors));
        tick(control)?;
    }
    Ok(out)
}

/// Images PCA reconstructs at a time in [`pca_points`].
const PCA_BATCH: usize = 1024;

/// PCA's points: k coefficients (`ks`, clamped to the PCA's components) at each of `bits`.
/// The ranges of each k come from `train_images`' coefficients. One step per k.
pub fn pca_points(
    pca: &Pca,
    train_images: &[f32],
    images: &[f32],
    ks: &[usize],
    bits: &[u8],
    control: Option<&RunControl>,
) -> Result<Vec<RdPoint>> {
    let n = check_images(images)?;
    let images = &images[..n * PIXELS];
    let mut out = Vec::new();
    for &k in ks {
        let k = k.min(pca.n_components());
        if k == 0 {
            continue;
        }
        let ranges = CodeRanges::fit(&pca.project(train_images, k), k)?;
        let codes = pca.project(images, k);
        for &b in bits {
            let q = ranges.quantizer(b)?;
            let back = q.round_trip(&codes)?;
            // Reconstructed a batch at a time: only each image's error is kept.
            let mut errors = Vec::with_capacity(n);
            for (i, z) in back.chunks(PCA_BATCH * k).enumerate() {
                let mut recon = pca.reconstruct(z, k);
                clamp01(&mut recon);
                let originals = &images[i * PCA_BATCH * PIXELS..][..recon.len()];
                errors.extend(row_mse(&recon, originals, PIXELS));
            }
            out.push(q.point_of_errors(Method::Pca, &errors));
        }
        tick(control)?;
    }
    Ok(out)
}

/// JPEG's curve: every image encoded at each quality; the bytes are the files' mean length.
/// One step per quality.
pub fn jpeg_points(
    images: &[f32],
    qualities: &[u8],
    control: Option<&RunControl>,
) -> Result<Vec<RdPoint>> {
    let n = check_images(images)?;
    let mut out = Vec::new();
    for &quality in qualities {
        let mut bytes = 0usize;
        let mut sum = 0f64;
        for img in images[..n * PIXELS].chunks_exact(PIXELS) {
            let file = jpeg_encode(img, quality)?;
            bytes += file.len();
            let back = image_decode(&file, ImageFormat::Jpeg)?;
            sum += row_mse(&back, img, PIXELS)[0] as f64;
        }
        let mut p = RdPoint::new(Method::Jpeg, bytes as f64 / n as f64, sum / n as f64);
        p.quality = Some(quality);
        out.push(p);
        tick(control)?;
    }
    Ok(out)
}

/// PNG's point: the mean lossless file size (its error is 0 up to the 8-bit rounding of the
/// input).
pub fn png_point(images: &[f32]) -> Result<RdPoint> {
    let n = check_images(images)?;
    let mut bytes = 0usize;
    let mut sum = 0f64;
    for img in images[..n * PIXELS].chunks_exact(PIXELS) {
        let file = png_encode(img)?;
        bytes += file.len();
        sum += row_mse(&image_decode(&file, ImageFormat::Png)?, img, PIXELS)[0] as f64;
    }
    Ok(RdPoint::new(
        Method::Png,
        bytes as f64 / n as f64,
        sum / n as f64,
    ))
}

/// What [`sweep`] measures: the model (if any) with ranges from its codes of `train_images`,
/// PCA with ranges from the same images, on `images`.
pub struct SweepInput<'a> {
    pub model: Option<&'a TrainedModel>,
    pub pca: &'a Pca,
    /// The training images the quantisers' ranges come from.
    pub train_images: &'a [f32],
    /// The images measured.
    pub images: &'a [f32],
    pub bits: &'a [u8],
    pub pca_ks: &'a [usize],
    pub qualities: &'a [u8],
}

impl SweepInput<'_> {
    /// Steps [`sweep`] reports to its control.
    pub fn steps(&self) -> usize {
        self.model.map_or(0, |_| self.bits.len() + 1) + self.pca_ks.len() + self.qualities.len()
    }
}

/// Every method's points on `input.images` (autoencoder, PCA, JPEG, then PNG).
pub fn sweep(input: &SweepInput, control: Option<&RunControl>) -> Result<Vec<RdPoint>> {
    let mut points = Vec::new();
    if let Some(model) = input.model {
        let ranges = CodeRanges::fit(&model.encode(input.train_images)?, model.latent())?;
        tick(control)?;
        points.extend(autoencoder_points(
            model,
            &ranges,
            input.images,
            input.bits,
            control,
        )?);
    }
    points.extend(pca_points(
        input.pca,
        input.train_images,
        input.images,
        input.pca_ks,
        input.bits,
        control,
    )?);
    points.extend(jpeg_points(input.images, input.qualities, control)?);
    points.push(png_point(input.images)?);
    Ok(points)
}

/// The point of `method` with the best PSNR within `budget` bytes per image, or else the
/// smallest one.
pub fn best_within(points: &[RdPoint], method: Method, budget: f64) -> Option<RdPoint> {
    let of: Vec<&RdPoint> = points.iter().filter(|p| p.method == method).collect();
    of.iter()
        .filter(|p| p.bytes_per_image <= budget + 1e-9)
        .max_by(|a, b| a.psnr.total_cmp(&b.psnr))
        .or_else(|| {
            of.iter()
                .min_by(|a, b| a.bytes_per_image.total_cmp(&b.bytes_per_image))
        })
        .map(|p| **p)
}

/// The point of `method` whose size is nearest `budget` (on a log scale).
pub fn nearest(points: &[RdPoint], method: Method, budget: f64) -> Option<RdPoint> {
    let dist = |p: &RdPoint| (p.bytes_per_image.max(1e-9) / budget.max(1e-9)).ln().abs();
    points
        .iter()
        .filter(|p| p.method == method)
        .min_by(|a, b| dist(a).total_cmp(&dist(b)))
        .copied()
}

/// A few images decoded by one method at one setting.
#[derive(Clone, Debug)]
pub struct Decoded {
    /// The setting used (its bytes and MSE are those of these images).
    pub point: RdPoint,
    /// Decoded images, 784 values each.
    pub images: Vec<f32>,
    /// Bytes of each image's code or file.
    pub bytes: Vec<usize>,
    /// PSNR of each image, in dB.
    pub psnr: Vec<f32>,
    /// JPEG: the bytes of the first file that are headers and tables, not image data.
    pub header_bytes: Option<usize>,
}

fn decoded(point: RdPoint, images: Vec<f32>, bytes: Vec<usize>, originals: &[f32]) -> Decoded {
    let mse = row_mse(&images, originals, PIXELS);
    let mut point = point;
    point.bytes_per_image = bytes.iter().sum::<usize>() as f64 / bytes.len().max(1) as f64;
    point.mse = mean_mse(&mse);
    point.psnr = psnr(point.mse as f32) as f64;
    Decoded {
        point,
        images,
        psnr: mse.into_iter().map(psnr).collect(),
        bytes,
        header_bytes: None,
    }
}

/// `images` through the autoencoder at `bits` bits per dimension.
pub fn decode_autoencoder(
    model: &TrainedModel,
    ranges: &CodeRanges,
    images: &[f32],
    bits: u8,
) -> Result<Decoded> {
    let n = check_images(images)?;
    let images = &images[..n * PIXELS];
    let q = ranges.quantizer(bits)?;
    let codes = model.encode(images)?;
    if codes.len() != n * q.k() {
        return Err(CodecError::OutputMismatch);
    }
    let (back, sizes) = q.round_trip_sized(&codes)?;
    let recon = ae_decode(model, &back, n)?;
    Ok(decoded(
        q.point(Method::Autoencoder, &recon, images),
        recon,
        sizes,
        images,
    ))
}

/// `images` through PCA with `k` coefficients at `bits` bits (ranges from `train_images`).
pub fn decode_pca(
    pca: &Pca,
    train_images: &[f32],
    images: &[f32],
    k: usize,
    bits: u8,
) -> Result<Decoded> {
    let n = check_images(images)?;
    let images = &images[..n * PIXELS];
    let k = k.min(pca.n_components()).max(1);
    let ranges = CodeRanges::fit(&pca.project(train_images, k), k)?;
    let q = ranges.quantizer(bits)?;
    let codes = pca.project(images, k);
    let (back, sizes) = q.round_trip_sized(&codes)?;
    let mut recon = pca.reconstruct(&back, k);
    clamp01(&mut recon);
    Ok(decoded(
        q.point(Method::Pca, &recon, images),
        recon,
        sizes,
        images,
    ))
}

/// `images` through JPEG at `quality`.
pub fn decode_jpeg(images: &[f32], quality: u8) -> Result<Decoded> {
    let n = check_images(images)?;
    let images = &images[..n * PIXELS];
    let mut recon = Vec::with_capacity(images.len());
    let mut bytes = Vec::with_capacity(n);
    let mut header = 0;
    for img in images.chunks_exact(PIXELS) {
        let file = jpeg_encode(img, quality)?;
        bytes.push(file.len());
        if header == 0 {
            header = jpeg_header_bytes(&file).unwrap_or(0);
        }
        recon.extend(image_decode(&file, ImageFormat::Jpeg)?);
    }
    let mut p = RdPoint::new(Method::Jpeg, 0.0, 0.0);
    p.quality = Some(quality);
    let mut d = decoded(p, recon, bytes, images);
    d.header_bytes = (header > 0).then_some(header);
    Ok(d)
}

/// The points as CSV: dataset, method, k, bits, quality, bytes per image, MSE, PSNR.
pub fn points_csv(rows: &[(&str, &[RdPoint])]) -> String {
    let mut s = String::from("dataset,method,k,bits,quality,bytes_per_image,mse,psnr_db\n");
    let opt = |v: Option<String>| v.unwrap_or_default();
    for (dataset, points) in rows {
        for p in points.iter() {
            s.push_str(&format!(
                "\"{}\",{},{},{},{},{:.3},{:.6},{:.3}\n",
                dataset.replace('"', "'"),
                p.method.name(),
                opt(p.k.map(|v| v.to_string())),
                opt(p.bits.map(|v| v.to_string())),
                opt(p.quality.map(|v| v.to_string())),
                p.bytes_per_image,
                p.mse,
                p.psnr
            ));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp_codes(n: usize, k: usize) -> Vec<f32> {
        (0..n * k)
            .map(|i| ((i * 37 % 101) as f32 / 100.0 - 0.3) * (1.0 + (i % k) as f32))
            .collect()
    }

    #[test]
    fn quantise_dequantise_error_is_within_half_a_step() {
        let k = 5;
        let codes = ramp_codes(200, k);
        let ranges = CodeRanges::fit(&codes, k).unwrap();
        for b in BITS {
            let q = ranges.quantizer(b).unwrap();
            let back = q.round_trip(&codes).unwrap();
            for (i, (&x, &y)) in codes.iter().zip(&back).enumerate() {
                let step = q.step(i % k);
                assert!(step > 0.0);
                assert!(
                    (x - y).abs() <= step / 2.0 + 1e-5,
                    "b = {b}: |{x} − {y}| > {step}/2"
                );
            }
        }
        // Finer quantisation is never worse on average.
        let err = |b: u8| {
            let back = ranges.quantizer(b).unwrap().round_trip(&codes).unwrap();
            super::super::metrics::mse(&codes, &back)
        };
        assert!(err(8) < err(4) && err(4) < err(2));
    }

    #[test]
    fn values_outside_the_range_are_clamped_and_constant_dimensions_survive() {
        let ranges = CodeRanges::fit(&[0.0, 5.0, 1.0, 5.0], 2).unwrap();
        let q = ranges.quantizer(2).unwrap();
        assert_eq!(q.step(1), 0.0);
        let back = q.decode(&q.encode(&[3.0, 5.0])).unwrap();
        assert_eq!(back, vec![1.0, 5.0]);
        let back = q.decode(&q.encode(&[-2.0, f32::NAN])).unwrap();
        assert_eq!(back, vec![0.0, 5.0]);
    }

    #[test]
    fn codes_pack_into_exactly_k_b_over_8_bytes() {
        for k in [1usize, 2, 3, 8, 32, 33] {
            let codes = ramp_codes(10, k);
            let ranges = CodeRanges::fit(&codes, k).unwrap();
            for b in BITS {
                let q = ranges.quantizer(b).unwrap();
                assert_eq!(q.bytes_per_image(), (k * b as usize) as f64 / 8.0);
                let code = &codes[..k];
                let bytes = q.encode(code);
                assert_eq!(bytes.len(), (k * b as usize).div_ceil(8));
                // Packing is lossless on the levels.
                let levels = q.quantize(code);
                assert_eq!(q.quantize(&q.decode(&bytes).unwrap()), levels);
            }
        }
        let ranges = CodeRanges::fit(&ramp_codes(4, 32), 32).unwrap();
        assert_eq!(ranges.quantizer(8).unwrap().encode(&[0.0; 32]).len(), 32);
        assert!(matches!(ranges.quantizer(1), Err(CodecError::Bits(1))));
        assert!(matches!(ranges.quantizer(9), Err(CodecError::Bits(9))));
        let q = ranges.quantizer(8).unwrap();
        assert!(matches!(
            q.decode(&[0; 31]),
            Err(CodecError::ShortCode { need: 32, .. })
        ));
        assert!(matches!(CodeRanges::fit(&[], 4), Err(CodecError::NoCodes)));
    }

    fn blob(i: usize) -> Vec<f32> {
        (0..PIXELS)
            .map(|p| {
                let (x, y) = ((p % SIDE) as f32, (p / SIDE) as f32);
                let (cx, cy) = (10.0 + (i % 7) as f32, 12.0 + (i % 5) as f32);
                let r2 = (x - cx).powi(2) + (y - cy).powi(2);
                (1.0 - r2 / 40.0).max(0.0)
            })
            .collect()
    }

    #[test]
    fn jpeg_and_png_count_the_whole_file() {
        let img = blob(3);
        for q in [1u8, 50, 95] {
            let file = jpeg_encode(&img, q).unwrap();
            assert_eq!(&file[..2], &[0xFF, 0xD8], "a JPEG starts with SOI");
            assert_eq!(&file[file.len() - 2..], &[0xFF, 0xD9], "and ends with EOI");
            let header = jpeg_header_bytes(&file).unwrap();
            assert!(
                header > 200 && header < file.len(),
                "{header} of {}",
                file.len()
            );
            let d = decode_jpeg(&img, q).unwrap();
            assert_eq!(d.bytes, vec![file.len()]);
            assert_eq!(d.header_bytes, Some(header));
            assert_eq!(d.point.bytes_per_image, file.len() as f64);
        }
        let png = png_encode(&img).unwrap();
        let back = image_decode(&png, ImageFormat::Png).unwrap();
        let rounded: Vec<f32> = to_u8(&img).iter().map(|&v| v as f32 / 255.0).collect();
        assert_eq!(back, rounded, "PNG is lossless");
        let p = png_point(&img).unwrap();
        assert_eq!(p.bytes_per_image, png.len() as f64);
        assert!(matches!(jpeg_encode(&img, 0), Err(CodecError::Quality(0))));
        assert!(matches!(png_encode(&img[..10]), Err(CodecError::NoImages)));
        assert!(matches!(
            jpeg_points(&[], &[10], None),
            Err(CodecError::NoImages)
        ));
    }

    #[test]
    fn jpeg_grows_and_improves_with_quality() {
        let images: Vec<f32> = (0..20).flat_map(blob).collect();
        let pts = jpeg_points(&images, &[5, 50, 95], None).unwrap();
        assert!(pts[0].bytes_per_image < pts[1].bytes_per_image);
        assert!(pts[1].bytes_per_image < pts[2].bytes_per_image);
        assert!(pts[0].psnr < pts[2].psnr);
    }

    #[test]
    fn pca_points_count_k_b_over_8_and_improve_with_bits() {
        let images: Vec<f32> = (0..60).flat_map(blob).collect();
        let pca = Pca::fit(&images, PIXELS, 8).unwrap();
        let pts = pca_points(&pca, &images, &images, &[4, 8], &[2, 8], None).unwrap();
        assert_eq!(pts.len(), 4);
        assert_eq!(pts[0].bytes_per_image, 1.0);
        assert_eq!(pts[3].bytes_per_image, 8.0);
        assert!(pts[1].mse < pts[0].mse, "8 bits beat 2 at k = 4");
        // At 8 bits the quantisation costs little against unquantised PCA.
        let exact = pca.mse(&images, 8) as f64;
        assert!(pts[3].mse < exact * 1.1 + 1e-4, "{} vs {exact}", pts[3].mse);
        let best = best_within(&pts, Method::Pca, 2.0).unwrap();
        assert_eq!((best.k, best.bits), (Some(8), Some(2)));
        assert_eq!(
            best_within(&pts, Method::Pca, 0.5).unwrap().bytes_per_image,
            1.0
        );
        assert_eq!(
            nearest(&pts, Method::Pca, 7.0).unwrap().bytes_per_image,
            8.0
        );
        assert!(nearest(&pts, Method::Jpeg, 7.0).is_none());
    }

    #[test]
    fn csv_has_one_row_per_point() {
        let p = png_point(&blob(1)).unwrap();
        let csv = points_csv(&[("digits", &[p, p])]);
        assert_eq!(csv.lines().count(), 3);
        assert!(csv
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("\"digits\",png,,,,"));
    }
}
