//! The conditional VAE writes held-out digits as every class: a CVAE trained on the built-in
//! digits (its preset: k = 4, β = 2, 20 epochs) redraws held-out test digits as all ten classes, the pixel probe (trained on the
//! data set's own labels) recognises at least 90 % of them as the class asked for, and most
//! generated images, re-encoded with their class, land nearest their own source's style.
//! Also: it saves and loads, it trains on candle's engine alike, and what cannot encode without
//! a class says so.

use std::sync::Arc;

use bottleneck_engine::analysis::generate::{self, Generator, PixelProbe};
use bottleneck_engine::data::Dataset;
use bottleneck_engine::model::{io, TrainConfig, TrainedModel, Variant};
use bottleneck_engine::train::{EngineChoice, Trainer};

fn train(epochs: usize, latent: usize) -> (TrainedModel, Arc<Dataset>) {
    let data = Arc::new(Dataset::embedded().unwrap());
    let mut cfg = TrainConfig::preset(Variant::Cvae, latent);
    if epochs > 0 {
        cfg.epochs = epochs;
    }
    let mut t = Trainer::new(cfg, data.clone()).unwrap();
    assert!(t.is_fused(), "the fused engine trains a CVAE");
    while !t.is_finished() {
        t.step().unwrap();
    }
    (t.snapshot().unwrap(), data)
}

#[test]
fn held_out_digits_are_redrawn_as_every_class_and_keep_their_style() {
    let started = std::time::Instant::now();
    let (model, data) = train(0, 4);
    let trained = started.elapsed().as_secs_f64();
    assert_eq!(model.classes(), 10);
    assert_eq!(Generator::of(&model).unwrap(), Generator::Conditional(10));
    let probe = PixelProbe::train(&data, 1).unwrap();
    // Ten held-out test digits of each class, each written as all ten digits.
    let idx = generate::held_out_sources(&data, 10, 10);
    let src = data.test.subset(&idx);
    let (generated, report) =
        generate::measure_sources(&model, &probe, &src.images, &src.labels).unwrap();
    assert_eq!(generated.len(), 100 * 10 * bottleneck_engine::PIXELS);
    println!(
        "trained in {trained:.1} s; recognition {:.3} ({}); {}; nearer than another source \
         {:.3}",
        report.recognition,
        report.judge,
        report.style.describe(),
        report.style.nearer_than_other
    );
    assert!(
        report.recognition >= 0.9,
        "the probe recognised {:.3} of the generated digits",
        report.recognition
    );
    // Style kept: re-encoded, an image is nearer its own source's style than another
    // source's for most pairs, and nearest its own of all 100 for many (chance: 1 %).
    assert!(
        report.style.nearer_than_other >= 0.9,
        "nearer its own source than another for only {:.3}",
        report.style.nearer_than_other
    );
    assert!(
        report.style.nearest_own >= 0.3,
        "nearest its own source for only {:.3}",
        report.style.nearest_own
    );
    assert!(report.style.own_distance < report.style.other_distance);
}

#[test]
fn a_cvae_saves_loads_and_refuses_to_encode_without_a_class() {
    let (model, data) = train(1, 2);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cvae.safetensors");
    io::save(&model, &path).unwrap();
    let back = io::load(&path).unwrap();
    assert_eq!(back.classes(), 10);
    assert_eq!(back.config().model.classes, 10);
    let x = data.test.image(0);
    let l = &data.test.labels[..1];
    assert_eq!(
        back.encode_labelled(x, l).unwrap(),
        model.encode_labelled(x, l).unwrap()
    );
    let e = back.encode(x).unwrap_err().to_string();
    assert!(e.contains("needs each image's class"), "{e}");
    let e = back.decode(&[0.0, 0.0]).unwrap_err().to_string();
    assert!(e.contains("needs each image's class"), "{e}");
    // A label the model does not know is named.
    let e = back.encode_labelled(x, &[12]).unwrap_err().to_string();
    assert!(e.contains("class 12"), "{e}");
    // Continuing it on candle's engine works too, and a slow step says why it cannot.
    let mut t = Trainer::from_model_with(back, data.clone(), EngineChoice::Candle).unwrap();
    assert!(!t.is_fused());
    assert!(t.step().unwrap().terms.total().is_finite());
    let e = t.slow_step().unwrap_err().to_string();
    assert!(e.contains("conditional VAE"), "{e}");
    // A plain VAE samples from its prior; a dense AE does not generate.
    let dense = TrainedModel::new(&TrainConfig::preset(Variant::Dense, 2), "t").unwrap();
    let e = generate::prior_samples(&dense, 4, 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("train a conditional VAE"), "{e}");
}
