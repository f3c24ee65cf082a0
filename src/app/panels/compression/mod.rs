//! The Compression panel: every autoencoder of the session used as a lossy codec (its code
//! quantised to 2–8 bits per dimension) against PCA, JPEG and lossless PNG, counted byte for
//! byte on the first [`SUBSET`] test images. Two rate–distortion plots, on the models' own
//! dataset and on another dataset folder the user opens ("off its home ground"), and the same
//! test images decoded by each method at one byte budget. The measurement is
//! `analysis::codec`; this panel schedules it in background runs keyed on the ids of the
//! models, the datasets and the PCA, and draws it.
//!
//! - `plots`: the rate–distortion plots (log bytes against PSNR) with their hover text;
//! - `budget`: the side-by-side view at one budget.

mod budget;
mod plots;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use egui::Color32;

use crate::analysis::codec::{self, CodeRanges, RdPoint};
use crate::analysis::Pca;
use crate::app::jobs::{self, DialogKind, Task};
use crate::app::widgets;
use crate::app::{Level, Shared};
use crate::data::{Dataset, DatasetSource};
use crate::id::Id;
use crate::model::TrainedModel;

pub use budget::SideBySide;

/// Test images measured on each dataset (the first ones of its test split).
pub const SUBSET: usize = 2000;
/// Default byte budget of the side-by-side view.
pub const DEFAULT_BUDGET: f64 = 32.0;

pub const PCA_COLOR: Color32 = crate::app::panels::pca::PCA_COLOR;
pub const JPEG_COLOR: Color32 = Color32::from_rgb(0x00, 0x9E, 0x73);
pub const PNG_COLOR: Color32 = Color32::from_rgb(0x99, 0x99, 0x99);
/// Colours of the session's autoencoders, in order.
const MODEL_COLORS: [Color32; 5] = [
    Color32::from_rgb(0x56, 0xB4, 0xE9),
    Color32::from_rgb(0xCC, 0x79, 0xA7),
    Color32::from_rgb(0xD5, 0x5E, 0x00),
    Color32::from_rgb(0xF0, 0xE4, 0x42),
    Color32::from_rgb(0x00, 0x72, 0xB2),
];

/// Which images are measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The app's dataset: the models' own.
    Home,
    /// Another dataset folder the user opened.
    Other,
}

/// A model's points on one dataset: by (model, measured dataset).
type ModelKey = (Id, Id);
/// PCA's, JPEG's and PNG's points: by (PCA, measured dataset).
type BaseKey = (Id, Id);

/// One model's result: (model, home dataset), its ranges (none when it failed), its points.
type ModelMeasured = (Id, Id, Option<Arc<CodeRanges>>, Vec<RdPoint>);

/// What one background measurement found.
struct Measured {
    target: Id,
    pca: Id,
    /// (model, home dataset) → ranges (none when the model failed), and the model's points.
    models: Vec<ModelMeasured>,
    baseline: Option<Vec<RdPoint>>,
    /// Models that could not be measured, with why.
    errors: Vec<String>,
}

/// A model the panel draws: its label and the model.
#[derive(Clone)]
pub struct Listed {
    pub label: String,
    pub model: Arc<TrainedModel>,
}

pub struct CompressionPanel {
    model_points: HashMap<ModelKey, Arc<Vec<RdPoint>>>,
    /// The quantisers' ranges by (model, home dataset).
    ranges: HashMap<(Id, Id), Arc<CodeRanges>>,
    baseline: HashMap<BaseKey, Arc<Vec<RdPoint>>>,
    /// The measurement running, with the (PCA, dataset) it measures.
    run: Option<(BaseKey, Task<Result<Measured, String>>)>,
    /// The dataset of images the models were not trained on, if one was opened.
    pub other: Option<Arc<Dataset>>,
    other_job: Option<Task<Result<Dataset, String>>>,
    dialog: Option<Task<Vec<PathBuf>>>,
    csv_dialog: Option<Task<Vec<PathBuf>>>,
    /// Bytes per image of the side-by-side view.
    pub budget: f64,
    /// Which images the side-by-side view shows.
    pub budget_target: Target,
    /// The model of the side-by-side view (`None`: chosen automatically).
    pub focus: Option<Id>,
    budget_view: budget::BudgetView,
    pub error: Option<String>,
}

impl Default for CompressionPanel {
    fn default() -> Self {
        Self::new()
    }
}

impl CompressionPanel {
    pub fn new() -> Self {
        Self {
            model_points: HashMap::new(),
            ranges: HashMap::new(),
            baseline: HashMap::new(),
            run: None,
            other: None,
            other_job: None,
            dialog: None,
            csv_dialog: None,
            budget: DEFAULT_BUDGET,
            budget_target: Target::Home,
            focus: None,
            budget_view: budget::BudgetView::default(),
            error: None,
        }
    }

