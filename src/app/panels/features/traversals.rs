//! The Features panel's traversals: start from a test digit's code or the mean code, move one
//! slider per code dimension (up to 32, ordered by variance or, for a VAE, by KL; each over
//! that dimension's 1st-99th percentile of the test codes) and see the decoded image change;
//! beside it a grid whose rows sweep the leading dimensions from low to high, the others held.

use egui::TextureHandle;

use super::{Analysis, Key};
use crate::analysis::features;
use crate::app::widgets;
use crate::app::Shared;

/// Most sliders shown.
pub const MAX_SLIDERS: usize = 32;
/// Rows (dimensions) and columns (steps) of the traversal grid.
pub const GRID_DIMS: usize = 6;
pub const GRID_STEPS: usize = 9;

/// Where the sliders start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base {
    /// Every dimension at its mean.
    Mean,
    /// The code of test image `i`.
    Digit(usize),
}

pub struct TraversalView {
    pub base: Base,
    /// The code the sliders set.
    pub values: Vec<f32>,
    /// The base code (the sliders' starting point).
    base_code: Vec<f32>,
    made_for: Option<(Key, Base)>,
    /// The code the decoded image shows.
    decoded_for: Vec<f32>,
    decoded_tex: Option<TextureHandle>,
    /// The decoded image's pixels (tests read them).
    pub decoded: Vec<f32>,
    grid_tex: Option<TextureHandle>,
    base_tex: Option<TextureHandle>,
    digit: usize,
    error: Option<String>,
}

impl Default for TraversalView {
    fn default() -> Self {
        Self {
            base: Base::Digit(0),
            values: Vec::new(),
            base_code: Vec::new(),
            made_for: None,
            decoded_for: Vec::new(),
            decoded_tex: None,
            decoded: Vec::new(),
            grid_tex: None,
            base_tex: None,
            digit: 0,
            error: None,
        }
    }
}

impl TraversalView {
    /// The test digit the sliders start from (or would, from the mean code).
    pub fn digit(&self) -> usize {
        match self.base {
            Base::Digit(i) => i,
            Base::Mean => self.digit,
        }
    }

