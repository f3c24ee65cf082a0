//! On the projector: every panel, in normal and presenter mode, at 1024×768 and 1280×800,
//! keeps its key elements reachable (inside the window, or brought into it by its panel's
//! scrolling), and the top bar's buttons never overlap. The elements are found through the UI
//! tree by their accessible names, so a layout that pushes one out of the window fails here.

mod common;

use std::time::Duration;

use bottleneck::app::chrome::{BarLayout, MENU};
use bottleneck::app::snapshot::{settled, SnapshotRequest};
use bottleneck::app::Tab;
use common::{state, state_mut, wait_until, AppHarness};
use egui::{Rect, Vec2};
use egui_kittest::kittest::Queryable;

const T: Duration = Duration::from_secs(120);
const SIZES: [(f32, f32); 2] = [(1024.0, 768.0), (1280.0, 800.0)];

/// The accessible names of the elements each panel must keep in reach.
fn key_elements(tab: Tab) -> &'static [&'static str] {
    match tab {
        Tab::Train => &["Loss plot"],
        Tab::Latent => &["Latent map"],
        Tab::Interpolate => &["t", "9 decoded steps from A (left) to B (right)"],
        Tab::Denoise => &["Noisy input image", "Current model image"],
        Tab::Pca => &["Error against k"],
        Tab::Anomaly => &["Error histogram", "ROC curve"],
        Tab::Compression => &["Rate-distortion plot"],
        Tab::Features => &["Encoder weights", "Traversal grid", "Probe plot"],
        Tab::Step => &["network"],
        // The built-in dense model does not generate: the panel offers the built-in CVAE.
        Tab::Generate => &["Use the built-in conditional VAE"],
    }
}

/// The window's rectangle in the UI's points (the zoom changes them).
fn window(h: &AppHarness) -> Rect {
    h.ctx.content_rect()
}

fn inside(r: Rect, w: Rect) -> bool {
    w.expand(1.0).contains_rect(r)
}

/// Where the element named `name` lies, once its panel has scrolled to it if it must (with
/// several nodes of that name, e.g. a slider and its text, the first one in the window).
fn reach(h: &mut AppHarness, name: &str) -> Rect {
    let find = |h: &AppHarness| {
        let rects: Vec<Rect> = h.query_all_by_label(name).map(|n| n.rect()).collect();
        assert!(!rects.is_empty(), "{name} not found");
        let w = window(h);
        rects
            .iter()
            .copied()
            .find(|r| inside(*r, w))
            .unwrap_or(rects[0])
    };
    let r = find(h);
    if inside(r, window(h)) {
        return r;
    }
    if let Some(n) = h.query_all_by_label(name).next() {
        n.scroll_to_me();
    }
    h.run_steps(4);
    find(h)
}

/// The top bar's buttons that are drawn (tabs and, right, the buttons or the menu).
fn bar_buttons(h: &AppHarness) -> Vec<(String, Rect)> {
    let a = state(h);
    let mut names: Vec<&str> = Tab::ALL
        .iter()
        .map(|t| match a.bar_layout {
            BarLayout::Short => t.short_label(),
            _ => t.label(),
        })
        .collect();
    match a.bar_layout {
        BarLayout::Full => {
            names.extend(["Help", "Export", "Models", "Presenter", "Lessons"]);
            if a.shared.settings.presenter {
                names.push("Settings");
            }
        }
        _ => names.push(MENU),
    }
    names
        .into_iter()
        .map(|n| {
            // A tab's name can also be a panel's heading: the top bar's is the topmost.
            let r = h
                .query_all_by_label(n)
                .map(|node| node.rect())
                .min_by(|a, b| a.top().total_cmp(&b.top()))
                .unwrap_or_else(|| panic!("top-bar button {n} not found"));
            (n.to_string(), r)
        })
        .collect()
}

