//! The denoising experiment (`analysis::denoise`): a denoising autoencoder against a plain one
//! on noisy test digits, and `bottleneck denoise` running the same code as the panel.

mod common;

use common::seven_on_paper;

use std::path::Path;
use std::sync::Arc;

use bottleneck::analysis::denoise::{self, Corruption, Denoiser};
use bottleneck::data::preprocess;
use bottleneck::data::{Dataset, NoiseKind};
use bottleneck::model::{TrainConfig, TrainedModel, Variant};
use bottleneck::train::Trainer;
use bottleneck::{PIXELS, SIDE};
use clap::Parser;

fn train(variant: Variant, epochs: usize, data: &Arc<Dataset>) -> TrainedModel {
    let mut cfg = TrainConfig::preset(variant, 32);
    cfg.epochs = epochs;
    let mut t = Trainer::new(cfg, data.clone()).unwrap();
    while !t.is_finished() {
        t.step().unwrap();
    }
    t.snapshot().unwrap()
}

#[test]
fn a_denoising_autoencoder_beats_a_plain_one_on_noisy_test_digits() {
    let data = Arc::new(Dataset::embedded().unwrap());
    let dae = train(Variant::Denoising, 10, &data);
    let plain = train(Variant::Dense, 10, &data);
    let noise = dae.config().noise.expect("the denoising preset has noise");
    assert_eq!((noise.kind, noise.factor), (NoiseKind::Gaussian, 0.5));
    assert!(plain.config().noise.is_none());

    let c = Corruption::Noise {
        kind: NoiseKind::Gaussian,
        factor: 0.5,
    };
    let clean = &data.test.images;
    let d = denoise::test_set_scores(Denoiser::Model(&dae), clean, &c, 2024).unwrap();
    let p = denoise::test_set_scores(Denoiser::Model(&plain), clean, &c, 2024).unwrap();
    eprintln!(
        "Gaussian 0.5 on {} test digits: noisy {:.2} dB (MSE {:.4}); denoising AE {:.2} dB \
         (MSE {:.4}); plain AE {:.2} dB (MSE {:.4})",
        data.test.len(),
        d.noisy_psnr,
        d.noisy_mse,
        d.denoised_psnr,
        d.denoised_mse,
        p.denoised_psnr,
        p.denoised_mse
    );
    // Same noisy images for both.
    assert_eq!(d.noisy_psnr, p.noisy_psnr);
    assert!(
        d.denoised_psnr > p.denoised_psnr + 1.0,
        "denoising AE {:.2} dB vs plain AE {:.2} dB",
        d.denoised_psnr,
        p.denoised_psnr
    );
    assert!(d.denoised_psnr > d.noisy_psnr + 5.0);
    assert!(d.denoised_mse < p.denoised_mse);
}

/// The overcomplete lesson's claim, measured with the Denoise panel's numbers: a linear
/// 784-784-784 network learns to copy, noise included, while a denoising one of the same size
/// removes most of the noise.
#[test]
fn the_overcomplete_lesson_copies_the_noise_and_a_denoising_one_removes_it() {
    let data = Arc::new(Dataset::embedded().unwrap());
    let train = |variant: Variant| {
        let mut cfg = TrainConfig::preset(variant, PIXELS);
        cfg.model.hidden.clear();
        cfg.epochs = 5;
        let mut t = Trainer::new(cfg, data.clone()).unwrap();
        while !t.is_finished() {
            t.step().unwrap();
        }
        t.snapshot().unwrap()
    };
    let copier = train(Variant::Linear);
    let dae = train(Variant::Denoising);
    let c = Corruption::Noise {
        kind: NoiseKind::Gaussian,
        factor: 0.5,
    };
    let clean = &data.test.images;
    let copy = denoise::test_set_scores(Denoiser::Model(&copier), clean, &c, 2024).unwrap();
    let d = denoise::test_set_scores(Denoiser::Model(&dae), clean, &c, 2024).unwrap();
    eprintln!(
        "k = 784, Gaussian 0.5: noisy MSE {:.4}; linear AE {:.4}; denoising AE {:.4}",
        copy.noisy_mse, copy.denoised_mse, d.denoised_mse
    );
    assert!(
        copy.denoised_mse > 0.8 * copy.noisy_mse,
        "the copier keeps the noise: {:.4} against {:.4}",
        copy.denoised_mse,
        copy.noisy_mse
    );
    assert!(
        d.denoised_mse < 0.4 * d.noisy_mse,
        "the denoising AE removes it: {:.4} against {:.4}",
        d.denoised_mse,
        d.noisy_mse
    );
}

#[test]
fn the_cli_denoise_command_runs_the_shared_experiment() {
    let dir = tempfile::tempdir().unwrap();
    let data = Arc::new(Dataset::embedded().unwrap());
    let model = train(Variant::Denoising, 1, &data);
    let model_path = dir.path().join("dae.safetensors");
    bottleneck::model::io::save(&model, &model_path).unwrap();
    let input = dir.path().join("seven.png");
    preprocess::save_png(&seven_on_paper(), &input).unwrap();
    let out = dir.path().join("out.png");
    let noisy_out = dir.path().join("noisy.png");

    let cli = bottleneck::cli::Cli::parse_from([
        "bottleneck",
        "denoise",
        model_path.to_str().unwrap(),
        input.to_str().unwrap(),
        "--noise",
        "saltpepper",
        "--factor",
        "0.3",
        "--seed",
        "9",
        "--out",
        out.to_str().unwrap(),
        "--noisy-out",
        noisy_out.to_str().unwrap(),
    ]);
    bottleneck::cli::run(cli).unwrap();

    // The library call the panel makes, on the same file with the same settings.
    let loaded = bottleneck::model::io::load(&model_path).unwrap();
    let r = denoise::denoise_file(&loaded, &input, NoiseKind::SaltPepper, 0.3, 9).unwrap();
    // The clean input is the preprocessed picture: light ink on dark, centred.
    assert_eq!(r.clean, denoise::load_input(&input).unwrap().pixels);
    assert_eq!(r.clean[0], 0.0);
    let quantised = |p: &[f32]| {
        p.iter()
            .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() / 255.0)
            .collect::<Vec<f32>>()
    };
    let written = preprocess::load(&out).unwrap();
    assert_eq!((written.width, written.height), (SIDE, SIDE));
    assert_eq!(written.pixels, quantised(&r.denoised));
    let written_noisy = preprocess::load(&noisy_out).unwrap();
    assert_eq!(written_noisy.pixels, quantised(&r.noisy));
    // About 30 % of the pixels were hit by salt and pepper.
    let hit = r.noisy.iter().zip(&r.clean).filter(|(a, b)| a != b).count() as f32 / PIXELS as f32;
    assert!((0.1..0.3).contains(&hit), "{hit}");
    assert!(r.noisy_psnr() < r.denoised_psnr(), "the model cleans up");

    // A bad picture fails with the file's name, through the same path.
    let bad = dir.path().join("bad.png");
    std::fs::write(&bad, b"not a picture").unwrap();
    let err = denoise::denoise_file(&loaded, &bad, NoiseKind::Gaussian, 0.5, 1).unwrap_err();
    assert!(err.to_string().contains("bad.png"), "{err}");
    assert!(Path::new(&out).exists());
}
