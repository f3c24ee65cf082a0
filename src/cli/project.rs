//! `bottleneck project`: draws a model's codes of a split on a 2-D map (PCA, t-SNE or UMAP),
//! reports how long it took and how far the map can be trusted (5-NN accuracy on the map and
//! in the full code, trustworthiness), and optionally writes the map as CSV (label,x,y).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context};
use clap::Args;
use serde_json::json;

use super::DataArg;
use crate::analysis::embed::{embed, map_csv, Method};
use crate::analysis::trust::measure;
use crate::analysis::tsne::Stopped;

#[derive(Args, Debug, Clone)]
pub struct ProjectArgs {
    /// A saved model, or a built-in one as builtin:KEY (e.g. builtin:dense-32d).
    pub model: String,
    #[command(flatten)]
    pub data: DataArg,
    /// pca, tsne or umap.
    #[arg(long, default_value = "tsne", value_parser = parse_method)]
    pub method: Method,
    /// Which images: test or train.
    #[arg(long, default_value = "test", value_parser = ["test", "train"])]
    pub split: String,
    /// Seed of the map's jitter and sampling (one seed, one map).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Write the map as CSV: label,x,y per image.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print one JSON object as the last line of stdout.
    #[arg(long)]
    pub json: bool,
}

fn parse_method(s: &str) -> Result<Method, String> {
    Method::parse(s).ok_or_else(|| format!("unknown method '{s}' (expected pca, tsne or umap)"))
}

pub fn run(a: ProjectArgs) -> anyhow::Result<()> {
    if let Some(out) = &a.out {
        if out.is_dir() {
            bail!("--out {}: is a folder, expected a .csv file", out.display());
        }
    }
    let model = super::commands::load_model_spec(&a.model)?;
    let data = super::commands::load_dataset(&a.data.data)?;
    let split = if a.split == "train" {
        &data.train
    } else {
        &data.test
    };
    if split.is_empty() {
        bail!("the {} split of --data {} is empty", a.split, a.data.data);
    }
    let k = model.latent().max(1);
    let codes = model
        .encode_labelled(&split.images, &split.labels)
        .with_context(|| format!("cannot encode the {} images", a.split))?;
    let n = split.len();
    eprintln!(
        "{}: {n} {} images, {k}-value codes",
        a.method.name(),
        a.split
    );
    let started = std::time::Instant::now();
    let mut last = 0usize;
    let quiet = a.json;
    let emb = embed(a.method, &codes, k, a.seed, &mut |done, total, _| {
        if !quiet && done * 10 / total.max(1) != last {
            last = done * 10 / total.max(1);
            eprint!("\r{}: {done}/{total}", a.method.name());
            let _ = std::io::stderr().flush();
        }
        true
    })
    .map_err(|e| match e {
        Stopped::Cancelled => anyhow!("the projection was cancelled"),
        Stopped::Failed(m) => anyhow!("{m}"),
    })?;
    let seconds = started.elapsed().as_secs_f64();
    if !quiet {
        eprintln!();
    }
    if let Some(note) = &emb.note {
        eprintln!("note: {note}");
    }
    let trust = measure(&codes, k, &emb.points, &split.labels);
    if let Some(out) = &a.out {
        crate::model::io::write_atomic(out, map_csv(&split.labels, &emb.points).as_bytes())
            .with_context(|| format!("cannot write {}", out.display()))?;
        eprintln!("wrote {n} map points to {}", out.display());
    }
    println!(
        "{}: {n} points in {seconds:.2} s; 5-NN accuracy {:.3} on the map, {:.3} in the \
         {k}-value code; trustworthiness {:.3}",
        a.method.name(),
        trust.knn_accuracy_2d,
        trust.knn_accuracy_code,
        trust.trustworthiness
    );
    if a.json {
        println!(
            "{}",
            json!({
                "method": a.method.cli_name(),
                "points": n,
                "seconds": seconds,
                "knn_accuracy_2d": trust.knn_accuracy_2d,
                "knn_accuracy_code": trust.knn_accuracy_code,
                "trustworthiness": trust.trustworthiness,
                "latent": k,
                "note": emb.note,
            })
        );
    }
    Ok(())
}
