//! A fast interactive 2-D scatter plot for tens of thousands of class-coloured points (the
//! latent maps). This module owns:
//!
//! - [`ViewTransform`]: the mapping between data coordinates (y up) and screen points;
//! - [`SpatialGrid`]: a uniform bucket grid over the points, built once per point set, so
//!   hovering and clicking look at a few cells instead of scanning every point each frame;
//! - [`ScatterPoints`]: an immutable point set (positions, labels, grid, a fixed shuffled
//!   drawing order so no class is always painted on top, and robust bounds for fitting);
//! - [`Scatter`]: the widget. Points are drawn as one textured mesh (an anti-aliased disc
//!   tinted per vertex), cached between frames while the view, the size and the visible
//!   classes stay the same. Drag pans, the wheel (or a pinch) zooms about the pointer, a
//!   double-click fits the view to the data. The view is kept when the points are replaced
//!   (a new epoch's map), unless none of the new points would be visible.

use std::sync::Arc;

use egui::{
    pos2, vec2, Align2, Color32, ColorImage, FontId, Mesh, Painter, PointerButton, Pos2, Rect,
    Response, Sense, Shape, Stroke, StrokeKind, TextureFilter, TextureHandle, TextureOptions, Vec2,
};

use crate::app::widgets;
use crate::id::{Id, Identity};

/// Maps data coordinates (x right, y up) to screen points (y down) and back.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ViewTransform {
    /// The visible data region (`min` is the bottom-left corner in data terms).
    pub data: Rect,
    /// Where it is drawn.
    pub screen: Rect,
}

impl ViewTransform {
    /// Screen points per data unit on each axis.
    pub fn scale(&self) -> Vec2 {
        vec2(
            self.screen.width() / self.data.width(),
            self.screen.height() / self.data.height(),
        )
    }

    pub fn to_screen(&self, p: [f32; 2]) -> Pos2 {
        let s = self.scale();
        pos2(
            self.screen.min.x + (p[0] - self.data.min.x) * s.x,
            self.screen.max.y - (p[1] - self.data.min.y) * s.y,
        )
    }

    pub fn to_data(&self, pos: Pos2) -> [f32; 2] {
        let s = self.scale();
        [
            self.data.min.x + (pos.x - self.screen.min.x) / s.x,
            self.data.min.y + (self.screen.max.y - pos.y) / s.y,
        ]
    }

    /// A data rectangle on screen.
    pub fn rect_to_screen(&self, r: Rect) -> Rect {
        Rect::from_two_pos(
            self.to_screen([r.min.x, r.min.y]),
            self.to_screen([r.max.x, r.max.y]),
        )
    }
}

/// Point indices bucketed by a uniform grid over their bounding box (compressed rows: the
/// indices of cell `c` are `items[starts[c]..starts[c + 1]]`).
#[derive(Clone, Debug)]
pub struct SpatialGrid {
    origin: [f32; 2],
    cell: [f32; 2],
    cols: usize,
    rows: usize,
    starts: Vec<u32>,
    items: Vec<u32>,
}

