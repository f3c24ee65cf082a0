//! The window's frame around the panels: the top bar (tabs and the app's buttons), the notices
//! and the status bar. Each fits the window: the top bar drops the title and folds its
//! right-hand buttons into one *Menu* when the tabs need the room, then shortens the tab
//! labels, and wraps as a last resort, so every tab stays one click away at any width (and
//! one number key away always); the status bar wraps instead of running off the edge.
//! Presenter mode's zoom is chosen here from the window's size ([`presenter_zoom`]).

use std::time::{Duration, Instant};

use egui::Color32;

use super::{export, App, Level, Tab};
use crate::train::worker::RunState;

/// How the top bar fits the window's width.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BarLayout {
    /// Title, tabs, and every button on the right.
    #[default]
    Full,
    /// Tabs with their full names; the buttons on the right folded into one *Menu*.
    Folded,
    /// Short tab names and the *Menu* (wrapping onto a second row if even that is too wide).
    Short,
}

/// The UI zoom for presenter mode in a window of `size` native points: the type grows with the
/// window, so that the panels always get about 820 × 620 points (a 1024×768 projector gets
/// 1.24, 1280×800 1.29, 1920×1080 1.74), never below 1.15 nor above 2.5.
pub fn presenter_zoom(size: egui::Vec2) -> f32 {
    (size.x / 820.0).min(size.y / 620.0).clamp(1.15, 2.5)
}

/// The name of the folded menu of the top bar.
pub const MENU: &str = "Menu";

