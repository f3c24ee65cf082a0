//! Training on real data: every variant learns, runs are reproducible, both engines agree,
//! divergence keeps the last good weights, save→load round-trips and bad model files give clear
//! errors, and the 2-D autoencoder beats 2-D PCA.

mod common;

use std::sync::Arc;

use bottleneck_engine::analysis::Pca;
use bottleneck_engine::data::Dataset;
use bottleneck_engine::model::{io, Term, TrainConfig, TrainedModel, Variant};
use bottleneck_engine::train::{EngineChoice, TrainError, Trainer};

fn mnist() -> Arc<Dataset> {
    Arc::new(Dataset::embedded().unwrap())
}

fn weights(m: &TrainedModel) -> Vec<(String, Vec<f32>)> {
    let d = m.varmap.data().lock().unwrap();
    let mut v: Vec<_> = d
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_tensor()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap(),
            )
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn every_variant_trains_three_epochs_with_falling_loss() {
    let data = mnist();
    for v in Variant::ALL {
        let mut cfg = TrainConfig::preset(v, 8);
        cfg.epochs = 3;
        let mut t = Trainer::new(cfg, data.clone()).unwrap();
        let mut records = Vec::new();
        while !t.is_finished() {
            if let Some(r) = t.step().unwrap().epoch_done {
                records.push(r);
            }
        }
        assert_eq!(records.len(), 3, "{v}");
        let (first, last) = (&records[0], &records[2]);
        assert!(
            last.train.total() < first.train.total(),
            "{v}: train loss {} → {}",
            first.train.total(),
            last.train.total()
        );
        assert!(
            last.test.total() < first.test.total(),
            "{v}: test loss {} → {}",
            first.test.total(),
            last.test.total()
        );
        // Every term the configuration promises is reported, train and test.
        for term in t.config().terms() {
            assert!(
                last.train.get(term).is_some() && last.test.get(term).is_some(),
                "{v}: {term}"
            );
        }
    }
}

#[test]
fn a_2d_autoencoder_beats_2d_pca() {
    let data = mnist();
    let mut cfg = TrainConfig::preset(Variant::Dense, 2);
    cfg.epochs = 20;
    let mut t = Trainer::new(cfg, data.clone()).unwrap();
    while !t.is_finished() {
        t.step().unwrap();
    }
    let ae = t.history().last().unwrap().test.get(Term::Mse).unwrap();
    let pca = Pca::fit(&data.train.images, 784, 2)
        .unwrap()
        .mse(&data.test.images, 2) as f64;
    assert!(
        ae < pca,
        "autoencoder test MSE {ae} should beat PCA's {pca}"
    );
}

#[test]
fn same_seed_same_losses_and_weights() {
    let data = mnist();
    for v in [
        Variant::Dense,
        Variant::Vae,
        Variant::Denoising,
        Variant::Contractive,
    ] {
        let cfg = TrainConfig::preset(v, 4);
        let run = || {
            let mut t = Trainer::new(cfg.clone(), data.clone()).unwrap();
            let losses: Vec<f64> = (0..12).map(|_| t.step().unwrap().terms.total()).collect();
            (losses, weights(&t.snapshot().unwrap()))
        };
        let (a, wa) = run();
        let (b, wb) = run();
        assert_eq!(a, b, "{v}: losses differ between identical runs");
        assert_eq!(wa, wb, "{v}: weights differ between identical runs");
        let mut other = cfg.clone();
        other.seed += 1;
        let mut t = Trainer::new(other, data.clone()).unwrap();
        let c: Vec<f64> = (0..12).map(|_| t.step().unwrap().terms.total()).collect();
        assert_ne!(a, c, "{v}: another seed gives another run");
    }
}

#[test]
fn fused_and_candle_engines_agree() {
    let data = mnist();
    for v in [
        Variant::Dense,
        Variant::Vae,
        Variant::Sparse,
        Variant::Linear,
        Variant::Conv,
    ] {
        let cfg = TrainConfig::preset(v, 6);
        let mut f = Trainer::with_engine(cfg.clone(), data.clone(), EngineChoice::Auto).unwrap();
        let mut c = Trainer::with_engine(cfg.clone(), data.clone(), EngineChoice::Candle).unwrap();
        assert!(f.is_fused() && !c.is_fused());
        for step in 0..8 {
            let (a, b) = (
                f.step().unwrap().terms.total(),
                c.step().unwrap().terms.total(),
            );
            assert!(
                (a - b).abs() <= 2e-3 * b.abs(),
                "{v} step {step}: fused {a} vs candle {b}"
            );
        }
    }
}

#[test]
fn divergence_stops_with_a_clear_error_and_keeps_the_last_good_weights() {
    let data = mnist();
    for v in [Variant::Dense, Variant::Vae, Variant::Conv] {
        let mut cfg = TrainConfig::preset(v, 2);
        cfg.lr = 100.0;
        let mut t = Trainer::new(cfg.clone(), data.clone()).unwrap();
        let initial = weights(&t.snapshot().unwrap());
        let err = loop {
            match t.step() {
                Ok(_) => assert!(!t.is_finished(), "{v}: lr 100 must diverge"),
                Err(e) => break e,
            }
        };
        assert!(matches!(err, TrainError::Diverged { .. }), "{v}: {err}");
        let msg = err.to_string();
        assert!(
            msg.contains("diverged") && msg.contains("smaller learning rate"),
            "{msg}"
        );
        let kept = weights(&t.snapshot().unwrap());
        assert!(kept.iter().all(|(_, w)| w.iter().all(|x| x.is_finite())));
        assert_eq!(
            kept, initial,
            "{v}: diverging in the first steps restores the initial weights"
        );
    }
}