impl SpatialGrid {
    /// Buckets the finite points of `xy` (about four per cell on average).
    pub fn build(xy: &[[f32; 2]]) -> SpatialGrid {
        let mut lo = [f32::INFINITY; 2];
        let mut hi = [f32::NEG_INFINITY; 2];
        let mut n = 0usize;
        for p in xy.iter().filter(|p| p[0].is_finite() && p[1].is_finite()) {
            for a in 0..2 {
                lo[a] = lo[a].min(p[a]);
                hi[a] = hi[a].max(p[a]);
            }
            n += 1;
        }
        if n == 0 {
            return SpatialGrid {
                origin: [0.0; 2],
                cell: [1.0; 2],
                cols: 1,
                rows: 1,
                starts: vec![0, 0],
                items: Vec::new(),
            };
        }
        let w = (hi[0] - lo[0]).max(1e-12);
        let h = (hi[1] - lo[1]).max(1e-12);
        let target = (n as f32 / 4.0).max(1.0);
        let cols = ((target * w / h).sqrt().round() as usize).clamp(1, 1024);
        let rows = ((target / cols as f32).round() as usize).clamp(1, 1024);
        // A hair wider than the bounds, so the maximum lands in the last cell.
        let cell = [w * 1.0001 / cols as f32, h * 1.0001 / rows as f32];
        let mut grid = SpatialGrid {
            origin: lo,
            cell,
            cols,
            rows,
            starts: vec![0; cols * rows + 1],
            items: Vec::new(),
        };
        let cells: Vec<u32> = xy
            .iter()
            .map(|p| match grid.cell_of(*p) {
                Some((c, r)) => (r * cols + c) as u32,
                None => u32::MAX,
            })
            .collect();
        for &c in cells.iter().filter(|&&c| c != u32::MAX) {
            grid.starts[c as usize + 1] += 1;
        }
        for i in 1..grid.starts.len() {
            grid.starts[i] += grid.starts[i - 1];
        }
        let mut next = grid.starts.clone();
        grid.items = vec![0; n];
        for (i, &c) in cells.iter().enumerate() {
            if c != u32::MAX {
                let slot = &mut next[c as usize];
                grid.items[*slot as usize] = i as u32;
                *slot += 1;
            }
        }
        grid
    }

    fn cell_of(&self, p: [f32; 2]) -> Option<(usize, usize)> {
        if !(p[0].is_finite() && p[1].is_finite()) {
            return None;
        }
        let c = ((p[0] - self.origin[0]) / self.cell[0]).floor();
        let r = ((p[1] - self.origin[1]) / self.cell[1]).floor();
        Some((
            (c.max(0.0) as usize).min(self.cols - 1),
            (r.max(0.0) as usize).min(self.rows - 1),
        ))
    }

    /// The point nearest to `at` inside the ellipse of half-axes `radius` (data units per
    /// axis, i.e. a circle on screen), among those `accept` allows; distances are measured in
    /// units of the radius, so on screen they are plain pixel distances.
    pub fn nearest(
        &self,
        xy: &[[f32; 2]],
        at: [f32; 2],
        radius: [f32; 2],
        accept: impl Fn(usize) -> bool,
    ) -> Option<usize> {
        if self.items.is_empty() || !(radius[0] > 0.0 && radius[1] > 0.0) {
            return None;
        }
        let end = [
            self.origin[0] + self.cell[0] * self.cols as f32,
            self.origin[1] + self.cell[1] * self.rows as f32,
        ];
        for a in 0..2 {
            if at[a] + radius[a] < self.origin[a] || at[a] - radius[a] > end[a] {
                return None;
            }
        }
        let (c0, r0) = self.cell_of([at[0] - radius[0], at[1] - radius[1]])?;
        let (c1, r1) = self.cell_of([at[0] + radius[0], at[1] + radius[1]])?;
        let mut best: Option<(f32, usize)> = None;
        for r in r0..=r1 {
            for c in c0..=c1 {
                let cell = r * self.cols + c;
                let span = self.starts[cell] as usize..self.starts[cell + 1] as usize;
                for &i in &self.items[span] {
                    let i = i as usize;
                    let p = xy[i];
                    let dx = (p[0] - at[0]) / radius[0];
                    let dy = (p[1] - at[1]) / radius[1];
                    let d = dx * dx + dy * dy;
                    if d <= 1.0 && best.is_none_or(|(bd, _)| d < bd) && accept(i) {
                        best = Some((d, i));
                    }
                }
            }
        }
        best.map(|(_, i)| i)
    }
}

