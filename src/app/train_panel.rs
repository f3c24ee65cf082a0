//! The Train panel: Start / Pause / Resume / Step / Stop, save and load, a progress bar with
//! throughput and time left, loss curves (train and test, one line per term, with PCA's test
//! MSE at the same k as a dashed reference), and 16 fixed test digits above their live
//! reconstructions.

use std::collections::BTreeSet;
use std::path::PathBuf;

use egui::{Color32, TextureHandle};
use egui_plot::{HLine, Legend, Line, LineStyle, Plot, PlotPoints, Points};

use super::jobs::{self, DialogKind, Job};
use super::widgets;
use super::{Level, Shared};
use crate::model::loss;
use crate::train::worker::{Command, RunState};

/// Number of digits in the reconstruction grid, and its columns.
pub const GRID: usize = 16;
const COLS: usize = 8;

pub struct TrainPanel {
    /// Test indices shown in the grid (one of each class first).
    pub grid_indices: Vec<usize>,
    grid_tex: Option<TextureHandle>,
    grid_version: Option<(u64, usize)>,
    /// Terms hidden from the plot.
    hidden_terms: BTreeSet<String>,
    save_dialog: Option<Job<Vec<PathBuf>>>,
    load_dialog: Option<Job<Vec<PathBuf>>>,
    form_error: Option<String>,
    /// The reconstructions currently shown (row-major 16 × 784), for tests.
    pub shown_recon: Option<Vec<f32>>,
}

/// `n` test images: the first of each class, then the next ones in order.
pub fn pick_grid(labels: &[u8], n: usize) -> Vec<usize> {
    let mut chosen = Vec::new();
    let mut seen = [false; 256];
    for (i, &l) in labels.iter().enumerate() {
        if !seen[l as usize] {
            seen[l as usize] = true;
            chosen.push(i);
        }
        if chosen.len() == n {
            break;
        }
    }
    let mut i = 0;
    while chosen.len() < n.min(labels.len()) {
        if !chosen.contains(&i) {
            chosen.push(i);
        }
        i += 1;
    }
    chosen.sort_by_key(|&i| (labels[i], i));
    chosen
}

impl TrainPanel {
    pub fn new(shared: &Shared) -> Self {
        Self {
            grid_indices: pick_grid(&shared.data.test.labels, GRID),
            grid_tex: None,
            grid_version: None,
            hidden_terms: BTreeSet::new(),
            save_dialog: None,
            load_dialog: None,
            form_error: None,
            shown_recon: None,
        }
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        self.poll_dialogs(shared);
        self.controls(ui, shared);
        self.progress(ui, shared);
        ui.add_space(4.0);
        let wide = ui.available_width() > 900.0;
        if wide {
            ui.columns(2, |cols| {
                self.loss_plot(&mut cols[0], shared);
                self.recon_grid(&mut cols[1], shared);
            });
        } else {
            self.recon_grid(ui, shared);
            self.loss_plot(ui, shared);
        }
    }

    fn controls(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        let state = shared.run.state;
        ui.horizontal_wrapped(|ui| {
            if ui
                .add_enabled(state == RunState::Idle, egui::Button::new("Start"))
                .on_hover_text("Train a new model with the settings on the left.")
                .clicked()
            {
                self.start(shared);
            }
            if ui
                .add_enabled(state == RunState::Running, egui::Button::new("Pause"))
                .on_hover_text("Pause between two steps; the panels get the current weights.")
                .clicked()
            {
                shared.worker.send(Command::Pause);
            }
            if ui
                .add_enabled(state == RunState::Paused, egui::Button::new("Resume"))
                .on_hover_text("Carry on training.")
                .clicked()
            {
                shared.worker.send(Command::Resume);
            }
            if ui
                .add_enabled(state != RunState::Running, egui::Button::new("Step"))
                .on_hover_text("Train exactly one mini-batch (starts a paused run if none is in progress).")
                .clicked()
            {
                self.step(shared);
            }
            if ui
                .add_enabled(state != RunState::Idle, egui::Button::new("Stop"))
                .on_hover_text("End the run and keep the weights reached.")
                .clicked()
            {
                shared.worker.send(Command::Stop);
            }
            let can_continue = state == RunState::Idle && shared.model().is_some();
            if ui
                .add_enabled(can_continue, egui::Button::new("Continue"))
                .on_hover_text("Train the current model for the form's number of epochs more.")
                .clicked()
            {
                if let Some(m) = shared.model().cloned() {
                    shared.run.message = None;
                    shared.worker.send(Command::Continue {
                        model: m,
                        data: shared.data.clone(),
                        epochs: shared.settings.train.epochs,
                    });
                }
            }
            ui.separator();
            if ui
                .add_enabled(shared.model().is_some() && self.save_dialog.is_none(), egui::Button::new("Save model…"))
                .on_hover_text("Save the weights (.safetensors) and settings (.json beside them).")
                .clicked()
            {
                self.save(shared);
            }
            if ui
                .add_enabled(self.load_dialog.is_none(), egui::Button::new("Load model…"))
                .on_hover_text("Load a model saved by Bottleneck; training stops, the loaded model becomes current.")
                .clicked()
            {
                self.load(shared);
            }
        });
        if let Some(e) = &self.form_error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
    }

