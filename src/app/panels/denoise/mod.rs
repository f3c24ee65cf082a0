//! The Denoise panel: corrupt a digit (Gaussian noise, salt and pepper, masking, or a black
//! rectangle dragged on the image) and compare how the current model, other models (e.g. a
//! plain autoencoder beside a denoising one) and PCA at the same k reconstruct it, with MSE
//! and PSNR against the clean image, for one image and over the whole test set. The image is a
//! test digit, one of the user's own pictures (dropped on the window or opened, preprocessed
//! MNIST-style with every step viewable) or a digit drawn on the canvas. A batch view shows 16
//! test digits at the same noise.
//!
//! It owns the panel's state, the background jobs that read pictures and models and measure
//! the test set, and the textures it shows; the experiment itself is
//! [`crate::analysis::denoise`], the same code `bottleneck denoise` runs.
//!
//! - `inputs`: where the image comes from (test digits, the user's pictures and their
//!   preprocessing steps, the drawing canvas, models loaded for comparison) and the occlusion
//!   dragged on it;
//! - `views`: the image row (clean, damaged, each output), the test-set table and the batch.

mod inputs;
mod views;

use std::path::PathBuf;
use std::sync::Arc;

use egui::{Pos2, TextureHandle};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::analysis::denoise::{self as experiment, Corruption, Denoiser, Score, SetScores};
use crate::analysis::Pca;
use crate::app::widgets;
use crate::app::widgets::canvas::Canvas;
use crate::app::{Level, Shared};
use crate::data::preprocess::{Gray, Preprocessed};
use crate::data::{NoiseKind, Occlusion};
use crate::id::Id;
use crate::model::TrainedModel;
use crate::tasks::{Keyed, Task};
use crate::PIXELS;

use inputs::occlusion_rect;
pub use inputs::{move_occlusion, occlusion_from_corners, shrink, step_thumb};
use views::{session_number, session_title, short_name};

/// Digits in the batch view, and its columns.
pub const BATCH: usize = 16;
const BATCH_COLS: usize = 8;
/// The largest side of a preprocessing-step thumbnail, in pixels.
pub const THUMB_SIDE: usize = 96;
/// How many of the user's pictures and extra models are kept (the oldest go first).
pub const MAX_USER_IMAGES: usize = 24;
pub const MAX_EXTRA_MODELS: usize = 4;

const HELP: &str = "The clean image (left) is damaged: Gaussian noise of standard deviation \
given by the factor, salt and pepper or masking on that fraction of the pixels, or a black \
rectangle you drag. Each model then reconstructs the damaged image, and the error is measured \
against the clean one: MSE is the mean squared pixel error, PSNR = 10 log10(1 / MSE) in dB, \
higher is better. A denoising autoencoder is trained for exactly this: corrupted input, clean \
target. A plain autoencoder only ever saw clean digits, so more of the noise gets through. PCA \
with the same k keeps the part of the image in the k main directions of the training digits, \
which removes noise too, but only linearly. The table on the right repeats the experiment on \
every test digit. Your own pictures are turned into MNIST-style inputs first (grey, light ink on \
dark, cropped, longer side scaled to 20 px, centred by centre of mass in 28x28): a network only \
knows digits that look like the ones it was trained on.";

/// The damage chosen in the panel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoiseChoice {
    Noise(NoiseKind),
    Occlusion,
}

impl NoiseChoice {
    pub const ALL: [NoiseChoice; 4] = [
        NoiseChoice::Noise(NoiseKind::Gaussian),
        NoiseChoice::Noise(NoiseKind::SaltPepper),
        NoiseChoice::Noise(NoiseKind::Mask),
        NoiseChoice::Occlusion,
    ];

