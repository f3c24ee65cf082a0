//! The command line: `bottleneck` alone opens the app; subcommands run the engine headless
//! (`train`, `eval`, `encode`, `decode`, `denoise`, `bench`, `anomaly`,
//! `compress`, `features`, `probe`, `project`, `step`, `generate`, `lessons`). Every failure is
//! one line on stderr naming the file or argument at fault, with a non-zero exit code.

pub mod anomaly;
pub mod bench;
pub mod commands;
pub mod compress;
pub mod export;
pub mod features;
pub mod generate;
pub mod harness;
pub mod import;
pub mod lessons;
pub mod project;
pub mod report;
pub mod rows;
pub mod snapshot;
pub mod soak;
pub mod step;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::data::DatasetSource;

#[derive(Parser, Debug)]
#[command(
    name = "bottleneck",
    version,
    about = "A desktop lab for autoencoders: train them, look inside, compare with PCA.",
    long_about = "Without a subcommand, opens the app. Subcommands run the same engine without a window."
)]
pub struct Cli {
    /// Dataset the app opens: "embedded" (10,000 MNIST digits built in), a folder (IDX files,
    /// CSV files, or pictures in one subfolder per class), a CSV file or a NumPy .npz/.npy file.
    #[arg(long, value_name = "embedded|DIR|FILE.csv")]
    pub data: Option<DatasetSource>,
    /// How pictures of an image folder become 28×28 inputs: mnist (crop the ink, 20 px,
    /// centre of mass; for drawings and scans) or fit (the whole picture, resized).
    #[arg(long, value_parser = parse_preprocess, value_name = "mnist|fit")]
    pub preprocess: Option<crate::data::Preprocess>,
    /// Swap dark and light (with --preprocess fit, and for CSV and IDX data).
    #[arg(long)]
    pub invert: bool,
    #[command(flatten)]
    pub import: import::ImportFlags,
    /// Open the app on this lesson file, at its first step.
    #[arg(long, value_name = "FILE")]
    pub lesson: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train an autoencoder and report its test error against PCA with the same k.
    Train(TrainArgs),
    /// Measure a saved model: test error per loss term, PCA at the same k, kNN accuracy.
    Eval(EvalArgs),
    /// Write the latent codes of a split as CSV (label, z1…zk); with --input, the codes of the
    /// rows of a CSV file, in order (z1…zk).
    Encode(EncodeArgs),
    /// Write the images the decoder makes from the codes of a CSV file (p1…p784 per row).
    Decode(DecodeArgs),
    /// Preprocess an image MNIST-style, corrupt it, and write the model's reconstruction.
    Denoise(DenoiseArgs),
    /// Measure training speed (samples/s) and PCA fit time.
    Bench(BenchArgs),
    /// Render one panel of the app to a PNG, without a window.
    Snapshot(snapshot::SnapshotArgs),
    /// Train on the normal classes only and report how well reconstruction error finds the
    /// others (ROC AUC), and optionally another dataset's images (--ood).
    Anomaly(anomaly::AnomalyArgs),
    /// Measure the model as a lossy codec (its code quantised to b bits) against PCA, JPEG and
    /// PNG: bytes per image against PSNR and MSE.
    Compress(compress::CompressArgs),
    /// Per-dimension statistics of a model's codes; with --out, its weights and traversals as PNGs.
    Features(features::FeaturesArgs),
    /// Linear probes and 5-NN on the model's codes, PCA's and pixels with 100, 1,000 and all labels.
    Probe(features::ProbeArgs),
    /// Draw a model's codes on a 2-D map (PCA, t-SNE or UMAP) and measure how far it can be
    /// trusted; --out writes label,x,y per image.
    Project(project::ProjectArgs),
    /// Open a model trained in PyTorch, Keras or ONNX: print the recognised layers and what
    /// was assumed, and save it in Bottleneck's format (--out).
    Import(import::ImportArgs),
    /// Write a saved model as ONNX (encoder.onnx, decoder.onnx) or PyTorch (model.py and weights).
    Export(export::ExportArgs),
    /// One real training step of a model on the rows of a CSV file: the loss before and
    /// after, and per tensor the gradient's norm and the update's (--json: one JSON object).
    Step(step::StepArgs),
    /// A conditional VAE writes each style row (--style) as every class, or draws prior
    /// samples of every class; how often a pixel probe recognises the class asked for, and how
    /// well style is kept.
    Generate(generate::GenerateArgs),
    /// List the built-in lessons and the lesson files opened in the app, with their topics
    /// and steps.
    Lessons(lessons::LessonsArgs),
}

