//! A 28×28 drawing canvas for the Denoise panel: draw a digit with the mouse (light ink on a
//! dark background, like MNIST) on a square shown at a comfortable size, with a soft round
//! brush of adjustable size; the right button erases. It owns the drawing's pixels and how a
//! stroke lands on them; what the drawing is used for is the panel's business.

use egui::{Color32, Pos2, Rect, Sense, Stroke, StrokeKind, TextureHandle, Vec2};

use crate::app::widgets;
use crate::{PIXELS, SIDE};

/// Brush radii offered (in pixels of the 28×28 image).
pub const BRUSH_RANGE: std::ops::RangeInclusive<f32> = 0.5..=3.0;

pub struct Canvas {
    /// The drawing, row-major 28×28, values in [0, 1] (1 is ink).
    pub pixels: Vec<f32>,
    /// Brush radius in image pixels.
    pub brush: f32,
    /// Increments whenever the pixels change.
    pub version: u64,
    /// Where the current stroke was last frame (image coordinates), to join it up.
    last: Option<Pos2>,
    tex: Option<TextureHandle>,
    tex_version: Option<u64>,
}

impl Default for Canvas {
    fn default() -> Self {
        Self {
            pixels: vec![0.0; PIXELS],
            brush: 1.2,
            version: 0,
            last: None,
            tex: None,
            tex_version: None,
        }
    }
}

impl Canvas {
    /// The drawing preprocessed as the MNIST digits were (cropped, scaled into 20×20, centred
    /// by its centre of mass): what a model is shown.
    pub fn preprocessed(&self) -> crate::data::preprocess::Preprocessed {
        let g = crate::data::preprocess::Gray {
            width: crate::SIDE,
            height: crate::SIDE,
            pixels: self.pixels.clone(),
        };
        crate::data::preprocess::preprocess(&g)
    }

    pub fn clear(&mut self) {
        if !self.is_blank() {
            self.pixels.fill(0.0);
            self.version += 1;
        }
    }

    pub fn is_blank(&self) -> bool {
        self.pixels.iter().all(|&v| v == 0.0)
    }

    /// Shows the canvas as a `size`-point square and applies this frame's strokes. Returns the
    /// response (`changed()` is set when the drawing changed).
    pub fn ui(&mut self, ui: &mut egui::Ui, size: f32) -> egui::Response {
        let (rect, mut response) = ui.allocate_exact_size(Vec2::splat(size), Sense::drag());
        response.widget_info(|| {
            egui::WidgetInfo::labeled(egui::Role::Canvas, ui.is_enabled(), "Drawing canvas")
        });
        let to_image = |p: Pos2| {
            let v = (p - rect.min) / rect.width() * SIDE as f32;
            Pos2::new(v.x, v.y)
        };
        let pointer = ui.input(|i| i.pointer.interact_pos());
        let (draw, erase) = ui.input(|i| (i.pointer.primary_down(), i.pointer.secondary_down()));
        let before = self.version;
        if response.is_pointer_button_down_on() && (draw || erase) {
            if let Some(p) = pointer.map(to_image) {
                let from = self.last.unwrap_or(p);
                let ink = if erase { 0.0 } else { 1.0 };
                if stroke(&mut self.pixels, from, p, self.brush, ink) {
                    self.version += 1;
                }
                self.last = Some(p);
            }
        } else {
            self.last = None;
        }
        if self.version != before {
            response.mark_changed();
        }

        if ui.is_rect_visible(rect) {
            if self.tex_version != Some(self.version) || self.tex.is_none() {
                let img = widgets::digit_image(&self.pixels);
                widgets::set_texture(&mut self.tex, ui.ctx(), "denoise-canvas", img);
                self.tex_version = Some(self.version);
            }
            let painter = ui.painter_at(rect);
            if let Some(tex) = &self.tex {
                let uv = Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0));
                painter.image(tex.id(), rect, uv, Color32::WHITE);
            }
            let frame = if response.hovered() {
                ui.visuals().widgets.hovered.bg_stroke
            } else {
                ui.visuals().widgets.noninteractive.bg_stroke
            };
            painter.rect_stroke(rect, 2.0, frame, StrokeKind::Inside);
            if let Some(h) = response.hover_pos() {
                let r = self.brush * rect.width() / SIDE as f32;
                painter.circle_stroke(h, r, Stroke::new(1.0, Color32::from_rgb(0xE6, 0x9F, 0x00)));
            }
        }
        response
    }
}

/// Paints a stroke of soft round dabs from `from` to `to` (image coordinates: pixel (x, y)
/// spans [x, x + 1) × [y, y + 1)) with a brush of `radius` pixels. `ink` 1 draws (each pixel
/// keeps the larger of its value and the brush's), 0 erases. Returns whether any pixel changed.
pub fn stroke(pixels: &mut [f32], from: Pos2, to: Pos2, radius: f32, ink: f32) -> bool {
    if pixels.len() != PIXELS || !(from.x.is_finite() && from.y.is_finite()) {
        return false;
    }
    if !(to.x.is_finite() && to.y.is_finite()) {
        return false;
    }
    let radius = radius.clamp(*BRUSH_RANGE.start(), *BRUSH_RANGE.end());
    let reach = radius + 0.5;
    let bounds = Rect::from_min_max(
        Pos2::new(-reach, -reach),
        Pos2::new(SIDE as f32 + reach, SIDE as f32 + reach),
    );
    let Some((from, to)) = clip(from, to, bounds) else {
        return false;
    };
    let length = (to - from).length();
    // Dabs a quarter pixel apart make a continuous line at any speed.
    let n = ((length / 0.25).ceil() as usize).clamp(1, 4 * 4 * SIDE);
    let mut changed = false;
    for i in 0..=n {
        let c = from + (to - from) * (i as f32 / n as f32);
        changed |= dab(pixels, c, radius, ink);
    }
    changed
}

