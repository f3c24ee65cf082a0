//! The Latent space panel: every image of a split as a point of the model's latent space,
//! coloured by class, with a legend that toggles classes, hover previews, click-to-decode, the
//! live "manifold" of decoded images under the points, samples from a VAE's prior, the
//! timeline of finished epochs, and the user's own pictures placed on the map.
//!
//! It also owns what the Interpolate panel reuses: [`Projection`] (a 1- or 2-D code shown as
//! is, a wider one on two principal components of the codes, with its inverse), [`MapSource`]
//! (which prepares a [`LatentMap`] in a background job: encoding a split when the snapshot
//! does not carry its codes, fitting PCA, bucketing the points) and [`load_picture`]
//! (decoding and preprocessing a picture off the UI thread).

use std::path::PathBuf;
use std::sync::Arc;

use egui::{pos2, vec2, Color32, ColorImage, Rect, Stroke, TextureHandle, TextureOptions};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::app::jobs::{self, DialogKind, Job};
use crate::app::widgets::scatter::{Click, Scatter, ScatterPoints, ScatterStyle, ViewTransform};
use crate::app::widgets;
use crate::app::{Shared, Tab};
use crate::analysis::Pca;
use crate::data::{preprocess, Dataset, Split};
use crate::model::{Arch, TrainedModel};
use crate::{PIXELS, SIDE};

/// At most this many principal components of the codes are offered as axes.
pub const MAX_COMPONENTS: usize = 10;
/// Samples drawn by "Sample from the prior".
pub const PRIOR_SAMPLES: usize = 16;

/// Which split's images are drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SplitChoice {
    #[default]
    Test,
    Train,
}

impl SplitChoice {
    pub fn of(self, data: &Dataset) -> &Split {
        match self {
            SplitChoice::Test => &data.test,
            SplitChoice::Train => &data.train,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SplitChoice::Test => "test",
            SplitChoice::Train => "training",
        }
    }
}

/// How codes become points on the map, and points codes again.
#[derive(Clone, Debug)]
pub enum Projection {
    /// Code coordinates `x` and `y` as they are (`y = None`: a 1-D code, drawn on y = 0).
    /// `base` gives the other coordinates of an inverse (the mean code; unused for k ≤ 2).
    Axes {
        base: Vec<f32>,
        x: usize,
        y: Option<usize>,
    },
    /// Principal components `x` and `y` (0-based) of the codes.
    Pca { pca: Arc<Pca>, x: usize, y: usize },
}

impl Projection {
    /// The projection for `n × k` codes: as is for k ≤ 2, else PCA on components `comps`
    /// (clamped), fitting unless `cached` is given. Falls back to the first two coordinates
    /// (with a note saying why) when PCA cannot be fitted.
    pub fn fit(
        codes: &[f32],
        k: usize,
        comps: (usize, usize),
        cached: Option<Arc<Pca>>,
    ) -> (Projection, Option<String>) {
        let k = k.max(1);
        let mean = mean_code(codes, k);
        if k <= 2 {
            return (
                Projection::Axes {
                    base: mean,
                    x: 0,
                    y: (k == 2).then_some(1),
                },
                None,
            );
        }
        let pca = match cached {
            Some(p) if p.dim == k => Ok(p),
            _ => Pca::fit(codes, k, k.min(MAX_COMPONENTS)).map(Arc::new),
        };
        match pca {
            Ok(pca) if pca.n_components() >= 2 => {
                let m = pca.n_components();
                let x = comps.0.min(m - 1);
                let mut y = comps.1.min(m - 1);
                if y == x {
                    y = if x == 0 { 1 } else { 0 };
                }
                (Projection::Pca { pca, x, y }, None)
            }
            other => {
                let why = match other {
                    Err(e) => e.to_string(),
                    Ok(_) => "too few components".into(),
                };
                (
                    Projection::Axes {
                        base: mean,
                        x: 0,
                        y: Some(1),
                    },
                    Some(format!(
                        "PCA of the codes failed ({why}): showing code coordinates 1 and 2."
                    )),
                )
            }
        }
    }

    /// Width of the codes this projection reads.
    pub fn k(&self) -> usize {
        match self {
            Projection::Axes { base, .. } => base.len(),
            Projection::Pca { pca, .. } => pca.dim,
        }
    }

    pub fn project(&self, code: &[f32]) -> [f32; 2] {
        match self {
            Projection::Axes { x, y, .. } => [
                code.get(*x).copied().unwrap_or(f32::NAN),
                y.map_or(0.0, |y| code.get(y).copied().unwrap_or(f32::NAN)),
            ],
            Projection::Pca { pca, x, y } => {
                let d = pca.dim;
                let cx = &pca.components[x * d..(x + 1) * d];
                let cy = &pca.components[y * d..(y + 1) * d];
                let mut p = [0f32; 2];
                for i in 0..d.min(code.len()) {
                    let c = code[i] - pca.mean[i];
                    p[0] += c * cx[i];
                    p[1] += c * cy[i];
                }
                p
            }
        }
    }

    /// Points of `n × k` codes.
    pub fn project_all(&self, codes: &[f32]) -> Vec<[f32; 2]> {
        codes
            .chunks_exact(self.k())
            .map(|c| self.project(c))
            .collect()
    }

    /// The code at map point `xy`: for PCA, the mean code plus `xy` along the two components
    /// shown (the point of the plane through the mean that projects onto `xy`).
    pub fn inverse(&self, xy: [f32; 2]) -> Vec<f32> {
        match self {
            Projection::Axes { base, x, y } => {
                let mut code = base.clone();
                code[*x] = xy[0];
                if let Some(y) = y {
                    code[*y] = xy[1];
                }
                code
            }
            Projection::Pca { pca, x, y } => {
                let d = pca.dim;
                let cx = &pca.components[x * d..(x + 1) * d];
                let cy = &pca.components[y * d..(y + 1) * d];
                (0..d)
                    .map(|i| pca.mean[i] + xy[0] * cx[i] + xy[1] * cy[i])
                    .collect()
            }
        }
    }

    /// Names of the two axes.
    pub fn axis_names(&self) -> (String, String) {
        match self {
            Projection::Axes { x, y, .. } => (
                format!("z{}", x + 1),
                y.map_or("(none)".into(), |y| format!("z{}", y + 1)),
            ),
            Projection::Pca { x, y, .. } => (format!("PC{}", x + 1), format!("PC{}", y + 1)),
        }
    }

    /// The fraction of the codes' variance along each component (PCA only).
    pub fn explained(&self) -> Option<Vec<f32>> {
        match self {
            Projection::Pca { pca, .. } => Some(pca.explained_variance_ratio()),
            Projection::Axes { .. } => None,
        }
    }
}

fn mean_code(codes: &[f32], k: usize) -> Vec<f32> {
    let mut mean = vec![0f64; k];
    let mut n = 0usize;
    for c in codes.chunks_exact(k) {
        if c.iter().all(|v| v.is_finite()) {
            for (m, &v) in mean.iter_mut().zip(c) {
                *m += v as f64;
            }
            n += 1;
        }
    }
    mean.iter().map(|&m| (m / n.max(1) as f64) as f32).collect()
}

