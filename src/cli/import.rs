//! Models trained elsewhere on the command line: the flags that answer what a state dict does
//! not record (`--decoder`, `--activation`, `--code-activation`, `--output`, global, so every
//! subcommand that takes a model takes them), and `bottleneck import`, which prints what was
//! recognised and assumed and saves the model in Bottleneck's own format.

use std::path::PathBuf;
use std::sync::OnceLock;

use anyhow::Context;
use clap::Args;
use serde_json::json;

use crate::model::import::{self, ImportOptions, Recognised};
use crate::model::{io, Activation};

/// The import flags (global: they apply to whichever model a subcommand reads).
#[derive(Args, Debug, Clone, Default)]
pub struct ImportFlags {
    /// The decoder of a model saved as two files (Keras or ONNX encoder and decoder); MODEL is
    /// then the encoder.
    #[arg(long, global = true, value_name = "FILE")]
    pub decoder: Option<PathBuf>,
    /// Activation between layers of an imported state dict (it does not record it; ReLU is
    /// assumed).
    #[arg(long, global = true, value_parser = parse_activation, value_name = "relu|linear")]
    pub activation: Option<Activation>,
    /// Activation of an imported model's code (linear is assumed).
    #[arg(long, global = true, value_parser = parse_activation, value_name = "relu|linear")]
    pub code_activation: Option<Activation>,
    /// Output of an imported model (sigmoid is assumed).
    #[arg(long, global = true, value_parser = parse_output, value_name = "sigmoid|linear")]
    pub output: Option<bool>,
}

fn parse_activation(s: &str) -> Result<Activation, String> {
    Activation::parse(s)
        .ok_or_else(|| format!("'{s}' is not an activation (expected relu or linear)"))
}

fn parse_output(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "sigmoid" => Ok(true),
        "linear" | "identity" | "none" => Ok(false),
        _ => Err(format!(
            "'{s}' is not an output (expected sigmoid or linear)"
        )),
    }
}

impl ImportFlags {
    pub fn options(&self) -> ImportOptions {
        ImportOptions {
            decoder: self.decoder.clone(),
            activation: self.activation,
            code_activation: self.code_activation,
            sigmoid_output: self.output,
        }
    }
}

static OPTIONS: OnceLock<ImportOptions> = OnceLock::new();

/// Records the command line's import flags for [`options`] (once, at start).
pub fn set_options(flags: &ImportFlags) {
    let _ = OPTIONS.set(flags.options());
}

/// The import flags given on the command line (none: the files' own and the assumptions).
pub fn options() -> ImportOptions {
    OPTIONS.get().cloned().unwrap_or_default()
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// A PyTorch state dict (.pt, .pth, .bin, .safetensors), a Keras 3 model (.keras) or an
    /// ONNX encoder (.onnx, with --decoder or a sibling named like *decoder*.onnx).
    pub model: PathBuf,
    /// Save it as a Bottleneck model (safetensors and its JSON sidecar).
    #[arg(long, value_name = "FILE.safetensors")]
    pub out: Option<PathBuf>,
    /// Print what was recognised as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What was recognised, as JSON.
fn report_json(r: &Recognised) -> serde_json::Value {
    json!({
        "format": r.format.label(),
        "model": r.train_config().describe(),
        "latent": r.config.latent,
        "code": r.code_layer(),
        "parameters": r.params(),
        "inference_only": r.inference_only(),
        "assumed": r.assumed,
        "layers": r.layers.iter().map(|l| json!({
            "source": l.source,
            "name": l.target,
            "layer": l.description,
            "activation": l.activation,
            "parameters": l.params,
            "code": l.is_code,
        })).collect::<Vec<_>>(),
    })
}

/// `bottleneck import MODEL [--out FILE] [--json]`.
pub fn run(a: ImportArgs) -> anyhow::Result<()> {
    let r = import::inspect(&a.model, &options())?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report_json(&r))?);
    } else {
        println!(
            "{}: {}, {} · {} parameters",
            a.model.display(),
            r.format.label(),
            r.train_config().describe(),
            r.params()
        );
        for l in &r.layers {
            println!(
                "  {:<24} {:<10} {:<36} {:<22} {:>9}",
                l.source, l.target, l.description, l.activation, l.params
            );
        }
        println!("code: {}", r.code_layer());
        for s in &r.assumed {
            println!("assumed: {s}");
        }
        if r.inference_only() {
            println!("{}", crate::model::external::INFERENCE_ONLY);
        }
    }
    let model = r.build()?;
    if let Some(out) = a.out {
        io::save(&model, &out).with_context(|| format!("cannot save {}", out.display()))?;
        eprintln!("saved {}", out.display());
    }
    Ok(())
}
