//! What the Step panel shows for each sub-step of a slow-motion step: the batch, one layer's
//! output, the loss, the backward pass, the update and the model after it. This module owns
//! turning the record's arrays into pictures (digits as 28×28 tiles, signed values in the
//! diverging map, per-pixel losses as heat, narrow layers as heat strips, convolutional
//! layers as feature maps, codes and their moves on a small 2-D map) and the tables of its
//! numbers. Every figure is a value of the record, formatted; nothing is recomputed here.

use std::collections::HashMap;

use egui::{pos2, vec2, Color32, ColorImage, Rect, Stroke, TextureHandle, Vec2};

use crate::app::panels::features::diverging;
use crate::app::widgets;
use crate::model::Term;
use crate::train::slow_step::{LayerOutput, SlowStep};
use crate::{PIXELS, SIDE};

/// Textures made from one record (dropped when another record comes).
#[derive(Default)]
pub struct Textures {
    /// Which record they were made from (its address).
    pub record: usize,
    map: HashMap<String, TextureHandle>,
}

impl Textures {
    /// Forgets the textures when `record` is not the one they were made from.
    pub fn follow(&mut self, record: usize) {
        if self.record != record {
            self.record = record;
            self.map.clear();
        }
    }

    /// The texture `key`, made by `make` the first time.
    pub fn get(
        &mut self,
        ctx: &egui::Context,
        key: &str,
        make: impl FnOnce() -> ColorImage,
    ) -> TextureHandle {
        self.map
            .entry(key.to_string())
            .or_insert_with(|| widgets::texture(ctx, &format!("step-{key}"), make()))
            .clone()
    }
}

/// How many rows of the batch are drawn (a training batch has more than fit).
pub const SHOWN: usize = 16;
/// Digits per row of a tiled batch.
pub const COLS: usize = 8;

/// The rows drawn: at most [`SHOWN`].
pub fn shown(rec: &SlowStep) -> usize {
    rec.rows.min(SHOWN)
}

/// Images tiled `cols` wide with 2-pixel dark gaps (all the same size).
pub fn tile(images: &[ColorImage], cols: usize) -> ColorImage {
    let gap = 2;
    let [w, h] = images.first().map_or([1, 1], |i| i.size);
    let cols = cols.clamp(1, images.len().max(1));
    let rows = images.len().div_ceil(cols).max(1);
    let (tw, th) = (cols * (w + gap) + gap, rows * (h + gap) + gap);
    let mut px = vec![Color32::from_gray(26); tw * th];
    for (i, img) in images.iter().enumerate() {
        let (r, c) = (i / cols, i % cols);
        for y in 0..h {
            let row = (gap + r * (h + gap) + y) * tw + gap + c * (w + gap);
            px[row..row + w].copy_from_slice(&img.pixels[y * w..(y + 1) * w]);
        }
    }
    ColorImage {
        size: [tw, th],
        source_size: Vec2::new(tw as f32, th as f32),
        pixels: px,
    }
}

/// Signed values as a `w`×`h` image in the diverging map, ±`scale` at the ends.
pub fn diverging_image(values: &[f32], w: usize, h: usize, scale: f32) -> ColorImage {
    let s = if scale > 0.0 { scale } else { 1.0 };
    ColorImage {
        size: [w, h],
        source_size: Vec2::new(w as f32, h as f32),
        pixels: values.iter().map(|&v| diverging(v / s)).collect(),
    }
}

/// The largest |v| (at least a tiny number, so that a scale of it divides).
pub fn max_abs(values: &[f32]) -> f32 {
    values
        .iter()
        .filter(|v| v.is_finite())
        .fold(1e-12f32, |m, v| m.max(v.abs()))
}

/// The first `n` rows of `rows × 784` values as 28×28 images made by `each`.
fn digits(values: &[f32], n: usize, each: impl Fn(&[f32]) -> ColorImage) -> Vec<ColorImage> {
    values.chunks_exact(PIXELS).take(n).map(each).collect()
}

/// Grey digits (values in 0..1), tiled.
pub fn gray_tiles(values: &[f32], n: usize) -> ColorImage {
    tile(&digits(values, n, widgets::digit_image), COLS)
}

