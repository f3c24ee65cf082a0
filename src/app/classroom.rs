//! Classroom mode: lessons (a sequence of presets that set the model and switch to the panel
//! that shows the point), presenter mode (bigger type, thicker lines, high contrast, side panel
//! collapsed), keyboard shortcuts and their help overlay.

use egui::{Color32, Key, Stroke};

use super::{Shared, Tab};
use crate::model::{TrainConfig, Variant};
use crate::train::worker::{Command, RunState};

/// One step of the course.
#[derive(Clone, Copy, Debug)]
pub struct Lesson {
    pub title: &'static str,
    /// A few sentences for the class, with the formula that matters.
    pub text: &'static str,
    pub variant: Variant,
    pub latent: usize,
    pub epochs: usize,
    /// The panel that shows what the lesson is about.
    pub tab: Tab,
}

/// Plain (and what one of its training steps does) → sparse → deep → convolutional →
/// denoising → variational, the order of the Keras tutorial ("Building Autoencoders in Keras") and of most courses, then the overcomplete
/// autoencoder that copies (seen in the Features and Denoise panels) and the autoencoder as a
/// codec (the Compression panel).
pub const LESSONS: [Lesson; 9] = [
    Lesson {
        title: "A plain autoencoder",
        text: "An encoder squeezes each 784-pixel digit into k = 32 numbers (the code); a decoder rebuilds the \
               image from them. Training lowers the reconstruction error L = mean (x̂ − x)². Watch the test \
               curve approach the dashed line: PCA, the best any linear method can do with 32 numbers.",
        variant: Variant::Dense,
        latent: 32,
        epochs: 10,
        tab: Tab::Train,
    },
    Lesson {
        title: "What one step does",
        text: "Training is thousands of steps of one kind. Press \"One step in slow motion\" and take one \
               apart on 8 test digits: the forward pass layer by layer, the loss of every pixel, the \
               gradients flowing back, the change Adam makes to each weight, and the loss measured again \
               after. Press it again a few times: the loss of those digits falls step by step. The step is \
               real: the model keeps it.",
        variant: Variant::Dense,
        latent: 2,
        epochs: 10,
        tab: Tab::Step,
    },
    Lesson {
        title: "A sparse autoencoder",
        text: "Same network, plus a penalty on the code: L = reconstruction + λ Σ|z|. Most code units are \
               pushed to zero, so each digit is described by a few active features. The L1 term gets its own \
               curve.",
        variant: Variant::Sparse,
        latent: 32,
        epochs: 10,
        tab: Tab::Train,
    },
    Lesson {
        title: "A deep autoencoder",
        text: "More layers (784-512-256-128-32 and back) let the encoder build features out of features. \
               Compare its reconstructions and its test error with the plain autoencoder's.",
        variant: Variant::Deep,
        latent: 32,
        epochs: 10,
        tab: Tab::Train,
    },
    Lesson {
        title: "A convolutional autoencoder",
        text: "Convolutions look at small patches and share their weights across the image, so the network \
               knows that a stroke is a stroke wherever it is. Strided convolutions go down to 7×7, transposed \
               convolutions come back up.",
        variant: Variant::Conv,
        latent: 32,
        epochs: 10,
        tab: Tab::Train,
    },
    Lesson {
        title: "A denoising autoencoder",
        text: "Train on corrupted inputs with clean targets: L = mean (f(x + noise) − x)². The network cannot \
               copy its input, it has to learn what digits look like. Move the noise slider and compare it \
               with the plain autoencoder and with PCA.",
        variant: Variant::Denoising,
        latent: 32,
        epochs: 10,
        tab: Tab::Denoise,
    },
    Lesson {
        title: "A variational autoencoder",
        text: "The encoder outputs a distribution N(μ, σ²) instead of a point, and the loss adds a KL term \
               that keeps it close to N(0, I): L = reconstruction + β·KL. The latent space fills in without \
               gaps, so decoding any point — or sampling from the prior — gives a plausible digit.",
        variant: Variant::Vae,
        latent: 2,
        epochs: 15,
        tab: Tab::Latent,
    },
    Lesson {
        title: "An overcomplete autoencoder learns to copy",
        text: "Give the code as many numbers as the image (k = 784) and no regulariser: here a linear \
               784-784-784 network. Nothing forces it to find structure, so it learns the identity: its test \
               error falls towards 0, its weights in the Features panel look like noise, and in the Denoise \
               panel its output keeps the noise (MSE close to the noisy input's). Now pick Denoising with the \
               same k = 784 and empty hidden layers and train again: the corruption makes copying useless, \
               the weights become strokes and parts of digits, and the noise goes down: the Denoise panel \
               measures by how much. Sparse at the same size lets only a few units speak: train it and \
               measure it there too.",
        variant: Variant::Linear,
        latent: 784,
        epochs: 5,
        tab: Tab::Features,
    },
    Lesson {
        title: "The autoencoder as a codec",
        text: "Send the 32-number code instead of the image, each number rounded to 8 bits: 32 bytes \
               per digit, and the receiver's decoder draws it back. The panel measures, for this model on \
               these digits, its quality against the smallest JPEG (size and quality) and against PCA at \
               the same bytes (its bits spread over more components): which wins is what it shows, not \
               what this card says. Now open Fashion-MNIST with \"Open another dataset…\" and measure \
               again: the digits decoder can only draw digits, while JPEG assumes nothing.",
        variant: Variant::Dense,
        latent: 32,
        epochs: 10,
        tab: Tab::Compression,
    },
];