/// An immutable set of points with labels, ready to draw and hit-test.
#[derive(Debug)]
pub struct ScatterPoints {
    pub xy: Vec<[f32; 2]>,
    pub labels: Vec<u8>,
    grid: SpatialGrid,
    /// Drawing order: a fixed shuffle, so that no class always ends up on top.
    order: Vec<u32>,
    /// The region that holds all but the most extreme 0.5 % of points on each side, padded:
    /// what "fit" shows.
    pub bounds: Rect,
    /// Unique per point set (caches key on it).
    pub id: Id,
}

impl ScatterPoints {
    pub fn new(xy: Vec<[f32; 2]>, labels: Vec<u8>) -> ScatterPoints {
        assert_eq!(xy.len(), labels.len(), "one label per point");
        let grid = SpatialGrid::build(&xy);
        let mut order: Vec<u32> = (0..xy.len() as u32).collect();
        // Fisher-Yates with a fixed xorshift stream: the same points always draw the same way.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for i in (1..order.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            order.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let bounds = robust_bounds(&xy);
        ScatterPoints {
            xy,
            labels,
            grid,
            order,
            bounds,
            id: Identity::new().id(),
        }
    }

    pub fn len(&self) -> usize {
        self.xy.len()
    }

    pub fn is_empty(&self) -> bool {
        self.xy.is_empty()
    }

    /// The nearest visible point within `radius_px` screen points of `pos`.
    pub fn hit(
        &self,
        xf: &ViewTransform,
        pos: Pos2,
        radius_px: f32,
        hidden: &[bool],
    ) -> Option<usize> {
        let s = xf.scale();
        self.grid.nearest(
            &self.xy,
            xf.to_data(pos),
            [radius_px / s.x, radius_px / s.y],
            |i| !is_hidden(hidden, self.labels[i]),
        )
    }
}

fn is_hidden(hidden: &[bool], label: u8) -> bool {
    hidden.get(label as usize).copied().unwrap_or(false)
}

/// The 0.5–99.5 % range on each axis (plain min/max under 200 points), padded by 6 %.
fn robust_bounds(xy: &[[f32; 2]]) -> Rect {
    let mut range = [[-1.0f32, 1.0]; 2];
    for (a, r) in range.iter_mut().enumerate() {
        let mut v: Vec<f32> = xy.iter().map(|p| p[a]).filter(|v| v.is_finite()).collect();
        if v.is_empty() {
            continue;
        }
        let (lo, hi) = if v.len() < 200 {
            let lo = v.iter().copied().fold(f32::INFINITY, f32::min);
            let hi = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            (lo, hi)
        } else {
            let n = v.len();
            let i_lo = n / 200;
            let i_hi = n - 1 - n / 200;
            let lo = *v.select_nth_unstable_by(i_lo, f32::total_cmp).1;
            let hi = *v.select_nth_unstable_by(i_hi, f32::total_cmp).1;
            (lo, hi)
        };
        let span = hi - lo;
        *r = if span > 1e-6 * (1.0 + lo.abs().max(hi.abs())) {
            [lo - 0.06 * span, hi + 0.06 * span]
        } else {
            [lo - 1.0, hi + 1.0]
        };
    }
    Rect::from_min_max(
        pos2(range[0][0], range[1][0]),
        pos2(range[0][1], range[1][1]),
    )
}

/// How the points are drawn.
#[derive(Clone, Debug, PartialEq)]
pub struct ScatterStyle {
    /// Classes not drawn (and not hit-tested), by label.
    pub hidden: Vec<bool>,
    /// Disc radius in screen points.
    pub radius: f32,
    /// Opacity of the discs, in (0, 1].
    pub opacity: f32,
    pub show_points: bool,
}

impl ScatterStyle {
    /// A radius and opacity that keep `n` points readable.
    pub fn for_count(n: usize) -> ScatterStyle {
        let (radius, opacity) = if n > 20_000 {
            (1.7, 0.7)
        } else if n > 5_000 {
            (2.3, 0.85)
        } else {
            (3.0, 0.95)
        };
        ScatterStyle {
            hidden: Vec::new(),
            radius,
            opacity,
            show_points: true,
        }
    }

