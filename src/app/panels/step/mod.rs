//! The Step panel ("One step"): one real training step of the current model in slow motion.
//! It owns the panel's state (which batch to step on, which sub-step is shown, *Play*) and
//! sends `Command::SlowStep` to run A's worker; the record it gets back
//! (`RunView::slow_step`, a `train::slow_step::SlowStep`) is walked in six numbered
//! sub-steps, each with a sentence: the batch, the forward pass layer by layer, the loss, the
//! backward pass, the update and the model after it. The drawing of the network is
//! `network`; the pictures and tables of each sub-step are `views`. The engine computes
//! everything shown; this panel only formats the record's numbers.

pub mod network;
pub mod views;

use std::sync::Arc;
use std::time::Duration;

use crate::app::{widgets, Shared};
use crate::model::config::Arch;
use crate::train::slow_step::SlowStep;
use crate::train::worker::{Command, RunState};

use network::{Bars, Network};
use views::Textures;

/// Digits stepped on when the batch is test digits.
pub const TEST_DIGITS: usize = 8;
/// *Play* shows each part this long.
pub const PLAY_EVERY: f64 = 1.0;

/// The batch a step trains on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// [`TEST_DIGITS`] test digits from a starting index.
    TestDigits,
    /// The run's next training batch (as an ordinary *Step* would take).
    NextBatch,
}

/// One part of the walk-through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Batch,
    /// The output of the record's layer `i`.
    Forward(usize),
    Loss,
    Backward,
    Update,
    After,
}

impl Stage {
    /// The parts of `rec`'s walk-through, in order.
    pub fn all(rec: &SlowStep) -> Vec<Stage> {
        let mut v = vec![Stage::Batch];
        v.extend((0..rec.before.layers.len()).map(Stage::Forward));
        v.extend([Stage::Loss, Stage::Backward, Stage::Update, Stage::After]);
        v
    }

    /// The sub-step's number, 1 to 6.
    pub fn number(self) -> usize {
        match self {
            Stage::Batch => 1,
            Stage::Forward(_) => 2,
            Stage::Loss => 3,
            Stage::Backward => 4,
            Stage::Update => 5,
            Stage::After => 6,
        }
    }
}

pub struct StepPanel {
    pub source: Source,
    /// The first test digit of the batch (0-based).
    pub start: usize,
    /// The shown part of the walk-through (an index into [`Stage::all`]).
    pub pos: usize,
    pub playing: bool,
    /// When *Play* last advanced (egui's clock, seconds).
    last_tick: f64,
    /// The digit whose feature maps are drawn (0-based).
    pub example: usize,
    /// The record being walked (its address), to start again at 1 when a new one comes.
    seen: usize,
    /// A step was asked for and its record has not come yet.
    pub waiting: bool,
    tex: Textures,
}

impl Default for StepPanel {
    fn default() -> Self {
        Self::new()
    }
}

/// The address of a record (to tell records apart).
fn address(rec: &Arc<SlowStep>) -> usize {
    Arc::as_ptr(rec) as usize
}

impl StepPanel {
    pub fn new() -> StepPanel {
        StepPanel {
            source: Source::TestDigits,
            start: 0,
            pos: 0,
            playing: false,
            last_tick: 0.0,
            example: 0,
            seen: 0,
            waiting: false,
            tex: Textures::default(),
        }
    }

