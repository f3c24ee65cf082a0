//! The Train panel: Start / Pause / Resume / Step / Stop, save and load, a progress bar with
//! throughput and time left, loss curves (train and test, one line per term, with PCA's test
//! MSE at the same k as a dashed reference), and 16 fixed test digits above their live
//! reconstructions.
//!
//! "Compare with" trains a second variant (run B, see [`crate::app::Run`]) beside the form's
//! model: the controls act on both runs, B gets its own progress line, its curves share the
//! plot (dotted, diamond markers, legend entries "A: …" / "B: …") and its reconstructions get a
//! row under A's.
//!
//! With the preset's epochs and batch on a data set smaller than the embedded 8,000 images, a
//! run takes as many epochs as give the preset's optimizer steps (said above the plot). When a
//! finished run ends behind PCA at the same k, or near the mean image, the panel says so and
//! offers more epochs. Curves and figures of a model trained on another data set say which.

use std::collections::BTreeSet;
use std::path::PathBuf;

use egui::{Color32, TextureHandle};
use egui_plot::{ColorConflictHandling, HLine, Legend, Line, LineStyle, Plot, PlotPoints, Points};

use crate::app::jobs::{self, DialogKind, Task};
use crate::app::widgets;
use crate::app::{Level, Run, RunId, Shared};
use crate::id::Id;
use crate::model::config::Schedule;
use crate::model::{Term, TrainedModel, Variant};
use crate::train::worker::{Command, RunState};

mod curves;
pub use curves::plotted_terms;
use curves::{PlotItem, RunCurves};

/// From this width on, the loss plot and the reconstructions sit side by side.
const SIDE_BY_SIDE: f32 = 600.0;
/// The loss plot is never shorter than this.
const MIN_PLOT_HEIGHT: f32 = 160.0;

/// Number of digits in the reconstruction grid, and its columns.
pub const GRID: usize = 16;
const COLS: usize = 8;

pub struct TrainPanel {
    /// Test indices shown in the grid (one of each class first).
    pub grid_indices: Vec<usize>,
    grid_tex: Option<TextureHandle>,
    /// What the grid shows: A's snapshot, the dataset, B's snapshot when compared.
    grid_key: Option<(Option<Id>, Id, Option<Option<Id>>)>,
    /// Terms hidden from the plot.
    hidden_terms: BTreeSet<Term>,
    save_dialog: Option<Task<Vec<PathBuf>>>,
    load_dialog: Option<Task<Vec<PathBuf>>>,
    form_error: Option<String>,
    /// The reconstructions currently shown (row-major 16 × 784), for tests.
    pub shown_recon: Option<Vec<f32>>,
    /// Run B's reconstructions shown under A's (when comparing).
    pub shown_recon_b: Option<Vec<f32>>,
    /// The names of the series the loss plot drew last frame (legend entries), for tests.
    pub plotted: Vec<String>,
    /// The verdict on the finished run shown last frame ("… behind PCA …"), for tests.
    pub verdict: Option<String>,
}

pub use crate::analysis::compare::{verdict, Verdict};

