//! Model exchange through the app (issue 26), driven by egui_kittest: a Keras file and a
//! PyTorch state dict opened with *Load model…* show the import dialog (layers, the code,
//! the parameter count, what was assumed), an assumption changed in the dialog changes the
//! model, an unreadable file says so and changes nothing, and *Models → Export model…*
//! writes ONNX and PyTorch files with the Python lines that load them.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bottleneck::model::import::Format;
use bottleneck::model::Activation;
use common::*;
use egui_kittest::kittest::Queryable;

const T: Duration = Duration::from_secs(120);

fn fixture(name: &str) -> PathBuf {
    exchange_fixtures().join(name)
}

/// Opens `path` with the Train panel's *Load model…* and waits until the import dialog has
/// read it.
fn open_in_dialog(path: PathBuf) -> (AppHarness, tempfile::TempDir) {
    let (mut h, d) = app(move |a| a.shared.dialog_override = Some(path));
    h.step();
    h.get_by_label("Load model…").click();
    assert!(wait_until(&mut h, T, |a| a
        .import
        .as_ref()
        .is_some_and(|d| d.found.is_some() && !d.busy())));
    h.step();
    (h, d)
}

#[test]
fn a_keras_file_opened_with_load_model_shows_its_layers_and_becomes_the_model() {
    let (mut h, _d) = open_in_dialog(fixture("keras_dense.keras"));
    let found = match &state(&h).import.as_ref().unwrap().found {
        Some(Ok(r)) => r.clone(),
        other => panic!(
            "not recognised: {:?}",
            other.as_ref().map(|r| r.as_ref().err())
        ),
    };
    assert_eq!(found.format, Format::Keras);
    // encoder 784-64-32-8 (ReLU code) as make_fixtures.py built it
    assert_eq!(found.config.hidden, vec![64, 32]);
    assert_eq!(found.config.latent, 8);
    assert_eq!(found.config.code_activation, Activation::Relu);
    // What the dialog shows: the format, the parameter count, the code layer.
    let params = bottleneck::model::config::thousands(found.params());
    assert!(h.query_by_label_contains(&params).is_some(), "{params}");
    assert!(h.query_by_label_contains("The code:").is_some());
    assert!(h.query_by_label_contains("Keras").is_some());
    assert!(
        state(&h).shared.model().is_none(),
        "nothing changes before Import"
    );

    h.get_by_label("Import").click();
    assert!(wait_until(&mut h, T, |a| a.shared.model().is_some()));
    let a = state(&h);
    assert!(a.import.is_none(), "the dialog closes");
    let m = a.shared.model().unwrap();
    assert_eq!(m.config().model, found.config);
    assert_eq!(
        m.meta.origin.as_ref().unwrap().format,
        Format::Keras.label()
    );
    assert!(m.inference_only().is_none(), "a recognised model is native");
    h.step();
    assert!(
        h.query_by_label_contains("imported from Keras 3 (.keras)")
            .is_some(),
        "the status bar says where the model came from"
    );
}

#[test]
fn a_pt_state_dict_shows_what_was_assumed_and_the_output_can_be_changed() {
    let (mut h, _d) = open_in_dialog(fixture("torch_dense.pt"));
    let r = match &state(&h).import.as_ref().unwrap().found {
        Some(Ok(r)) => r.clone(),
        _ => panic!("torch_dense.pt not recognised"),
    };
    assert!(r.config.sigmoid_output, "a sigmoid output is assumed");
    assert!(!r.assumed.is_empty());
    assert!(
        h.query_by_label_contains(&r.assumed[0]).is_some(),
        "the assumptions are on screen: {}",
        r.assumed[0]
    );

    // The output: sigmoid, then linear (the last of the three rows of choices).
    assert!(h.query_by_label("sigmoid").is_some());
    h.query_all_by_label("linear").last().unwrap().click();
    assert!(wait_until(&mut h, T, |a| {
        let d = a.import.as_ref().unwrap();
        !d.busy() && matches!(&d.found, Some(Ok(r)) if !r.config.sigmoid_output)
    }));
    h.step();
    h.get_by_label("Import").click();
    assert!(wait_until(&mut h, T, |a| a.shared.model().is_some()));
    let m = state(&h).shared.model().unwrap().clone();
    assert!(!m.config().model.sigmoid_output, "the user's choice holds");
    assert_eq!(
        m.meta.origin.as_ref().unwrap().format,
        Format::TorchPickle.label()
    );
}

