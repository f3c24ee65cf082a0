//! A conditional VAE's labels in the fused dense engine (`fused`): the one-hot class put
//! beside each row of the encoder's input and of the decoder's input (the two layers that
//! read it are `classes` inputs wider, see `model::params`), and the decoder input's gradient
//! cut back to the code's columns (the label is data: it gets no gradient).

/// `out` = the rows of `a` (`wa` values each) with the rows of `b` (`wb` each) beside them.
pub fn beside(a: &[f32], wa: usize, b: &[f32], wb: usize, out: &mut Vec<f32>) {
    let rows = a.len() / wa.max(1);
    out.clear();
    out.reserve(rows * (wa + wb));
    for r in 0..rows {
        out.extend_from_slice(&a[r * wa..(r + 1) * wa]);
        out.extend_from_slice(&b[r * wb..(r + 1) * wb]);
    }
}

/// Keeps the first `keep` of each row's `width` values, packed to rows of `keep`, in place.
pub fn keep_columns(g: &mut [f32], width: usize, keep: usize, rows: usize) {
    for r in 0..rows {
        g.copy_within(r * width..r * width + keep, r * keep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::{LossKind, TrainConfig, Variant};
    use crate::model::TrainedModel;
    use crate::train::fused::FusedMlp;
    use crate::train::test_support::{assert_matches, autograd, batch, labels};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// The fused engine's loss and gradients of a conditional VAE agree with candle's
    /// autograd on the same weights, labels and ε.
    fn check(cfg: TrainConfig, b: usize) {
        let model = TrainedModel::new(&cfg, "test").unwrap();
        let x = batch(b, 5, 0.2);
        let want = autograd(&cfg, &model, &x, &x, b, 9);
        let mut f = FusedMlp::new(&cfg, &model.varmap).unwrap();
        f.set_condition(&labels(b, cfg.model.classes));
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        assert_matches(&cfg, f.gradients(&x, &x, b, &mut rng).unwrap(), want);
    }

    #[test]
    fn gradients_match_autograd_cvae() {
        let mut c = TrainConfig::preset(Variant::Cvae, 3);
        c.beta = 2.0;
        check(c, 50);
        let mut m = TrainConfig::preset(Variant::Cvae, 2);
        m.loss = LossKind::Mse;
        m.model.classes = 4;
        m.model.hidden = vec![64];
        check(m, 9);
    }

    #[test]
    fn a_step_without_the_classes_is_refused() {
        let cfg = TrainConfig::preset(Variant::Cvae, 2);
        let model = TrainedModel::new(&cfg, "test").unwrap();
        let mut f = FusedMlp::new(&cfg, &model.varmap).unwrap();
        let x = batch(4, 1, 0.2);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let e = f.step(&x, &x, 4, &mut rng).unwrap_err().to_string();
        assert!(e.contains("condition values"), "{e}");
    }

    #[test]
    fn rows_go_beside_and_come_back() {
        let mut out = Vec::new();
        beside(&[1.0, 2.0, 3.0, 4.0], 2, &[9.0, 8.0], 1, &mut out);
        assert_eq!(out, vec![1.0, 2.0, 9.0, 3.0, 4.0, 8.0]);
        keep_columns(&mut out, 3, 2, 2);
        assert_eq!(&out[..4], &[1.0, 2.0, 3.0, 4.0]);
    }
}