    /// True while a background measurement or load is running (headless renders wait).
    pub fn working(&self) -> bool {
        self.run.is_some() || self.other_job.is_some() || self.budget_view.working()
    }

    /// The current model, then the session's other models (each once). A conditional VAE is
    /// left out: it cannot encode or decode without each image's class.
    pub fn models(shared: &Shared) -> Vec<Listed> {
        let mut out: Vec<Listed> = Vec::new();
        let current = shared.model().cloned().filter(|m| m.classes() == 0);
        if let Some(m) = &current {
            if !shared.session_models.iter().any(|s| s.model.id() == m.id()) {
                out.push(Listed {
                    label: format!("current: {}", m.config().describe()),
                    model: m.clone(),
                });
            }
        }
        for s in &shared.session_models {
            if s.model.classes() == 0 && !out.iter().any(|l| l.model.id() == s.model.id()) {
                out.push(Listed {
                    label: s.label.clone(),
                    model: s.model.clone(),
                });
            }
        }
        out
    }

    /// The model the side-by-side view decodes with: the chosen one, else the current model
    /// unless its code is narrower than 8, else the widest of the session.
    pub fn focus_model(&self, shared: &Shared) -> Option<Listed> {
        let models = Self::models(shared);
        if let Some(id) = self.focus {
            if let Some(l) = models.iter().find(|l| l.model.id() == id) {
                return Some(l.clone());
            }
        }
        if let Some(m) = shared.model() {
            if m.latent() >= 8 {
                return models.into_iter().find(|l| l.model.id() == m.id());
            }
        }
        models.into_iter().max_by_key(|l| l.model.latent())
    }

    /// The dataset measured for `target` (`None`: no other dataset opened).
    pub fn target_data(&self, shared: &Shared, target: Target) -> Option<Arc<Dataset>> {
        match target {
            Target::Home => Some(shared.data.clone()),
            Target::Other => self.other.clone(),
        }
    }

    /// The measured points of PCA, JPEG and PNG on `target`.
    pub fn baseline_points(&self, shared: &Shared, target: Target) -> Option<Arc<Vec<RdPoint>>> {
        let pca = shared.pca.as_ref()?.id();
        let data = self.target_data(shared, target)?;
        self.baseline.get(&(pca, data.id())).cloned()
    }

    /// Each model's measured points on `target`, with its label.
    pub fn model_points(
        &self,
        shared: &Shared,
        target: Target,
    ) -> Vec<(Listed, Arc<Vec<RdPoint>>)> {
        let Some(data) = self.target_data(shared, target) else {
            return Vec::new();
        };
        Self::models(shared)
            .into_iter()
            .filter_map(|l| {
                let p = self.model_points.get(&(l.model.id(), data.id()))?.clone();
                Some((l, p))
            })
            .collect()
    }

    /// Every measured point on `target`: the models', PCA's, JPEG's and PNG's.
    pub fn all_points(&self, shared: &Shared, target: Target) -> Vec<RdPoint> {
        let mut v: Vec<RdPoint> = self
            .model_points(shared, target)
            .iter()
            .flat_map(|(_, p)| p.iter().copied())
            .collect();
        if let Some(b) = self.baseline_points(shared, target) {
            v.extend(b.iter().copied());
        }
        v
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        self.update(shared);
        widgets::repaint_while(ui, self.working());
        ui.horizontal_wrapped(|ui| {
            ui.heading("Compression: the autoencoder as a lossy codec");
        });
        widgets::help_note(
            ui,
            "compression-help",
            "An autoencoder's code can be sent instead of the image: quantise each of its k \
             numbers to b bits (uniform steps between the smallest and largest value seen on \
             the training images) and an image costs k·b/8 bytes; the receiver dequantises and \
             runs the decoder. PCA's k coefficients are sent the same way. JPEG is measured by \
             encoding each 28×28 grey image at qualities 1–95 and counting the whole file \
             (headers and tables included, which sets its smallest size: the side-by-side view \
             measures them); PNG, lossless, \
             is the vertical line. PSNR is 10·log10(1/MSE) over the measured images: higher is \
             better. Hover a point for its settings.",
        );
        if shared.pca.is_none() {
            widgets::busy_line(ui, "Fitting PCA on the training images…");
            return;
        }
        egui::ScrollArea::vertical()
            .id_salt("compression-scroll")
            .show(ui, |ui| {
                self.header_ui(ui, shared);
                if let Some(e) = &self.error {
                    ui.colored_label(ui.visuals().error_fg_color, e);
                }
                ui.columns(2, |cols| {
                    self.plot_ui(&mut cols[0], shared, Target::Home);
                    self.plot_ui(&mut cols[1], shared, Target::Other);
                });
                ui.add_space(6.0);
                self.budget_ui(ui, shared);
            });
    }

