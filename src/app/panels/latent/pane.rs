//! One run's map in the Latent space panel ([`MapPane`]): its scatter plot, the manifold of
//! decoded images under the points, the hover preview, and the run's reconstruction of the
//! selected image. Run A's pane and run B's (while two variants are compared) are the same type.

use std::sync::Arc;

use egui::{pos2, Color32, ColorImage, Rect, Stroke, TextureHandle, TextureOptions};

use super::map::{LatentMap, MapSource};
use super::nonlinear::{MapMethods, Shown};
use crate::analysis::embed::Method;
use crate::app::jobs;
use crate::app::widgets;
use crate::app::widgets::scatter::{Scatter, ScatterOutput, ScatterStyle, ViewTransform};
use crate::app::RunId;
use crate::id::Id;
use crate::tasks::Keyed;
use crate::{PIXELS, SIDE};

#[derive(Clone, Debug, PartialEq)]
struct ManifoldKey {
    map: Id,
    data: Rect,
    cols: usize,
    rows: usize,
}

struct ManifoldTiles {
    key: ManifoldKey,
    tex: TextureHandle,
}

/// What one drawn map keeps between frames besides its [`Scatter`]: the manifold tiles under
/// the points (and the job decoding the next ones) and the hover preview's texture.
#[derive(Default)]
struct PaneCache {
    manifold: Option<ManifoldTiles>,
    manifolds: Keyed<ManifoldKey, Arc<ColorImage>>,
    hover_tex: Option<((Id, usize), TextureHandle)>,
}

/// One run's map and what it keeps between frames.
pub struct MapPane {
    pub run: RunId,
    pub source: MapSource,
    pub scatter: Scatter,
    cache: PaneCache,
    /// The point hovered on this map last frame (the other map rings the same image).
    pub hovered: Option<usize>,
    /// This run's reconstruction of the selected image: (point set id, index, pixels).
    pub recon: Option<(Id, usize, Vec<f32>)>,
    /// The (point set, index) last reconstructed, successfully or not (tried once).
    recon_for: Option<(Id, usize)>,
    recon_tex: Option<TextureHandle>,
    /// Decoding or encoding with this run's model failed (also stops a failing manifold
    /// from being retried).
    pub error: Option<String>,
    /// Fit the view to the next map installed (the split or the axes changed).
    pub(super) fit_next_map: bool,
    /// t-SNE and UMAP maps of the source's map, and the trust figures of the map shown.
    pub methods: MapMethods,
    /// What is drawn now (the source's map, or its non-linear map), with its progress.
    pub shown: Option<Shown>,
}

impl MapPane {
    pub fn new(run: RunId) -> Self {
        Self {
            run,
            source: MapSource::default(),
            scatter: Scatter::new(),
            cache: PaneCache::default(),
            hovered: None,
            recon: None,
            recon_for: None,
            recon_tex: None,
            error: None,
            fit_next_map: false,
            methods: MapMethods::default(),
            shown: None,
        }
    }

    /// The map drawn now.
    pub fn map(&self) -> Option<&Arc<LatentMap>> {
        match &self.shown {
            Some(s) if self.source.map().is_some() => Some(&s.map),
            _ => self.source.map(),
        }
    }

    /// True while this pane's map, its projection or its manifold is being computed.
    pub fn working(&self) -> bool {
        self.source.busy().is_some() || self.cache.manifolds.is_running() || self.methods.working()
    }

    /// Chooses what is drawn this frame: the source's map drawn with `method` (computed in the
    /// background; meanwhile its live layout, or the source's map).
    pub(super) fn update_method(&mut self, method: Method, ctx: &egui::Context) {
        let Some(base) = self.source.map().cloned() else {
            self.shown = None;
            return;
        };
        let before = self.shown.as_ref().map(|s| s.map.clone());
        let shown = self.methods.update(&base, method, ctx);
        let changed = before.as_ref().is_none_or(|b| !Arc::ptr_eq(b, &shown.map));
        if changed {
            let new_method = before
                .as_ref()
                .is_none_or(|b| b.projection.method() != shown.map.projection.method());
            if new_method {
                self.scatter.fit();
            }
            self.scatter.set_points(shown.map.points.clone());
            self.cache.hover_tex = None;
        }
        self.shown = Some(shown);
    }

    /// Columns and rows of the manifold tiles drawn now, if any.
    pub fn manifold_size(&self) -> Option<(usize, usize)> {
        self.cache
            .manifold
            .as_ref()
            .map(|m| (m.key.cols, m.key.rows))
    }

    /// Takes in the map the source just installed (or its removal).
    pub(super) fn install(&mut self) {
        self.cache.hover_tex = None;
        let Some(map) = self.source.map() else {
            self.hovered = None;
            self.recon = None;
            self.recon_for = None;
            return;
        };
        if self.fit_next_map {
            self.scatter.fit();
            self.fit_next_map = false;
        }
        self.scatter.set_points(map.points.clone());
        self.error = None;
    }

