//! Lessons as files: every built-in lesson parses, each step sets up what it says and renders
//! at 1024×768 in presenter mode; a teacher's lesson with its data set beside it opens (menu,
//! drop) and plays, its questions' revealed answers equal an independent measurement; a
//! malformed file names the file, the line and the reason without breaking its other steps;
//! the last lesson reopens at its step.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use bottleneck::analysis::{features, metrics};
use bottleneck::app::lessons::format::{self, DataChoice, ModelChoice, Origin};
use bottleneck::app::lessons::{self, Control, Reveal, COURSE};
use bottleneck::app::panels::denoise::NoiseChoice;
use bottleneck::app::snapshot::{settled, SnapshotRequest};
use bottleneck::app::{AppOptions, Tab};
use common::*;
use egui_kittest::kittest::Queryable;

const T: Duration = Duration::from_secs(120);

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/lessons")
        .join(name)
}

/// The numbers a step's text may hold: its model's sizes and epochs, and the few constants of
/// the formulas and the architecture (784 pixels of 28×28, 8 bits, 2-D, 5 neighbours). Any
/// other number would be a figure typed in instead of measured.
fn allowed_numbers(step: &lessons::Step) -> Vec<u64> {
    let mut ok = vec![0, 1, 2, 5, 7, 8, 28, 784];
    let cfg = match &step.model {
        Some(ModelChoice::Train(c)) => Some(c.clone()),
        Some(ModelChoice::Bundled(k)) => Some(
            bottleneck::model::bundled::find(k)
                .unwrap()
                .load()
                .unwrap()
                .config()
                .clone(),
        ),
        None => None,
    };
    if let Some(c) = cfg {
        ok.push(c.model.latent as u64);
        ok.push(c.epochs as u64);
        ok.extend(c.model.hidden.iter().map(|&h| h as u64));
        ok.extend(c.model.channels.iter().map(|&h| h as u64));
        ok.extend([512, 256, 128]);
    }
    if let Some(b) = step.view.budget {
        ok.push(b as u64);
    }
    ok
}

fn numbers_in(text: &str) -> Vec<u64> {
    text.split(|c: char| !c.is_ascii_digit() && c != '.')
        .filter(|s| !s.is_empty() && s.chars().any(|c| c.is_ascii_digit()))
        .map(|s| {
            assert!(
                !s.trim_matches('.').contains('.'),
                "a decimal figure \"{s}\" is typed into a lesson: measure it instead"
            );
            s.trim_matches('.').parse().unwrap()
        })
        .collect()
}

#[test]
fn every_built_in_lesson_parses_and_its_text_types_no_figure() {
    assert_eq!(COURSE.len(), 17);
    for (i, (name, _)) in COURSE.iter().enumerate() {
        let l = lessons::built_in(i)
            .unwrap()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!l.title.is_empty() && !l.topics.is_empty(), "{name}");
        assert!(!l.steps.is_empty());
        assert_eq!(l.origin, Origin::BuiltIn(name));
        for s in &l.steps {
            let s = s.as_ref().unwrap_or_else(|e| panic!("{e}"));
            assert!(!s.text.is_empty(), "{}: {}", l.title, s.title);
            let ok = allowed_numbers(s);
            let mut text = lessons::markdown::plain(&s.text);
            if let Some(q) = &s.question {
                text.push(' ');
                text.push_str(&q.ask);
            }
            for n in numbers_in(&text) {
                assert!(
                    ok.contains(&n),
                    "{} / {}: the number {n} is not the step's own setting",
                    l.title,
                    s.title
                );
            }
            if let Some(ModelChoice::Train(c)) = &s.model {
                assert_eq!(c.validate(), Ok(()), "{}", s.title);
            }
        }
    }
    // The course's order: the old lessons' variants are all still taught.
    let panels: Vec<Tab> = (0..COURSE.len())
        .flat_map(|i| lessons::built_in(i).unwrap().unwrap().steps)
        .map(|s| s.unwrap().panel)
        .collect();
    for t in Tab::ALL {
        assert!(panels.contains(&t), "no step shows {}", t.cli_name());
    }
}

