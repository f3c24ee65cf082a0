//! The Compression panel's rate–distortion plots: PSNR against bytes per image on a log axis,
//! one curve per autoencoder of the session (over bits), PCA (every k and b as points, its
//! best settings as a line), JPEG (over quality) and PNG's lossless size as a vertical line.
//! Hovering a point names its method and settings with its bytes, PSNR and MSE.

use egui::RichText;
use egui_plot::{Legend, Line, LineStyle, MarkerShape, Plot, PlotPoints, Points, VLine};

use super::*;
use crate::analysis::codec::Method;

const PLOT_HEIGHT: f32 = 250.0;
/// x of a byte count.
fn lx(bytes: f64) -> f64 {
    bytes.max(1e-3).log10()
}

/// The points of `method` that no other point beats (fewer or as many bytes and a higher
/// PSNR), by size.
fn frontier(points: &[RdPoint]) -> Vec<RdPoint> {
    let mut v: Vec<RdPoint> = points.to_vec();
    v.sort_by(|a, b| a.bytes_per_image.total_cmp(&b.bytes_per_image));
    let mut out: Vec<RdPoint> = Vec::new();
    for p in v {
        if out.last().is_none_or(|l| p.psnr > l.psnr) {
            out.push(p);
        }
    }
    out
}

/// "quality 10: 401 bytes, 22.86 dB (MSE 0.00517)".
fn hover_text(name: &str, p: &RdPoint) -> String {
    format!(
        "{name}\n{}\n{:.1} bytes per image\nPSNR {:.2} dB (MSE {:.5})",
        p.describe(),
        p.bytes_per_image,
        p.psnr,
        p.mse
    )
}

impl CompressionPanel {
    pub(super) fn plot_ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared, target: Target) {
        let Some(data) = self.target_data(shared, target) else {
            ui.strong("Off its home ground");
            ui.label(
                "Open another dataset folder (e.g. Fashion-MNIST) to measure the same codecs, \
                 fitted on this dataset, on images the models were not trained on.",
            );
            if ui.button("Open another dataset…").clicked() {
                self.open_other(shared);
            }
            return;
        };
        let n = data.test.len().min(SUBSET);
        match target {
            Target::Home => ui.strong(format!("On {} (the models' own data)", data.name)),
            Target::Other => ui.strong(format!("On {}: off the models' home ground", data.name)),
        };
        ui.label(
            RichText::new(format!(
                "first {} test images",
                widgets::thousands(n as f64)
            ))
            .weak(),
        );
        let models = self.model_points(shared, target);
        let baseline = self.baseline_points(shared, target);
        if models.is_empty() && baseline.is_none() {
            widgets::busy_line(ui, "Measuring…");
            return;
        }
        let scale = shared.draw_scale();
        // Every drawn series by name, in drawing order, for the hover text.
        let mut series: Vec<(String, Vec<RdPoint>)> = Vec::new();
        for (l, pts) in &models {
            series.push((format!("AE {}", l.label), pts.to_vec()));
        }
        let (mut pca, mut jpeg, mut png) = (Vec::new(), Vec::new(), None);
        if let Some(b) = &baseline {
            for p in b.iter() {
                match p.method {
                    Method::Pca => pca.push(*p),
                    Method::Jpeg => jpeg.push(*p),
                    Method::Png => png = Some(*p),
                    Method::Autoencoder => {}
                }
            }
        }
        let pca_best = frontier(&pca);
        let lookup = series.clone();
        let (pca_h, best_h, jpeg_h) = (pca.clone(), pca_best.clone(), jpeg.clone());
        let name = match target {
            Target::Home => "Rate-distortion plot",
            Target::Other => "Rate-distortion plot, other data",
        };
        let shown = Plot::new(("compression-rd", target == Target::Home))
            .height(PLOT_HEIGHT)
            .legend(
                Legend::default()
                    .text_style(egui::TextStyle::Small)
                    .position(egui_plot::Corner::LeftTop),
            )
            .allow_scroll(false)
            .allow_zoom(false)
            .allow_drag(false)
            .include_x(lx(0.5))
            .include_x(lx(1000.0))
            .include_y(5.0)
            .include_y(35.0)
            .x_axis_label("bytes per image (log scale)")
            .y_axis_label("PSNR (dB)")
            .x_grid_spacer(crate::app::panels::pca::log10_grid)
            .x_axis_formatter(crate::app::panels::pca::log10_label)
            .label_formatter(move |pos| match pos {
                egui_plot::HoverPosition::NearDataPoint {
                    plot_name, index, ..
                } => {
                    let p = if *plot_name == "PCA (every k and b)" {
                        pca_h.get(*index)
                    } else if *plot_name == "PCA (best k for each size)" {
                        best_h.get(*index)
                    } else if *plot_name == "JPEG" {
                        jpeg_h.get(*index)
                    } else {
                        lookup
                            .iter()
                            .find(|(n, _)| n == plot_name)
                            .and_then(|(_, v)| v.get(*index))
                    };
                    p.map(|p| hover_text(plot_name, p))
                }
                egui_plot::HoverPosition::Elsewhere { position } => Some(format!(
                    "{:.1} bytes, {:.1} dB",
                    10f64.powf(position.x),
                    position.y
                )),
            })
            .show(ui, |p| {
                let xy = |v: &[RdPoint]| -> Vec<[f64; 2]> {
                    v.iter().map(|q| [lx(q.bytes_per_image), q.psnr]).collect()
                };
                for (i, (name, pts)) in series.iter().enumerate() {
                    let c = MODEL_COLORS[i % MODEL_COLORS.len()];
                    p.line(
                        Line::new(name.as_str(), PlotPoints::from(xy(pts)))
                            .color(c)
                            .width(2.0 * scale),
                    );
                    p.points(
                        Points::new(name.as_str(), PlotPoints::from(xy(pts)))
                            .color(c)
                            .radius(3.5 * scale)
                            .filled(true),
                    );
                }
                if !pca.is_empty() {
                    p.line(
                        Line::new(
                            "PCA (best k for each size)",
                            PlotPoints::from(xy(&pca_best)),
                        )
                        .color(PCA_COLOR)
                        .width(2.0 * scale)
                        .style(LineStyle::dashed_loose()),
                    );
                    p.points(
                        Points::new("PCA (every k and b)", PlotPoints::from(xy(&pca)))
                            .color(PCA_COLOR)
                            .shape(MarkerShape::Diamond)
                            .radius(3.0 * scale)
                            .filled(false),
                    );
                }
                if !jpeg.is_empty() {
                    p.line(
                        Line::new("JPEG", PlotPoints::from(xy(&jpeg)))
                            .color(JPEG_COLOR)
                            .width(2.0 * scale),
                    );
                    p.points(
                        Points::new("JPEG", PlotPoints::from(xy(&jpeg)))
                            .color(JPEG_COLOR)
                            .shape(MarkerShape::Square)
                            .radius(3.0 * scale)
                            .filled(true),
                    );
                }
                if let Some(png) = png {
                    p.vline(
                        VLine::new(
                            format!("PNG, lossless ({:.0} bytes)", png.bytes_per_image),
                            lx(png.bytes_per_image),
                        )
                        .color(PNG_COLOR)
                        .width(1.5 * scale)
                        .style(LineStyle::dashed_dense()),
                    );
                }
            });
        crate::app::widgets::name_widget(&shown.response, name);
        if target == Target::Other {
            ui.label(
                "The decoder can only draw what it learned: on images unlike its training set, \
                 every code decodes to something digit-like and the error jumps. JPEG assumes \
                 nothing about the images, so its curve barely moves.",
            );
        }
    }
}
