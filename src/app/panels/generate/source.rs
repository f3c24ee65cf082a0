//! Where the Generate panel's style comes from: a test image (its class known), a digit drawn
//! on the canvas (the shared `widgets::canvas`, preprocessed MNIST-style as the Denoise panel
//! does) or a picture dropped on the window or opened (read and preprocessed by
//! `jobs::load_picture`); and the class it is read as: the user's choice, else the test
//! image's label, else the pixel probe's guess.

use egui::Vec2;

use super::GeneratePanel;
use crate::analysis::generate::PixelProbe;
use crate::app::jobs::{self, load_picture, DialogKind, PictureSource};
use crate::app::widgets::{self, canvas};
use crate::app::Shared;
use crate::data::Dataset;
use crate::PIXELS;

/// The style source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Test(usize),
    Drawing,
    Picture,
}

/// The style source's pixels, where the class comes from, and a stamp for caches.
pub struct Style {
    pub pixels: Vec<f32>,
    /// The class it is read as.
    pub class: u8,
    /// How that class was chosen ("its label", "your choice", "the probe's guess").
    pub why: &'static str,
    /// Changes when the pixels or the class do.
    pub stamp: String,
    /// A name for it ("test image 12", "your drawing", the picture's file name).
    pub name: String,
}

impl GeneratePanel {
    /// Reads dropped and opened pictures.
    pub(super) fn poll_pictures(&mut self, shared: &mut Shared) {
        if !shared.dropped_files.is_empty() {
            let mut files = std::mem::take(&mut shared.dropped_files);
            let f = files.swap_remove(0);
            self.picture_job = Some(load_picture(PictureSource::Dropped(f), &shared.egui));
        }
        if let Some(paths) = jobs::take_done(&mut self.open_dialog) {
            if let Some(p) = paths.into_iter().next() {
                self.picture_job = Some(load_picture(PictureSource::Path(p), &shared.egui));
            }
        }
        if let Some(r) = jobs::take_done(&mut self.picture_job) {
            match r {
                Ok(p) => {
                    self.message = p.blank.then(|| {
                        format!("{}: no ink found, the model sees a black square.", p.name)
                    });
                    self.picture = Some(p);
                    self.source = Source::Picture;
                    self.class_choice = None;
                }
                Err(e) => self.message = Some(e),
            }
        }
    }

    fn open_picture(&mut self, shared: &Shared) {
        match &shared.dialog_override {
            Some(p) => {
                self.picture_job = Some(load_picture(PictureSource::Path(p.clone()), &shared.egui))
            }
            None => {
                self.open_dialog = Some(jobs::file_dialog(DialogKind::OpenImages, &shared.egui, ""))
            }
        }
    }

    /// The style source as the model will see it, and its class.
    pub(super) fn style(
        &mut self,
        data: &Dataset,
        classes: usize,
        probe: Option<&PixelProbe>,
    ) -> Style {
        let picture = self.picture.clone();
        let (pixels, label, name, stamp) = match (self.source, picture) {
            (Source::Test(i), _) if !data.test.is_empty() => {
                let i = i.min(data.test.len() - 1);
                self.source = Source::Test(i);
                let l = data.test.labels[i];
                (
                    data.test.image(i).to_vec(),
                    Some(l),
                    format!("test image {i} ({})", data.class_name(l)),
                    format!("test{i}"),
                )
            }
            (Source::Drawing, _) => {
                let v = self.canvas.version;
                if self.drawing.as_ref().map(|d| d.0) != Some(v) {
                    self.drawing = Some((v, self.canvas.preprocessed().pixels));
                }
                let px = self
                    .drawing
                    .as_ref()
                    .map(|d| d.1.clone())
                    .unwrap_or_default();
                (px, None, "your drawing".into(), format!("draw{v}"))
            }
            (Source::Picture, Some(p)) => {
                let stamp = format!("pic{}", p.name);
                (p.pixels, None, p.name, stamp)
            }
            _ => {
                self.source = Source::Test(0);
                (vec![0.0; PIXELS], None, "nothing".into(), "none".into())
            }
        };
        let guess = probe.and_then(|p| p.predict(&pixels).first().copied());
        let known = |c: u8| (c as usize) < classes;
        let (class, why) = match (self.class_choice, label, guess) {
            (Some(c), _, _) if known(c) => (c, "your choice"),
            (_, Some(l), _) if known(l) => (l, "its label"),
            (_, _, Some(g)) if known(g) => (g, "the probe's guess"),
            _ => (0, "no guess yet"),
        };
        Style {
            stamp: format!("{stamp}-c{class}"),
            pixels,
            class,
            why,
            name,
        }
    }

