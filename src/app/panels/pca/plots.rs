//! The PCA vs AE panel's plots: test error against k (PCA's curve, the session's
//! autoencoders as points), the cumulative explained variance, the two 2-D maps coloured by
//! class, and the plot helpers (k axis, label density, class legend) the Anomaly panel shares.

use egui::{Color32, RichText};
use egui_plot::{Legend, Line, LineStyle, MarkerShape, Plot, PlotPoint, PlotPoints, Points, VLine};

use crate::app::widgets;
use crate::app::Shared;
use crate::model::Variant;

use super::*;

impl PcaPanel {
    pub(super) fn error_plot(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        ui.strong("Test MSE against k");
        let Some(curve) = self.curve.clone() else {
            match &self.curve_error {
                Some(e) => {
                    ui.colored_label(ui.visuals().error_fg_color, e);
                }
                None => {
                    ui.spinner();
                }
            }
            return;
        };
        let data_key = shared.data.id();
        let current = shared.model().map(|m| m.id());
        let mut ae_pts = Vec::new();
        let mut linear_pts = Vec::new();
        let mut current_pt = None;
        for m in &shared.session_models {
            let tag = m.model.id();
            let Some(Some(mse)) = self.session_mse.get(&(tag, data_key)) else {
                continue;
            };
            let p = [log_k(m.model.latent()), *mse];
            if m.model.config().variant == Variant::Linear {
                linear_pts.push(p);
            } else {
                ae_pts.push(p);
            }
            if current.as_ref() == Some(&tag) {
                current_pt = Some(p);
            }
        }
        if current_pt.is_none() {
            if let Some(a) = &self.analysis {
                current_pt = Some([log_k(a.k), a.ae_test_mse]);
            }
        }
        let k = shared.model().map(|m| m.latent());
        let pca_line: Vec<[f64; 2]> = curve
            .mse
            .iter()
            .enumerate()
            .map(|(i, &v)| [log_k(i + 1), v as f64])
            .collect();
        let shown = k_axis(Plot::new("pca-error-k"), "test MSE")
            .height(ERROR_PLOT_HEIGHT)
            .legend(Legend::default().text_style(egui::TextStyle::Small))
            .x_axis_label("k (code size, log scale)")
            .y_axis_label("test MSE")
            .include_y(0.0)
            .show(ui, |p| {
                p.line(
                    Line::new("PCA", PlotPoints::from(pca_line))
                        .color(PCA_COLOR)
                        .width(2.0),
                );
                if !ae_pts.is_empty() {
                    p.points(
                        Points::new("autoencoders (this session)", PlotPoints::from(ae_pts))
                            .color(AE_COLOR)
                            .radius(4.0)
                            .filled(true),
                    );
                }
                if !linear_pts.is_empty() {
                    p.points(
                        Points::new("linear autoencoders", PlotPoints::from(linear_pts))
                            .color(LINEAR_COLOR)
                            .shape(MarkerShape::Diamond)
                            .radius(6.0)
                            .filled(true),
                    );
                }
                if let Some(c) = current_pt {
                    p.points(
                        Points::new("current model", PlotPoints::from(vec![c]))
                            .color(Color32::WHITE)
                            .shape(MarkerShape::Circle)
                            .radius(7.0)
                            .filled(false),
                    );
                }
                if let Some(k) = k {
                    p.vline(
                        VLine::new("", log_k(k))
                            .color(Color32::GRAY)
                            .style(LineStyle::dashed_loose()),
                    );
                }
            });
        widgets::name_widget(&shown.response, "Error against k");
    }

    pub(super) fn variance_plot(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        let k = shared.model().map(|m| m.latent());
        let Some(curve) = self.curve.clone() else {
            ui.strong("Explained variance");
            ui.spinner();
            return;
        };
        match k.and_then(|k| {
            curve
                .cumulative
                .get(k.min(curve.cumulative.len()).checked_sub(1)?)
        }) {
            Some(v) => ui.strong(format!(
                "Explained variance: {:.1} % at k = {}",
                100.0 * v,
                k.unwrap_or(0)
            )),
            None => ui.strong("Explained variance (cumulative)"),
        };
        let pts: Vec<[f64; 2]> = curve
            .cumulative
            .iter()
            .enumerate()
            .map(|(i, &v)| [log_k(i + 1), 100.0 * v as f64])
            .collect();
        k_axis(Plot::new("pca-variance"), "% of variance")
            .height(VARIANCE_PLOT_HEIGHT)
            .x_axis_label("number of components (log scale)")
            .y_axis_label("% of variance")
            .include_y(0.0)
            .include_y(100.0)
            .show(ui, |p| {
                p.line(
                    Line::new("explained variance", PlotPoints::from(pts))
                        .color(PCA_COLOR)
                        .width(2.0),
                );
                if let Some(k) = k {
                    p.vline(
                        VLine::new("", log_k(k))
                            .color(Color32::GRAY)
                            .style(LineStyle::dashed_loose()),
                    );
                }
            });
    }