#[test]
fn save_and_load_round_trip() {
    let data = mnist();
    let dir = tempfile::tempdir().unwrap();
    for v in [Variant::Dense, Variant::Conv, Variant::Vae] {
        let mut cfg = TrainConfig::preset(v, 3);
        cfg.epochs = 1;
        let mut t = Trainer::new(cfg, data.clone()).unwrap();
        t.run_epoch().unwrap();
        let m = t.snapshot().unwrap();
        let path = dir.path().join(format!("{v}.safetensors"));
        io::save(&m, &path).unwrap();
        let back = io::load(&path).unwrap();
        assert_eq!(back.meta, m.meta, "{v}: metadata");
        assert_eq!(weights(&back), weights(&m), "{v}: weights");
        let x = &data.test.images[..5 * 784];
        assert_eq!(
            back.reconstruct(x).unwrap(),
            m.reconstruct(x).unwrap(),
            "{v}"
        );
        assert_eq!(back.meta.dataset, data.name);
        assert_eq!(back.meta.history.len(), 1);
        // No temporary files are left behind.
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }
}

fn saved_model(dir: &std::path::Path) -> std::path::PathBuf {
    let cfg = TrainConfig::preset(Variant::Dense, 4);
    let m = TrainedModel::new(&cfg, "test").unwrap();
    let p = dir.join("m.safetensors");
    io::save(&m, &p).unwrap();
    p
}

#[test]
fn a_sidecar_whose_shapes_do_not_match_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = saved_model(dir.path());
    let side = io::sidecar_path(&p);
    let text = std::fs::read_to_string(&side)
        .unwrap()
        .replace("\"latent\": 4", "\"latent\": 5");
    std::fs::write(&side, text).unwrap();
    let e = io::load(&p).expect_err("must fail").to_string();
    assert!(e.contains("shape") && e.contains("m.safetensors"), "{e}");
}

#[test]
fn a_sidecar_for_another_architecture_names_the_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let p = saved_model(dir.path());
    let side = io::sidecar_path(&p);
    let mut meta: io::ModelMeta =
        serde_json::from_str(&std::fs::read_to_string(&side).unwrap()).unwrap();
    meta.config = TrainConfig::preset(Variant::Vae, 4);
    std::fs::write(&side, serde_json::to_string(&meta).unwrap()).unwrap();
    let e = io::load(&p).expect_err("must fail").to_string();
    assert!(e.contains("tensor '"), "{e}");
}

#[test]
fn corrupt_or_missing_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = saved_model(dir.path());
    // Corrupt weights.
    std::fs::write(&p, b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":").unwrap();
    let e = io::load(&p).err().unwrap().to_string();
    assert!(
        e.contains("safetensors") && e.contains("m.safetensors"),
        "{e}"
    );
    // Truncated weights.
    let p2 = saved_model(&dir.path().join("").join(""));
    let bytes = std::fs::read(&p2).unwrap();
    std::fs::write(&p2, &bytes[..bytes.len() / 2]).unwrap();
    assert!(io::load(&p2).is_err());
    // Missing sidecar.
    let p3 = saved_model(dir.path());
    std::fs::remove_file(io::sidecar_path(&p3)).unwrap();
    let e = io::load(&p3).err().unwrap().to_string();
    assert!(e.contains("m.json"), "{e}");
    // A sidecar that is not ours.
    let p4 = saved_model(dir.path());
    std::fs::write(
        io::sidecar_path(&p4),
        br#"{"format": "something-else", "version": 1}"#,
    )
    .unwrap();
    let e = io::load(&p4).err().unwrap().to_string();
    assert!(e.contains("m.json"), "{e}");
    // A sidecar with invalid settings.
    let p5 = saved_model(dir.path());
    let side = io::sidecar_path(&p5);
    let text = std::fs::read_to_string(&side)
        .unwrap()
        .replace("\"batch\": 256", "\"batch\": 0");
    std::fs::write(&side, text).unwrap();
    let e = io::load(&p5).err().unwrap().to_string();
    assert!(e.contains("batch size"), "{e}");
    // Saving under a .json name is refused (it would clash with the sidecar).
    let m = TrainedModel::new(&TrainConfig::default(), "t").unwrap();
    assert!(io::save(&m, &dir.path().join("x.json")).is_err());
}

#[test]
fn continuing_a_saved_model_keeps_its_history() {
    let data = mnist();
    let mut cfg = TrainConfig::preset(Variant::Dense, 2);
    cfg.epochs = 1;
    let mut t = Trainer::new(cfg, data.clone()).unwrap();
    t.run_epoch().unwrap();
    let mut m = t.snapshot().unwrap();
    m.meta.config.epochs = 2;
    let mut t2 = Trainer::from_model(m, data).unwrap();
    assert_eq!(t2.epochs_done(), 1);
    let rec = t2.run_epoch().unwrap();
    assert_eq!(rec.epoch, 2);
    assert_eq!(t2.history().len(), 2);
    assert!(t2.is_finished());
}

#[test]
fn full_fashion_mnist_trains_an_epoch() {
    let Some(dir) = common::fashion_mnist_dir() else {
        return;
    };
    let data = Arc::new(Dataset::load_dir(dir).unwrap());
    assert_eq!(data.train.len(), 60_000);
    let mut cfg = TrainConfig::preset(Variant::Dense, 16);
    cfg.epochs = 1;
    let mut t = Trainer::new(cfg, data).unwrap();
    let rec = t.run_epoch().unwrap();
    assert_eq!(t.steps_per_epoch(), 60_000usize.div_ceil(256));
    assert!(rec.test.get(Term::Mse).unwrap() < 0.05, "{:?}", rec.test);
}
