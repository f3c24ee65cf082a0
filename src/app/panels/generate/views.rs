//! The Generate panel's four views: one style written as every class (large), the style ×
//! class grid, the style plane with a slider per style dimension, and prior samples. Each
//! makes its images with `analysis::generate` when what they depend on changes (decoding a few
//! hundred images takes milliseconds), keeps them in [`Shown`] for the export, and says what the
//! pixel probe makes of them.

use std::sync::Arc;

use egui::{Color32, RichText, Vec2};

use super::source::Style;
use super::{GeneratePanel, Shown, MAX_GRID_ROWS, PLANE_EXTENT, PLANE_SIDE, PRIOR_COLUMNS};
use crate::analysis::generate::{self, Generator, PixelProbe};
use crate::app::widgets;
use crate::app::Shared;
use crate::data::Dataset;
use crate::model::TrainedModel;
use crate::PIXELS;

/// "digit" for the digits, else "class".
fn noun(data: &Dataset) -> &'static str {
    if data
        .class_names
        .iter()
        .take(10)
        .enumerate()
        .all(|(i, n)| *n == i.to_string())
    {
        "digit"
    } else {
        "class"
    }
}

/// One line: how many of the shown images the probe recognises as the class asked for.
fn recognised_line(ui: &mut egui::Ui, probe: Option<&PixelProbe>, shown: &mut Shown) {
    match probe {
        Some(p) if !shown.asked.is_empty() => {
            let asked = shown.asked.clone();
            let hits = shown
                .seen(Some(p))
                .unwrap_or_default()
                .iter()
                .zip(&asked)
                .filter(|(a, b)| a == b)
                .count();
            ui.label(format!(
                "The pixel probe recognises {hits} of these {} as the class asked for.",
                asked.len()
            ))
            .on_hover_text(format!("Judged by {}.", p.describe()));
        }
        Some(_) => {}
        None => widgets::busy_line(ui, "Training the pixel probe on the data set's labels…"),
    }
}

impl GeneratePanel {
    /// Keeps `self.shown` for `key`, making it with `make` (images, asked, tiled image) when
    /// the key changed. False (and a message) when making failed.
    fn ensure_shown(
        &mut self,
        ctx: &egui::Context,
        key: String,
        make: impl FnOnce() -> Result<(Vec<f32>, Vec<u8>, egui::ColorImage), String>,
    ) -> bool {
        if self.shown.as_ref().is_some_and(|s| s.key == key) {
            return true;
        }
        match make() {
            Ok((images, asked, png)) => {
                let tex = widgets::texture(ctx, "generate-shown", png.clone());
                self.shown = Some(Shown {
                    key,
                    images,
                    asked,
                    png,
                    tex,
                    tiles: Vec::new(),
                    seen: None,
                    kept: None,
                });
                self.message = None;
                true
            }
            Err(e) => {
                self.message = Some(e);
                self.shown = None;
                false
            }
        }
    }

    /// One style, written as every class, large.
    pub(super) fn every_class_view(
        &mut self,
        ui: &mut egui::Ui,
        shared: &Shared,
        model: &Arc<TrainedModel>,
        classes: usize,
        probe: Option<&PixelProbe>,
    ) {
        let data = shared.data.clone();
        let style = self.style(&data, classes, probe);
        let avail = ui.available_size();
        let left = (avail.x * 0.3).clamp(170.0, 260.0);
        ui.horizontal_top(|ui| {
            ui.vertical(|ui| {
                ui.set_width(left);
                self.source_ui(ui, shared, &style, classes, left - 8.0);
                ui.add_space(4.0);
                if ui
                    .button("Add to the grid")
                    .on_hover_text("Adds this style as a row of the style × class grid.")
                    .clicked()
                {
                    self.add_grid_row(&style);
                }
            });
            ui.separator();
            ui.vertical(|ui| self.every_class_images(ui, model, &data, &style, classes, probe));
        });
    }

