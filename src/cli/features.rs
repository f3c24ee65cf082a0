//! `bottleneck features` and `bottleneck probe`: the Features panel's measurements without a
//! window. `features` prints the per-dimension statistics of a model's test codes (variance,
//! mean |z|, active fraction, a VAE's KL) and with `--out DIR` writes the encoder's weights and
//! a traversal grid as PNGs; `probe` trains linear probes and 5-NN on the model's codes, PCA's
//! and raw pixels with 100, 1,000 and all labels. The core is `analysis::features` and
//! `analysis::probe`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use serde_json::json;

use super::commands::load_model;
use crate::analysis::{features, probe};
use crate::app::panels::features::weight_tiles;
use crate::tasks::RunControl;

#[derive(Args, Debug, Clone)]
pub struct FeaturesArgs {
    /// A model saved by `train --out` or the app.
    pub model: PathBuf,
    #[command(flatten)]
    pub data: super::DataArg,
    /// Write encoder-weights.png and traversals.png into this folder (created if needed).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// How many first-layer units encoder-weights.png draws: those with the largest weight
    /// norms (an overcomplete model has hundreds).
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub units: usize,
    /// Print one JSON object as the last line of stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug, Clone)]
pub struct ProbeArgs {
    /// A model saved by `train --out` or the app.
    pub model: PathBuf,
    #[command(flatten)]
    pub data: super::DataArg,
    /// Print one JSON object as the last line of stdout.
    #[arg(long)]
    pub json: bool,
}

/// Writes an egui image as a PNG, each pixel drawn `scale`×`scale`.
pub(super) fn save_png(img: &egui::ColorImage, scale: u32, path: &Path) -> anyhow::Result<()> {
    let [w, h] = img.size;
    let out = image::RgbImage::from_fn(w as u32 * scale, h as u32 * scale, |x, y| {
        let c = img.pixels[(y / scale) as usize * w + (x / scale) as usize];
        image::Rgb([c.r(), c.g(), c.b()])
    });
    out.save_with_format(path, image::ImageFormat::Png)
        .with_context(|| format!("cannot write {}", path.display()))
}

pub fn run_features(a: FeaturesArgs) -> anyhow::Result<()> {
    let model = load_model(&a.model)?;
    let data = a.data.load()?;
    let stats = features::model_stats(&model, &data.test.images)?;
    if let Some(dir) = &a.out {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create --out {}", dir.display()))?;
        let enc = features::encoder_weights(&model)?;
        let mut order = enc.order_by_norm();
        if order.len() > a.units.max(1) {
            eprintln!(
                "encoder-weights.png: the {} of {} units with the largest weights (--units)",
                a.units.max(1),
                order.len()
            );
            order.truncate(a.units.max(1));
        }
        let cols = if enc.side == crate::SIDE { 16 } else { 8 };
        let scale = if enc.side == crate::SIDE { 2 } else { 8 };
        let weights = dir.join("encoder-weights.png");
        save_png(&weight_tiles(&enc, &order, cols, 1, false), scale, &weights)?;
        let dims: Vec<usize> = stats.order().into_iter().take(8).collect();
        let codes = features::traversal_codes(&stats.mean_code(), &stats, &dims, 9)?;
        let decoded = model.decode(&codes)?;
        let traversals = dir.join("traversals.png");
        save_png(
            &crate::app::widgets::tile_image(&decoded, 9, 1),
            3,
            &traversals,
        )?;
        eprintln!("wrote {} and {}", weights.display(), traversals.display());
    }
    if a.json {
        println!(
            "{}",
            json!({
                "model": a.model, "dataset": data.name, "k": stats.k(),
                "units": stats.units, "active_units": stats.active_units,
                "mean_abs_activation": stats.mean_abs_activation,
            })
        );
    } else {
        println!(
            "{}: k = {}, mean |z| {:.4}, active units {} of {}",
            model.config().describe(),
            stats.k(),
            stats.mean_abs_activation,
            stats.active_units,
            stats.k()
        );
        println!("dim   variance   mean|z|   active        KL");
        for d in stats.order() {
            let u = &stats.units[d];
            println!(
                "z{:<4}{:>9.4}{:>10.4}{:>8.1} %{:>10}",
                d + 1,
                u.variance,
                u.mean_abs,
                u.active_fraction * 100.0,
                u.kl.map_or("-".into(), |k| format!("{k:.4}"))
            );
        }
    }
    Ok(())
}

pub fn run_probe(a: ProbeArgs) -> anyhow::Result<()> {
    let model = load_model(&a.model)?;
    let data = a.data.load()?;
    let r = probe::sweep(&model, &data, None, &RunControl::default())?
        .context("the probe was cancelled")?;
    if a.json {
        let mut v = serde_json::to_value(&r)?;
        v["model"] = json!(a.model);
        v["dataset"] = json!(data.name);
        println!("{}", serde_json::to_string(&v)?);
    } else {
        println!(
            "test accuracy on {} ({}), k = {}",
            data.name,
            model.config().describe(),
            r.k
        );
        println!("labels    codes      PCA   pixels  5-NN codes  5-NN PCA");
        for (i, n) in r.sizes.iter().enumerate() {
            println!(
                "{n:>6} {:>8.1}% {:>7.1}% {:>7.1}% {:>10.1}% {:>8.1}%",
                r.codes[i] * 100.0,
                r.pca[i] * 100.0,
                r.pixels[i] * 100.0,
                r.knn_codes[i] * 100.0,
                r.knn_pca[i] * 100.0
            );
        }
    }
    Ok(())
}
