//! `bottleneck step MODEL --input ROWS.csv [--json] [--out FILE]`: one real training step of a
//! model on the rows of a CSV file, with the model's own optimiser settings (a fresh Adam),
//! and what it did: the loss terms before and after (measured on the updated model), and per
//! parameter tensor the gradient's norm and the update's. The step and its record are the
//! engine's (`train::slow_step`); this module reads the rows and prints.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use serde_json::json;

use super::commands::load_model;
use crate::data::csv::read_matrix;
use crate::model::io;
use crate::model::loss::LossTerms;
use crate::train::slow_step::{self, SlowStep};

#[derive(Args, Debug, Clone)]
pub struct StepArgs {
    /// A model file (Bottleneck's .safetensors, or one trained in PyTorch, Keras or ONNX).
    pub model: PathBuf,
    /// The batch: a CSV file of rows of 784 pixel values in 0..1 (0–255 is divided by 255).
    #[arg(long, value_name = "ROWS.csv")]
    pub input: PathBuf,
    /// Save the stepped model here (.safetensors, its settings beside it as .json).
    #[arg(long, value_name = "FILE.safetensors")]
    pub out: Option<PathBuf>,
    /// Print one JSON object as the last line of stdout.
    #[arg(long)]
    pub json: bool,
}

fn terms_line(t: &LossTerms) -> String {
    t.iter()
        .map(|(k, v)| format!("{} {v:.6}", k.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn terms_json(t: &LossTerms) -> serde_json::Value {
    serde_json::to_value(t).unwrap_or_default()
}

/// The JSON object `--json` prints.
pub fn to_json(s: &SlowStep) -> serde_json::Value {
    json!({
        "model": s.config.describe(),
        "rows": s.rows,
        "applied": s.applied,
        "loss_before": terms_json(s.loss_before()),
        "loss_after": terms_json(s.loss_after()),
        "layers": s.tensors.iter().map(|t| json!({
            "name": t.name,
            "shape": t.shape,
            "grad_norm": t.grad_norm,
            "update_norm": t.update_norm,
        })).collect::<Vec<_>>(),
    })
}

pub fn run(a: StepArgs) -> anyhow::Result<()> {
    let model = load_model(&a.model)?;
    if let Some(why) = model.inference_only() {
        anyhow::bail!("cannot step {}: {why}", a.model.display());
    }
    let mut rows = read_matrix(&a.input, crate::PIXELS)?;
    if rows.iter().any(|&v| v > 1.5) {
        rows.iter_mut().for_each(|v| *v /= 255.0);
        eprintln!(
            "note: {}: values above 1.5, read as 0–255 and divided by 255",
            a.input.display()
        );
    }
    let (s, stepped) = slow_step::step_model(model, &rows)
        .with_context(|| format!("cannot step {} on {}", a.model.display(), a.input.display()))?;

    println!(
        "one step of {} on {} rows of {} (lr {}):",
        s.config.describe(),
        s.rows,
        a.input.display(),
        s.config.lr
    );
    println!("  loss before: {}", terms_line(s.loss_before()));
    println!("  loss after:  {}", terms_line(s.loss_after()));
    if !s.applied {
        println!("  the update was skipped: the loss or a gradient was not finite");
    }
    let width = s.tensors.iter().map(|t| t.name.len()).max().unwrap_or(4);
    println!(
        "  {:width$}  {:>12}  {:>12}",
        "tensor", "‖gradient‖", "‖update‖"
    );
    for t in &s.tensors {
        println!(
            "  {:width$}  {:>12.4e}  {:>12.4e}",
            t.name, t.grad_norm, t.update_norm
        );
    }
    if let Some(out) = &a.out {
        io::save(&stepped, out).with_context(|| format!("cannot save {}", out.display()))?;
        println!("saved the stepped model to {}", out.display());
    }
    if a.json {
        println!("{}", serde_json::to_string(&to_json(&s))?);
    }
    Ok(())
}