/// Every step of every built-in lesson, set up as the snapshot command does it: the panel,
/// the form or the built-in model, the panel's state and the hidden controls are the step's,
/// and it renders at 1024×768 in presenter mode.
#[test]
fn every_step_sets_up_what_it_says_and_renders_for_a_projector() {
    let fashion = std::path::Path::new(format::FASHION_MNIST_DIR).is_dir();
    for i in 0..COURSE.len() {
        let l = lessons::built_in(i).unwrap().unwrap();
        for (j, s) in l.steps.iter().enumerate() {
            let s = s.as_ref().unwrap();
            if s.data == Some(DataChoice::Fashion) && !fashion {
                eprintln!("skipped {} / {}: no Fashion-MNIST here", l.title, s.title);
                continue;
            }
            let req = SnapshotRequest {
                tab: s.panel,
                width: 1024.0,
                height: 768.0,
                presenter: true,
                lesson: Some(i),
                step: j,
                ..Default::default()
            };
            let what = format!("{} / step {}: {}", l.title, j + 1, s.title);
            let mut h = settled(&req).unwrap_or_else(|e| panic!("{what}: {e}"));
            let a = state(&h);
            assert_eq!(a.tab, s.panel, "{what}");
            assert!(a.lessons.open && a.lessons.index == j, "{what}");
            assert_eq!(a.shared.hidden_controls, s.hide, "{what}");
            match &s.model {
                Some(ModelChoice::Train(c)) => assert_eq!(&a.shared.settings.train, c, "{what}"),
                Some(ModelChoice::Bundled(k)) => {
                    let b = bottleneck::model::bundled::find(k).unwrap().load().unwrap();
                    assert_eq!(&a.shared.settings.train, b.config(), "{what}");
                    assert_eq!(a.shared.model().unwrap().config(), b.config(), "{what}");
                }
                None => {}
            }
            if let Some(d) = &s.data {
                assert_eq!(a.shared.data.source, d.source(), "{what}");
            }
            let v = &s.view;
            if let Some(m) = v.method {
                assert_eq!(a.latent.view.method, m, "{what}");
            }
            if let Some(k) = v.noise {
                assert_eq!(a.denoise.noise, NoiseChoice::Noise(k), "{what}");
            }
            if let Some(f) = v.level {
                assert_eq!(a.denoise.factor, f, "{what}");
            }
            if let Some(b) = v.budget {
                assert_eq!(a.compression.budget, b, "{what}");
            }
            if let Some(held) = &v.held_out {
                assert!(
                    held.iter().all(|c| !a.anomaly.settings.normal.contains(c)),
                    "{what}"
                );
            }
            if let Some(t) = v.t {
                assert_eq!(a.interpolate.t, t, "{what}");
            }
            if let Some(g) = v.generate {
                assert_eq!(a.generate.view, g, "{what}");
            }
            assert!(
                h.query_by_label_contains(&format!("Step {} of {}", j + 1, l.steps.len()))
                    .is_some(),
                "{what}: the card shows the step"
            );
            if s.question.is_some() {
                assert!(h.query_by_label("Reveal").is_some(), "{what}");
            }
            let img = h.render().unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!((img.width(), img.height()), (1024, 768), "{what}");
            let first = *img.get_pixel(0, 0);
            let differ = img.pixels().filter(|p| **p != first).count();
            assert!(differ > 1024 * 768 / 20, "{what} rendered blank");
        }
    }
}

/// The fixture's test MSE, measured without the lesson code: the model's reconstructions of
/// the test images against the images.
fn independent_test_mse(a: &bottleneck::app::App) -> f64 {
    let m = a.shared.model().unwrap();
    let recon = m.reconstruct(&a.shared.data.test.images).unwrap();
    metrics::mse(&recon, &a.shared.data.test.images) as f64
}

fn revealed(a: &bottleneck::app::App, step: usize) -> Option<Result<lessons::Measured, String>> {
    match &a.lessons.answers.get(&step)?.reveal {
        Reveal::Done(r) => Some(r.clone()),
        _ => None,
    }
}

#[test]
fn a_teachers_lesson_opens_from_the_menu_and_plays_with_its_own_data() {
    let path = fixture("my-class.lesson");
    let (mut h, _d) = app(move |a| {
        a.lessons.epoch_cap = Some(3);
        a.shared.dialog_override = Some(path);
    });
    h.step();
    h.get_by_label("Lessons").click();
    h.run_steps(2);
    h.get_by_label("Open lesson file…").click();
    h.run_steps(2);
    let a = state(&h);
    let l = a.lessons.lesson.clone().unwrap();
    assert_eq!(l.title, "Shapes, a teacher's own lesson");
    assert_eq!(a.lessons.opened, vec![fixture("my-class.lesson")]);
    // The data set beside the lesson file is open, the form and the hidden controls are the step's.
    assert_eq!(
        a.shared.data.source,
        bottleneck::data::DatasetSource::Dir(fixture("shapes.csv"))
    );
    assert_eq!(a.shared.data.train.len() + a.shared.data.test.len(), 120);
    assert_eq!(a.tab, Tab::Train);
    assert_eq!(a.shared.settings.train.model.latent, 2);
    assert_eq!(
        a.shared.hidden_controls,
        vec![Control::Dataset, Control::Contractive]
    );
    assert!(
        h.query_by_label("Open dataset…").is_none(),
        "the dataset control is hidden"
    );
    assert!(h
        .query_by_label_contains("Shapes, a teacher's own lesson · Step 1 of 2")
        .is_some());
    // Two guesses, then Reveal trains the step's model and measures.
    state_mut(&mut h).lessons.answers_mut(0, 0).entry = 0.05;
    h.get_by_label("Add guess").click();
    h.run_steps(2);
    state_mut(&mut h).lessons.answers_mut(0, 0).entry = 0.2;
    h.get_by_label("Add guess").click();
    h.run_steps(2);
    assert_eq!(state(&h).lessons.answers[&0].guesses, vec![0.05, 0.2]);
    h.get_by_label("Reveal").click();
    assert!(wait_until(&mut h, T, |a| revealed(a, 0).is_some()));
    let m = revealed(state(&h), 0).unwrap().unwrap();
    let a = state(&h);
    let model = a.shared.model().unwrap();
    assert!(lessons::trained_for(
        model,
        &a.lessons.config_of(&l.steps[0].clone().unwrap()).unwrap()
    ));
    let want = independent_test_mse(a);
    assert!(
        (m.value - want).abs() <= 1e-5 * want.max(1e-3),
        "revealed {} but the test MSE is {want}",
        m.value
    );
    h.run_steps(2);
    assert!(h.query_by_label_contains("Measured: ").is_some());
    assert!(h.query_by_label_contains("(closest)").is_some());

    // Next: a number of active units, revealed and measured again independently.
    h.get_by_label("Next").click();
    h.run_steps(2);
    assert_eq!(state(&h).tab, Tab::Features);
    assert!(state(&h).shared.hidden_controls.is_empty());
    h.get_by_label("Reveal").click();
    assert!(wait_until(&mut h, T, |a| revealed(a, 1).is_some()));
    let m = revealed(state(&h), 1).unwrap().unwrap();
    let a = state(&h);
    let model = a.shared.model().unwrap();
    assert_eq!(model.latent(), 8);
    let codes = model.encode(&a.shared.data.test.images).unwrap();
    let stats = features::code_stats(&codes, 8, None).unwrap();
    assert_eq!(m.value, stats.active_units as f64);
    assert!(m.value >= 1.0 && m.value <= 8.0);
}