/// A model's codes for one split, projected and ready to draw.
pub struct LatentMap {
    pub model: Arc<TrainedModel>,
    pub data: Arc<Dataset>,
    pub split: SplitChoice,
    /// Completed epochs of the model.
    pub epoch: usize,
    /// Row-major `n × k`.
    pub codes: Arc<Vec<f32>>,
    pub k: usize,
    pub projection: Projection,
    pub points: Arc<ScatterPoints>,
    /// Something the user should know about the map (e.g. why PCA fell back).
    pub note: Option<String>,
    key: MapKey,
}

impl LatentMap {
    pub fn split_data(&self) -> &Split {
        self.split.of(&self.data)
    }

    pub fn code(&self, i: usize) -> &[f32] {
        &self.codes[i * self.k..(i + 1) * self.k]
    }

    pub fn is_vae(&self) -> bool {
        self.model.config().model.arch == Arch::Vae
    }

    /// Decodes codes (row-major `n × k`), as a message on failure.
    pub fn decode(&self, codes: &[f32]) -> Result<Vec<f32>, String> {
        self.model
            .decode(codes)
            .map_err(|e| format!("cannot decode: {e}"))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct MapKey {
    model: usize,
    data: usize,
    split: SplitChoice,
    comps: (usize, usize),
    /// The snapshot's test codes (test split only): a new snapshot of the same model, e.g.
    /// after the dataset changed, gives a new map.
    codes: usize,
}

/// What map a panel wants this frame.
#[derive(Clone)]
pub struct MapRequest {
    pub model: Arc<TrainedModel>,
    pub data: Arc<Dataset>,
    pub split: SplitChoice,
    /// Principal components for the axes (0-based), when k > 2.
    pub comps: (usize, usize),
    /// The test split's codes, when the snapshot has them.
    pub test_codes: Option<Arc<Vec<f32>>>,
    pub epoch: usize,
}

impl MapRequest {
    fn key(&self) -> MapKey {
        MapKey {
            model: Arc::as_ptr(&self.model) as usize,
            data: Arc::as_ptr(&self.data) as usize,
            split: self.split,
            comps: self.comps,
            codes: match (&self.test_codes, self.split) {
                (Some(c), SplitChoice::Test) => Arc::as_ptr(c) as usize,
                _ => 0,
            },
        }
    }
}

/// Prepares [`LatentMap`]s off the UI thread and keeps the latest one.
#[derive(Default)]
pub struct MapSource {
    map: Option<Arc<LatentMap>>,
    job: Option<(MapKey, Job<Result<LatentMap, String>>)>,
    failed: Option<(MapKey, String)>,
    busy: Option<String>,
}

impl MapSource {
    pub fn map(&self) -> Option<&Arc<LatentMap>> {
        self.map.as_ref()
    }

    /// The last preparation's error, if it failed.
    pub fn error(&self) -> Option<&str> {
        self.failed.as_ref().map(|(_, e)| e.as_str())
    }

    /// What the background job is doing, while it runs.
    pub fn busy(&self) -> Option<&str> {
        self.job.as_ref().and(self.busy.as_deref())
    }

    /// Collects a finished job and starts the one `req` needs. Returns true when a new map
    /// was installed this frame. Only one job runs at a time: while it runs the current map
    /// stays, and the latest request is started when it ends.
    pub fn update(&mut self, req: Option<MapRequest>, ctx: &egui::Context) -> bool {
        let mut changed = false;
        if let Some((key, job)) = &self.job {
            if let Some(r) = job.poll() {
                match r {
                    Ok(m) => {
                        self.map = Some(Arc::new(m));
                        self.failed = None;
                        changed = true;
                    }
                    Err(e) => self.failed = Some((key.clone(), e)),
                }
                self.job = None;
            }
        }
        let Some(req) = req else {
            if self.map.take().is_some() {
                changed = true;
            }
            return changed;
        };
        let key = req.key();
        if self.map.as_ref().is_some_and(|m| m.key == key)
            || self.job.is_some()
            || self.failed.as_ref().is_some_and(|(k, _)| *k == key)
        {
            return changed;
        }
        // Reuse what the current map already computed; codes from the snapshot are checked
        // against a few fresh encodings (they may belong to the previous dataset).
        let n = req.split.of(&req.data).len();
        let k = req.model.latent();
        let mut codes = match (&req.test_codes, req.split) {
            (Some(c), SplitChoice::Test) if c.len() == n * k => Some(c.clone()),
            _ => None,
        };
        let mut verify = codes.is_some();
        let mut pca = None;
        if let Some(m) = &self.map {
            if m.key.model == key.model && m.key.data == key.data && m.split == req.split {
                if codes.is_none() {
                    codes = Some(m.codes.clone());
                    verify = false;
                }
                if codes.as_ref().is_some_and(|c| Arc::ptr_eq(c, &m.codes)) {
                    if let Projection::Pca { pca: p, .. } = &m.projection {
                        pca = Some(p.clone());
                    }
                }
            }
        }
        self.busy = Some(if codes.is_none() {
            format!(
                "Encoding {} {} images…",
                widgets::thousands(n as f64),
                req.split.name()
            )
        } else {
            "Projecting the codes…".into()
        });
        let job_key = key.clone();
        let job = Job::spawn("latent-map", Some(ctx.clone()), move || {
            prepare_map(req, job_key, codes, verify, pca)
        });
        self.job = Some((key, job));
        changed
    }
}

fn prepare_map(
    req: MapRequest,
    key: MapKey,
    codes: Option<Arc<Vec<f32>>>,
    verify: bool,
    pca: Option<Arc<Pca>>,
) -> Result<LatentMap, String> {
    let split = req.split.of(&req.data);
    let k = req.model.latent().max(1);
    let n = split.len();
    let codes = codes.filter(|c| !verify || codes_match(&req.model, split, c, k));
    let codes = match codes {
        Some(c) => c,
        None => Arc::new(
            req.model
                .encode(&split.images)
                .map_err(|e| format!("Cannot encode the {} images: {e}", req.split.name()))?,
        ),
    };
    if codes.len() != n * k {
        return Err(format!(
            "The model gave {} values for {n} images with a {k}-value code.",
            codes.len()
        ));
    }
    let (projection, mut note) = Projection::fit(&codes, k, req.comps, pca);
    let xy = projection.project_all(&codes);
    let bad = xy
        .iter()
        .filter(|p| !(p[0].is_finite() && p[1].is_finite()))
        .count();
    if bad > 0 {
        note = Some(format!(
            "{bad} codes are not finite numbers and are not drawn."
        ));
    }
    let points = Arc::new(ScatterPoints::new(xy, split.labels.clone()));
    Ok(LatentMap {
        model: req.model,
        data: req.data,
        split: req.split,
        epoch: req.epoch,
        codes,
        k,
        projection,
        points,
        note,
        key,
    })
}

/// Whether `codes` are this model's codes of `split`, judged on its first few images.
fn codes_match(model: &TrainedModel, split: &Split, codes: &[f32], k: usize) -> bool {
    let m = split.len().min(8);
    if m == 0 {
        return true;
    }
    match model.encode(&split.images[..m * PIXELS]) {
        Ok(fresh) => fresh
            .iter()
            .zip(&codes[..m * k])
            .all(|(a, b)| (a - b).abs() <= 1e-3 * (1.0 + a.abs())),
        Err(_) => false,
    }
}

/// Where a user's picture comes from.
pub enum PictureSource {
    Path(PathBuf),
    Dropped(egui::DroppedFileHandle),
}

/// A user's picture after MNIST-style preprocessing.
#[derive(Clone, Debug)]
pub struct Picture {
    pub name: String,
    /// The 28×28 input the model sees.
    pub pixels: Vec<f32>,
    /// No ink was found: the input is all black.
    pub blank: bool,
}

/// Reads, decodes and preprocesses a picture on a background thread.
pub fn load_picture(source: PictureSource, ctx: &egui::Context) -> Job<Result<Picture, String>> {
    Job::spawn("picture", Some(ctx.clone()), move || {
        let (path, gray) = match source {
            PictureSource::Path(p) => {
                let g = preprocess::load(&p);
                (p, g)
            }
            PictureSource::Dropped(f) => {
                let p = f.path().to_path_buf();
                let g = if p.is_file() {
                    preprocess::load(&p)
                } else {
                    match f.bytes() {
                        Ok(b) => preprocess::decode(&b, &p),
                        Err(e) => return Err(format!("Cannot read {}: {e}", p.display())),
                    }
                };
                (p, g)
            }
        };
        let gray = gray.map_err(|e| format!("Cannot use this picture: {e}"))?;
        let pre = preprocess::preprocess(&gray);
        let blank = pre.pixels.iter().all(|&v| v <= 0.0);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        Ok(Picture {
            name,
            pixels: pre.pixels,
            blank,
        })
    })
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
    widgets::gray_image(&px, w, h)
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

/// A point of the map the user clicked, decoded.
pub struct Decoded {
    pub xy: [f32; 2],
    pub code: Vec<f32>,
    pub pixels: Vec<f32>,
    tex: Option<TextureHandle>,
}

/// The point the user clicked: its image and reconstruction.
pub struct Selected {
    pub index: usize,
    pub recon: Vec<f32>,
    tex_image: Option<TextureHandle>,
    tex_recon: Option<TextureHandle>,
}

/// Codes drawn from a VAE's prior N(0, I), decoded.
pub struct PriorSamples {
    pub z: Vec<f32>,
    pub pixels: Vec<f32>,
    pub xy: Vec<[f32; 2]>,
    tex: Option<TextureHandle>,
}

/// The user's own picture, encoded and placed on the map.
pub struct UserPicture {
    pub picture: Picture,
    pub code: Vec<f32>,
    pub xy: [f32; 2],
    pub recon: Vec<f32>,
    tex_in: Option<TextureHandle>,
    tex_recon: Option<TextureHandle>,
}

#[derive(Clone, Debug, PartialEq)]
struct ManifoldKey {
    map: usize,
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
    manifold_job: Option<(ManifoldKey, Job<Result<ColorImage, String>>)>,
    hover_tex: Option<((u64, usize), TextureHandle)>,
}

/// Run B's map, drawn beside A's while two variants are compared. It is read-only: hovering
/// previews the image, clicking a point selects that image in both maps (the side panel then
/// shows B's reconstruction too); clicking empty space decodes nothing.
pub struct ComparePane {
    pub source: MapSource,
    pub scatter: Scatter,
    cache: PaneCache,
    /// The point hovered on B's map last frame (A's map rings the same image).
    pub hovered: Option<usize>,
    /// B's reconstruction of the selected image: (B's point set id, index, pixels).
    pub recon: Option<(u64, usize, Vec<f32>)>,
    /// The (point set, index) last reconstructed, successfully or not (tried once).
    recon_for: Option<(u64, usize)>,
    recon_tex: Option<TextureHandle>,
    /// Decoding or encoding with B's model failed.
    pub error: Option<String>,
    fit_next_map: bool,
}

impl ComparePane {
    fn new() -> Self {
        Self {
            source: MapSource::default(),
            scatter: Scatter::new(),
            cache: PaneCache::default(),
            hovered: None,
            recon: None,
            recon_for: None,
            recon_tex: None,
            error: None,
            fit_next_map: false,
        }
    }

    /// B's map, when it is shown.
    pub fn map(&self) -> Option<&Arc<LatentMap>> {
        self.source.map()
    }
}

pub struct LatentPanel {
    /// Point size factor (larger in presenter mode).
    draw_scale: f32,
    pub source: MapSource,
    pub scatter: Scatter,
    pub split: SplitChoice,
    /// Principal components on the axes (0-based), when k > 2.
    pub comps: (usize, usize),
    /// Classes switched off in the legend.
    pub hidden: Vec<bool>,
    pub show_points: bool,
    pub manifold_on: bool,
    /// Tiles along the shorter side of the plot.
    pub density: usize,
    cache: PaneCache,
    /// Run B's map (while comparing two variants).
    pub compare: ComparePane,
    /// Index into `shared.epoch_snapshots` being replayed (`None`: the current model).
    pub timeline: Option<usize>,
    playing: bool,
    play_clock: f64,
    /// The hovered point last frame.
    pub hovered: Option<usize>,
    pub selected: Option<Selected>,
    pub decoded: Option<Decoded>,
    pub prior: Option<PriorSamples>,
    pub picture: Option<UserPicture>,
    /// Why the last picture could not be used.
    pub picture_error: Option<String>,
    picture_job: Option<Job<Result<Picture, String>>>,
    open_dialog: Option<Job<Vec<PathBuf>>>,
    /// A message about decoding or encoding that failed.
    pub model_error: Option<String>,
    /// The map the selection, decode, samples and picture were last computed with.
    refreshed_for: usize,
    fit_next_map: bool,
    rng: ChaCha8Rng,
}

impl Default for LatentPanel {
    fn default() -> Self {
        Self::new()
    }
}

/// What a map panel shows while it has no map: the preparation's error or progress, the
/// training that will produce a model, or how to get one. Shared by Latent space and Interpolate.
pub fn no_map_status(
    ui: &mut egui::Ui,
    shared: &mut Shared,
    source: &MapSource,
    title: &str,
    when_training: &str,
    no_model: &str,
) {
    ui.heading(title);
    ui.add_space(6.0);
    if let Some(e) = source.error() {
        ui.colored_label(ui.visuals().error_fg_color, e);
    } else if let Some(b) = source.busy() {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label(b);
        });
    } else if shared.run.state != crate::train::worker::RunState::Idle {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label(format!(
                "Training epoch {} of {}: {when_training}.",
                shared.run.epoch, shared.run.epochs
            ));
        });
    } else {
        ui.label(no_model);
        if ui.button("Go to Train").clicked() {
            shared.switch_to = Some(Tab::Train);
        }
    }
}

