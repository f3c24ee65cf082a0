//! The Interpolate panel: two endpoints A and B (clicked on a small latent map, random members
//! of two chosen classes, or the user's own pictures), the image decoded at a point t of the
//! path between their codes (linear or spherical), a strip of evenly spaced steps, and the
//! plain pixel crossfade of A and B beside it for comparison. The path is drawn on the map;
//! "Animate" sweeps t back and forth.

use std::path::PathBuf;
use std::sync::Arc;

use egui::{Color32, Stroke, TextureHandle};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::app::jobs::{self, load_picture, DialogKind, Picture, PictureSource, Task};
use crate::app::panels::latent::{LatentMap, MapRequest, MapSource, SplitChoice};
use crate::app::widgets;
use crate::app::widgets::draw_target;
use crate::app::widgets::scatter::{Click, Scatter, ScatterStyle};
use crate::app::Shared;
use crate::id::Id;
use crate::PIXELS;

/// How codes between A and B are formed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PathKind {
    /// (1 - t)·a + t·b.
    #[default]
    Linear,
    /// Along the great circle from a to b (slerp).
    Spherical,
}

/// Linear interpolation of two codes.
pub fn lerp(a: &[f32], b: &[f32], t: f32) -> Vec<f32> {
    a.iter().zip(b).map(|(x, y)| x + t * (y - x)).collect()
}

/// Spherical interpolation: sin((1 - t)Ω)/sin Ω · a + sin(tΩ)/sin Ω · b, with Ω the angle
/// between a and b. At t = 0 and 1 it gives a and b; between them it follows the arc, so for
/// codes of equal norm the norm stays constant (a straight line cuts inside). When a or b is
/// (nearly) zero, or they are (nearly) parallel or opposite, the arc is not defined or not
/// stable and this falls back to [`lerp`].
pub fn slerp(a: &[f32], b: &[f32], t: f32) -> Vec<f32> {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    if na < 1e-8 || nb < 1e-8 {
        return lerp(a, b, t);
    }
    let omega = (dot / (na * nb)).clamp(-1.0, 1.0).acos();
    let s = omega.sin();
    if s < 1e-4 {
        return lerp(a, b, t);
    }
    let t = t as f64;
    let wa = ((1.0 - t) * omega).sin() / s;
    let wb = (t * omega).sin() / s;
    a.iter()
        .zip(b)
        .map(|(x, y)| (wa * *x as f64 + wb * *y as f64) as f32)
        .collect()
}

pub fn interpolate(kind: PathKind, a: &[f32], b: &[f32], t: f32) -> Vec<f32> {
    match kind {
        PathKind::Linear => lerp(a, b, t),
        PathKind::Spherical => slerp(a, b, t),
    }
}

/// One end of the path.
pub struct Endpoint {
    /// The 28×28 image (a test image or a preprocessed picture).
    pub pixels: Vec<f32>,
    pub label: String,
    /// The test image it is, if it is one.
    pub test_index: Option<usize>,
    tex: Option<TextureHandle>,
}

impl Endpoint {
    fn new(pixels: Vec<f32>, label: String, test_index: Option<usize>) -> Self {
        Self {
            pixels,
            label,
            test_index,
            tex: None,
        }
    }
}

/// Which endpoint the next click or picture sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    A,
    B,
}

impl Which {
    fn other(self) -> Which {
        match self {
            Which::A => Which::B,
            Which::B => Which::A,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Which::A => "A",
            Which::B => "B",
        }
    }
}

/// The codes of A and B for one map.
struct Codes {
    key: (Id, u64),
    a: Vec<f32>,
    b: Vec<f32>,
}

#[derive(Clone, Debug, PartialEq)]
struct StripKey {
    map: Id,
    endpoints: u64,
    kind: PathKind,
    steps: usize,
}