    /// Recomputes the base code and the grid when the model or the base changes.
    fn refresh(&mut self, ctx: &egui::Context, shared: &Shared, a: &Analysis) {
        if self.made_for == Some((a.key, self.base)) {
            return;
        }
        self.made_for = Some((a.key, self.base));
        self.error = None;
        let base = match self.base {
            Base::Mean => a.stats.mean_code(),
            Base::Digit(i) if i < shared.data.test.len() => {
                let img = shared.data.test.image(i);
                self.base_tex = Some(widgets::texture(
                    ctx,
                    "features-base",
                    widgets::digit_image(img),
                ));
                match a.model.encode(img) {
                    Ok(c) => c,
                    Err(e) => {
                        self.error = Some(e.to_string());
                        a.stats.mean_code()
                    }
                }
            }
            Base::Digit(_) => a.stats.mean_code(),
        };
        if matches!(self.base, Base::Mean) {
            self.base_tex = None;
        }
        self.values = base.clone();
        self.base_code = base.clone();
        self.decoded_for.clear();
        let dims: Vec<usize> = a.stats.order().into_iter().take(GRID_DIMS).collect();
        let grid = features::traversal_codes(&base, &a.stats, &dims, GRID_STEPS)
            .map_err(|e| e.to_string())
            .and_then(|codes| a.model.decode(&codes).map_err(|e| e.to_string()));
        match grid {
            Ok(px) => {
                let img = widgets::tile_image(&px, GRID_STEPS, 1);
                widgets::set_texture(&mut self.grid_tex, ctx, "features-grid", img);
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// Decodes the sliders' code when it changed.
    fn decode(&mut self, ctx: &egui::Context, a: &Analysis) {
        if self.values == self.decoded_for && self.decoded_tex.is_some() {
            return;
        }
        match a.model.decode(&self.values) {
            Ok(px) if px.len() == crate::PIXELS => {
                widgets::set_texture(
                    &mut self.decoded_tex,
                    ctx,
                    "features-decoded",
                    widgets::digit_image(&px),
                );
                self.decoded = px;
                self.decoded_for = self.values.clone();
            }
            Ok(_) => self.error = Some("the decoder's output is not 28x28".into()),
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &Shared, a: &Analysis) {
        ui.set_max_width(ui.available_width());
        ui.heading("Traversals");
        let n_test = shared.data.test.len();
        ui.horizontal_wrapped(|ui| {
            ui.label("Start from");
            if ui
                .selectable_label(matches!(self.base, Base::Digit(_)), "Test digit")
                .clicked()
            {
                self.base = Base::Digit(self.digit);
            }
            if ui
                .add(egui::DragValue::new(&mut self.digit).range(0..=n_test.saturating_sub(1)))
                .on_hover_text("Which test image's code the sliders start from.")
                .changed()
            {
                self.base = Base::Digit(self.digit);
            }
            if ui
                .selectable_label(self.base == Base::Mean, "Mean code")
                .clicked()
            {
                self.base = Base::Mean;
            }
            if ui.button("Reset sliders").clicked() {
                self.values = self.base_code.clone();
            }
        });
        self.refresh(ui.ctx(), shared, a);
        let k = a.stats.k();
        if self.values.len() != k {
            self.values = a.stats.mean_code();
        }
        self.decode(ui.ctx(), a);
        let big = 112.0;
        let order = a.stats.order();
        let vae = a.stats.units.first().is_some_and(|u| u.kl.is_some());
        ui.horizontal_top(|ui| {
            ui.vertical(|ui| {
                if let Some(t) = &self.base_tex {
                    ui.label("Start");
                    widgets::show_texture(ui, t, big * 0.5);
                }
                ui.label("Decoded");
                match &self.decoded_tex {
                    Some(t) => {
                        let r = widgets::show_texture(ui, t, big);
                        widgets::name_widget(&r, "Decoded image");
                    }
                    None => {
                        widgets::empty_square(ui, big);
                    }
                }
            });
            ui.vertical(|ui| {
                ui.label(format!(
                    "{} of {k} dimensions, by {}",
                    k.min(MAX_SLIDERS),
                    if vae { "KL" } else { "variance" }
                ));
                egui::ScrollArea::vertical()
                    .id_salt("features-sliders")
                    .max_height(big * 1.9)
                    .show(ui, |ui| {
                        for &d in order.iter().take(MAX_SLIDERS) {
                            let u = &a.stats.units[d];
                            let (mut lo, mut hi) = (u.p01, u.p99);
                            if hi <= lo {
                                lo -= 0.5;
                                hi += 0.5;
                            }
                            let v = &mut self.values[d];
                            let r = ui.add(
                                egui::Slider::new(v, lo..=hi)
                                    .text(format!("z{}", d + 1))
                                    .fixed_decimals(2),
                            );
                            widgets::name_widget(&r, &format!("Slider z{}", d + 1));
                        }
                    });
            });
        });
        if let Some(e) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        ui.label(format!(
            "Each row sweeps one of the {} leading dimensions from its 1st to its 99th percentile:",
            GRID_DIMS.min(k)
        ));
        if let Some(t) = &self.grid_tex {
            let s = t.size_vec2();
            let w = ui.available_width().min(s.x * 1.15);
            let r = ui.add(egui::Image::new(t).fit_to_exact_size(s * (w / s.x)));
            widgets::name_widget(&r, "Traversal grid");
        }
        widgets::help_note(
            ui,
            "features-traversal-help",
            "The sliders hold a code z; the image is decoder(z). Each slider moves one \
             dimension between the 1st and 99th percentile of that dimension over the test \
             images, the others staying where they are. A dimension that changes the digit's \
             slant, thickness or identity has learned that factor; a dimension that changes \
             nothing is unused. Dimensions are ordered by their variance over the test codes (for \
             a VAE by their KL, the information they carry). For a 2-D code this is the same as \
             clicking the latent map.",
        );
    }
}