    /// Why a step cannot be taken now (`None`: it can).
    pub fn blocked(shared: &Shared) -> Option<&'static str> {
        if shared.a().view.state == RunState::Running {
            Some("Training is running: pause it (Train panel or Space) to take one step.")
        } else if shared.model().is_none() && shared.a().view.state == RunState::Idle {
            Some("There is no model yet: train or load one first.")
        } else if shared.model().is_some_and(|m| m.classes() > 0) {
            Some(
                "One step in slow motion does not show a conditional VAE (its layers take the \
                 class beside the pixels and the code): step a VAE instead.",
            )
        } else {
            None
        }
    }

    /// The rows of the chosen test digits (`None`: the next training batch).
    fn rows(&self, shared: &Shared) -> Option<Vec<f32>> {
        match self.source {
            Source::NextBatch => None,
            Source::TestDigits => {
                let test = &shared.data.test.images;
                let n = test.len() / crate::PIXELS;
                let start = self.start.min(n.saturating_sub(TEST_DIGITS));
                let end = (start + TEST_DIGITS).min(n);
                Some(test[start * crate::PIXELS..end * crate::PIXELS].to_vec())
            }
        }
    }

    /// *One step in slow motion*: run A's model takes one real step. With no run in place the
    /// current model is taken up paused (`Command::Hold`), so the step is the model's own.
    pub fn take_step(&mut self, shared: &mut Shared) {
        if Self::blocked(shared).is_some() {
            return;
        }
        let rows = self.rows(shared);
        let run = shared.a();
        if run.view.state == RunState::Idle {
            if let Some(model) = run.model().cloned() {
                run.worker.send(Command::Hold {
                    model,
                    data: shared.data.clone(),
                });
            }
        }
        shared.a().worker.send(Command::SlowStep { rows });
        self.waiting = true;
        self.playing = false;
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        let rec = shared.a().view.slow_step.clone();
        if let Some(r) = &rec {
            if address(r) != self.seen {
                self.seen = address(r);
                self.tex.follow(self.seen);
                self.pos = 0;
                self.example = 0;
                self.waiting = false;
            }
        }
        ui.heading("One training step in slow motion");
        self.controls(ui, shared);
        ui.add_space(4.0);
        let net = match (&rec, shared.model()) {
            (Some(r), _) => Some(Network::from_record(r)),
            (None, Some(m)) => {
                let cfg = m.config();
                Some(Network::from_config(&cfg.model, cfg.noise.is_some()))
            }
            (None, None) => None,
        };
        let stages = rec.as_deref().map(Stage::all).unwrap_or_default();
        self.pos = self.pos.min(stages.len().saturating_sub(1));
        let stage = stages.get(self.pos).copied();
        if let (Some(rec), Some(stage)) = (&rec, stage) {
            self.nav(ui, &stages);
            let (title, sentence) = describe(rec, stage);
            ui.heading(format!("{} {title}", stage.number()));
            ui.label(sentence);
        }
        if let Some(net) = &net {
            let current = match (stage, &rec) {
                (Some(Stage::Batch), _) => Some(0),
                (Some(Stage::Forward(i)), Some(r)) => net.node_of(&r.before.layers[i].name),
                (Some(Stage::Loss | Stage::After), _) => net.nodes.len().checked_sub(1),
                _ => None,
            };
            let bars = match (stage, &rec) {
                (Some(Stage::Backward), Some(r)) => Some(Bars {
                    rec: r,
                    updates: false,
                }),
                (Some(Stage::Update), Some(r)) => Some(Bars {
                    rec: r,
                    updates: true,
                }),
                _ => None,
            };
            let h = (ui.available_height() * 0.3).clamp(150.0, 220.0);
            let resp = network::draw(ui, net, current, bars, h);
            widgets::name_widget(&resp, "network");
        }
        ui.separator();
        let (Some(rec), Some(stage)) = (rec, stage) else {
            ui.label(
                "Press \"One step in slow motion\": the model takes one real training step on a \
                 small batch, and each part of it (the forward pass, the loss, the gradients, \
                 the update) is shown here from what the step computed.",
            );
            return;
        };
        egui::ScrollArea::vertical()
            .id_salt("step-body")
            .auto_shrink([false, false])
            .show(ui, |ui| self.stage_ui(ui, &rec, stage));
    }

    /// The step button, the batch's source and why the button is off.
    fn controls(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        let blocked = Self::blocked(shared);
        ui.horizontal_wrapped(|ui| {
            let button = egui::Button::new("One step in slow motion");
            if ui
                .add_enabled(blocked.is_none() && !self.waiting, button)
                .on_hover_text(
                    "Take one real training step of the current model and walk through it",
                )
                .clicked()
            {
                self.take_step(shared);
            }
            let on = ui.label("on");
            egui::ComboBox::from_id_salt("step-source")
                .selected_text(match self.source {
                    Source::TestDigits => "8 test digits",
                    Source::NextBatch => "the next training batch",
                })
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.source, Source::TestDigits, "8 test digits");
                    ui.selectable_value(
                        &mut self.source,
                        Source::NextBatch,
                        "the next training batch",
                    );
                })
                .response
                .labelled_by(on.id);
            if self.source == Source::TestDigits {
                let n = shared.data.test.len();
                let l = ui.label("from test digit");
                ui.add(
                    egui::DragValue::new(&mut self.start).range(0..=n.saturating_sub(TEST_DIGITS)),
                )
                .labelled_by(l.id);
            }
            if self.waiting {
                ui.spinner();
                ui.label("Taking the step...");
            }
        });
        if let Some(why) = blocked {
            ui.weak(why);
        }
    }

    /// *Back*, *Next*, *Play* and where the walk-through is.
    fn nav(&mut self, ui: &mut egui::Ui, stages: &[Stage]) {
        let last = stages.len().saturating_sub(1);
        ui.horizontal(|ui| {
            if ui
                .add_enabled(self.pos > 0, egui::Button::new("Back"))
                .clicked()
            {
                self.pos -= 1;
                self.playing = false;
            }
            if ui
                .add_enabled(self.pos < last, egui::Button::new("Next"))
                .clicked()
            {
                self.pos += 1;
                self.playing = false;
            }
            let play = if self.playing { "Pause" } else { "Play" };
            if ui.button(play).clicked() {
                self.playing = !self.playing;
                if self.playing && self.pos == last {
                    self.pos = 0;
                }
                self.last_tick = ui.input(|i| i.time);
            }
            ui.weak(format!("part {} of {}", self.pos + 1, stages.len()));
        });
        if self.playing {
            let now = ui.input(|i| i.time);
            if now - self.last_tick >= PLAY_EVERY {
                self.last_tick = now;
                if self.pos < last {
                    self.pos += 1;
                }
                if self.pos == last {
                    self.playing = false;
                }
            }
            let left = (PLAY_EVERY - (now - self.last_tick)).max(0.05);
            ui.ctx()
                .request_repaint_after(Duration::from_secs_f64(left));
        }
    }

    fn stage_ui(&mut self, ui: &mut egui::Ui, rec: &SlowStep, stage: Stage) {
        let ctx = ui.ctx().clone();
        let n = views::shown(rec);
        let width = views::tiles_width(ui);
        if rec.rows > n {
            ui.weak(format!("The first {n} of the batch's {} digits.", rec.rows));
        }
        match stage {
            Stage::Batch => {
                let t = self
                    .tex
                    .get(&ctx, "batch", || views::gray_tiles(&rec.batch, n));
                views::image(ui, &t, width, "batch");
                if let Some(c) = &rec.corrupted {
                    ui.label("What the network sees: the same digits, corrupted.");
                    let t = self.tex.get(&ctx, "corrupted", || views::gray_tiles(c, n));
                    views::image(ui, &t, width, "corrupted batch");
                }
            }
            Stage::Forward(i) => {
                let layer = &rec.before.layers[i];
                if layer.shape.len() == 3 && layer.shape.iter().product::<usize>() != crate::PIXELS
                {
                    ui.horizontal(|ui| {
                        let l = ui.label("Feature maps of digit");
                        ui.add(
                            egui::DragValue::new(&mut self.example)
                                .range(0..=n.saturating_sub(1))
                                .custom_formatter(|v, _| format!("{}", v as usize + 1))
                                .custom_parser(|s| s.parse::<f64>().ok().map(|v| v - 1.0)),
                        )
                        .labelled_by(l.id);
                    });
                }
                views::layer_view(ui, &mut self.tex, rec, layer, self.example);
                if rec.config.model.arch == Arch::Vae
                    && matches!(layer.name.as_str(), "sigma" | "eps" | "z")
                {
                    ui.add_space(4.0);
                    ui.horizontal_top(|ui| {
                        views::sampling_table(ui, rec);
                        ui.vertical(|ui| self.code_map(ui, rec, &layer.name));
                    });
                } else {
                    self.code_map(ui, rec, &layer.name);
                }
            }
            Stage::Loss => {
                let t = self
                    .tex
                    .get(&ctx, "pixel-loss", || views::heat_tiles(&rec.pixel_loss, n));
                ui.label("The loss of every pixel (black none, bright the most):");
                views::image(ui, &t, width, "per-pixel loss");
                ui.add_space(4.0);
                views::terms_table(ui, rec);
                if let Some(kl) = &rec.kl_per_dim {
                    let k = rec.config.model.latent;
                    ui.add_space(4.0);
                    ui.label("KL divergence per dimension (unweighted), per digit:");
                    views::values_table(ui, "kl", kl, k.min(8), n, false);
                }
            }
            Stage::Backward => {
                let t = self.tex.get(&ctx, "grad-recon", || {
                    views::signed_tiles(&rec.grad_recon, n)
                });
                ui.label("dL/d(recon), the gradient at the reconstruction (orange: too bright, blue: too dark):");
                views::image(ui, &t, width, "gradient at the reconstruction");
                ui.add_space(4.0);
                let k = rec.config.model.latent;
                ui.label("dL/dz, the gradient at the code:");
                ui.horizontal(|ui| {
                    views::values_table(ui, "grad-code", &rec.grad_code, k.min(8), n, true);
                    if k == 2 {
                        let down: Vec<f32> = {
                            // Arrows point downhill (−dL/dz), scaled to fit the map.
                            let s = 0.25 * span(&rec.before.code) / views::max_abs(&rec.grad_code);
                            rec.before
                                .code
                                .iter()
                                .zip(&rec.grad_code)
                                .map(|(z, g)| z - s * g)
                                .collect()
                        };
                        ui.vertical(|ui| {
                            views::latent_moves(
                                ui,
                                &rec.before.code,
                                &down,
                                n,
                                200.0,
                                "gradient at the code",
                            );
                            ui.weak("Arrows: downhill, -dL/dz (scaled to fit).");
                        });
                    }
                });
            }
            Stage::Update => views::update_table(ui, rec),
            Stage::After => {
                ui.label("Before the step:");
                let t = self.tex.get(&ctx, "recon-before", || {
                    views::gray_tiles(&rec.before.recon, n)
                });
                views::image(ui, &t, width, "reconstructions before");
                ui.label("After the step:");
                let t = self.tex.get(&ctx, "recon-after", || {
                    views::gray_tiles(&rec.after.recon, n)
                });
                views::image(ui, &t, width, "reconstructions after");
                ui.add_space(4.0);
                ui.horizontal(|ui| {
                    views::before_after_table(ui, rec);
                    if rec.config.model.latent == 2 {
                        ui.vertical(|ui| {
                            views::latent_moves(
                                ui,
                                &rec.before.code,
                                &rec.after.code,
                                n,
                                200.0,
                                "codes moving",
                            );
                            ui.weak("Each digit's code, before the step to after it.");
                        });
                    }
                });
                if !rec.applied {
                    ui.colored_label(
                        ui.visuals().warn_fg_color,
                        "The update was not applied: the loss or a gradient was not finite.",
                    );
                }
            }
        }
    }
}