/// The schedule Start uses instead of the form's epochs: when the form has the preset's epochs
/// and batch (the user chose neither) and the data set is smaller than the presets assume.
pub fn fitted_schedule(shared: &Shared) -> Option<Schedule> {
    let t = &shared.settings.train;
    if !t.has_preset_schedule() {
        return None;
    }
    let s = t.schedule_for(shared.data.train.len());
    s.changed().then_some(s)
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
            grid_key: None,
            hidden_terms: BTreeSet::new(),
            save_dialog: None,
            load_dialog: None,
            form_error: None,
            shown_recon: None,
            shown_recon_b: None,
            plotted: Vec::new(),
            verdict: None,
        }
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        self.controls(ui, shared);
        self.progress(ui, shared);
        ui.add_space(4.0);
        let w = ui.available_width();
        if w >= SIDE_BY_SIDE {
            // The loss plot and the grid side by side, each as tall as the panel allows (the
            // grid shrinks to fit), so neither is ever pushed out of the window.
            let h = ui.available_height().max(MIN_PLOT_HEIGHT);
            let grid_w = (w * 0.42).min(560.0);
            let down = egui::Layout::top_down(egui::Align::Min);
            ui.horizontal_top(|ui| {
                ui.allocate_ui_with_layout(egui::vec2(w - grid_w - 12.0, h), down, |ui| {
                    self.loss_plot(ui, shared)
                });
                ui.allocate_ui_with_layout(egui::vec2(grid_w, h), down, |ui| {
                    self.recon_grid(ui, shared)
                });
            });
        } else {
            // Too narrow for both: the plot first, the grid under it, scrolling.
            egui::ScrollArea::vertical()
                .id_salt("train-scroll")
                .show(ui, |ui| {
                    let h = ui.available_height().clamp(MIN_PLOT_HEIGHT, 320.0);
                    ui.allocate_ui(egui::vec2(ui.available_width(), h), |ui| {
                        self.loss_plot(ui, shared)
                    });
                    self.recon_grid(ui, shared);
                });
        }
    }

    fn controls(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        let state = shared.runs_state();
        let both = shared.settings.compare;
        let on_both = |text: &str| {
            if both {
                format!("{text} (both runs).")
            } else {
                format!("{text}.")
            }
        };
        ui.horizontal_wrapped(|ui| {
            if ui
                .add_enabled(state == RunState::Idle, egui::Button::new("Start"))
                .on_hover_text(if both {
                    "Train a new model with the settings on the left, and run B beside it."
                } else {
                    "Train a new model with the settings on the left."
                })
                .clicked()
            {
                self.start(shared);
            }
            if ui
                .add_enabled(state == RunState::Running, egui::Button::new("Pause"))
                .on_hover_text(on_both(
                    "Pause between two steps; the panels get the current weights",
                ))
                .clicked()
            {
                shared.send_runs(|| Command::Pause);
            }
            if ui
                .add_enabled(state == RunState::Paused, egui::Button::new("Resume"))
                .on_hover_text(on_both("Carry on training"))
                .clicked()
            {
                shared.send_runs(|| Command::Resume);
            }
            if ui
                .add_enabled(state != RunState::Running, egui::Button::new("Step"))
                .on_hover_text(on_both(
                    "Train exactly one mini-batch (starts a paused run if none is in progress)",
                ))
                .clicked()
            {
                self.step(shared);
            }
            if ui
                .add_enabled(state != RunState::Idle, egui::Button::new("Stop"))
                .on_hover_text(on_both("End the run and keep the weights reached"))
                .clicked()
            {
                shared.send_runs(|| Command::Stop);
            }
            let can_continue = state == RunState::Idle && shared.model().is_some();
            if ui
                .add_enabled(can_continue, egui::Button::new("Continue"))
                .on_hover_text(on_both(
                    "Train the current model for the form's number of epochs more",
                ))
                .clicked()
            {
                let epochs = shared.settings.train.epochs;
                shared.continue_training(epochs);
            }
            ui.separator();
            if ui
                .add_enabled(
                    shared.model().is_some() && self.save_dialog.is_none(),
                    egui::Button::new("Save model…"),
                )
                .on_hover_text("Save the weights (.safetensors) and settings (.json beside them).")
                .clicked()
            {
                self.save(shared);
            }
            if ui
                .add_enabled(self.load_dialog.is_none(), egui::Button::new("Load model…"))
                .on_hover_text(
                    "Load a model saved by Bottleneck, or import one trained in PyTorch \
                     (.pt, .safetensors), Keras (.keras) or ONNX; training stops, the model \
                     becomes current.",
                )
                .clicked()
            {
                self.load(shared);
            }
            ui.separator();
            self.compare_controls(ui, shared, state == RunState::Idle);
        });
        if let Some(e) = &self.form_error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        if let Some(s) = fitted_schedule(shared) {
            ui.weak(format!(
                "Schedule: {}. Set epochs or batch in the form to choose them yourself.",
                s.describe()
            ))
            .on_hover_text(
                "The presets' epochs were chosen for 8,000 training images; on fewer, a run \
                 takes more epochs so that it gets as many optimizer steps.",
            );
        }
        self.verdict_line(ui, shared);
    }

    /// Says when the finished model of run A (alone) is behind PCA at its k or near the mean
    /// image, with a button that puts more epochs in the form.
    fn verdict_line(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        self.verdict = None;
        if shared.settings.compare || shared.a().view.state != RunState::Idle {
            return;
        }
        let Some(m) = shared.model().cloned() else {
            return;
        };
        if m.meta.dataset != shared.data.name {
            return;
        }
        let Some(mse) = m.meta.history.last().and_then(|r| r.test.get(Term::Mse)) else {
            return;
        };
        let k = m.latent();
        let (Some(pca), mean) = (shared.pca_test_mse(k), shared.pca_test_mse(0)) else {
            return;
        };
        let Some(v) = verdict(mse, m.meta.epochs_trained, k, pca, mean) else {
            return;
        };
        ui.horizontal_wrapped(|ui| {
            ui.colored_label(ui.visuals().warn_fg_color, &v.sentence);
            if ui
                .button(format!("Use {} epochs", v.epochs))
                .on_hover_text(
                    "Put this many epochs in the form; Start trains a new model with them.",
                )
                .clicked()
            {
                shared.settings.train.epochs = v.epochs;
            }
        });
        self.verdict = Some(v.sentence);
    }

    /// "Compare with [variant]": run B's switch and variant (fixed while a run is in progress).
    fn compare_controls(&mut self, ui: &mut egui::Ui, shared: &mut Shared, idle: bool) {
        ui.add_enabled_ui(idle, |ui| {
            let s = &mut shared.settings;
            ui.checkbox(&mut s.compare, "Compare with").on_hover_text(
                "Train a second variant (B) beside this one, on the same data with the same seed, \
                 latent size, epochs and batch, and show both in the Train and Latent space panels.",
            );
            ui.add_enabled_ui(s.compare, |ui| {
                egui::ComboBox::from_id_salt("compare-variant")
                    .selected_text(s.compare_variant.label())
                    .show_ui(ui, |ui| {
                        for v in Variant::ALL {
                            ui.selectable_value(&mut s.compare_variant, v, v.label())
                                .on_hover_text(crate::app::sidebar::variant_help(v));
                        }
                    })
                    .response
                    .on_hover_text(
                        "Run B's variant: its preset settings, with the form's latent size, \
                         epochs, batch and seed.",
                    );
            });
        });
    }

    /// Start pressed: validate the form and send it to the worker (and run B's to its own).
    pub fn start(&mut self, shared: &mut Shared) {
        match start_fitted(shared) {
            Ok(()) => self.form_error = None,
            Err(e) => self.form_error = Some(format!("Cannot start: {e}")),
        }
    }

    /// Step pressed: one batch of each run (starting paused runs when all are idle).
    pub fn step(&mut self, shared: &mut Shared) {
        if shared.runs_state() == RunState::Idle {
            if let Err(e) = start_fitted(shared) {
                self.form_error = Some(format!("Cannot start: {e}"));
                return;
            }
            shared.send_runs(|| Command::Pause);
        }
        shared.send_runs(|| Command::Step);
    }

    fn suggested_name(shared: &Shared) -> String {
        match shared.model() {
            Some(m) => format!("{}-k{}.safetensors", m.config().variant, m.latent()),
            None => "model.safetensors".into(),
        }
    }

    pub fn save(&mut self, shared: &mut Shared) {
        if let Some(p) = shared.dialog_override.clone() {
            shared.a().worker.send(Command::Save(p));
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
            crate::app::exchange::open_model(shared, p);
        } else {
            self.load_dialog = Some(jobs::file_dialog(DialogKind::OpenModel, &shared.egui, ""));
        }
    }

    /// Takes the answers of the save and load dialogs. Called every frame whatever the tab:
    /// *Models → Load model…* and the shortcuts open them from any panel.
    pub fn poll_dialogs(&mut self, shared: &mut Shared) {
        if let Some(paths) = jobs::take_done(&mut self.save_dialog) {
            if let Some(mut p) = paths.into_iter().next() {
                if p.extension().is_none() {
                    p.set_extension("safetensors");
                }
                shared.a().worker.send(Command::Save(p));
            }
        }
        if let Some(paths) = jobs::take_done(&mut self.load_dialog) {
            if let Some(p) = paths.into_iter().next() {
                crate::app::exchange::open_model(shared, p);
            }
        }
    }

    fn progress(&self, ui: &mut egui::Ui, shared: &Shared) {
        let a = shared.a();
        if !shared.settings.compare {
            progress_line(ui, a, None);
            return;
        }
        let a_name = match a.variant_name() {
            "?" => shared.settings.train.variant.name(),
            n => n,
        };
        progress_line(ui, a, Some(a_name));
        match shared.comparison() {
            Some(b) if b.view.config.is_some() || b.model().is_some() => {
                progress_line(ui, b, Some(b.variant_name()))
            }
            _ => {
                ui.add(egui::ProgressBar::new(0.0).text(format!(
                    "B: {} · not trained yet: Start trains it beside A",
                    shared.settings.compare_variant.name()
                )));
            }
        }
    }

    fn loss_plot(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        let log = shared.settings.log_scale;
        let k = shared
            .a()
            .view
            .config
            .as_ref()
            .map(|c| c.model.latent)
            .unwrap_or(shared.settings.train.model.latent);
        // Curves of a model trained on another data set say so, and PCA's line (fitted on the
        // current data set) is not drawn against them.
        let other = trained_elsewhere(shared);
        let pca_ref = if other.is_some() {
            None
        } else {
            shared.pca_test_mse(k)
        };
        let form = [shared.settings.train.clone(), shared.compare_config()];
        let shown = shared.shown_runs();
        let mut runs: Vec<RunCurves> = shown
            .iter()
            .zip(&form)
            .map(|(r, form)| {
                let cfg = r
                    .view
                    .config
                    .as_ref()
                    .or(r.model().map(|m| m.config()))
                    .unwrap_or(form);
                RunCurves {
                    run: &r.view,
                    prefix: if shown.len() > 1 {
                        format!("{}: {} ", r.id.letter(), cfg.variant.name())
                    } else {
                        String::new()
                    },
                    terms: plotted_terms(cfg),
                    second: r.id == RunId::B,
                }
            })
            .collect();
        if runs.len() > 1 {
            // When either objective differs from the plain MSE, both runs show their test MSE:
            // the one measure the two share.
            if runs.iter().any(|r| r.terms.contains(&Term::Mse)) {
                for r in &mut runs {
                    if !r.terms.contains(&Term::Mse) {
                        r.terms.push(Term::Mse);
                    }
                }
            }
        }
        let mut log_scale = log;
        let mut terms: Vec<Term> = Vec::new();
        for t in runs.iter().flat_map(|r| &r.terms) {
            if !terms.contains(t) {
                terms.push(*t);
            }
        }
        ui.horizontal_wrapped(|ui| {
            ui.strong("Loss");
            ui.checkbox(&mut log_scale, "log scale").on_hover_text(
                "Plot the losses on a logarithmic axis, to see small late improvements.",
            );
            for t in &terms {
                let mut on = !self.hidden_terms.contains(t);
                let label = egui::RichText::new(t.name()).color(widgets::term_color(t.name()));
                if ui.checkbox(&mut on, label).changed() {
                    if on {
                        self.hidden_terms.remove(t);
                    } else {
                        self.hidden_terms.insert(*t);
                    }
                }
            }
            if runs.len() > 1 {
                ui.weak("A: lines and circles · B: dots and diamonds");
            }
        });
        if let Some(name) = &other {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!(
                    "These curves are of the model trained on {name}; the data set is now {}. \
                     Start trains on it.",
                    shared.data.name
                ),
            );
        }
        let tf = move |v: f64| if log { v.max(1e-12).log10() } else { v };
        let epochs = runs
            .iter()
            .map(|r| r.run.epochs)
            .max()
            .unwrap_or(0)
            .max(shared.settings.train.epochs) as f64;
        let empty = runs
            .iter()
            .all(|r| r.run.history.is_empty() && r.run.step_curve.is_empty());
        let top = pca_ref.map(|v| 2.0 * v).unwrap_or(0.1);
        let plot = Plot::new("loss-plot")
            .include_x(0.0)
            .include_x(if empty { epochs } else { 0.0 })
            .include_y(if empty && !log { 0.0 } else { tf(top) })
            .include_y(tf(top))
            // Each epoch curve shares its name with its faint step curve: the legend shows the
            // full colour of the first (egui_plot's default would draw no colour at all).
            .legend(Legend::default().color_conflict_handling(ColorConflictHandling::PickFirst))
            .height((ui.available_height() - 8.0).max(MIN_PLOT_HEIGHT))
            .x_axis_label("epoch")
            .allow_scroll(false)
            .y_axis_formatter(move |mark, _| {
                if log {
                    format!("{:.2e}", 10f64.powf(mark.value))
                } else {
                    format!("{:.3}", mark.value)
                }
            });
        let k_w = shared.draw_scale();
        let items: Vec<PlotItem> = runs
            .iter()
            .flat_map(|r| r.items(&self.hidden_terms, k_w, tf))
            .collect();
        shared.settings.log_scale = log_scale;
        self.plotted.clear();
        for it in &items {
            if !self.plotted.iter().any(|n| n == it.name()) {
                self.plotted.push(it.name().to_string());
            }
        }
        let pca_name = format!("PCA test MSE, k = {k}");
        if pca_ref.is_some() {
            self.plotted.push(pca_name.clone());
        }
        let shown = plot.show(ui, |p| {
            for it in items {
                match it {
                    PlotItem::Line {
                        name,
                        points,
                        color,
                        width,
                        style,
                    } => p.line(
                        Line::new(name, PlotPoints::from(points))
                            .color(color)
                            .width(width)
                            .style(style),
                    ),
                    PlotItem::Points {
                        name,
                        points,
                        color,
                        radius,
                        shape,
                        filled,
                    } => p.points(
                        Points::new(name, PlotPoints::from(points))
                            .color(color)
                            .radius(radius)
                            .shape(shape)
                            .filled(filled),
                    ),
                }
            }
            if let Some(v) = pca_ref {
                p.hline(
                    HLine::new(pca_name, tf(v))
                        .color(Color32::from_rgb(0xD5, 0x5E, 0x00))
                        .width(1.5 * k_w)
                        .style(LineStyle::dashed_loose()),
                );
            }
        });
        widgets::name_widget(&shown.response, "Loss plot");
    }

    fn recon_grid(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        let b_model = shared.comparison().and_then(|b| b.model().cloned());
        let names = shared
            .comparison()
            .map(|b| (shared.a().variant_name(), b.variant_name()));
        match names {
            Some((a, b)) => ui.strong(format!(
                "Test digits, then A's ({a}) and B's ({b}) reconstructions"
            )),
            None => ui.strong("Test digits (top) and their reconstructions (below)"),
        };
        let key = (
            shared.a().snapshot_id(),
            shared.data.id(),
            shared.comparison().map(|b| b.snapshot_id()),
        );
        if self.grid_key != Some(key) || self.grid_tex.is_none() {
            self.grid_indices = pick_grid(&shared.data.test.labels, GRID);
            let shown = shared.data.test.subset(&self.grid_indices);
            let (originals, labels) = (shown.images, shown.labels);
            // A conditional VAE reconstructs each digit given its class.
            let recon = shared
                .model()
                .and_then(|m| m.reconstruct_labelled(&originals, &labels).ok());
            let recon_b = b_model.and_then(|m| m.reconstruct_labelled(&originals, &labels).ok());
            let mut rows = vec![recon.as_deref()];
            if names.is_some() {
                rows.push(recon_b.as_deref());
            }
            let img = grid_image(&originals, &rows);
            widgets::set_texture(&mut self.grid_tex, ui.ctx(), "train-grid", img);
            self.shown_recon = recon;
            self.shown_recon_b = recon_b;
            self.grid_key = Some(key);
        }
        if let Some(tex) = &self.grid_tex {
            let labels = names.is_some();
            // Room on the left for the row names when two runs are shown.
            let margin = if labels { 18.0 } else { 0.0 };
            let size = tex.size_vec2();
            // As wide as the column allows, but leaving room for the lines under it.
            let fit_h = (ui.available_height() - 60.0).max(120.0) * size.x / size.y;
            let w = (ui.available_width() - margin).min(560.0).min(fit_h);
            ui.horizontal(|ui| {
                ui.add_space(margin);
                let r = ui
                    .add(
                        egui::Image::new(tex).fit_to_exact_size(egui::vec2(w, w * size.y / size.x)),
                    )
                    .rect;
                if labels {
                    let rows = 3 * GRID.div_ceil(COLS);
                    let h = r.height() / rows as f32;
                    for (i, name) in ["A", "B"].into_iter().enumerate() {
                        for g in 0..GRID.div_ceil(COLS) {
                            let y = r.top() + ((3 * g + 1 + i) as f32 + 0.5) * h;
                            ui.painter().text(
                                egui::pos2(r.left() - margin / 2.0, y),
                                egui::Align2::CENTER_CENTER,
                                name,
                                egui::FontId::proportional(12.0),
                                ui.visuals().text_color(),
                            );
                        }
                    }
                }
            });
        }
        let current = shared.data.name.clone();
        let mse_line = |m: &TrainedModel| {
            let on = if m.meta.dataset == current {
                String::new()
            } else {
                format!(" on {} (the model was trained there)", m.meta.dataset)
            };
            m.meta
                .history
                .last()
                .and_then(|r| r.test.get(Term::Mse))
                .map(|e| format!("{:.4} after {} epochs{on}", e, m.meta.epochs_trained))
        };
        match (shared.model(), shared.comparison()) {
            (Some(m), None) => {
                if let Some(t) = mse_line(m) {
                    ui.label(format!("Test MSE {t}"));
                }
            }
            (a, Some(b)) => {
                let (an, bn) = names.unwrap_or(("?", "?"));
                for (who, name, m) in [("A", an, a), ("B", bn, b.model())] {
                    if let Some(t) = m.and_then(|m| mse_line(m)) {
                        ui.label(format!("{who} ({name}): test MSE {t}"));
                    }
                }
            }
            (None, None) => {
                ui.label("Reconstructions appear after the first epoch.");
            }
        }
    }
}