    pub fn label(self) -> &'static str {
        match self {
            NoiseChoice::Noise(k) => k.label(),
            NoiseChoice::Occlusion => "Occlusion",
        }
    }

    fn hint(self) -> &'static str {
        match self {
            NoiseChoice::Noise(NoiseKind::Gaussian) => {
                "Adds normal noise with standard deviation = factor to every pixel (clipped to [0, 1])."
            }
            NoiseChoice::Noise(NoiseKind::SaltPepper) => {
                "Sets a fraction = factor of the pixels to black or white."
            }
            NoiseChoice::Noise(NoiseKind::Mask) => "Sets a fraction = factor of the pixels to black.",
            NoiseChoice::Occlusion => {
                "Blacks out a rectangle: drag on the noisy image to draw it, or drag inside it to move it."
            }
        }
    }
}

/// Which image is being denoised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A test digit, by index.
    Test(usize),
    /// One of the user's pictures, by its id.
    User(u64),
    /// The canvas.
    Drawing,
}

/// A preprocessing step, shrunk for display.
#[derive(Clone, Debug)]
pub struct StepThumb {
    pub name: String,
    /// The step's real size.
    pub width: usize,
    pub height: usize,
    pub thumb: Gray,
}

/// One of the user's pictures, preprocessed.
pub struct UserImage {
    pub id: u64,
    pub name: String,
    /// The 28×28 input.
    pub pixels: Vec<f32>,
    pub steps: Vec<StepThumb>,
    tex: Option<TextureHandle>,
    step_tex: Vec<TextureHandle>,
}

/// A model loaded from a file for comparison.
pub struct ExtraModel {
    /// The file's name without extension.
    pub name: String,
    pub label: String,
    pub model: Arc<TrainedModel>,
    pub on: bool,
}

#[derive(Clone)]
enum Engine {
    Model(Arc<TrainedModel>),
    Pca(Arc<Pca>, usize),
}

/// One output column: a model or PCA.
#[derive(Clone)]
struct Entry {
    title: String,
    detail: String,
    engine: Engine,
    /// Identifies the engine for caching.
    key: (Id, u64),
}

impl Entry {
    fn denoiser(&self) -> Denoiser<'_> {
        match &self.engine {
            Engine::Model(m) => Denoiser::Model(m),
            Engine::Pca(p, k) => Denoiser::Pca { pca: p, k: *k },
        }
    }
}

/// One reconstruction on show.
#[derive(Clone, Debug)]
pub struct ShownOutput {
    pub title: String,
    pub result: Result<(Vec<f32>, Score), String>,
}

/// What the panel shows for the chosen image (for tests too).
#[derive(Clone, Debug)]
pub struct Shown {
    pub clean: Vec<f32>,
    pub noisy: Vec<f32>,
    pub noisy_score: Score,
    pub outputs: Vec<ShownOutput>,
}

/// The test-set table.
#[derive(Clone, Debug)]
pub struct SetTable {
    pub images: usize,
    pub noisy_psnr: f32,
    pub noisy_mse: f32,
    /// (title, detail) of each output and its scores.
    pub rows: Vec<((String, String), Result<SetScores, String>)>,
}

#[derive(Clone, PartialEq)]
struct ViewKey {
    source: Source,
    stamp: u64,
    data: Id,
    corruption: Corruption,
    seed: u64,
    engines: Vec<(Id, u64)>,
}

#[derive(Clone, PartialEq)]
struct SetKey {
    data: Id,
    corruption: Corruption,
    seed: u64,
    engines: Vec<(Id, u64)>,
}

enum OcclusionDrag {
    New { anchor: Pos2 },
    Move { grab: Pos2, start: Occlusion },
}

type Loaded = Vec<(String, Result<(Vec<f32>, Vec<StepThumb>), String>)>;

