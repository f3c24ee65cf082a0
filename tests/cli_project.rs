//! `bottleneck project` as a user runs it: the JSON fields, the CSV of the map, and one-line
//! errors for a bad method, model or output path.

mod common;
use common::bottleneck;

use std::process::Output;

fn last_json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    serde_json::from_str(out.lines().last().expect("output")).expect("the last line is JSON")
}

#[test]
fn project_prints_the_trust_of_the_map_and_writes_label_x_y() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("map.csv");
    let j = last_json(&bottleneck(&[
        "project",
        "builtin:dense-32d",
        "--method",
        "umap",
        "--out",
        csv.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(j["method"], "umap");
    assert_eq!(j["points"], 2000);
    assert!(j["seconds"].as_f64().unwrap() > 0.0);
    let acc2 = j["knn_accuracy_2d"].as_f64().unwrap();
    let acck = j["knn_accuracy_code"].as_f64().unwrap();
    let t = j["trustworthiness"].as_f64().unwrap();
    assert!(acc2 > 0.75 && acck > 0.85 && t > 0.9, "{j}");
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "label,x,y");
    assert_eq!(lines.len(), 2001);
    let row: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(row.len(), 3);
    assert!(row[0].parse::<u8>().unwrap() < 10);
    assert!(row[1].parse::<f32>().unwrap().is_finite());
    // PCA: the same code, a map that keeps far fewer neighbours.
    let p = last_json(&bottleneck(&[
        "project",
        "builtin:dense-32d",
        "--method",
        "pca",
        "--json",
    ]));
    assert_eq!(p["knn_accuracy_code"], j["knn_accuracy_code"]);
    assert!(p["knn_accuracy_2d"].as_f64().unwrap() < acc2 - 0.3);
}

#[test]
fn project_names_what_is_wrong_in_one_line() {
    let o = bottleneck(&["project", "builtin:dense-32d", "--method", "mds"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("pca, tsne or umap"));
    let o = bottleneck(&["project", "/no/such/model.safetensors", "--method", "pca"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("/no/such/model.safetensors"));
    let o = bottleneck(&["project", "builtin:nothing", "--method", "pca"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("dense-32d"));
    let dir = tempfile::tempdir().unwrap();
    let o = bottleneck(&[
        "project",
        "builtin:dense-32d",
        "--method",
        "pca",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("folder"));
}