impl StepPanel {
    /// At a 2-D code, the batch's codes on a small map (a VAE's z: arrows from μ to z).
    fn code_map(&self, ui: &mut egui::Ui, rec: &SlowStep, name: &str) {
        let k = rec.config.model.latent;
        let Some(layer) = rec.before.layers.iter().find(|l| l.name == name) else {
            return;
        };
        let code = match rec.config.model.arch {
            Arch::Vae => name == "z",
            Arch::Conv => name == "enc_fc",
            Arch::Dense => name.starts_with("enc.") && layer.shape == [k],
        };
        if k != 2 || !code {
            return;
        }
        let n = views::shown(rec);
        ui.add_space(4.0);
        views::latent_moves(
            ui,
            &rec.before.code,
            &layer.values,
            n,
            200.0,
            "codes of the batch",
        );
        ui.weak(if rec.config.model.arch == Arch::Vae {
            "The batch's codes: from μ to the z drawn with ε."
        } else {
            "The batch's codes, numbered as the digits."
        });
    }
}

/// The largest extent of a set of 2-D points over either axis.
fn span(code: &[f32]) -> f32 {
    let (mut lo, mut hi) = ([f32::MAX; 2], [f32::MIN; 2]);
    for (i, &v) in code.iter().enumerate() {
        lo[i % 2] = lo[i % 2].min(v);
        hi[i % 2] = hi[i % 2].max(v);
    }
    (0..2).map(|d| hi[d] - lo[d]).fold(1e-6, f32::max)
}

