//! The Latent space panel: every image of a split as a point of the model's latent space,
//! coloured by class, with a legend that toggles classes, hover previews, click-to-decode, the
//! live "manifold" of decoded images under the points, samples from a VAE's prior, the
//! timeline of finished epochs, and the user's own pictures placed on the map. While two
//! variants are compared, each run's map is drawn in its own [`MapPane`], side by side.
//!
//! - `map`: [`LatentMap`] and [`MapSource`] (preparing a map off the UI thread), also used by
//!   the Interpolate panel;
//! - `pane`: one run's map (scatter, manifold, hover preview, its reconstruction);
//! - `controls`: the row of controls, the timeline and the user's pictures;
//! - `side`: the side column (legend, selected image, decoded point, picture, prior samples);
//! - `nonlinear`: t-SNE and UMAP maps of a wide code, computed in the background and cached;
//! - `trust_view`: the choice of map, its progress and trust figures, the selected image's
//!   nearest neighbours, and the map's CSV export;
//! - `posterior_view`: a 2-D VAE's posterior ellipses, the prior's circle, posterior samples.

mod controls;
pub mod map;
pub mod nonlinear;
pub mod pane;
pub mod posterior_view;
mod side;
pub mod trust_view;

use std::path::PathBuf;
use std::sync::Arc;

use egui::{Color32, Stroke, TextureHandle};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub use crate::analysis::embed::Method;
pub use crate::analysis::projection::MAX_COMPONENTS;
use crate::analysis::Projection;
use crate::app::jobs::{Picture, Task};
use crate::app::widgets::scatter::{Click, ScatterStyle, ViewTransform};
use crate::app::widgets::{self, draw_diamond, draw_target};
use crate::app::{RunId, Shared, Tab};
use crate::id::Id;
pub use map::{LatentMap, MapRequest, MapSource, SplitChoice};
use pane::{map_title, placeholder, ring, MapPane};
pub use trust_view::{MapView, NeighbourSpace};

/// Samples drawn by "Sample from the prior".
pub const PRIOR_SAMPLES: usize = 16;

/// A point of the map the user clicked, decoded.
pub struct Decoded {
    pub xy: [f32; 2],
    pub code: Vec<f32>,
    pub pixels: Vec<f32>,
    tex: Option<TextureHandle>,
}

/// The point the user clicked (each run's reconstruction of it is in its [`MapPane`]).
pub struct Selected {
    pub index: usize,
    tex_image: Option<TextureHandle>,
}

/// Codes drawn from a VAE's prior N(0, I) (or from one image's posterior), decoded.
pub struct PriorSamples {
    pub z: Vec<f32>,
    pub pixels: Vec<f32>,
    pub xy: Vec<[f32; 2]>,
    tex: Option<TextureHandle>,
    /// The image whose posterior they were drawn from (`None`: the prior).
    pub from: Option<usize>,
}

/// The user's own picture, encoded and placed on the map.
pub struct UserPicture {
    pub picture: Picture,
    pub code: Vec<f32>,
    pub xy: [f32; 2],
    pub recon: Vec<f32>,
    tex_in: Option<TextureHandle>,
    tex_recon: Option<TextureHandle>,
}

pub struct LatentPanel {
    /// Point size factor (larger in presenter mode).
    draw_scale: f32,
    pub split: SplitChoice,
    /// Principal components on the axes (0-based), when k > 2.
    pub comps: (usize, usize),
    /// Classes switched off in the legend.
    pub hidden: Vec<bool>,
    pub show_points: bool,
    pub manifold_on: bool,
    /// Tiles along the shorter side of the plot.
    pub density: usize,
    /// One map per run: A's, and B's beside it while two variants are compared. Only A's map
    /// decodes empty space and carries the decoded point, the prior samples and the picture.
    pub panes: [MapPane; 2],
    /// Index into run A's epoch snapshots being replayed (`None`: the current model).
    pub timeline: Option<usize>,
    pub playing: bool,
    play_clock: f64,
    /// The image selected on either map.
    pub selected: Option<Selected>,
    pub decoded: Option<Decoded>,
    pub prior: Option<PriorSamples>,
    pub picture: Option<UserPicture>,
    /// Why the last picture could not be used.
    pub picture_error: Option<String>,
    picture_job: Option<Task<Result<Picture, String>>>,
    open_dialog: Option<Task<Vec<PathBuf>>>,
    /// A's map the decoded point, samples and picture were last computed with.
    refreshed_for: Option<Id>,
    rng: ChaCha8Rng,
    /// How a wide code is drawn (PCA, t-SNE, UMAP) and the selected image's neighbours.
    pub view: MapView,
    pub posterior: posterior_view::PosteriorView,
}