    /// The weights' note, progress, and the buttons.
    fn header_ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        let n_images = shared.data.train.len() + shared.data.test.len();
        if let Some(f) = self.focus_model(shared) {
            match codec::decoder_bytes(&f.model) {
                None => ui.label(
                    "The decoder's weights are shared by every image, but this model is an \
                     imported graph run for inference only: its size is not counted here.",
                ),
                Some(dec) => ui.label(format!(
                "The decoder's weights ({} bytes for {}) are shared by every image: sent once, \
                 they cost {:.0} bytes per image over this dataset's {} images, and nothing \
                 more per image however many follow. They are not in the counts below.",
                widgets::thousands(dec as f64),
                f.model.config().describe(),
                dec as f64 / n_images.max(1) as f64,
                widgets::thousands(n_images as f64),
            )),
            };
        }
        ui.horizontal_wrapped(|ui| {
            if let Some((_, run)) = &self.run {
                let (done, total) = run.progress();
                ui.add(
                    egui::ProgressBar::new(done as f32 / total.max(1) as f32)
                        .desired_width(220.0)
                        .text(format!("measuring {done}/{total} settings")),
                );
            }
            let loading = self.other_job.is_some() || self.dialog.is_some();
            if ui
                .add_enabled(!loading, egui::Button::new("Open another dataset…"))
                .on_hover_text(
                    "A folder of IDX files (e.g. Fashion-MNIST): the same codecs, fitted on \
                     this dataset, measured on images they were not trained on.",
                )
                .clicked()
            {
                self.open_other(shared);
            }
            if loading {
                ui.spinner();
            }
            if ui
                .button("Save points as CSV…")
                .on_hover_text("dataset, method, k, bits, quality, bytes per image, MSE, PSNR")
                .clicked()
            {
                self.save_csv(shared);
            }
        });
    }

    /// Starts and collects background work.
    fn update(&mut self, shared: &mut Shared) {
        let done = self
            .run
            .as_ref()
            .and_then(|(key, run)| run.poll().map(|r| (*key, r)));
        if let Some((key, r)) = done {
            self.run = None;
            match r {
                Ok(m) => {
                    for (model, home, ranges, points) in m.models {
                        if let Some(r) = ranges {
                            self.ranges.insert((model, home), r);
                        }
                        self.model_points
                            .insert((model, m.target), Arc::new(points));
                    }
                    for e in m.errors {
                        shared.notify(Level::Error, format!("Cannot measure {e}"));
                    }
                    if let Some(b) = m.baseline {
                        self.baseline.insert((m.pca, m.target), Arc::new(b));
                    }
                }
                Err(e) => {
                    // Not retried every frame: the methods that failed stay without points.
                    self.error = Some(format!("Cannot measure: {e}"));
                    self.baseline.entry(key).or_default();
                }
            }
        }
        if let Some(paths) = jobs::take_done(&mut self.dialog) {
            if let Some(p) = paths.into_iter().next() {
                self.load_other(p, shared);
            }
        }
        if let Some(r) = jobs::take_done(&mut self.other_job) {
            match r {
                Ok(d) => {
                    self.other = Some(Arc::new(d));
                    self.budget_target = Target::Other;
                }
                Err(e) => shared.notify(Level::Error, e),
            }
        }
        if let Some(paths) = jobs::take_done(&mut self.csv_dialog) {
            if let Some(p) = paths.into_iter().next() {
                self.write_csv(&p, shared);
            }
        }
        if self.run.is_none() {
            for target in [Target::Home, Target::Other] {
                if self.start(shared, target) {
                    break;
                }
            }
        }
        self.update_budget(shared);
    }

    /// Starts measuring what is missing on `target`; false when nothing is.
    fn start(&mut self, shared: &Shared, target: Target) -> bool {
        let (Some(pca), Some(data)) = (shared.pca.clone(), self.target_data(shared, target)) else {
            return false;
        };
        let home = shared.data.clone();
        let (tid, hid, pid) = (data.id(), home.id(), pca.id());
        let models: Vec<(Arc<TrainedModel>, Option<Arc<CodeRanges>>)> = Self::models(shared)
            .into_iter()
            .filter(|l| !self.model_points.contains_key(&(l.model.id(), tid)))
            .map(|l| {
                let r = self.ranges.get(&(l.model.id(), hid)).cloned();
                (l.model, r)
            })
            .collect();
        let need_baseline = !self.baseline.contains_key(&(pid, tid));
        if models.is_empty() && !need_baseline {
            return false;
        }
        let steps = models.len() * (codec::BITS.len() + 1)
            + if need_baseline {
                codec::PCA_KS.len() + codec::JPEG_QUALITIES.len()
            } else {
                0
            };
        let ctx = shared.egui.clone();
        let run = Task::spawn_controlled(
            "compression",
            steps,
            Some(crate::app::jobs::repaint(&ctx)),
            move |control| {
                measure(&home, &data, &pca, models, need_baseline, control)
                    .map_err(|e| e.to_string())
            },
        );
        self.run = Some(((pid, tid), run));
        true
    }

    /// Asks for another dataset folder (tests answer through `shared.dialog_override`).
    pub fn open_other(&mut self, shared: &mut Shared) {
        match shared.dialog_override.clone() {
            Some(p) => self.load_other(p, shared),
            None => {
                self.dialog = Some(jobs::file_dialog(DialogKind::OpenDataset, &shared.egui, ""))
            }
        }
    }

    fn load_other(&mut self, dir: PathBuf, shared: &Shared) {
        self.other_job = Some(crate::app::jobs::spawn(
            "compression-data",
            &shared.egui,
            move || {
                Dataset::load(&DatasetSource::Dir(dir.clone()))
                    .map_err(|e| format!("Cannot open {} as a dataset: {e}", dir.display()))
            },
        ));
    }

    fn save_csv(&mut self, shared: &mut Shared) {
        match shared.dialog_override.clone() {
            Some(p) => self.write_csv(&p, shared),
            None => {
                self.csv_dialog = Some(jobs::file_dialog(
                    DialogKind::SaveCsv,
                    &shared.egui,
                    "compression.csv",
                ))
            }
        }
    }

    /// The CSV of every point measured on both datasets.
    pub fn csv(&self, shared: &Shared) -> String {
        let mut rows: Vec<(String, Vec<RdPoint>)> = Vec::new();
        for t in [Target::Home, Target::Other] {
            if let Some(d) = self.target_data(shared, t) {
                rows.push((d.name.clone(), self.all_points(shared, t)));
            }
        }
        let refs: Vec<(&str, &[RdPoint])> =
            rows.iter().map(|(n, p)| (n.as_str(), &p[..])).collect();
        codec::points_csv(&refs)
    }

    fn write_csv(&mut self, path: &std::path::Path, shared: &mut Shared) {
        match crate::model::io::write_atomic(path, self.csv(shared).as_bytes()) {
            Ok(()) => shared.notify(Level::Info, format!("Saved {}", path.display())),
            Err(e) => shared.notify(Level::Error, format!("Cannot save the CSV: {e}")),
        }
    }
}

