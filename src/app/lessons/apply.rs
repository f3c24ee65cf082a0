//! Setting a step up in the app: its data set, its model (a built-in one adopted, or the
//! form set for *Train it*), its panel and that panel's state, and the side-panel controls it
//! hides. The card asks (`Lessons::apply_pending`); the app calls [`apply`] after drawing it.

use std::sync::Arc;

use super::format::{ModelChoice, Step};
use crate::app::panels::denoise::NoiseChoice;
use crate::app::panels::interpolate::Which;
use crate::app::{App, Level, Tab};

/// Sets the current step up, if the card asked for it.
pub fn apply_if_pending(app: &mut App) {
    if std::mem::take(&mut app.lessons.apply_pending) {
        apply(app);
    }
    pending(app);
}

/// Sets the current step up (a step that did not parse changes nothing but the hidden controls).
pub fn apply(app: &mut App) {
    app.shared.hidden_controls.clear();
    let Ok(step) = app.lessons.step() else {
        return;
    };
    if let Err(e) = set_data(app, &step) {
        app.shared.notify(Level::Error, e);
    }
    match &step.model {
        Some(ModelChoice::Bundled(key)) => {
            if let Some(b) = crate::model::bundled::find(key) {
                match b.load() {
                    Ok(m) => {
                        app.shared.settings.train = m.config().clone();
                        app.shared.a().adopt(Arc::new(m), app.shared.data.clone());
                    }
                    Err(e) => app.shared.notify(
                        Level::Error,
                        format!("Built-in model {key} is damaged: {e}"),
                    ),
                }
            }
        }
        Some(ModelChoice::Train(_)) => {
            if let Some(c) = app.lessons.config_of(&step) {
                app.shared.settings.train = c;
            }
        }
        None => {}
    }
    app.shared.hidden_controls = step.hide.clone();
    set_view(app, &step);
    app.tab = step.panel;
    app.shared.switch_to = None;
}

/// Opens the step's data set unless it is already open.
fn set_data(app: &mut App, step: &Step) -> Result<(), String> {
    let Some(d) = &step.data else { return Ok(()) };
    let source = d.source();
    if app.shared.data.source == source {
        return Ok(());
    }
    let imported = crate::data::import::load(&source, &Default::default(), None)
        .map_err(|e| format!("Cannot open the step's data set {source}: {e}"))?;
    app.shared.set_dataset(imported.dataset);
    Ok(())
}

/// The panel's state the step sets.
fn set_view(app: &mut App, step: &Step) {
    let v = &step.view;
    if let Some(m) = v.method {
        app.latent.view.method = m;
    }
    if let Some(on) = v.manifold {
        app.latent.manifold_on = on;
    }
    if let Some(k) = v.noise {
        app.denoise.noise = NoiseChoice::Noise(k);
    }
    if let Some(l) = v.level {
        app.denoise.factor = l;
    }
    if v.held_out.is_some() {
        let classes = app.shared.data.num_classes();
        app.anomaly.settings = super::answer::detector(v.held_out.as_deref(), classes);
        if let Some(cap) = app.lessons.epoch_cap {
            app.anomaly.settings.epochs = app.anomaly.settings.epochs.min(cap);
        }
    }
    if let Some(b) = v.budget {
        app.compression.budget = b;
    }
    if let Some(g) = v.generate {
        app.generate.view = g;
    }
    if let Some(on) = v.log_scale {
        app.shared.settings.log_scale = on;
    }
    if let Some(t) = v.t {
        app.interpolate.t = t;
        app.interpolate.animate = false;
    }
    app.lessons.pending_images = None;
    if let Some(images) = &v.images {
        match step.panel {
            Tab::Interpolate => app.lessons.pending_images = Some(images.clone()),
            _ => {
                if let Some(&i) = images.first() {
                    if i < app.shared.data.test.len() {
                        app.latent.select(i);
                    }
                }
            }
        }
    }
}

/// Interpolate's endpoints, once its map is there.
fn pending(app: &mut App) {
    let Some(images) = app.lessons.pending_images.clone() else {
        return;
    };
    let Some(map) = app.interpolate.map().cloned() else {
        return;
    };
    if let Some(&a) = images.first() {
        app.interpolate.set_test_image(&map, Which::A, a);
    }
    if let Some(&b) = images.get(1) {
        app.interpolate.set_test_image(&map, Which::B, b);
    }
    app.lessons.pending_images = None;
}