impl Default for LatentPanel {
    fn default() -> Self {
        Self::new()
    }
}

/// What a map panel shows while it has no map: the preparation's error or progress, the
/// training that will produce a model, or how to get one. Shared by Latent space and Interpolate.
pub fn no_map_status(
    ui: &mut egui::Ui,
    shared: &mut Shared,
    source: &MapSource,
    title: &str,
    when_training: &str,
    no_model: &str,
) {
    ui.heading(title);
    ui.add_space(6.0);
    let run = &shared.a().view;
    if let Some(e) = source.error() {
        ui.colored_label(ui.visuals().error_fg_color, e);
    } else if let Some(b) = source.busy() {
        widgets::busy_line(ui, b);
    } else if run.state != crate::train::worker::RunState::Idle {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label(format!(
                "Training epoch {} of {}: {when_training}.",
                run.epoch, run.epochs
            ));
        });
    } else {
        ui.label(no_model);
        if ui.button("Go to Train").clicked() {
            shared.switch_to = Some(Tab::Train);
        }
    }
}

impl LatentPanel {
    pub fn new() -> Self {
        Self {
            draw_scale: 1.0,
            split: SplitChoice::Test,
            comps: (0, 1),
            hidden: Vec::new(),
            show_points: true,
            manifold_on: false,
            density: 15,
            panes: [MapPane::new(RunId::A), MapPane::new(RunId::B)],
            timeline: None,
            playing: false,
            play_clock: 0.0,
            selected: None,
            decoded: None,
            prior: None,
            picture: None,
            picture_error: None,
            picture_job: None,
            open_dialog: None,
            refreshed_for: None,
            rng: ChaCha8Rng::seed_from_u64(7),
            view: MapView::new(),
            posterior: Default::default(),
        }
    }

    /// Run A's map, drawn now.
    pub fn map(&self) -> Option<&Arc<LatentMap>> {
        self.panes[0].map()
    }

    /// Run `id`'s map pane.
    pub fn pane(&self, id: RunId) -> &MapPane {
        &self.panes[id.index()]
    }

    /// True while a user's picture is being read.
    pub fn picture_pending(&self) -> bool {
        self.picture_job.is_some()
    }

    /// Columns and rows of the manifold tiles drawn on A's map now, if any.
    pub fn manifold_size(&self) -> Option<(usize, usize)> {
        self.panes[0].manifold_size()
    }

    /// True while a background job of this panel is still computing (headless renders wait).
    pub fn working(&self) -> bool {
        self.panes.iter().any(|p| p.working()) || self.picture_job.is_some() || self.view.working()
    }

    /// The maps the shown runs need: each run's snapshot at the epoch the timeline shows (its
    /// latest one at or before that epoch of run A's), or its current model.
    fn requests(&self, shared: &Shared) -> [Option<MapRequest>; 2] {
        let epoch = self
            .timeline
            .and_then(|i| shared.a().epoch_snapshots.get(i))
            .map(|s| s.epoch);
        let runs = shared.shown_runs();
        std::array::from_fn(|i| {
            let snap = runs.get(i)?.snapshot_at(epoch)?;
            Some(MapRequest::of(snap, &shared.data, self.split, self.comps))
        })
    }