    fn every_class_images(
        &mut self,
        ui: &mut egui::Ui,
        model: &Arc<TrainedModel>,
        data: &Dataset,
        style: &Style,
        classes: usize,
        probe: Option<&PixelProbe>,
    ) {
        if self.source == super::Source::Drawing && self.canvas.is_blank() {
            ui.heading("Draw a digit on the canvas");
            ui.label("Its style, written as every class, appears here as you draw.");
            return;
        }
        ui.heading(format!(
            "Your {}, written as every {}",
            data.class_name(style.class),
            noun(data)
        ));
        let key = format!("every-{:?}-{:?}-{}", model.id(), data.id(), style.stamp);
        let ok = self.ensure_shown(ui.ctx(), key, || {
            let z = generate::style_codes(model, &style.pixels, &[style.class])
                .map_err(|e| e.to_string())?;
            let (images, asked) = generate::every_class(model, &z).map_err(|e| e.to_string())?;
            let png = widgets::tile_image(&images, classes.div_ceil(2).max(1), 1);
            Ok((images, asked, png))
        });
        if !ok {
            return;
        }
        let Some(shown) = self.shown.as_mut() else {
            return;
        };
        if shown.tiles.len() != shown.asked.len() {
            shown.tiles = shown
                .images
                .chunks_exact(PIXELS)
                .enumerate()
                .map(|(i, px)| {
                    widgets::texture(
                        ui.ctx(),
                        &format!("generate-tile-{i}"),
                        widgets::digit_image(px),
                    )
                })
                .collect();
        }
        let seen = shown.seen(probe).map(<[u8]>::to_vec);
        let cols = classes.div_ceil(2).clamp(1, 8);
        let rows = classes.div_ceil(cols);
        let avail = ui.available_size();
        let text_h = ui.text_style_height(&egui::TextStyle::Body) + 6.0;
        let cell = ((avail.x - 8.0 * cols as f32) / cols as f32)
            .min((avail.y - 70.0) / rows as f32 - text_h)
            .clamp(40.0, 150.0);
        egui::Grid::new("generate-every")
            .spacing([8.0, 4.0])
            .show(ui, |ui| {
                for r in 0..rows {
                    for c in 0..cols {
                        let i = r * cols + c;
                        let Some(tex) = shown.tiles.get(i) else {
                            continue;
                        };
                        // A column as wide as its tile: a centred layout alone would take the
                        // column's whole width, and a grid's columns never shrink back.
                        ui.vertical(|ui| {
                            ui.set_width(cell);
                            ui.vertical_centered(|ui| {
                                let resp = widgets::show_texture(ui, tex, cell);
                                widgets::name_widget(
                                    &resp,
                                    &format!("Generated {}", data.class_name(i as u8)),
                                );
                                let asked = i as u8;
                                let label = match seen.as_ref().and_then(|s| s.get(i)) {
                                    Some(&s) if s == asked => {
                                        RichText::new(data.class_name(asked)).strong()
                                    }
                                    Some(&s) => RichText::new(format!(
                                        "{} (seen as {})",
                                        data.class_name(asked),
                                        data.class_name(s)
                                    ))
                                    .color(Color32::from_rgb(0xD5, 0x5E, 0x00)),
                                    None => RichText::new(data.class_name(asked)),
                                };
                                ui.label(label);
                            });
                        });
                    }
                    ui.end_row();
                }
            });
        if !self.hide_measures {
            recognised_line(ui, probe, shown);
        }
    }

    fn add_grid_row(&mut self, style: &Style) {
        if self.grid_rows.len() >= MAX_GRID_ROWS {
            self.grid_rows.remove(0);
        }
        self.grid_rows
            .push((style.name.clone(), style.pixels.clone(), style.class));
    }

    /// The grid's style sources: the user's rows, or the first test image of each class.
    fn grid_sources(&self, data: &Dataset, classes: usize) -> Vec<(String, Vec<f32>, u8)> {
        if !self.grid_rows.is_empty() {
            return self.grid_rows.clone();
        }
        generate::held_out_sources(data, classes, 1)
            .into_iter()
            .map(|i| {
                let l = data.test.labels[i];
                (format!("test image {i}"), data.test.image(i).to_vec(), l)
            })
            .collect()
    }

