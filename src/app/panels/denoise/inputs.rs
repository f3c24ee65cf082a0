//! Where the Denoise panel's image comes from: test digits, the user's pictures (read and
//! preprocessed off the UI thread, every step kept as a thumbnail), the drawing canvas, models
//! loaded for comparison, and the occlusion rectangle dragged on the image.

use std::path::PathBuf;
use std::sync::Arc;

use egui::{Color32, Pos2, Rect, Sense, Stroke, StrokeKind, TextureHandle, Vec2};

use crate::analysis::denoise::{self as experiment};
use crate::app::jobs::{self, DialogKind};
use crate::app::widgets;
use crate::app::widgets::canvas;
use crate::app::{Level, Shared};
use crate::data::preprocess::Gray;
use crate::data::{Dataset, Occlusion};
use crate::{PIXELS, SIDE};

use super::*;

impl DenoisePanel {
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

    pub(super) fn take_drops(&mut self, shared: &mut Shared) {
        if shared.dropped_files.is_empty() {
            return;
        }
        let files = std::mem::take(&mut shared.dropped_files);
        let paths: Vec<PathBuf> = files.iter().map(|f| f.path().to_path_buf()).collect();
        self.read_images(shared, paths);
    }

    /// Reads, decodes and preprocesses pictures on a background thread.
    pub(super) fn read_images(&mut self, shared: &Shared, paths: Vec<PathBuf>) {
        if paths.is_empty() {
            return;
        }
        self.image_jobs.push(crate::app::jobs::spawn(
            "read-images",
            &shared.egui,
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

    pub(super) fn read_model(&mut self, shared: &Shared, path: PathBuf) {
        self.model_job = Some(crate::app::jobs::spawn(
            "read-model",
            &shared.egui,
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

    pub(super) fn poll(&mut self, shared: &mut Shared) {
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
        self.set_tables.poll();
    }

    /// Adds what a reading job produced; the last good picture becomes the one shown. Bad files
    /// only leave a message.
    pub(super) fn add_images(&mut self, batch: Loaded) {
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
    pub(super) fn clean_input(&mut self, data: &Dataset) -> (Vec<f32>, u64) {
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
                    self.drawing = Some((v, self.canvas.preprocessed()));
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

    pub(super) fn drag_occlusion(&mut self, ui: &egui::Ui, resp: &egui::Response) {
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

    pub(super) fn own_images(&mut self, ui: &mut egui::Ui) {
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

    pub(super) fn drawing_ui(&mut self, ui: &mut egui::Ui) {
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

    pub(super) fn steps_ui(&mut self, ui: &mut egui::Ui) {
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
pub(super) fn occlusion_rect(o: Occlusion, rect: Rect) -> Rect {
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

pub(super) fn step_textures(
    ctx: &egui::Context,
    name: &str,
    steps: &[StepThumb],
) -> Vec<TextureHandle> {
    steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let img = widgets::gray_image(&s.thumb.pixels, s.thumb.width, s.thumb.height);
            ctx.load_texture(format!("{name}-{i}"), img, egui::TextureOptions::NEAREST)
        })
        .collect()
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
}