/// The data set the shown model (A's) was trained on, when it is not the current one.
fn trained_elsewhere(shared: &Shared) -> Option<String> {
    let m = shared.model()?;
    (m.meta.dataset != shared.data.name).then(|| m.meta.dataset.clone())
}

/// Starts training with the form's settings, taking the fitted schedule's epochs (the form
/// keeps showing the preset's).
fn start_fitted(shared: &mut Shared) -> Result<(), String> {
    let form_epochs = shared.settings.train.epochs;
    if let Some(s) = fitted_schedule(shared) {
        shared.settings.train.epochs = s.epochs;
    }
    let r = shared.start_training();
    shared.settings.train.epochs = form_epochs;
    r
}

/// One run's progress bar (epoch, step, throughput, time left) and its message; `variant`
/// names the run's variant when two are shown (the bar then starts "A: dense · ").
fn progress_line(ui: &mut egui::Ui, run: &Run, variant: Option<&str>) {
    let (r, model) = (&run.view, run.model());
    let who = variant.map(|v| (run.id.letter(), v));
    let prefix = who.map_or(String::new(), |(w, v)| format!("{w}: {v} · "));
    if r.config.is_some() && r.steps_per_epoch > 0 {
        let text = format!(
            "{prefix}Epoch {}/{} · step {}/{} · {} samples/s · {}{}",
            r.epoch.min(r.epochs),
            r.epochs,
            r.step,
            r.steps_per_epoch,
            widgets::thousands(r.samples_per_sec),
            match r.state {
                RunState::Running => format!("{} left", widgets::format_duration(r.seconds_left())),
                RunState::Paused => "paused".into(),
                RunState::Idle if r.progress() >= 1.0 => "done".into(),
                RunState::Idle => "stopped".into(),
            },
            if r.fused { " · fused engine" } else { "" }
        );
        ui.add(
            egui::ProgressBar::new(r.progress())
                .text(text)
                .animate(r.state == RunState::Running),
        );
    } else if let Some(m) = model {
        // The description starts with the variant: name the run only.
        let prefix = who.map_or(String::new(), |(w, _)| format!("{w}: "));
        ui.add(egui::ProgressBar::new(1.0).text(format!(
            "{prefix}{} · trained {} epochs · Start trains a new model, Continue trains this one further",
            m.config().describe(),
            m.meta.epochs_trained
        )));
    } else {
        ui.add(egui::ProgressBar::new(0.0).text(format!("{prefix}Not trained yet: press Start")));
    }
    if let Some((level, msg)) = &r.message {
        let c = match level {
            Level::Error => ui.visuals().error_fg_color,
            Level::Warning => ui.visuals().warn_fg_color,
            Level::Info => ui.visuals().text_color(),
        };
        ui.colored_label(c, format!("{prefix}{msg}"));
    }
}