#[derive(Args, Debug, Clone)]
pub struct DataArg {
    /// "embedded" (the 10,000 built-in MNIST digits), a folder (IDX files, CSV files, or
    /// pictures in one subfolder per class), a CSV file (label, then the pixels) or a NumPy
    /// file: .npz (Keras' x_train, y_train, x_test, y_test, or one array of images and one of
    /// labels) or .npy (images only).
    #[arg(
        long,
        default_value = "embedded",
        value_name = "embedded|DIR|FILE.csv|FILE.npz|FILE.npy"
    )]
    pub data: DatasetSource,
    /// The array of images in a .npz file holding several (N×28×28 or N×784).
    #[arg(long, value_name = "NAME")]
    pub npz_images: Option<String>,
    /// The array of labels in a .npz file holding several (N whole numbers).
    #[arg(long, value_name = "NAME")]
    pub npz_labels: Option<String>,
    /// How pictures of an image folder become 28×28 inputs: mnist (crop the ink, 20 px,
    /// centre of mass; for drawings and scans) or fit (the whole picture, resized).
    #[arg(long, default_value = "mnist", value_parser = parse_preprocess, value_name = "mnist|fit")]
    pub preprocess: crate::data::Preprocess,
    /// Swap dark and light (with --preprocess fit, and for CSV and IDX data).
    #[arg(long)]
    pub invert: bool,
}

impl DataArg {
    pub fn options(&self) -> crate::data::ImportOptions {
        crate::data::ImportOptions {
            preprocess: self.preprocess,
            invert: self.invert,
        }
    }

    pub fn arrays(&self) -> crate::data::NpzArrays {
        crate::data::NpzArrays {
            images: self.npz_images.clone(),
            labels: self.npz_labels.clone(),
        }
    }

    /// Loads the dataset; notes and skipped files go to stderr.
    pub fn load(&self) -> anyhow::Result<crate::data::Dataset> {
        commands::load_picking(&self.data, &self.options(), &self.arrays())
    }
}

fn parse_preprocess(s: &str) -> Result<crate::data::Preprocess, String> {
    crate::data::Preprocess::parse(s)
        .ok_or_else(|| format!("unknown preprocessing '{s}' (expected mnist or fit)"))
}

#[derive(Args, Debug, Clone)]
#[command(allow_negative_numbers = true)]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArg,
    /// dense, deep, conv, denoising, sparse, contractive, vae, linear or cvae (conditional
    /// VAE: the class label goes into the encoder and the decoder).
    #[arg(long, default_value = "dense", value_parser = parse_variant)]
    pub variant: crate::model::Variant,
    /// Size of the code.
    #[arg(long, default_value_t = 32)]
    pub latent: usize,
    /// Hidden layer widths, input side first, e.g. 256,128 (empty for none).
    #[arg(long, value_name = "N,N,...")]
    pub hidden: Option<String>,
    /// Conv channels per stride-2 layer, e.g. 16,32.
    #[arg(long, value_name = "N,N,...")]
    pub channels: Option<String>,
    /// Passes over the training images. Default: the preset's (10 for most), raised on a data
    /// set under 8,000 images to as many as give the preset's number of optimizer steps.
    #[arg(long)]
    pub epochs: Option<usize>,
    #[arg(long)]
    pub batch: Option<usize>,
    #[arg(long)]
    pub lr: Option<f64>,
    /// Denoising: noise factor (Gaussian σ, or fraction of pixels); makes any variant denoising.
    #[arg(long)]
    pub noise: Option<f32>,
    /// Noise type for --noise: gaussian, saltpepper or mask.
    #[arg(long, value_parser = parse_noise_kind)]
    pub noise_type: Option<crate::data::NoiseKind>,
    /// Sparse: weight λ of the L1 penalty on the code.
    #[arg(long)]
    pub l1: Option<f32>,
    /// Contractive: weight λ of ‖∂z/∂x‖².
    #[arg(long)]
    pub contractive: Option<f32>,
    /// VAE: weight β of the KL term.
    #[arg(long)]
    pub beta: Option<f32>,
    /// Reconstruction loss: mse or bce.
    #[arg(long, value_parser = parse_loss)]
    pub loss: Option<crate::model::LossKind>,
    /// adam or adamw.
    #[arg(long, value_parser = parse_optimizer)]
    pub optimizer: Option<crate::model::OptimizerKind>,
    /// AdamW's decoupled weight decay.
    #[arg(long)]
    pub weight_decay: Option<f32>,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Where to save the model (weights; the settings go beside it as .json).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print one JSON object as the last line of stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug, Clone)]
pub struct EvalArgs {
    /// A model saved by `train --out` or the app.
    pub model: PathBuf,
    #[command(flatten)]
    pub data: DataArg,
    /// Also run the Denoise panel's test-set experiment: corrupt every test image with this
    /// much noise (Gaussian σ, or the fraction of pixels for saltpepper and mask) and measure
    /// the noisy input and the model's reconstruction of it against the clean image.
    #[arg(long, value_name = "FACTOR")]
    pub noise: Option<f32>,
    #[arg(long, default_value = "gaussian", value_parser = parse_noise_kind)]
    pub noise_type: crate::data::NoiseKind,
    /// Seed of the noise.
    #[arg(long, default_value_t = 2024)]
    pub seed: u64,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug, Clone)]
