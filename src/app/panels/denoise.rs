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

use std::path::PathBuf;
use std::sync::Arc;

use egui::{Color32, Pos2, Rect, Sense, Stroke, StrokeKind, TextureHandle, Vec2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::app::widgets::canvas::{self, Canvas};
use crate::app::jobs::{self, DialogKind, Job};
use crate::app::widgets;
use crate::app::{Level, Shared};
use crate::analysis::denoise::{self as experiment, Corruption, Denoiser, Score, SetScores};
use crate::analysis::metrics::psnr;
use crate::analysis::Pca;
use crate::data::preprocess::{Gray, Preprocessed};
use crate::data::{Dataset, NoiseKind, Occlusion};
use crate::model::TrainedModel;
use crate::{PIXELS, SIDE};

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
    key: (usize, u64),
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
    data: usize,
    corruption: Corruption,
    seed: u64,
    engines: Vec<(usize, u64)>,
}

#[derive(Clone, PartialEq)]
struct SetKey {
    data: usize,
    corruption: Corruption,
    seed: u64,
    engines: Vec<(usize, u64)>,
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
    session_on: Vec<usize>,
    pub extra_models: Vec<ExtraModel>,
    /// A message about the last thing that went wrong (or right) with files.
    pub message: Option<(Level, String)>,
    next_id: u64,
    pick_rng: ChaCha8Rng,
    occlusion_drag: Option<OcclusionDrag>,

    image_jobs: Vec<Job<Loaded>>,
    images_dialog: Option<Job<Vec<PathBuf>>>,
    model_dialog: Option<Job<Vec<PathBuf>>>,
    model_job: Option<Job<Result<(String, TrainedModel), String>>>,

    view_key: Option<ViewKey>,
    pub shown: Option<Shown>,
    tex_clean: Option<TextureHandle>,
    tex_noisy: Option<TextureHandle>,
    tex_out: Vec<Option<TextureHandle>>,

    drawing: Option<(u64, Preprocessed)>,
    drawing_steps: Option<(u64, Vec<StepThumb>, Vec<TextureHandle>)>,