    /// Start pressed: validate the form and send it to the worker.
    pub fn start(&mut self, shared: &mut Shared) {
        match shared.start_training() {
            Ok(()) => self.form_error = None,
            Err(e) => self.form_error = Some(format!("Cannot start: {e}")),
        }
    }

    /// Step pressed: one batch (starting a paused run when idle).
    pub fn step(&mut self, shared: &mut Shared) {
        if shared.run.state == RunState::Idle {
            if let Err(e) = shared.start_training() {
                self.form_error = Some(format!("Cannot start: {e}"));
                return;
            }
            shared.worker.send(Command::Pause);
        }
        shared.worker.send(Command::Step);
    }

    fn suggested_name(shared: &Shared) -> String {
        match shared.model() {
            Some(m) => format!("{}-k{}.safetensors", m.config().variant, m.latent()),
            None => "model.safetensors".into(),
        }
    }

    pub fn save(&mut self, shared: &mut Shared) {
        if let Some(p) = shared.dialog_override.clone() {
            shared.worker.send(Command::Save(p));
        } else {
            self.save_dialog = Some(jobs::file_dialog(
                DialogKind::SaveModel,
                &shared.egui,
                &Self::suggested_name(shared),
            ));
        }
    }

    pub fn load(&mut self, shared: &mut Shared) {
        if let Some(p) = shared.dialog_override.clone() {
            shared.worker.send(Command::Load {
                path: p,
                data: shared.data.clone(),
            });
        } else {
            self.load_dialog = Some(jobs::file_dialog(DialogKind::OpenModel, &shared.egui, ""));
        }
    }

    fn poll_dialogs(&mut self, shared: &mut Shared) {
        if let Some(paths) = jobs::take_done(&mut self.save_dialog) {
            if let Some(mut p) = paths.into_iter().next() {
                if p.extension().is_none() {
                    p.set_extension("safetensors");
                }
                shared.worker.send(Command::Save(p));
            }
        }
        if let Some(paths) = jobs::take_done(&mut self.load_dialog) {
            if let Some(p) = paths.into_iter().next() {
                shared.worker.send(Command::Load {
                    path: p,
                    data: shared.data.clone(),
                });
            }
        }
    }

    fn progress(&self, ui: &mut egui::Ui, shared: &Shared) {
        let r = &shared.run;
        if r.config.is_some() && r.steps_per_epoch > 0 {
            let text = format!(
                "Epoch {}/{} · step {}/{} · {} samples/s · {} left{}",
                r.epoch.min(r.epochs),
                r.epochs,
                r.step,
                r.steps_per_epoch,
                widgets::thousands(r.samples_per_sec),
                if r.state == RunState::Running {
                    widgets::format_duration(r.seconds_left())
                } else {
                    "–".into()
                },
                if r.fused { " · fused engine" } else { "" }
            );
            ui.add(
                egui::ProgressBar::new(r.progress())
                    .text(text)
                    .animate(r.state == RunState::Running),
            );
        } else if let Some(m) = shared.model() {
            ui.add(egui::ProgressBar::new(1.0).text(format!(
                "{} · trained {} epochs · Start trains a new model, Continue trains this one further",
                m.config().describe(),
                m.meta.epochs_trained
            )));
        } else {
            ui.add(egui::ProgressBar::new(0.0).text("Not trained yet: press Start"));
        }
        if let Some((level, msg)) = &r.message {
            let c = match level {
                Level::Error => ui.visuals().error_fg_color,
                Level::Warning => ui.visuals().warn_fg_color,
                Level::Info => ui.visuals().text_color(),
            };
            ui.colored_label(c, msg);
        }
    }