impl Lesson {
    /// The training settings this lesson uses (the variant's preset at the lesson's k).
    pub fn config(&self, seed: u64) -> TrainConfig {
        let mut c = TrainConfig::preset(self.variant, self.latent);
        c.epochs = self.epochs;
        c.seed = seed;
        c
    }

    /// Sets the form to this lesson and switches to its panel.
    pub fn apply(&self, shared: &mut Shared) {
        let seed = shared.settings.train.seed;
        shared.settings.train = self.config(seed);
        shared.switch_to = Some(self.tab);
    }
}

/// The lesson card's state.
#[derive(Default)]
pub struct Lessons {
    pub open: bool,
    pub index: usize,
    /// Folded to its title line, so the panel gets the room.
    pub collapsed: bool,
}

impl Lessons {
    /// The card: title, text, Back / Next, and buttons to set up or train the lesson's model.
    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        let n = LESSONS.len();
        self.index = self.index.min(n - 1);
        let lesson = LESSONS[self.index];
        ui.horizontal(|ui| {
            ui.strong(format!(
                "Lesson {} of {n}: {}",
                self.index + 1,
                lesson.title
            ));
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui.button("Close").clicked() {
                    self.open = false;
                }
                let (label, tip) = if self.collapsed {
                    ("Show text", "Show the lesson's text and buttons again.")
                } else {
                    (
                        "Fold",
                        "Fold the lesson to this line, so the panel gets the room.",
                    )
                };
                if ui.button(label).on_hover_text(tip).clicked() {
                    self.collapsed = !self.collapsed;
                }
                if ui
                    .add_enabled(self.index + 1 < n, egui::Button::new("Next"))
                    .clicked()
                {
                    self.index += 1;
                    LESSONS[self.index].apply(shared);
                }
                if ui
                    .add_enabled(self.index > 0, egui::Button::new("Back"))
                    .clicked()
                {
                    self.index -= 1;
                    LESSONS[self.index].apply(shared);
                }
            });
        });
        if self.collapsed {
            return;
        }
        ui.label(lesson.text);
        ui.horizontal_wrapped(|ui| {
            if ui
                .button("Use these settings")
                .on_hover_text("Set the model form to this lesson and switch to its panel.")
                .clicked()
            {
                lesson.apply(shared);
            }
            let idle = shared.runs_state() == RunState::Idle;
            if ui
                .add_enabled(idle, egui::Button::new("Train it"))
                .on_hover_text("Set the lesson's model and start training it.")
                .clicked()
            {
                lesson.apply(shared);
                // The Train panel shows the progress; the lesson's own panel updates every epoch.
                if let Err(e) = shared.start_training() {
                    shared.notify(super::Level::Error, format!("Cannot start: {e}"));
                }
            }
            ui.weak(lesson.config(0).describe());
        });
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Arch, LossKind};

    #[test]
    fn lessons_follow_the_course_order() {
        let order: Vec<Variant> = LESSONS.iter().map(|l| l.variant).collect();
        assert_eq!(
            order,
            vec![
                Variant::Dense,
                Variant::Dense,
                Variant::Sparse,
                Variant::Deep,
                Variant::Conv,
                Variant::Denoising,
                Variant::Vae,
                Variant::Linear,
                Variant::Dense
            ]
        );
    }

    /// Each lesson's settings are what its text says they are.
    #[test]
    fn each_lesson_sets_what_it_says() {
        for l in LESSONS {
            let c = l.config(42);
            assert_eq!(c.validate(), Ok(()), "{}", l.title);
            assert_eq!(
                (c.variant, c.model.latent, c.epochs, c.seed),
                (l.variant, l.latent, l.epochs, 42)
            );
            let said = |s: &str| l.text.contains(s);
            match l.variant {
                Variant::Dense if l.tab == Tab::Step => {
                    assert!(said("One step in slow motion") && said("8 test digits"));
                }
                Variant::Dense if l.tab == Tab::Compression => {
                    assert!(said("32-number code") && said("8 bits") && said("32 bytes"));
                    assert_eq!(c.model.latent, 32);
                }
                Variant::Dense => {
                    assert!(said("k = 32") && c.model.latent == 32);
                    assert!(said("PCA") && l.tab == Tab::Train);
                    assert_eq!(c.l1, 0.0);
                }
                Variant::Sparse => {
                    assert!(said("λ Σ|z|") && c.l1 > 0.0);
                }
                Variant::Deep => {
                    assert!(said("784-512-256-128-32") && c.model.hidden == vec![512, 256, 128]);
                }
                Variant::Conv => {
                    assert!(
                        said("7×7") && c.model.arch == Arch::Conv && c.model.channels.len() == 2
                    );
                }
                Variant::Denoising => {
                    assert!(said("corrupted inputs with clean targets") && c.noise.is_some());
                    assert_eq!(l.tab, Tab::Denoise);
                }
                Variant::Vae => {
                    assert!(said("β·KL") && c.model.arch == Arch::Vae && c.beta > 0.0);
                    assert_eq!(c.loss, LossKind::Bce);
                    assert_eq!(l.tab, Tab::Latent);
                }
                Variant::Linear => {
                    assert!(said("k = 784") && c.model.latent == crate::PIXELS);
                    assert!(c.model.hidden.is_empty() && c.l1 == 0.0 && c.noise.is_none());
                    assert_eq!(l.tab, Tab::Features);
                }
                _ => panic!("unexpected lesson {}", l.title),
            }
        }
    }
}