    set_job: Option<(SetKey, Job<SetTable>)>,
    set_table: Option<(SetKey, SetTable)>,

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
            set_job: None,
            set_table: None,
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
        self.set_table.as_ref().map(|(_, t)| t)
    }

    /// Whether the test-set table is up to date with the panel's settings.
    pub fn set_table_is_current(&self, shared: &Shared) -> bool {
        let key = self.set_key(shared, &self.entries(shared));
        self.set_table.as_ref().is_some_and(|(k, _)| *k == key)
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
            let ptr = Arc::as_ptr(&s.model) as usize;
            if !self.session_on.contains(&ptr) {
                self.session_on.push(ptr);
            }
        }
    }

    /// True while a background job of this panel is still computing (headless renders wait).
    pub fn working(&self) -> bool {
        !self.image_jobs.is_empty() || self.model_job.is_some() || self.set_job.is_some()
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
            let current = shared.model().map(|m| Arc::as_ptr(m) as usize);
            for s in &shared.session_models {
                let ptr = Arc::as_ptr(&s.model) as usize;
                if Some(ptr) == current {
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
                key: (Arc::as_ptr(m) as usize, shared.model_version),
                engine: Engine::Model(m.clone()),
            });
        }
        for s in &shared.session_models {
            let ptr = Arc::as_ptr(&s.model) as usize;
            if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, &s.model))
                || !self.session_on.contains(&ptr)
            {
                continue;
            }
            out.push(Entry {
                title: session_title(&s.label),
                detail: short_name(&s.model),
                key: (ptr, 0),
                engine: Engine::Model(s.model.clone()),
            });
        }
        for e in self.extra_models.iter().filter(|e| e.on) {
            out.push(Entry {
                title: e.name.clone(),
                detail: short_name(&e.model),
                key: (Arc::as_ptr(&e.model) as usize, 0),
                engine: Engine::Model(e.model.clone()),
            });
        }
        if let (true, Some(p)) = (self.use_pca, &shared.pca) {
            let k = self.pca_k(shared);
            out.push(Entry {
                title: format!("PCA, k = {k}"),
                detail: "linear projection".into(),
                key: (Arc::as_ptr(p) as usize, k as u64),
                engine: Engine::Pca(p.clone(), k),
            });
        }
        out
    }

    // ---------------------------------------------------------------------------------------
    // Files: dialogs, drops, background reading

    pub fn open_images(&mut self, shared: &mut Shared) {
        if let Some(p) = shared.dialog_override.clone() {
            self.read_images(shared, vec![p]);
        } else {
            self.images_dialog = Some(jobs::file_dialog(DialogKind::OpenImages, &shared.egui, ""));
        }
    }

    pub fn open_model(&mut self, shared: &mut Shared) {
        if let Some(p) = shared.dialog_override.clone() {
            self.read_model(shared, p);
        } else {
            self.model_dialog = Some(jobs::file_dialog(DialogKind::OpenModel, &shared.egui, ""));
        }
    }

    fn take_drops(&mut self, shared: &mut Shared) {
        if shared.dropped_files.is_empty() {
            return;
        }
        let files = std::mem::take(&mut shared.dropped_files);
        let paths: Vec<PathBuf> = files.iter().map(|f| f.path().to_path_buf()).collect();
        self.read_images(shared, paths);
    }

    /// Reads, decodes and preprocesses pictures on a background thread.
    fn read_images(&mut self, shared: &Shared, paths: Vec<PathBuf>) {
        if paths.is_empty() {
            return;
        }
        self.image_jobs.push(Job::spawn(
            "read-images",
            Some(shared.egui.clone()),
            move || {
                paths
                    .iter()
                    .map(|p| {
                        let name = p
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_else(|| p.display().to_string());
                        let r = experiment::load_input(p)
                            .map(|pre| {
                                let steps = pre
                                    .steps
                                    .iter()
                                    .map(|s| step_thumb(s.name, &s.image))
                                    .collect();
                                (pre.pixels, steps)
                            })
                            .map_err(|e| e.to_string());
                        (name, r)
                    })
                    .collect()
            },
        ));
    }

    fn read_model(&mut self, shared: &Shared, path: PathBuf) {
        self.model_job = Some(Job::spawn(
            "read-model",
            Some(shared.egui.clone()),
            move || {
                let name = path
                    .file_stem()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "model".into());
                crate::model::io::load(&path)
                    .map(|m| (name, m))
                    .map_err(|e| format!("Cannot load the model: {e}"))
            },
        ));
    }

    fn poll(&mut self, shared: &mut Shared) {
        if let Some(paths) = jobs::take_done(&mut self.images_dialog) {
            self.read_images(shared, paths);
        }
        if let Some(paths) = jobs::take_done(&mut self.model_dialog) {
            if let Some(p) = paths.into_iter().next() {
                self.read_model(shared, p);
            }
        }
        if let Some(r) = jobs::take_done(&mut self.model_job) {
            match r {
                Ok((name, m)) => {
                    let model = Arc::new(m);
                    let label = format!("{name} ({})", short_name(&model));
                    shared.notify(
                        Level::Info,
                        format!("Loaded {name} to compare: {}.", model.config().describe()),
                    );
                    self.message = None;
                    self.extra_models.push(ExtraModel {
                        name,
                        label,
                        model,
                        on: true,
                    });
                    if self.extra_models.len() > MAX_EXTRA_MODELS {
                        self.extra_models.remove(0);
                    }
                }
                Err(e) => self.message = Some((Level::Error, e)),
            }
        }
        let mut finished = Vec::new();
        self.image_jobs.retain(|j| match j.poll() {
            Some(r) => {
                finished.push(r);
                false
            }
            None => true,
        });
        for batch in finished {
            self.add_images(batch);
        }
        if let Some((key, job)) = &self.set_job {
            if let Some(t) = job.poll() {
                self.set_table = Some((key.clone(), t));
                self.set_job = None;
            }
        }
    }

    /// Adds what a reading job produced; the last good picture becomes the one shown. Bad files
    /// only leave a message.
    fn add_images(&mut self, batch: Loaded) {
        let total = batch.len();
        let mut errors = Vec::new();
        let mut added = 0;
        for (name, r) in batch {
            match r {
                Ok((pixels, steps)) => {
                    let id = self.next_id;
                    self.next_id += 1;
                    self.user_images.push(UserImage {
                        id,
                        name,
                        pixels,
                        steps,
                        tex: None,
                        step_tex: Vec::new(),
                    });
                    self.source = Source::User(id);
                    added += 1;
                }
                Err(e) => errors.push(e),
            }
        }
        if self.user_images.len() > MAX_USER_IMAGES {
            let extra = self.user_images.len() - MAX_USER_IMAGES;
            self.user_images.drain(..extra);
        }
        self.message = if errors.is_empty() {
            None
        } else if total == 1 {
            Some((
                Level::Error,
                format!("Cannot use this picture: {}", errors[0]),
            ))
        } else {
            Some((
                Level::Error,
                format!(
                    "Could not use {} of {total} pictures ({added} added): {}",
                    errors.len(),
                    errors.join("; ")
                ),
            ))
        };
    }

    // ---------------------------------------------------------------------------------------
    // The chosen image and its reconstructions

    /// The clean 28×28 input and a stamp that changes when it does.
    fn clean_input(&mut self, data: &Dataset) -> (Vec<f32>, u64) {
        match self.source {
            Source::Test(i) => {
                let n = data.test.len();
                if n == 0 {
                    return (vec![0.0; PIXELS], 0);
                }
                let i = i.min(n - 1);
                self.source = Source::Test(i);
                (data.test.image(i).to_vec(), 0)
            }
            Source::User(id) => match self.user_images.iter().find(|u| u.id == id) {
                Some(u) => (u.pixels.clone(), id),
                None => {
                    self.source = Source::Test(0);
                    self.clean_input(data)
                }
            },
            Source::Drawing => {
                let v = self.canvas.version;
                if self.drawing.as_ref().map(|d| d.0) != Some(v) {
                    let g = Gray {
                        width: SIDE,
                        height: SIDE,
                        pixels: self.canvas.pixels.clone(),
                    };
                    self.drawing = Some((v, crate::data::preprocess::preprocess(&g)));
                }
                let pixels = self
                    .drawing
                    .as_ref()
                    .map(|d| d.1.pixels.clone())
                    .unwrap_or_default();
                (pixels, v)
            }
        }
    }

    fn refresh(&mut self, ctx: &egui::Context, shared: &Shared, entries: &[Entry]) {
        let (clean, stamp) = self.clean_input(&shared.data);
        let key = ViewKey {
            source: self.source,
            stamp,
            data: Arc::as_ptr(&shared.data) as usize,
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

    fn images_row(&mut self, ui: &mut egui::Ui, entries: &[Entry]) {
        let Some(shown) = self.shown.clone() else {
            return;
        };
        let n = 2 + shown.outputs.len();
        let gap = ui.spacing().item_spacing.x + 8.0;
        let size = ((ui.available_width() - gap * (n as f32 - 1.0)) / n as f32).clamp(90.0, 200.0);
        let best = shown
            .outputs
            .iter()
            .enumerate()
            .filter_map(|(i, o)| o.result.as_ref().ok().map(|(_, s)| (i, s.psnr)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _)| i);
        ui.horizontal_top(|ui| {
            ui.spacing_mut().item_spacing.x = gap;
            column(ui, size, "Clean", &self.source_caption(), self.tex_clean.as_ref(), None, false);
            let occl = self.noise == NoiseChoice::Occlusion;
            ui.vertical(|ui| {
                ui.set_width(size);
                ui.strong("Noisy input");
                ui.small(self.corruption().describe());
                if let Some(tex) = &self.tex_noisy {
                    let sense = if occl { Sense::drag() } else { Sense::hover() };
                    let resp = ui.add(
                        egui::Image::new(tex)
                            .fit_to_exact_size(Vec2::splat(size))
                            .corner_radius(2.0)
                            .sense(sense),
                    );
                    resp.widget_info(|| {
                        egui::WidgetInfo::labeled(egui::Role::Image, true, "Noisy input image")
                    });
                    if occl {
                        self.drag_occlusion(ui, &resp);
                        let r = occlusion_rect(self.occlusion, resp.rect);
                        ui.painter().rect_stroke(
                            r,
                            0.0,
                            Stroke::new(1.5, Color32::from_rgb(0xE6, 0x9F, 0x00)),
                            StrokeKind::Outside,
                        );
                        resp.on_hover_cursor(egui::CursorIcon::Crosshair);
                    }
                }
                ui.label(format!("MSE {:.4}", shown.noisy_score.mse));
                ui.label(format!("PSNR {:.1} dB", shown.noisy_score.psnr));
            });
            for (i, o) in shown.outputs.iter().enumerate() {
                let detail = entries.get(i).map(|e| e.detail.clone()).unwrap_or_default();
                match &o.result {
                    Ok((_, s)) => {
                        let is_best = Some(i) == best && shown.outputs.len() > 1;
                        let tex = self.tex_out.get(i).and_then(|t| t.as_ref());
                        column(ui, size, &o.title, &detail, tex, Some(s), is_best);
                    }
                    Err(e) => {
                        ui.vertical(|ui| {
                            ui.set_width(size);
                            ui.strong(&o.title);
                            ui.colored_label(ui.visuals().error_fg_color, e);
                        });
                    }
                }
            }
            if shown.outputs.is_empty() {
                ui.vertical(|ui| {
                    ui.set_width(size);
                    ui.strong("Denoised");
                    widgets::empty_square(ui, size);
                    ui.weak("Train a model in the Train tab or load one to see it denoise; tick PCA to compare.");
                });
            }
        });
    }

    fn source_caption(&self) -> String {
        match self.source {
            Source::Test(i) => format!("test digit #{i}"),
            Source::User(id) => self
                .user_images
                .iter()
                .find(|u| u.id == id)
                .map(|u| u.name.clone())
                .unwrap_or_default(),
            Source::Drawing => "your drawing".into(),
        }
    }

    fn drag_occlusion(&mut self, ui: &egui::Ui, resp: &egui::Response) {
        let rect = resp.rect;
        let to_image = |p: Pos2| {
            let v = (p - rect.min) / rect.width() * SIDE as f32;
            Pos2::new(v.x, v.y)
        };
        if resp.drag_started() {
            let origin = ui
                .input(|i| i.pointer.press_origin())
                .or(resp.interact_pointer_pos());
            if let Some(p) = origin.map(to_image) {
                let o = self.occlusion;
                let inside = p.x >= o.x as f32
                    && p.x < (o.x + o.w) as f32
                    && p.y >= o.y as f32
                    && p.y < (o.y + o.h) as f32;
                self.occlusion_drag = Some(if inside {
                    OcclusionDrag::Move { grab: p, start: o }
                } else {
                    OcclusionDrag::New { anchor: p }
                });
            }
        }
        if resp.dragged() {
            if let (Some(d), Some(p)) = (
                &self.occlusion_drag,
                resp.interact_pointer_pos().map(to_image),
            ) {
                self.occlusion = match d {
                    OcclusionDrag::New { anchor } => occlusion_from_corners(*anchor, p),
                    OcclusionDrag::Move { grab, start } => move_occlusion(*start, p - *grab),
                };
            }
        }
        if resp.drag_stopped() {
            self.occlusion_drag = None;
        }
    }

    // ---------------------------------------------------------------------------------------
    // The user's pictures and the canvas

    fn own_images(&mut self, ui: &mut egui::Ui) {
        ui.strong("Your images");
        if self.user_images.is_empty() {
            ui.weak("Drop pictures on the window or use Open images… (PNG, JPEG, BMP, GIF, WebP).");
        } else {
            let mut pick = None;
            let mut remove = None;
            ui.horizontal_wrapped(|ui| {
                for u in &mut self.user_images {
                    let tex = u.tex.get_or_insert_with(|| {
                        widgets::texture(
                            ui.ctx(),
                            &format!("denoise-user-{}", u.id),
                            widgets::digit_image(&u.pixels),
                        )
                    });
                    let selected = self.source == Source::User(u.id);
                    let resp = ui
                        .add(
                            egui::Image::new(&*tex)
                                .fit_to_exact_size(Vec2::splat(48.0))
                                .sense(Sense::click()),
                        )
                        .on_hover_text(format!(
                            "{} (click to use it; right-click to remove it)",
                            u.name
                        ));
                    let stroke = if selected {
                        Stroke::new(2.0, Color32::from_rgb(0xE6, 0x9F, 0x00))
                    } else {
                        ui.visuals().widgets.noninteractive.bg_stroke
                    };
                    ui.painter()
                        .rect_stroke(resp.rect, 2.0, stroke, StrokeKind::Outside);
                    if resp.clicked() {
                        pick = Some(u.id);
                    }
                    if resp.secondary_clicked() {
                        remove = Some(u.id);
                    }
                }
            });
            if let Some(id) = pick {
                self.source = Source::User(id);
            }
            if let Some(id) = remove {
                self.user_images.retain(|u| u.id != id);
            }
        }
        ui.add_space(4.0);
        ui.checkbox(&mut self.show_steps, "Show preprocessing steps")
            .on_hover_text("Show each step that turns the picture into the 28×28 input.");
        if self.show_steps {
            self.steps_ui(ui);
        }
    }

    fn drawing_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.strong("Draw a digit");
            if ui.small_button("Clear").clicked() {
                self.canvas.clear();
            }
            if ui
                .add_enabled(
                    !self.canvas.is_blank(),
                    egui::Button::new("Use drawing").small(),
                )
                .on_hover_text("Denoise the drawing (it is used as soon as you draw).")
                .clicked()
            {
                self.source = Source::Drawing;
            }
        });
        let size = ui.available_width().clamp(140.0, 280.0);
        let resp = self
            .canvas
            .ui(ui, size)
            .on_hover_text("Left button draws, right button erases.");
        if resp.changed() {
            self.source = Source::Drawing;
            ui.ctx().request_repaint();
        }
        ui.add(
            egui::Slider::new(&mut self.canvas.brush, canvas::BRUSH_RANGE)
                .text("brush size")
                .fixed_decimals(1),
        )
        .on_hover_text("Brush radius in pixels of the 28×28 image.");
        if self.source == Source::Drawing && self.canvas.is_blank() {
            ui.weak("The canvas is empty: draw a digit.");
        }
    }

    fn right_column(&mut self, ui: &mut egui::Ui, shared: &Shared, entries: &[Entry]) {
        self.set_table_ui(ui, shared);
        ui.add_space(4.0);
        self.batch_ui(ui, shared, entries);
    }

    fn steps_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        let steps_and_tex: Option<(&[StepThumb], &[TextureHandle])> = match self.source {
            Source::Test(_) => {
                ui.weak("Test digits are MNIST digits: already 28×28, light on dark and centred.");
                None
            }
            Source::User(id) => self.user_images.iter_mut().find(|u| u.id == id).map(|u| {
                if u.step_tex.len() != u.steps.len() {
                    u.step_tex = step_textures(&ctx, &format!("denoise-step-{}", u.id), &u.steps);
                }
                (&u.steps[..], &u.step_tex[..])
            }),
            Source::Drawing => {
                let v = self.canvas.version;
                if self.drawing_steps.as_ref().map(|d| d.0) != Some(v) {
                    if let Some((_, pre)) = self.drawing.as_ref().filter(|d| d.0 == v) {
                        let steps: Vec<StepThumb> = pre
                            .steps
                            .iter()
                            .map(|s| step_thumb(s.name, &s.image))
                            .collect();
                        let tex = step_textures(&ctx, "denoise-step-drawing", &steps);
                        self.drawing_steps = Some((v, steps, tex));
                    }
                }
                self.drawing_steps.as_ref().map(|d| (&d.1[..], &d.2[..]))
            }
        };
        if let Some((steps, tex)) = steps_and_tex {
            // Fixed cells in rows (nested layouts do not wrap by themselves).
            const CELL: f32 = 72.0;
            let gap = ui.spacing().item_spacing.x;
            let per_row = (((ui.available_width() + gap) / (CELL + gap)) as usize).max(1);
            let cells: Vec<_> = steps.iter().zip(tex).collect();
            for row in cells.chunks(per_row) {
                ui.horizontal_top(|ui| {
                    for (s, t) in row {
                        ui.vertical(|ui| {
                            ui.set_width(CELL);
                            let w = s.thumb.width.max(1) as f32;
                            let h = s.thumb.height.max(1) as f32;
                            let scale = CELL / w.max(h);
                            let (rect, _) =
                                ui.allocate_exact_size(Vec2::splat(CELL), Sense::hover());
                            let img_rect = Rect::from_center_size(
                                rect.center(),
                                Vec2::new(w * scale, h * scale),
                            );
                            ui.painter()
                                .rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
                            let uv = Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0));
                            ui.painter().image(t.id(), img_rect, uv, Color32::WHITE);
                            ui.small(&s.name);
                            ui.small(format!("{}×{}", s.width, s.height));
                        });
                    }
                });
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // The test set

    fn set_key(&self, shared: &Shared, entries: &[Entry]) -> SetKey {
        SetKey {
            data: Arc::as_ptr(&shared.data) as usize,
            corruption: self.corruption(),
            seed: self.seed,
            engines: entries.iter().map(|e| e.key).collect(),
        }
    }

    /// Measures the test set in the background when the settings changed (one job at a time:
    /// while the slider moves, the table follows as fast as it can).
    fn spawn_set_job(&mut self, shared: &Shared, entries: &[Entry]) {
        let key = self.set_key(shared, entries);
        if self.set_job.is_some() || self.set_table.as_ref().is_some_and(|(k, _)| *k == key) {
            return;
        }
        let data = shared.data.clone();
        let corruption = self.corruption();
        let seed = self.seed;
        let entries: Vec<Entry> = entries.to_vec();
        let job = Job::spawn("denoise-test-set", Some(shared.egui.clone()), move || {
            let clean = &data.test.images;
            let noisy = corruption.corrupt(clean, seed);
            let rows = entries
                .iter()
                .map(|e| {
                    let r = experiment::test_set_scores(e.denoiser(), clean, &corruption, seed)
                        .map_err(|err| err.to_string());
                    ((e.title.clone(), e.detail.clone()), r)
                })
                .collect();
            SetTable {
                images: data.test.len(),
                noisy_psnr: experiment::mean_psnr(&noisy, clean),
                noisy_mse: crate::analysis::metrics::mse(&noisy, clean),
                rows,
            }
        });
        self.set_job = Some((key, job));
    }

    fn set_table_ui(&mut self, ui: &mut egui::Ui, shared: &Shared) {
        ui.horizontal(|ui| {
            ui.strong(format!(
                "All {} test digits, same noise",
                widgets::thousands(shared.data.test.len() as f64)
            ));
            if self.set_job.is_some() {
                ui.spinner();
            }
        });
        let Some((_, t)) = &self.set_table else {
            ui.weak("Measuring…");
            return;
        };
        let best = t
            .rows
            .iter()
            .enumerate()
            .filter_map(|(i, (_, r))| r.as_ref().ok().map(|s| (i, -s.denoised_mse)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _)| i);
        egui::Grid::new("denoise-set-table")
            .striped(true)
            .num_columns(3)
            .show(ui, |ui| {
                ui.strong("Output");
                ui.strong("PSNR").on_hover_text(
                    "10 log10(1 / MSE), with the MSE over all pixels of all test digits.",
                );
                ui.strong("MSE");
                ui.end_row();
                ui.label("Noisy input");
                ui.label(format!("{:.2} dB", psnr(t.noisy_mse)));
                ui.label(format!("{:.4}", t.noisy_mse));
                ui.end_row();
                for (i, ((title, detail), r)) in t.rows.iter().enumerate() {
                    ui.label(title).on_hover_text(detail);
                    match r {
                        Ok(s) => {
                            let text = format!("{:.2} dB", psnr(s.denoised_mse));
                            if Some(i) == best && t.rows.len() > 1 {
                                ui.colored_label(BEST, format!("{text} best"));
                            } else {
                                ui.label(text);
                            }
                            ui.label(format!("{:.4}", s.denoised_mse));
                        }
                        Err(e) => {
                            ui.colored_label(ui.visuals().error_fg_color, e);
                            ui.label("");
                        }
                    }
                    ui.end_row();
                }
            });
    }

    fn batch_ui(&mut self, ui: &mut egui::Ui, shared: &Shared, entries: &[Entry]) {
        if self.batch_output >= entries.len() {
            self.batch_output = 0;
        }
        ui.horizontal(|ui| {
            ui.checkbox(&mut self.batch_view, "Batch view")
                .on_hover_text("16 test digits at this noise: noisy above, denoised below.");
            if self.batch_view && !entries.is_empty() {
                egui::ComboBox::from_label("denoised by")
                    .selected_text(&entries[self.batch_output].title)
                    .show_ui(ui, |ui| {
                        for (i, e) in entries.iter().enumerate() {
                            ui.selectable_value(&mut self.batch_output, i, &e.title);
                        }
                    });
            }
        });
        if !self.batch_view {
            return;
        }
        ui.weak("16 test digits at this noise: noisy rows, each above its denoised row.");
        if entries.is_empty() {
            ui.weak("No model to denoise with: train or load one, or tick PCA.");
            return;
        }
        let entry = &entries[self.batch_output];
        let key = ViewKey {
            source: Source::Test(usize::MAX),
            stamp: 0,
            data: Arc::as_ptr(&shared.data) as usize,
            corruption: self.corruption(),
            seed: self.seed,
            engines: vec![entry.key],
        };
        if self.batch_key.as_ref() != Some(&key) || self.batch_tex.is_none() {
            let idx = crate::app::panels::train::pick_grid(&shared.data.test.labels, BATCH);
            let clean = shared.data.test.subset(&idx).images;
            let noisy = self.corruption().corrupt(&clean, self.seed);
            let denoised = entry.denoiser().reconstruct(&noisy).ok();
            let img = batch_image(&noisy, denoised.as_deref());
            widgets::set_texture(&mut self.batch_tex, ui.ctx(), "denoise-batch", img);
            self.batch_denoised = denoised;
            self.batch_key = Some(key);
        }
        if let Some(tex) = &self.batch_tex {
            let w = ui.available_width().min(320.0);
            let s = tex.size_vec2();
            ui.add(egui::Image::new(tex).fit_to_exact_size(Vec2::new(w, w * s.y / s.x)));
        }
    }
}