    /// Several styles (rows) written as every class (columns), each row's source first.
    pub(super) fn grid_view(
        &mut self,
        ui: &mut egui::Ui,
        model: &Arc<TrainedModel>,
        data: &Dataset,
        classes: usize,
        probe: Option<&PixelProbe>,
    ) {
        let sources = self.grid_sources(data, classes);
        ui.horizontal_wrapped(|ui| {
            ui.label(if self.grid_rows.is_empty() {
                "Rows: the first test image of each class (left, its source), written as every \
                 class (columns). Add your own rows from the Every class view."
                    .to_string()
            } else {
                format!(
                    "Rows: your {} style sources (left), written as every class.",
                    self.grid_rows.len()
                )
            });
            if !self.grid_rows.is_empty() && ui.button("Back to the test images").clicked() {
                self.grid_rows.clear();
            }
        });
        let stamp: String = sources
            .iter()
            .map(|(n, _, c)| format!("{n}:{c};"))
            .collect();
        let key = format!("grid-{:?}-{:?}-{stamp}", model.id(), data.id());
        // The rows' style measure, taken when the grid is made (not every frame).
        let mut kept = None;
        let ok = self.ensure_shown(ui.ctx(), key, || {
            let px: Vec<f32> = sources.iter().flat_map(|s| s.1.iter().copied()).collect();
            let labels: Vec<u8> = sources.iter().map(|s| s.2).collect();
            let z = generate::style_codes(model, &px, &labels).map_err(|e| e.to_string())?;
            let (images, asked) = generate::every_class(model, &z).map_err(|e| e.to_string())?;
            if sources.len() >= 2 {
                kept = generate::style_kept(model, &z, &images).ok();
            }
            let mut tiles = Vec::with_capacity((images.len() / PIXELS + sources.len()) * PIXELS);
            for (r, row) in images.chunks_exact(classes * PIXELS).enumerate() {
                tiles.extend_from_slice(&sources[r].1);
                tiles.extend_from_slice(row);
            }
            Ok((images, asked, widgets::tile_image(&tiles, classes + 1, 2)))
        });
        if !ok {
            return;
        }
        let Some(shown) = self.shown.as_mut() else {
            return;
        };
        if kept.is_some() {
            shown.kept = kept;
        }
        let [w, h] = shown.png.size;
        let avail = ui.available_size();
        let head = ui.text_style_height(&egui::TextStyle::Small) + 4.0;
        let scale = ((avail.x - 10.0) / w as f32)
            .min((avail.y - 80.0 - head) / h as f32)
            .clamp(0.5, 4.0);
        // Column headings over the tiles: "source", then the classes.
        let (strip, _) =
            ui.allocate_exact_size(Vec2::new(w as f32 * scale, head), egui::Sense::hover());
        let resp = ui.add(
            egui::Image::new(&shown.tex).fit_to_exact_size(Vec2::new(w as f32, h as f32) * scale),
        );
        widgets::name_widget(&resp, "Style by class grid");
        let font = egui::TextStyle::Small.resolve(ui.style());
        let color = ui.visuals().text_color();
        for c in 0..=classes {
            // tile_image: a 2-pixel gap, then 28-pixel tiles each followed by a gap.
            let x = strip.left() + (2.0 + c as f32 * 30.0 + 14.0) * scale;
            let text = if c == 0 {
                "source".to_string()
            } else {
                data.class_name(c as u8 - 1)
            };
            ui.painter().text(
                egui::pos2(x, strip.center().y),
                egui::Align2::CENTER_CENTER,
                text,
                font.clone(),
                color,
            );
        }
        if !self.hide_measures {
            recognised_line(ui, probe, shown);
        }
        if let (Some(k), false) = (&shown.kept, self.hide_measures) {
            ui.label(RichText::new(format!("These rows: {}.", k.describe())).small());
        }
    }

