//! The Generate panel: what a conditional VAE (and a plain VAE's prior) draws. A style comes
//! from a test image, a digit drawn on the canvas or a dropped picture (its class chosen by the
//! user, the pixel probe's guess preselected); the panel decodes that style as every class
//! ("your 3, written as every digit"), as a style × class grid (the M2 analogy figure), across
//! a plane of two style dimensions with one slider per dimension, and shows prior samples per
//! class (or a plain VAE's prior samples). The recognition rate (the linear probe on pixels,
//! trained on the data set's own labels) and the style-kept measure are computed live and say
//! what they were measured on. A model that does not generate gets a sentence and a button
//! that sets up a conditional VAE.
//!
//! The experiments are `analysis::generate`'s. This module owns the panel's state, its view
//! switch and the background work (the probe, the held-out measure); `source` the style
//! source and its class, `views` the four views, `export` the PNG and CSV export.

mod export;
mod source;
mod views;

use std::path::PathBuf;
use std::sync::Arc;

use egui::TextureHandle;

use crate::analysis::generate::{self, Generator, PixelProbe, StyleReport};
use crate::app::jobs::{self, Picture, Task};
use crate::app::widgets;
use crate::app::widgets::canvas::Canvas;
use crate::app::Shared;
use crate::data::Dataset;
use crate::id::Id;
use crate::model::{TrainConfig, TrainedModel, Variant};
use crate::tasks::Keyed;

pub use source::Source;

pub use crate::analysis::generate::HELD_OUT_PER_CLASS;
/// Prior samples per class (columns), and a plain VAE's samples (8 × 8).
pub const PRIOR_COLUMNS: usize = 8;
/// Rows of the style plane (and columns).
pub const PLANE_SIDE: usize = 9;
/// How far the plane reaches, in units of the prior's σ.
pub const PLANE_EXTENT: f32 = 2.5;
/// At most this many style rows in the grid.
pub const MAX_GRID_ROWS: usize = 12;

const HELP: &str = "A conditional VAE is given the class twice: beside the pixels going into \
the encoder, and beside the code going into the decoder. The label already says which digit it \
is, so the code z is free to hold what the label does not say: the style (slant, thickness, \
width). Encode your digit with its class to get its style z, then decode that z with every \
class: the same hand writes every digit. Recognised: a linear probe (softmax regression) on the \
raw pixels, trained on this data set's own training labels, says which class it sees in each \
generated image; the rate is how often it sees the class that was asked for. Style kept: each \
generated image is encoded again with its class; if the style survived, its z lands nearer its \
own source's z than the other sources' z. Prior samples decode z ~ N(0, I) with a chosen label.";

/// The panel's four views.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum View {
    /// One style decoded as every class, large.
    #[default]
    EveryClass,
    /// Several styles (rows) × every class (columns).
    Grid,
    /// One class decoded across two style dimensions, and a slider per dimension.
    Plane,
    /// z ~ N(0, I) decoded with every label (a plain VAE: as is).
    Prior,
}

impl View {
    pub const ALL: [View; 4] = [View::EveryClass, View::Grid, View::Plane, View::Prior];

    /// The spelling in a lesson file (`[view] generate = "…"`).
    pub fn name(self) -> &'static str {
        match self {
            View::EveryClass => "every_class",
            View::Grid => "grid",
            View::Plane => "plane",
            View::Prior => "prior",
        }
    }

    pub fn parse(s: &str) -> Option<View> {
        Self::ALL.into_iter().find(|v| v.name() == s.trim())
    }

    pub fn label(self) -> &'static str {
        match self {
            View::EveryClass => "Every class",
            View::Grid => "Style × class grid",
            View::Plane => "Style plane",
            View::Prior => "Prior samples",
        }
    }
}

/// Images the panel shows (and exports), with what they were made from.
pub struct Shown {
    /// What they depend on (model, data, source, class, view settings).
    pub key: String,
    /// The generated images, rows of 784, in display order.
    pub images: Vec<f32>,
    /// The class each was asked to be (empty for a plain VAE's prior samples).
    pub asked: Vec<u8>,
    /// The view as one picture (the grid's with its sources in the first column).
    pub png: egui::ColorImage,
    pub tex: TextureHandle,
    /// One texture per image (the every-class view draws them one by one).
    pub tiles: Vec<TextureHandle>,
    /// The class the pixel probe sees in each image, judged once when the probe is ready.
    pub seen: Option<Vec<u8>>,
    /// The grid's style measure over its rows (two or more sources), measured when it was made.
    pub kept: Option<generate::StyleKept>,
}