    /// One 2-D map: PCA's first two components, or the autoencoder's code (`ae`).
    pub(super) fn map_ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared, ae: bool) {
        let a = self.analysis.clone();
        let title = if !ae {
            "PCA: first two components".to_string()
        } else {
            match a.as_ref().map(|a| a.map_kind) {
                Some(MapKind::Code) => "Autoencoder: its 2-D code".to_string(),
                Some(MapKind::OneD) => "Autoencoder: its 1-D code (on x)".to_string(),
                Some(MapKind::Projected) => format!(
                    "Autoencoder: {}-D code, first 2 PCs",
                    a.as_ref().map_or(0, |a| a.k)
                ),
                None => "Autoencoder".to_string(),
            }
        };
        ui.label(
            RichText::new(title)
                .strong()
                .color(if ae { AE_COLOR } else { PCA_COLOR }),
        );
        let Some(a) = a else {
            ui.label(if ae {
                "Train or load a model to see its code."
            } else {
                "Appears with a model."
            });
            return;
        };
        let names = &shared.data.class_names;
        let map = if ae { &a.ae_map } else { &a.pca_map };
        denser_x_labels(Plot::new(if ae { "ae-map" } else { "pca-map" }))
            .y_grid_spacer(egui_plot::uniform_grid_spacer(nice_grid))
            .height(MAP_HEIGHT)
            .allow_scroll(false)
            .show(ui, |p| {
                for (c, pts) in map.iter().enumerate() {
                    if pts.is_empty() {
                        continue;
                    }
                    let name = names.get(c).cloned().unwrap_or_else(|| c.to_string());
                    p.points(
                        Points::new(name, PlotPoints::Borrowed(pts))
                            .color(widgets::class_color(c as u8))
                            .radius(1.5)
                            .filled(true),
                    );
                }
            });
    }
}

/// Grid steps of 1, 2 or 5 times a power of ten, about five labelled steps across the view
/// (egui_plot's default only uses powers of ten, which leaves a narrow plot with one label).
pub fn nice_grid(input: egui_plot::GridInput) -> [f64; 3] {
    let span = (input.bounds.1 - input.bounds.0).abs().max(1e-12);
    let raw = span / 5.0;
    let p = 10f64.powf(raw.log10().floor());
    let m = raw / p;
    let step = p * if m < 1.5 {
        1.0
    } else if m < 3.5 {
        2.0
    } else if m < 7.5 {
        5.0
    } else {
        10.0
    };
    [step / 2.0, step, step * 10.0]
}

/// A plot whose x-axis labels may sit closer than egui_plot's default (60 points apart), on
/// [`nice_grid`] steps, so a narrow plot still gets a few numbers.
pub fn denser_x_labels(plot: Plot<'_>) -> Plot<'_> {
    plot.custom_x_axes(vec![
        egui_plot::AxisHints::new_x().label_spacing(34.0..=50.0)
    ])
    .x_grid_spacer(egui_plot::uniform_grid_spacer(nice_grid))
}

/// Grid marks of a log10 axis: 1, 2 and 5 times each power of ten (labelled), and the other
/// multiples (fainter, unlabelled), within the plot's bounds.
pub fn log10_grid(input: egui_plot::GridInput) -> Vec<egui_plot::GridMark> {
    let (lo, hi) = input.bounds;
    if !(lo.is_finite() && hi.is_finite()) || hi - lo > 30.0 {
        return Vec::new();
    }
    (lo.floor() as i32..=hi.ceil() as i32)
        .flat_map(|e| (1..=9).map(move |m| (m, (m as f64).log10() + e as f64)))
        .filter(|&(_, v)| (lo..=hi).contains(&v))
        .map(|(m, value)| egui_plot::GridMark {
            value,
            step_size: if matches!(m, 1 | 2 | 5) { 1.0 } else { 0.1 },
        })
        .collect()
}

/// The label of a [`log10_grid`] mark: the value itself (one decimal below 1), none for the
/// fainter marks.
pub fn log10_label(mark: egui_plot::GridMark, _range: &std::ops::RangeInclusive<f64>) -> String {
    if mark.step_size < 1.0 {
        return String::new();
    }
    let v = 10f64.powf(mark.value);
    if v < 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

/// Where k sits on the (logarithmic) k axes.
pub(super) fn log_k(k: usize) -> f64 {
    (k.max(1) as f64).log10()
}

/// A plot whose x axis is log10(k): marks at 1, 2, 5, 10, 20, 50, 100 (fainter lines between),
/// labels and hover text in k.
pub(super) fn k_axis<'a>(plot: Plot<'a>, y_name: &'a str) -> Plot<'a> {
    plot.include_x(0.0)
        .include_x(log_k(KMAX))
        .allow_scroll(false)
        .allow_zoom(false)
        .allow_drag(false)
        .x_grid_spacer(log10_grid)
        .x_axis_formatter(log10_label)
        .label_formatter(move |pos| {
            let (name, p) = match pos {
                egui_plot::HoverPosition::NearDataPoint {
                    plot_name,
                    position,
                    ..
                } => (*plot_name, *position),
                egui_plot::HoverPosition::Elsewhere { position } => ("", *position),
            };
            let k = 10f64.powf(p.x);
            let head = if name.is_empty() {
                String::new()
            } else {
                format!("{name}\n")
            };
            Some(format!("{head}k = {k:.0}\n{y_name} {:.4}", p.y))
        })
}

/// Splits 2-D points by class.
pub(super) fn by_class(xy: &[[f64; 2]], labels: &[u8]) -> Vec<Vec<PlotPoint>> {
    let classes = labels.iter().copied().max().map_or(0, |m| m as usize + 1);
    let mut out = vec![Vec::new(); classes];
    for (p, &l) in xy.iter().zip(labels) {
        out[l as usize].push(PlotPoint::new(p[0], p[1]));
    }
    out
}

/// One coloured swatch and name per class, laid out by the caller's (horizontal) layout.
/// One swatch and name per class in `present` (the labels that occur), by label.
pub fn class_legend(ui: &mut egui::Ui, names: &[String], present: &[u8]) {
    for &c in present {
        let name = names
            .get(usize::from(c))
            .cloned()
            .unwrap_or_else(|| c.to_string());
        let (rect, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
        ui.painter().rect_filled(rect, 2.0, widgets::class_color(c));
        ui.label(name);
        ui.add_space(6.0);
    }
}