    /// One class across two style dimensions, and a slider per dimension.
    pub(super) fn plane_view(
        &mut self,
        ui: &mut egui::Ui,
        shared: &Shared,
        model: &Arc<TrainedModel>,
        classes: usize,
        probe: Option<&PixelProbe>,
    ) {
        let data = shared.data.clone();
        let k = model.latent();
        let style = self.style(&data, classes, probe);
        let blank = self.source == super::Source::Drawing && self.canvas.is_blank();
        let z = if blank {
            Vec::new()
        } else {
            generate::style_codes(model, &style.pixels, &[style.class]).unwrap_or_default()
        };
        let from = format!("{:?}-{}", model.id(), style.stamp);
        if self.sliders_from.as_deref() != Some(&from) || self.sliders.len() != k {
            self.sliders = if z.len() == k {
                z.clone()
            } else {
                vec![0.0; k]
            };
            self.sliders_from = Some(from);
        }
        self.plane_class = self.plane_class.min(classes.saturating_sub(1) as u8);
        if self.plane_dims.0 >= k
            || self.plane_dims.1 >= k
            || self.plane_dims.0 == self.plane_dims.1
        {
            self.plane_dims = (0, 1.min(k.saturating_sub(1)));
        }
        ui.horizontal_wrapped(|ui| {
            ui.label("Class");
            let mut c = self.plane_class;
            egui::ComboBox::from_id_salt("plane-class")
                .selected_text(data.class_name(c))
                .show_ui(ui, |ui| {
                    for i in 0..classes.min(256) {
                        ui.selectable_value(&mut c, i as u8, data.class_name(i as u8));
                    }
                });
            self.plane_class = c;
            if k > 2 {
                let (mut a, mut b) = self.plane_dims;
                ui.label("across z");
                egui::ComboBox::from_id_salt("plane-x")
                    .selected_text(format!("{}", a + 1))
                    .show_ui(ui, |ui| {
                        for d in 0..k {
                            ui.selectable_value(&mut a, d, format!("{}", d + 1));
                        }
                    });
                ui.label("and z");
                egui::ComboBox::from_id_salt("plane-y")
                    .selected_text(format!("{}", b + 1))
                    .show_ui(ui, |ui| {
                        for d in 0..k {
                            ui.selectable_value(&mut b, d, format!("{}", d + 1));
                        }
                    });
                if a != b {
                    self.plane_dims = (a, b);
                }
                ui.weak("(the others as your style has them)");
            }
        });
        ui.weak(format!(
            "The other dimensions and the sliders start from your style: {} read as {} (change \
             it in Every class).",
            style.name,
            data.class_name(style.class)
        ));
        if k < 2 {
            ui.label("A 1-D style code has no plane: use the slider.");
        }
        let avail = ui.available_size();
        ui.horizontal_top(|ui| {
            if k >= 2 {
                let (a, b) = self.plane_dims;
                let key = format!(
                    "plane-{:?}-{}-{}-{a}-{b}-{:?}",
                    model.id(),
                    style.stamp,
                    self.plane_class,
                    z
                );
                let class = self.plane_class;
                let ok = self.ensure_shown(ui.ctx(), key, || {
                    let base = if z.len() == k {
                        z.clone()
                    } else {
                        vec![0.0; k]
                    };
                    let images = generate::style_plane(
                        model,
                        class,
                        &base,
                        (a, b),
                        PLANE_SIDE,
                        PLANE_EXTENT,
                    )
                    .map_err(|e| e.to_string())?;
                    let asked = vec![class; PLANE_SIDE * PLANE_SIDE];
                    Ok((
                        images.clone(),
                        asked,
                        widgets::tile_image(&images, PLANE_SIDE, 1),
                    ))
                });
                if ok {
                    if let Some(shown) = &self.shown {
                        ui.vertical(|ui| {
                            let side = (avail.x * 0.55).min(avail.y - 60.0).clamp(160.0, 520.0);
                            let resp = widgets::show_texture(ui, &shown.tex, side);
                            widgets::name_widget(&resp, "Style plane");
                            ui.label(
                                RichText::new(format!(
                                    "{} decoded with z{} from −{PLANE_EXTENT} (left) to \
                                     +{PLANE_EXTENT} (right), z{} from −{PLANE_EXTENT} (bottom) \
                                     to +{PLANE_EXTENT} (top)",
                                    data.class_name(self.plane_class),
                                    a + 1,
                                    b + 1
                                ))
                                .small(),
                            );
                        });
                    }
                }
            }
            ui.separator();
            ui.vertical(|ui| self.sliders_ui(ui, model, &data, classes));
        });
    }