#[test]
fn a_lesson_dropped_on_the_window_opens_and_a_malformed_one_names_file_line_and_reason() {
    let (mut h, _d) = app(|_| {});
    h.step();
    drop_files(&mut h, &[fixture("broken.lesson")]);
    h.run_steps(2);
    let a = state(&h);
    assert!(a.shared.dropped_files.is_empty());
    let l = a.lessons.lesson.clone().unwrap();
    assert_eq!(l.title, "A lesson with mistakes");
    assert_eq!(l.steps.len(), 4);
    assert!(
        l.steps[0].is_ok() && l.steps[3].is_ok(),
        "good steps stay good"
    );
    let file = fixture("broken.lesson").display().to_string();
    let e = l.steps[1].as_ref().unwrap_err();
    assert_eq!((e.file.as_str(), e.line), (file.as_str(), 13));
    assert!(e.reason.contains("unknown panel \"blackboard\""), "{e}");
    let e = l.steps[2].as_ref().unwrap_err();
    assert_eq!(e.line, 23, "{e}");
    assert!(e.reason.contains("invalid type"), "{e}");
    // The error card says so; Next moves on past it.
    assert_eq!(state(&h).tab, Tab::Train);
    h.get_by_label("Next").click();
    h.run_steps(2);
    assert!(h
        .query_by_label_contains(&format!("{file}, line 13: unknown panel"))
        .is_some());
    h.get_by_label("Next").click();
    h.run_steps(2);
    h.get_by_label("Next").click();
    h.run_steps(2);
    assert_eq!(
        state(&h).tab,
        Tab::Pca,
        "the step after the bad ones is set up"
    );

    // A file that is no lesson at all: an error card naming the file and the line.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("notes.lesson");
    std::fs::write(&bad, "Just some notes.\n").unwrap();
    drop_files(&mut h, std::slice::from_ref(&bad));
    h.run_steps(2);
    let e = state(&h).lessons.error.clone().expect("shown as an error");
    assert_eq!((e.file, e.line), (bad.display().to_string(), 1));
    // On the card (and in the notice).
    assert!(
        h.query_all_by_label_contains("line 1: expected a line +++")
            .count()
            >= 1
    );
}

#[test]
fn the_last_lesson_reopens_at_its_step() {
    let dir = tempfile::tempdir().unwrap();
    let opts = AppOptions {
        data: Some(bottleneck::data::DatasetSource::Embedded),
        import: None,
        settings_path: Some(dir.path().join("settings.json")),
        load_bundled: false,
    };
    let mut h = harness_with(opts.clone(), |a| {
        a.lessons.show(lessons::built_in(7).unwrap().unwrap(), 1);
    });
    h.run_steps(3);
    assert_eq!(state(&h).tab, Tab::Latent);
    let mut a = h.into_state().unwrap();
    a.on_exit();
    drop(a);
    let mut h2 = harness_with(opts, |_| {});
    h2.run_steps(2);
    let a = state(&h2);
    assert!(a.lessons.open);
    assert_eq!(a.lessons.index, 1);
    assert_eq!(
        a.lessons.lesson.as_ref().unwrap().title,
        "Variational autoencoders"
    );
    assert!(h2.query_by_label_contains("Step 2 of 3").is_some());
}