impl Shown {
    /// The class the probe sees in each image (judged on the first call with a probe).
    pub fn seen(&mut self, probe: Option<&PixelProbe>) -> Option<&[u8]> {
        if self.seen.is_none() {
            self.seen = probe.map(|p| p.predict(&self.images));
        }
        self.seen.as_deref()
    }
}

pub struct GeneratePanel {
    pub view: View,
    pub source: Source,
    /// The user's class for the style source (`None`: its label, or the probe's guess).
    pub class_choice: Option<u8>,
    pub canvas: Canvas,
    /// The preprocessed drawing, by canvas version.
    drawing: Option<(u64, Vec<f32>)>,
    /// The user's picture (dropped or opened), preprocessed.
    pub picture: Option<Picture>,
    picture_job: Option<Task<Result<Picture, String>>>,
    open_dialog: Option<Task<Vec<PathBuf>>>,
    /// Extra grid rows the user added: (name, pixels, class).
    pub grid_rows: Vec<(String, Vec<f32>, u8)>,
    /// The plane's class and its two style dimensions.
    pub plane_class: u8,
    pub plane_dims: (usize, usize),
    /// The sliders' code, and the (model, source) it was started from.
    pub sliders: Vec<f32>,
    sliders_from: Option<String>,
    slider_tex: Option<(String, TextureHandle)>,
    source_tex: Option<(String, TextureHandle)>,
    prior_seed: u64,
    probe: Keyed<Id, Arc<PixelProbe>>,
    held_out: Keyed<(Id, Id), StyleReport>,
    shown: Option<Shown>,
    /// Why the last generation failed.
    pub message: Option<String>,
    export: export::Export,
    /// A lesson step hides the measured lines (`hide = ["measures"]`) until its question is
    /// answered.
    hide_measures: bool,
}

impl Default for GeneratePanel {
    fn default() -> Self {
        Self::new()
    }
}

impl GeneratePanel {
    pub fn new() -> Self {
        Self {
            view: View::default(),
            source: Source::Test(0),
            class_choice: None,
            canvas: Canvas::default(),
            drawing: None,
            picture: None,
            picture_job: None,
            open_dialog: None,
            grid_rows: Vec::new(),
            plane_class: 0,
            plane_dims: (0, 1),
            sliders: Vec::new(),
            sliders_from: None,
            slider_tex: None,
            source_tex: None,
            prior_seed: 1,
            probe: Keyed::new(),
            held_out: Keyed::new(),
            shown: None,
            message: None,
            hide_measures: false,
            export: export::Export::default(),
        }
    }

    /// Background work in flight (the probe, the held-out measure, a picture, an export).
    pub fn working(&self) -> bool {
        self.probe.is_running()
            || self.held_out.is_running()
            || self.picture_job.is_some()
            || self.export.busy()
    }

    /// The images shown now (for tests and the export).
    pub fn shown(&self) -> Option<&Shown> {
        self.shown.as_ref()
    }

    /// The last pixel probe trained (for tests: what judged the images shown).
    pub fn judge(&self) -> Option<&Arc<PixelProbe>> {
        self.probe.latest().map(|(_, p)| p)
    }

    /// The last held-out measure (what the line atop the views says).
    pub fn held_out_report(&self) -> Option<&StyleReport> {
        self.held_out.latest().map(|(_, r)| r)
    }

    /// The pixel probe for `data`, trained in the background the first time.
    fn probe(&mut self, data: &Arc<Dataset>, ctx: &egui::Context) -> Option<Arc<PixelProbe>> {
        let d = data.clone();
        self.probe
            .get_or_start(data.id(), || {
                jobs::spawn("generate-probe", ctx, move || {
                    PixelProbe::train(&d, generate::PROBE_SEED)
                        .map(Arc::new)
                        .map_err(|e| e.to_string())
                })
            })
            .cloned()
    }