pub struct InterpolatePanel {
    pub source: MapSource,
    pub scatter: Scatter,
    pub a: Option<Endpoint>,
    pub b: Option<Endpoint>,
    /// Which endpoint the next click on the map (or picture) sets.
    pub target: Which,
    pub class_a: u8,
    pub class_b: u8,
    pub kind: PathKind,
    pub t: f32,
    pub steps: usize,
    pub animate: bool,
    direction: f32,
    /// Bumped whenever A or B changes.
    endpoints_version: u64,
    codes: Option<Codes>,
    /// The image decoded at `t` (what is shown large), and the crossfade at `t`.
    pub shown: Option<Vec<f32>>,
    pub crossfade: Option<Vec<f32>>,
    shown_key: Option<(StripKey, u32)>,
    tex_shown: Option<TextureHandle>,
    tex_fade: Option<TextureHandle>,
    /// The decoded steps (row-major `steps × 784`).
    pub strip: Vec<f32>,
    strip_key: Option<StripKey>,
    tex_strip: Option<TextureHandle>,
    tex_fade_strip: Option<TextureHandle>,
    picture_job: Option<(Which, Task<Result<Picture, String>>)>,
    open_dialog: Option<(Which, Task<Vec<PathBuf>>)>,
    pub message: Option<String>,
    rng: ChaCha8Rng,
}

impl Default for InterpolatePanel {
    fn default() -> Self {
        Self::new()
    }
}

impl InterpolatePanel {
    pub fn new() -> Self {
        Self {
            source: MapSource::default(),
            scatter: Scatter::new(),
            a: None,
            b: None,
            target: Which::A,
            class_a: 2,
            class_b: 7,
            kind: PathKind::Linear,
            t: 0.5,
            steps: 9,
            animate: false,
            direction: 1.0,
            endpoints_version: 0,
            codes: None,
            shown: None,
            crossfade: None,
            shown_key: None,
            tex_shown: None,
            tex_fade: None,
            strip: Vec::new(),
            strip_key: None,
            tex_strip: None,
            tex_fade_strip: None,
            picture_job: None,
            open_dialog: None,
            message: None,
            rng: ChaCha8Rng::seed_from_u64(11),
        }
    }

    pub fn map(&self) -> Option<&Arc<LatentMap>> {
        self.source.map()
    }

    /// True while a picture is being read.
    pub fn picture_pending(&self) -> bool {
        self.picture_job.is_some()
    }

    fn set(&mut self, which: Which, e: Endpoint) {
        match which {
            Which::A => self.a = Some(e),
            Which::B => self.b = Some(e),
        }
        self.endpoints_version += 1;
    }

    /// Sets the endpoint `which` to test image `i` of the map.
    pub fn set_test_image(&mut self, map: &LatentMap, which: Which, i: usize) {
        let split = map.split_data();
        if i >= split.len() {
            return;
        }
        let name = map.data.class_name(split.labels[i]);
        let e = Endpoint::new(
            split.image(i).to_vec(),
            format!("{name} (test #{i})"),
            Some(i),
        );
        self.set(which, e);
    }

    /// Random members of `class_a` and `class_b` (any image when a class has none).
    pub fn random_pair(&mut self, map: &LatentMap) {
        let labels = &map.split_data().labels;
        if labels.is_empty() {
            return;
        }
        for (which, class) in [(Which::A, self.class_a), (Which::B, self.class_b)] {
            let members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
            let i = if members.is_empty() {
                self.rng.random_range(0..labels.len())
            } else {
                members[self.rng.random_range(0..members.len())]
            };
            self.set_test_image(map, which, i);
        }
    }