    /// The pick radius around the pointer, in screen points.
    pub fn hit_radius(&self) -> f32 {
        (self.radius + 3.0).max(6.0)
    }
}

/// What a click on the plot hit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Click {
    Point(usize),
    /// Empty space, in data coordinates.
    Empty([f32; 2]),
}

pub struct ScatterOutput {
    pub response: Response,
    pub transform: ViewTransform,
    pub hovered: Option<usize>,
    pub clicked: Option<Click>,
}

#[derive(Clone, PartialEq)]
struct MeshKey {
    points: Id,
    transform: ViewTransform,
    style: ScatterStyle,
}

/// The scatter widget's state (one per plot).
#[derive(Default)]
pub struct Scatter {
    /// The visible data region (`None` until the first points).
    pub view: Option<Rect>,
    /// Whether the view follows the points (until the user pans or zooms; "fit" restores it).
    pub follow: bool,
    /// Where the view is gliding to (after a fit or new points while following).
    target: Option<Rect>,
    points: Option<Arc<ScatterPoints>>,
    mesh: Option<(MeshKey, Arc<Mesh>)>,
    dot: Option<TextureHandle>,
    /// Where the plot was drawn last frame (tests use it to click on points).
    pub last_transform: Option<ViewTransform>,
}

impl Scatter {
    pub fn new() -> Scatter {
        Scatter {
            view: None,
            follow: true,
            target: None,
            points: None,
            mesh: None,
            dot: None,
            last_transform: None,
        }
    }

    pub fn points(&self) -> Option<&Arc<ScatterPoints>> {
        self.points.as_ref()
    }

    /// Replaces the points. While the view follows the points it glides to the new ones;
    /// once the user has panned or zoomed it stays where it is (so a new epoch does not undo
    /// their zoom), unless not one of the new points would be visible in it.
    pub fn set_points(&mut self, points: Arc<ScatterPoints>) {
        if let Some(v) = self.view {
            let visible = points.xy.iter().any(|p| v.contains(pos2(p[0], p[1])));
            if !visible {
                self.follow = true;
            }
        }
        self.points = Some(points);
        if self.follow {
            self.glide_to_fit();
        }
    }

    /// Shows all the points again (gliding there) and follows them from now on.
    pub fn fit(&mut self) {
        self.follow = true;
        self.glide_to_fit();
    }

    fn glide_to_fit(&mut self) {
        let target = self.default_view();
        if self.view.is_some() {
            self.target = Some(target);
        } else {
            self.view = Some(target);
        }
    }

    /// True while the view glides (tests wait for it to settle).
    pub fn is_moving(&self) -> bool {
        self.target.is_some()
    }

    fn default_view(&self) -> Rect {
        match &self.points {
            Some(p) if !p.is_empty() => p.bounds,
            _ => Rect::from_min_max(pos2(-1.0, -1.0), pos2(1.0, 1.0)),
        }
    }

