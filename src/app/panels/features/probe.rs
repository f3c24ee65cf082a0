//! The Features panel's probe: test accuracy of a linear probe and of 5-NN on the model's
//! codes, PCA's codes at the same k and raw pixels, against the number of labelled training
//! images (log axis), with a table of the numbers.

use egui_plot::{Corner, Legend, Line, LineStyle, Plot, PlotPoints, Points};

use super::{Analysis, FeaturesPanel};
use crate::app::panels::pca::{AE_COLOR, PCA_COLOR};
use crate::app::widgets;
use crate::app::Shared;

const PIXEL_COLOR: egui::Color32 = egui::Color32::from_rgb(0xCC, 0x79, 0xA7);

impl FeaturesPanel {
    pub(super) fn probe_ui(&mut self, ui: &mut egui::Ui, shared: &Shared, a: &Analysis) {
        let width = ui.available_width();
        ui.set_max_width(width);
        ui.heading("What the codes are worth");
        let result = self.probes.get(&a.key).cloned();
        match (&self.probe_run, &result) {
            (Some((key, run)), _) if *key == a.key => {
                let (done, total) = run.progress();
                ui.add(
                    egui::ProgressBar::new(done as f32 / total.max(1) as f32)
                        .text(format!("Training probes: {done} of {total}")),
                );
            }
            (_, None) => {
                if let Some((_, e)) = &self.probe_failed {
                    ui.colored_label(ui.visuals().error_fg_color, format!("Probe failed: {e}"));
                }
                if ui
                    .button("Run the probe")
                    .on_hover_text("Train linear probes and 5-NN on 100, 1,000 and all labels.")
                    .clicked()
                {
                    self.probe_failed = None;
                    self.start_probe(shared);
                }
            }
            _ => {}
        }
        let Some(r) = result else {
            return;
        };
        let scale = shared.draw_scale();
        let x: Vec<f64> = r.sizes.iter().map(|&n| (n as f64).log10()).collect();
        let series = |v: &[f32]| -> Vec<[f64; 2]> {
            x.iter().zip(v).map(|(&x, &y)| [x, y as f64]).collect()
        };
        let lw = 2.0 * scale;
        let lowest = [&r.codes, &r.pca, &r.pixels, &r.knn_codes, &r.knn_pca]
            .iter()
            .flat_map(|v| v.iter())
            .fold(1.0f32, |a, &b| a.min(b)) as f64;
        let plot = Plot::new("features-probe")
            .height(170.0)
            .width(width)
            .legend(
                Legend::default()
                    .text_style(egui::TextStyle::Small)
                    .position(Corner::RightBottom),
            )
            .x_axis_label("labelled training images (log scale)")
            .y_axis_label("test accuracy")
            .x_axis_formatter(|m, _| format!("{:.0}", 10f64.powf(m.value)))
            .include_y(lowest - 0.05)
            .include_y(1.0)
            .include_x(x.first().copied().unwrap_or(2.0) - 0.15)
            .include_x(x.last().copied().unwrap_or(4.0) + 0.15)
            .allow_scroll(false)
            .show(ui, |p| {
                for (name, v, color, dashed) in [
                    (
                        format!("linear probe: codes (k = {})", r.k),
                        &r.codes,
                        AE_COLOR,
                        false,
                    ),
                    (
                        format!("linear probe: PCA (k = {})", r.k),
                        &r.pca,
                        PCA_COLOR,
                        false,
                    ),
                    (
                        "linear probe: pixels".to_string(),
                        &r.pixels,
                        PIXEL_COLOR,
                        false,
                    ),
                    ("5-NN: codes".to_string(), &r.knn_codes, AE_COLOR, true),
                    ("5-NN: PCA".to_string(), &r.knn_pca, PCA_COLOR, true),
                ] {
                    let mut line = Line::new(name.clone(), PlotPoints::from(series(v)))
                        .color(color)
                        .width(lw);
                    if dashed {
                        line = line.style(LineStyle::dashed_loose());
                    }
                    p.line(line);
                    p.points(
                        Points::new(name, PlotPoints::from(series(v)))
                            .color(color)
                            .radius(3.0 * scale),
                    );
                }
            });
        widgets::name_widget(&plot.response, "Probe plot");
        egui::Grid::new("features-probe-table")
            .striped(true)
            .show(ui, |ui| {
                ui.strong("labels");
                for h in ["codes", "PCA", "pixels", "5-NN codes", "5-NN PCA"] {
                    ui.strong(h);
                }
                ui.end_row();
                for (i, n) in r.sizes.iter().enumerate() {
                    ui.label(widgets::thousands(*n as f64));
                    for v in [&r.codes, &r.pca, &r.pixels, &r.knn_codes, &r.knn_pca] {
                        ui.label(
                            v.get(i)
                                .map_or("-".into(), |a| format!("{:.1} %", a * 100.0)),
                        );
                    }
                    ui.end_row();
                }
            });
        widgets::help_note(
            ui,
            "features-probe-help",
            "How useful are the codes as features for a classifier trained on few labels? A \
             linear probe (softmax regression, early-stopped on a held-out tenth of its \
             training images) and 5-NN are trained on 100, 1,000 and all labelled training \
             images, on the model's codes, PCA's codes with the same k, and the raw 784 pixels, \
             and scored on the test images. Good codes keep the classes apart with few \
             dimensions: they do well with few labels.",
        );
    }
}