    /// A slider per style dimension and the class decoded from them, with the whole row of
    /// classes small beneath.
    fn sliders_ui(
        &mut self,
        ui: &mut egui::Ui,
        model: &Arc<TrainedModel>,
        data: &Dataset,
        classes: usize,
    ) {
        ui.strong("Style sliders");
        for (d, v) in self.sliders.iter_mut().enumerate() {
            ui.add(egui::Slider::new(v, -3.0..=3.0).text(format!("z{}", d + 1)));
        }
        if ui
            .small_button("Back to your style")
            .on_hover_text("Sets the sliders to the style source's code.")
            .clicked()
        {
            self.sliders_from = None;
        }
        let key = format!("{:?}-{:?}", model.id(), self.sliders);
        if self.slider_tex.as_ref().map(|t| &t.0) != Some(&key) {
            if let Ok((images, _)) = generate::every_class(model, &self.sliders) {
                let img = widgets::tile_image(&images, classes.div_ceil(2).max(1), 1);
                self.slider_tex = Some((key, widgets::texture(ui.ctx(), "generate-sliders", img)));
            }
        }
        if let Some((_, tex)) = &self.slider_tex {
            let w = ui.available_width().clamp(160.0, 360.0);
            let [iw, ih] = tex.size();
            let resp = ui.add(
                egui::Image::new(tex)
                    .fit_to_exact_size(Vec2::new(w, w * ih as f32 / iw.max(1) as f32)),
            );
            widgets::name_widget(&resp, "Slider style as every class");
            ui.label(
                RichText::new(format!(
                    "the sliders' style, written as every {}",
                    noun(data)
                ))
                .small(),
            );
        }
    }

    /// z ~ N(0, I) decoded with every label (rows: classes), or a plain VAE's samples.
    pub(super) fn prior_view(
        &mut self,
        ui: &mut egui::Ui,
        model: &Arc<TrainedModel>,
        data: &Dataset,
        kind: Generator,
        probe: Option<&PixelProbe>,
    ) {
        ui.horizontal_wrapped(|ui| {
            ui.label(match kind {
                Generator::Conditional(_) => {
                    "z drawn from the prior N(0, I), decoded with each label: one row per class, \
                     one column per draw (a column shares its z, so its style)."
                }
                Generator::Prior => "z drawn from the prior N(0, I), decoded.",
            });
            if ui.button("New samples").clicked() {
                self.prior_seed += 1;
            }
        });
        let seed = self.prior_seed;
        let key = format!("prior-{:?}-{seed}", model.id());
        let ok = self.ensure_shown(ui.ctx(), key, || match kind {
            Generator::Conditional(_) => {
                let (images, asked) = generate::prior_per_class(model, PRIOR_COLUMNS, seed)
                    .map_err(|e| e.to_string())?;
                Ok((
                    images.clone(),
                    asked,
                    widgets::tile_image(&images, PRIOR_COLUMNS, 1),
                ))
            }
            Generator::Prior => {
                let images = generate::prior_samples(model, PRIOR_COLUMNS * PRIOR_COLUMNS, seed)
                    .map_err(|e| e.to_string())?;
                Ok((
                    images.clone(),
                    Vec::new(),
                    widgets::tile_image(&images, PRIOR_COLUMNS, 1),
                ))
            }
        });
        if !ok {
            return;
        }
        let Some(shown) = self.shown.as_mut() else {
            return;
        };
        let [w, h] = shown.png.size;
        let avail = ui.available_size();
        let scale = ((avail.x - 10.0) / w as f32)
            .min((avail.y - 50.0) / h as f32)
            .clamp(0.5, 5.0);
        let resp = ui.add(
            egui::Image::new(&shown.tex).fit_to_exact_size(Vec2::new(w as f32, h as f32) * scale),
        );
        widgets::name_widget(&resp, "Prior samples");
        if let Generator::Conditional(_) = kind {
            ui.label(
                RichText::new(format!(
                    "Rows, top to bottom: {}",
                    (0..shown.asked.len() / PRIOR_COLUMNS)
                        .map(|c| data.class_name(c as u8))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .small(),
            );
            if !self.hide_measures {
                recognised_line(ui, probe, shown);
            }
        }
    }
}