#[test]
fn an_unreadable_model_file_says_so_in_the_dialog_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("homework.keras");
    std::fs::write(&bad, b"PK\x03\x04 this is not a zip").unwrap();
    let (mut h, _d) = open_in_dialog(bad);
    let err = match &state(&h).import.as_ref().unwrap().found {
        Some(Err(e)) => e.clone(),
        _ => panic!("a broken file was accepted"),
    };
    assert!(err.contains("homework.keras"), "{err}");
    assert!(h.query_by_label_contains("homework.keras:").is_some());
    assert!(h.query_by_label("Nothing was changed.").is_some());
    h.get_by_label("Cancel").click();
    h.step();
    assert!(state(&h).import.is_none());
    assert!(state(&h).shared.model().is_none());
}

#[test]
fn export_model_writes_onnx_then_pytorch_files_and_shows_how_to_load_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("for-python");
    let o2 = out.clone();
    let (mut h, _d) = app(move |a| a.shared.dialog_override = Some(o2));
    let model = bottleneck::model::io::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/models/dense-2d.safetensors"),
    )
    .unwrap();
    adopt(&mut h, Arc::new(model));
    assert!(wait_until(&mut h, T, |a| a.shared.model().is_some()));

    h.get_by_label("Models").click();
    h.run_steps(2);
    h.get_by_label("Export model…").click();
    h.run_steps(2);
    assert!(state(&h).export_model.is_some());
    h.get_by_label("Export into a folder…").click();
    assert!(wait_until(&mut h, T, |a| a
        .export_model
        .as_ref()
        .is_some_and(|d| d.written.is_some())));
    h.step();
    for f in ["encoder.onnx", "decoder.onnx"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    assert!(h.query_all_by_label_contains("encoder.onnx").count() > 0);
    assert!(h.query_by_label("Load it in Python:").is_some());

    h.get_by_label("PyTorch").click();
    h.run_steps(2);
    h.get_by_label("Export into a folder…").click();
    h.run_steps(2);
    assert!(wait_until(&mut h, T, |a| a
        .export_model
        .as_ref()
        .is_some_and(|d| d.written.is_some())));
    for f in ["model.py", "model.safetensors", "model.json"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    // What was written imports back as the same model.
    let back = bottleneck::model::io::load(&out.join("model.safetensors")).unwrap();
    assert_eq!(
        back.config(),
        state(&h).shared.model().unwrap().config(),
        "the PyTorch folder is also a Bottleneck model"
    );
    h.run_steps(3); // the window settles at its new size (it is centred)
    h.get_by_label("Close").click();
    h.run_steps(2);
    assert!(state(&h).export_model.is_none());
}

#[test]
fn load_model_from_the_models_menu_on_another_tab_opens_the_import_dialog() {
    // The answer of *Models → Load model…* was only read while the Train tab was drawn: on
    // the Latent space tab nothing happened until the user went back to Train.
    std::env::set_var("BOTTLENECK_FILE_PICKER", "builtin");
    let (mut h, _d) = app(|a| a.tab = bottleneck::app::Tab::Latent);
    h.step();
    h.get_by_label("Models").click();
    h.run_steps(2);
    h.get_by_label("Load model…").click();
    assert!(wait_until(&mut h, T, |a| a.picker.is_some()));
    state_mut(&mut h)
        .picker
        .as_mut()
        .unwrap()
        .go(fixture("keras_dense.keras").parent().unwrap().to_path_buf());
    h.run_steps(2);
    h.get_by_label("keras_dense.keras").click();
    h.run_steps(2);
    h.get_by_label("Open").click();
    assert!(wait_until(&mut h, T, |a| a
        .import
        .as_ref()
        .is_some_and(|d| matches!(d.found, Some(Ok(_))))));
    assert_eq!(state(&h).tab, bottleneck::app::Tab::Latent);
    h.step();
    assert!(
        h.query_by_label("The activations are the file's own.")
            .is_some(),
        "a Keras file's activations are not offered as choices"
    );
    assert!(h.query_by_label("sigmoid").is_none());
}