impl LatentPanel {
    pub fn new() -> Self {
        Self {
            draw_scale: 1.0,
            source: MapSource::default(),
            scatter: Scatter::new(),
            split: SplitChoice::Test,
            comps: (0, 1),
            hidden: Vec::new(),
            show_points: true,
            manifold_on: false,
            density: 15,
            cache: PaneCache::default(),
            compare: ComparePane::new(),
            timeline: None,
            playing: false,
            play_clock: 0.0,
            hovered: None,
            selected: None,
            decoded: None,
            prior: None,
            picture: None,
            picture_error: None,
            picture_job: None,
            open_dialog: None,
            model_error: None,
            refreshed_for: 0,
            fit_next_map: false,
            rng: ChaCha8Rng::seed_from_u64(7),
        }
    }

    /// The map drawn now.
    pub fn map(&self) -> Option<&Arc<LatentMap>> {
        self.source.map()
    }

    /// True while a user's picture is being read.
    pub fn picture_pending(&self) -> bool {
        self.picture_job.is_some()
    }

    /// Columns and rows of the manifold tiles drawn now, if any.
    pub fn manifold_size(&self) -> Option<(usize, usize)> {
        self.cache
            .manifold
            .as_ref()
            .map(|m| (m.key.cols, m.key.rows))
    }

