//! The Latent space panel's side column: what it shows (with the one note that explains the
//! map), the class legend, the selected image with each run's reconstruction, the decoded
//! location, the user's picture and the prior samples.

use std::sync::Arc;

use egui::Stroke;

use super::pane::image_row;
use super::{LatentMap, LatentPanel, PRIOR_SAMPLES};
use crate::app::widgets::{self, tile_image};

impl LatentPanel {
    pub(super) fn side(
        &mut self,
        ui: &mut egui::Ui,
        map: &Arc<LatentMap>,
        bmap: Option<&Arc<LatentMap>>,
    ) {
        let ctx = ui.ctx().clone();
        widgets::help_note(
            ui,
            "latent-help",
            "Each dot is one image, placed where the encoder puts its code and coloured by its \
             class. Images the network finds alike land close together. With a code wider \
             than 2 values, the dots are the codes' projection on two principal components, or a \
             t-SNE or UMAP map of them (chosen above the map), which keeps neighbours near but \
             not distances. Clicking empty space runs the decoder on that location (for wider \
             codes on PCA: the mean code moved along the two components shown; on t-SNE and \
             UMAP: the inverse-distance weighted mean of the nearest points' codes), so you \
             can see what the model has learned to draw there. The manifold overlay does that \
             on a whole grid.",
        );
        ui.add_space(4.0);
        self.legend(ui, map);

        if let Some(d) = &mut self.decoded {
            ui.separator();
            ui.strong("Decoded at the clicked location");
            ui.weak(format!("({:.2}, {:.2})", d.xy[0], d.xy[1]));
            if let crate::analysis::Projection::Map(m) = &map.projection {
                ui.label(format!(
                    "{} has no inverse: this is the decoded inverse-distance weighted mean of \
                     the codes of the {} nearest points on the map.",
                    m.method.name(),
                    crate::analysis::projection::IDW_NEIGHBOURS
                ));
            }
            widgets::ensure_digit_texture(&mut d.tex, &ctx, "latent-decoded", &d.pixels);
            if let Some(t) = &d.tex {
                widgets::show_texture(ui, t, 150.0);
            }
        }
        if let Some(s) = &mut self.selected {
            let split = map.split_data();
            if s.index < split.len() {
                ui.separator();
                let name = map.data.class_name(split.labels[s.index]);
                ui.strong(format!("{name} · {} image #{}", map.split.name(), s.index));
                widgets::ensure_digit_texture(
                    &mut s.tex_image,
                    &ctx,
                    "latent-selected",
                    split.image(s.index),
                );
                let index = s.index;
                let [a, b] = &mut self.panes;
                let ta = a.recon_texture(&ctx, index);
                let tb = bmap.and_then(|_| b.recon_texture(&ctx, index));
                match (bmap, tb) {
                    (Some(bm), Some(tb)) => {
                        let a_name = format!("A: {}", map.model.config().variant.name());
                        let b_name = format!("B: {}", bm.model.config().variant.name());
                        image_row(
                            ui,
                            &[
                                (s.tex_image.as_ref(), "image"),
                                (ta, &a_name),
                                (Some(tb), &b_name),
                            ],
                        );
                        ui.weak("Reconstructions by A and B.");
                    }
                    _ => image_row(
                        ui,
                        &[(s.tex_image.as_ref(), "image"), (ta, "reconstruction")],
                    ),
                }
            }
        }
        self.highlight_side(ui, map);
        self.posterior_side(ui, map);
        if let Some(u) = &mut self.picture {
            ui.separator();
            ui.strong("Your picture");
            ui.weak(format!(
                "{} lands at ({:.2}, {:.2})",
                u.picture.name, u.xy[0], u.xy[1]
            ));
            if u.tex_in.is_none() {
                widgets::set_texture(
                    &mut u.tex_in,
                    &ctx,
                    "latent-picture",
                    widgets::digit_image(&u.picture.pixels),
                );
                widgets::set_texture(
                    &mut u.tex_recon,
                    &ctx,
                    "latent-picture-recon",
                    widgets::digit_image(&u.recon),
                );
            }
            image_row(
                ui,
                &[
                    (u.tex_in.as_ref(), "preprocessed"),
                    (u.tex_recon.as_ref(), "reconstruction"),
                ],
            );
        }
        if let Some(e) = &self.picture_error {
            ui.colored_label(ui.visuals().warn_fg_color, e);
        }
        if self.picture_job.is_some() {
            widgets::busy_line(ui, "Reading the picture…");
        }
        let mut clear_prior = false;
        if let Some(p) = &mut self.prior {
            ui.separator();
            let title = match p.from {
                Some(i) => format!("Samples from image #{i}'s posterior"),
                None => "Samples from the prior N(0, I)".into(),
            };
            ui.horizontal(|ui| {
                ui.strong(title);
                clear_prior = ui.small_button("Clear").clicked();
            });
            if p.tex.is_none() {
                widgets::set_texture(
                    &mut p.tex,
                    &ctx,
                    "latent-prior",
                    tile_image(&p.pixels, 4, 1),
                );
            }
            if let Some(t) = &p.tex {
                let w = ui.available_width().min(240.0);
                let r = ui
                    .add(egui::Image::new(t).fit_to_exact_size(egui::vec2(w, w)))
                    .rect;
                // Number the tiles like the squares on the map.
                let tile = r.width() / 4.0;
                for i in 0..PRIOR_SAMPLES {
                    let at = r.min + egui::vec2((i % 4) as f32 * tile, (i / 4) as f32 * tile);
                    ui.painter().text(
                        at + egui::vec2(3.0, 2.0),
                        egui::Align2::LEFT_TOP,
                        (i + 1).to_string(),
                        egui::FontId::proportional(10.0),
                        ui.visuals().weak_text_color(),
                    );
                }
            }
            ui.weak("The numbered squares on the map show where each sample lies.");
        }
        if clear_prior {
            self.prior = None;
        }
    }