    /// Keeps this run's reconstruction of the selected image (`selected`: its index) current:
    /// computed once per map and image, successfully or not.
    pub(super) fn refresh_recon(&mut self, selected: Option<usize>) {
        let Some(map) = self.source.map().cloned() else {
            return;
        };
        let Some(index) = selected else {
            self.recon = None;
            self.recon_for = None;
            return;
        };
        let key = (map.points.id, index);
        if self.recon_for == Some(key) || index >= map.points.len() {
            return;
        }
        self.recon_for = Some(key);
        self.recon_tex = None;
        match map.model.reconstruct(map.split_data().image(index)) {
            Ok(r) => self.recon = Some((key.0, index, r)),
            Err(e) => {
                self.recon = None;
                let who = match self.run {
                    RunId::A => "",
                    RunId::B => "B ",
                };
                self.error = Some(format!("{who}cannot reconstruct: {e}"));
            }
        }
    }

    /// This run's reconstruction of image `index` as a texture (`None` until it is computed).
    pub(super) fn recon_texture(
        &mut self,
        ctx: &egui::Context,
        index: usize,
    ) -> Option<&TextureHandle> {
        let pixels = &self.recon.as_ref().filter(|r| r.1 == index)?.2;
        let name = format!("latent-selected-recon-{}", self.run.letter());
        widgets::ensure_digit_texture(&mut self.recon_tex, ctx, &name, pixels);
        self.recon_tex.as_ref()
    }

    /// Draws `map` in a `size` region: the manifold tiles under the points when `manifold` gives
    /// a density, the points, the axis names and the hover preview. Markers and clicks are the
    /// caller's (with the returned output).
    pub fn show(
        &mut self,
        ui: &mut egui::Ui,
        map: &Arc<LatentMap>,
        size: egui::Vec2,
        style: &ScatterStyle,
        manifold: Option<usize>,
    ) -> ScatterOutput {
        let self_run = self.run;
        let MapPane {
            scatter,
            cache,
            hovered,
            error,
            ..
        } = self;
        let tiles = manifold
            .and(cache.manifold.as_ref())
            .map(|m| (m.tex.id(), m.key.data));
        let out = scatter.show(ui, size, style, |painter, xf| {
            if let Some((tex, data)) = tiles {
                painter.image(
                    tex,
                    xf.rect_to_screen(data),
                    Rect::from_min_max(pos2(0.0, 0.0), pos2(1.0, 1.0)),
                    Color32::WHITE,
                );
            }
        });
        let name = match self_run {
            RunId::A => "Latent map",
            RunId::B => "Latent map B",
        };
        widgets::name_widget(&out.response, name);
        let xf = out.transform;
        match manifold {
            Some(density) => update_manifold(cache, error, density, ui.ctx(), map, &xf),
            None => cache.manifold = None,
        }

        let painter = ui.painter_at(xf.screen);
        let (xn, yn) = map.projection.axis_names();
        painter.text(
            xf.screen.right_bottom() - egui::vec2(6.0, 16.0),
            egui::Align2::RIGHT_BOTTOM,
            xn,
            egui::FontId::proportional(12.0),
            ui.visuals().text_color(),
        );
        painter.text(
            xf.screen.left_top() + egui::vec2(6.0, 4.0),
            egui::Align2::LEFT_TOP,
            yn,
            egui::FontId::proportional(12.0),
            ui.visuals().text_color(),
        );

        // Hover preview (a tooltip needs a second frame to size itself: ask for it).
        if out.hovered != *hovered {
            ui.ctx().request_repaint();
        }
        *hovered = out.hovered;
        if let Some(i) = out.hovered {
            let key = (map.points.id, i);
            if cache.hover_tex.as_ref().is_none_or(|(k, _)| *k != key) {
                let img = widgets::digit_image(map.split_data().image(i));
                match &mut cache.hover_tex {
                    Some((k, t)) => {
                        t.set(img, TextureOptions::NEAREST);
                        *k = key;
                    }
                    None => {
                        cache.hover_tex =
                            Some((key, widgets::texture(ui.ctx(), "latent-hover", img)))
                    }
                }
            }
            let label = map.split_data().labels[i];
            let name = map.data.class_name(label);
            if let Some((_, tex)) = &cache.hover_tex {
                egui::Tooltip::for_widget(&out.response)
                    .at_pointer()
                    .gap(14.0)
                    .show(|ui| {
                        widgets::show_texture(ui, tex, 84.0);
                        ui.add(egui::Label::new(egui::RichText::new(name).strong()).extend());
                        ui.add(
                            egui::Label::new(
                                egui::RichText::new(format!("{} image #{i}", map.split.name()))
                                    .weak(),
                            )
                            .extend(),
                        );
                    });
            }
        }
        out
    }
}

