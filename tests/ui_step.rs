//! The Step panel ("One step") driven through egui_kittest: one step in slow motion on a
//! built-in dense and VAE model and on a conv model, every sub-step walked with *Next* (its
//! title and sentence on screen, a figure equal to the record's), *Back* and *Play*; the
//! model after it is the model before plus the recorded update; the button is off while
//! training runs.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bottleneck::app::panels::step::{describe, views, Stage};
use bottleneck::app::Tab;
use bottleneck::model::{TrainConfig, TrainedModel, Variant};
use bottleneck::train::slow_step::SlowStep;
use bottleneck::train::worker::{Command, RunState};
use common::*;
use egui_kittest::kittest::{NodeT, Queryable};

const T: Duration = Duration::from_secs(120);

fn builtin(name: &str) -> TrainedModel {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/models")
        .join(format!("{name}.safetensors"));
    bottleneck::model::io::load(&p).unwrap()
}

/// The app on the Step tab with `model` current.
fn open(model: Arc<TrainedModel>) -> (AppHarness, tempfile::TempDir) {
    let (mut h, dir) = app(|a| a.tab = Tab::Step);
    adopt(&mut h, model.clone());
    assert!(wait_until(&mut h, T, |a| a
        .shared
        .model()
        .is_some_and(|m| Arc::ptr_eq(m, &model))));
    h.step();
    (h, dir)
}

/// Presses the button and waits for the step's record.
fn step(h: &mut AppHarness) -> Arc<SlowStep> {
    h.get_by_label("One step in slow motion").click();
    h.run_steps(2);
    assert!(
        wait_until(h, T, |a| a.shared.a().view.slow_step.is_some()
            && !a.step.waiting),
        "the step's record never came"
    );
    h.run_steps(2);
    state(h).shared.a().view.slow_step.clone().unwrap()
}

fn weights(m: &TrainedModel, name: &str) -> Vec<f32> {
    let data = m.varmap.data().lock().unwrap();
    data.get(name)
        .unwrap_or_else(|| panic!("no {name}"))
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
}

/// Every tensor's values, copied (a model's clones share their variables).
fn copy(m: &TrainedModel) -> HashMap<String, Vec<f32>> {
    let names: Vec<String> = m.varmap.data().lock().unwrap().keys().cloned().collect();
    names
        .into_iter()
        .map(|n| (n.clone(), weights(m, &n)))
        .collect()
}

/// The current model is `before` plus the record's update, tensor by tensor, and moved.
fn advanced_by(m: &TrainedModel, before: &HashMap<String, Vec<f32>>, rec: &SlowStep) -> bool {
    let mut moved = false;
    for t in &rec.tensors {
        let (new, old) = (weights(m, &t.name), &before[&t.name]);
        for ((n, o), u) in new.iter().zip(old.iter()).zip(&t.update) {
            if (n - (o + u)).abs() > 1e-5 {
                if std::env::var_os("STEP_DEBUG").is_some() {
                    eprintln!("{}: {n} vs {o} + {u}", t.name);
                }
                return false;
            }
            moved |= n != o;
        }
    }
    moved
}

fn shown(h: &AppHarness, text: &str) -> bool {
    h.query_all_by_label_contains(text).next().is_some()
}

/// Walks every sub-step with *Next*: the title and sentence of each are on screen, and the
/// loss figures are the record's.
fn walk(h: &mut AppHarness, rec: &SlowStep) {
    let stages = Stage::all(rec);
    for (i, &stage) in stages.iter().enumerate() {
        assert_eq!(state(h).step.pos, i);
        let (title, sentence) = describe(rec, stage);
        let heading = format!("{} {title}", stage.number());
        assert!(h.query_by_label(&heading).is_some(), "no title {heading:?}");
        assert!(shown(h, &sentence), "no sentence for {heading:?}");
        match stage {
            Stage::Loss => {
                let total = format!("total {}", views::loss_text(rec.loss_before().total()));
                assert!(shown(h, &total), "the loss total {total} is shown");
                for t in views::terms_of(rec) {
                    let v = views::loss_text(rec.loss_before().get(t).unwrap());
                    assert!(shown(h, &v), "term {t}: {v}");
                }
            }
            Stage::Update => {
                for t in &rec.tensors {
                    assert!(shown(h, &views::norm_text(t.grad_norm)), "{}", t.name);
                    assert!(shown(h, &views::norm_text(t.update_norm)), "{}", t.name);
                }
            }
            Stage::After => {
                let after = views::loss_text(rec.loss_after().total());
                assert!(shown(h, &format!("{after} after")));
                assert_ne!(rec.loss_after().total(), rec.loss_before().total());
                assert!(h.query_by_label("reconstructions after").is_some());
            }
            _ => {}
        }
        if i + 1 < stages.len() {
            h.get_by_label("Next").click();
            h.run_steps(2);
        }
    }
    // Back goes to the update.
    h.get_by_label("Back").click();
    h.run_steps(2);
    assert!(h.query_by_label("5 The update").is_some());
}

/// Back to the first part, then through every part; the model has moved by exactly the
/// recorded update.
fn rewind_walk_and_check(h: &mut AppHarness, rec: &SlowStep, before: &HashMap<String, Vec<f32>>) {
    while state(h).step.pos > 0 {
        h.get_by_label("Back").click();
        h.run_steps(2);
    }
    walk(h, rec);
    assert!(wait_until(h, T, |a| a
        .shared
        .model()
        .is_some_and(|m| advanced_by(m, before, rec))));
}