/// One labelled image column: title, a detail line, the image, and its error against the clean
/// image on two lines (or "the target").
fn column(
    ui: &mut egui::Ui,
    size: f32,
    title: &str,
    detail: &str,
    tex: Option<&TextureHandle>,
    score: Option<&Score>,
    best: bool,
) -> egui::Response {
    ui.vertical(|ui| {
        ui.set_width(size);
        ui.strong(title);
        ui.small(detail);
        let r = match tex {
            Some(t) => widgets::show_texture(ui, t, size),
            None => widgets::empty_square(ui, size),
        };
        match score {
            Some(s) => {
                ui.label(format!("MSE {:.4}", s.mse));
                let psnr = format!("PSNR {:.1} dB", s.psnr);
                if best {
                    ui.colored_label(BEST, format!("{psnr}  best"));
                } else {
                    ui.label(psnr);
                }
            }
            None => {
                ui.label("the target");
            }
        }
        r
    })
    .inner
}

/// The colour marking the best output.
const BEST: Color32 = Color32::from_rgb(0x00, 0x9E, 0x73);

/// "Denoising AE, k = 32".
fn short_name(m: &TrainedModel) -> String {
    let c = m.config();
    let noise = match c.noise {
        Some(n) => format!(
            ", trained on {} {:.2}",
            n.kind.label().to_lowercase(),
            n.factor
        ),
        None => String::new(),
    };
    format!("{}, k = {}{noise}", c.variant.label(), m.latent())
}

