//! `bottleneck generate MODEL [--style ROWS.csv [--style-labels LABELS.txt]] --out IMAGES.csv
//! [--png grid.png] [--json]`: a conditional VAE writes each style row as every class (one
//! image per class, in class order, 784 values 0–1 a row); without `--style`, prior samples,
//! each code decoded as every class (a plain VAE: prior samples as they are). The class of a
//! style row comes from `--style-labels` (one a line: a number or a class name), or else it is
//! the pixel probe's guess. Measured and printed (and in `--json`): how often the linear probe
//! on pixels, trained on `--data`'s own training labels, recognises each image as the class
//! asked for, and with two or more style rows how well style is kept. `--held-out N` takes the
//! first N test images of each class of `--data` as the style sources (with their labels): the
//! measure the Generate panel shows. The experiments are `analysis::generate`'s.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;
use serde_json::json;

use super::commands::load_model;
use crate::analysis::generate::{self, Generator, PixelProbe};
use crate::data::csv::read_matrix;
use crate::data::Dataset;

#[derive(Args, Debug, Clone)]
pub struct GenerateArgs {
    /// A conditional VAE (variant cvae) or a VAE saved by `train --out` or the app.
    pub model: PathBuf,
    /// Style sources: a CSV file of 784 pixel values a row (0–1, or 0–255), header optional.
    #[arg(long, value_name = "ROWS.csv")]
    pub style: Option<PathBuf>,
    /// The class of each style row, one a line (a number, or a class name of --data);
    /// without it, the pixel probe's guess.
    #[arg(long, value_name = "LABELS.txt", requires = "style")]
    pub style_labels: Option<PathBuf>,
    /// Style sources from --data instead: the first N test images of each class, with their
    /// labels (what the Generate panel measures with N = 10).
    #[arg(long, value_name = "N", conflicts_with = "style")]
    pub held_out: Option<usize>,
    /// Without --style: how many prior codes (each decoded as every class).
    #[arg(long, default_value_t = 8)]
    pub samples: usize,
    /// Seed of the prior samples and of the probe.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// The data set whose training labels train the pixel probe (and whose class names
    /// --style-labels may use).
    #[command(flatten)]
    pub data: super::DataArg,
    /// The generated images: p1…p784 per row, values 0–1.
    #[arg(long, value_name = "IMAGES.csv")]
    pub out: PathBuf,
    /// Also write them as a grid: one row per style (or prior code), one column per class.
    #[arg(long, value_name = "grid.png")]
    pub png: Option<PathBuf>,
    /// Print one JSON object as the last line of stdout.
    #[arg(long)]
    pub json: bool,
}

/// Reads the labels file: one class a line, a number below `classes` or a name of `data`.
fn read_labels(path: &Path, classes: usize, data: &Dataset) -> anyhow::Result<Vec<u8>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let s = line.trim();
        if s.is_empty() {
            continue;
        }
        let by_name = data
            .class_names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(s));
        let l = match (s.parse::<usize>(), by_name) {
            (Ok(n), _) => n,
            (_, Some(n)) => n,
            _ => bail!(
                "{} line {}: '{s}' is neither a class number nor a class name of {}",
                path.display(),
                i + 1,
                data.name
            ),
        };
        if l >= classes {
            bail!(
                "{} line {}: class {l}, but the model knows {classes} classes (0 to {})",
                path.display(),
                i + 1,
                classes - 1
            );
        }
        out.push(l as u8);
    }
    Ok(out)
}

fn read_rows(path: &Path) -> anyhow::Result<Vec<f32>> {
    let mut rows = read_matrix(path, crate::PIXELS)?;
    if rows.iter().any(|&v| v > 1.5) {
        rows.iter_mut().for_each(|v| *v /= 255.0);
        eprintln!(
            "note: {}: values above 1.5, read as 0–255 and divided by 255",
            path.display()
        );
    }
    Ok(rows)
}