    /// Draws the plot in a `size` region. `underlay` paints under the points (e.g. decoded
    /// images); the caller paints markers over them afterwards with the returned transform.
    pub fn show(
        &mut self,
        ui: &mut egui::Ui,
        size: Vec2,
        style: &ScatterStyle,
        underlay: impl FnOnce(&Painter, &ViewTransform),
    ) -> ScatterOutput {
        let (rect, response) = ui.allocate_exact_size(size, Sense::click_and_drag());
        let mut view = self.view.unwrap_or_else(|| self.default_view());

        if let Some(t) = self.target {
            let dt = ui.input(|i| i.stable_dt).clamp(0.001, 0.1);
            let a = 1.0 - (-dt * 12.0).exp();
            view = Rect::from_min_max(view.min.lerp(t.min, a), view.max.lerp(t.max, a));
            let tol = 0.002 * t.width().max(t.height());
            if (view.min - t.min).length() < tol && (view.max - t.max).length() < tol {
                view = t;
                self.target = None;
            } else {
                ui.ctx().request_repaint();
            }
        }
        // Pan and zoom.
        let before = view;
        if response.dragged_by(PointerButton::Primary) {
            let d = response.drag_delta();
            let s = ViewTransform {
                data: view,
                screen: rect,
            }
            .scale();
            view = view.translate(vec2(-d.x / s.x, d.y / s.y));
        }
        if response.contains_pointer() {
            let (scroll, pinch) = ui.input(|i| (i.smooth_scroll_delta, i.zoom_delta()));
            let factor = pinch * ((scroll.x + scroll.y) / 200.0).exp();
            if factor != 1.0 {
                if let Some(pos) = ui.input(|i| i.pointer.hover_pos()) {
                    let xf = ViewTransform {
                        data: view,
                        screen: rect,
                    };
                    view = zoom_about(view, xf.to_data(pos), factor);
                }
                ui.input_mut(|i| i.smooth_scroll_delta = Vec2::ZERO);
            }
        }
        if view != before {
            self.follow = false;
            self.target = None;
        }
        if response.double_clicked() {
            self.fit();
        }
        if !valid_view(view) {
            view = self.default_view();
        }
        self.view = Some(view);
        let xf = ViewTransform {
            data: view,
            screen: rect,
        };
        self.last_transform = Some(xf);

        let painter = ui.painter_at(rect);
        let visuals = ui.visuals();
        painter.rect_filled(rect, 3.0, visuals.extreme_bg_color);
        draw_grid(&painter, &xf, visuals.weak_text_color(), false);
        underlay(&painter, &xf);

        if style.show_points {
            if let Some(mesh) = self.points_mesh(ui.ctx(), &xf, style) {
                painter.add(Shape::Mesh(mesh));
            }
        }

        let hovered = match (&self.points, response.hover_pos()) {
            (Some(p), Some(pos)) if style.show_points && !response.dragged() => {
                p.hit(&xf, pos, style.hit_radius(), &style.hidden)
            }
            _ => None,
        };
        if let (Some(i), Some(p)) = (hovered, &self.points) {
            let c = xf.to_screen(p.xy[i]);
            painter.circle_stroke(
                c,
                style.radius + 3.0,
                Stroke::new(2.0, visuals.strong_text_color()),
            );
        }
        draw_grid(&painter, &xf, visuals.weak_text_color(), true);
        painter.rect_stroke(
            rect,
            3.0,
            visuals.widgets.noninteractive.bg_stroke,
            StrokeKind::Inside,
        );

        let clicked = if response.clicked() {
            response.interact_pointer_pos().map(|pos| {
                let hit = match &self.points {
                    Some(p) if style.show_points => {
                        p.hit(&xf, pos, style.hit_radius(), &style.hidden)
                    }
                    _ => None,
                };
                match hit {
                    Some(i) => Click::Point(i),
                    None => Click::Empty(xf.to_data(pos)),
                }
            })
        } else {
            None
        };
        ScatterOutput {
            response,
            transform: xf,
            hovered,
            clicked,
        }
    }

    /// The points as one textured mesh, rebuilt only when the view, size, style or points
    /// changed.
    fn points_mesh(
        &mut self,
        ctx: &egui::Context,
        xf: &ViewTransform,
        style: &ScatterStyle,
    ) -> Option<Arc<Mesh>> {
        let points = self.points.as_ref()?;
        let key = MeshKey {
            points: points.id,
            transform: *xf,
            style: style.clone(),
        };
        if let Some((k, m)) = &self.mesh {
            if *k == key {
                return Some(m.clone());
            }
        }
        let dot = self
            .dot
            .get_or_insert_with(|| ctx.load_texture("scatter-dot", dot_image(), dot_options()))
            .id();
        let mesh = Arc::new(build_mesh(points, xf, style, dot));
        self.mesh = Some((key, mesh.clone()));
        Some(mesh)
    }
}

