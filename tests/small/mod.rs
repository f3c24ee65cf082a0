//! A small real data set for the tests of fitted schedules: the first 1,438 training and 359
//! test images of the embedded digits, written as an IDX folder (1,797 images, as the
//! scanned-digits folder a new user opens).
#![allow(dead_code)]

use bottleneck_engine::data::{idx, Dataset, Split};

pub const TRAIN: usize = 1438;
pub const TEST: usize = 359;

fn write(dir: &std::path::Path, prefix: &str, split: &Split) {
    let images = idx::IdxImages {
        count: split.len(),
        rows: 28,
        cols: 28,
        pixels: split
            .images
            .iter()
            .map(|&v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
            .collect(),
    };
    std::fs::write(
        dir.join(format!("{prefix}-images-idx3-ubyte")),
        idx::encode_images(&images),
    )
    .unwrap();
    std::fs::write(
        dir.join(format!("{prefix}-labels-idx1-ubyte")),
        idx::encode_labels(&split.labels),
    )
    .unwrap();
}

/// A temporary IDX folder of `TRAIN` training and `TEST` test digits.
pub fn digits_folder() -> tempfile::TempDir {
    let data = Dataset::embedded().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let first = |n: usize| (0..n).collect::<Vec<_>>();
    write(dir.path(), "train", &data.train.subset(&first(TRAIN)));
    write(dir.path(), "t10k", &data.test.subset(&first(TEST)));
    dir
}