pub fn run(a: GenerateArgs) -> anyhow::Result<()> {
    let model = load_model(&a.model)?;
    let kind = Generator::of(&model)?;
    let data = a.data.load()?;
    let probe = PixelProbe::train(&data, a.seed)?;
    let mut style = None;
    let held = a.held_out.map(|n| {
        let idx = generate::held_out_sources(&data, model.classes(), n.max(1));
        data.test.subset(&idx)
    });
    let (images, asked, cols, what) = match (kind, &a.style) {
        (Generator::Prior, _) if a.held_out.is_some() => {
            bail!("{}", generate::classes_of(&model).unwrap_err())
        }
        (Generator::Conditional(classes), None) if held.is_some() => {
            let Some(src) = held.as_ref() else {
                bail!("--held-out: no style sources");
            };
            let n = src.len();
            if n < 2 {
                bail!(
                    "--held-out: the test split of {} has too few images",
                    data.name
                );
            }
            let codes = generate::style_codes(&model, &src.images, &src.labels)?;
            let (images, asked) = generate::every_class(&model, &codes)?;
            style = Some(generate::style_kept(&model, &codes, &images)?);
            let what = format!(
                "{n} held-out test images of {} ({} of each class), each written as all \
                 {classes} classes",
                data.name,
                a.held_out.unwrap_or(0)
            );
            (images, Some(asked), classes, what)
        }
        (Generator::Prior, Some(_)) => {
            bail!("{}", generate::classes_of(&model).unwrap_err())
        }
        (Generator::Prior, None) => {
            let n = a.samples.max(1);
            let images = generate::prior_samples(&model, n, a.seed)?;
            (images, None, n.min(8), format!("{n} prior samples"))
        }
        (Generator::Conditional(classes), None) => {
            let codes = generate::prior_codes(a.samples.max(1), model.latent(), a.seed);
            let (images, asked) = generate::every_class(&model, &codes)?;
            let what = format!(
                "{} prior codes, each decoded as all {classes} classes",
                a.samples.max(1)
            );
            (images, Some(asked), classes, what)
        }
        (Generator::Conditional(classes), Some(path)) => {
            let rows = read_rows(path)?;
            let n = rows.len() / crate::PIXELS;
            if n == 0 {
                bail!("{}: no rows", path.display());
            }
            let labels = match &a.style_labels {
                Some(l) => {
                    let labels = read_labels(l, classes, &data)?;
                    if labels.len() != n {
                        bail!(
                            "{} has {} labels for the {n} rows of {}",
                            l.display(),
                            labels.len(),
                            path.display()
                        );
                    }
                    labels
                }
                None => {
                    let guess = probe.predict(&rows);
                    eprintln!(
                        "note: no --style-labels: each row's class is the pixel probe's guess ({})",
                        guess
                            .iter()
                            .map(|l| l.to_string())
                            .collect::<Vec<_>>()
                            .join(",")
                    );
                    if let Some(bad) = guess.iter().find(|&&l| l as usize >= classes) {
                        bail!("the probe guessed class {bad}, which the model does not know: give --style-labels");
                    }
                    guess
                }
            };
            let codes = generate::style_codes(&model, &rows, &labels)?;
            let (images, asked) = generate::every_class(&model, &codes)?;
            if n >= 2 {
                style = Some(generate::style_kept(&model, &codes, &images)?);
            }
            let what = format!("{n} styles, each written as all {classes} classes");
            (images, Some(asked), classes, what)
        }
    };
    super::rows::write_out(
        &a.out,
        &super::rows::matrix_csv("p", &images, crate::PIXELS),
    )?;
    let rows_out = images.len() / crate::PIXELS;
    if let Some(png) = &a.png {
        super::features::save_png(&crate::app::widgets::tile_image(&images, cols, 1), 2, png)?;
    }
    let recognition = asked.as_ref().map(|l| probe.recognition(&images, l));
    println!(
        "{}: {what}, {rows_out} images written to {}{}",
        model.config().describe(),
        a.out.display(),
        a.png
            .as_ref()
            .map(|p| format!(" (grid: {})", p.display()))
            .unwrap_or_default()
    );
    if let Some(r) = recognition {
        println!(
            "recognised as the class asked for: {:.1} % (by {})",
            100.0 * r,
            probe.describe()
        );
    }
    if let Some(s) = &style {
        println!("style kept: {}", s.describe());
    }
    if a.json {
        println!(
            "{}",
            json!({
                "model": model.config().describe(),
                "classes": model.classes(),
                "images": rows_out,
                "styles": (a.style.is_some() || a.held_out.is_some())
                    .then(|| rows_out / model.classes().max(1)),
                "recognition": recognition,
                "judge": probe.describe(),
                "probe_test_accuracy": probe.test_accuracy,
                "style": style,
                "out": a.out,
            })
        );
    }
    Ok(())
}