fn valid_view(v: Rect) -> bool {
    let finite = v.min.x.is_finite() && v.min.y.is_finite() && v.max.x.is_finite();
    finite && v.max.y.is_finite() && v.width() > 1e-7 && v.height() > 1e-7
}

/// `view` scaled by 1/`factor` about the data point `at` (factor > 1 zooms in).
pub fn zoom_about(view: Rect, at: [f32; 2], factor: f32) -> Rect {
    let factor = factor.clamp(0.2, 5.0);
    let at = pos2(at[0], at[1]);
    let min = at + (view.min - at) / factor;
    let max = at + (view.max - at) / factor;
    let r = Rect::from_min_max(min, max);
    if r.width() < 1e-6 || r.height() < 1e-6 || r.width() > 1e7 || r.height() > 1e7 {
        view
    } else {
        r
    }
}

/// A white anti-aliased disc on transparent ground (premultiplied), tinted per vertex.
fn dot_image() -> ColorImage {
    const N: usize = 32;
    let c = N as f32 / 2.0;
    let r = c - 1.5;
    let pixels = (0..N * N)
        .map(|i| {
            let x = (i % N) as f32 + 0.5 - c;
            let y = (i / N) as f32 + 0.5 - c;
            let d = (x * x + y * y).sqrt();
            let a = (r + 0.5 - d).clamp(0.0, 1.0);
            Color32::from_white_alpha((a * 255.0).round() as u8)
        })
        .collect();
    ColorImage {
        size: [N, N],
        source_size: Vec2::splat(N as f32),
        pixels,
    }
}

fn dot_options() -> TextureOptions {
    TextureOptions {
        magnification: TextureFilter::Linear,
        minification: TextureFilter::Linear,
        mipmap_mode: Some(TextureFilter::Linear),
        ..TextureOptions::LINEAR
    }
}

fn build_mesh(
    points: &ScatterPoints,
    xf: &ViewTransform,
    style: &ScatterStyle,
    dot: egui::TextureId,
) -> Mesh {
    let mut colors = [Color32::TRANSPARENT; 256];
    for (l, c) in colors.iter_mut().enumerate() {
        if !is_hidden(&style.hidden, l as u8) {
            *c = widgets::class_color(l as u8).gamma_multiply(style.opacity);
        }
    }
    // The disc fills the texture up to 1.5 px of 32: enlarge the quad to match.
    let r = style.radius * 16.0 / 14.5;
    let s = xf.scale();
    let ox = xf.screen.min.x - xf.data.min.x * s.x;
    let oy = xf.screen.max.y + xf.data.min.y * s.y;
    let clip = xf.screen.expand(r);
    let mut mesh = Mesh::with_texture(dot);
    let visible = points
        .labels
        .iter()
        .filter(|&&l| colors[l as usize] != Color32::TRANSPARENT)
        .count();
    mesh.reserve_vertices(visible * 4);
    mesh.reserve_triangles(visible * 2);
    let uv = [
        pos2(0.0, 0.0),
        pos2(1.0, 0.0),
        pos2(1.0, 1.0),
        pos2(0.0, 1.0),
    ];
    for &i in &points.order {
        let i = i as usize;
        let color = colors[points.labels[i] as usize];
        if color == Color32::TRANSPARENT {
            continue;
        }
        let p = points.xy[i];
        let x = ox + p[0] * s.x;
        let y = oy - p[1] * s.y;
        if !(x >= clip.min.x && x <= clip.max.x && y >= clip.min.y && y <= clip.max.y) {
            continue;
        }
        let base = mesh.vertices.len() as u32;
        let corners = [
            pos2(x - r, y - r),
            pos2(x + r, y - r),
            pos2(x + r, y + r),
            pos2(x - r, y + r),
        ];
        for (pos, uv) in corners.into_iter().zip(uv) {
            mesh.vertices.push(egui::epaint::Vertex { pos, uv, color });
        }
        mesh.indices
            .extend_from_slice(&[base, base + 1, base + 2, base, base + 2, base + 3]);
    }
    mesh
}