    pub(super) fn legend(&mut self, ui: &mut egui::Ui, map: &LatentMap) {
        let mut counts = vec![0usize; self.hidden.len()];
        for &l in &map.points.labels {
            if let Some(c) = counts.get_mut(l as usize) {
                *c += 1;
            }
        }
        ui.horizontal(|ui| {
            ui.strong("Classes");
            if ui.small_button("All").clicked() {
                self.hidden.iter_mut().for_each(|h| *h = false);
            }
            if ui.small_button("None").clicked() {
                self.hidden.iter_mut().for_each(|h| *h = true);
            }
        });
        egui::Grid::new("latent-legend")
            .num_columns(2)
            .spacing(egui::vec2(8.0, 2.0))
            .show(ui, |ui| {
                // Only the classes present in the map (a dataset may name more).
                let present = counts.iter().enumerate().filter(|(_, &n)| n > 0);
                for (shown, (label, count)) in present.enumerate() {
                    ui.horizontal(|ui| {
                        let (r, _) =
                            ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
                        let c = widgets::class_color(label as u8);
                        if self.hidden[label] {
                            ui.painter()
                                .circle_stroke(r.center(), 4.5, Stroke::new(1.5, c));
                        } else {
                            ui.painter().circle_filled(r.center(), 5.0, c);
                        }
                        let mut on = !self.hidden[label];
                        let name = map.data.class_name(label as u8);
                        if ui
                            .checkbox(&mut on, name)
                            .on_hover_text(format!(
                                "{} {} images; untick to hide them",
                                widgets::thousands(*count as f64),
                                map.split.name()
                            ))
                            .changed()
                        {
                            self.hidden[label] = !on;
                        }
                    });
                    if shown % 2 == 1 {
                        ui.end_row();
                    }
                }
            });
    }
}