fn check_bar(h: &AppHarness, what: &str) {
    let w = window(h);
    let buttons = bar_buttons(h);
    for (n, r) in &buttons {
        assert!(
            inside(*r, w),
            "{what}: top-bar button {n} at {r:?} is outside {w:?}"
        );
    }
    for (i, (a, ra)) in buttons.iter().enumerate() {
        for (b, rb) in &buttons[i + 1..] {
            assert!(
                !ra.shrink(0.5).intersects(rb.shrink(0.5)),
                "{what}: top-bar buttons {a} {ra:?} and {b} {rb:?} overlap"
            );
        }
    }
}

/// Shows `tab` and waits for its background work (and the layout) to settle.
fn show(h: &mut AppHarness, tab: Tab) {
    state_mut(h).tab = tab;
    h.run_steps(2);
    assert!(
        wait_until(h, T, |a| a.is_settled()),
        "{tab:?} never settled"
    );
    h.run_steps(4);
}

#[test]
fn every_panel_keeps_its_key_elements_in_reach_on_a_projector() {
    // One app for every case: the panels' demos are prepared once, then each size and mode is
    // shown by resizing the window and switching presenter mode.
    let req = SnapshotRequest {
        tab: Tab::Train,
        width: 1280.0,
        height: 800.0,
        ..Default::default()
    };
    let mut h = settled(&req).expect("the app settles");
    for tab in Tab::ALL {
        show(&mut h, tab);
        state_mut(&mut h).prepare_demo();
        show(&mut h, tab);
    }
    for presenter in [false, true] {
        for (w, ht) in SIZES {
            h.set_size(Vec2::new(w, ht));
            state_mut(&mut h).shared.settings.presenter = presenter;
            h.run_steps(4);
            let what = format!("{w}×{ht}{}", if presenter { " presenter" } else { "" });
            for tab in Tab::ALL {
                show(&mut h, tab);
                let what = format!("{what}, {}", tab.label());
                check_bar(&h, &what);
                for name in key_elements(tab) {
                    let r = reach(&mut h, name);
                    let win = window(&h);
                    assert!(
                        inside(r, win),
                        "{what}: {name} at {r:?} is out of reach of the window {win:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn the_top_bar_folds_then_shortens_as_the_window_narrows() {
    let req = SnapshotRequest {
        width: 1280.0,
        height: 800.0,
        ..Default::default()
    };
    let mut h = settled(&req).expect("the app settles");
    assert_eq!(state(&h).bar_layout, BarLayout::Full);
    check_bar(&h, "1280 wide");
    h.set_size(Vec2::new(800.0, 600.0));
    h.run_steps(4);
    assert_ne!(state(&h).bar_layout, BarLayout::Full);
    check_bar(&h, "800 wide");
    h.set_size(Vec2::new(480.0, 600.0));
    h.run_steps(4);
    assert_eq!(state(&h).bar_layout, BarLayout::Short);
    check_bar(&h, "480 wide");
    // Every tab is still one click away.
    for t in Tab::ALL {
        let node = h
            .query_all_by_label(t.short_label())
            .min_by(|a, b| a.rect().top().total_cmp(&b.rect().top()))
            .expect("the tab is in the bar");
        node.click();
        h.run_steps(2);
        assert_eq!(state(&h).tab, t);
    }
}

#[test]
fn the_lesson_card_folds_to_one_line() {
    let req = SnapshotRequest {
        width: 1024.0,
        height: 768.0,
        presenter: true,
        lesson: Some(0),
        ..Default::default()
    };
    let mut h = settled(&req).expect("the app settles");
    assert!(state(&h).lessons.open);
    let plot_before = h.get_by_label("Loss plot").rect();
    assert!(h.query_by_label("Use these settings").is_some());
    h.get_by_label("Fold").click();
    h.run_steps(4);
    assert!(state(&h).lessons.collapsed);
    assert!(h.query_by_label("Use these settings").is_none());
    let plot_after = h.get_by_label("Loss plot").rect();
    assert!(
        plot_after.height() > plot_before.height() + 40.0,
        "the plot gets the room: {plot_before:?} → {plot_after:?}"
    );
    h.get_by_label("Show text").click();
    h.run_steps(2);
    assert!(!state(&h).lessons.collapsed);
}