/// The slow part, on a background thread: each model's ranges (from its codes of the home
/// training images, unless known) and points, and PCA's, JPEG's and PNG's points if asked, on
/// the first [`SUBSET`] test images of `data`.
fn measure(
    home: &Dataset,
    data: &Dataset,
    pca: &Pca,
    models: Vec<(Arc<TrainedModel>, Option<Arc<CodeRanges>>)>,
    need_baseline: bool,
    control: &crate::tasks::RunControl,
) -> Result<Measured, codec::CodecError> {
    let test = data.test.take(SUBSET);
    let mut out = Measured {
        target: data.id(),
        pca: pca.id(),
        models: Vec::new(),
        baseline: None,
        errors: Vec::new(),
    };
    for (model, ranges) in models {
        // A model that cannot run is listed with no points (and its error), so the others are
        // still measured and it is not retried every frame.
        match model_points(home, &test.images, &model, ranges, control) {
            Ok((ranges, points)) => out
                .models
                .push((model.id(), home.id(), Some(ranges), points)),
            Err(codec::CodecError::Cancelled) => return Err(codec::CodecError::Cancelled),
            Err(e) => {
                out.errors
                    .push(format!("{}: {e}", model.config().describe()));
                out.models.push((model.id(), home.id(), None, Vec::new()));
            }
        }
    }
    if need_baseline {
        let mut b = codec::pca_points(
            pca,
            &home.train.images,
            &test.images,
            &codec::PCA_KS,
            &codec::BITS,
            Some(control),
        )?;
        b.extend(codec::jpeg_points(
            &test.images,
            &codec::JPEG_QUALITIES,
            Some(control),
        )?);
        b.push(codec::png_point(&test.images)?);
        out.baseline = Some(b);
    }
    Ok(out)
}

/// One model's ranges (fitted on the home training images unless given) and its points.
fn model_points(
    home: &Dataset,
    images: &[f32],
    model: &TrainedModel,
    ranges: Option<Arc<CodeRanges>>,
    control: &crate::tasks::RunControl,
) -> Result<(Arc<CodeRanges>, Vec<RdPoint>), codec::CodecError> {
    let ranges = match ranges {
        Some(r) => r,
        None => Arc::new(CodeRanges::fit(
            &model.encode(&home.train.images)?,
            model.latent(),
        )?),
    };
    control.step();
    let points = codec::autoencoder_points(model, &ranges, images, &codec::BITS, Some(control))?;
    Ok((ranges, points))
}