    /// True while a background job of this panel is still computing (headless renders wait).
    pub fn working(&self) -> bool {
        self.source.busy().is_some() || self.picture_job.is_some()
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        let ctx = ui.ctx().clone();
        let req = shared
            .a()
            .snapshot
            .as_ref()
            .map(|s| MapRequest::of(s, &shared.data, SplitChoice::Test, (0, 1)));
        if self.source.update(req, &ctx) {
            if let Some(m) = self.source.map() {
                self.scatter.set_points(m.points.clone());
            }
        }
        let Some(map) = self.source.map().cloned() else {
            self.no_map(ui, shared);
            return;
        };
        let n_classes = map.data.num_classes().max(1) as u8;
        self.class_a = self.class_a.min(n_classes - 1);
        self.class_b = self.class_b.min(n_classes - 1);
        self.poll_pictures(shared, &map);
        if self.a.is_none() && self.b.is_none() {
            self.random_pair(&map);
        }
        if self.animate {
            let dt = ui.input(|i| i.stable_dt).min(0.1);
            self.t += self.direction * dt * 0.35;
            if self.t >= 1.0 {
                self.t = 1.0;
                self.direction = -1.0;
            } else if self.t <= 0.0 {
                self.t = 0.0;
                self.direction = 1.0;
            }
            ctx.request_repaint();
        }
        self.compute(&map);
        let inputs = (
            self.kind,
            self.t.to_bits(),
            self.steps,
            self.endpoints_version,
        );

        // The map as large as the height allows (below its ~200 px of controls), leaving
        // about half the width to the images.
        let height = ui.available_height();
        let left_w = (height - 200.0).min(ui.available_width() * 0.52).max(260.0);
        ui.horizontal_top(|ui| {
            ui.vertical(|ui| {
                ui.set_width(left_w);
                self.endpoint_controls(ui, shared, &map);
                let side = ui
                    .available_width()
                    .min(ui.available_height() - 4.0)
                    .max(160.0);
                let scale = shared.draw_scale();
                self.path_map(ui, &map, side, scale);
            });
            ui.separator();
            ui.vertical(|ui| {
                ui.set_min_height(height);
                self.path_controls(ui);
                self.images(ui, &map);
            });
        });
        // Something changed after the images were computed: show it at once.
        if inputs
            != (
                self.kind,
                self.t.to_bits(),
                self.steps,
                self.endpoints_version,
            )
        {
            ctx.request_repaint();
        }
    }

    fn no_map(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        crate::app::panels::latent::no_map_status(
            ui,
            shared,
            &self.source,
            "Interpolate",
            "interpolation is ready when the first epoch ends",
            "No model yet. Train one in the Train tab or load a saved model, then slide between the \
             codes of two images here.",
        );
        if !shared.dropped_files.is_empty() {
            shared.dropped_files.clear();
            self.message = Some("Train or load a model first: then drop a picture.".into());
        }
        if let Some(m) = &self.message {
            ui.colored_label(ui.visuals().warn_fg_color, m);
        }
    }

    fn poll_pictures(&mut self, shared: &mut Shared, map: &LatentMap) {
        if !shared.dropped_files.is_empty() {
            let mut files = std::mem::take(&mut shared.dropped_files);
            let extra = files.len() - 1;
            let f = files.swap_remove(0);
            self.picture_job = Some((
                self.target,
                load_picture(PictureSource::Dropped(f), &shared.egui),
            ));
            self.message = (extra > 0)
                .then(|| format!("{} files were dropped: using the first one.", extra + 1));
        }
        if let Some((which, dialog)) = &self.open_dialog {
            if let Some(paths) = dialog.poll() {
                let which = *which;
                self.open_dialog = None;
                if let Some(p) = paths.into_iter().next() {
                    self.picture_job =
                        Some((which, load_picture(PictureSource::Path(p), &shared.egui)));
                }
            }
        }
        if let Some((which, job)) = &self.picture_job {
            if let Some(r) = job.poll() {
                let which = *which;
                self.picture_job = None;
                match r {
                    Ok(p) => {
                        self.message = p
                            .blank
                            .then(|| format!("{}: no ink found, it is a black square.", p.name));
                        self.set(which, Endpoint::new(p.pixels, p.name, None));
                        self.target = which.other();
                    }
                    Err(e) => self.message = Some(e),
                }
            }
        }
        let _ = map;
    }

    fn open_picture(&mut self, shared: &Shared, which: Which) {
        match &shared.dialog_override {
            Some(p) => {
                self.picture_job = Some((
                    which,
                    load_picture(PictureSource::Path(p.clone()), &shared.egui),
                ))
            }
            None => {
                self.open_dialog = Some((
                    which,
                    jobs::file_dialog(DialogKind::OpenImages, &shared.egui, ""),
                ))
            }
        }
    }

