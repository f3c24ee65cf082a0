//! The Denoise panel driven through egui_kittest: the noise slider, drawing on the canvas,
//! dragging an occlusion, pictures dropped or opened (good and bad), another model to compare
//! with, and the batch view.

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bottleneck::analysis::denoise::{self, Corruption, Denoiser};
use bottleneck::app::panels::denoise::{NoiseChoice, Source};
use bottleneck::app::{Level, Tab};
use bottleneck::data::preprocess::{self, Gray};
use bottleneck::data::{Dataset, NoiseKind};
use bottleneck::model::{TrainedModel, Variant};
use bottleneck::train::worker::Command;
use common::*;
use egui::{Pos2, Role};
use egui_kittest::kittest::Queryable;

const T: Duration = Duration::from_secs(60);

fn trained(variant: Variant, epochs: usize) -> TrainedModel {
    train_model(Arc::new(Dataset::embedded().unwrap()), variant, 16, epochs)
}

/// The app on the Denoise tab with `model` current and PCA fitted.
fn denoise_app(
    model: Option<TrainedModel>,
    setup: impl FnOnce(&mut bottleneck::app::App) + 'static,
) -> (AppHarness, tempfile::TempDir) {
    let (mut h, dir) = app(move |a| {
        a.tab = Tab::Denoise;
        setup(a);
    });
    h.step();
    let want_model = model.is_some();
    if let Some(m) = model {
        let a = state_mut(&mut h);
        let data = a.shared.data.clone();
        a.shared.a().worker.send(Command::Adopt {
            model: Arc::new(m),
            data,
        });
    }
    // Wait for the adopted model itself: PCA can be ready before the worker has taken it
    // (the panel then showed PCA's output alone, a failure seen under load).
    assert!(wait_until(&mut h, T, move |a| a.shared.pca.is_some()
        && (!want_model || a.shared.model().is_some())));
    h.step();
    (h, dir)
}

/// Whether some widget's label contains `text`.
fn has(h: &AppHarness, text: &str) -> bool {
    h.query_all_by_label_contains(text).next().is_some()
}

fn shown(h: &AppHarness) -> bottleneck::app::panels::denoise::Shown {
    state(h)
        .denoise
        .shown
        .clone()
        .expect("the panel shows an image")
}

fn output(s: &bottleneck::app::panels::denoise::Shown, i: usize) -> Vec<f32> {
    s.outputs[i]
        .result
        .as_ref()
        .expect("a reconstruction")
        .0
        .clone()
}

#[test]
fn moving_the_slider_changes_the_noisy_and_denoised_images() {
    let (mut h, _d) = denoise_app(Some(trained(Variant::Denoising, 1)), |_| {});
    let before = shown(&h);
    assert_eq!(before.outputs.len(), 2, "current model and PCA");
    assert!(before.outputs[1].title.starts_with("PCA, k = 16"));
    assert_eq!(state(&h).denoise.factor, 0.5);

    let slider = h.get_by_role_and_label(Role::Slider, "noise factor").rect();
    let y = slider.center().y;
    let at = |f: f32| Pos2::new(slider.left() + f * slider.width(), y);
    mouse_drag(&mut h, at(0.5), at(0.9));
    let factor = state(&h).denoise.factor;
    assert!(factor > 0.75, "the slider moved: factor {factor}");

    let after = shown(&h);
    assert_eq!(after.clean, before.clean, "the clean image stays");
    assert_ne!(after.noisy, before.noisy, "the noisy image changes");
    assert!(after.noisy_score.mse > before.noisy_score.mse, "more noise");
    for i in 0..2 {
        assert_ne!(output(&after, i), output(&before, i), "output {i} changes");
    }
    // What is shown is the shared experiment's result.
    let m = state(&h).shared.model().unwrap().clone();
    let r = denoise::denoise(
        Denoiser::Model(&m),
        after.clean.clone(),
        &state(&h).denoise.corruption(),
        state(&h).denoise.seed,
    )
    .unwrap();
    assert_eq!(r.noisy, after.noisy);
    assert_eq!(r.denoised, output(&after, 0));
    let caption = format!("Gaussian {factor:.2}");
    assert!(has(&h, &caption), "{caption} on show");

    // Down to zero: the noisy image is the clean one.
    mouse_drag(&mut h, at(0.9), at(-0.2));
    assert_eq!(state(&h).denoise.factor, 0.0);
    assert_eq!(shown(&h).noisy, shown(&h).clean);

    // The test-set table follows the settings.
    assert!(wait_until(&mut h, T, |a| a
        .denoise
        .set_table_is_current(&a.shared)));
    h.step();
    let t = state(&h).denoise.set_table().unwrap().clone();
    assert_eq!(t.images, 2000);
    assert_eq!(t.rows.len(), 2);
    assert!(h.query_by_label("PSNR").is_some(), "the table header");

    // New noise: same factor, other pixels.
    mouse_drag(&mut h, at(0.2), at(0.6));
    let a = shown(&h);
    h.get_by_label("New noise").click();
    h.step();
    h.step();
    assert_ne!(shown(&h).noisy, a.noisy);
    assert_eq!(shown(&h).clean, a.clean);
}

