//! The Compression panel's side-by-side view: a byte budget, and the same test images decoded
//! by the autoencoder (the most bits that fit), PCA (its best k and b within the budget) and the
//! JPEG whose mean size is nearest the budget, each with its bytes and per-image PSNR. The
//! decoding is `analysis::codec`'s, in a background job keyed on the model, the datasets, the
//! PCA and the budget.

use egui::{RichText, TextureHandle};

use super::*;
use crate::analysis::codec::{Decoded, Method};
use crate::tasks::Keyed;

/// Images in the side-by-side view.
pub const IMAGES: usize = 8;
const TILE: f32 = 44.0;

/// The same images decoded by each method at one budget.
pub struct SideBySide {
    pub originals: Vec<f32>,
    /// (method's title, its images) for the autoencoder, PCA and JPEG.
    pub rows: Vec<(String, Decoded)>,
}

type Key = (Id, Id, Id, Id, u64);

#[derive(Default)]
pub(super) struct BudgetView {
    /// The side by side for the focus model, datasets, PCA and budget.
    views: Keyed<Key, SideBySide>,
    /// One texture per image: originals first, then each row's.
    textures: Vec<TextureHandle>,
}

impl BudgetView {
    pub fn working(&self) -> bool {
        self.views.is_running()
    }

    /// The last side by side computed, unless its computation failed.
    fn result(&self) -> Option<&SideBySide> {
        match self.views.last() {
            Some((_, Ok(s))) => Some(s),
            _ => None,
        }
    }
}

