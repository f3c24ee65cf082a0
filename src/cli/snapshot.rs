//! `bottleneck snapshot`: renders one panel of the app without a window (egui_kittest's wgpu
//! renderer, which runs on a software GPU) and writes it as a PNG. `screenshots/` is
//! regenerated with it (screenshots/make_screenshots.sh).

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use crate::app::snapshot::{render, SnapshotRequest};
use crate::app::Tab;

#[derive(Args, Debug, Clone)]
pub struct SnapshotArgs {
    /// train, latent, interpolate, denoise, pca or anomaly.
    #[arg(long, value_parser = parse_tab)]
    pub panel: Tab,
    /// A saved model to show (default: a built-in one).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// A second saved model, shown beside the first as run B (the Train panel plots both
    /// runs' curves, the Latent space panel draws both maps).
    #[arg(long, value_name = "MODEL")]
    pub compare: Option<PathBuf>,
    /// "embedded" or a folder of IDX files.
    #[arg(long, default_value = "embedded")]
    pub data: crate::data::DatasetSource,
    /// Width and height in points.
    #[arg(long, default_value_t = 1280.0)]
    pub width: f32,
    #[arg(long, default_value_t = 800.0)]
    pub height: f32,
    /// Pixels per point (2 for a 2× image).
    #[arg(long, default_value_t = 1.0)]
    pub scale: f32,
    /// Render in presenter mode.
    #[arg(long)]
    pub presenter: bool,
    #[arg(long)]
    pub out: PathBuf,
}

fn parse_tab(s: &str) -> Result<Tab, String> {
    Tab::parse(s).ok_or_else(|| {
        format!(
            "unknown panel '{s}' (expected one of: {})",
            Tab::ALL.map(|t| t.cli_name()).join(", ")
        )
    })
}

pub fn run(a: SnapshotArgs) -> anyhow::Result<()> {
    if a.out
        .extension()
        .is_none_or(|e| !e.eq_ignore_ascii_case("png"))
    {
        anyhow::bail!("--out {}: the file name must end in .png", a.out.display());
    }
    let model = match &a.model {
        Some(p) => Some(Arc::new(super::commands::load_model(p)?)),
        None => None,
    };
    let compare = match &a.compare {
        Some(p) => Some(Arc::new(super::commands::load_model(p)?)),
        None => None,
    };
    let req = SnapshotRequest {
        tab: a.panel,
        model,
        compare,
        data: a.data.clone(),
        width: a.width,
        height: a.height,
        scale: a.scale,
        presenter: a.presenter,
        settings: None,
    };
    let img = render(&req)?;
    let (w, h) = img.dimensions();
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )?;
    crate::model::io::write_atomic(&a.out, &bytes)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", a.out.display()))?;
    eprintln!(
        "wrote {} ({w}×{h}, panel {})",
        a.out.display(),
        a.panel.cli_name()
    );
    Ok(())
}