    /// Asks every pane to fit its view to the next map (the split or the axes changed).
    fn fit_next_maps(&mut self) {
        for p in &mut self.panes {
            p.fit_next_map = true;
        }
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        self.draw_scale = shared.draw_scale();
        let ctx = ui.ctx().clone();
        self.poll_pictures(shared);
        if self
            .timeline
            .is_some_and(|i| i >= shared.a().epoch_snapshots.len())
        {
            self.timeline = None;
            self.playing = false;
        }
        self.advance_playback(ui, shared);
        let requests = self.requests(shared);
        let comparing = requests[1].is_some();
        for (pane, req) in self.panes.iter_mut().zip(requests) {
            if pane.source.update(req, &ctx) {
                pane.install();
            }
            pane.update_method(self.view.method, &ctx);
        }
        let Some(map) = self.map().cloned() else {
            self.no_map(ui, shared);
            return;
        };
        if self.refreshed_for != Some(map.points.id) {
            self.refresh(&map);
        }
        let classes = shared.data.num_classes().max(map.data.num_classes());
        if self.hidden.len() != classes {
            self.hidden.resize(classes, false);
        }

        let wanted = (self.split, self.comps, self.timeline, self.view.method);
        self.controls(ui, shared, &map);
        self.method_row(ui, shared, &map);
        self.refresh_highlight(&map);
        if !shared.a().epoch_snapshots.is_empty() {
            self.timeline_row(ui, shared);
        }
        self.status(ui, &map);

        let bmap = self.panes[1].map().cloned().filter(|_| comparing);
        self.refresh_recons();
        let side_w = if comparing { 230.0 } else { 270.0f32 }.min(ui.available_width() * 0.4);
        let plot_w = (ui.available_width() - side_w - 12.0).max(120.0);
        let plot_h = (ui.available_height() - 4.0).max(160.0);
        ui.horizontal_top(|ui| {
            if comparing {
                // A's and B's maps side by side, each under its title.
                let each = ((plot_w - 8.0) / 2.0).max(100.0);
                let b_name = shared.comparison().map_or("?", |b| b.variant_name());
                ui.vertical(|ui| {
                    ui.set_width(each);
                    map_title(ui, "A", &map, None);
                    let h = (ui.available_height() - 4.0).max(140.0);
                    self.plot(ui, RunId::A, &map, egui::vec2(each, h));
                });
                ui.vertical(|ui| {
                    ui.set_width(each);
                    let pane = &self.panes[1];
                    match &bmap {
                        Some(b) => {
                            map_title(ui, "B", b, pane.source.busy());
                            for e in [b.note.as_deref(), pane.error.as_deref()]
                                .into_iter()
                                .flatten()
                            {
                                ui.colored_label(ui.visuals().warn_fg_color, e);
                            }
                            let h = (ui.available_height() - 4.0).max(140.0);
                            self.plot(ui, RunId::B, b, egui::vec2(each, h));
                        }
                        None => {
                            ui.strong(format!("B: {b_name}"));
                            let h = (ui.available_height() - 4.0).max(140.0);
                            let msg = pane.source.error().map_or_else(
                                || "Preparing B's map…".to_string(),
                                |e| e.to_string(),
                            );
                            placeholder(ui, egui::vec2(each, h), &msg);
                        }
                    }
                });
            } else {
                self.plot(ui, RunId::A, &map, egui::vec2(plot_w, plot_h));
            }
            ui.vertical(|ui| {
                ui.set_width(side_w);
                egui::ScrollArea::vertical()
                    .id_salt("latent-side")
                    .max_height(plot_h)
                    .show(ui, |ui| self.side(ui, &map, bmap.as_ref()));
            });
        });
        if wanted != (self.split, self.comps, self.timeline, self.view.method) {
            // Another map is wanted: start preparing it without waiting for an event.
            ctx.request_repaint();
        }
    }

    fn no_map(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        no_map_status(
            ui,
            shared,
            &self.panes[0].source,
            "Latent space",
            "the map appears when the first epoch ends",
            "No model yet. Train one in the Train tab (a dense autoencoder with a 2-value code gives \
             the clearest map) or load a saved model; its latent space appears here after the first \
             epoch.",
        );
        // Pictures dropped before there is a model cannot be placed.
        if !shared.dropped_files.is_empty() {
            shared.dropped_files.clear();
            self.picture_error =
                Some("Train or load a model first: then drop a picture to place it.".into());
        }
        if let Some(e) = &self.picture_error {
            ui.colored_label(ui.visuals().warn_fg_color, e);
        }
    }

    /// Keeps every shown run's reconstruction of the selected image current.
    fn refresh_recons(&mut self) {
        let selected = self.selected.as_ref().map(|s| s.index);
        for p in &mut self.panes {
            p.refresh_recon(selected);
        }
    }

