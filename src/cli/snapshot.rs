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
    /// train, latent, interpolate, denoise, pca or anomaly (default: the lesson's panel with
    /// --lesson, else train).
    #[arg(long, value_parser = parse_tab)]
    pub panel: Option<Tab>,
    /// A saved model to show, or a built-in one as builtin:KEY (default: a built-in one).
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
    /// Width and height together, e.g. 1024x768 (overrides --width and --height).
    #[arg(long, value_name = "WxH", value_parser = parse_size)]
    pub size: Option<(f32, f32)>,
    /// Open a lesson above the panel, its step set up: a built-in one by number (1 to the
    /// course's length, see `bottleneck lessons`) or a lesson file.
    #[arg(long, value_name = "FILE|N")]
    pub lesson: Option<String>,
    /// The lesson's step (from 1).
    #[arg(long, value_name = "M", default_value_t = 1, requires = "lesson")]
    pub step: usize,
    /// Pixels per point (2 for a 2× image).
    #[arg(long, default_value_t = 1.0)]
    pub scale: f32,
    /// Render in presenter mode.
    #[arg(long)]
    pub presenter: bool,
    /// How the Latent space panel draws a code wider than 2: pca, tsne or umap; the first
    /// image is then selected (its 10 nearest neighbours ringed, a 2-D VAE's posteriors drawn).
    #[arg(long, value_parser = parse_projection)]
    pub projection: Option<crate::analysis::embed::Method>,
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

fn parse_projection(s: &str) -> Result<crate::analysis::embed::Method, String> {
    crate::analysis::embed::Method::parse(s)
        .ok_or_else(|| format!("unknown projection '{s}' (expected pca, tsne or umap)"))
}

/// "1024x768" (or with × or X) as a width and a height.
pub fn parse_size(s: &str) -> Result<(f32, f32), String> {
    let bad = || format!("size '{s}': expected WIDTHxHEIGHT, e.g. 1024x768");
    let (w, h) = s.trim().split_once(['x', 'X', '×']).ok_or_else(bad)?;
    let w: f32 = w.trim().parse().map_err(|_| bad())?;
    let h: f32 = h.trim().parse().map_err(|_| bad())?;
    Ok((w, h))
}

pub fn run(a: SnapshotArgs) -> anyhow::Result<()> {
    let n = crate::app::lessons::COURSE.len();
    let (lesson, lesson_file) = match a.lesson.as_deref().map(str::trim) {
        None => (None, None),
        Some(l) => match l.parse::<usize>() {
            Ok(i) if i == 0 || i > n => {
                anyhow::bail!("--lesson {i}: the built-in lessons are numbered 1 to {n}")
            }
            Ok(i) => (Some(i - 1), None),
            Err(_) => (None, Some(PathBuf::from(l))),
        },
    };
    if a.step == 0 {
        anyhow::bail!("--step 0: steps are numbered from 1");
    }
    let step = a.step - 1;
    // The step's own panel unless --panel says otherwise.
    let step_panel = match (&lesson, &lesson_file) {
        (Some(i), _) => crate::app::lessons::built_in(*i).and_then(Result::ok),
        (None, Some(p)) => Some(
            crate::app::lessons::format::load(p).map_err(|e| anyhow::anyhow!("--lesson: {e}"))?,
        ),
        (None, None) => None,
    }
    .and_then(|l| l.steps.get(step).cloned())
    .and_then(Result::ok)
    .map(|s| s.panel);
    let panel = a.panel.or(step_panel).unwrap_or(Tab::Train);
    let (width, height) = a.size.unwrap_or((a.width, a.height));
    if a.out
        .extension()
        .is_none_or(|e| !e.eq_ignore_ascii_case("png"))
    {
        anyhow::bail!("--out {}: the file name must end in .png", a.out.display());
    }
    let model = match &a.model {
        Some(p) => Some(Arc::new(super::commands::load_model_spec(
            &p.to_string_lossy(),
        )?)),
        None => None,
    };
    let compare = match &a.compare {
        Some(p) => Some(Arc::new(super::commands::load_model(p)?)),
        None => None,
    };
    let req = SnapshotRequest {
        tab: panel,
        model,
        compare,
        data: a.data.clone(),
        width,
        height,
        scale: a.scale,
        presenter: a.presenter,
        settings: None,
        lesson,
        lesson_file,
        step,
        projection: a.projection,
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
        panel.cli_name()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_width_by_height() {
        assert_eq!(parse_size("1024x768"), Ok((1024.0, 768.0)));
        assert_eq!(parse_size(" 1280×800 "), Ok((1280.0, 800.0)));
        assert_eq!(parse_size("800X600"), Ok((800.0, 600.0)));
        for bad in ["1024", "x768", "1024x", "wide x tall", ""] {
            assert!(
                parse_size(bad).unwrap_err().contains("WIDTHxHEIGHT"),
                "{bad}"
            );
        }
    }
}