    fn loss_plot(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        let log = shared.settings.log_scale;
        let k = shared
            .run
            .config
            .as_ref()
            .map(|c| c.model.latent)
            .unwrap_or(shared.settings.train.model.latent);
        let pca_ref = shared.pca_test_mse(k);
        let run = &shared.run;
        let terms = plotted_terms(run.config.as_ref().unwrap_or(&shared.settings.train));
        ui.horizontal_wrapped(|ui| {
            ui.strong("Loss");
            ui.checkbox(&mut shared.settings.log_scale, "log scale")
                .on_hover_text(
                    "Plot the losses on a logarithmic axis, to see small late improvements.",
                );
            for t in &terms {
                let mut on = !self.hidden_terms.contains(t);
                let label = egui::RichText::new(t.as_str()).color(widgets::term_color(t));
                if ui.checkbox(&mut on, label).changed() {
                    if on {
                        self.hidden_terms.remove(t);
                    } else {
                        self.hidden_terms.insert(t.clone());
                    }
                }
            }
        });
        let tf = move |v: f64| if log { v.max(1e-12).log10() } else { v };
        let epochs = run.epochs.max(shared.settings.train.epochs) as f64;
        let empty = run.history.is_empty() && run.step_curve.is_empty();
        let top = pca_ref.map(|v| 2.0 * v).unwrap_or(0.1);
        let plot = Plot::new("loss-plot")
            .include_x(0.0)
            .include_x(if run.history.is_empty() && run.step_curve.is_empty() {
                epochs
            } else {
                0.0
            })
            .include_y(if empty && !log { 0.0 } else { tf(top) })
            .include_y(tf(top))
            .legend(Legend::default())
            .height((ui.available_height() - 8.0).max(220.0))
            .x_axis_label("epoch")
            .allow_scroll(false)
            .y_axis_formatter(move |mark, _| {
                if log {
                    format!("{:.2e}", 10f64.powf(mark.value))
                } else {
                    format!("{:.3}", mark.value)
                }
            });
        let hidden = self.hidden_terms.clone();
        let k_w = shared.draw_scale();
        plot.show(ui, |p| {
            for t in &terms {
                if hidden.contains(t) {
                    continue;
                }
                let c = widgets::term_color(t);
                let steps: Vec<[f64; 2]> = run
                    .step_curve
                    .iter()
                    .filter_map(|(x, st)| st.get(t).map(|v| [*x, tf(v)]))
                    .collect();
                if !steps.is_empty() {
                    // Same name as the epoch curve: one legend entry shows and hides both.
                    p.line(
                        Line::new(format!("train {t}"), PlotPoints::from(steps))
                            .color(c.gamma_multiply(0.35))
                            .width(1.0 * k_w),
                    );
                }
                let train: Vec<[f64; 2]> = run
                    .history
                    .iter()
                    .filter_map(|r| r.train.get(t).map(|v| [r.epoch as f64, tf(v)]))
                    .collect();
                if !train.is_empty() {
                    p.line(
                        Line::new(format!("train {t}"), PlotPoints::from(train.clone()))
                            .color(c)
                            .width(2.0 * k_w),
                    );
                    p.points(
                        Points::new(format!("train {t}"), PlotPoints::from(train))
                            .color(c)
                            .radius(3.0 * k_w),
                    );
                }
                let test: Vec<[f64; 2]> = run
                    .history
                    .iter()
                    .filter_map(|r| r.test.get(t).map(|v| [r.epoch as f64, tf(v)]))
                    .collect();
                if !test.is_empty() {
                    p.line(
                        Line::new(format!("test {t}"), PlotPoints::from(test.clone()))
                            .color(c)
                            .width(2.0 * k_w)
                            .style(LineStyle::dashed_dense()),
                    );
                    p.points(
                        Points::new(format!("test {t}"), PlotPoints::from(test))
                            .color(c)
                            .radius(3.0 * k_w),
                    );
                }
            }
            if let Some(v) = pca_ref {
                p.hline(
                    HLine::new(format!("PCA test MSE, k = {k}"), tf(v))
                        .color(Color32::from_rgb(0xD5, 0x5E, 0x00))
                        .width(1.5 * k_w)
                        .style(LineStyle::dashed_loose()),
                );
            }
        });
    }