    /// Recomputes what was derived from A's model after its map changed: the selection (kept
    /// while its index exists), the decoded point, the prior samples and the picture.
    fn refresh(&mut self, map: &Arc<LatentMap>) {
        self.refreshed_for = Some(map.points.id);
        if let Some(s) = &mut self.selected {
            if s.index < map.split_data().len() {
                s.tex_image = None;
            } else {
                self.selected = None;
            }
        }
        if let Some(d) = &self.decoded {
            let xy = d.xy;
            self.decode_at(map, xy);
        }
        if let Some(p) = &mut self.prior {
            if p.z.len() == PRIOR_SAMPLES * map.k && map.is_vae() {
                match map.decode(&p.z) {
                    Ok(px) => {
                        p.pixels = px;
                        p.xy = map.projection.project_all(&p.z);
                        p.tex = None;
                    }
                    Err(e) => self.panes[0].error = Some(e),
                }
            } else {
                self.prior = None;
            }
        }
        if let Some(u) = self.picture.take() {
            self.place_picture(map, u.picture);
        }
    }

    /// Decodes the map location `xy` (through the inverse projection).
    pub fn decode_at(&mut self, map: &LatentMap, xy: [f32; 2]) {
        let code = map.projection.inverse(xy);
        match map.decode(&code) {
            Ok(pixels) => {
                self.decoded = Some(Decoded {
                    xy,
                    code,
                    pixels,
                    tex: None,
                })
            }
            Err(e) => self.panes[0].error = Some(e),
        }
    }

    /// Selects image `index` of the maps' split; every shown run reconstructs it.
    pub fn select(&mut self, index: usize) {
        self.selected = Some(Selected {
            index,
            tex_image: None,
        });
        self.refresh_recons();
    }
    fn place_picture(&mut self, map: &LatentMap, picture: Picture) {
        let placed = map.model.encode(&picture.pixels).and_then(|code| {
            let recon = map.model.reconstruct(&picture.pixels)?;
            Ok((code, recon))
        });
        match placed {
            Ok((code, recon)) => {
                let xy = map.projection.project(&code);
                self.picture = Some(UserPicture {
                    picture,
                    code,
                    xy,
                    recon,
                    tex_in: None,
                    tex_recon: None,
                });
            }
            Err(e) => self.picture_error = Some(format!("Cannot encode the picture: {e}")),
        }
    }

    /// Draws codes from N(0, I) and decodes them.
    pub fn sample_prior(&mut self, map: &LatentMap) {
        let z: Vec<f32> = (0..PRIOR_SAMPLES * map.k)
            .map(|_| self.rng.sample::<f32, _>(rand_distr::StandardNormal))
            .collect();
        self.show_samples(map, z, None);
    }

    /// Decodes sampled codes `z` and shows them on the map (drawn from image `from`'s
    /// posterior, or from the prior).
    fn show_samples(&mut self, map: &LatentMap, z: Vec<f32>, from: Option<usize>) {
        match map.decode(&z) {
            Ok(pixels) => {
                let xy = map.projection.project_all(&z);
                self.prior = Some(PriorSamples {
                    z,
                    pixels,
                    xy,
                    tex: None,
                    from,
                });
            }
            Err(e) => self.panes[0].error = Some(e),
        }
    }

    fn status(&self, ui: &mut egui::Ui, map: &LatentMap) {
        ui.horizontal_wrapped(|ui| {
            let proj = match (&map.projection, map.projection.explained()) {
                (Projection::Pca { x, y, .. }, Some(r)) => format!(
                    "k = {}, shown on PC{} and PC{} of the codes ({:.1} % + {:.1} % = {:.1} % of \
                     their variance)",
                    map.k,
                    x + 1,
                    y + 1,
                    100.0 * r[*x],
                    100.0 * r[*y],
                    100.0 * (r[*x] + r[*y])
                ),
                (Projection::Map(m), _) => format!(
                    "k = {}, drawn by {} of the codes (nearness kept, distances and axes \
                     meaningless)",
                    map.k,
                    m.method.name()
                ),
                _ if map.k == 1 => "k = 1, drawn along x".into(),
                _ => format!("k = {}, shown as is", map.k),
            };
            ui.label(format!(
                "{} {} images · {} · {} · {proj}",
                widgets::thousands(map.points.len() as f64),
                map.split.name(),
                map.model.config().describe(),
                map.model.epoch_label(map.epoch)
            ));
            if let Some(b) = self.panes[0].source.busy() {
                ui.spinner();
                ui.weak(b);
            }
        });
        if self.panes[1].map().is_some() {
            ui.weak("Scroll to zoom, drag to pan, double-click to fit. Click a point on either map to see that image in both and its two reconstructions; click empty space on A's map to decode it.");
        } else {
            ui.weak("Scroll to zoom, drag to pan, double-click to fit. Click a point to see its reconstruction, or empty space to decode it.");
        }
        for note in [
            map.note.as_deref(),
            self.panes[0].source.error(),
            self.panes[0].error.as_deref(),
        ]
        .into_iter()
        .flatten()
        {
            ui.colored_label(ui.visuals().warn_fg_color, note);
        }
    }