/// The 99th percentile of |v| (finite values): a scale that a few outliers do not set (a
/// BCE gradient at the reconstruction is huge where x̂ nears 0 or 1 and small elsewhere).
pub fn robust_abs(values: &[f32]) -> f32 {
    let mut a: Vec<f32> = values
        .iter()
        .filter(|v| v.is_finite())
        .map(|v| v.abs())
        .collect();
    if a.is_empty() {
        return 1e-12;
    }
    let k = (a.len() * 99 / 100).min(a.len() - 1);
    let (_, v, _) = a.select_nth_unstable_by(k, f32::total_cmp);
    v.max(1e-12)
}

/// Signed 784-wide rows as diverging 28×28 tiles, ±the 99th percentile of |v| shown at the
/// ends (larger values saturate).
pub fn signed_tiles(values: &[f32], n: usize) -> ColorImage {
    let s = robust_abs(&values[..(n * PIXELS).min(values.len())]);
    tile(
        &digits(values, n, |d| diverging_image(d, SIDE, SIDE, s)),
        COLS,
    )
}

/// Non-negative 784-wide rows as heat tiles (0 black, the largest shown brightest).
pub fn heat_tiles(values: &[f32], n: usize) -> ColorImage {
    let vmax = max_abs(&values[..(n * PIXELS).min(values.len())]);
    tile(
        &digits(values, n, |d| widgets::heatmap_image(d, SIDE, vmax)),
        COLS,
    )
}

/// Shows `tex` scaled to `width` points, keeping its aspect, named `name`.
pub fn image(ui: &mut egui::Ui, tex: &TextureHandle, width: f32, name: &str) -> egui::Response {
    let [w, h] = tex.size();
    let size = vec2(width, width * h as f32 / w.max(1) as f32);
    let resp = ui.add(egui::Image::new(tex).fit_to_exact_size(size));
    widgets::name_widget(&resp, name);
    resp
}

/// The width to draw a tiled batch at: the panel's width, at most 8 digits of 64 points.
pub fn tiles_width(ui: &egui::Ui) -> f32 {
    ui.available_width().min(COLS as f32 * 64.0)
}

/// One layer's output drawn the way its shape reads best: 784-wide as digits (grey for the
/// reconstruction, diverging for logits), convolutional as the feature maps of `example`,
/// narrower ones as heat strips, one row per digit.
pub fn layer_view(
    ui: &mut egui::Ui,
    tex: &mut Textures,
    rec: &SlowStep,
    layer: &LayerOutput,
    example: usize,
) {
    let n = shown(rec);
    let per: usize = layer.shape.iter().product::<usize>().max(1);
    let width = tiles_width(ui);
    let ctx = ui.ctx().clone();
    if layer.shape.len() == 3 && per != PIXELS {
        let (c, h, w) = (layer.shape[0], layer.shape[1], layer.shape[2]);
        let e = example.min(rec.rows.saturating_sub(1));
        let row = &layer.values[e * per..(e + 1) * per];
        let key = format!("fmap-{}-{e}", layer.name);
        let t = tex.get(&ctx, &key, || {
            let s = max_abs(row);
            let maps: Vec<ColorImage> = row
                .chunks_exact(h * w)
                .map(|m| diverging_image(m, w, h, s))
                .collect();
            tile(&maps, c.min(8))
        });
        ui.label(format!(
            "Digit {}: {c} feature maps of {h}x{w} (orange positive, blue negative).",
            e + 1
        ));
        image(ui, &t, width.min(70.0 * c.min(8) as f32), "feature maps");
    } else if per == PIXELS {
        let key = format!("digits-{}", layer.name);
        let t = if layer.name == "recon" {
            tex.get(&ctx, &key, || gray_tiles(&layer.values, n))
        } else {
            tex.get(&ctx, &key, || signed_tiles(&layer.values, n))
        };
        image(ui, &t, width, "layer output");
    } else {
        let key = format!("strip-{}", layer.name);
        let t = tex.get(&ctx, &key, || {
            let rows = &layer.values[..(n * per).min(layer.values.len())];
            diverging_image(rows, per, n, max_abs(rows))
        });
        ui.label(format!(
            "{n} rows (one per digit) of {per} values (orange positive, blue negative, black 0)."
        ));
        // Stretched: a row per digit, 12 points tall; a narrow layer's cells at most 48 wide.
        let h = (n as f32 * 12.0).min(200.0);
        let w = width.min(per as f32 * 48.0);
        let resp = ui.add(
            egui::Image::new(&t)
                .maintain_aspect_ratio(false)
                .fit_to_exact_size(vec2(w, h)),
        );
        widgets::name_widget(&resp, "heat strip");
        let vae_code = matches!(layer.name.as_str(), "sigma" | "eps" | "z")
            && rec.config.model.arch == crate::model::config::Arch::Vae;
        if per <= 8 && !vae_code {
            values_table(ui, &layer.name, &layer.values, per, n, false);
        }
    }
}

