//! Rendering a panel without a window: the real app, driven by egui_kittest with its wgpu
//! renderer (software Vulkan or GL works), with a given model and dataset, then read back as an
//! image. `bottleneck snapshot` and the 2× PNG export use it, and `screenshots/` is regenerated
//! with it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::lessons::{Lesson, ModelChoice};
use super::{App, AppOptions, Tab};
use crate::model::TrainedModel;

/// What to render.
#[derive(Clone)]
pub struct SnapshotRequest {
    pub tab: Tab,
    /// The model shown (default: the bundled 2-D dense autoencoder, the denoising one for
    /// the Denoise panel, the 32-D dense one for the Compression panel).
    pub model: Option<Arc<TrainedModel>>,
    /// A second model shown beside the first as run B (the Train panel's curves and the
    /// Latent space panel's maps compare them).
    pub compare: Option<Arc<TrainedModel>>,
    pub data: crate::data::DatasetSource,
    /// Size in points.
    pub width: f32,
    pub height: f32,
    /// Pixels per point (2 for a 2× image).
    pub scale: f32,
    pub presenter: bool,
    /// The form's settings (e.g. from the running app), if any.
    pub settings: Option<crate::app::settings::Settings>,
    /// A built-in lesson (0-based) whose card is open above the panel, its step set up.
    pub lesson: Option<usize>,
    /// A lesson file instead (overrides `lesson`).
    pub lesson_file: Option<std::path::PathBuf>,
    /// The lesson's step (0-based).
    pub step: usize,
    /// How the Latent space panel draws a code wider than 2; when given, the first image is
    /// selected (its neighbours ringed; a 2-D VAE's posterior ellipses drawn for its class).
    pub projection: Option<crate::analysis::embed::Method>,
}

impl Default for SnapshotRequest {
    fn default() -> Self {
        Self {
            tab: Tab::Train,
            model: None,
            compare: None,
            data: crate::data::DatasetSource::Embedded,
            width: 1280.0,
            height: 800.0,
            scale: 1.0,
            presenter: false,
            settings: None,
            lesson: None,
            lesson_file: None,
            step: 0,
            projection: Default::default(),
        }
    }
}

/// The model a panel is shown with when none is given.
pub fn default_model(tab: Tab) -> anyhow::Result<TrainedModel> {
    let key = match tab {
        Tab::Denoise => "denoising-32d",
        Tab::Compression => "dense-32d",
        Tab::Features => "dense-32d",
        _ => "dense-2d",
    };
    Ok(crate::model::bundled::find(key)
        .expect("bundled model")
        .load()?)
}

/// The lesson a request names (a file, or a built-in one), checked to have the step asked for.
fn requested_lesson(req: &SnapshotRequest) -> anyhow::Result<Option<Lesson>> {
    let lesson = match (&req.lesson_file, req.lesson) {
        (Some(p), _) => crate::app::lessons::format::load(p).map_err(|e| anyhow::anyhow!("{e}"))?,
        (None, Some(i)) => {
            let n = crate::app::lessons::COURSE.len();
            crate::app::lessons::built_in(i)
                .ok_or_else(|| anyhow::anyhow!("there is no lesson {} (there are {n})", i + 1))?
                .map_err(|e| anyhow::anyhow!("{e}"))?
        }
        (None, None) => return Ok(None),
    };
    if req.step >= lesson.steps.len() {
        anyhow::bail!(
            "lesson \"{}\" has {} steps: there is no step {}",
            lesson.title,
            lesson.steps.len(),
            req.step + 1
        );
    }
    Ok(Some(lesson))
}

/// The app in a headless egui_kittest harness made by `builder`: built from `opts` on the first
/// frame, with `setup` run on it once before that frame is drawn. Snapshots, the UI benchmarks
/// and the UI tests all drive the app through this.
pub fn harness(
    builder: egui_kittest::HarnessBuilder<Option<App>>,
    opts: AppOptions,
    setup: impl FnOnce(&mut App) + 'static,
) -> egui_kittest::Harness<'static, Option<App>> {
    let mut setup = Some(setup);
    builder.build_ui_state(
        move |ui, state: &mut Option<App>| {
            let app = state.get_or_insert_with(|| {
                let mut a = App::new(ui.ctx(), opts.clone());
                if let Some(f) = setup.take() {
                    f(&mut a);
                }
                a
            });
            app.show(ui);
        },
        None,
    )
}

