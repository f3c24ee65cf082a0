//! `bottleneck compress`: the autoencoder as a lossy codec against PCA, JPEG and PNG, byte for
//! byte (the measurement is `analysis::codec`, shared with the Compression panel). The codecs'
//! ranges and PCA come from the model's home dataset (`--home`); the images measured are the
//! first `--images` test images of `--data`, which may be another dataset.

use anyhow::{anyhow, bail, Context};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::analysis::codec::{self, Method, RdPoint, SweepInput};
use crate::analysis::Pca;
use crate::data::{Dataset, DatasetSource};
use crate::tasks::RunControl;

/// Test images measured unless `--images` says otherwise.
pub const DEFAULT_IMAGES: usize = 2000;

#[derive(Args, Debug, Clone)]
pub struct CompressArgs {
    /// A saved model, or a built-in one as builtin:KEY (e.g. builtin:dense-32d).
    pub model: String,
    /// The images measured (their test split): "embedded" or a folder of IDX files.
    #[arg(long, default_value = "embedded", value_name = "embedded|DIR")]
    pub data: DatasetSource,
    /// Where the quantisers' ranges and PCA are fitted (training split): the model's own data.
    /// Default: the embedded digits for a model trained on them, else --data.
    #[arg(long, value_name = "embedded|DIR")]
    pub home: Option<DatasetSource>,
    /// Bits per code dimension, 2 to 8, comma-separated.
    #[arg(long, default_value = "2,3,4,5,6,7,8", value_name = "B,B,...")]
    pub bits: String,
    /// How many test images to measure (the first ones).
    #[arg(long, default_value_t = DEFAULT_IMAGES)]
    pub images: usize,
    /// Print one JSON object as the last line of stdout.
    #[arg(long)]
    pub json: bool,
}

/// Reads "2,4,8" as bit depths in 2…8.
pub fn parse_bits(s: &str) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let b: u8 = part
            .parse()
            .map_err(|_| anyhow!("--bits: '{part}' is not a whole number"))?;
        if !codec::BITS.contains(&b) {
            bail!("--bits: {b} is outside 2…8");
        }
        if !out.contains(&b) {
            out.push(b);
        }
    }
    if out.is_empty() {
        bail!("--bits: give at least one bit depth, e.g. 2,4,8");
    }
    out.sort_unstable();
    Ok(out)
}

/// What `bottleneck compress` measured.
pub struct Outcome {
    pub model: String,
    pub dataset: String,
    pub home: String,
    pub images: usize,
    /// `None` for an imported graph run for inference only.
    pub decoder_bytes: Option<usize>,
    pub points: Vec<RdPoint>,
}

impl Outcome {
    /// The autoencoder at its k and `bits`, PCA at the same k and bits, and the JPEG nearest
    /// the autoencoder's size.
    pub fn summary(&self, bits: u8) -> Option<(RdPoint, Option<RdPoint>, RdPoint)> {
        let ae = *self
            .points
            .iter()
            .find(|p| p.method == Method::Autoencoder && p.bits == Some(bits))?;
        let pca = self
            .points
            .iter()
            .find(|p| p.method == Method::Pca && p.k == ae.k && p.bits == Some(bits))
            .copied();
        let jpeg = codec::nearest(&self.points, Method::Jpeg, ae.bytes_per_image)?;
        Some((ae, pca, jpeg))
    }

    fn to_json(&self) -> serde_json::Value {
        let points: Vec<serde_json::Value> = self
            .points
            .iter()
            .map(|p| {
                json!({
                    "method": p.method.name(),
                    "setting": p.setting(),
                    "k": p.k,
                    "bits": p.bits,
                    "quality": p.quality,
                    "bytes_per_image": p.bytes_per_image,
                    "psnr": p.psnr,
                    "mse": p.mse,
                })
            })
            .collect();
        json!({
            "model": self.model,
            "dataset": self.dataset,
            "home": self.home,
            "images": self.images,
            "decoder_bytes": self.decoder_bytes,
            "points": points,
        })
    }