#[test]
fn drawing_on_the_canvas_denoises_the_drawing_and_shows_its_steps() {
    let (mut h, _d) = denoise_app(Some(trained(Variant::Denoising, 1)), |_| {});
    let canvas = h.get_by_label("Drawing canvas").rect();
    assert!(canvas.width() >= 200.0, "a comfortable size: {canvas:?}");
    // A vertical stroke left of centre: a "1".
    let p = |x: f32, y: f32| canvas.min + (canvas.size() * egui::vec2(x, y));
    mouse_drag(&mut h, p(0.3, 0.2), p(0.32, 0.8));
    let a = state(&h);
    assert_eq!(a.denoise.source, Source::Drawing);
    assert!(!a.denoise.canvas.is_blank());
    let ink = a.denoise.canvas.pixels.iter().filter(|&&v| v > 0.5).count();
    assert!(ink > 20, "the stroke drew {ink} pixels");
    // The model's input is the preprocessed drawing: centred.
    let s = shown(&h);
    let g = Gray {
        width: 28,
        height: 28,
        pixels: s.clean.clone(),
    };
    let (cx, cy) = preprocess::centre_of_mass(&g).unwrap();
    assert!(
        (cx - 14.0).abs() <= 1.0 && (cy - 14.0).abs() <= 1.0,
        "({cx}, {cy})"
    );
    assert!(h.query_by_label("centred 28×28").is_some(), "steps on show");
    assert!(h.query_by_label("scaled to 20 px").is_some());
    assert_eq!(s.outputs.len(), 2);

    h.get_by_label("Clear").click();
    h.step();
    h.step();
    assert!(state(&h).denoise.canvas.is_blank());
    assert!(shown(&h).clean.iter().all(|&v| v == 0.0));
}

#[test]
fn dragging_on_the_noisy_image_places_the_occlusion() {
    let (mut h, _d) = denoise_app(None, |_| {});
    h.get_by_label("Occlusion").click();
    h.step();
    assert_eq!(state(&h).denoise.noise, NoiseChoice::Occlusion);
    let img = h.get_by_label("Noisy input image").rect();
    let px = |x: f32, y: f32| img.min + img.size() * egui::vec2(x / 28.0, y / 28.0);
    // Outside the default rectangle: draws a new one from (2, 3) to (9, 8).
    mouse_drag(&mut h, px(2.3, 3.4), px(8.6, 7.5));
    let o = state(&h).denoise.occlusion;
    assert_eq!((o.x, o.y, o.w, o.h), (2, 3, 7, 5));
    let s = shown(&h);
    for y in 0..28 {
        for x in 0..28 {
            let i = y * 28 + x;
            let inside = (2..9).contains(&x) && (3..8).contains(&y);
            if inside {
                assert_eq!(s.noisy[i], 0.0);
            } else {
                assert_eq!(s.noisy[i], s.clean[i]);
            }
        }
    }
    // Inside it: moves it, same size.
    mouse_drag(&mut h, px(4.5, 5.5), px(14.5, 15.5));
    let o = state(&h).denoise.occlusion;
    assert_eq!((o.x, o.y, o.w, o.h), (12, 13, 7, 5));
    assert_eq!(state(&h).denoise.corruption(), Corruption::Occlusion(o));
    assert!(has(&h, "occlusion 7×5 at (12, 13)"));
}