/// The first image of each class, in class order, then the next images, up to `n`.
fn pick(labels: &[u8], n: usize) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::new();
    for c in 0..=u8::MAX {
        if out.len() == n {
            break;
        }
        if let Some(i) = labels.iter().position(|&l| l == c) {
            out.push(i);
        }
    }
    for i in 0..labels.len() {
        if out.len() >= n {
            break;
        }
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

impl CompressionPanel {
    /// The side-by-side result, once computed (tests read it).
    pub fn side_by_side(&self) -> Option<&SideBySide> {
        self.budget_view.result()
    }

    pub(super) fn update_budget(&mut self, shared: &Shared) {
        if self.budget_view.views.poll() {
            self.budget_view.textures.clear();
        }
        if self.budget_view.views.is_running() {
            return;
        }
        let (Some(focus), Some(pca), Some(data)) = (
            self.focus_model(shared),
            shared.pca.clone(),
            self.target_data(shared, self.budget_target),
        ) else {
            return;
        };
        let home = shared.data.clone();
        let Some(ranges) = self.ranges.get(&(focus.model.id(), home.id())).cloned() else {
            return;
        };
        let Some(baseline) = self.baseline_points(shared, self.budget_target) else {
            return;
        };
        let budget = self.budget;
        let key = (
            focus.model.id(),
            home.id(),
            data.id(),
            pca.id(),
            budget.to_bits(),
        );
        let ctx = &shared.egui;
        self.budget_view.views.get_or_start(key, || {
            let k = focus.model.latent();
            let bits = codec::BITS
                .into_iter()
                .rev()
                .find(|&b| (k * b as usize) as f64 / 8.0 <= budget + 1e-9)
                .unwrap_or(codec::BITS[0]);
            let pca_pt = codec::best_within(&baseline, Method::Pca, budget);
            let jpeg_pt = codec::nearest(&baseline, Method::Jpeg, budget);
            let model = focus.model.clone();
            jobs::spawn("compression-budget", ctx, move || {
                let test = data.test.take(SUBSET);
                let picked = test.subset(&pick(&test.labels, IMAGES));
                let images = &picked.images;
                let err = |e: codec::CodecError| e.to_string();
                let mut rows = vec![(
                    "Autoencoder".to_string(),
                    codec::decode_autoencoder(&model, &ranges, images, bits).map_err(err)?,
                )];
                if let Some(p) = pca_pt {
                    let (k, b) = (p.k.unwrap_or(1), p.bits.unwrap_or(8));
                    rows.push((
                        "PCA".into(),
                        codec::decode_pca(&pca, &home.train.images, images, k, b).map_err(err)?,
                    ));
                }
                if let Some(q) = jpeg_pt.and_then(|p| p.quality) {
                    rows.push(("JPEG".into(), codec::decode_jpeg(images, q).map_err(err)?));
                }
                Ok(SideBySide {
                    originals: picked.images.clone(),
                    rows,
                })
            })
        });
    }

    pub(super) fn budget_ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        ui.separator();
        ui.horizontal_wrapped(|ui| {
            ui.strong("Side by side at");
            ui.add(
                egui::Slider::new(&mut self.budget, 1.0..=1024.0)
                    .logarithmic(true)
                    .max_decimals(0)
                    .suffix(" bytes per image"),
            );
            ui.label("on");
            let home = shared.data.name.clone();
            ui.selectable_value(&mut self.budget_target, Target::Home, home);
            if let Some(o) = &self.other {
                let name = o.name.clone();
                ui.selectable_value(&mut self.budget_target, Target::Other, name);
            }
            let models = Self::models(shared);
            let current = self.focus_model(shared);
            egui::ComboBox::from_id_salt("compression-focus")
                .selected_text(
                    current
                        .as_ref()
                        .map_or("no model".into(), |l| l.label.clone()),
                )
                .show_ui(ui, |ui| {
                    for l in &models {
                        let id = l.model.id();
                        if ui
                            .selectable_label(
                                current.as_ref().is_some_and(|c| c.model.id() == id),
                                &l.label,
                            )
                            .clicked()
                        {
                            self.focus = Some(id);
                        }
                    }
                });
        });
        if self.focus_model(shared).is_none() {
            ui.label(
                "No autoencoder yet: train one or load one (the Models menu has built-in ones).",
            );
            return;
        }
        if let Some((_, Err(e))) = self.budget_view.views.last() {
            ui.colored_label(ui.visuals().error_fg_color, format!("Cannot decode: {e}"));
        }
        let ctx = ui.ctx().clone();
        let view = &mut self.budget_view;
        let Some((_, Ok(s))) = view.views.last() else {
            ui.spinner();
            return;
        };
        if view.textures.is_empty() {
            let mut textures = Vec::new();
            let all = std::iter::once(&s.originals).chain(s.rows.iter().map(|(_, d)| &d.images));
            for (r, images) in all.enumerate() {
                for (i, px) in images.chunks_exact(crate::PIXELS).enumerate() {
                    textures.push(widgets::texture(
                        &ctx,
                        &format!("compression-{r}-{i}"),
                        widgets::digit_image(px),
                    ));
                }
            }
            view.textures = textures;
        }
        let n = s.originals.len() / crate::PIXELS;
        let tile = TILE * shared.draw_scale().sqrt();
        egui::Grid::new("compression-side")
            .spacing([6.0, 4.0])
            .show(ui, |ui| {
                ui.label("Original");
                for t in view.textures.iter().take(n) {
                    widgets::show_texture(ui, t, tile);
                }
                ui.end_row();
                for (r, (title, d)) in s.rows.iter().enumerate() {
                    ui.vertical(|ui| {
                        ui.set_min_width(110.0);
                        ui.strong(title);
                        ui.label(RichText::new(d.point.describe()).small());
                        ui.label(
                            RichText::new(format!(
                                "{:.1} B, {:.1} dB on these",
                                d.point.bytes_per_image, d.point.psnr
                            ))
                            .small(),
                        );
                        if let Some(h) = d.header_bytes {
                            ui.label(RichText::new(format!("{h} B of headers")).small())
                                .on_hover_text(
                                    "Markers, quantisation and Huffman tables: the same in every \
                                     file, before any image data.",
                                );
                        }
                    });
                    for (i, t) in view.textures.iter().skip((r + 1) * n).take(n).enumerate() {
                        ui.vertical(|ui| {
                            widgets::show_texture(ui, t, tile);
                            ui.label(
                                RichText::new(format!("{:.1} dB · {} B", d.psnr[i], d.bytes[i]))
                                    .small(),
                            );
                        });
                    }
                    ui.end_row();
                }
            });
        ui.label(
            RichText::new(
                "The autoencoder uses the most bits per dimension that fit the budget, PCA its \
                 best k and bits within it, JPEG the quality whose mean file size is nearest \
                 (no file is smaller than its headers and tables, measured in its row above).",
            )
            .weak(),
        );
    }
}