pub struct DenoisePanel {
    pub noise: NoiseChoice,
    pub factor: f32,
    pub seed: u64,
    pub occlusion: Occlusion,
    pub source: Source,
    pub user_images: Vec<UserImage>,
    pub canvas: Canvas,
    pub show_steps: bool,
    pub batch_view: bool,
    pub use_current: bool,
    pub use_pca: bool,
    /// Session models shown, by address of their model.
    session_on: Vec<Id>,
    pub extra_models: Vec<ExtraModel>,
    /// A message about the last thing that went wrong (or right) with files.
    pub message: Option<(Level, String)>,
    next_id: u64,
    pick_rng: ChaCha8Rng,
    occlusion_drag: Option<OcclusionDrag>,

    image_jobs: Vec<Task<Loaded>>,
    images_dialog: Option<Task<Vec<PathBuf>>>,
    model_dialog: Option<Task<Vec<PathBuf>>>,
    model_job: Option<Task<Result<(String, TrainedModel), String>>>,

    view_key: Option<ViewKey>,
    pub shown: Option<Shown>,
    tex_clean: Option<TextureHandle>,
    tex_noisy: Option<TextureHandle>,
    tex_out: Vec<Option<TextureHandle>>,

    drawing: Option<(u64, Preprocessed)>,
    drawing_steps: Option<(u64, Vec<StepThumb>, Vec<TextureHandle>)>,

    /// The test-set table for the current settings (the last one stays while the next is
    /// measured).
    set_tables: Keyed<SetKey, SetTable>,

    batch_key: Option<ViewKey>,
    batch_tex: Option<TextureHandle>,
    /// The batch view's denoised digits (row-major 16 × 784), for tests.
    pub batch_denoised: Option<Vec<f32>>,
    /// Which output the batch view uses (index into the outputs on show).
    pub batch_output: usize,
}

impl Default for DenoisePanel {
    fn default() -> Self {
        Self::new()
    }
}

impl DenoisePanel {
    pub fn new() -> Self {
        Self {
            noise: NoiseChoice::Noise(NoiseKind::Gaussian),
            factor: 0.5,
            seed: 1,
            occlusion: Occlusion {
                x: 6,
                y: 10,
                w: 16,
                h: 7,
            },
            source: Source::Test(0),
            user_images: Vec::new(),
            canvas: Canvas::default(),
            show_steps: true,
            batch_view: false,
            use_current: true,
            use_pca: true,
            session_on: Vec::new(),
            extra_models: Vec::new(),
            message: None,
            next_id: 1,
            pick_rng: ChaCha8Rng::seed_from_u64(7),
            occlusion_drag: None,
            image_jobs: Vec::new(),
            images_dialog: None,
            model_dialog: None,
            model_job: None,
            view_key: None,
            shown: None,
            tex_clean: None,
            tex_noisy: None,
            tex_out: Vec::new(),
            drawing: None,
            drawing_steps: None,
            set_tables: Keyed::new(),
            batch_key: None,
            batch_tex: None,
            batch_denoised: None,
            batch_output: 0,
        }
    }

    /// The damage the panel applies now.
    pub fn corruption(&self) -> Corruption {
        match self.noise {
            NoiseChoice::Noise(kind) => Corruption::Noise {
                kind,
                factor: self.factor,
            },
            NoiseChoice::Occlusion => Corruption::Occlusion(self.occlusion),
        }
    }

    /// The test-set table once it is measured for the current settings.
    pub fn set_table(&self) -> Option<&SetTable> {
        self.set_tables.latest().map(|(_, t)| t)
    }

    /// Whether the test-set table is up to date with the panel's settings.
    pub fn set_table_is_current(&self, shared: &Shared) -> bool {
        let key = self.set_key(shared, &self.entries(shared));
        self.set_tables.get(&key).is_some()
    }

