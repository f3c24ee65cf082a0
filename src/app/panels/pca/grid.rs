//! The PCA vs AE panel's reconstruction grid (ten test digits, both reconstructions with
//! their errors, per-pixel error heatmaps) and its representation-quality table.

use egui::RichText;

use crate::analysis::compare::linear_config;
use crate::analysis::metrics;
use crate::app::widgets;
use crate::app::Shared;
use crate::data::Dataset;

use super::*;

impl PcaPanel {
    pub(super) fn grid_ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        ui.strong("Test digits and their reconstructions");
        let Some(a) = self.analysis.clone() else {
            self.waiting(ui);
            return;
        };
        if self.grid_gen != Some(self.analyses.generation()) {
            self.build_grid(ui.ctx(), &a, &shared.data);
            self.grid_gen = Some(self.analyses.generation());
        }
        let rows = ["Original", "PCA", "AE", "PCA error", "AE error"];
        // Ten tiles and the row names fit the column.
        let side = ((ui.available_width() - 64.0) / GRID as f32 - 3.0).clamp(16.0, TILE);
        egui::Grid::new("pca-grid")
            .spacing([3.0, 2.0])
            .show(ui, |ui| {
                for (r, name) in rows.iter().enumerate() {
                    let color = match r {
                        1 | 3 => PCA_COLOR,
                        2 | 4 => AE_COLOR,
                        _ => ui.visuals().text_color(),
                    };
                    ui.label(RichText::new(*name).color(color).small());
                    for c in 0..GRID {
                        let Some(tile) = self.grid.get(r * GRID + c) else {
                            continue;
                        };
                        ui.vertical(|ui| {
                            match &tile.tex {
                                Some(t) => widgets::show_texture(ui, t, side),
                                None => widgets::empty_square(ui, side),
                            };
                            if let Some(e) = tile.error {
                                ui.label(RichText::new(format!("{e:.3}")).size(9.0).weak());
                            }
                        });
                    }
                    ui.end_row();
                }
            });
        ui.label(
            RichText::new(format!(
                "Numbers: per-pixel MSE of each digit. Heatmaps: squared error per pixel, \
                 black 0 to yellow {:.2} or more (same scale for both).",
                self.heat_max
            ))
            .small()
            .weak(),
        );
    }

    pub(super) fn build_grid(&mut self, ctx: &egui::Context, a: &Analysis, data: &Dataset) {
        let idx = crate::app::panels::train::pick_grid(&data.test.labels, GRID);
        let n = idx.len();
        let shown = data.test.subset(&idx);
        let originals = shown.images;
        let px = crate::PIXELS;
        let pca_recon = a.pca.reconstruct(&a.pca.project(&originals, a.k), a.k);
        let ae_recon = a
            .model
            .reconstruct_labelled(&originals, &shown.labels)
            .unwrap_or_default();
        let sq = |r: &[f32]| -> Vec<f32> {
            if r.len() != originals.len() {
                return vec![0.0; originals.len()];
            }
            originals
                .iter()
                .zip(r)
                .map(|(x, y)| (x - y) * (x - y))
                .collect()
        };
        let (pca_sq, ae_sq) = (sq(&pca_recon), sq(&ae_recon));
        // The heatmaps' top colour: the 99th percentile of both methods' squared errors, so a
        // handful of extreme pixels do not leave the rest black.
        let mut all: Vec<f32> = pca_sq.iter().chain(&ae_sq).copied().collect();
        all.sort_by(|a, b| a.total_cmp(b));
        let heat_max = all
            .get(all.len() * 99 / 100)
            .copied()
            .unwrap_or(0.0)
            .max(1e-3);
        self.heat_max = heat_max;
        let pca_err = metrics::row_mse(&originals, &pca_recon, px);
        let ae_err = metrics::row_mse(&originals, &ae_recon, px);
        self.grid_errors = (0..n)
            .map(|i| {
                (
                    pca_err.get(i).copied().unwrap_or(f32::NAN),
                    ae_err.get(i).copied().unwrap_or(f32::NAN),
                )
            })
            .collect();
        self.grid.resize_with(5 * GRID, || Tile {
            tex: None,
            error: None,
        });
        for c in 0..GRID {
            for r in 0..5 {
                let tile = &mut self.grid[r * GRID + c];
                if c >= n {
                    tile.tex = None;
                    tile.error = None;
                    continue;
                }
                let s = c * px..(c + 1) * px;
                let img = match r {
                    0 => widgets::digit_image(&originals[s]),
                    1 if pca_recon.len() >= s.end => widgets::digit_image(&pca_recon[s]),
                    2 if ae_recon.len() >= s.end => widgets::digit_image(&ae_recon[s]),
                    3 => widgets::heatmap_image(&pca_sq[s], crate::SIDE, heat_max),
                    4 => widgets::heatmap_image(&ae_sq[s], crate::SIDE, heat_max),
                    _ => widgets::digit_image(&[0.0; crate::PIXELS]),
                };
                tile.error = match r {
                    1 => pca_err.get(c).copied(),
                    2 => ae_err.get(c).copied(),
                    _ => None,
                };
                widgets::set_texture(&mut tile.tex, ctx, &format!("pca-grid-{r}-{c}"), img);
            }
        }
    }

    pub(super) fn waiting(&self, ui: &mut egui::Ui) {
        if let Some(e) = &self.analysis_error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        } else {
            widgets::busy_line(ui, "Encoding the images and measuring both methods…");
        }
    }

    pub(super) fn quality_ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        ui.strong("Representation quality");
        let Some(a) = self.analysis.clone() else {
            self.waiting(ui);
            return;
        };
        let pct = |v: f32| format!("{:.1} %", 100.0 * v);
        let secs = |v: Option<f64>| match v {
            Some(s) if s < 1.0 => format!("{:.0} ms", s * 1e3),
            Some(s) => format!("{s:.1} s"),
            None => "–".into(),
        };
        egui::Grid::new("pca-quality")
            .num_columns(3)
            .striped(true)
            .spacing([16.0, 4.0])
            .show(ui, |ui| {
                ui.label(format!("k = {}", a.k));
                ui.label(RichText::new("PCA").color(PCA_COLOR).strong());
                ui.label(RichText::new("Autoencoder").color(AE_COLOR).strong());
                ui.end_row();
                ui.label("Test MSE");
                ui.label(format!("{:.4}", a.pca_test_mse));
                ui.label(format!("{:.4}", a.ae_test_mse));
                ui.end_row();
                ui.label("Test PSNR");
                ui.label(format!("{:.2} dB", metrics::psnr(a.pca_test_mse as f32)));
                ui.label(format!("{:.2} dB", metrics::psnr(a.ae_test_mse as f32)));
                ui.end_row();
                ui.label(format!("{KNN}-NN accuracy")).on_hover_text(
                    "Classify each test image by a majority vote of its 5 nearest training \
                         images in code space: how well the code keeps the classes apart.",
                );
                ui.label(pct(a.pca_knn));
                ui.label(pct(a.ae_knn));
                ui.end_row();
                ui.label("Fit / training time");
                ui.label(secs(a.pca_fit_seconds))
                    .on_hover_text("Fitting PCA once (covariance and eigendecomposition).");
                ui.label(secs(a.ae_train_seconds))
                    .on_hover_text("Sum of the model's training epochs (steps only).");
                ui.end_row();
            });
        let better = if a.ae_test_mse < a.pca_test_mse {
            format!(
                "The autoencoder reconstructs {:.0} % better than PCA at this k.",
                100.0 * (1.0 - a.ae_test_mse / a.pca_test_mse)
            )
        } else {
            format!(
                "PCA reconstructs {:.0} % better than this autoencoder at this k.",
                100.0 * (1.0 - a.pca_test_mse / a.ae_test_mse)
            )
        };
        ui.label(better);
        ui.add_space(8.0);
        ui.separator();
        ui.strong("The textbook result: a linear autoencoder finds PCA");
        let running = self.linear_run.is_some();
        ui.horizontal(|ui| {
            if ui
                .add_enabled(
                    !running,
                    egui::Button::new(format!("Train a linear autoencoder (k = {})", a.k)),
                )
                .on_hover_text(
                    "784 inputs, k linear units, 784 linear outputs: no activation anywhere. \
                     Trained in the background; the current model stays.",
                )
                .clicked()
            {
                self.start_linear(shared);
            }
            if running && ui.button("Cancel").clicked() {
                self.linear_run = None;
            }
        });
        if let Some(run) = &self.linear_run {
            let (done, total) = run.run.progress();
            let cfg = linear_config(run.k);
            ui.add(
                egui::ProgressBar::new(done as f32 / total.max(1) as f32).text(format!(
                    "{} · {} epochs · lr {} · step {done}/{total}",
                    cfg.describe(),
                    cfg.epochs,
                    cfg.lr,
                )),
            );
        }
        if let Some(e) = &self.linear_error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        if let Some(r) = &self.linear_result {
            let gap = r.gap();
            let verdict = if gap.abs() <= 0.1 {
                "it lands on PCA's error"
            } else if gap > 0.0 {
                "still above PCA: train longer to close the gap"
            } else {
                "below PCA on the test split"
            };
            ui.label(
                RichText::new(format!(
                    "Linear AE, k = {}: test MSE {:.4} vs PCA {:.4} ({:+.1} %), {verdict}. \
                     Trained in {:.1} s.",
                    r.k,
                    r.test_mse,
                    r.pca_test_mse,
                    100.0 * gap,
                    r.seconds
                ))
                .color(LINEAR_COLOR),
            );
        }
    }
}
