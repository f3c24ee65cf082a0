//! The left side panel: the dataset (`dataset_ui`: open a folder or CSV file) and the model and training
//! settings form. Every input is validated and explains itself in a one-sentence tooltip; the
//! form edits `Settings::train`, which the next Start uses. Presets and the parsing of layer
//! sizes are `model::config`'s (`TrainConfig::apply_preset`, `config::parse_sizes`).

use super::lessons::Control;
use super::Shared;
use crate::data::NoiseKind;
use crate::model::{config, Arch, LossKind, NoiseSpec, OptimizerKind, Variant};
use crate::train::worker::RunState;

#[derive(Default)]
pub struct Sidebar {
    hidden_text: Option<String>,
    channels_text: Option<String>,
    hidden_error: Option<String>,
    channels_error: Option<String>,
    /// The dataset section and the import preview.
    pub dataset: super::dataset_ui::DatasetUi,
}

fn sizes_to_text(v: &[usize]) -> String {
    v.iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

impl Sidebar {
    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        ui.add_space(4.0);
        if !shared.hidden_controls.contains(&Control::Dataset) {
            self.dataset.ui(ui, shared);
            ui.separator();
        }
        self.model_form(ui, shared);
    }

    /// Opens the dataset dialog (or uses the test override).
    pub fn open_dataset(&mut self, shared: &mut Shared) {
        self.dataset.open_path_dialog(shared);
    }

    /// Waits for a dataset load started from a test (tests only).
    pub fn wait_for_dataset(&mut self, shared: &mut Shared) {
        self.dataset.wait(shared);
    }

    fn model_form(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        let running = shared.runs_state() != RunState::Idle;
        ui.strong("Model");
        if running {
            ui.small("Changes apply to the next run.");
        }
        let hidden = shared.hidden_controls.clone();
        let show = |c: Control| !hidden.contains(&c);
        if !hidden.is_empty() {
            ui.small("This lesson step hides some settings.");
        }
        let cfg = &mut shared.settings.train;
        let before = cfg.clone();

        egui::Grid::new("model-form")
            .num_columns(2)
            .spacing([8.0, 6.0])
            .show(ui, |ui| {
                if show(Control::Variant) {
                    ui.label("Variant");
                    let mut variant = cfg.variant;
                    egui::ComboBox::from_id_salt("variant")
                        .selected_text(variant.label())
                        .show_ui(ui, |ui| {
                            for v in Variant::ALL {
                                ui.selectable_value(&mut variant, v, v.label())
                                    .on_hover_text(variant_help(v));
                            }
                        })
                        .response
                        .on_hover_text("Which kind of autoencoder to train; each variant sets sensible defaults below.");
                    if variant != cfg.variant {
                        cfg.apply_preset(variant);
                        self.hidden_text = None;
                        self.channels_text = None;
                    }
                    ui.end_row();
                }

                if show(Control::Latent) {
                    ui.label("Latent size k");
                    ui.add(egui::DragValue::new(&mut cfg.model.latent).range(1..=crate::PIXELS))
                        .on_hover_text("Size of the code in the bottleneck: 2 can be plotted directly, wider codes keep more detail.");
                    ui.end_row();
                }

                if show(Control::Layers) {
                    if cfg.model.arch == Arch::Conv {
                        ui.label("Conv channels");
                        let text = self.channels_text.get_or_insert_with(|| sizes_to_text(&cfg.model.channels));
                        let r = ui
                            .add(egui::TextEdit::singleline(text).desired_width(110.0))
                            .on_hover_text("Channels of each stride-2 3×3 convolution, e.g. 16,32 (28 to 14 to 7 pixels).");
                        if r.changed() {
                            match config::parse_sizes(text) {
                                Ok(v) if !v.is_empty() && v.len() <= 3 && v.iter().all(|&c| (1..=256).contains(&c)) => {
                                    cfg.model.channels = v;
                                    self.channels_error = None;
                                }
                                Ok(_) => self.channels_error = Some("1 to 3 layers of 1–256 channels".into()),
                                Err(e) => self.channels_error = Some(e.to_string()),
                            }
                        }
                    } else {
                        ui.label("Hidden layers");
                        let text = self.hidden_text.get_or_insert_with(|| sizes_to_text(&cfg.model.hidden));
                        let r = ui
                            .add(egui::TextEdit::singleline(text).desired_width(110.0))
                            .on_hover_text("Widths of the hidden layers from the input side, e.g. 256,128; the decoder mirrors them.");
                        if r.changed() {
                            match config::parse_sizes(text) {
                                Ok(v) if v.len() <= 8 && v.iter().all(|&h| (1..=8192).contains(&h)) => {
                                    cfg.model.hidden = v;
                                    self.hidden_error = None;
                                }
                                Ok(_) => self.hidden_error = Some("at most 8 layers of 1–8192 units".into()),
                                Err(e) => self.hidden_error = Some(e.to_string()),
                            }
                        }
                    }
                    ui.end_row();
                }

                if show(Control::Loss) {
                    ui.label("Loss");
                    egui::ComboBox::from_id_salt("loss")
                        .selected_text(cfg.loss.name().to_uppercase())
                        .show_ui(ui, |ui| {
                            ui.selectable_value(&mut cfg.loss, LossKind::Mse, "MSE");
                            ui.selectable_value(&mut cfg.loss, LossKind::Bce, "BCE");
                        })
                        .response
                        .on_hover_text("How reconstruction error is measured per pixel: mean squared error, or binary cross-entropy.");
                    ui.end_row();
                }

                if show(Control::Denoising) {
                    ui.label("Denoising");
                    let mut on = cfg.noise.is_some();
                    ui.checkbox(&mut on, "corrupt inputs")
                        .on_hover_text("Train on corrupted inputs with clean targets, so the model learns to remove noise.");
                    match (on, cfg.noise.is_some()) {
                        (true, false) => {
                            cfg.noise = Some(NoiseSpec {
                                kind: NoiseKind::Gaussian,
                                factor: 0.5,
                            })
                        }
                        (false, true) => cfg.noise = None,
                        _ => {}
                    }
                    ui.end_row();
                    if let Some(n) = cfg.noise.as_mut() {
                        ui.label("Noise");
                        egui::ComboBox::from_id_salt("noise-kind")
                            .selected_text(n.kind.label())
                            .show_ui(ui, |ui| {
                                for k in NoiseKind::ALL {
                                    ui.selectable_value(&mut n.kind, k, k.label());
                                }
                            })
                            .response
                            .on_hover_text("Gaussian adds noise of standard deviation = factor; the others hit that fraction of pixels.");
                        ui.end_row();
                        ui.label("Noise factor");
                        ui.add(egui::Slider::new(&mut n.factor, 0.0..=1.0))
                            .on_hover_text("Strength of the corruption: the Gaussian σ, or the fraction of pixels affected.");
                        ui.end_row();
                    }
                }

                if show(Control::Sparsity) {
                    ui.label("Sparsity λ");
                    ui.add(egui::DragValue::new(&mut cfg.l1).range(0.0..=10.0).speed(1e-4).max_decimals(5))
                        .on_hover_text("Weight of the L1 penalty on the code (sparse AE): larger values push more code units to zero.");
                    ui.end_row();
                }

                if show(Control::Contractive) {
                    ui.label("Contractive λ");
                    ui.add(egui::DragValue::new(&mut cfg.contractive).range(0.0..=10.0).speed(1e-3).max_decimals(5))
                        .on_hover_text("Weight of ‖∂z/∂x‖² (contractive AE): larger values make the code insensitive to small input changes.");
                    ui.end_row();
                }

                if cfg.model.arch == Arch::Vae && show(Control::Beta) {
                    ui.label("β (KL weight)");
                    ui.add(egui::DragValue::new(&mut cfg.beta).range(0.0..=100.0).speed(0.01))
                        .on_hover_text("Weight of the KL term of the VAE: larger β gives a smoother latent space and blurrier images.");
                    ui.end_row();
                }

                if show(Control::Optimiser) {
                    ui.label("Optimiser");
                    egui::ComboBox::from_id_salt("optimizer")
                        .selected_text(match cfg.optimizer {
                            OptimizerKind::Adam => "Adam",
                            OptimizerKind::AdamW => "AdamW",
                        })
                        .show_ui(ui, |ui| {
                            ui.selectable_value(&mut cfg.optimizer, OptimizerKind::Adam, "Adam");
                            ui.selectable_value(&mut cfg.optimizer, OptimizerKind::AdamW, "AdamW");
                        })
                        .response
                        .on_hover_text("Adam adapts each weight's step size; AdamW adds decoupled weight decay.");
                    ui.end_row();
                    if cfg.optimizer == OptimizerKind::AdamW {
                        ui.label("Weight decay");
                        ui.add(egui::DragValue::new(&mut cfg.weight_decay).range(0.0..=1.0).speed(1e-3).max_decimals(4))
                            .on_hover_text("How strongly AdamW shrinks weights towards zero at every step.");
                        ui.end_row();
                    }
                }

                if show(Control::LearningRate) {
                    ui.label("Learning rate");
                    ui.add(
                        egui::Slider::new(&mut cfg.lr, 1e-5..=100.0)
                            .logarithmic(true)
                            .max_decimals(5),
                    )
                    .on_hover_text("Size of each optimisation step: too small learns slowly, too large diverges.");
                    ui.end_row();
                }

                if show(Control::Batch) {
                    ui.label("Batch size");
                    ui.add(egui::DragValue::new(&mut cfg.batch).range(1..=4096))
                        .on_hover_text("Images per optimisation step: larger batches give smoother but fewer updates per epoch.");
                    ui.end_row();
                }

                if show(Control::Epochs) {
                    ui.label("Epochs");
                    ui.add(egui::DragValue::new(&mut cfg.epochs).range(1..=1000))
                        .on_hover_text("How many passes over the training images.");
                    ui.end_row();
                }

                if show(Control::Seed) {
                    ui.label("Seed");
                    ui.add(egui::DragValue::new(&mut cfg.seed))
                        .on_hover_text("Random seed for weights, shuffling and noise: the same seed repeats the same run.");
                    ui.end_row();
                }
            });
        for e in [&self.hidden_error, &self.channels_error]
            .into_iter()
            .flatten()
        {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        if let Err(e) = cfg.validate() {
            ui.colored_label(ui.visuals().error_fg_color, format!("Cannot train: {e}"));
        }
        ui.add_space(4.0);
        ui.small(cfg.describe());
        if *cfg != before {
            ui.ctx().request_repaint();
        }
    }
}

pub fn variant_help(v: Variant) -> &'static str {
    match v {
        Variant::Dense => "Fully connected encoder and decoder (784-256-128-k by default).",
        Variant::Deep => "A dense autoencoder with more hidden layers (512-256-128).",
        Variant::Conv => "Convolutions down to a dense code, transposed convolutions back up.",
        Variant::Denoising => "Learns to reconstruct clean images from corrupted ones.",
        Variant::Sparse => "An L1 penalty keeps most code units near zero.",
        Variant::Contractive => "Penalises the encoder's sensitivity to its input (its Jacobian).",
        Variant::Vae => "Encodes a distribution; decoding samples from the prior makes new images.",
        Variant::Linear => "No activations at all: it learns the same subspace as PCA.",
        Variant::Cvae => {
            "A VAE given the class label: the code keeps the style, so any digit can be \
             written in your hand (Generate panel)."
        }
    }
}
