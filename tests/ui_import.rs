//! Bringing one's own data through the app (issue 16), driven by egui_kittest: the in-app file
//! picker where no system dialog can be shown, the import preview of a folder of
//! photographed-style digits (dark ink on white paper, coloured paper, transparent PNGs),
//! the import options remembered across a restart, a CSV dropped on the window, and legends
//! that list only the classes present, by name, in a palette that keeps them apart.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bottleneck::app::{App, AppOptions, Tab};
use bottleneck::data::{Dataset, DatasetSource, ImportOptions, Preprocess};
use bottleneck::model::Variant;
use common::*;
use egui_kittest::kittest::{By, Queryable};

/// How many checkboxes (legend entries) are labelled `label`.
fn checkboxes(h: &AppHarness, label: &str) -> usize {
    h.query_all(By::new().label(label).role(egui::accesskit::Role::CheckBox))
        .count()
}

const T: Duration = Duration::from_secs(120);
const DIGIT_NAMES: [&str; 10] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];

fn builtin_picker() {
    // Every test of this binary wants the in-app picker, whatever the machine offers.
    std::env::set_var("BOTTLENECK_FILE_PICKER", "builtin");
}

/// Writes `per_class` pictures of each digit (real MNIST digits from the built-in set,
/// enlarged) the way a phone would see them: dark ink on white paper, on coloured paper, or
/// on a transparent background (RGBA), in class folders named after the digits.
pub fn photographed_digits(dir: &Path, per_class: usize) {
    let data = Dataset::embedded().unwrap();
    let mut counts = [0usize; 10];
    for i in 0..data.test.len() {
        let l = usize::from(data.test.labels[i]);
        if counts[l] >= per_class {
            continue;
        }
        let n = counts[l];
        counts[l] += 1;
        let folder = dir.join(DIGIT_NAMES[l]);
        std::fs::create_dir_all(&folder).unwrap();
        let img = data.test.image(i);
        let (w, h) = (90u32, 100u32);
        let ink = |x: u32, y: u32| {
            let (sx, sy) = (x * 28 / w, y * 28 / h);
            img[(sy * 28 + sx) as usize]
        };
        let path = folder.join(format!("{n:03}.png"));
        match n % 3 {
            0 => {
                // Dark ink on white paper.
                let pic = image::RgbImage::from_fn(w, h, |x, y| {
                    let v = ink(x, y);
                    let c = |paper: f32, pen: f32| (paper * (1.0 - v) + pen * v) as u8;
                    image::Rgb([c(245.0, 20.0), c(245.0, 25.0), c(240.0, 40.0)])
                });
                pic.save(&path).unwrap();
            }
            1 => {
                // Blue ink on yellow paper.
                let pic = image::RgbImage::from_fn(w, h, |x, y| {
                    let v = ink(x, y);
                    let c = |paper: f32, pen: f32| (paper * (1.0 - v) + pen * v) as u8;
                    image::Rgb([c(250.0, 30.0), c(225.0, 40.0), c(150.0, 120.0)])
                });
                pic.save(&path).unwrap();
            }
            _ => {
                // Black ink on a transparent canvas.
                let pic = image::RgbaImage::from_fn(w, h, |x, y| {
                    image::Rgba([0, 0, 0, (ink(x, y) * 255.0) as u8])
                });
                pic.save(&path).unwrap();
            }
        }
    }
}

/// Opens the dataset dialog from the sidebar and waits for the in-app picker.
fn open_picker(h: &mut AppHarness, button: &str) {
    h.get_by_label(button).click();
    let shown = wait_until(h, T, |a| a.picker.is_some());
    assert!(shown, "the in-app picker never opened");
    h.step();
}

fn go(h: &mut AppHarness, dir: &Path) {
    state_mut(h).picker.as_mut().unwrap().go(dir.to_path_buf());
    h.step();
}

#[test]
fn without_a_system_dialog_the_in_app_picker_says_why_and_opens_a_csv() {
    builtin_picker();
    let tmp = tempfile::tempdir().unwrap();
    let data = Dataset::embedded().unwrap();
    bottleneck::data::csv::write(&tmp.path().join("digits.csv"), &data.test.take(300)).unwrap();
    std::fs::write(tmp.path().join("notes.txt"), "not a dataset").unwrap();
    let (mut h, _cfg) = app(|_| {});
    h.step();
    open_picker(&mut h, "Open CSV…");
    assert!(
        h.query_by_label_contains("No system file dialog is available here")
            .is_some(),
        "the picker says why it is shown"
    );
    go(&mut h, tmp.path());
    // Only what the dialog accepts is listed.
    assert!(h.query_by_label("digits.csv").is_some());
    assert!(h.query_by_label("notes.txt").is_none());
    h.get_by_label("digits.csv").click();
    h.step();
    h.get_by_label("Open").click();
    h.step();
    assert!(
        state(&h).picker.is_none(),
        "the picker closes once it answers"
    );
    let opened = wait_until(&mut h, T, |a| a.shared.data.name == "digits");
    assert!(opened, "the CSV never opened");
    assert_eq!(state(&h).shared.data.train.len(), 240);
}