/// A "nice" tick step (1, 2 or 5 × 10ⁿ) giving about `target` ticks over `span`.
pub fn nice_step(span: f32, target: f32) -> f32 {
    let raw = span / target.max(1.0);
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let mag = 10f32.powf(raw.log10().floor());
    let f = raw / mag;
    let m = if f < 1.5 {
        1.0
    } else if f < 3.5 {
        2.0
    } else if f < 7.5 {
        5.0
    } else {
        10.0
    };
    m * mag
}

fn format_tick(v: f32, step: f32) -> String {
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    let v = if v.abs() < step * 1e-3 { 0.0 } else { v };
    format!("{v:.decimals$}")
}

/// Faint grid lines and the axes through 0 (`labels` false), or the lines' values along the
/// left and bottom edges (`labels` true, drawn over everything else).
fn draw_grid(painter: &Painter, xf: &ViewTransform, color: Color32, labels: bool) {
    let faint = Stroke::new(1.0, color.gamma_multiply(0.18));
    let axis = Stroke::new(1.0, color.gamma_multiply(0.45));
    let font = FontId::proportional(10.0);
    let r = xf.screen;
    for a in 0..2 {
        let (lo, hi, px) = if a == 0 {
            (xf.data.min.x, xf.data.max.x, r.width())
        } else {
            (xf.data.min.y, xf.data.max.y, r.height())
        };
        let step = nice_step(hi - lo, (px / 90.0).max(2.0));
        let mut v = (lo / step).ceil() * step;
        let mut guard = 0;
        while v <= hi && guard < 100 {
            guard += 1;
            let stroke = if v.abs() < step * 1e-3 { axis } else { faint };
            let text = format_tick(v, step);
            if a == 0 {
                let x = xf.to_screen([v, 0.0]).x;
                if !labels {
                    painter.vline(x, r.y_range(), stroke);
                    v += step;
                    continue;
                }
                tick_label(painter, pos2(x + 2.0, r.max.y - 2.0), text, &font, color);
            } else {
                let y = xf.to_screen([0.0, v]).y;
                if !labels {
                    painter.hline(r.x_range(), y, stroke);
                    v += step;
                    continue;
                }
                tick_label(painter, pos2(r.min.x + 3.0, y - 1.0), text, &font, color);
            }
            v += step;
        }
    }
}