    fn print_human(&self) {
        println!(
            "{}: the first {} test images of {} (ranges and PCA from {})",
            self.model, self.images, self.dataset, self.home
        );
        match self.decoder_bytes {
            Some(b) => println!(
                "the decoder's weights ({b} bytes) are shared by every image and not counted below"
            ),
            None => println!(
                "the decoder's weights are shared by every image and not counted below (their \
                 size is unknown: an imported graph run for inference only)"
            ),
        }
        println!(
            "{:<12} {:<18} {:>10} {:>10} {:>9}",
            "method", "setting", "bytes", "MSE", "PSNR"
        );
        for p in &self.points {
            println!(
                "{:<12} {:<18} {:>10.2} {:>10.5} {:>6.2} dB",
                p.method.name(),
                p.describe(),
                p.bytes_per_image,
                p.mse,
                p.psnr
            );
        }
        if let Some((ae, _, jpeg)) = self.summary(8) {
            println!(
                "at 8 bits the autoencoder takes {:.0} bytes for {:.2} dB; the nearest JPEG ({}) \
                 takes {:.0} bytes for {:.2} dB",
                ae.bytes_per_image,
                ae.psnr,
                jpeg.describe(),
                jpeg.bytes_per_image,
                jpeg.psnr
            );
        }
    }
}

/// Loads everything, checks the arguments and measures (progress on stderr).
pub fn measure(a: &CompressArgs) -> anyhow::Result<Outcome> {
    let bits = parse_bits(&a.bits)?;
    if a.images == 0 {
        bail!("--images 0: measure at least one image");
    }
    let model = super::commands::load_model_spec(&a.model)?;
    let data = super::commands::load_dataset(&a.data)?;
    let home_source = match &a.home {
        Some(h) => h.clone(),
        None if a.data != DatasetSource::Embedded
            && model.meta.dataset == Dataset::embedded().map(|d| d.name).unwrap_or_default() =>
        {
            DatasetSource::Embedded
        }
        None => a.data.clone(),
    };
    let home = if home_source == a.data {
        data.clone()
    } else {
        Dataset::load(&home_source).with_context(|| format!("cannot load --home {home_source}"))?
    };
    let test = data.test.take(a.images);
    if test.is_empty() {
        bail!("{} has no test images", data.name);
    }
    let ks_max = *codec::PCA_KS.iter().max().expect("PCA sizes");
    let pca = Pca::fit(&home.train.images, crate::PIXELS, ks_max)
        .map_err(|e| anyhow!("cannot fit PCA on {}: {e}", home.name))?;
    let input = SweepInput {
        model: Some(&model),
        pca: &pca,
        train_images: &home.train.images,
        images: &test.images,
        bits: &bits,
        pca_ks: &codec::PCA_KS,
        qualities: &codec::JPEG_QUALITIES,
    };
    let bar = ProgressBar::new(input.steps() as u64);
    bar.set_style(
        ProgressStyle::with_template("[{bar:30}] {pos}/{len} settings ({elapsed})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let control = RunControl::default();
    let points = std::thread::scope(|s| {
        let work = s.spawn(|| codec::sweep(&input, Some(&control)));
        while !work.is_finished() {
            bar.set_position(control.progress().0 as u64);
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        work.join()
    })
    .map_err(|_| anyhow!("the measurement crashed"))?
    .map_err(|e| anyhow!("{e}"))?;
    bar.finish_and_clear();
    Ok(Outcome {
        model: model.config().describe(),
        dataset: data.name.clone(),
        home: home.name.clone(),
        images: test.len(),
        decoder_bytes: codec::decoder_bytes(&model),
        points,
    })
}

pub fn run(a: CompressArgs) -> anyhow::Result<()> {
    let o = measure(&a)?;
    if a.json {
        println!("{}", serde_json::to_string(&o.to_json())?);
    } else {
        o.print_human();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_parsed_sorted_and_checked() {
        assert_eq!(parse_bits("8, 2,4,2").unwrap(), vec![2, 4, 8]);
        assert!(parse_bits("1")
            .unwrap_err()
            .to_string()
            .contains("outside 2…8"));
        assert!(parse_bits("x").unwrap_err().to_string().contains("'x'"));
        assert!(parse_bits("").is_err());
    }
}