    /// Encodes A and B and decodes what is shown, when anything changed.
    fn compute(&mut self, map: &Arc<LatentMap>) {
        let map_id = map.points.id;
        let (Some(a), Some(b)) = (&self.a, &self.b) else {
            self.shown = None;
            self.crossfade = None;
            return;
        };
        let ckey = (map_id, self.endpoints_version);
        if self.codes.as_ref().is_none_or(|c| c.key != ckey) {
            let enc = |px: &[f32]| map.model.encode(px).map_err(|e| e.to_string());
            match (enc(&a.pixels), enc(&b.pixels)) {
                (Ok(ca), Ok(cb)) => {
                    self.codes = Some(Codes {
                        key: ckey,
                        a: ca,
                        b: cb,
                    })
                }
                (Err(e), _) | (_, Err(e)) => {
                    self.message = Some(format!("Cannot encode: {e}"));
                    self.codes = None;
                    return;
                }
            }
        }
        let Some(codes) = &self.codes else {
            return;
        };
        let key = StripKey {
            map: map_id,
            endpoints: self.endpoints_version,
            kind: self.kind,
            steps: self.steps,
        };
        if self.strip_key.as_ref() != Some(&key) {
            let n = self.steps.max(2);
            let mut z = Vec::with_capacity(n * map.k);
            for i in 0..n {
                let t = i as f32 / (n - 1) as f32;
                z.extend(interpolate(self.kind, &codes.a, &codes.b, t));
            }
            match map.decode(&z) {
                Ok(px) => self.strip = px,
                Err(e) => self.message = Some(e),
            }
            self.strip_key = Some(key.clone());
            self.tex_strip = None;
            self.tex_fade_strip = None;
        }
        let skey = (key, self.t.to_bits());
        if self.shown_key.as_ref() != Some(&skey) {
            let z = interpolate(self.kind, &codes.a, &codes.b, self.t);
            match map.decode(&z) {
                Ok(px) => self.shown = Some(px),
                Err(e) => self.message = Some(e),
            }
            self.crossfade = Some(lerp(&a.pixels, &b.pixels, self.t));
            self.shown_key = Some(skey);
            self.tex_shown = None;
            self.tex_fade = None;
        }
    }

    fn endpoint_controls(&mut self, ui: &mut egui::Ui, shared: &Shared, map: &Arc<LatentMap>) {
        let ctx = ui.ctx().clone();
        ui.horizontal(|ui| {
            for which in [Which::A, Which::B] {
                let e = match which {
                    Which::A => &mut self.a,
                    Which::B => &mut self.b,
                };
                ui.vertical(|ui| {
                    ui.set_width(ui.available_width().min(200.0));
                    ui.radio_value(&mut self.target, which, which.name())
                        .on_hover_text(format!(
                            "The next point you click (or picture you drop) becomes {}.",
                            which.name()
                        ));
                    match e {
                        Some(e) => {
                            widgets::ensure_digit_texture(
                                &mut e.tex,
                                &ctx,
                                &format!("interp-{}", which.name()),
                                &e.pixels,
                            );
                            if let Some(t) = &e.tex {
                                widgets::show_texture(ui, t, 56.0);
                            }
                            ui.weak(&e.label);
                        }
                        None => {
                            widgets::empty_square(ui, 56.0);
                            ui.weak("not set");
                        }
                    }
                });
            }
        });
        ui.weak("Click a point on the map to set the selected endpoint.");
        ui.horizontal_wrapped(|ui| {
            let names: Vec<String> = (0..map.data.num_classes())
                .map(|c| map.data.class_name(c as u8))
                .collect();
            for (id, label, class) in [
                ("interp-class-a", "for A", &mut self.class_a),
                ("interp-class-b", "for B", &mut self.class_b),
            ] {
                egui::ComboBox::new(id, label)
                    .selected_text(names.get(*class as usize).cloned().unwrap_or_default())
                    .width(90.0)
                    .show_ui(ui, |ui| {
                        for (c, name) in names.iter().enumerate() {
                            ui.selectable_value(class, c as u8, name);
                        }
                    });
            }
            if ui
                .button("New random pair")
                .on_hover_text(
                    "A random test image of each chosen class (A the first, B the second).",
                )
                .clicked()
            {
                self.random_pair(map);
            }
        });
        ui.horizontal_wrapped(|ui| {
            let busy = self.picture_job.is_some() || self.open_dialog.is_some();
            for which in [Which::A, Which::B] {
                if ui
                    .add_enabled(
                        !busy,
                        egui::Button::new(format!("Picture as {}…", which.name())),
                    )
                    .on_hover_text("Use a picture of your own (preprocessed like MNIST).")
                    .clicked()
                {
                    self.open_picture(shared, which);
                }
            }
            if busy {
                ui.spinner();
            }
        });
        ui.weak(format!(
            "Or drop an image file here: it becomes {}.",
            self.target.name()
        ));
        if let Some(m) = &self.message {
            ui.colored_label(ui.visuals().warn_fg_color, m);
        }
    }