    fn style(&self, map: &LatentMap) -> ScatterStyle {
        let mut style = ScatterStyle::for_count(map.points.len());
        style.radius *= self.draw_scale;
        style.hidden = self.hidden.clone();
        style.show_points = self.show_points;
        if self.manifold_on {
            style.opacity *= 0.8;
        }
        style
    }

    /// Draws run `id`'s map with the markers over it, and handles its clicks: a point selects
    /// that image in both maps; empty space on A's map decodes that place.
    fn plot(&mut self, ui: &mut egui::Ui, id: RunId, map: &Arc<LatentMap>, size: egui::Vec2) {
        let style = self.style(map);
        let manifold = self.manifold_on.then_some(self.density);
        let (mine, other) = match id {
            RunId::A => (0, 1),
            RunId::B => (1, 0),
        };
        let out = self.panes[mine].show(ui, map, size, &style, manifold);
        let xf = out.transform;

        // Markers over the points.
        let painter = ui.painter_at(xf.screen);
        if let Some(s) = &self.selected {
            let strokes = [
                Stroke::new(3.0, Color32::BLACK),
                Stroke::new(2.0, Color32::WHITE),
            ];
            if id == RunId::A {
                self.draw_highlight(&painter, &xf, map, style.radius);
            }
            ring(&painter, &xf, map, s.index, style.radius + 5.0, &strokes);
        }
        // The image hovered on the other map, ringed here too.
        let o = &self.panes[other];
        if let Some(i) = o.hovered.filter(|_| o.map().is_some()) {
            let strokes = [Stroke::new(2.0, ui.visuals().strong_text_color())];
            ring(&painter, &xf, map, i, style.radius + 3.0, &strokes);
        }
        if id == RunId::A {
            self.draw_posteriors(&painter, &xf, map);
            self.markers(&painter, &xf);
        }
        match out.clicked {
            Some(Click::Point(i)) if self.map().is_some_and(|a| i < a.points.len()) => {
                self.select(i)
            }
            Some(Click::Empty(xy)) if id == RunId::A => self.decode_at(map, xy),
            _ => {}
        }
    }

    /// A's markers: the prior samples, the decoded location and the user's picture.
    fn markers(&self, painter: &egui::Painter, xf: &ViewTransform) {
        if let Some(p) = &self.prior {
            for (i, xy) in p.xy.iter().enumerate() {
                let c = xf.to_screen(*xy);
                let r = egui::Rect::from_center_size(c, egui::vec2(8.0, 8.0));
                painter.rect_stroke(
                    r,
                    1.0,
                    Stroke::new(3.0, Color32::BLACK),
                    egui::StrokeKind::Middle,
                );
                painter.rect_stroke(
                    r,
                    1.0,
                    Stroke::new(1.5, Color32::WHITE),
                    egui::StrokeKind::Middle,
                );
                painter.text(
                    c + egui::vec2(6.0, -6.0),
                    egui::Align2::LEFT_BOTTOM,
                    (i + 1).to_string(),
                    egui::FontId::proportional(10.0),
                    Color32::WHITE,
                );
            }
        }
        if let Some(d) = &self.decoded {
            draw_target(painter, xf.to_screen(d.xy), Color32::WHITE);
        }
        if let Some(u) = &self.picture {
            let c = xf.to_screen(u.xy);
            draw_diamond(painter, c, 8.0, Color32::from_rgb(0xFF, 0x40, 0x40));
            painter.text(
                c + egui::vec2(10.0, -8.0),
                egui::Align2::LEFT_BOTTOM,
                "your picture",
                egui::FontId::proportional(12.0),
                Color32::WHITE,
            );
        }
    }
}