    fn request(&self, shared: &Shared) -> Option<MapRequest> {
        let snap = match self.timeline {
            Some(i) => shared.epoch_snapshots.get(i)?,
            None => shared.snapshot.as_ref()?,
        };
        Some(MapRequest {
            model: snap.model.clone(),
            data: shared.data.clone(),
            split: self.split,
            comps: self.comps,
            test_codes: Some(snap.test_codes.clone()),
            epoch: snap.epoch,
        })
    }

    /// True while a background job of this panel is still computing (headless renders wait).
    pub fn working(&self) -> bool {
        self.source.busy().is_some()
            || self.cache.manifold_job.is_some()
            || self.picture_job.is_some()
            || self.compare.source.busy().is_some()
            || self.compare.cache.manifold_job.is_some()
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        self.draw_scale = shared.draw_scale();
        let ctx = ui.ctx().clone();
        self.poll_pictures(shared);
        if self
            .timeline
            .is_some_and(|i| i >= shared.epoch_snapshots.len())
        {
            self.timeline = None;
            self.playing = false;
        }
        self.advance_playback(ui, shared);
        let changed = self.source.update(self.request(shared), &ctx);
        if changed {
            self.install_map();
        }
        let b_request = self.request_b(shared);
        let comparing = b_request.is_some();
        if self.compare.source.update(b_request, &ctx) {
            self.install_map_b();
        }
        let Some(map) = self.source.map().cloned() else {
            self.no_map(ui, shared);
            return;
        };
        if self.refreshed_for != Arc::as_ptr(&map) as usize {
            self.refresh(&map, &ctx);
        }
        if self.hidden.len() != shared.data.num_classes().max(map.data.num_classes()) {
            self.hidden
                .resize(shared.data.num_classes().max(map.data.num_classes()), false);
        }

        let wanted = (self.split, self.comps, self.timeline);
        self.controls(ui, shared, &map);
        if !shared.epoch_snapshots.is_empty() {
            self.timeline_row(ui, shared);
        }
        self.status(ui, &map);

        let bmap = self.compare.source.map().cloned().filter(|_| comparing);
        if let Some(b) = &bmap {
            self.refresh_b_recon(b);
        }
        let side_w = if comparing { 230.0 } else { 270.0f32 }.min(ui.available_width() * 0.4);
        let plot_w = (ui.available_width() - side_w - 12.0).max(120.0);
        let plot_h = (ui.available_height() - 4.0).max(160.0);
        ui.horizontal_top(|ui| {
            if comparing {
                // A's and B's maps side by side, each under its title.
                let each = ((plot_w - 8.0) / 2.0).max(100.0);
                let b_name = shared.comparison().map_or("?", |b| b.variant_name());
                ui.vertical(|ui| {
                    ui.set_width(each);
                    map_title(ui, "A", &map, None);
                    let h = (ui.available_height() - 4.0).max(140.0);
                    self.plot(ui, &map, egui::vec2(each, h));
                });
                ui.vertical(|ui| {
                    ui.set_width(each);
                    match &bmap {
                        Some(b) => {
                            map_title(ui, "B", b, self.compare.source.busy());
                            for e in [b.note.as_deref(), self.compare.error.as_deref()]
                                .into_iter()
                                .flatten()
                            {
                                ui.colored_label(ui.visuals().warn_fg_color, e);
                            }
                            let h = (ui.available_height() - 4.0).max(140.0);
                            self.plot_b(ui, b, &map, egui::vec2(each, h));
                        }
                        None => {
                            ui.strong(format!("B: {b_name}"));
                            let h = (ui.available_height() - 4.0).max(140.0);
                            let msg = self.compare.source.error().map_or_else(
                                || "Preparing B's map…".to_string(),
                                |e| e.to_string(),
                            );
                            placeholder(ui, egui::vec2(each, h), &msg);
                        }
                    }
                });
            } else {
                self.plot(ui, &map, egui::vec2(plot_w, plot_h));
            }
            ui.vertical(|ui| {
                ui.set_width(side_w);
                egui::ScrollArea::vertical()
                    .id_salt("latent-side")
                    .max_height(plot_h)
                    .show(ui, |ui| self.side(ui, &map, bmap.as_ref()));
            });
        });
        if wanted != (self.split, self.comps, self.timeline) {
            // Another map is wanted: start preparing it without waiting for an event.
            ctx.request_repaint();
        }
    }

    fn no_map(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        no_map_status(
            ui,
            shared,
            &self.source,
            "Latent space",
            "the map appears when the first epoch ends",
            "No model yet. Train one in the Train tab (a dense autoencoder with a 2-value code gives \
             the clearest map) or load a saved model; its latent space appears here after the first \
             epoch.",
        );
        // Pictures dropped before there is a model cannot be placed.
        if !shared.dropped_files.is_empty() {
            shared.dropped_files.clear();
            self.picture_error =
                Some("Train or load a model first: then drop a picture to place it.".into());
        }
        if let Some(e) = &self.picture_error {
            ui.colored_label(ui.visuals().warn_fg_color, e);
        }
    }

    fn install_map(&mut self) {
        let Some(map) = self.source.map() else {
            return;
        };
        if self.fit_next_map {
            self.scatter.fit();
            self.fit_next_map = false;
        }
        self.scatter.set_points(map.points.clone());
        self.cache.hover_tex = None;
    }

    fn install_map_b(&mut self) {
        let b = &mut self.compare;
        b.cache.hover_tex = None;
        let Some(map) = b.source.map() else {
            b.hovered = None;
            b.recon = None;
            b.recon_for = None;
            return;
        };
        if b.fit_next_map {
            b.scatter.fit();
            b.fit_next_map = false;
        }
        b.scatter.set_points(map.points.clone());
        b.error = None;
    }

    /// The map run B needs: its snapshot at the epoch the timeline shows (its latest one at
    /// or before that epoch), or its current model; `None` when not comparing.
    fn request_b(&self, shared: &Shared) -> Option<MapRequest> {
        let b = shared.comparison()?;
        let snap = match self.timeline.and_then(|i| shared.epoch_snapshots.get(i)) {
            Some(a) => b
                .epoch_snapshots
                .iter()
                .rev()
                .find(|s| s.epoch <= a.epoch)
                .or(b.epoch_snapshots.first())
                .or(b.snapshot.as_ref())?,
            None => b.snapshot.as_ref()?,
        };
        Some(MapRequest {
            model: snap.model.clone(),
            data: shared.data.clone(),
            split: self.split,
            comps: self.comps,
            test_codes: Some(snap.test_codes.clone()),
            epoch: snap.epoch,
        })
    }