/// "#2" from a session label such as "#2 dense 784-…".
/// "#3" for a model of this session, "built-in" for one shipped with the app.
fn session_number(label: &str) -> String {
    if let Some(rest) = label.strip_prefix('#') {
        return format!("#{}", rest.split_whitespace().next().unwrap_or(""));
    }
    label.split(':').next().unwrap_or(label).trim().to_string()
}

/// A column title for a session model.
fn session_title(label: &str) -> String {
    let n = session_number(label);
    if n.starts_with('#') {
        format!("Model {n}")
    } else {
        format!("Model ({n})")
    }
}

/// The rectangle in image coordinates covering the pixels between two points (any order),
/// at least one pixel, clipped to the 28×28 frame.
pub fn occlusion_from_corners(a: Pos2, b: Pos2) -> Occlusion {
    let side = SIDE as f32;
    let span = |p: f32, q: f32| {
        let lo = p.min(q).floor().clamp(0.0, side - 1.0);
        let hi = p.max(q).ceil().clamp(lo + 1.0, side);
        (lo as usize, (hi - lo) as usize)
    };
    let (x, w) = span(a.x, b.x);
    let (y, h) = span(a.y, b.y);
    Occlusion { x, y, w, h }
}

/// `o` moved by `d` pixels (rounded), kept inside the frame.
pub fn move_occlusion(o: Occlusion, d: Vec2) -> Occlusion {
    let shift = |v: usize, len: usize, by: f32| {
        let max = SIDE.saturating_sub(len.min(SIDE)) as f32;
        (v as f32 + by.round()).clamp(0.0, max) as usize
    };
    Occlusion {
        x: shift(o.x, o.w, d.x),
        y: shift(o.y, o.h, d.y),
        w: o.w.min(SIDE),
        h: o.h.min(SIDE),
    }
}