/// Renders the requested panel to an RGBA image of `width·scale × height·scale` pixels.
pub fn render(req: &SnapshotRequest) -> anyhow::Result<image::RgbaImage> {
    settled(req)?
        .render()
        .map_err(|e| anyhow::anyhow!("rendering failed: {e}"))
}

/// The app showing the requested panel in a headless harness, once the model, PCA and the
/// panel's background work are done and the layout has settled (tests query its UI tree).
pub fn settled(
    req: &SnapshotRequest,
) -> anyhow::Result<egui_kittest::Harness<'static, Option<App>>> {
    if !(req.width >= 200.0 && req.height >= 150.0 && req.width <= 8192.0 && req.height <= 8192.0) {
        anyhow::bail!(
            "size {}×{} is outside 200×150 … 8192×8192",
            req.width,
            req.height
        );
    }
    if !(0.5..=4.0).contains(&req.scale) {
        anyhow::bail!("scale {} is outside 0.5 … 4", req.scale);
    }
    let lesson = requested_lesson(req)?;
    let step = lesson
        .as_ref()
        .and_then(|l| l.steps.get(req.step).cloned())
        .and_then(Result::ok);
    let model = match (&req.model, step.as_ref().and_then(|s| s.model.as_ref())) {
        (Some(m), _) => m.clone(),
        (None, Some(ModelChoice::Bundled(key))) => Arc::new(
            crate::model::bundled::find(key)
                .expect("checked when the lesson was read")
                .load()?,
        ),
        (None, _) => Arc::new(default_model(req.tab)?),
    };
    let source = step
        .as_ref()
        .and_then(|s| s.data.as_ref())
        .map_or_else(|| req.data.clone(), |d| d.source());
    // Fail early and clearly on a bad dataset (the app would fall back to the embedded one).
    let data = crate::data::Dataset::load(&source)
        .map_err(|e| anyhow::anyhow!("cannot load dataset {source}: {e}"))?;
    let data = Arc::new(data);
    let opts = AppOptions {
        data: Some(source.clone()),
        import: None,
        settings_path: None,
        // The built-in models join the session (the comparisons show them); the requested
        // model is adopted after them, so it is the current one.
        load_bundled: source == crate::data::DatasetSource::Embedded,
    };
    let (tab, presenter, settings) = (req.tab, req.presenter, req.settings.clone());
    let step_index = req.step;
    let step_images = step
        .as_ref()
        .filter(|s| s.panel == Tab::Interpolate)
        .and_then(|s| s.view.images.clone());
    let projection = req.projection;
    let (m2, d2, compare) = (model.clone(), data.clone(), req.compare.clone());
    let builder = egui_kittest::Harness::builder()
        .with_size(egui::vec2(req.width, req.height))
        .with_pixels_per_point(req.scale)
        .with_render_cursor(false)
        .wgpu();
    let mut harness = harness(builder, opts, move |a| {
        a.deterministic = true;
        if let Some(m) = projection {
            a.latent.view.method = m;
            // A selected image shows its nearest neighbours on the map (or its posterior).
            a.latent.select(0);
            a.latent.posterior.whole_class = true;
        }
        if let Some(s) = settings {
            a.shared.settings = s;
        }
        a.shared.settings.presenter = presenter;
        if let Some(l) = lesson {
            a.lessons.show(l, step_index);
            crate::app::lessons::apply::apply(a);
        }
        a.tab = tab;
        a.shared.a().adopt(m2, d2);
        match compare {
            Some(b) => {
                if let Err(e) = a.shared.adopt_compare(b) {
                    a.shared.notify(super::Level::Error, e);
                }
            }
            // Settings from a running app may have the comparison on: without a model B
            // there is nothing to compare.
            None => a.shared.settings.compare = false,
        }
    });
    // Wait for the model, PCA and whatever the panel computes in the background.
    let started = Instant::now();
    let limit = Duration::from_secs(120);
    loop {
        harness.step();
        let ready = harness.state().as_ref().is_some_and(|a| a.is_settled());
        if ready || started.elapsed() > limit {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if let Some(a) = harness.state_mut().as_mut() {
        a.prepare_demo();
        // A lesson's own endpoints win over the demo's.
        if let Some(images) = step_images {
            a.lessons.pending_images = Some(images);
        }
    }
    // A few more frames for the demo's own work and for layouts to settle.
    let settle = Instant::now();
    loop {
        harness.step();
        let ready = harness.state().as_ref().is_some_and(|a| a.is_settled());
        if (ready && settle.elapsed() > Duration::from_millis(300)) || settle.elapsed() > limit {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    harness.run_steps(3);
    Ok(harness)
}
