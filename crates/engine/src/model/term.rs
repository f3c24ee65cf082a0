//! The names of the loss terms ([`Term`]), in a module of their own so that both `config`
//! (which terms a configuration produces) and `loss` (which computes them) can use them
//! without importing each other.

use serde::{Deserialize, Serialize};

/// One loss term. Serialised as its lowercase name (`"reconstruction"`, `"kl"`, …), the
/// spelling saved models' JSON sidecars and the command line's `--json` output have always
/// used; ordered by that name, so maps keyed by `Term` keep their JSON key order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Term {
    /// Reconstruction loss (MSE or BCE), mean per pixel.
    Reconstruction,
    /// β · KL divergence of a VAE's posterior from N(0, I), per pixel.
    Kl,
    /// λ · Σ|z| of the code (sparse AE).
    L1,
    /// λ · ‖J‖²_F of the encoder's Jacobian (contractive AE).
    Contractive,
    /// The objective: the sum of the weighted terms.
    Total,
    /// Plain per-pixel MSE of reconstructing clean inputs (evaluation only).
    Mse,
}

impl Term {
    pub const ALL: [Term; 6] = [
        Term::Reconstruction,
        Term::Kl,
        Term::L1,
        Term::Contractive,
        Term::Total,
        Term::Mse,
    ];

    /// The serialised spelling, also what the UI and the command line print.
    pub fn name(self) -> &'static str {
        match self {
            Term::Reconstruction => "reconstruction",
            Term::Kl => "kl",
            Term::L1 => "l1",
            Term::Contractive => "contractive",
            Term::Total => "total",
            Term::Mse => "mse",
        }
    }
}

impl Ord for Term {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.name().cmp(other.name())
    }
}

impl PartialOrd for Term {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for Term {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_serde() {
        for t in Term::ALL {
            assert_eq!(
                serde_json::to_string(&t).unwrap(),
                format!("\"{}\"", t.name())
            );
        }
    }
}