pub struct EncodeArgs {
    pub model: PathBuf,
    #[command(flatten)]
    pub data: DataArg,
    /// Which images: test, train or all.
    #[arg(long, default_value = "test", value_parser = ["test", "train", "all"])]
    pub split: String,
    /// Encode these rows instead of a dataset: a CSV file of 784 pixel values per row (0–1,
    /// or 0–255 when any value exceeds 1.5), header optional. One code per row, in order.
    #[arg(long, value_name = "ROWS.csv", conflicts_with_all = ["split", "data", "npz_images", "npz_labels"])]
    pub input: Option<PathBuf>,
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct DecodeArgs {
    pub model: PathBuf,
    /// A CSV file of codes, the model's k values per row, header optional.
    #[arg(long, value_name = "CODES.csv")]
    pub input: PathBuf,
    /// The images: p1…p784 per row, values 0–1.
    #[arg(long, value_name = "ROWS.csv")]
    pub out: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct DenoiseArgs {
    pub model: PathBuf,
    /// An image (PNG, JPEG, BMP, GIF, WebP); it is preprocessed like MNIST.
    pub input: PathBuf,
    #[arg(long, default_value = "gaussian", value_parser = parse_noise_kind)]
    pub noise: crate::data::NoiseKind,
    #[arg(long, default_value_t = 0.5)]
    pub factor: f32,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// The denoised 28×28 image.
    #[arg(long)]
    pub out: PathBuf,
    /// Also write the noisy input the model saw.
    #[arg(long)]
    pub noisy_out: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Seconds to time each case (after a warm-up).
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    /// Only these cases (comma-separated): dense, dense-candle, conv, vae, pca, ui-train,
    /// latent-ui, compare, soak (a long session's memory; only when named, for --seconds).
    #[arg(long)]
    pub only: Option<String>,
    /// JSON written by `bench/pytorch_reference.py --json` on this machine: adds the ratios.
    #[arg(long, value_name = "FILE")]
    pub pytorch: Option<PathBuf>,
    /// Threads for training (rayon's pool and candle's); default: RAYON_NUM_THREADS or one
    /// per core.
    #[arg(long)]
    pub threads: Option<usize>,
    #[arg(long)]
    pub json: bool,
}

fn parse_variant(s: &str) -> Result<crate::model::Variant, String> {
    crate::model::Variant::parse(s).ok_or_else(|| {
        format!(
            "unknown variant '{s}' (expected one of: {})",
            crate::model::Variant::ALL.map(|v| v.name()).join(", ")
        )
    })
}

fn parse_noise_kind(s: &str) -> Result<crate::data::NoiseKind, String> {
    crate::data::NoiseKind::parse(s)
        .ok_or_else(|| format!("unknown noise '{s}' (expected gaussian, saltpepper or mask)"))
}

fn parse_loss(s: &str) -> Result<crate::model::LossKind, String> {
    match s.to_ascii_lowercase().as_str() {
        "mse" => Ok(crate::model::LossKind::Mse),
        "bce" => Ok(crate::model::LossKind::Bce),
        _ => Err(format!("unknown loss '{s}' (expected mse or bce)")),
    }
}

fn parse_optimizer(s: &str) -> Result<crate::model::OptimizerKind, String> {
    match s.to_ascii_lowercase().as_str() {
        "adam" => Ok(crate::model::OptimizerKind::Adam),
        "adamw" => Ok(crate::model::OptimizerKind::AdamW),
        _ => Err(format!("unknown optimizer '{s}' (expected adam or adamw)")),
    }
}

/// Runs a parsed command line. `Ok(())` for the app means it was closed normally.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    import::set_options(&cli.import);
    match cli.command {
        None => {
            let options =
                (cli.preprocess.is_some() || cli.invert).then(|| crate::data::ImportOptions {
                    preprocess: cli.preprocess.unwrap_or_default(),
                    invert: cli.invert,
                });
            crate::app::run(&cli.data.unwrap_or_default(), options, cli.lesson)
        }
        Some(Command::Train(a)) => commands::train(a),
        Some(Command::Eval(a)) => commands::eval(a),
        Some(Command::Encode(a)) if a.input.is_some() => rows::encode(a),
        Some(Command::Encode(a)) => commands::encode(a),
        Some(Command::Decode(a)) => rows::decode(a),
        Some(Command::Denoise(a)) => commands::denoise(a),
        Some(Command::Bench(a)) => bench::run(a),
        Some(Command::Snapshot(a)) => snapshot::run(a),
        Some(Command::Anomaly(a)) => anomaly::run(a),
        Some(Command::Compress(a)) => compress::run(a),
        Some(Command::Features(a)) => features::run_features(a),
        Some(Command::Probe(a)) => features::run_probe(a),
        Some(Command::Project(a)) => project::run(a),
        Some(Command::Import(a)) => import::run(a),
        Some(Command::Export(a)) => export::run(a),
        Some(Command::Step(a)) => step::run(a),
        Some(Command::Generate(a)) => generate::run(a),
        Some(Command::Lessons(a)) => lessons::run(a),
    }
}