    /// The left column: where the style comes from, the source image and its class.
    pub(super) fn source_ui(
        &mut self,
        ui: &mut egui::Ui,
        shared: &Shared,
        style: &Style,
        classes: usize,
        size: f32,
    ) {
        let data = shared.data.clone();
        ui.strong("Style from");
        ui.horizontal_wrapped(|ui| {
            let test = matches!(self.source, Source::Test(_));
            if ui.selectable_label(test, "Test image").clicked() && !test {
                self.source = Source::Test(0);
                self.class_choice = None;
            }
            if ui
                .selectable_label(self.source == Source::Drawing, "Draw")
                .on_hover_text("Draw a digit with the mouse (right button erases).")
                .clicked()
            {
                self.source = Source::Drawing;
                self.class_choice = None;
            }
            if ui
                .selectable_label(self.source == Source::Picture, "Picture…")
                .on_hover_text(
                    "Open a picture (PNG, JPEG, BMP, GIF, WebP), or drop one on the window: it \
                     is preprocessed like MNIST (grey, light ink on dark, cropped, 20 px, centred).",
                )
                .clicked()
            {
                self.open_picture(shared);
            }
        });
        if let Source::Test(i) = self.source {
            ui.horizontal(|ui| {
                if ui.small_button("<").clicked() {
                    self.source = Source::Test(i.saturating_sub(1));
                    self.class_choice = None;
                }
                ui.label(format!("{} of {}", i + 1, data.test.len()));
                if ui.small_button(">").clicked() {
                    self.source = Source::Test((i + 1).min(data.test.len().saturating_sub(1)));
                    self.class_choice = None;
                }
                if ui
                    .small_button("Random")
                    .on_hover_text("Another test image")
                    .clicked()
                {
                    let n = data.test.len().max(1);
                    let next = (i * 7919 + 104_729) % n;
                    self.source = Source::Test(next);
                    self.class_choice = None;
                }
            });
        }
        if self.source == Source::Drawing {
            let resp = self
                .canvas
                .ui(ui, size)
                .on_hover_text("Left button draws, right button erases.");
            if resp.changed() {
                self.class_choice = None;
                ui.ctx().request_repaint();
            }
            ui.horizontal(|ui| {
                if ui.small_button("Clear").clicked() {
                    self.canvas.clear();
                }
                ui.add(
                    egui::Slider::new(&mut self.canvas.brush, canvas::BRUSH_RANGE)
                        .text("brush")
                        .fixed_decimals(1),
                );
            });
            if self.canvas.is_blank() {
                ui.weak("The canvas is empty: draw a digit.");
            }
        }
        ui.horizontal(|ui| {
            if self.source_tex.as_ref().map(|t| &t.0) != Some(&style.stamp) {
                let img = widgets::digit_image(&style.pixels);
                let tex = widgets::texture(ui.ctx(), "generate-source", img);
                self.source_tex = Some((style.stamp.clone(), tex));
            }
            let Some((_, tex)) = &self.source_tex else {
                return;
            };
            let r = ui.add(egui::Image::new(tex).fit_to_exact_size(Vec2::splat(size * 0.45)));
            widgets::name_widget(&r, "Style source");
            ui.vertical(|ui| {
                ui.label("It is a");
                let name = |c: u8| data.class_name(c);
                let mut chosen = style.class;
                egui::ComboBox::from_id_salt("generate-class")
                    .selected_text(name(chosen))
                    .show_ui(ui, |ui| {
                        for c in 0..classes.min(256) as u16 {
                            ui.selectable_value(&mut chosen, c as u8, name(c as u8));
                        }
                    })
                    .response
                    .on_hover_text(
                        "Which class the style source is: the encoder reads it beside the pixels.",
                    );
                if chosen != style.class {
                    self.class_choice = Some(chosen);
                }
                ui.weak(format!("({})", style.why));
            });
        });
    }
}