    /// Keeps B's reconstruction of the selected image current.
    fn refresh_b_recon(&mut self, bmap: &Arc<LatentMap>) {
        let b = &mut self.compare;
        let Some(s) = &self.selected else {
            b.recon = None;
            b.recon_for = None;
            return;
        };
        let key = (bmap.points.id, s.index);
        if b.recon_for == Some(key) || s.index >= bmap.points.len() {
            return;
        }
        b.recon_for = Some(key);
        b.recon_tex = None;
        match bmap.model.reconstruct(bmap.split_data().image(s.index)) {
            Ok(r) => b.recon = Some((key.0, s.index, r)),
            Err(e) => {
                b.recon = None;
                b.error = Some(format!("B cannot reconstruct: {e}"));
            }
        }
    }

    /// Recomputes everything derived from the model after the map changed.
    fn refresh(&mut self, map: &Arc<LatentMap>, ctx: &egui::Context) {
        self.refreshed_for = Arc::as_ptr(map) as usize;
        self.model_error = None;
        let split = map.split_data();
        if let Some(s) = &mut self.selected {
            if s.index < split.len() {
                match map.model.reconstruct(split.image(s.index)) {
                    Ok(r) => s.recon = r,
                    Err(e) => self.model_error = Some(format!("cannot reconstruct: {e}")),
                }
                s.tex_image = None;
                s.tex_recon = None;
            } else {
                self.selected = None;
            }
        }
        if let Some(d) = &self.decoded {
            let xy = d.xy;
            self.decode_at(map, xy);
        }
        if let Some(p) = &mut self.prior {
            if p.z.len() == PRIOR_SAMPLES * map.k && map.is_vae() {
                match map.decode(&p.z) {
                    Ok(px) => {
                        p.pixels = px;
                        p.xy = map.projection.project_all(&p.z);
                        p.tex = None;
                    }
                    Err(e) => self.model_error = Some(e),
                }
            } else {
                self.prior = None;
            }
        }
        if let Some(u) = self.picture.take() {
            self.place_picture(map, u.picture);
        }
        let _ = ctx;
    }

    /// Decodes the map location `xy` (through the inverse projection).
    pub fn decode_at(&mut self, map: &LatentMap, xy: [f32; 2]) {
        let code = map.projection.inverse(xy);
        match map.decode(&code) {
            Ok(pixels) => {
                self.decoded = Some(Decoded {
                    xy,
                    code,
                    pixels,
                    tex: None,
                })
            }
            Err(e) => self.model_error = Some(e),
        }
    }

    /// Selects point `index` of the map's split and reconstructs it.
    pub fn select(&mut self, map: &LatentMap, index: usize) {
        match map.model.reconstruct(map.split_data().image(index)) {
            Ok(recon) => {
                self.selected = Some(Selected {
                    index,
                    recon,
                    tex_image: None,
                    tex_recon: None,
                })
            }
            Err(e) => self.model_error = Some(format!("cannot reconstruct: {e}")),
        }
    }

    fn place_picture(&mut self, map: &LatentMap, picture: Picture) {
        let placed = map.model.encode(&picture.pixels).and_then(|code| {
            let recon = map.model.reconstruct(&picture.pixels)?;
            Ok((code, recon))
        });
        match placed {
            Ok((code, recon)) => {
                let xy = map.projection.project(&code);
                self.picture = Some(UserPicture {
                    picture,
                    code,
                    xy,
                    recon,
                    tex_in: None,
                    tex_recon: None,
                });
            }
            Err(e) => self.picture_error = Some(format!("Cannot encode the picture: {e}")),
        }
    }

    /// Draws codes from N(0, I) and decodes them.
    pub fn sample_prior(&mut self, map: &LatentMap) {
        let z: Vec<f32> = (0..PRIOR_SAMPLES * map.k)
            .map(|_| self.rng.sample::<f32, _>(rand_distr::StandardNormal))
            .collect();
        match map.decode(&z) {
            Ok(pixels) => {
                let xy = map.projection.project_all(&z);
                self.prior = Some(PriorSamples {
                    z,
                    pixels,
                    xy,
                    tex: None,
                });
            }
            Err(e) => self.model_error = Some(e),
        }
    }