    fn recon_grid(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        ui.strong("Test digits (top) and their reconstructions (below)");
        let version = (shared.model_version, shared.data.test.len());
        if self.grid_version != Some(version) || self.grid_tex.is_none() {
            self.grid_indices = pick_grid(&shared.data.test.labels, GRID);
            let originals = shared.data.test.subset(&self.grid_indices).images;
            let recon = shared.model().and_then(|m| m.reconstruct(&originals).ok());
            let img = grid_image(&originals, recon.as_deref());
            widgets::set_texture(&mut self.grid_tex, ui.ctx(), "train-grid", img);
            self.shown_recon = recon;
            self.grid_version = Some(version);
        }
        if let Some(tex) = &self.grid_tex {
            let w = ui.available_width().min(560.0);
            let size = tex.size_vec2();
            ui.add(egui::Image::new(tex).fit_to_exact_size(egui::vec2(w, w * size.y / size.x)));
        }
        match shared.model() {
            Some(m) => {
                let e = m.meta.history.last().and_then(|r| r.test.get(loss::MSE));
                if let Some(e) = e {
                    ui.label(format!(
                        "Test MSE {:.4} after {} epochs",
                        e, m.meta.epochs_trained
                    ));
                }
            }
            None => {
                ui.label("Reconstructions appear after the first epoch.");
            }
        }
    }
}

/// The loss terms worth a curve: the objective's terms, "total" only when it sums several, and
/// the clean-input MSE only when it differs from the reconstruction term (BCE, denoising, VAE).
pub fn plotted_terms(cfg: &crate::model::TrainConfig) -> Vec<String> {
    let mut t: Vec<String> = cfg
        .term_names()
        .into_iter()
        .filter(|n| *n != loss::TOTAL)
        .map(String::from)
        .collect();
    if t.len() > 1 {
        t.push(loss::TOTAL.into());
    }
    let differs = cfg.loss != crate::model::LossKind::Mse
        || cfg.noise.is_some()
        || cfg.model.arch == crate::model::Arch::Vae;
    if differs {
        t.push(loss::MSE.into());
    }
    t
}

/// Originals on rows 0 and 2, reconstructions on rows 1 and 3, 1-pixel gaps.
fn grid_image(originals: &[f32], recon: Option<&[f32]>) -> egui::ColorImage {
    let s = crate::SIDE;
    let gap = 1;
    let n = originals.len() / crate::PIXELS;
    let rows = 2 * n.div_ceil(COLS);
    let w = COLS * (s + gap) + gap;
    let h = rows * (s + gap) + gap;
    let mut px = vec![0.12f32; w * h];
    let mut put = |img: &[f32], r: usize, c: usize| {
        for y in 0..s {
            for x in 0..s {
                px[(gap + r * (s + gap) + y) * w + gap + c * (s + gap) + x] = img[y * s + x];
            }
        }
    };
    for i in 0..n {
        let (r, c) = (2 * (i / COLS), i % COLS);
        put(&originals[i * crate::PIXELS..(i + 1) * crate::PIXELS], r, c);
        match recon {
            Some(rc) => put(&rc[i * crate::PIXELS..(i + 1) * crate::PIXELS], r + 1, c),
            None => put(&[0.0; crate::PIXELS], r + 1, c),
        }
    }
    widgets::gray_image(&px, w, h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plotted_terms_skip_duplicates() {
        use crate::model::{TrainConfig, Variant};
        assert_eq!(
            plotted_terms(&TrainConfig::preset(Variant::Dense, 2)),
            vec!["reconstruction"]
        );
        assert_eq!(
            plotted_terms(&TrainConfig::preset(Variant::Vae, 2)),
            vec!["reconstruction", "kl", "total", "mse"]
        );
        assert_eq!(
            plotted_terms(&TrainConfig::preset(Variant::Denoising, 2)),
            vec!["reconstruction", "mse"]
        );
        assert_eq!(
            plotted_terms(&TrainConfig::preset(Variant::Sparse, 2)),
            vec!["reconstruction", "l1", "total"]
        );
    }

    #[test]
    fn grid_takes_one_of_each_class_first() {
        let labels = [3u8, 3, 1, 0, 1, 2, 0, 9];
        let g = pick_grid(&labels, 6);
        assert_eq!(g.len(), 6);
        let classes: BTreeSet<u8> = g.iter().map(|&i| labels[i]).collect();
        assert!(classes.is_superset(&[0, 1, 2, 3, 9].into_iter().collect()));
        let mut sorted = g.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 6, "no duplicates");
    }
}