#[test]
fn cancelling_the_in_app_picker_changes_nothing() {
    builtin_picker();
    let (mut h, _cfg) = app(|_| {});
    h.step();
    open_picker(&mut h, "Open dataset…");
    h.get_by_label("Cancel").click();
    h.step();
    h.step();
    assert!(state(&h).picker.is_none());
    assert_eq!(state(&h).shared.data.source, DatasetSource::Embedded);
    assert!(
        !state(&h).sidebar.dataset.busy(),
        "the dialog job is answered"
    );
}

#[test]
fn a_folder_of_photographed_digits_is_previewed_imported_and_remembered() {
    builtin_picker();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("my digits");
    photographed_digits(&root, 6);
    std::fs::write(root.join("seven").join("broken.png"), b"\x89PNG broken").unwrap();
    let (mut h, cfg) = app(|_| {});
    h.step();
    open_picker(&mut h, "Open dataset…");
    go(&mut h, tmp.path());
    h.get_by_label("my digits/").click();
    h.step();
    h.get_by_label("Open this folder").click();
    // The window grows when the pictures arrive: wait for them before clicking in it.
    let preview_ready = |a: &App| {
        a.sidebar
            .dataset
            .preview
            .as_ref()
            .is_some_and(|p| p.ready())
    };
    let previewed = wait_until(&mut h, T, preview_ready);
    assert!(previewed, "no preview window");
    h.step();
    assert!(h.query_by_label("Import 61 pictures").is_some());
    assert!(
        h.query_by_label_contains("zero, one, two").is_none(),
        "sorted by name"
    );
    assert!(h.query_by_label_contains("eight, five, four").is_some());
    // Fit the whole picture, inverted.
    h.get_by_label("Fit whole picture").click();
    h.step();
    assert!(wait_until(&mut h, T, preview_ready));
    h.step();
    h.get_by_label("Invert").click();
    h.step();
    assert!(wait_until(&mut h, T, preview_ready));
    h.step();
    let options = state(&h).sidebar.dataset.preview.as_ref().unwrap().options;
    assert_eq!(
        options,
        ImportOptions {
            preprocess: Preprocess::Fit,
            invert: true
        }
    );
    h.get_by_label("Import 61 pictures").click();
    let imported = wait_until(&mut h, T, |a| a.shared.data.name == "my digits");
    assert!(
        imported,
        "the folder never imported: {:?}, preview open: {}",
        state(&h)
            .shared
            .notices
            .iter()
            .map(|n| &n.text)
            .collect::<Vec<_>>(),
        state(&h).sidebar.dataset.preview.is_some()
    );
    h.step();
    let a = state(&h);
    assert_eq!(a.shared.data.train.len() + a.shared.data.test.len(), 60);
    assert_eq!(a.shared.data.class_names[0], "eight");
    assert_eq!(a.shared.settings.dataset_import, options);
    assert_eq!(a.sidebar.dataset.skipped.len(), 1);
    assert!(h.query_by_label("1 file(s) skipped").is_some());
    // Fit + invert: paper (light) becomes dark, so most of each image is dark.
    let mean: f32 =
        a.shared.data.train.images.iter().sum::<f32>() / a.shared.data.train.images.len() as f32;
    assert!(mean < 0.5, "mean {mean}");

    // A restart reopens the folder with the same preprocessing.
    state_mut(&mut h).on_exit();
    drop(h);
    let opts = AppOptions {
        data: None,
        import: None,
        settings_path: Some(cfg.path().join("settings.json")),
        load_bundled: false,
    };
    let mut h2 = harness_with(opts, |_| {});
    h2.step();
    let a = state(&h2);
    assert_eq!(a.shared.data.name, "my digits");
    assert_eq!(a.shared.settings.dataset_import, options);
    assert_eq!(a.shared.data.train.images, {
        let again =
            bottleneck::data::import::load(&DatasetSource::Dir(root.clone()), &options, None)
                .unwrap();
        again.dataset.train.images
    });
}

#[test]
fn a_csv_dropped_on_the_window_opens_as_the_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let data = Dataset::embedded().unwrap();
    let csv = tmp.path().join("dropped.csv");
    bottleneck::data::csv::write(&csv, &data.test.take(100)).unwrap();
    let (mut h, _cfg) = app(|_| {});
    h.step();
    drop_files(&mut h, &[csv]);
    let opened = wait_until(&mut h, T, |a| a.shared.data.name == "dropped");
    assert!(opened, "the dropped CSV never opened");
    // A broken CSV dropped: a message naming the line, the dataset unchanged.
    let bad = tmp.path().join("bad.csv");
    std::fs::write(&bad, "label,a,b,c,d\n1,0,0,0,0\n2,0,0,x,0\n").unwrap();
    drop_files(&mut h, &[bad]);
    let told = wait_until(&mut h, T, |a| {
        a.shared
            .notices
            .iter()
            .any(|n| n.text.contains("bad.csv") && n.text.contains("line 3"))
    });
    assert!(told, "no message about the bad row");
    assert_eq!(state(&h).shared.data.name, "dropped");
}