#[test]
fn a_dense_step_is_walked_part_by_part_and_the_model_takes_it() {
    let model = Arc::new(builtin("dense-2d"));
    let (mut h, _dir) = open(model.clone());
    assert!(
        h.query_by_label("network").is_some(),
        "the network is drawn before any step"
    );
    let before = copy(&model);
    let rec = step(&mut h);
    assert_eq!(rec.rows, 8, "8 test digits by default");
    assert_eq!(rec.batch[..], state(&h).shared.data.test.images[..8 * 784]);
    assert!(h.query_by_label("1 The batch").is_some());
    walk(&mut h, &rec);
    assert!(
        wait_until(&mut h, T, |a| a
            .shared
            .model()
            .is_some_and(|m| advanced_by(m, &before, &rec))),
        "the current model is the one after the step"
    );
    assert_eq!(state(&h).shared.a().view.state, RunState::Paused);

    // Play advances about once a second.
    h.get_by_label("Back").click();
    h.get_by_label("Back").click();
    h.run_steps(2);
    let at = state(&h).step.pos;
    h.get_by_label("Play").click();
    h.run_steps(2);
    assert!(state(&h).step.playing);
    assert!(
        wait_until(&mut h, Duration::from_secs(5), |a| a.step.pos == at + 1),
        "Play moved on"
    );
}

#[test]
fn a_vae_step_shows_mu_sigma_eps_and_z() {
    let model = Arc::new(builtin("vae-2d"));
    let (mut h, _dir) = open(model.clone());
    let before = copy(&model);
    let rec = step(&mut h);
    assert!(rec.eps.is_some());
    let z_at = rec
        .before
        .layers
        .iter()
        .position(|l| l.name == "z")
        .unwrap();
    for _ in 0..=z_at {
        h.get_by_label("Next").click();
        h.run_steps(2);
    }
    assert!(h.query_by_label_contains("z = μ + σ·ε").is_some());
    let z = &rec.before.layers[z_at].values;
    let eps = rec.eps.as_ref().unwrap();
    assert!(shown(&h, &format!("{:.4}", z[0])));
    assert!(shown(&h, &format!("{:.4}", eps[0])));
    assert!(
        h.query_by_label("codes of the batch").is_some(),
        "the 2-D codes on their map"
    );
    rewind_walk_and_check(&mut h, &rec, &before);
}

#[test]
fn a_conv_step_shows_feature_maps() {
    let cfg = TrainConfig::preset(Variant::Conv, 2);
    let model = Arc::new(TrainedModel::new(&cfg, "test").unwrap());
    let (mut h, _dir) = open(model.clone());
    let before = copy(&model);
    let rec = step(&mut h);
    let conv = rec
        .before
        .layers
        .iter()
        .position(|l| l.shape.len() == 3)
        .expect("a conv layer's output");
    for _ in 0..=conv {
        h.get_by_label("Next").click();
        h.run_steps(2);
    }
    assert!(h.query_by_label("feature maps").is_some());
    rewind_walk_and_check(&mut h, &rec, &before);
}

#[test]
fn the_button_is_off_while_training_runs() {
    let model = Arc::new(builtin("dense-2d"));
    let (mut h, _dir) = open(model.clone());
    let data = state(&h).shared.data.clone();
    state(&h).shared.a().worker.send(Command::Continue {
        model,
        data,
        epochs: 50,
    });
    assert!(wait_until(&mut h, T, |a| a.shared.a().view.state == RunState::Running));
    h.run_steps(2);
    assert!(h
        .get_by_label("One step in slow motion")
        .accesskit_node()
        .is_disabled());
    assert!(shown(&h, "Training is running"));
    state(&h).shared.a().worker.send(Command::Stop);
    assert!(wait_until(&mut h, T, |a| a.shared.a().view.state == RunState::Idle));
}

/// The engine's own slow step of the same conv model moves it by exactly its record.
#[test]
fn engine_conv_step_model_advances_by_its_update() {
    let cfg = TrainConfig::preset(Variant::Conv, 2);
    let m = TrainedModel::new(&cfg, "test").unwrap();
    let before = copy(&m);
    let data = bottleneck::data::Dataset::embedded().unwrap();
    let rows = data.test.images[..8 * 784].to_vec();
    let (rec, after) = bottleneck::train::slow_step::step_model(m, &rows).unwrap();
    assert!(advanced_by(&after, &before, &rec));
}

/// The other variants (untrained presets): every sub-step shows, the loss terms of each (L1,
/// contractive) are the record's, and the model moves by the record's update.
#[test]
fn deep_denoising_sparse_and_contractive_steps_are_walked() {
    for v in [
        Variant::Deep,
        Variant::Denoising,
        Variant::Sparse,
        Variant::Contractive,
    ] {
        let cfg = TrainConfig::preset(v, 2);
        let model = Arc::new(TrainedModel::new(&cfg, "test").unwrap());
        let (mut h, _dir) = open(model.clone());
        let before = copy(&model);
        let rec = step(&mut h);
        assert_eq!(rec.corrupted.is_some(), v == Variant::Denoising, "{v:?}");
        walk(&mut h, &rec);
        assert!(
            wait_until(&mut h, T, |a| a
                .shared
                .model()
                .is_some_and(|m| advanced_by(m, &before, &rec))),
            "{v:?}"
        );
    }
}
