//! The CSV importer on the files people save: a UTF-8 byte-order mark (Excel's "CSV UTF-8"),
//! quoted cells, Windows line ends, blank lines, and a quoted cell running over a line break;
//! each read as the same images as the plain file, errors naming the file's own line numbers.

use std::path::Path;

use bottleneck_engine::data::csv::{self, CsvImages};
use bottleneck_engine::data::{Dataset, DatasetSource};

/// Three 2×2 images: labels 7, 2, 9.
const PLAIN: &str = "7,0,255,0,0\n2,0,0,255,0\n9,51,0,0,255\n";

fn parse(text: &str) -> CsvImages {
    csv::parse(text, Path::new("t.csv")).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn error(text: &str) -> String {
    csv::parse(text, Path::new("t.csv"))
        .expect_err(text)
        .to_string()
}

#[test]
fn a_headerless_file_with_a_byte_order_mark_keeps_its_first_image() {
    let plain = parse(PLAIN);
    assert_eq!(plain.labels, vec![7, 2, 9]);
    let bom = parse(&format!("\u{feff}{PLAIN}"));
    assert!(!bom.header, "the first row is data, not a header");
    assert_eq!(bom, plain);
    // With a header the mark is not part of its first name either.
    let with_header = parse(&format!("\u{feff}label,p1,p2,p3,p4\n{PLAIN}"));
    assert!(with_header.header);
    assert_eq!(with_header.pixels, plain.pixels);
    assert_eq!(with_header.labels, plain.labels);
}

#[test]
fn a_headerless_file_with_a_byte_order_mark_loads_every_image() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("digits.csv");
    let mut text = String::from("\u{feff}");
    for i in 0..50 {
        text.push_str(&(i % 10).to_string());
        for p in 0..784 {
            text.push_str(if (p + i) % 7 == 0 { ",255" } else { ",0" });
        }
        text.push_str("\r\n");
    }
    std::fs::write(&path, &text).unwrap();
    let read = csv::read(&path).unwrap();
    assert!(!read.header);
    assert_eq!(read.labels.len(), 50);
    assert_eq!(read.labels[0], 0);
    let d = Dataset::load(&DatasetSource::Dir(path)).unwrap();
    assert_eq!(
        d.train.len() + d.test.len(),
        50,
        "all 50 images, the first included"
    );
}

#[test]
fn quoted_cells_read_as_their_values() {
    let plain = parse(PLAIN);
    let quoted = parse("\"7\",\"0\",\"255\",0,0\n2,0,0,\"255\",0\n\"9\",51,0,0,\"255\"\n");
    assert_eq!(quoted, plain);
    // Spaces around a cell, inside or outside its quotes.
    let spaced = parse("7, 0 ,\"255\", \"0\" ,0\n 2 ,0,0,255,0\n9,51,0,0,255\n");
    assert_eq!(spaced, plain);
    // A quoted header name holding a comma is one name.
    let header = parse(&format!("\"label\",\"pixel, 1\",p2,p3,p4\n{PLAIN}"));
    assert!(header.header);
    assert_eq!(header.pixels, plain.pixels);
    // A quoted comma inside a data cell is one cell, and not a number.
    let e = error("7,\"0,5\",255,0,0\n");
    assert!(e.contains("line 1, column 2") && e.contains("'0,5'"), "{e}");
}

#[test]
fn windows_line_ends_read_like_unix_ones_with_the_same_line_numbers() {
    let plain = parse(PLAIN);
    assert_eq!(parse(&PLAIN.replace('\n', "\r\n")), plain);
    // Old Mac line ends (a lone CR) too.
    assert_eq!(parse(&PLAIN.replace('\n', "\r")), plain);
    let bad = "1,0,0,0,0\r\n2,0,0,0,0\r\n3,0,x,0,0\r\n";
    let e = error(bad);
    assert!(e.contains("line 3, column 3") && e.contains("'x'"), "{e}");
    let e = error(&bad.replace("\r\n", "\r"));
    assert!(e.contains("line 3, column 3"), "{e}");
}

#[test]
fn blank_lines_are_skipped_and_counted_in_line_numbers() {
    let plain = parse(PLAIN);
    let gappy = "\n\n7,0,255,0,0\n\n   \n2,0,0,255,0\r\n\r\n\t\n9,51,0,0,255\n\n\n";
    assert_eq!(parse(gappy), plain);
    // A header after blank lines is still the header.
    let h = parse(&format!("\n \nlabel,a,b,c,d\n\n{PLAIN}"));
    assert!(h.header);
    assert_eq!(h.labels, plain.labels);
    let e = error("\n1,0,0,0,0\n\n\n2,0,0,0\n");
    assert!(e.contains("line 5") && e.contains("4 values"), "{e}");
    let e = error("\u{feff}\r\n1,0,0,0,0\r\n \r\n2,0,0,0,300\r\n");
    assert!(e.contains("line 4, column 5") && e.contains("300"), "{e}");
}

#[test]
fn a_quoted_cell_over_a_line_break_keeps_the_following_line_numbers() {
    // The header's quoted name spans lines 1–2; the bad value is on line 4.
    let text = "\"label\nname\",a,b,c,d\n1,0,0,0,0\n2,0,0,0,-5\n";
    let e = error(text);
    assert!(e.contains("line 4, column 5"), "{e}");
    let c = parse(&text.replace("-5", "5"));
    assert!(c.header);
    assert_eq!(c.labels, vec![1, 2]);
}