    fn poll_pictures(&mut self, shared: &mut Shared) {
        if !shared.dropped_files.is_empty() && shared.snapshot.is_some() {
            let mut files = std::mem::take(&mut shared.dropped_files);
            let extra = files.len() - 1;
            let f = files.swap_remove(0);
            self.picture_job = Some(load_picture(PictureSource::Dropped(f), &shared.egui));
            self.picture_error = (extra > 0)
                .then(|| format!("{} files were dropped: using the first one.", extra + 1));
        }
        if let Some(paths) = jobs::take_done(&mut self.open_dialog) {
            if let Some(p) = paths.into_iter().next() {
                self.picture_job = Some(load_picture(PictureSource::Path(p), &shared.egui));
            }
        }
        // A picture read while the map is still being prepared waits for it.
        let Some(map) = self.source.map().cloned() else {
            return;
        };
        if let Some(r) = jobs::take_done(&mut self.picture_job) {
            match r {
                Ok(p) => {
                    self.picture_error = p.blank.then(|| {
                        format!("{}: no ink found, the model sees a black square.", p.name)
                    });
                    self.place_picture(&map, p);
                }
                Err(e) => self.picture_error = Some(e),
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

    fn advance_playback(&mut self, ui: &egui::Ui, shared: &Shared) {
        if !self.playing {
            return;
        }
        let n = shared.epoch_snapshots.len();
        let now = ui.input(|i| i.time);
        if now - self.play_clock >= 0.7 {
            self.play_clock = now;
            let next = self.timeline.map_or(0, |i| i + 1);
            if next >= n {
                self.playing = false;
            } else {
                self.timeline = Some(next);
            }
        }
        ui.ctx()
            .request_repaint_after(std::time::Duration::from_millis(100));
    }

    fn controls(&mut self, ui: &mut egui::Ui, shared: &mut Shared, map: &Arc<LatentMap>) {
        ui.horizontal_wrapped(|ui| {
            let data = &shared.data;
            let before = self.split;
            egui::ComboBox::new("latent-split", "on the map")
                .selected_text(format!(
                    "{} images ({})",
                    self.split.name(),
                    widgets::thousands(self.split.of(data).len() as f64)
                ))
                .show_ui(ui, |ui| {
                    for s in [SplitChoice::Test, SplitChoice::Train] {
                        ui.selectable_value(
                            &mut self.split,
                            s,
                            format!(
                                "{} images ({})",
                                s.name(),
                                widgets::thousands(s.of(data).len() as f64)
                            ),
                        );
                    }
                })
                .response
                .on_hover_text(
                    "Which images to place on the map. The training split is encoded in the \
                     background the first time.",
                );
            if self.split != before {
                self.selected = None;
                self.fit_next_map = true;
                self.compare.fit_next_map = true;
            }

            if let (Projection::Pca { x, y, .. }, Some(ratio)) =
                (&map.projection, map.projection.explained())
            {
                let (mut cx, mut cy) = (*x, *y);
                let name = |i: usize| format!("PC{} ({:.1} %)", i + 1, 100.0 * ratio[i]);
                egui::ComboBox::new("latent-pc-x", "x")
                    .selected_text(format!("PC{}", cx + 1))
                    .show_ui(ui, |ui| {
                        for i in 0..ratio.len() {
                            ui.selectable_value(&mut cx, i, name(i));
                        }
                    });
                egui::ComboBox::new("latent-pc-y", "y")
                    .selected_text(format!("PC{}", cy + 1))
                    .show_ui(ui, |ui| {
                        for i in 0..ratio.len() {
                            ui.selectable_value(&mut cy, i, name(i));
                        }
                    });
                if (cx, cy) != (*x, *y) {
                    if cx == cy {
                        // Swap rather than show one component against itself.
                        if cx != *x {
                            cy = *x;
                        } else {
                            cx = *y;
                        }
                    }
                    self.comps = (cx, cy);
                    self.fit_next_map = true;
                    self.compare.fit_next_map = true;
                }
            }
            ui.separator();
            ui.checkbox(&mut self.manifold_on, "Manifold")
                .on_hover_text(
                "Tile the visible region with the images decoded at each place, under the points.",
            );
            ui.add_enabled(
                self.manifold_on,
                egui::Slider::new(&mut self.density, 5..=25).text("tiles"),
            )
            .on_hover_text("How many decoded images along the shorter side of the map.");
            ui.checkbox(&mut self.show_points, "Points");
            ui.separator();
            if ui
                .button("Fit view")
                .on_hover_text("Show all the points (or double-click the map).")
                .clicked()
            {
                self.scatter.fit();
                self.compare.scatter.fit();
            }
            if ui
                .add_enabled(
                    self.picture_job.is_none(),
                    egui::Button::new("Open picture…"),
                )
                .on_hover_text(
                    "Encode a picture of your own and mark where it lands (or drop an image \
                     file on this panel).",
                )
                .clicked()
            {
                self.open_picture(shared);
            }
            if map.is_vae()
                && ui
                    .button("Sample from the prior")
                    .on_hover_text(
                        "Draw 16 codes from N(0, I), the distribution a VAE is trained to \
                         match, decode them and mark them on the map.",
                    )
                    .clicked()
            {
                self.sample_prior(map);
            }
        });
    }

    fn timeline_row(&mut self, ui: &mut egui::Ui, shared: &Shared) {
        let snaps = &shared.epoch_snapshots;
        let n = snaps.len();
        ui.horizontal(|ui| {
            ui.label("Timeline:");
            let mut live = self.timeline.is_none();
            if ui
                .checkbox(&mut live, "live")
                .on_hover_text("Follow the current model (updates after every epoch).")
                .changed()
            {
                self.timeline = if live { None } else { Some(n - 1) };
                self.playing = false;
            }
            let mut i = self.timeline.unwrap_or(n - 1);
            let text = format!("epoch {} of {}", snaps[i].epoch, snaps[n - 1].epoch);
            let resp = ui.add_enabled(
                n > 1,
                egui::Slider::new(&mut i, 0..=n - 1)
                    .show_value(false)
                    .text(text),
            );
            if resp.changed() {
                self.timeline = Some(i);
                self.playing = false;
            }
            let play_label = if self.playing { "Pause" } else { "Replay" };
            if ui
                .add_enabled(n > 1, egui::Button::new(play_label))
                .on_hover_text("Replay the map of every finished epoch.")
                .clicked()
            {
                self.playing = !self.playing;
                if self.playing {
                    if self.timeline.is_none_or(|t| t + 1 >= n) {
                        self.timeline = Some(0);
                    }
                    self.play_clock = ui.input(|i| i.time);
                }
            }
        });
    }

    fn status(&self, ui: &mut egui::Ui, map: &LatentMap) {
        ui.horizontal_wrapped(|ui| {
            let proj = match (&map.projection, map.projection.explained()) {
                (Projection::Pca { x, y, .. }, Some(r)) => format!(
                    "k = {}, shown on PC{} and PC{} of the codes ({:.1} % + {:.1} % = {:.1} % of \
                     their variance)",
                    map.k,
                    x + 1,
                    y + 1,
                    100.0 * r[*x],
                    100.0 * r[*y],
                    100.0 * (r[*x] + r[*y])
                ),
                _ if map.k == 1 => "k = 1, drawn along x".into(),
                _ => format!("k = {}, shown as is", map.k),
            };
            ui.label(format!(
                "{} {} images · {} · epoch {} · {proj}",
                widgets::thousands(map.points.len() as f64),
                map.split.name(),
                map.model.config().describe(),
                map.epoch
            ));
            if let Some(b) = self.source.busy() {
                ui.spinner();
                ui.weak(b);
            }
        });
        if self.compare.map().is_some() {
            ui.weak("Scroll to zoom, drag to pan, double-click to fit. Click a point on either map to see that image in both and its two reconstructions; click empty space on A's map to decode it.");
        } else {
            ui.weak("Scroll to zoom, drag to pan, double-click to fit. Click a point to see its reconstruction, or empty space to decode it.");
        }
        for note in [
            map.note.as_deref(),
            self.source.error(),
            self.model_error.as_deref(),
        ]
        .into_iter()
        .flatten()
        {
            ui.colored_label(ui.visuals().warn_fg_color, note);
        }
    }

    fn style(&self, map: &LatentMap) -> ScatterStyle {
        let mut style = ScatterStyle::for_count(map.points.len());
        style.radius *= self.draw_scale;
        style.hidden = self.hidden.clone();
        style.show_points = self.show_points;
        if self.manifold_on {
            style.opacity *= 0.8;
        }
        style
    }

    fn plot(&mut self, ui: &mut egui::Ui, map: &Arc<LatentMap>, size: egui::Vec2) {
        let style = self.style(map);
        let manifold = self.manifold_on.then_some(self.density);
        let out = draw_map(
            ui,
            MapPane {
                scatter: &mut self.scatter,
                cache: &mut self.cache,
                hovered: &mut self.hovered,
                error: &mut self.model_error,
            },
            map,
            size,
            &style,
            manifold,
        );
        let xf = out.transform;

        // Markers over the points.
        let painter = ui.painter_at(xf.screen);
        if let Some(s) = &self.selected {
            selected_ring(&painter, &xf, map, s.index, &style);
        }
        // The image hovered on B's map, ringed here too.
        if let Some(i) = self
            .compare
            .hovered
            .filter(|_| self.compare.map().is_some())
        {
            echo_ring(ui, &painter, &xf, map, i, &style);
        }
        if let Some(p) = &self.prior {
            for (i, xy) in p.xy.iter().enumerate() {
                let c = xf.to_screen(*xy);
                let r = egui::Rect::from_center_size(c, egui::vec2(8.0, 8.0));
                painter.rect_stroke(
                    r,
                    1.0,
                    Stroke::new(3.0, Color32::BLACK),
                    egui::StrokeKind::Middle,
                );
                painter.rect_stroke(
                    r,
                    1.0,
                    Stroke::new(1.5, Color32::WHITE),
                    egui::StrokeKind::Middle,
                );
                painter.text(
                    c + egui::vec2(6.0, -6.0),
                    egui::Align2::LEFT_BOTTOM,
                    (i + 1).to_string(),
                    egui::FontId::proportional(10.0),
                    Color32::WHITE,
                );
            }
        }
        if let Some(d) = &self.decoded {
            draw_target(&painter, xf.to_screen(d.xy), Color32::WHITE);
        }
        if let Some(u) = &self.picture {
            let c = xf.to_screen(u.xy);
            draw_diamond(&painter, c, 8.0, Color32::from_rgb(0xFF, 0x40, 0x40));
            painter.text(
                c + egui::vec2(10.0, -8.0),
                egui::Align2::LEFT_BOTTOM,
                "your picture",
                egui::FontId::proportional(12.0),
                Color32::WHITE,
            );
        }

        match out.clicked {
            Some(Click::Point(i)) => self.select(map, i),
            Some(Click::Empty(xy)) => self.decode_at(map, xy),
            None => {}
        }
    }

    /// Run B's map (read-only): clicking a point selects that image in both maps.
    fn plot_b(
        &mut self,
        ui: &mut egui::Ui,
        bmap: &Arc<LatentMap>,
        amap: &Arc<LatentMap>,
        size: egui::Vec2,
    ) {
        let style = self.style(bmap);
        let manifold = self.manifold_on.then_some(self.density);
        let b = &mut self.compare;
        let out = draw_map(
            ui,
            MapPane {
                scatter: &mut b.scatter,
                cache: &mut b.cache,
                hovered: &mut b.hovered,
                error: &mut b.error,
            },
            bmap,
            size,
            &style,
            manifold,
        );
        let xf = out.transform;
        let painter = ui.painter_at(xf.screen);
        if let Some(s) = &self.selected {
            selected_ring(&painter, &xf, bmap, s.index, &style);
        }
        if let Some(i) = self.hovered {
            echo_ring(ui, &painter, &xf, bmap, i, &style);
        }
        if let Some(Click::Point(i)) = out.clicked {
            if i < amap.points.len() {
                self.select(amap, i);
            }
        }
    }

    fn side(&mut self, ui: &mut egui::Ui, map: &Arc<LatentMap>, bmap: Option<&Arc<LatentMap>>) {
        let ctx = ui.ctx().clone();
        widgets::help_note(
            ui,
            "latent-help",
            "Each dot is one image, placed where the encoder puts its code and coloured by its \
             class. Images the network finds alike land close together. With a code wider \
             than 2 values, the dots are the codes' projection on two principal components. \
             Clicking empty space runs the decoder on that location (for wider codes: the \
             mean code moved along the two components shown), so you can see what the model \
             has learned to draw there. The manifold overlay does that on a whole grid.",
        );
        ui.add_space(4.0);
        self.legend(ui, map);

        if let Some(d) = &mut self.decoded {
            ui.separator();
            ui.strong("Decoded at the clicked location");
            ui.weak(format!("({:.2}, {:.2})", d.xy[0], d.xy[1]));
            if d.tex.is_none() {
                widgets::set_texture(
                    &mut d.tex,
                    &ctx,
                    "latent-decoded",
                    widgets::digit_image(&d.pixels),
                );
            }
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
                if s.tex_image.is_none() {
                    widgets::set_texture(
                        &mut s.tex_image,
                        &ctx,
                        "latent-selected",
                        widgets::digit_image(split.image(s.index)),
                    );
                    widgets::set_texture(
                        &mut s.tex_recon,
                        &ctx,
                        "latent-selected-recon",
                        widgets::digit_image(&s.recon),
                    );
                }
                let b = &mut self.compare;
                match (bmap, &b.recon) {
                    (Some(bm), Some((_, i, recon))) if *i == s.index => {
                        if b.recon_tex.is_none() {
                            widgets::set_texture(
                                &mut b.recon_tex,
                                &ctx,
                                "latent-selected-recon-b",
                                widgets::digit_image(recon),
                            );
                        }
                        let a_name = format!("A: {}", map.model.config().variant.name());
                        let b_name = format!("B: {}", bm.model.config().variant.name());
                        image_row(
                            ui,
                            &[
                                (&s.tex_image, "image"),
                                (&s.tex_recon, &a_name),
                                (&b.recon_tex, &b_name),
                            ],
                        );
                        ui.weak("Reconstructions by A and B.");
                    }
                    _ => image_row(
                        ui,
                        &[(&s.tex_image, "image"), (&s.tex_recon, "reconstruction")],
                    ),
                }
            }
        }
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
                    (&u.tex_in, "preprocessed"),
                    (&u.tex_recon, "reconstruction"),
                ],
            );
        }
        if let Some(e) = &self.picture_error {
            ui.colored_label(ui.visuals().warn_fg_color, e);
        }
        if self.picture_job.is_some() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Reading the picture…");
            });
        }
        let mut clear_prior = false;
        if let Some(p) = &mut self.prior {
            ui.separator();
            ui.horizontal(|ui| {
                ui.strong("Samples from the prior N(0, I)");
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

    fn legend(&mut self, ui: &mut egui::Ui, map: &LatentMap) {
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
                for (label, count) in counts.iter().enumerate() {
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
                    if label % 2 == 1 {
                        ui.end_row();
                    }
                }
            });
    }
}