/// Each row of `COLS` originals is followed by one row per reconstruction set in `recons`
/// (a missing set is drawn black), with 1-pixel gaps.
fn grid_image(originals: &[f32], recons: &[Option<&[f32]>]) -> egui::ColorImage {
    let s = crate::SIDE;
    let gap = 1;
    let n = originals.len() / crate::PIXELS;
    let per = 1 + recons.len();
    let rows = per * n.div_ceil(COLS);
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
    let one = |v: &[f32], i: usize| v[i * crate::PIXELS..(i + 1) * crate::PIXELS].to_vec();
    for i in 0..n {
        let (r, c) = (per * (i / COLS), i % COLS);
        put(&one(originals, i), r, c);
        for (j, rc) in recons.iter().enumerate() {
            match rc {
                Some(rc) => put(&one(rc, i), r + 1 + j, c),
                None => put(&[0.0; crate::PIXELS], r + 1 + j, c),
            }
        }
    }
    widgets::gray_image(&px, w, h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::RunView;
    use crate::model::io::EpochRecord;
    use egui_plot::MarkerShape;

    #[test]
    fn plotted_terms_skip_duplicates() {
        use crate::model::{TrainConfig, Variant};
        let names = |v| -> Vec<&str> {
            let terms = plotted_terms(&TrainConfig::preset(v, 2));
            terms.into_iter().map(Term::name).collect()
        };
        assert_eq!(names(Variant::Dense), vec!["reconstruction"]);
        assert_eq!(
            names(Variant::Vae),
            vec!["reconstruction", "kl", "total", "mse"]
        );
        assert_eq!(names(Variant::Denoising), vec!["reconstruction", "mse"]);
        assert_eq!(
            names(Variant::Sparse),
            vec!["reconstruction", "l1", "total"]
        );
    }

    #[test]
    fn run_b_is_drawn_apart_from_a_and_scales_with_presenter_mode() {
        use crate::model::LossTerms;
        let mut terms = LossTerms::default();
        terms.set(Term::Reconstruction, 0.05);
        let run = RunView {
            history: vec![EpochRecord {
                epoch: 1,
                train: terms.clone(),
                test: terms.clone(),
                samples_per_sec: 0.0,
                seconds: 0.0,
            }]
            .into(),
            step_curve: vec![(0.5, terms)].into(),
            ..RunView::default()
        };
        let curves = |second: bool, prefix: &str| RunCurves {
            run: &run,
            prefix: prefix.into(),
            terms: vec![Term::Reconstruction],
            second,
        };
        let widths = |items: &[PlotItem]| -> Vec<(String, f32)> {
            items
                .iter()
                .map(|i| match i {
                    PlotItem::Line { name, width, .. } => (name.clone(), *width),
                    PlotItem::Points { name, radius, .. } => (name.clone(), *radius),
                })
                .collect()
        };
        let hidden = BTreeSet::new();
        let a = curves(false, "A: dense ").items(&hidden, 1.0, |v| v);
        let b = curves(true, "B: vae ").items(&hidden, 1.0, |v| v);
        let b2 = curves(true, "B: vae ").items(&hidden, 2.0, |v| v);
        assert!(a.iter().all(|i| i.name().starts_with("A: dense ")));
        assert!(b.iter().all(|i| i.name().starts_with("B: vae ")));
        // A: solid train line and circles; B: dotted lines and diamonds.
        for i in &a {
            match i {
                PlotItem::Points { shape, .. } => assert_eq!(*shape, MarkerShape::Circle),
                PlotItem::Line { style, .. } => {
                    assert!(!matches!(style, LineStyle::Dotted { .. }))
                }
            }
        }
        let mut dotted = 0;
        for i in &b {
            match i {
                PlotItem::Points { shape, .. } => assert_eq!(*shape, MarkerShape::Diamond),
                PlotItem::Line { style, .. } => {
                    dotted += matches!(style, LineStyle::Dotted { .. }) as usize
                }
            }
        }
        assert_eq!(dotted, 2, "B's train and test lines are dotted");
        // Presenter mode (draw scale 2) doubles B's line widths and marker sizes.
        for ((n1, w1), (n2, w2)) in widths(&b).into_iter().zip(widths(&b2)) {
            assert_eq!(n1, n2);
            assert!((w2 - 2.0 * w1).abs() < 1e-6, "{n1}: {w1} then {w2}");
        }
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
