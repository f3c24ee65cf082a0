//! Drawing helpers shared by the panels: digits as textures, grids of digits, the class
//! palette (readable by colour-blind viewers), loss-term colours, heatmaps, and small layout
//! helpers such as a titled help note.

pub mod canvas;
pub mod file_picker;
pub mod scatter;

use egui::{vec2, Color32, ColorImage, Stroke, TextureHandle, TextureOptions, Vec2};

use crate::{PIXELS, SIDE};

/// Twenty class colours. The first ten stay distinguishable with the common colour-vision
/// deficiencies (Okabe & Ito's palette, extended with Paul Tol's muted purple, teal and grey),
/// bright enough on dark and light backgrounds; the next ten (lighter and darker tones, for
/// datasets with more classes) are distinct from them and from each other for normal vision.
pub const PALETTE: [Color32; 20] = [
    Color32::from_rgb(0xE6, 0x9F, 0x00), // orange
    Color32::from_rgb(0x56, 0xB4, 0xE9), // sky blue
    Color32::from_rgb(0x00, 0x9E, 0x73), // bluish green
    Color32::from_rgb(0xF0, 0xE4, 0x42), // yellow
    Color32::from_rgb(0x00, 0x72, 0xB2), // blue
    Color32::from_rgb(0xD5, 0x5E, 0x00), // vermillion
    Color32::from_rgb(0xCC, 0x79, 0xA7), // reddish purple
    Color32::from_rgb(0x99, 0x99, 0x99), // grey
    Color32::from_rgb(0xAA, 0x44, 0x99), // purple
    Color32::from_rgb(0x44, 0xAA, 0x99), // teal
    Color32::from_rgb(0xFF, 0x6E, 0x6E), // salmon
    Color32::from_rgb(0x9D, 0xE0, 0x4A), // lime
    Color32::from_rgb(0x8C, 0x6B, 0xFF), // violet
    Color32::from_rgb(0xFF, 0xC8, 0x96), // peach
    Color32::from_rgb(0x2E, 0xD1, 0xD1), // cyan
    Color32::from_rgb(0xB0, 0x3A, 0x2E), // brick
    Color32::from_rgb(0xE8, 0xE8, 0xE8), // near white
    Color32::from_rgb(0x6B, 0x8E, 0x23), // olive
    Color32::from_rgb(0xFF, 0x4F, 0xC8), // magenta
    Color32::from_rgb(0x8B, 0x5A, 0x2B), // brown
];

/// The colour of class `label`: [`PALETTE`] for the first twenty, then hues spread by the
/// golden angle at alternating lightness, so neighbouring labels never share a colour.
pub fn class_color(label: u8) -> Color32 {
    if let Some(&c) = PALETTE.get(usize::from(label)) {
        return c;
    }
    let i = f32::from(label - PALETTE.len() as u8);
    let hue = (i * 0.618_034 + 0.05).fract();
    let value = if label.is_multiple_of(2) { 0.95 } else { 0.75 };
    let saturation = if label.is_multiple_of(3) { 0.45 } else { 0.75 };
    egui::ecolor::Hsva::new(hue, saturation, value, 1.0).into()
}

/// Colour of a loss term's curve.
pub fn term_color(term: &str) -> Color32 {
    match term {
        "total" => Color32::from_rgb(0xEE, 0xEE, 0xEE),
        "reconstruction" => Color32::from_rgb(0x56, 0xB4, 0xE9),
        "kl" => Color32::from_rgb(0xE6, 0x9F, 0x00),
        "l1" => Color32::from_rgb(0x00, 0x9E, 0x73),
        "contractive" => Color32::from_rgb(0xCC, 0x79, 0xA7),
        "mse" => Color32::from_rgb(0xF0, 0xE4, 0x42),
        _ => Color32::GRAY,
    }
}