/// A sub-step's title and its sentence.
pub fn describe(rec: &SlowStep, stage: Stage) -> (String, String) {
    let lr = rec.config.lr;
    match stage {
        Stage::Batch => (
            "The batch".into(),
            format!(
                "The step trains on these {} digits and nothing else{}",
                rec.rows,
                if rec.corrupted.is_some() {
                    ": a denoising model sees them corrupted and is asked for the clean ones."
                } else {
                    ": each is both the input and the target."
                }
            ),
        ),
        Stage::Forward(i) => {
            let l = &rec.before.layers[i];
            let of = rec.before.layers.len();
            let title = format!("Forward pass, layer {} of {of}: {}", i + 1, l.name);
            let per: usize = l.shape.iter().product();
            let sentence = match l.name.as_str() {
                "mu" => "The mean head: μ, the centre of each digit's posterior in the code space.".to_string(),
                "logvar" => "The log-variance head: log σ², how unsure the encoder is, per dimension.".to_string(),
                "sigma" => "σ = exp(log σ² / 2), the spread the code is drawn with.".to_string(),
                "eps" => "ε: the noise drawn for this step, one number per dimension from N(0, 1).".to_string(),
                "z" => "z = μ + σ·ε: the code the decoder reads. Sampling this way lets the gradient flow back to μ and σ.".to_string(),
                "recon" => "After the sigmoid: the reconstructions, pixel values between 0 and 1.".to_string(),
                _ if l.shape.len() == 3 && !l.name.contains("conv") => format!(
                    "A dense layer from the code: each of its {per} units multiplies the code by its weights and adds a bias; its output is read as {} maps of {}x{} for the transposed convolutions.",
                    l.shape[0], l.shape[1], l.shape[2]
                ),
                _ if l.shape.len() == 3 && l.name.starts_with("deconv") => format!(
                    "A transposed convolution spreads each input value through {} small 3x3 filters at stride 2: each gives one feature map of {}x{}, twice the size of its input.",
                    l.shape[0], l.shape[1], l.shape[2]
                ),
                _ if l.shape.len() == 3 => format!(
                    "A convolution slides {} small 3x3 filters over its input: each gives one feature map of {}x{}.",
                    l.shape[0], l.shape[1], l.shape[2]
                ),
                _ if per == crate::PIXELS => "The output layer: 784 values per digit before the sigmoid (the logits), drawn as images.".to_string(),
                _ if per == rec.config.model.latent => format!(
                    "The bottleneck: each digit is now {per} numbers, its code z."
                ),
                _ => format!(
                    "Each of the {per} units multiplies its input by its weights, adds a bias and applies the activation."
                ),
            };
            (title, sentence)
        }
        Stage::Loss => (
            "The loss".into(),
            "The reconstruction is compared with the target pixel by pixel; the loss terms add up to the one number the step lowers.".into(),
        ),
        Stage::Backward => (
            "The backward pass".into(),
            "Backpropagation runs from the output back to the input: the gradient says how the loss changes with each value; the bars on the network are each layer's weight gradient norm.".into(),
        ),
        Stage::Update => (
            "The update".into(),
            format!(
                "Adam does not step along the gradient: it divides each coordinate's gradient by the running RMS of that coordinate's gradients, so on a fresh optimiser's first step every coordinate moves by about the learning rate ({lr}) whatever the gradient's size. That is why the update norms (blue) do not follow the gradient norms (orange)."
            ),
        ),
        Stage::After => (
            "After the step".into(),
            format!(
                "The same batch through the updated model. The loss is measured again, not predicted: total {} before, {} after.",
                views::loss_text(rec.loss_before().total()),
                views::loss_text(rec.loss_after().total())
            ),
        ),
    }
}