/// Where an occlusion lies over an image drawn in `rect`.
fn occlusion_rect(o: Occlusion, rect: Rect) -> Rect {
    let s = rect.width() / SIDE as f32;
    let x1 = (o.x + o.w).min(SIDE) as f32;
    let y1 = (o.y + o.h).min(SIDE) as f32;
    Rect::from_min_max(
        rect.min + Vec2::new(o.x as f32 * s, o.y as f32 * s),
        rect.min + Vec2::new(x1 * s, y1 * s),
    )
}

/// A small copy of a step's image (box-averaged down to at most [`THUMB_SIDE`] a side).
pub fn step_thumb(name: &str, g: &Gray) -> StepThumb {
    StepThumb {
        name: name.to_string(),
        width: g.width,
        height: g.height,
        thumb: shrink(g, THUMB_SIDE),
    }
}

/// Box-averages `g` so its longer side is at most `max_side` (a copy when it already fits; an
/// inconsistent image becomes a 1×1 black one).
pub fn shrink(g: &Gray, max_side: usize) -> Gray {
    let (w, h) = (g.width, g.height);
    if w == 0 || h == 0 || w.checked_mul(h) != Some(g.pixels.len()) {
        return Gray {
            width: 1,
            height: 1,
            pixels: vec![0.0],
        };
    }
    let long = w.max(h);
    if long <= max_side {
        return g.clone();
    }
    let ow = (w * max_side / long).max(1);
    let oh = (h * max_side / long).max(1);
    let mut pixels = vec![0.0f32; ow * oh];
    for oy in 0..oh {
        let (y0, y1) = (oy * h / oh, ((oy + 1) * h / oh).max(oy * h / oh + 1));
        for ox in 0..ow {
            let (x0, x1) = (ox * w / ow, ((ox + 1) * w / ow).max(ox * w / ow + 1));
            let mut sum = 0.0f64;
            for y in y0..y1 {
                sum += g.pixels[y * w + x0..y * w + x1]
                    .iter()
                    .map(|&v| f64::from(v))
                    .sum::<f64>();
            }
            pixels[oy * ow + ox] = (sum / ((y1 - y0) * (x1 - x0)) as f64) as f32;
        }
    }
    Gray {
        width: ow,
        height: oh,
        pixels,
    }
}