/// A grid of numbers: one line per digit, `per` values each.
/// `scientific`: in the `1.23e-4` notation (gradients), else with four decimals.
pub fn values_table(
    ui: &mut egui::Ui,
    id: &str,
    values: &[f32],
    per: usize,
    n: usize,
    scientific: bool,
) {
    egui::Grid::new(("step-values", id))
        .striped(true)
        .show(ui, |ui| {
            ui.strong("digit");
            for d in 0..per {
                ui.strong(format!("dim {}", d + 1));
            }
            ui.end_row();
            for (r, row) in values.chunks_exact(per).take(n.min(8)).enumerate() {
                ui.label(format!("{}", r + 1));
                for v in row {
                    ui.monospace(if scientific {
                        format!("{v:.2e}")
                    } else {
                        format!("{v:.4}")
                    });
                }
                ui.end_row();
            }
        });
}

/// A VAE's sampling for the first digits: μ, σ, ε and z = μ + σ·ε, per dimension (the
/// record's values).
pub fn sampling_table(ui: &mut egui::Ui, rec: &SlowStep) {
    let get = |name: &str| rec.before.layers.iter().find(|l| l.name == name);
    let (Some(mu), Some(sigma), Some(eps), Some(z)) =
        (get("mu"), get("sigma"), get("eps"), get("z"))
    else {
        return;
    };
    let k = mu.shape.iter().product::<usize>().max(1);
    let dims = k.min(3);
    egui::Grid::new("step-sampling")
        .striped(true)
        .show(ui, |ui| {
            ui.strong("digit");
            for d in 0..dims {
                for s in ["μ", "σ", "ε", "z"] {
                    ui.strong(format!("{s}{}", d + 1));
                }
            }
            ui.end_row();
            for r in 0..shown(rec).min(8) {
                ui.label(format!("{}", r + 1));
                for d in 0..dims {
                    for l in [mu, sigma, eps, z] {
                        ui.monospace(format!("{:.4}", l.values[r * k + d]));
                    }
                }
                ui.end_row();
            }
        });
    if k > dims {
        ui.weak(format!("The first {dims} of {k} dimensions."));
    }
}

/// A loss value as the panel prints it.
pub fn loss_text(v: f64) -> String {
    format!("{v:.5}")
}

/// A norm as the panel prints it.
pub fn norm_text(v: f64) -> String {
    format!("{v:.3e}")
}

/// The terms the objective has (weighted), without the total and the evaluation-only MSE.
pub fn terms_of(rec: &SlowStep) -> Vec<Term> {
    rec.before
        .loss
        .0
        .keys()
        .copied()
        .filter(|t| !matches!(t, Term::Total | Term::Mse))
        .collect()
}

/// Each loss term of the step and their sum, the total (the record's).
pub fn terms_table(ui: &mut egui::Ui, rec: &SlowStep) {
    egui::Grid::new("step-terms").striped(true).show(ui, |ui| {
        for t in terms_of(rec) {
            ui.colored_label(widgets::term_color(t.name()), t.name());
            ui.monospace(loss_text(rec.before.loss.get(t).unwrap_or(f64::NAN)));
            ui.end_row();
        }
        ui.strong("the terms' sum");
        ui.monospace(format!("total {}", loss_text(rec.loss_before().total())));
        ui.end_row();
    });
}

/// Loss before and after the step, term by term (both measured).
pub fn before_after_table(ui: &mut egui::Ui, rec: &SlowStep) {
    egui::Grid::new("step-before-after")
        .striped(true)
        .show(ui, |ui| {
            ui.strong("term");
            ui.strong("before");
            ui.strong("after");
            ui.end_row();
            let mut terms = terms_of(rec);
            terms.push(Term::Total);
            for t in terms {
                ui.colored_label(widgets::term_color(t.name()), t.name());
                let b = rec.loss_before().get(t).unwrap_or(f64::NAN);
                let a = rec.loss_after().get(t).unwrap_or(f64::NAN);
                ui.monospace(loss_text(b));
                ui.monospace(loss_text(a));
                ui.end_row();
            }
        });
}