    /// The held-out measure for (model, data), once the probe is ready.
    fn held_out(
        &mut self,
        model: &Arc<TrainedModel>,
        data: &Arc<Dataset>,
        probe: Option<Arc<PixelProbe>>,
        ctx: &egui::Context,
    ) -> Option<&StyleReport> {
        let probe = probe?;
        let (m, d) = (model.clone(), data.clone());
        self.held_out.get_or_start((model.id(), data.id()), || {
            jobs::spawn("generate-measure", ctx, move || {
                generate::measure_held_out(&m, &probe, &d, HELD_OUT_PER_CLASS)
                    .map_err(|e| e.to_string())
            })
        })
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        self.hide_measures = shared
            .hidden_controls
            .contains(&crate::app::lessons::Control::Measures);
        self.poll_pictures(shared);
        self.export.poll(shared);
        let data = shared.data.clone();
        let ctx = ui.ctx().clone();
        let probe = self.probe(&data, &ctx);
        widgets::repaint_while(ui, self.working());
        let Some(model) = shared.model().cloned() else {
            ui.label("No model yet: train one, or pick a built-in model (Models).");
            return;
        };
        let kind = match Generator::of(&model) {
            Ok(k) => k,
            Err(e) => {
                self.not_generative(ui, shared, &e.to_string());
                return;
            }
        };
        ui.horizontal_wrapped(|ui| {
            for v in View::ALL {
                let enabled = kind != Generator::Prior || v == View::Prior;
                let r =
                    ui.add_enabled(enabled, egui::Button::selectable(self.view == v, v.label()));
                if r.clicked() {
                    self.view = v;
                }
            }
            ui.separator();
            self.export.buttons(ui, shared, self.shown.as_ref(), &data);
        });
        if kind == Generator::Prior {
            self.view = View::Prior;
            ui.weak(
                "A plain VAE samples from its prior; to write a chosen style as every class \
                 train a conditional VAE (variant cvae).",
            );
        }
        widgets::help_note(ui, "generate-help", HELP);
        if let Some(m) = &self.message {
            ui.colored_label(ui.visuals().error_fg_color, m);
        }
        match (self.view, kind) {
            (View::Prior, _) => self.prior_view(ui, &model, &data, kind, probe.as_deref()),
            (_, Generator::Conditional(classes)) => {
                let held = self.held_out(&model, &data, probe.clone(), &ctx).cloned();
                let err = self.held_out.error(&(model.id(), data.id())).cloned();
                if !self.hide_measures {
                    held_out_line(ui, held.as_ref(), err.as_deref(), &data, classes);
                }
                ui.add_space(4.0);
                match self.view {
                    View::EveryClass => {
                        self.every_class_view(ui, shared, &model, classes, probe.as_deref())
                    }
                    View::Grid => self.grid_view(ui, &model, &data, classes, probe.as_deref()),
                    _ => self.plane_view(ui, shared, &model, classes, probe.as_deref()),
                }
            }
            (_, Generator::Prior) => {}
        }
    }

    /// What to train when the model does not generate.
    fn not_generative(&mut self, ui: &mut egui::Ui, shared: &mut Shared, why: &str) {
        ui.heading("Generate");
        ui.label(why);
        ui.add_space(6.0);
        ui.horizontal_wrapped(|ui| {
            if let Some(b) = crate::model::bundled::find("cvae-4d") {
                if ui
                    .button("Use the built-in conditional VAE")
                    .on_hover_text(format!("{} (trained on the built-in digits).", b.title))
                    .clicked()
                {
                    crate::app::adopt_bundled(shared, b);
                }
            }
            let r = ui
                .button("Set up a conditional VAE (k = 4)")
                .on_hover_text("Puts the conditional VAE's preset in the settings form.");
            if r.clicked() {
                let seed = shared.settings.train.seed;
                let mut c = TrainConfig::preset(Variant::Cvae, 4);
                c.seed = seed;
                shared.settings.train = c;
            }
            if shared.settings.train.variant == Variant::Cvae && ui.button("Train it").clicked() {
                if let Err(e) = shared.start_training() {
                    self.message = Some(e);
                }
            }
        });
        ui.weak(
            "Setting one up puts its preset in the settings form (Train it, or Start on the Train \
             panel). A VAE (variant vae) samples from its prior here too.",
        );
    }
}

/// The held-out measure, labelled with what it was measured on.
fn held_out_line(
    ui: &mut egui::Ui,
    r: Option<&StyleReport>,
    err: Option<&str>,
    data: &Dataset,
    classes: usize,
) {
    let what = format!(
        "the first {HELD_OUT_PER_CLASS} test images of each class of {} ({} held-out digits), \
         each written as all {classes} classes",
        data.name,
        HELD_OUT_PER_CLASS * classes
    );
    match (r, err) {
        (_, Some(e)) => {
            ui.colored_label(ui.visuals().error_fg_color, format!("Measure: {e}"));
        }
        (Some(r), _) => {
            let resp = ui.label(
                egui::RichText::new(format!(
                    "Measured on {what}: recognised as the class asked for {:.1} %; style kept: \
                     {:.1} % land nearest their own source (chance {:.1} %), nearer it than \
                     another source for {:.1} % of pairs.",
                    100.0 * r.recognition,
                    100.0 * r.style.nearest_own,
                    100.0 / r.style.sources.max(1) as f64,
                    100.0 * r.style.nearer_than_other
                ))
                .small(),
            );
            resp.on_hover_text(format!("Judged by {}. {}.", r.judge, r.style.describe()));
        }
        _ => widgets::busy_line(ui, format!("Measuring {what}…")),
    }
}
