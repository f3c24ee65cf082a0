//! Classroom mode: presenter mode (bigger type, thicker lines, high contrast, side panel
//! collapsed), keyboard shortcuts and their help overlay. The lessons are files: see
//! `lessons/`.

use egui::{Color32, Key, Stroke};

use super::{Shared, Tab};
use crate::train::worker::{Command, RunState};

/// How much bigger lines and points are drawn in presenter mode.
pub const PRESENTER_SCALE: f32 = 1.8;
/// Applies (or removes) presenter mode's look: high contrast, thicker strokes (its zoom follows
/// the window's size: see `chrome::presenter_zoom`).
pub fn apply_look(ctx: &egui::Context, presenter: bool, dark: bool) {
    let mut v = if dark {
        egui::Visuals::dark()
    } else {
        egui::Visuals::light()
    };
    if presenter {
        let (bg, fg) = if dark {
            (Color32::BLACK, Color32::WHITE)
        } else {
            (Color32::WHITE, Color32::BLACK)
        };
        v.override_text_color = Some(fg);
        v.panel_fill = bg;
        v.window_fill = bg;
        v.extreme_bg_color = bg;
        v.widgets.noninteractive.fg_stroke = Stroke::new(1.5, fg);
        v.widgets.noninteractive.bg_stroke = Stroke::new(1.5, fg.gamma_multiply(0.6));
        v.widgets.inactive.fg_stroke = Stroke::new(1.5, fg);
        v.widgets.hovered.fg_stroke = Stroke::new(2.0, fg);
        v.widgets.active.fg_stroke = Stroke::new(2.0, fg);
        v.selection.stroke = Stroke::new(2.0, fg);
    }
    ctx.set_visuals(v);
}

/// What a keyboard shortcut asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shortcut {
    /// Space: start, pause or resume.
    PlayPause,
    /// S: one training step.
    Step,
    /// 1–9, 0: a panel.
    Tab(Tab),
    /// Left/Right arrows: nudge the interpolation slider.
    Nudge(i32),
    /// F5: presenter mode.
    Presenter,
    /// F11: full screen.
    FullScreen,
    /// F1: the shortcut list.
    Help,
    /// L: the lesson card.
    Lessons,
    /// Escape: close overlays.
    Close,
}

/// The shortcuts and what they do, for the help overlay.
pub const SHORTCUTS: [(&str, &str); 10] = [
    ("Space", "Start, pause or resume training"),
    ("S", "Train one step (batch)"),
    (
        "1 – 9, 0",
        "Train, Latent space, Interpolate, Denoise, PCA vs AE, Anomaly, Compression, Features, One step, Generate",
    ),
    ("Left / Right", "Move the interpolation slider"),
    ("L", "Show or hide the lessons"),
    ("F5", "Presenter mode (bigger, high contrast)"),
    ("F11", "Full screen"),
    ("F1", "This list"),
    ("Escape", "Close this list or the lessons"),
    ("Ctrl + scroll", "Zoom the whole interface"),
];

/// Reads this frame's shortcut key presses (none while a text field has the keyboard).
pub fn read_shortcuts(ctx: &egui::Context) -> Vec<Shortcut> {
    if ctx.egui_wants_keyboard_input() {
        return Vec::new();
    }
    ctx.input(|i| {
        let mut out = Vec::new();
        let plain = !i.modifiers.ctrl && !i.modifiers.command && !i.modifiers.alt;
        let tabs = [
            Key::Num1,
            Key::Num2,
            Key::Num3,
            Key::Num4,
            Key::Num5,
            Key::Num6,
            Key::Num7,
            Key::Num8,
            Key::Num9,
            Key::Num0,
        ];
        for (k, t) in tabs.iter().zip(Tab::ALL) {
            if plain && i.key_pressed(*k) {
                out.push(Shortcut::Tab(t));
            }
        }
        let map = [
            (Key::Space, Shortcut::PlayPause),
            (Key::S, Shortcut::Step),
            (Key::ArrowLeft, Shortcut::Nudge(-1)),
            (Key::ArrowRight, Shortcut::Nudge(1)),
            (Key::L, Shortcut::Lessons),
            (Key::F5, Shortcut::Presenter),
            (Key::F11, Shortcut::FullScreen),
            (Key::F1, Shortcut::Help),
            (Key::Escape, Shortcut::Close),
        ];
        for (k, s) in map {
            if plain && i.key_pressed(k) {
                out.push(s);
            }
        }
        out
    })
}

/// Space: what it does depends on the run.
pub fn play_pause(shared: &mut Shared) {
    match shared.runs_state() {
        RunState::Running => shared.send_runs(|| Command::Pause),
        RunState::Paused => shared.send_runs(|| Command::Resume),
        RunState::Idle => {
            if let Err(e) = shared.start_training() {
                shared.notify(super::Level::Error, format!("Cannot start: {e}"));
            }
        }
    }
}

/// The help overlay listing the shortcuts.
pub fn help_window(ctx: &egui::Context, open: &mut bool) {
    egui::Window::new("Keyboard shortcuts")
        .open(open)
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, egui::vec2(0.0, 0.0))
        .show(ctx, |ui| {
            egui::Grid::new("shortcuts")
                .num_columns(2)
                .spacing([24.0, 6.0])
                .show(ui, |ui| {
                    for (k, what) in SHORTCUTS {
                        ui.strong(k);
                        ui.label(what);
                        ui.end_row();
                    }
                });
            ui.add_space(6.0);
            ui.weak("Shortcuts are ignored while you type in a text field.");
        });
}
