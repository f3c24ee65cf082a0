//! The Features panel's learned weights: each first-layer unit of a dense encoder as a 28×28
//! tile of its 784 weights (blue negative, orange positive, dark zero, each tile on its own
//! symmetric scale or one scale for the layer), sortable by weight norm and zoomable; the
//! decoder's last layer the same way; for conv models the first filters and their activation
//! maps on the chosen digit.

use egui::{Color32, ColorImage, TextureHandle, Vec2};

use super::{Analysis, Key};
use crate::analysis::features::{self, WeightMatrix};
use crate::app::widgets;
use crate::app::Shared;
use crate::model::Arch;

/// The diverging map: -1 blue, 0 near black, +1 orange (readable with colour-vision deficiencies).
pub fn diverging(t: f32) -> Color32 {
    let t = if t.is_finite() {
        t.clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let zero = [24.0, 24.0, 28.0];
    let end = if t >= 0.0 {
        [255.0, 160.0, 40.0]
    } else {
        [70.0, 160.0, 255.0]
    };
    let a = t.abs();
    let c = |i: usize| (zero[i] + a * (end[i] - zero[i])).round() as u8;
    Color32::from_rgb(c(0), c(1), c(2))
}

/// Rows `order` of `m` as tiles `cols` wide with `gap`-pixel gaps, in the diverging map; each
/// tile on its own symmetric scale (`shared_scale`: the layer's largest |w| for all).
pub fn weight_tiles(
    m: &WeightMatrix,
    order: &[usize],
    cols: usize,
    gap: usize,
    shared_scale: bool,
) -> ColorImage {
    let side = m.side.max(1);
    let cols = cols.max(1);
    let rows = order.len().div_ceil(cols).max(1);
    let w = cols * (side + gap) + gap;
    let h = rows * (side + gap) + gap;
    let mut px = vec![Color32::from_gray(60); w * h];
    let layer_max = m.max_abs();
    for (n, &r) in order.iter().enumerate() {
        let row = m.row(r);
        let scale = if shared_scale {
            layer_max
        } else {
            row.iter()
                .filter(|v| v.is_finite())
                .fold(0.0f32, |a, v| a.max(v.abs()))
        };
        let (ty, tx) = (n / cols, n % cols);
        for y in 0..side {
            for x in 0..side {
                let v = row.get(y * side + x).copied().unwrap_or(0.0);
                let t = if scale > 0.0 { v / scale } else { 0.0 };
                px[(gap + ty * (side + gap) + y) * w + gap + tx * (side + gap) + x] = diverging(t);
            }
        }
    }
    ColorImage {
        size: [w, h],
        source_size: Vec2::new(w as f32, h as f32),
        pixels: px,
    }
}

/// How many tiles to show.
const SHOW_CHOICES: [usize; 3] = [32, 64, 128];

pub struct WeightsView {
    pub sort_by_norm: bool,
    pub shared_scale: bool,
    /// Points per tile.
    pub zoom: f32,
    pub show: usize,
    /// Show the decoder's last layer instead of the encoder's first.
    pub decoder: bool,
    /// (analysis, sort, scale, show) the textures were made for.
    made_for: Option<(Key, bool, bool, usize)>,
    encoder_tex: Option<TextureHandle>,
    decoder_tex: Option<TextureHandle>,
    /// Conv activation maps on the traversal's digit.
    maps_tex: Option<(Key, usize, TextureHandle)>,
    cols: usize,
}

impl Default for WeightsView {
    fn default() -> Self {
        Self {
            sort_by_norm: true,
            shared_scale: false,
            zoom: 28.0,
            show: 64,
            decoder: false,
            made_for: None,
            encoder_tex: None,
            decoder_tex: None,
            maps_tex: None,
            cols: 16,
        }
    }
}

impl WeightsView {
    fn order(&self, m: &WeightMatrix) -> Vec<usize> {
        let o = if self.sort_by_norm {
            m.order_by_norm()
        } else {
            (0..m.rows).collect()
        };
        o.into_iter().take(self.show).collect()
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &Shared, a: &Analysis, digit: usize) {
        let conv = a.model.config().model.arch == Arch::Conv;
        let width = ui.available_width();
        ui.set_max_width(width);
        ui.heading(if conv {
            "Learned filters"
        } else {
            "Learned weights"
        });
        ui.horizontal_wrapped(|ui| {
            if a.decoder.is_some() {
                ui.selectable_value(&mut self.decoder, false, "Encoder")
                    .on_hover_text("The encoder's first layer.");
                ui.selectable_value(&mut self.decoder, true, "Decoder")
                    .on_hover_text("The decoder's last layer.");
            }
            ui.checkbox(&mut self.sort_by_norm, "Sort by norm")
                .on_hover_text("Strongest units first (largest weight norm).");
            ui.checkbox(&mut self.shared_scale, "One scale")
                .on_hover_text("One colour scale for the whole layer instead of one per tile.");
            if !conv {
                egui::ComboBox::from_id_salt("features-show")
                    .selected_text(format!("{} units", self.show))
                    .show_ui(ui, |ui| {
                        for n in SHOW_CHOICES {
                            ui.selectable_value(&mut self.show, n, format!("{n} units"));
                        }
                    });
            }
        });
        ui.horizontal(|ui| {
            ui.label("Tile size");
            ui.add(egui::Slider::new(&mut self.zoom, 14.0..=84.0).show_value(false))
                .on_hover_text("Zoom: points per tile.");
        });
        let fit = ((width / (self.zoom + 1.0)).floor() as usize).clamp(2, 64);
        // As many columns as fit, then evened out so the last row is as full as it can be.
        let n = a
            .encoder
            .rows
            .min(if conv { usize::MAX } else { self.show })
            .max(1);
        let cols = n.div_ceil(n.div_ceil(fit)).max(1);
        let key = (a.key, self.sort_by_norm, self.shared_scale, self.show);
        if self.made_for != Some(key) || self.cols != cols || self.encoder_tex.is_none() {
            let enc = weight_tiles(
                &a.encoder,
                &self.order(&a.encoder),
                cols,
                1,
                self.shared_scale,
            );
            widgets::set_texture(&mut self.encoder_tex, ui.ctx(), "features-enc", enc);
            match &a.decoder {
                Some(d) => {
                    let img = weight_tiles(d, &self.order(d), cols, 1, self.shared_scale);
                    widgets::set_texture(&mut self.decoder_tex, ui.ctx(), "features-dec", img);
                }
                None => self.decoder_tex = None,
            }
            self.made_for = Some(key);
            self.cols = cols;
        }
        let shown = a
            .encoder
            .rows
            .min(if conv { usize::MAX } else { self.show });
        let show_decoder = self.decoder && a.decoder.is_some();
        if !show_decoder {
            ui.label(if conv {
            format!(
                "First convolution: {} filters of 3x3 (blue negative, orange positive).",
                a.encoder.rows
            )
        } else {
            format!(
                "Encoder, first layer: {shown} of {} units, each unit's 784 weights as a 28x28 tile.",
                a.encoder.rows
            )
        });
            if let Some(t) = &self.encoder_tex {
                let r = show_scaled(ui, t, width);
                widgets::name_widget(&r, "Encoder weights");
            }
        }
        if let (Some(d), Some(t), true) = (&a.decoder, &self.decoder_tex, show_decoder) {
            ui.label(format!(
                "Decoder, last layer: what each of {} units adds to the output image.",
                d.rows
            ));
            let r = show_scaled(ui, t, self.shown_width(t, d.side, width));
            widgets::name_widget(&r, "Decoder weights");
        }
        if conv {
            self.activation_maps(ui, shared, a, digit);
        }
        widgets::help_note(
            ui,
            "features-weights-help",
            "Each tile is one unit's incoming weights w, drawn where the pixel is: the unit \
             computes relu(w . x + b), so it fires for ink on the orange parts and against ink \
             on the blue parts. Plain autoencoders learn blurry, global blobs; denoising and \
             sparse ones learn strokes and local detectors. An overcomplete (k = 784) \
             autoencoder with no regulariser learns to copy: any weights whose product is the \
             identity will do, so its tiles stay close to their random start and look like noise. \
             The decoder's tiles are the pictures its units paint into the output.",
        );
    }

    /// The width a tiled texture is drawn at: `zoom` points per tile, at most `width`.
    fn shown_width(&self, t: &TextureHandle, side: usize, width: f32) -> f32 {
        let native = t.size_vec2().x;
        (native * self.zoom / side.max(1) as f32).min(width)
    }

    fn activation_maps(&mut self, ui: &mut egui::Ui, shared: &Shared, a: &Analysis, digit: usize) {
        let idx = digit.min(shared.data.test.len().saturating_sub(1));
        if shared.data.test.is_empty() {
            return;
        }
        let stale = self
            .maps_tex
            .as_ref()
            .is_none_or(|(k, i, _)| *k != a.key || *i != idx);
        if stale {
            match features::conv_activations(&a.model, shared.data.test.image(idx)) {
                Ok(m) => {
                    let order: Vec<usize> = (0..m.rows).collect();
                    let img = weight_tiles(&m, &order, 8, 1, true);
                    let tex = widgets::texture(ui.ctx(), "features-maps", img);
                    self.maps_tex = Some((a.key, idx, tex));
                }
                Err(e) => {
                    ui.label(format!("No activation maps: {e}"));
                    return;
                }
            }
        }
        if let Some((_, _, t)) = &self.maps_tex {
            ui.label(format!("Their activation maps on test digit {idx}:"));
            let r = show_scaled(ui, t, ui.available_width().min(480.0));
            widgets::name_widget(&r, "Activation maps");
        }
    }
}

/// Shows a texture scaled to `width` points, keeping its aspect ratio.
fn show_scaled(ui: &mut egui::Ui, tex: &TextureHandle, width: f32) -> egui::Response {
    let s = tex.size_vec2();
    let f = width / s.x.max(1.0);
    ui.add(egui::Image::new(tex).fit_to_exact_size(s * f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diverging_ends_and_tiles() {
        assert_eq!(diverging(0.0), Color32::from_rgb(24, 24, 28));
        assert_eq!(diverging(1.0), Color32::from_rgb(255, 160, 40));
        assert_eq!(diverging(-5.0), Color32::from_rgb(70, 160, 255));
        let m = WeightMatrix {
            rows: 2,
            cols: 4,
            values: vec![1.0, -1.0, 0.0, 0.5, 2.0, 0.0, 0.0, 0.0],
            side: 2,
        };
        let img = weight_tiles(&m, &[1, 0], 2, 1, false);
        assert_eq!(img.size, [7, 4]);
        // Tile 0 is row 1: its first pixel is its maximum.
        assert_eq!(img.pixels[7 + 1], diverging(1.0));
        // Tile 1 is row 0 on its own scale: -1 at (1, 0).
        assert_eq!(img.pixels[7 + 5], diverging(-1.0));
        let shared = weight_tiles(&m, &[0], 1, 0, true);
        assert_eq!(shared.pixels[0], diverging(0.5));
    }
}