#[test]
fn an_npz_dropped_on_the_window_opens_as_the_dataset() {
    // keras.datasets.mnist's layout (x_train, y_train, x_test, y_test), 50 digits in all.
    let npz =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/engine/tests/data/npz/mnist50.npz");
    let (mut h, _cfg) = app(|_| {});
    h.step();
    drop_files(&mut h, &[npz]);
    let opened = wait_until(&mut h, T, |a| a.shared.data.name == "mnist50");
    assert!(opened, "the dropped .npz never opened");
}

fn letters_folder(dir: &Path) -> PathBuf {
    let data = Dataset::embedded().unwrap();
    let root = dir.join("letters");
    for (c, letter) in ('A'..='Z').enumerate() {
        let d = root.join(letter.to_string());
        std::fs::create_dir_all(&d).unwrap();
        for j in 0..8 {
            let img = data.test.image(c * 8 + j);
            let pic = image::GrayImage::from_raw(
                28,
                28,
                img.iter().map(|&v| (v * 255.0) as u8).collect(),
            )
            .unwrap();
            pic.save(d.join(format!("{j}.png"))).unwrap();
        }
    }
    root
}

#[test]
fn twenty_six_letter_classes_show_twenty_six_legend_entries_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let root = letters_folder(tmp.path());
    let data = Arc::new(Dataset::load(&DatasetSource::Dir(root.clone())).unwrap());
    let model = Arc::new(train_model(data.clone(), Variant::Dense, 2, 1));
    let opts = AppOptions {
        data: Some(DatasetSource::Dir(root)),
        import: None,
        settings_path: None,
        load_bundled: false,
    };
    let mut h = harness_with(opts, |a: &mut App| a.tab = Tab::Latent);
    adopt(&mut h, model);
    let ready = wait_until(&mut h, T, |a| a.latent.map().is_some());
    assert!(ready, "the latent map never appeared");
    h.step();
    let test_labels = &state(&h).shared.data.test.labels;
    let mut present: Vec<u8> = test_labels.clone();
    present.sort();
    present.dedup();
    assert_eq!(present.len(), 26);
    for letter in 'A'..='Z' {
        assert_eq!(
            checkboxes(&h, &letter.to_string()),
            1,
            "legend entry {letter}"
        );
    }
}

/// Issue 16: labels 0, 1 and 200 gave a legend of 201 classes whose colours repeated every
/// 10. Now the legend lists the three classes present, in three different colours.
#[test]
fn labels_0_1_and_200_give_a_legend_of_three_distinct_colours() {
    let labels: Vec<u8> = (0..300).map(|i| [0u8, 1, 200][i % 3]).collect();
    let dir = idx_folder(300, |i, p| ((i * 7 + p * 3) % 256) as u8, |i| labels[i]);
    let data = Arc::new(Dataset::load_dir(dir.path()).unwrap());
    assert_eq!(data.present_classes(), vec![0, 1, 200]);
    let model = Arc::new(train_model(data.clone(), Variant::Dense, 2, 1));
    let opts = AppOptions {
        data: Some(DatasetSource::Dir(dir.path().to_path_buf())),
        import: None,
        settings_path: None,
        load_bundled: false,
    };
    let mut h = harness_with(opts, |a: &mut App| a.tab = Tab::Latent);
    adopt(&mut h, model);
    assert!(wait_until(&mut h, T, |a| a.latent.map().is_some()));
    h.step();
    for shown in ["0", "1", "200"] {
        assert_eq!(checkboxes(&h, shown), 1, "legend entry {shown}");
    }
    for absent in ["2", "10", "199"] {
        assert_eq!(checkboxes(&h, absent), 0, "legend entry {absent}");
    }
    use bottleneck::app::widgets::class_color;
    assert_ne!(class_color(0), class_color(200));
    assert_ne!(class_color(0), class_color(10));
}

#[test]
fn the_palette_keeps_twenty_classes_apart_and_never_repeats_a_neighbour() {
    use bottleneck::app::widgets::class_color;
    let rgb = |l: u8| {
        let c = class_color(l);
        [c.r() as i32, c.g() as i32, c.b() as i32]
    };
    for a in 0..20u8 {
        for b in (a + 1)..20u8 {
            let (x, y) = (rgb(a), rgb(b));
            let d2: i32 = (0..3).map(|i| (x[i] - y[i]).pow(2)).sum();
            assert!(
                d2 >= 40 * 40,
                "classes {a} and {b} are too alike: {x:?} {y:?}"
            );
        }
    }
    for l in 0..255u8 {
        assert_ne!(
            class_color(l),
            class_color(l + 1),
            "classes {l} and {}",
            l + 1
        );
    }
    let distinct: std::collections::HashSet<[i32; 3]> = (0..=255u8).map(rgb).collect();
    assert!(distinct.len() > 200, "{} distinct colours", distinct.len());
}

/// Not a test: writes the photographed-style digits to $DEMO_DIR (for looking at the app).
#[test]
#[ignore]
fn make_demo_folder() {
    let dir = std::env::var("DEMO_DIR").expect("set DEMO_DIR");
    photographed_digits(Path::new(&dir), 30);
}