    /// A state worth a picture (for `bottleneck snapshot`): a "2" drawn on the canvas, the
    /// built-in plain 32-D autoencoder beside the current model, and the batch view.
    pub fn demo(&mut self, shared: &Shared) {
        let pts = [
            (9.0, 9.5),
            (11.0, 6.5),
            (15.0, 5.5),
            (18.5, 7.5),
            (18.5, 11.5),
            (15.5, 15.5),
            (11.5, 19.0),
            (8.5, 22.0),
            (20.5, 22.0),
        ];
        self.canvas.clear();
        for w in pts.windows(2) {
            let (a, b) = (egui::pos2(w[0].0, w[0].1), egui::pos2(w[1].0, w[1].1));
            crate::app::widgets::canvas::stroke(&mut self.canvas.pixels, a, b, 1.4, 1.0);
        }
        self.canvas.version += 1;
        self.source = Source::Drawing;
        self.batch_view = true;
        if let Some(s) = shared.session_models.iter().find(|s| {
            s.model.config().variant == crate::model::Variant::Dense && s.model.latent() == 32
        }) {
            let id = s.model.id();
            if !self.session_on.contains(&id) {
                self.session_on.push(id);
            }
        }
    }

    /// True while a background job of this panel is still computing (headless renders wait).
    pub fn working(&self) -> bool {
        !self.image_jobs.is_empty() || self.model_job.is_some() || self.set_tables.is_running()
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        self.poll(shared);
        self.take_drops(shared);
        egui::ScrollArea::vertical()
            .id_salt("denoise-scroll")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                self.toolbar(ui, shared);
                self.message_line(ui);
                let entries = self.entries(shared);
                self.refresh(ui.ctx(), shared, &entries);
                self.spawn_set_job(shared, &entries);
                self.images_row(ui, &entries);
                ui.add_space(6.0);
                ui.separator();
                let full = ui.available_width();
                if full > 860.0 {
                    let draw_w = 290.0;
                    let rest = full - draw_w - 2.0 * 12.0;
                    let (mid_w, right_w) = (rest * 0.48, rest * 0.52);
                    ui.horizontal_top(|ui| {
                        ui.spacing_mut().item_spacing.x = 12.0;
                        ui.vertical(|ui| {
                            ui.set_width(draw_w);
                            self.drawing_ui(ui);
                        });
                        ui.vertical(|ui| {
                            ui.set_width(mid_w);
                            self.own_images(ui);
                        });
                        ui.vertical(|ui| {
                            ui.set_width(right_w);
                            self.right_column(ui, shared, &entries);
                        });
                    });
                } else {
                    self.drawing_ui(ui);
                    self.own_images(ui);
                    self.right_column(ui, shared, &entries);
                }
            });
    }

    // ---------------------------------------------------------------------------------------
    // Controls

    fn toolbar(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        ui.horizontal_wrapped(|ui| {
            ui.strong("Noise");
            for c in NoiseChoice::ALL {
                ui.selectable_value(&mut self.noise, c, c.label())
                    .on_hover_text(c.hint());
            }
            ui.separator();
            if self.noise == NoiseChoice::Occlusion {
                ui.weak("Drag on the noisy image to draw the rectangle; drag inside it to move it.");
            } else {
                let slider = egui::Slider::new(&mut self.factor, 0.0..=1.0)
                    .text("noise factor")
                    .fixed_decimals(2);
                ui.add(slider).on_hover_text(
                    "Gaussian: standard deviation. Salt and pepper, masking: fraction of pixels hit.",
                );
                if ui
                    .button("New noise")
                    .on_hover_text("Draw new random noise (the same noise is kept until you ask).")
                    .clicked()
                {
                    self.seed = self
                        .seed
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                }
            }
        });

        ui.horizontal_wrapped(|ui| {
            ui.strong("Image");
            let n = shared.data.test.len();
            let mut index = match self.source {
                Source::Test(i) => i.min(n.saturating_sub(1)),
                _ => 0,
            };
            let test_on = matches!(self.source, Source::Test(_));
            if ui
                .selectable_label(test_on, "Test digit")
                .on_hover_text("Use a digit from the test set.")
                .clicked()
            {
                self.source = Source::Test(index);
            }
            if n > 0
                && ui
                    .add(egui::DragValue::new(&mut index).range(0..=n - 1).prefix("#"))
                    .on_hover_text("Index of the test digit.")
                    .changed()
            {
                self.source = Source::Test(index);
            }
            if let Source::Test(i) = self.source {
                if let Some(&l) = shared.data.test.labels.get(i) {
                    ui.label(format!("(class {})", shared.data.class_name(l)));
                }
            }
            if ui
                .add_enabled(n > 0, egui::Button::new("Random test digit"))
                .clicked()
            {
                self.source = Source::Test(self.pick_rng.random_range(0..n));
            }
            ui.separator();
            let busy = self.images_dialog.is_some() || !self.image_jobs.is_empty();
            if ui
                .add_enabled(self.images_dialog.is_none(), egui::Button::new("Open images…"))
                .on_hover_text("Open PNG, JPEG, BMP, GIF or WebP pictures (you can also drop them on the window).")
                .clicked()
            {
                self.open_images(shared);
            }
            if busy {
                ui.spinner();
                if !self.image_jobs.is_empty() {
                    ui.weak("reading…");
                }
            }
            ui.weak("or drop pictures on the window, or draw below");
        });

        ui.horizontal_wrapped(|ui| {
            ui.strong("Compare");
            match shared.model() {
                Some(m) => {
                    ui.checkbox(&mut self.use_current, format!("Current model ({})", short_name(m)))
                        .on_hover_text(m.config().describe());
                }
                None => {
                    ui.add_enabled(false, egui::Checkbox::new(&mut false, "Current model (none yet)"))
                        .on_disabled_hover_text("Train a model in the Train tab, or load one.");
                }
            }
            let current = shared.model().map(|m| m.id());
            for s in &shared.session_models {
                let ptr = s.model.id();
                // A conditional VAE cannot reconstruct without each image's class.
                if Some(ptr) == current || s.model.classes() > 0 {
                    continue;
                }
                let mut on = self.session_on.contains(&ptr);
                if ui
                    .checkbox(&mut on, format!("{} ({})", session_number(&s.label), short_name(&s.model)))
                    .on_hover_text(format!("Trained or loaded this session: {}", s.model.config().describe()))
                    .changed()
                {
                    if on {
                        self.session_on.push(ptr);
                    } else {
                        self.session_on.retain(|&p| p != ptr);
                    }
                }
            }
            for e in &mut self.extra_models {
                ui.checkbox(&mut e.on, &e.label)
                    .on_hover_text(e.model.config().describe());
            }
            let k = self.pca_k(shared);
            let pca_text = match &shared.pca {
                Some(_) => format!("PCA (k = {k})"),
                None => "PCA (fitting…)".into(),
            };
            ui.checkbox(&mut self.use_pca, pca_text)
                .on_hover_text("Project onto the first k principal components of the training digits and back, k = the model's code size.");
            if ui
                .add_enabled(
                    self.model_dialog.is_none() && self.model_job.is_none(),
                    egui::Button::new("Load another model…"),
                )
                .on_hover_text("Load a saved model to compare with (e.g. a plain autoencoder beside a denoising one). The current model stays.")
                .clicked()
            {
                self.open_model(shared);
            }
            if self.model_job.is_some() {
                ui.spinner();
            }
        });
        widgets::help_note(ui, "denoise-help", HELP);
    }

    fn message_line(&mut self, ui: &mut egui::Ui) {
        let mut dismiss = false;
        if let Some((level, text)) = &self.message {
            let color = match level {
                Level::Error => ui.visuals().error_fg_color,
                Level::Warning => ui.visuals().warn_fg_color,
                Level::Info => ui.visuals().text_color(),
            };
            ui.horizontal_wrapped(|ui| {
                ui.colored_label(color, text);
                if ui.small_button("Dismiss").clicked() {
                    dismiss = true;
                }
            });
        }
        if dismiss {
            self.message = None;
        }
    }

    /// k for PCA: the current model's code size (or the first compared model's, or the form's).
    fn pca_k(&self, shared: &Shared) -> usize {
        shared
            .model()
            .map(|m| m.latent())
            .or_else(|| {
                self.extra_models
                    .iter()
                    .find(|e| e.on)
                    .map(|e| e.model.latent())
            })
            .unwrap_or(shared.settings.train.model.latent)
            .max(1)
    }

    /// The outputs to show, in order: current model, session models, loaded models, PCA.
    fn entries(&self, shared: &Shared) -> Vec<Entry> {
        let mut out = Vec::new();
        let current = shared.model().cloned();
        if let (true, Some(m)) = (self.use_current, &current) {
            out.push(Entry {
                title: "Current model".into(),
                detail: short_name(m),
                key: (m.id(), 0),
                engine: Engine::Model(m.clone()),
            });
        }
        for s in &shared.session_models {
            let id = s.model.id();
            if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, &s.model))
                || !self.session_on.contains(&id)
            {
                continue;
            }
            out.push(Entry {
                title: session_title(&s.label),
                detail: short_name(&s.model),
                key: (id, 0),
                engine: Engine::Model(s.model.clone()),
            });
        }
        for e in self.extra_models.iter().filter(|e| e.on) {
            out.push(Entry {
                title: e.name.clone(),
                detail: short_name(&e.model),
                key: (e.model.id(), 0),
                engine: Engine::Model(e.model.clone()),
            });
        }
        if let (true, Some(p)) = (self.use_pca, &shared.pca) {
            let k = self.pca_k(shared);
            out.push(Entry {
                title: format!("PCA, k = {k}"),
                detail: "linear projection".into(),
                key: (p.id(), k as u64),
                engine: Engine::Pca(p.clone(), k),
            });
        }
        out
    }

    // ---------------------------------------------------------------------------------------
    // Files: dialogs, drops, background reading

    fn refresh(&mut self, ctx: &egui::Context, shared: &Shared, entries: &[Entry]) {
        let (clean, stamp) = self.clean_input(&shared.data);
        let key = ViewKey {
            source: self.source,
            stamp,
            data: shared.data.id(),
            corruption: self.corruption(),
            seed: self.seed,
            engines: entries.iter().map(|e| e.key).collect(),
        };
        if self.view_key.as_ref() == Some(&key) && self.shown.is_some() {
            return;
        }
        let corruption = self.corruption();
        let noisy = corruption.corrupt(&clean, self.seed);
        let outputs: Vec<ShownOutput> = entries
            .iter()
            .map(|e| ShownOutput {
                title: e.title.clone(),
                result: experiment::denoise(e.denoiser(), clean.clone(), &corruption, self.seed)
                    .map(|r| {
                        let s = Score::of(&r.denoised, &r.clean);
                        (r.denoised, s)
                    })
                    .map_err(|err| err.to_string()),
            })
            .collect();
        widgets::set_texture(
            &mut self.tex_clean,
            ctx,
            "denoise-clean",
            widgets::digit_image(&clean),
        );
        widgets::set_texture(
            &mut self.tex_noisy,
            ctx,
            "denoise-noisy",
            widgets::digit_image(&noisy),
        );
        self.tex_out.resize_with(outputs.len(), || None);
        for (i, o) in outputs.iter().enumerate() {
            let px = match &o.result {
                Ok((p, _)) => p.clone(),
                Err(_) => vec![0.0; PIXELS],
            };
            widgets::set_texture(
                &mut self.tex_out[i],
                ctx,
                &format!("denoise-out-{i}"),
                widgets::digit_image(&px),
            );
        }
        self.shown = Some(Shown {
            noisy_score: Score::of(&noisy, &clean),
            clean,
            noisy,
            outputs,
        });
        self.view_key = Some(key);
    }
}