/// A grey image from values in [0, 1] (white ink on black, like MNIST).
pub fn gray_image(pixels: &[f32], width: usize, height: usize) -> ColorImage {
    let rgba: Vec<Color32> = pixels
        .iter()
        .map(|&v| {
            let g = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
            Color32::from_gray(g)
        })
        .collect();
    ColorImage {
        size: [width, height],
        source_size: Vec2::new(width as f32, height as f32),
        pixels: rgba,
    }
}

/// A 28×28 digit as an image.
pub fn digit_image(pixels: &[f32]) -> ColorImage {
    gray_image(pixels, crate::SIDE, crate::SIDE)
}

/// An error heatmap: 0 black, `vmax` and above bright (inferno-like ramp).
pub fn heatmap_image(values: &[f32], side: usize, vmax: f32) -> ColorImage {
    let stops = [
        (0.0, [0u8, 0, 4]),
        (0.25, [87, 16, 110]),
        (0.5, [188, 55, 84]),
        (0.75, [249, 142, 9]),
        (1.0, [252, 255, 164]),
    ];
    let px = values
        .iter()
        .map(|&v| {
            let t = if vmax > 0.0 {
                (v / vmax).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let i = stops.iter().position(|s| s.0 >= t).unwrap_or(4).max(1);
            let (t0, c0) = stops[i - 1];
            let (t1, c1) = stops[i];
            let f = if t1 > t0 { (t - t0) / (t1 - t0) } else { 0.0 };
            let mix = |a: u8, b: u8| (a as f32 + f * (b as f32 - a as f32)).round() as u8;
            Color32::from_rgb(mix(c0[0], c1[0]), mix(c0[1], c1[1]), mix(c0[2], c1[2]))
        })
        .collect();
    ColorImage {
        size: [side, side],
        source_size: Vec2::splat(side as f32),
        pixels: px,
    }
}

/// Uploads (or replaces) a texture, sharp pixels when magnified.
pub fn texture(ctx: &egui::Context, name: &str, image: ColorImage) -> TextureHandle {
    ctx.load_texture(name, image, TextureOptions::NEAREST)
}

/// Updates `slot` with a new image, reusing the texture when there is one.
pub fn set_texture(
    slot: &mut Option<TextureHandle>,
    ctx: &egui::Context,
    name: &str,
    image: ColorImage,
) {
    match slot {
        Some(t) => t.set(image, TextureOptions::NEAREST),
        None => *slot = Some(texture(ctx, name, image)),
    }
}

/// Makes `slot` hold the texture of the 28×28 digit `pixels` unless it already holds one (a
/// panel empties the slot when the pixels change).
pub fn ensure_digit_texture(
    slot: &mut Option<TextureHandle>,
    ctx: &egui::Context,
    name: &str,
    pixels: &[f32],
) {
    if slot.is_none() {
        *slot = Some(texture(ctx, name, digit_image(pixels)));
    }
}

/// A spinner and what is being waited for, on one line.
pub fn busy_line(ui: &mut egui::Ui, text: impl Into<egui::WidgetText>) {
    ui.horizontal(|ui| {
        ui.spinner();
        ui.label(text);
    });
}

/// While `busy` (background work with progress to show), asks for a frame every 250 ms.
pub fn repaint_while(ui: &egui::Ui, busy: bool) {
    if busy {
        ui.ctx()
            .request_repaint_after(std::time::Duration::from_millis(250));
    }
}

/// Gives a widget (a plot, a map, an image) an accessible name: screen readers say it, and
/// UI tests find it by that name.
pub fn name_widget(resp: &egui::Response, name: &str) {
    resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Figure, true, name));
}

/// Shows a texture as a square of `size` points, with a thin frame.
pub fn show_texture(ui: &mut egui::Ui, tex: &TextureHandle, size: f32) -> egui::Response {
    ui.add(
        egui::Image::new(tex)
            .fit_to_exact_size(Vec2::splat(size))
            .corner_radius(2.0),
    )
}

/// An empty square placeholder of `size` points (when there is nothing to show yet).
pub fn empty_square(ui: &mut egui::Ui, size: f32) -> egui::Response {
    let (rect, resp) = ui.allocate_exact_size(Vec2::splat(size), egui::Sense::hover());
    ui.painter()
        .rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
    resp
}