/// Per tensor, its gradient's norm against the update's, as numbers and bars (each column
/// scaled to its largest).
pub fn update_table(ui: &mut egui::Ui, rec: &SlowStep) {
    let max_g = rec.tensors.iter().map(|t| t.grad_norm).fold(0.0, f64::max);
    let max_u = rec
        .tensors
        .iter()
        .map(|t| t.update_norm)
        .fold(0.0, f64::max);
    let bar = |ui: &mut egui::Ui, v: f64, max: f64, color: Color32| {
        let (r, _) = ui.allocate_exact_size(vec2(90.0, 10.0), egui::Sense::hover());
        let f = if max > 0.0 { (v / max) as f32 } else { 0.0 };
        ui.painter()
            .rect_filled(Rect::from_min_size(r.min, vec2(90.0 * f, 10.0)), 1.0, color);
    };
    egui::Grid::new("step-update").striped(true).show(ui, |ui| {
        ui.strong("tensor");
        ui.strong("values");
        ui.strong("gradient norm");
        ui.label("");
        ui.strong("update norm");
        ui.label("");
        ui.end_row();
        for t in &rec.tensors {
            ui.monospace(&t.name);
            ui.label(widgets::thousands(t.grad.len() as f64));
            ui.monospace(norm_text(t.grad_norm));
            bar(ui, t.grad_norm, max_g, super::network::GRAD);
            ui.monospace(norm_text(t.update_norm));
            bar(ui, t.update_norm, max_u, super::network::UPDATE);
            ui.end_row();
        }
    });
}

/// A 2-D code's points (the first digits) with arrows to `to` (same layout), on a square of
/// `side` points. `None` when the code is not 2-D.
pub fn latent_moves(
    ui: &mut egui::Ui,
    from: &[f32],
    to: &[f32],
    n: usize,
    side: f32,
    name: &str,
) -> Option<egui::Response> {
    let k = 2;
    let n = n.min(from.len() / k).min(to.len() / k);
    if n == 0 {
        return None;
    }
    let (rect, resp) = ui.allocate_exact_size(Vec2::splat(side), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
    let all = from[..n * k].iter().chain(&to[..n * k]);
    let (mut lo, mut hi) = ([f32::MAX; 2], [f32::MIN; 2]);
    for (i, &v) in all.enumerate() {
        lo[i % 2] = lo[i % 2].min(v);
        hi[i % 2] = hi[i % 2].max(v);
    }
    let span = (0..2)
        .map(|d| (hi[d] - lo[d]).max(1e-6))
        .fold(0.0, f32::max)
        * 1.2;
    let mid = [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0];
    let at = |p: &[f32]| {
        pos2(
            rect.center().x + (p[0] - mid[0]) / span * side,
            rect.center().y - (p[1] - mid[1]) / span * side,
        )
    };
    let text = ui.visuals().text_color();
    for i in 0..n {
        let a = at(&from[i * k..i * k + k]);
        let b = at(&to[i * k..i * k + k]);
        if (b - a).length() > 0.5 {
            painter.arrow(a, b - a, Stroke::new(2.0, super::network::GRAD));
        }
        painter.circle_filled(a, 4.0, text);
        painter.text(
            a + vec2(5.0, -5.0),
            egui::Align2::LEFT_BOTTOM,
            format!("{}", i + 1),
            egui::FontId::proportional(11.0),
            text,
        );
    }
    widgets::name_widget(&resp, name);
    Some(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_outliers_do_not_set_the_gradient_image_scale() {
        // The VAE's BCE gradient image was black but for one pixel: the scale was its max.
        let mut v = vec![0.01f32; 784 * 8];
        v[5] = 400.0;
        v[700] = -300.0;
        let s = robust_abs(&v);
        assert!((s - 0.01).abs() < 1e-6, "{s}");
        assert_eq!(robust_abs(&[]), 1e-12);
        assert_eq!(robust_abs(&[f32::NAN, 2.0]), 2.0);
    }

    #[test]
    fn tiles_lay_images_out_row_by_row() {
        let a = diverging_image(&[1.0; 4], 2, 2, 1.0);
        let b = diverging_image(&[-1.0; 4], 2, 2, 1.0);
        let t = tile(&[a.clone(), b.clone(), a], 2);
        assert_eq!(t.size, [2 * 4 + 2, 2 * 4 + 2]);
        assert_eq!(t.pixels[2 * t.size[0] + 2], diverging(1.0));
        assert_eq!(t.pixels[2 * t.size[0] + 6], diverging(-1.0));
    }
}