    fn path_map(&mut self, ui: &mut egui::Ui, map: &Arc<LatentMap>, side: f32, scale: f32) {
        let mut style = ScatterStyle::for_count(map.points.len());
        style.radius *= scale;
        let out = self
            .scatter
            .show(ui, egui::vec2(side, side), &style, |_, _| {});
        let xf = out.transform;
        let painter = ui.painter_at(xf.screen);
        if let Some(c) = &self.codes {
            let pts: Vec<egui::Pos2> = (0..=48)
                .map(|i| {
                    let t = i as f32 / 48.0;
                    xf.to_screen(
                        map.projection
                            .project(&interpolate(self.kind, &c.a, &c.b, t)),
                    )
                })
                .collect();
            painter.line(
                pts.clone(),
                Stroke::new(4.5, Color32::from_black_alpha(170)),
            );
            painter.line(pts, Stroke::new(2.0, Color32::WHITE));
            for (code, name) in [(&c.a, "A"), (&c.b, "B")] {
                let p = xf.to_screen(map.projection.project(code));
                painter.circle_filled(p, 9.0, Color32::WHITE);
                painter.circle_stroke(p, 9.0, Stroke::new(1.5, Color32::BLACK));
                painter.text(
                    p,
                    egui::Align2::CENTER_CENTER,
                    name,
                    egui::FontId::proportional(12.0),
                    Color32::BLACK,
                );
            }
            let at = interpolate(self.kind, &c.a, &c.b, self.t);
            draw_target(
                &painter,
                xf.to_screen(map.projection.project(&at)),
                Color32::from_rgb(0xF0, 0xE4, 0x42),
            );
        }
        if let Some(i) = out.hovered {
            let split = map.split_data();
            let name = map.data.class_name(split.labels[i]);
            out.response
                .clone()
                .on_hover_text_at_pointer(format!("{name} · test image #{i}"));
        }
        if let Some(Click::Point(i)) = out.clicked {
            self.set_test_image(map, self.target, i);
            self.target = self.target.other();
        }
    }

