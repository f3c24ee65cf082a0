//! `encode --input ROWS.csv` and `decode`: a model's codes of the rows of a CSV file, and the
//! images its decoder makes from codes, one output row per input row in order (no split, no
//! shuffling). Reading the numbers is the engine's (`data::csv::read_matrix`); values are
//! written with Rust's shortest round-tripping form of an f32, so the codes read back exactly.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use super::commands::load_model;
use super::{DecodeArgs, EncodeArgs};
use crate::data::csv::read_matrix;
use crate::model::io;

/// `rows` of `width` values as CSV with the header `{prefix}1,…,{prefix}{width}`.
pub(super) fn matrix_csv(prefix: &str, values: &[f32], width: usize) -> String {
    let mut out = (1..=width)
        .map(|j| format!("{prefix}{j}"))
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    for row in values.chunks_exact(width) {
        for (j, v) in row.iter().enumerate() {
            let sep = if j == 0 { "" } else { "," };
            let _ = write!(out, "{sep}{v}");
        }
        out.push('\n');
    }
    out
}

pub(super) fn write_out(path: &Path, text: &str) -> anyhow::Result<()> {
    io::write_atomic(path, text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// `encode MODEL --input ROWS.csv --out CODES.csv`.
pub fn encode(a: EncodeArgs) -> anyhow::Result<()> {
    let input = a
        .input
        .as_deref()
        .context("encode: --input is required here")?;
    let model = load_model(&a.model)?;
    let mut rows = read_matrix(input, crate::PIXELS)?;
    if rows.iter().any(|&v| v > 1.5) {
        rows.iter_mut().for_each(|v| *v /= 255.0);
        eprintln!(
            "note: {}: values above 1.5, read as 0–255 and divided by 255",
            input.display()
        );
    }
    let k = model.latent();
    let codes = model.encode(&rows)?;
    write_out(&a.out, &matrix_csv("z", &codes, k))?;
    eprintln!(
        "wrote {} codes of size {k} to {}",
        rows.len() / crate::PIXELS,
        a.out.display()
    );
    Ok(())
}

/// `decode MODEL --input CODES.csv --out ROWS.csv`.
pub fn decode(a: DecodeArgs) -> anyhow::Result<()> {
    let model = load_model(&a.model)?;
    let k = model.latent();
    let codes = read_matrix(&a.input, k)?;
    let images = model.decode(&codes)?;
    write_out(&a.out, &matrix_csv("p", &images, crate::PIXELS))?;
    eprintln!(
        "wrote {} images of {} pixels to {}",
        codes.len() / k,
        crate::PIXELS,
        a.out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_through_the_text() {
        let values = [0.1f32, -1.0e-7, 3.4028235e38, 1.0 / 3.0];
        let text = matrix_csv("z", &values, 2);
        assert!(text.starts_with("z1,z2\n"));
        let back = crate::data::csv::parse_matrix(&text, Path::new("t.csv"), 2).unwrap();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back), bits(&values));
    }
}