/// Starts decoding the manifold for the current view when it changed (one job at a time;
/// the last tiles stay drawn at their place meanwhile).
fn update_manifold(
    cache: &mut PaneCache,
    error: &mut Option<String>,
    density: usize,
    ctx: &egui::Context,
    map: &Arc<LatentMap>,
    xf: &ViewTransform,
) {
    let (w, h) = (xf.screen.width(), xf.screen.height());
    let tile = w.min(h) / density.max(1) as f32;
    let key = ManifoldKey {
        map: map.points.id,
        data: xf.data,
        cols: ((w / tile).round() as usize).clamp(1, 80),
        rows: ((h / tile).round() as usize).clamp(1, 80),
    };
    let done = cache.manifolds.generation();
    if error.is_some() {
        // A failing manifold is not tried again.
        cache.manifolds.poll();
    } else {
        cache.manifolds.get_or_start(key.clone(), || {
            let map = map.clone();
            jobs::spawn("manifold", ctx, move || {
                manifold_image(&map, key.data, key.cols, key.rows).map(Arc::new)
            })
        });
    }
    if cache.manifolds.generation() == done {
        return;
    }
    match cache.manifolds.last() {
        Some((key, Ok(img))) => {
            let opts = TextureOptions::LINEAR;
            match &mut cache.manifold {
                Some(m) => {
                    m.tex.set(img.clone(), opts);
                    m.key = key.clone();
                }
                None => {
                    cache.manifold = Some(ManifoldTiles {
                        key: key.clone(),
                        tex: ctx.load_texture("latent-manifold", img.clone(), opts),
                    })
                }
            }
        }
        Some((_, Err(e))) => *error = Some(e.clone()),
        None => {}
    }
}

/// Rings image `index`'s point at `radius` with `strokes`, drawn in order (the selected image:
/// white on black; the image hovered on the other map of a comparison: one plain ring).
pub(super) fn ring(
    painter: &egui::Painter,
    xf: &ViewTransform,
    map: &LatentMap,
    index: usize,
    radius: f32,
    strokes: &[Stroke],
) {
    if let Some(p) = map.points.xy.get(index) {
        for &s in strokes {
            painter.circle_stroke(xf.to_screen(*p), radius, s);
        }
    }
}

/// One line over a compared map: the run, its model and epoch (and a spinner while the next
/// map is prepared).
pub(super) fn map_title(ui: &mut egui::Ui, run: &str, map: &LatentMap, busy: Option<&str>) {
    ui.horizontal(|ui| {
        let text = format!(
            "{run}: {} · {}",
            map.model.config().describe(),
            map.model.epoch_label(map.epoch)
        );
        ui.add(egui::Label::new(egui::RichText::new(text).strong()).truncate());
        if let Some(b) = busy {
            ui.spinner().on_hover_text(b);
        }
    });
}

/// A framed empty map with a message (B's map while it is being prepared, or why it failed).
pub(super) fn placeholder(ui: &mut egui::Ui, size: egui::Vec2, msg: &str) {
    let (rect, _) = ui.allocate_exact_size(size, egui::Sense::hover());
    let v = ui.visuals();
    ui.painter().rect_filled(rect, 3.0, v.extreme_bg_color);
    ui.painter().text(
        rect.center(),
        egui::Align2::CENTER_CENTER,
        msg,
        egui::FontId::proportional(13.0),
        v.weak_text_color(),
    );
}

/// Images side by side with captions.
pub(super) fn image_row(ui: &mut egui::Ui, images: &[(Option<&TextureHandle>, &str)]) {
    let n = images.len().max(1) as f32;
    let size = ((ui.available_width() - 6.0 * n) / n).clamp(56.0, 120.0);
    ui.horizontal(|ui| {
        for &(t, name) in images {
            ui.vertical(|ui| {
                match t {
                    Some(t) => widgets::show_texture(ui, t, size),
                    None => widgets::empty_square(ui, size),
                };
                ui.weak(name);
            });
        }
    });
}

/// The decoded images of a `cols × rows` grid of tile centres over `data` (row 0 at the top),
/// as one image.
fn manifold_image(
    map: &LatentMap,
    data: Rect,
    cols: usize,
    rows: usize,
) -> Result<ColorImage, String> {
    let dx = data.width() / cols as f32;
    let dy = data.height() / rows as f32;
    let mut codes = Vec::with_capacity(cols * rows * map.k);
    for r in 0..rows {
        for c in 0..cols {
            let xy = [
                data.min.x + (c as f32 + 0.5) * dx,
                data.max.y - (r as f32 + 0.5) * dy,
            ];
            codes.extend(map.projection.inverse(xy));
        }
    }
    let pixels = map.decode(&codes)?;
    let w = cols * SIDE;
    let mut px = vec![0f32; w * rows * SIDE];
    for (i, img) in pixels.chunks_exact(PIXELS).enumerate() {
        let (r, c) = (i / cols, i % cols);
        for y in 0..SIDE {
            let row = (r * SIDE + y) * w + c * SIDE;
            px[row..row + SIDE].copy_from_slice(&img[y * SIDE..(y + 1) * SIDE]);
        }
    }
    // Dimmed a little so the points stay readable on top.
    let mut img = widgets::gray_image(&px, w, rows * SIDE);
    for p in &mut img.pixels {
        *p = p.gamma_multiply(0.85);
        *p = Color32::from_rgb(p.r(), p.g(), p.b());
    }
    Ok(img)
}