/// One map's drawing state, borrowed from the panel (A's) or from [`ComparePane`] (B's).
struct MapPane<'a> {
    scatter: &'a mut Scatter,
    cache: &'a mut PaneCache,
    hovered: &'a mut Option<usize>,
    /// Where a failed manifold decode is reported (and which stops it being retried).
    error: &'a mut Option<String>,
}

/// Draws `map` in a `size` region: the manifold tiles under the points when `manifold` gives
/// a density, the points, the axis names and the hover preview. Markers and clicks are the
/// caller's (with the returned output).
fn draw_map(
    ui: &mut egui::Ui,
    pane: MapPane<'_>,
    map: &Arc<LatentMap>,
    size: egui::Vec2,
    style: &ScatterStyle,
    manifold: Option<usize>,
) -> crate::app::widgets::scatter::ScatterOutput {
    let MapPane {
        scatter,
        cache,
        hovered,
        error,
    } = pane;
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
                    cache.hover_tex = Some((key, widgets::texture(ui.ctx(), "latent-hover", img)))
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
                            egui::RichText::new(format!("{} image #{i}", map.split.name())).weak(),
                        )
                        .extend(),
                    );
                });
        }
    }
    out
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
    if let Some((key, job)) = &cache.manifold_job {
        if let Some(r) = job.poll() {
            match r {
                Ok(img) => {
                    let opts = TextureOptions::LINEAR;
                    match &mut cache.manifold {
                        Some(m) => {
                            m.tex.set(img, opts);
                            m.key = key.clone();
                        }
                        None => {
                            cache.manifold = Some(ManifoldTiles {
                                key: key.clone(),
                                tex: ctx.load_texture("latent-manifold", img, opts),
                            })
                        }
                    }
                }
                Err(e) => *error = Some(e),
            }
            cache.manifold_job = None;
        }
    }
    let (w, h) = (xf.screen.width(), xf.screen.height());
    let tile = w.min(h) / density.max(1) as f32;
    let key = ManifoldKey {
        map: Arc::as_ptr(map) as usize,
        data: xf.data,
        cols: ((w / tile).round() as usize).clamp(1, 80),
        rows: ((h / tile).round() as usize).clamp(1, 80),
    };
    let current = cache.manifold.as_ref().is_some_and(|m| m.key == key);
    if current || cache.manifold_job.is_some() || error.is_some() {
        return;
    }
    let map = map.clone();
    let k2 = key.clone();
    let job = Job::spawn("manifold", Some(ctx.clone()), move || {
        manifold_image(&map, k2.data, k2.cols, k2.rows)
    });
    cache.manifold_job = Some((key, job));
}