fn step_textures(ctx: &egui::Context, name: &str, steps: &[StepThumb]) -> Vec<TextureHandle> {
    steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let img = widgets::gray_image(&s.thumb.pixels, s.thumb.width, s.thumb.height);
            ctx.load_texture(format!("{name}-{i}"), img, egui::TextureOptions::NEAREST)
        })
        .collect()
}

/// Noisy digits on rows 0 and 2, their reconstructions on rows 1 and 3, 1-pixel gaps.
fn batch_image(noisy: &[f32], denoised: Option<&[f32]>) -> egui::ColorImage {
    let s = SIDE;
    let gap = 1;
    let n = noisy.len() / PIXELS;
    let rows = 2 * n.div_ceil(BATCH_COLS);
    let w = BATCH_COLS * (s + gap) + gap;
    let h = rows * (s + gap) + gap;
    let mut px = vec![0.12f32; w * h];
    let mut put = |img: &[f32], r: usize, c: usize| {
        for y in 0..s {
            let row = (gap + r * (s + gap) + y) * w + gap + c * (s + gap);
            px[row..row + s].copy_from_slice(&img[y * s..(y + 1) * s]);
        }
    };
    let blank = vec![0.0f32; PIXELS];
    for i in 0..n {
        let (r, c) = (2 * (i / BATCH_COLS), i % BATCH_COLS);
        put(&noisy[i * PIXELS..(i + 1) * PIXELS], r, c);
        let d = denoised
            .and_then(|d| d.get(i * PIXELS..(i + 1) * PIXELS))
            .unwrap_or(&blank);
        put(d, r + 1, c);
    }
    widgets::gray_image(&px, w, h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dragging_corners_makes_a_clipped_rectangle_in_any_direction() {
        let o = occlusion_from_corners(Pos2::new(3.2, 4.7), Pos2::new(10.9, 12.1));
        assert_eq!(
            o,
            Occlusion {
                x: 3,
                y: 4,
                w: 8,
                h: 9
            }
        );
        // Dragged up and left: the same rectangle.
        assert_eq!(
            occlusion_from_corners(Pos2::new(10.9, 12.1), Pos2::new(3.2, 4.7)),
            o
        );
        // A click without moving: one pixel.
        assert_eq!(
            occlusion_from_corners(Pos2::new(5.5, 5.5), Pos2::new(5.5, 5.5)),
            Occlusion {
                x: 5,
                y: 5,
                w: 1,
                h: 1
            }
        );
        // Past the borders: clipped to the frame.
        assert_eq!(
            occlusion_from_corners(Pos2::new(-10.0, 20.0), Pos2::new(99.0, 40.0)),
            Occlusion {
                x: 0,
                y: 20,
                w: 28,
                h: 8
            }
        );
        assert_eq!(
            occlusion_from_corners(Pos2::new(30.0, 30.0), Pos2::new(31.0, 31.0)),
            Occlusion {
                x: 27,
                y: 27,
                w: 1,
                h: 1
            }
        );
    }

    #[test]
    fn moving_keeps_the_size_and_stays_inside() {
        let o = Occlusion {
            x: 6,
            y: 10,
            w: 16,
            h: 7,
        };
        assert_eq!(
            move_occlusion(o, Vec2::new(2.4, -3.6)),
            Occlusion {
                x: 8,
                y: 6,
                w: 16,
                h: 7
            }
        );
        assert_eq!(
            move_occlusion(o, Vec2::new(100.0, 100.0)),
            Occlusion {
                x: 12,
                y: 21,
                w: 16,
                h: 7
            }
        );
        assert_eq!(
            move_occlusion(o, Vec2::new(-100.0, -100.0)),
            Occlusion {
                x: 0,
                y: 0,
                w: 16,
                h: 7
            }
        );
    }

    #[test]
    fn thumbnails_are_small_and_keep_the_mean_and_the_aspect() {
        let g = Gray {
            width: 1000,
            height: 500,
            pixels: (0..500_000)
                .map(|i| if i % 2 == 0 { 1.0 } else { 0.0 })
                .collect(),
        };
        let t = shrink(&g, THUMB_SIDE);
        assert_eq!((t.width, t.height), (96, 48));
        let mean = t.pixels.iter().sum::<f32>() / t.pixels.len() as f32;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
        let small = Gray {
            width: 3,
            height: 2,
            pixels: vec![0.5; 6],
        };
        assert_eq!(shrink(&small, 96), small);
        let bad = Gray {
            width: 5,
            height: 5,
            pixels: vec![],
        };
        assert_eq!(shrink(&bad, 96).pixels.len(), 1);
        let st = step_thumb("original (grey)", &g);
        assert_eq!(
            (st.width, st.height, st.name.as_str()),
            (1000, 500, "original (grey)")
        );
    }

    #[test]
    fn batch_image_puts_noisy_over_denoised() {
        let noisy = vec![1.0f32; 16 * PIXELS];
        let img = batch_image(&noisy, None);
        let w = BATCH_COLS * (SIDE + 1) + 1;
        assert_eq!(img.size, [w, 4 * (SIDE + 1) + 1]);
        // Row 0 (noisy) is white, row 1 (no reconstruction) is black.
        assert_eq!(img.pixels[(1 + 5) * w + 1 + 5], Color32::from_gray(255));
        assert_eq!(
            img.pixels[(1 + SIDE + 1 + 5) * w + 1 + 5],
            Color32::from_gray(0)
        );
    }
}