    fn path_controls(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            ui.label("Path:");
            ui.radio_value(&mut self.kind, PathKind::Linear, "linear")
                .on_hover_text("Straight line between the two codes.");
            ui.radio_value(&mut self.kind, PathKind::Spherical, "spherical (slerp)")
                .on_hover_text(
                    "Along the arc between the two codes around the origin: the code's length \
                     changes smoothly instead of dipping in the middle.",
                );
            ui.separator();
            ui.checkbox(&mut self.animate, "Animate")
                .on_hover_text("Sweep t back and forth.");
        });
        ui.horizontal(|ui| {
            // Room for the value box and the label after the slider.
            ui.spacing_mut().slider_width = (ui.available_width() - 100.0).max(100.0);
            if ui
                .add(
                    egui::Slider::new(&mut self.t, 0.0..=1.0)
                        .text("t")
                        // Shown with 2 decimals but not rounded: Animate moves t in small steps.
                        .custom_formatter(|v, _| format!("{v:.2}")),
                )
                .changed()
            {
                self.animate = false;
            }
        });
    }

    fn images(&mut self, ui: &mut egui::Ui, map: &Arc<LatentMap>) {
        let ctx = ui.ctx().clone();
        if let Some(px) = &self.shown {
            widgets::ensure_digit_texture(&mut self.tex_shown, &ctx, "interp-shown", px);
        }
        if let Some(px) = &self.crossfade {
            widgets::ensure_digit_texture(&mut self.tex_fade, &ctx, "interp-fade", px);
        }
        let big = ((ui.available_width() - 24.0) / 2.0)
            .min(ui.available_height() - 300.0)
            .clamp(110.0, 320.0);
        ui.add_space(6.0);
        ui.horizontal_top(|ui| {
            for (tex, caption) in [
                (
                    &self.tex_shown,
                    format!("decoded from the code at t = {:.2}", self.t),
                ),
                (&self.tex_fade, "pixel crossfade (1-t)·A + t·B".to_string()),
            ] {
                ui.vertical(|ui| {
                    ui.set_width(big);
                    match tex {
                        Some(t) => widgets::show_texture(ui, t, big),
                        None => widgets::empty_square(ui, big),
                    };
                    ui.label(caption);
                });
            }
        });
        ui.add_space(8.0);
        ui.add(egui::Slider::new(&mut self.steps, 3..=20).text("steps in the strips"));
        let n = self.strip.len() / PIXELS;
        if n > 0 {
            if self.tex_strip.is_none() {
                let fade: Vec<f32> = match (&self.a, &self.b) {
                    (Some(a), Some(b)) => (0..n)
                        .flat_map(|i| lerp(&a.pixels, &b.pixels, i as f32 / (n - 1).max(1) as f32))
                        .collect(),
                    _ => Vec::new(),
                };
                widgets::set_texture(
                    &mut self.tex_strip,
                    &ctx,
                    "interp-strip",
                    widgets::tile_image(&self.strip, n, 1),
                );
                if !fade.is_empty() {
                    widgets::set_texture(
                        &mut self.tex_fade_strip,
                        &ctx,
                        "interp-fade-strip",
                        widgets::tile_image(&fade, n, 1),
                    );
                }
            }
            let w = ui.available_width().min(900.0);
            for (tex, caption) in [
                (
                    &self.tex_strip,
                    format!("{n} decoded steps from A (left) to B (right)"),
                ),
                (
                    &self.tex_fade_strip,
                    "the same steps as a pixel crossfade".to_string(),
                ),
            ] {
                ui.label(&caption);
                if let Some(t) = tex {
                    let s = t.size_vec2();
                    let r =
                        ui.add(egui::Image::new(t).fit_to_exact_size(egui::vec2(w, w * s.y / s.x)));
                    widgets::name_widget(&r, &caption);
                }
                ui.add_space(4.0);
            }
        }
        widgets::help_note(
            ui,
            "interp-help",
            "The large image on the left is what the decoder draws from the code a fraction t \
             of the way from A's code to B's. Next to it, the two pictures are simply blended \
             pixel by pixel. If the model has learned a smooth latent space, the decoded \
             steps look like plausible images all along, while the crossfade shows two \
             ghosts on top of each other. Spherical interpolation follows an arc around the \
             origin instead of the straight line.",
        );
        let _ = map;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(v: &[f32]) -> f32 {
        v.iter().map(|x| x * x).sum::<f32>().sqrt()
    }

    #[test]
    fn both_paths_start_at_a_and_end_at_b() {
        let a = [1.0, 2.0, -0.5];
        let b = [-0.3, 0.4, 2.0];
        for kind in [PathKind::Linear, PathKind::Spherical] {
            let s = interpolate(kind, &a, &b, 0.0);
            let e = interpolate(kind, &a, &b, 1.0);
            for i in 0..3 {
                assert!((s[i] - a[i]).abs() < 1e-5, "{kind:?} start");
                assert!((e[i] - b[i]).abs() < 1e-5, "{kind:?} end");
            }
        }
        let m = lerp(&a, &b, 0.5);
        assert!(
            (m[0] - 0.35).abs() < 1e-6 && (m[1] - 1.2).abs() < 1e-6 && (m[2] - 0.75).abs() < 1e-6
        );
    }

    #[test]
    fn slerp_keeps_the_norm_of_equal_norm_codes() {
        let a = [3.0, 0.0];
        let b = [0.0, 3.0];
        let mid = slerp(&a, &b, 0.5);
        assert!((norm(&mid) - 3.0).abs() < 1e-5);
        assert!((mid[0] - mid[1]).abs() < 1e-5);
        // The straight line cuts inside.
        assert!(norm(&lerp(&a, &b, 0.5)) < 2.2);
    }

    #[test]
    fn slerp_falls_back_to_lerp_when_the_arc_is_undefined() {
        let a = [1.0, 1.0];
        for b in [[2.0, 2.0], [2.0, 2.000001], [-1.0, -1.0], [0.0, 0.0]] {
            let s = slerp(&a, &b, 0.3);
            let l = lerp(&a, &b, 0.3);
            assert!(s.iter().all(|v| v.is_finite()));
            assert!(
                (s[0] - l[0]).abs() < 1e-4 && (s[1] - l[1]).abs() < 1e-4,
                "{b:?}"
            );
        }
    }
}