/// The ring around the selected image's point.
fn selected_ring(
    painter: &egui::Painter,
    xf: &ViewTransform,
    map: &LatentMap,
    index: usize,
    style: &ScatterStyle,
) {
    if let Some(p) = map.points.xy.get(index) {
        let c = xf.to_screen(*p);
        painter.circle_stroke(c, style.radius + 5.0, Stroke::new(3.0, Color32::BLACK));
        painter.circle_stroke(c, style.radius + 5.0, Stroke::new(2.0, Color32::WHITE));
    }
}

/// The ring around an image hovered on the other map of a comparison.
fn echo_ring(
    ui: &egui::Ui,
    painter: &egui::Painter,
    xf: &ViewTransform,
    map: &LatentMap,
    index: usize,
    style: &ScatterStyle,
) {
    if let Some(p) = map.points.xy.get(index) {
        painter.circle_stroke(
            xf.to_screen(*p),
            style.radius + 3.0,
            Stroke::new(2.0, ui.visuals().strong_text_color()),
        );
    }
}

/// One line over a compared map: the run, its model and epoch (and a spinner while the next
/// map is prepared).
fn map_title(ui: &mut egui::Ui, run: &str, map: &LatentMap, busy: Option<&str>) {
    ui.horizontal(|ui| {
        let text = format!(
            "{run}: {} · epoch {}",
            map.model.config().describe(),
            map.epoch
        );
        ui.add(egui::Label::new(egui::RichText::new(text).strong()).truncate());
        if let Some(b) = busy {
            ui.spinner().on_hover_text(b);
        }
    });
}

/// A framed empty map with a message (B's map while it is being prepared, or why it failed).
fn placeholder(ui: &mut egui::Ui, size: egui::Vec2, msg: &str) {
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
fn image_row(ui: &mut egui::Ui, images: &[(&Option<TextureHandle>, &str)]) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn codes_in_a_plane(n: usize, k: usize) -> Vec<f32> {
        // Points of the plane through m spanned by u and v, plus a little noise off it.
        let mut s = 99u64;
        let mut rnd = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 33) as f32 / (1u64 << 31) as f32) * 2.0 - 1.0
        };
        let u: Vec<f32> = (0..k).map(|i| (i as f32 * 0.7).sin()).collect();
        let v: Vec<f32> = (0..k).map(|i| (i as f32 * 1.3).cos()).collect();
        let mut out = Vec::new();
        for _ in 0..n {
            let (a, b) = (3.0 * rnd(), rnd());
            for i in 0..k {
                out.push(0.5 + a * u[i] + b * v[i] + 0.01 * rnd());
            }
        }
        out
    }

    #[test]
    fn pca_inverse_projection_lands_back_on_the_point() {
        let k = 6;
        let codes = codes_in_a_plane(500, k);
        for comps in [(0, 1), (1, 0), (0, 2), (2, 3)] {
            let (p, note) = Projection::fit(&codes, k, comps, None);
            assert!(note.is_none());
            assert!(matches!(p, Projection::Pca { .. }));
            // A map point sent to code space projects back onto itself.
            for xy in [[0.0, 0.0], [1.5, -0.7], [-3.0, 2.0]] {
                let back = p.project(&p.inverse(xy));
                assert!((back[0] - xy[0]).abs() < 1e-4 && (back[1] - xy[1]).abs() < 1e-4);
            }
            // A code's projection, inverted and projected again, is the same point.
            for c in codes.chunks_exact(k).take(50) {
                let xy = p.project(c);
                let again = p.project(&p.inverse(xy));
                assert!((again[0] - xy[0]).abs() < 1e-4 && (again[1] - xy[1]).abs() < 1e-4);
            }
        }
        // On the two main components, codes of the plane come back to themselves (up to the
        // noise off the plane).
        let (p, _) = Projection::fit(&codes, k, (0, 1), None);
        for c in codes.chunks_exact(k).take(50) {
            let back = p.inverse(p.project(c));
            let err = back
                .iter()
                .zip(c)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(err < 0.06, "error {err}");
        }
    }

    fn wait_for_map(src: &mut MapSource, req: &MapRequest, ctx: &egui::Context) {
        let start = std::time::Instant::now();
        loop {
            src.update(Some(req.clone()), ctx);
            if src.map().is_some_and(|m| m.key == req.key()) {
                return;
            }
            assert!(src.error().is_none(), "{:?}", src.error());
            assert!(start.elapsed().as_secs() < 60, "the map job never finished");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    #[test]
    fn snapshot_codes_are_used_only_when_they_belong_to_the_dataset() {
        use crate::model::{TrainConfig, Variant};
        let data = Arc::new(Dataset::embedded().unwrap());
        let cfg = TrainConfig::preset(Variant::Dense, 2);
        let model = Arc::new(TrainedModel::new(&cfg, "embedded").unwrap());
        let n = data.test.len();
        let ctx = egui::Context::default();
        let mut src = MapSource::default();
        // Codes of the right size but from elsewhere (e.g. the dataset used before).
        let wrong = Arc::new(vec![0.5f32; n * 2]);
        let req = MapRequest {
            model: model.clone(),
            data: data.clone(),
            split: SplitChoice::Test,
            comps: (0, 1),
            test_codes: Some(wrong.clone()),
            epoch: 0,
        };
        wait_for_map(&mut src, &req, &ctx);
        let m = src.map().unwrap();
        assert!(!Arc::ptr_eq(&m.codes, &wrong), "stale codes are not drawn");
        let fresh = model.encode(data.test.image(1234)).unwrap();
        for (a, b) in m.code(1234).iter().zip(&fresh) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
        assert_eq!(m.points.len(), n);
        // The model's own codes are used as they are (no re-encoding).
        let right = Arc::new(model.encode(&data.test.images).unwrap());
        let req = MapRequest {
            test_codes: Some(right.clone()),
            ..req
        };
        wait_for_map(&mut src, &req, &ctx);
        assert!(Arc::ptr_eq(&src.map().unwrap().codes, &right));
    }

    #[test]
    fn small_codes_are_shown_as_is() {
        let codes = vec![1.0, 2.0, 3.0, 4.0];
        let (p, _) = Projection::fit(&codes, 2, (0, 1), None);
        assert_eq!(p.project(&[1.0, 2.0]), [1.0, 2.0]);
        assert_eq!(p.inverse([5.0, -1.0]), vec![5.0, -1.0]);
        let (p1, _) = Projection::fit(&[1.0, 2.0, 3.0], 1, (0, 1), None);
        assert_eq!(p1.project(&[2.5]), [2.5, 0.0]);
        assert_eq!(p1.inverse([7.0, 3.0]), vec![7.0]);
    }

    #[test]
    fn pca_that_cannot_be_fitted_falls_back_with_a_note() {
        // One code only: PCA needs two.
        let (p, note) = Projection::fit(&[1.0, 2.0, 3.0], 3, (0, 1), None);
        assert!(note.unwrap().contains("PCA"));
        assert_eq!(p.project(&[1.0, 2.0, 3.0]), [1.0, 2.0]);
        assert_eq!(p.inverse([0.0, 0.0]), vec![0.0, 0.0, 3.0]);
    }

    #[test]
    fn components_are_clamped_and_distinct() {
        let codes = codes_in_a_plane(100, 3);
        let (p, _) = Projection::fit(&codes, 3, (7, 7), None);
        match p {
            Projection::Pca { x, y, .. } => {
                assert_eq!(x, 2);
                assert_ne!(x, y);
            }
            _ => panic!("PCA expected"),
        }
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