impl App {
    /// The labels of the buttons on the right of the top bar (right to left), as drawn when
    /// they fit.
    fn right_labels(&self) -> Vec<&'static str> {
        let mut v = vec!["Help", "Export", "Models", "Presenter", "Lessons"];
        if self.shared.settings.presenter {
            v.push("Settings");
        }
        v
    }

    /// Chooses how the top bar fits `ui`'s width, from the widths of its labels.
    fn bar_layout(&mut self, ui: &egui::Ui) -> BarLayout {
        let style = ui.style();
        let pad = 2.0 * style.spacing.button_padding.x;
        let gap = style.spacing.item_spacing.x;
        let width = |text: &str, font: &egui::FontId| {
            ui.painter()
                .layout_no_wrap(text.to_string(), font.clone(), Color32::WHITE)
                .size()
                .x
        };
        let button = egui::TextStyle::Button.resolve(style);
        let tabs = |short: bool| -> f32 {
            Tab::ALL
                .iter()
                .map(|t| {
                    let label = if short { t.short_label() } else { t.label() };
                    width(label, &button) + pad + gap
                })
                .sum()
        };
        let right: f32 = self
            .right_labels()
            .iter()
            .map(|l| width(l, &button) + pad + gap)
            .sum();
        let title = if self.shared.settings.presenter {
            0.0
        } else {
            width("Bottleneck", &egui::TextStyle::Heading.resolve(style)) + 3.0 * gap
        };
        let menu = width(MENU, &button) + pad + gap;
        // Slack for the separators, the frame and rounding: fold rather than crowd.
        let avail = ui.available_width() - 40.0;
        // The title goes first when the buttons do not all fit beside it (the window's title
        // still says Bottleneck).
        self.bar_title = title + tabs(false) + right <= avail;
        if tabs(false) + right <= avail {
            BarLayout::Full
        } else if tabs(false) + menu <= avail {
            BarLayout::Folded
        } else {
            BarLayout::Short
        }
    }

    pub(super) fn top_bar(&mut self, ui: &mut egui::Ui) {
        let layout = self.bar_layout(ui);
        self.bar_layout = layout;
        let bar = |ui: &mut egui::Ui, app: &mut App| {
            // In presenter mode everything is bigger: the title gives its room to the tabs.
            if layout == BarLayout::Full && !app.shared.settings.presenter && app.bar_title {
                ui.heading("Bottleneck");
                ui.separator();
            }
            for (i, t) in Tab::ALL.into_iter().enumerate() {
                let label = match layout {
                    BarLayout::Short => t.short_label(),
                    _ => t.label(),
                };
                if ui
                    .selectable_label(app.tab == t, label)
                    .on_hover_text(format!("{} (key {})", t.label(), i + 1))
                    .clicked()
                {
                    app.tab = t;
                }
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if layout == BarLayout::Full {
                    app.right_buttons(ui);
                } else {
                    ui.menu_button(MENU, |ui| app.menu_items(ui))
                        .response
                        .on_hover_text("Presenter mode, lessons, models, export and help.");
                }
            });
        };
        if layout == BarLayout::Short {
            ui.horizontal_wrapped(|ui| bar(ui, self));
        } else {
            ui.horizontal(|ui| bar(ui, self));
        }
    }

    /// The buttons on the right of the top bar, laid out right to left.
    fn right_buttons(&mut self, ui: &mut egui::Ui) {
        if ui
            .button("Help")
            .on_hover_text("Keyboard shortcuts (F1)")
            .clicked()
        {
            self.help_open = !self.help_open;
        }
        ui.menu_button("Export", |ui| self.export_menu(ui));
        ui.menu_button("Models", |ui| self.models_menu(ui));
        self.toggles(ui);
    }

    /// The same, folded into the *Menu*.
    fn menu_items(&mut self, ui: &mut egui::Ui) {
        self.toggles(ui);
        ui.separator();
        ui.menu_button("Models", |ui| self.models_menu(ui));
        ui.menu_button("Export", |ui| self.export_menu(ui));
        if ui
            .button("Help")
            .on_hover_text("Keyboard shortcuts (F1)")
            .clicked()
        {
            self.help_open = !self.help_open;
            ui.close();
        }
    }

    /// Presenter mode, the lessons and (in presenter mode) the settings panel, on or off.
    fn toggles(&mut self, ui: &mut egui::Ui) {
        let p = self.shared.settings.presenter;
        if ui
            .selectable_label(p, "Presenter")
            .on_hover_text("Bigger type, thicker lines, high contrast (F5). F11: full screen.")
            .clicked()
        {
            self.shared.settings.presenter = !p;
        }
        ui.menu_button("Lessons", |ui| self.lessons_menu(ui))
            .response
            .on_hover_text(
                "The course, one lesson a topic, and lessons of your own from a file (L shows \
                 or hides the card).",
            );
        if self.shared.settings.presenter
            && ui
                .selectable_label(self.presenter_sidebar, "Settings")
                .on_hover_text("Show the settings panel in presenter mode.")
                .clicked()
        {
            self.presenter_sidebar = !self.presenter_sidebar;
        }
    }

    fn export_menu(&mut self, ui: &mut egui::Ui) {
        let tab = self.tab;
        let items = [
            (
                "Panel as PNG…",
                export::ExportKind::PanelPng,
                "The panel as it is on screen.",
            ),
            (
                "Panel as PNG at 2×…",
                export::ExportKind::PanelPng2x,
                "The panel re-rendered at twice the resolution (default view).",
            ),
            (
                "Latent codes as CSV…",
                export::ExportKind::CodesCsv,
                "label, z1 … zk for every test image.",
            ),
            (
                "Loss history as CSV…",
                export::ExportKind::HistoryCsv,
                "Train and test loss terms per epoch.",
            ),
        ];
        for (label, kind, tip) in items {
            if ui.button(label).on_hover_text(tip).clicked() {
                let method = self.latent.view.method;
                self.exporter.projection =
                    (method != crate::analysis::embed::Method::Pca).then_some(method);
                self.exporter.start(kind, tab, &mut self.shared);
                ui.close();
            }
        }
        if tab == Tab::Features {
            ui.separator();
            let items = [
                (
                    "Code statistics as CSV…",
                    export::ExportKind::UnitStatsCsv,
                    "Per code dimension: mean, variance, mean |z|, active fraction, \
                     1st and 99th percentiles, and a VAE's KL.",
                ),
                (
                    "Probe table as CSV…",
                    export::ExportKind::ProbeCsv,
                    "Test accuracy against labels used: linear probe on codes, PCA and \
                     pixels, 5-NN on codes and PCA.",
                ),
            ];
            for (label, kind, tip) in items {
                if ui.button(label).on_hover_text(tip).clicked() {
                    let text = match kind {
                        export::ExportKind::UnitStatsCsv => self
                            .features
                            .analysis
                            .as_ref()
                            .map(|a| crate::analysis::features::stats_csv(&a.stats)),
                        _ => self.features.probe_result().map(|p| p.to_csv()),
                    };
                    self.exporter.start_text(kind, tab, text, &mut self.shared);
                    ui.close();
                }
            }
        }
    }

    fn models_menu(&mut self, ui: &mut egui::Ui) {
        if ui
            .button("Load model…")
            .on_hover_text(
                "A Bottleneck model, or one trained in PyTorch (.pt, .safetensors), Keras \
                 (.keras) or ONNX.",
            )
            .clicked()
        {
            self.train.load(&mut self.shared);
            ui.close();
        }
        if ui
            .add_enabled(
                self.shared.model().is_some(),
                egui::Button::new("Export model…"),
            )
            .on_hover_text(
                "The current model as ONNX or PyTorch, with the Python lines that load it.",
            )
            .clicked()
        {
            self.export_model = Some(super::exchange::ExportDialog::default());
            ui.close();
        }
        ui.separator();
        ui.label("Built-in, trained on the embedded digits:");
        for b in crate::model::bundled::ALL {
            if ui.button(b.title).clicked() {
                super::adopt_bundled(&mut self.shared, b);
                ui.close();
            }
        }
    }

    /// Makes presenter mode's zoom follow the window's size (and normal mode's be 1).
    pub(super) fn fit_zoom(&self, ctx: &egui::Context) {
        let want = if self.shared.settings.presenter {
            // The window in native points: the zoom does not change it.
            presenter_zoom(ctx.content_rect().size() * ctx.zoom_factor())
        } else {
            1.0
        };
        if (ctx.zoom_factor() - want).abs() > 0.005 {
            ctx.set_zoom_factor(want);
        }
    }

    pub(super) fn notices(&mut self, ui: &mut egui::Ui) {
        let now = Instant::now();
        self.shared.notices.retain(|n| {
            n.level == Level::Error || now.duration_since(n.at) < Duration::from_secs(8)
        });
        let mut dismiss = None;
        for (i, n) in self.shared.notices.iter().enumerate() {
            let color = match n.level {
                Level::Info => ui.visuals().text_color(),
                Level::Warning => ui.visuals().warn_fg_color,
                Level::Error => ui.visuals().error_fg_color,
            };
            ui.horizontal_wrapped(|ui| {
                ui.colored_label(color, &n.text);
                if ui.small_button("Dismiss").clicked() {
                    dismiss = Some(i);
                }
            });
        }
        if let Some(i) = dismiss {
            self.shared.notices.remove(i);
        }
        // Info notices fade by themselves: make sure a frame comes to remove them.
        if self.shared.notices.iter().any(|n| n.level != Level::Error) {
            ui.ctx().request_repaint_after(Duration::from_secs(1));
        }
    }

    /// Dataset, model, device, training state and frame time; wraps onto a second line
    /// rather than running off a narrow window.
    pub(super) fn status_bar(&self, ui: &mut egui::Ui) {
        let s = &self.shared;
        ui.horizontal_wrapped(|ui| {
            // Whole items move to the next row; none is broken inside.
            ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Extend);
            ui.label(format!(
                "Dataset: {} ({} train / {} test)",
                s.data.name,
                s.data.train.len(),
                s.data.test.len()
            ));
            ui.separator();
            match s.model() {
                Some(m) => ui.label(format!(
                    "Model: {} · {}",
                    m.config().describe(),
                    match m.meta.origin {
                        Some(_) => m.epoch_label(m.meta.epochs_trained),
                        None => format!("{} epochs", m.meta.epochs_trained),
                    }
                )),
                None => ui.label("Model: none yet"),
            };
            ui.separator();
            if self.deterministic {
                ui.label("Device: CPU");
            } else {
                ui.label(format!(
                    "Device: CPU ({} threads)",
                    rayon::current_num_threads()
                ));
            }
            ui.separator();
            let state = match s.runs_state() {
                RunState::Idle => "idle",
                RunState::Running => "training",
                RunState::Paused => "paused",
            };
            ui.label(format!("Training: {state}"));
            if !self.deterministic {
                ui.separator();
                let (median, _) = self.frames.summary();
                ui.label(format!("Frame {median:.1} ms"))
                    .on_hover_text("CPU time to build a frame (median of the last 120)");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presenter_zoom_follows_the_window() {
        let z = |w: f32, h: f32| presenter_zoom(egui::vec2(w, h));
        assert!((z(1024.0, 768.0) - 1.239).abs() < 0.01);
        assert!((z(1280.0, 800.0) - 1.290).abs() < 0.01);
        assert!(z(1920.0, 1080.0) > z(1280.0, 800.0));
        // The panels always get about 820 × 620 points, within the clamp.
        for (w, h) in [(1024.0, 768.0), (1280.0, 800.0), (1920.0, 1080.0)] {
            let zz = z(w, h);
            assert!(w / zz >= 819.0 && h / zz >= 619.0, "{w}×{h}: {zz}");
        }
        assert_eq!(z(640.0, 480.0), 1.15);
        assert_eq!(z(8000.0, 6000.0), 2.5);
    }
}