/// A collapsible "What am I looking at?" note.
pub fn help_note(ui: &mut egui::Ui, id: &str, text: &str) {
    egui::CollapsingHeader::new("What am I looking at?")
        .id_salt(id)
        .default_open(false)
        .show(ui, |ui| {
            ui.label(text);
        });
}

/// Formats a duration in seconds as "1:23" or "1:02:03".
pub fn format_duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "–".into();
    }
    let s = seconds.round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// Formats a count with thousands separators: 12345 → "12,345".
pub fn thousands(v: f64) -> String {
    let n = v.round() as i64;
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// `n` 28×28 images tiled `cols` wide with `gap`-pixel dark gaps.
pub fn tile_image(pixels: &[f32], cols: usize, gap: usize) -> ColorImage {
    let n = pixels.len() / PIXELS;
    let cols = cols.max(1);
    let rows = n.div_ceil(cols).max(1);
    let w = cols * (SIDE + gap) + gap;
    let h = rows * (SIDE + gap) + gap;
    let mut px = vec![0.1f32; w * h];
    for (i, img) in pixels.chunks_exact(PIXELS).enumerate() {
        let (r, c) = (i / cols, i % cols);
        for y in 0..SIDE {
            let row = (gap + r * (SIDE + gap) + y) * w + gap + c * (SIDE + gap);
            px[row..row + SIDE].copy_from_slice(&img[y * SIDE..(y + 1) * SIDE]);
        }
    }
    gray_image(&px, w, h)
}

/// A marker for a location decoded or placed by the user: a ring with a cross.
pub fn draw_target(painter: &egui::Painter, at: egui::Pos2, color: Color32) {
    let dark = Stroke::new(4.0, Color32::from_black_alpha(160));
    let light = Stroke::new(2.0, color);
    for s in [dark, light] {
        painter.circle_stroke(at, 7.0, s);
        painter.line_segment([at - vec2(11.0, 0.0), at - vec2(4.0, 0.0)], s);
        painter.line_segment([at + vec2(4.0, 0.0), at + vec2(11.0, 0.0)], s);
        painter.line_segment([at - vec2(0.0, 11.0), at - vec2(0.0, 4.0)], s);
        painter.line_segment([at + vec2(0.0, 4.0), at + vec2(0.0, 11.0)], s);
    }
}

/// A diamond marker (the user's own picture).
pub fn draw_diamond(painter: &egui::Painter, at: egui::Pos2, r: f32, fill: Color32) {
    let pts = vec![
        at + vec2(0.0, -r),
        at + vec2(r, 0.0),
        at + vec2(0.0, r),
        at + vec2(-r, 0.0),
    ];
    painter.add(egui::Shape::convex_polygon(
        pts,
        fill,
        Stroke::new(2.0, Color32::BLACK),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(format_duration(65.0), "1:05");
        assert_eq!(format_duration(3725.0), "1:02:05");
        assert_eq!(format_duration(f64::NAN), "–");
        assert_eq!(thousands(1234567.0), "1,234,567");
        assert_eq!(thousands(999.0), "999");
    }

    #[test]
    fn heatmap_ends() {
        let img = heatmap_image(&[0.0, 1.0, 2.0, 0.5], 2, 1.0);
        assert_eq!(img.pixels[0], Color32::from_rgb(0, 0, 4));
        assert_eq!(img.pixels[1], Color32::from_rgb(252, 255, 164));
        assert_eq!(img.pixels[2], img.pixels[1]);
    }

    #[test]
    fn tiles_are_laid_out_row_by_row() {
        let mut px = vec![0f32; 3 * PIXELS];
        px[PIXELS] = 1.0; // image 1, top-left pixel
        let img = tile_image(&px, 2, 1);
        assert_eq!(img.size, [2 * 29 + 1, 2 * 29 + 1]);
        assert_eq!(img.pixels[img.size[0] + 30], Color32::WHITE);
        assert_eq!(img.pixels[img.size[0] + 1], Color32::BLACK);
    }
}
