//! `bottleneck export MODEL --format onnx|pytorch --out DIR`: writes a saved model for other
//! frameworks (the engine's `model::export`): `encoder.onnx` + `decoder.onnx`, or `model.py` +
//! `model.safetensors` + `model.json`. Prints the files written and the Python lines that
//! load them.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};

use crate::model::export;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// encoder.onnx and decoder.onnx (opset 17, dynamic batch).
    Onnx,
    /// model.py (a torch.nn.Module), model.safetensors and model.json.
    Pytorch,
}

#[derive(Args, Debug, Clone)]
pub struct ExportArgs {
    /// A saved model (.safetensors with its .json beside it).
    pub model: PathBuf,
    /// onnx or pytorch.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// The folder to write into (made if missing; files of the same names are replaced).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

pub fn run(a: ExportArgs) -> anyhow::Result<()> {
    let model = super::commands::load_model(&a.model)?;
    let target = match a.format {
        ExportFormat::Onnx => export::Target::Onnx,
        ExportFormat::Pytorch => export::Target::Pytorch,
    };
    let files = target
        .write(&model, &a.out)
        .with_context(|| format!("cannot export {}", a.model.display()))?;
    for f in &files {
        println!("wrote {}", f.display());
    }
    println!("load it in Python with:");
    for line in target.python(&a.out) {
        println!("    {line}");
    }
    Ok(())
}