#[test]
fn dropped_and_opened_pictures_are_preprocessed_and_bad_ones_only_leave_a_message() {
    let files = tempfile::tempdir().unwrap();
    let good = files.path().join("seven.png");
    preprocess::save_png(&seven_on_paper(), &good).unwrap();
    let text = files.path().join("notes.png");
    std::fs::write(&text, b"these are my notes, not a picture").unwrap();
    let full = std::fs::read(&good).unwrap();
    let truncated = files.path().join("cut.png");
    std::fs::write(&truncated, &full[..full.len() / 2]).unwrap();
    let huge = files.path().join("huge.png");
    std::fs::write(&huge, png_claiming(20_000, 20_000, 8, 0)).unwrap();
    let bomb = files.path().join("bomb.png");
    std::fs::write(&bomb, png_claiming(8000, 8000, 16, 6)).unwrap();

    let (mut h, _d) = denoise_app(Some(trained(Variant::Dense, 1)), |_| {});
    drop_files(&mut h, std::slice::from_ref(&good));
    assert!(wait_until(&mut h, T, |a| a.denoise.user_images.len() == 1));
    h.step();
    let a = state(&h);
    assert!(a.shared.dropped_files.is_empty(), "the panel took the drop");
    assert!(a.denoise.message.is_none());
    let id = a.denoise.user_images[0].id;
    assert_eq!(a.denoise.source, Source::User(id));
    let steps: Vec<&str> = a.denoise.user_images[0]
        .steps
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(
        steps,
        [
            "original (grey)",
            "inverted",
            "cropped",
            "scaled to 20 px",
            "centred 28×28"
        ]
    );
    assert!(has(&h, "inverted"), "steps on show");
    assert!(has(&h, "60×80"), "with the real size");
    let expected = preprocess::preprocess(&preprocess::load(&good).unwrap()).pixels;
    let before = shown(&h);
    assert_eq!(
        before.clean, expected,
        "the model gets the preprocessed picture"
    );

    let cases: [(&PathBuf, &str); 4] = [
        (&text, "not an image"),
        (&truncated, "truncated or corrupt"),
        (&huge, "20000×20000"),
        (&bomb, "MiB"),
    ];
    for (path, reason) in cases {
        drop_files(&mut h, std::slice::from_ref(path));
        assert!(
            wait_until(&mut h, T, |a| a.denoise.message.is_some()),
            "{}",
            path.display()
        );
        h.step();
        let a = state(&h);
        let (level, msg) = a.denoise.message.clone().unwrap();
        assert_eq!(level, Level::Error);
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(msg.contains(name) && msg.contains(reason), "{msg}");
        assert!(has(&h, reason), "the message is in the panel: {msg}");
        assert_eq!(a.denoise.user_images.len(), 1, "nothing added");
        assert_eq!(a.denoise.source, Source::User(id), "the image shown stays");
        assert_eq!(shown(&h).clean, before.clean);
        assert_eq!(output(&shown(&h), 0), output(&before, 0));
        h.get_by_label("Dismiss").click();
        h.step();
        assert!(state(&h).denoise.message.is_none());
    }

    // Through the Open images… button (the test answers the dialog).
    state_mut(&mut h).shared.dialog_override = Some(text.clone());
    h.get_by_label("Open images…").click();
    assert!(wait_until(&mut h, T, |a| a.denoise.message.is_some()));
    assert_eq!(state(&h).denoise.user_images.len(), 1);

    // Several at once: the good ones are added, the bad ones named.
    drop_files(&mut h, &[good.clone(), huge.clone()]);
    assert!(wait_until(&mut h, T, |a| a.denoise.user_images.len() == 2));
    h.step();
    let (_, msg) = state(&h).denoise.message.clone().unwrap();
    assert!(msg.contains("1 of 2") && msg.contains("huge.png"), "{msg}");
    assert!(!msg.contains("seven.png"), "{msg}");
}