/// A small label on a dark backing, readable over points and decoded images.
fn tick_label(painter: &Painter, left_bottom: Pos2, text: String, font: &FontId, color: Color32) {
    let galley = painter.layout_no_wrap(text, font.clone(), color);
    let rect = Align2::LEFT_BOTTOM.anchor_size(left_bottom, galley.size());
    painter.rect_filled(rect.expand(1.0), 2.0, Color32::from_black_alpha(150));
    painter.galley(rect.min, galley, color);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xf() -> ViewTransform {
        ViewTransform {
            data: Rect::from_min_max(pos2(-2.0, -1.0), pos2(2.0, 3.0)),
            screen: Rect::from_min_size(pos2(100.0, 50.0), vec2(400.0, 200.0)),
        }
    }

    #[test]
    fn transform_round_trips_and_flips_y() {
        let t = xf();
        assert_eq!(t.to_screen([-2.0, -1.0]), pos2(100.0, 250.0));
        assert_eq!(t.to_screen([2.0, 3.0]), pos2(500.0, 50.0));
        let d = t.to_data(pos2(321.0, 77.0));
        let back = t.to_screen(d);
        assert!((back - pos2(321.0, 77.0)).length() < 1e-3);
    }

    #[test]
    fn grid_finds_the_same_nearest_point_as_a_linear_scan() {
        let mut rnd = crate::testing::uniform(12345);
        let xy: Vec<[f32; 2]> = (0..5000).map(|_| [rnd() * 3.0, rnd()]).collect();
        let grid = SpatialGrid::build(&xy);
        let radius = [0.05, 0.02];
        let mut found = 0;
        for _ in 0..400 {
            let at = [rnd() * 3.2, rnd() * 1.1];
            let fast = grid.nearest(&xy, at, radius, |i| i % 3 != 0);
            let slow = xy
                .iter()
                .enumerate()
                .filter(|(i, _)| i % 3 != 0)
                .map(|(i, p)| {
                    let dx = (p[0] - at[0]) / radius[0];
                    let dy = (p[1] - at[1]) / radius[1];
                    (dx * dx + dy * dy, i)
                })
                .filter(|(d, _)| *d <= 1.0)
                .min_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, i)| i);
            assert_eq!(fast, slow, "at {at:?}");
            found += fast.is_some() as usize;
        }
        assert!(found > 20, "the test hits points ({found})");
    }

    #[test]
    fn grid_ignores_non_finite_points_and_handles_degenerate_sets() {
        let xy = vec![[f32::NAN, 0.0], [1.0, 1.0], [1.0, 1.0]];
        let g = SpatialGrid::build(&xy);
        assert!(g.nearest(&xy, [1.0, 1.0], [0.1, 0.1], |_| true).is_some());
        assert_eq!(g.nearest(&xy, [5.0, 5.0], [0.1, 0.1], |_| true), None);
        let empty = SpatialGrid::build(&[]);
        assert_eq!(empty.nearest(&[], [0.0, 0.0], [1.0, 1.0], |_| true), None);
    }

    #[test]
    fn robust_bounds_ignore_rare_outliers() {
        let mut xy: Vec<[f32; 2]> = (0..1000)
            .map(|i| [(i % 100) as f32 / 100.0, (i / 100) as f32 / 10.0])
            .collect();
        xy[0] = [1e6, -1e6];
        let b = robust_bounds(&xy);
        assert!(b.max.x < 2.0 && b.min.y > -1.0, "{b:?}");
        assert!(b.min.x < 0.0 && b.max.y > 0.9);
        let flat = robust_bounds(&[[3.0, 0.0], [3.0, 0.0]]);
        assert!(flat.width() >= 2.0 && flat.height() >= 2.0);
    }

    #[test]
    fn zoom_keeps_the_point_under_the_pointer() {
        let v = Rect::from_min_max(pos2(0.0, 0.0), pos2(10.0, 10.0));
        let z = zoom_about(v, [2.0, 8.0], 2.0);
        assert!((z.width() - 5.0).abs() < 1e-5);
        // (2, 8) keeps its relative position.
        assert!(((2.0 - z.min.x) / z.width() - 0.2).abs() < 1e-5);
        assert!(((8.0 - z.min.y) / z.height() - 0.8).abs() < 1e-5);
    }

    #[test]
    fn mesh_skips_hidden_classes_and_points_outside() {
        let xy = vec![[0.0, 0.0], [1.0, 1.0], [100.0, 100.0]];
        let points = ScatterPoints::new(xy, vec![0, 1, 0]);
        let t = xf();
        let mut style = ScatterStyle::for_count(3);
        let m = build_mesh(&points, &t, &style, egui::TextureId::default());
        assert_eq!(m.vertices.len(), 8, "the far point is culled");
        style.hidden = vec![false, true];
        let m = build_mesh(&points, &t, &style, egui::TextureId::default());
        assert_eq!(m.vertices.len(), 4, "class 1 hidden");
        assert!(m.is_valid());
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(10.0, 5.0), 2.0);
        assert_eq!(nice_step(1.0, 10.0), 0.1);
        assert_eq!(nice_step(7.0, 1.0), 5.0);
        assert_eq!(format_tick(-0.0000001, 0.5), "0.0");
        assert_eq!(format_tick(2.0, 1.0), "2");
    }
}