/// The part of the segment `a`-`b` inside `r` (Liang-Barsky), or `None` when it misses.
fn clip(a: Pos2, b: Pos2, r: Rect) -> Option<(Pos2, Pos2)> {
    let d = b - a;
    let (mut t0, mut t1) = (0.0f32, 1.0f32);
    for (p, q) in [
        (-d.x, a.x - r.min.x),
        (d.x, r.max.x - a.x),
        (-d.y, a.y - r.min.y),
        (d.y, r.max.y - a.y),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let t = q / p;
            if p < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
        }
    }
    (t0 <= t1).then(|| (a + d * t0, a + d * t1))
}

/// One round dab: full strength within `radius - 0.5` of the centre, fading to nothing at
/// `radius + 0.5` (a one-pixel anti-aliased edge).
fn dab(pixels: &mut [f32], c: Pos2, radius: f32, ink: f32) -> bool {
    let reach = radius + 0.5;
    let lo = |v: f32| ((v - reach).floor().max(0.0)) as usize;
    let hi = |v: f32| ((v + reach).ceil().clamp(0.0, SIDE as f32)) as usize;
    let mut changed = false;
    for y in lo(c.y)..hi(c.y) {
        for x in lo(c.x)..hi(c.x) {
            let d = Vec2::new(x as f32 + 0.5 - c.x, y as f32 + 0.5 - c.y).length();
            let strength = (reach - d).clamp(0.0, 1.0);
            if strength <= 0.0 {
                continue;
            }
            let p = &mut pixels[y * SIDE + x];
            let new = if ink > 0.0 {
                p.max(strength)
            } else {
                p.min(1.0 - strength)
            };
            if new != *p {
                *p = new;
                changed = true;
            }
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(px: &[f32], x: usize, y: usize) -> f32 {
        px[y * SIDE + x]
    }

    #[test]
    fn a_stroke_draws_a_continuous_line_of_the_brush_width() {
        let mut px = vec![0.0f32; PIXELS];
        assert!(stroke(
            &mut px,
            Pos2::new(4.5, 14.5),
            Pos2::new(23.5, 14.5),
            1.0,
            1.0
        ));
        // Every pixel along the line is full ink, the rows beside it lighter, far rows empty.
        for x in 4..=23 {
            assert_eq!(at(&px, x, 14), 1.0, "x = {x}");
            assert!(at(&px, x, 13) > 0.0 && at(&px, x, 13) <= 1.0);
        }
        for y in [0, 10, 18, 27] {
            assert!((0..SIDE).all(|x| at(&px, x, y) == 0.0), "row {y}");
        }
        assert!(px.iter().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn a_bigger_brush_covers_more_and_erasing_removes_ink() {
        let count = |r: f32| {
            let mut px = vec![0.0f32; PIXELS];
            stroke(
                &mut px,
                Pos2::new(14.5, 14.5),
                Pos2::new(14.5, 14.5),
                r,
                1.0,
            );
            px.iter().filter(|&&v| v > 0.0).count()
        };
        assert!(count(3.0) > count(1.0) && count(1.0) > count(0.5));

        let mut px = vec![0.0f32; PIXELS];
        stroke(
            &mut px,
            Pos2::new(5.0, 5.0),
            Pos2::new(20.0, 20.0),
            2.0,
            1.0,
        );
        assert!(stroke(
            &mut px,
            Pos2::new(5.0, 5.0),
            Pos2::new(20.0, 20.0),
            3.0,
            0.0
        ));
        assert!(px.iter().all(|&v| v == 0.0));
        assert!(!stroke(
            &mut px,
            Pos2::new(5.0, 5.0),
            Pos2::new(20.0, 20.0),
            3.0,
            0.0
        ));
    }

    #[test]
    fn strokes_outside_or_absurd_do_not_panic() {
        let mut px = vec![0.0f32; PIXELS];
        assert!(!stroke(
            &mut px,
            Pos2::new(-50.0, -50.0),
            Pos2::new(-40.0, -45.0),
            3.0,
            1.0
        ));
        assert!(!stroke(
            &mut px,
            Pos2::new(f32::NAN, 1.0),
            Pos2::new(2.0, 2.0),
            1.0,
            1.0
        ));
        // Half on the canvas: clipped at the border.
        assert!(stroke(
            &mut px,
            Pos2::new(-5.0, 27.5),
            Pos2::new(1e6, 27.5),
            1.0,
            1.0
        ));
        assert_eq!(at(&px, 0, 27), 1.0);
        assert_eq!(at(&px, 27, 27), 1.0);
        let mut short = vec![0.0f32; 3];
        assert!(!stroke(&mut short, Pos2::ZERO, Pos2::ZERO, 1.0, 1.0));
    }
}