#[test]
fn another_model_is_compared_on_the_image_and_the_test_set_then_the_batch_view() {
    let dir = tempfile::tempdir().unwrap();
    let plain_path = dir.path().join("plain.safetensors");
    bottleneck::model::io::save(&trained(Variant::Dense, 1), &plain_path).unwrap();
    let bad_path = dir.path().join("bad.safetensors");
    std::fs::write(&bad_path, b"nope").unwrap();

    let p = plain_path.clone();
    let (mut h, _d) = denoise_app(Some(trained(Variant::Denoising, 1)), move |a| {
        a.shared.dialog_override = Some(p);
    });
    h.get_by_label("Load another model…").click();
    assert!(wait_until(&mut h, T, |a| a.denoise.extra_models.len() == 1));
    h.step();
    h.step();
    let s = shown(&h);
    let titles: Vec<&str> = s.outputs.iter().map(|o| o.title.as_str()).collect();
    assert_eq!(titles, ["Current model", "plain", "PCA, k = 16"]);
    assert_ne!(output(&s, 0), output(&s, 1));

    // The table measures every output on the same noisy test digits.
    assert!(wait_until(&mut h, T, |a| a
        .denoise
        .set_table_is_current(&a.shared)));
    h.step();
    let t = state(&h).denoise.set_table().unwrap().clone();
    assert_eq!(t.rows.len(), 3);
    let plain = state(&h).denoise.extra_models[0].model.clone();
    let expected = denoise::test_set_scores(
        Denoiser::Model(&plain),
        &state(&h).shared.data.test.images,
        &Corruption::Noise {
            kind: NoiseKind::Gaussian,
            factor: 0.5,
        },
        state(&h).denoise.seed,
    )
    .unwrap();
    assert_eq!(t.rows[1].1.as_ref().unwrap(), &expected);
    assert!((t.noisy_psnr - expected.noisy_psnr).abs() < 1e-6);
    assert!(
        h.query_all_by_label("plain").count() >= 2,
        "a column and a table row"
    );

    // A bad model file: a message, the list unchanged.
    state_mut(&mut h).shared.dialog_override = Some(bad_path);
    h.get_by_label("Load another model…").click();
    assert!(wait_until(&mut h, T, |a| a
        .denoise
        .message
        .as_ref()
        .is_some_and(|(l, _)| *l == Level::Error)));
    h.step();
    assert!(has(&h, "Cannot load the model"));
    assert_eq!(state(&h).denoise.extra_models.len(), 1);

    // Batch view: 16 test digits denoised by the current model.
    h.get_by_label("Batch view").click();
    h.step();
    h.step();
    let d = state(&h)
        .denoise
        .batch_denoised
        .clone()
        .expect("batch on show");
    assert_eq!(d.len(), 16 * 784);
    assert!(has(&h, "16 test digits"));
}

#[test]
fn denoise_panel_snapshot() {
    let (mut h, _d) = denoise_app(None, |a| a.denoise.batch_view = true);
    let canvas = h.get_by_label("Drawing canvas").rect();
    let p = |x: f32, y: f32| canvas.min + (canvas.size() * egui::vec2(x, y));
    mouse_drag(&mut h, p(0.35, 0.25), p(0.6, 0.75));
    assert!(wait_until(&mut h, T, |a| a
        .denoise
        .set_table_is_current(&a.shared)));
    h.step();
    h.snapshot("denoise_panel");
}
