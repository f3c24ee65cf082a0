//! The Compression panel driven through egui_kittest with the built-in 32-D dense model: the
//! curves of every method are measured in the background, the side-by-side view decodes the
//! same digits with each method at 32 bytes, another dataset folder (Fashion-MNIST, opened
//! through the panel's button) gets its own curves, and the points are saved as CSV.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bottleneck::analysis::codec::Method;
use bottleneck::app::panels::compression::Target;
use bottleneck::app::Tab;
use common::*;
use egui_kittest::kittest::Queryable;

const T: Duration = Duration::from_secs(180);

#[test]
fn the_tab_measures_every_method_and_shows_the_budget_view() {
    let (mut h, dir) = app(|a| a.tab = Tab::Compression);
    h.step();
    let model = bottleneck::model::bundled::find("dense-32d")
        .unwrap()
        .load()
        .unwrap();
    let data = state(&h).shared.data.clone();
    state(&h).shared.a().adopt(Arc::new(model), data);
    assert!(
        wait_until(&mut h, T, |a| {
            let c = &a.compression;
            !c.model_points(&a.shared, Target::Home).is_empty()
                && c.baseline_points(&a.shared, Target::Home).is_some()
                && c.side_by_side().is_some()
        }),
        "the curves and the budget view are computed"
    );
    h.step();
    {
        let a = state(&h);
        let c = &a.compression;
        let models = c.model_points(&a.shared, Target::Home);
        assert_eq!(models.len(), 1);
        let ae = &models[0].1;
        assert_eq!(ae.len(), 7, "one point per bit depth, 2 to 8");
        assert!(ae.iter().all(|p| p.k == Some(32)));
        assert_eq!(ae.last().unwrap().bytes_per_image, 32.0);
        let all = c.all_points(&a.shared, Target::Home);
        for m in [Method::Pca, Method::Jpeg, Method::Png] {
            assert!(all.iter().any(|p| p.method == m), "no {m:?} point");
        }
        let s = c.side_by_side().unwrap();
        assert_eq!(s.originals.len(), 8 * bottleneck::PIXELS);
        let titles: Vec<&str> = s.rows.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(titles, ["Autoencoder", "PCA", "JPEG"]);
        let (_, ae_row) = &s.rows[0];
        assert_eq!(ae_row.bytes, vec![32; 8], "32 bytes each at 8 bits");
        assert!(ae_row.psnr.iter().all(|p| p.is_finite() && *p > 5.0));
        assert!(
            s.rows[2].1.bytes.iter().all(|&b| b > 300),
            "whole JPEG files"
        );
    }
    h.get_by_label("Original");

    // The points as CSV.
    let csv = dir.path().join("points.csv");
    state_mut(&mut h).shared.dialog_override = Some(csv.clone());
    h.get_by_label("Save points as CSV…").click();
    h.run_steps(2);
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with("dataset,method,k,bits,quality"));
    assert!(text.lines().count() > 7 + 36 + 18);

    // Off its home ground.
    let Some(fashion) = fashion_mnist_dir() else {
        return;
    };
    state_mut(&mut h).shared.dialog_override = Some(fashion.to_path_buf());
    h.get_all_by_label("Open another dataset…")
        .next()
        .unwrap()
        .click();
    assert!(
        wait_until(&mut h, T, |a| {
            let c = &a.compression;
            !c.model_points(&a.shared, Target::Other).is_empty()
                && c.baseline_points(&a.shared, Target::Other).is_some()
                && !c.working()
        }),
        "the other dataset is measured"
    );
    let a = state(&h);
    let c = &a.compression;
    assert_eq!(c.other.as_ref().unwrap().name, "Fashion-MNIST");
    let at8 = |t: Target| {
        let pts = c.all_points(&a.shared, t);
        let ae = *pts
            .iter()
            .find(|p| p.method == Method::Autoencoder && p.bits == Some(8))
            .unwrap();
        let jpeg =
            bottleneck::analysis::codec::nearest(&pts, Method::Jpeg, ae.bytes_per_image).unwrap();
        (ae.psnr, jpeg.psnr)
    };
    let (ae_home, jpeg_home) = at8(Target::Home);
    let (ae_other, jpeg_other) = at8(Target::Other);
    assert!(ae_home > jpeg_home - 0.5, "{ae_home} vs {jpeg_home}");
    assert!(jpeg_other > ae_other + 5.0, "{ae_other} vs {jpeg_other}");
    assert_eq!(
        c.budget_target,
        Target::Other,
        "the budget view moves to the new data"
    );
}
