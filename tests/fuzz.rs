//! Fuzzing on stable Rust: one target per parser a user's file reaches — IDX images and labels
//! (plain and gzipped), picture decoding plus MNIST-style preprocessing, the model's sidecar
//! JSON plus safetensors pair, the settings file, CSV datasets (parsing, then loading as a
//! dataset), image folders (a folder of class subfolders of mutated pictures, empty and
//! non-image files, imported with either preprocessing) and imported models (PyTorch state
//! dicts as `.safetensors` and `.pt`, Keras `.keras` files: a mutated entry is zipped again
//! with a correct checksum so the mutation reaches the pickle, JSON or HDF5 reader).
//!
//! Inputs are real files (the embedded IDX digits, pictures encoded in every supported format,
//! a built-in model, saved settings) mutated by choices drawn from `arbitrary::Unstructured`
//! over seeded random bytes: bit flips, interesting bytes and big-endian words, header fields,
//! truncation, deleted, repeated and inserted chunks, and for JSON, values swapped for
//! hostile ones. A case fails if the parser panics or any single allocation asks for more than
//! [`MAX_ALLOC`] (an unbounded allocation from a header); errors are the expected outcome.
//!
//! `cargo test --release --test fuzz` runs [`CI_CASES`] cases per target.
//! `FUZZ_SECONDS=N cargo test --release --test fuzz -- --ignored --nocapture` runs each
//! target for N seconds and prints its executions. A failure prints the case's seed:
//! `FUZZ_SEED=S` replays it. Cases that found bugs stay below as named regression tests.
//!
//! No run has found a parser bug yet (the one failure, seed 9086458778878366349, was in this
//! harness: commit 92c8055). The regression section therefore holds, per target, the hostile
//! inputs its parser guards against — a truncated IDX header, a PNG claiming huge dimensions,
//! a sidecar describing another shape, a CSV row one value too long, … — each asserting the
//! clear error it must give, within the same allocation watch.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use arbitrary::Unstructured;
use bottleneck::app::settings::Settings;
use bottleneck::data::{idx, preprocess};
use bottleneck::model::import::{import, ImportOptions};
use bottleneck::model::io;
use rand::{RngCore, SeedableRng};

/// Cases per target in the normal test run.
const CI_CASES: usize = 2000;
/// The largest single allocation a parser may ask for while reading a fuzzed input (inputs
/// are at most a few MB; the real limits are far below this).
const MAX_ALLOC: usize = 600 << 20;

/// Counts the largest allocation request of the process (reset per case).
struct Watch;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Watch {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LARGEST.fetch_max(l.size(), Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        LARGEST.fetch_max(l.size(), Ordering::Relaxed);
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LARGEST.fetch_max(new, Ordering::Relaxed);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Watch = Watch;

mod common;

// ---------------------------------------------------------------- mutation

const WORDS: [u32; 12] = [
    0,
    1,
    2,
    3,
    28,
    255,
    0x0000_0803,
    0x0000_0801,
    4097,
    10_000_001,
    0x7fff_ffff,
    0xffff_ffff,
];

/// One random change to `data`.
fn mutate_once(u: &mut Unstructured, data: &mut Vec<u8>) -> arbitrary::Result<()> {
    let len = data.len();
    let at = |u: &mut Unstructured, n: usize| u.choose_index(n.max(1));
    match u.int_in_range(0..=8)? {
        0 if len > 0 => {
            let i = at(u, len)?;
            data[i] ^= 1 << u.int_in_range(0..=7)?;
        }
        1 if len > 0 => {
            let i = at(u, len)?;
            data[i] = *u.choose(&[0u8, 1, 0x7f, 0x80, 0xff, b'"', b'{', b'-', b'9'])?;
        }
        2 if len >= 4 => {
            // A big-endian word, often in the header.
            let i = if u.ratio(1, 2)? {
                4 * u.int_in_range(0..=3)?.min((len - 4) / 4)
            } else {
                at(u, len - 3)?
            };
            data[i..i + 4].copy_from_slice(&u.choose(&WORDS)?.to_be_bytes());
        }
        3 => {
            let n = at(u, len + 1)?;
            data.truncate(n);
        }
        4 if len > 0 => {
            let i = at(u, len)?;
            let n = u.int_in_range(1..=64)?.min(len - i);
            data.drain(i..i + n);
        }
        5 if len > 0 => {
            let i = at(u, len)?;
            let n = u.int_in_range(1..=256)?.min(len - i);
            let chunk = data[i..i + n].to_vec();
            let j = at(u, len)?;
            data.splice(j..j, chunk);
        }
        6 => {
            let n = u.int_in_range(1..=32)?;
            let bytes: Vec<u8> = (0..n).map(|_| u.arbitrary()).collect::<Result<_, _>>()?;
            let j = at(u, len + 1)?;
            data.splice(j..j, bytes);
        }
        7 if len > 0 => {
            // Many random bytes at once.
            for _ in 0..u.int_in_range(2..=16)? {
                let i = at(u, len)?;
                data[i] = u.arbitrary()?;
            }
        }
        _ => {
            data.push(u.arbitrary()?);
        }
    }
    Ok(())
}

/// Replaces a JSON number, string or literal of `text` by a hostile value.
fn mutate_json(u: &mut Unstructured, text: &mut String) -> arbitrary::Result<()> {
    const VALUES: [&str; 14] = [
        "-1",
        "0",
        "1e309",
        "-1e309",
        "18446744073709551616",
        "4294967296",
        "1000000000",
        "NaN",
        "null",
        "\"\"",
        "[]",
        "{}",
        "\"\\ud800\"",
        "true",
    ];
    // Value starts: after ':' or '[' or ','.
    let starts: Vec<usize> = text
        .char_indices()
        .filter(|(_, c)| matches!(c, ':' | '[' | ','))
        .map(|(i, _)| i + 1)
        .collect();
    if starts.is_empty() {
        return Ok(());
    }
    let s = starts[u.choose_index(starts.len())?];
    let rest = &text[s..];
    let trimmed = rest.trim_start();
    let s = s + (rest.len() - trimmed.len());
    let end = if let Some(inner) = trimmed.strip_prefix('"') {
        inner.find('"').map_or(trimmed.len(), |e| e + 2)
    } else {
        trimmed.find([',', '}', ']', '\n']).unwrap_or(trimmed.len())
    };
    text.replace_range(s..s + end, u.choose(&VALUES)?);
    Ok(())
}

/// A mutated copy of one of `seeds`: one to eight byte-level changes.
fn mutated(u: &mut Unstructured, seeds: &[Vec<u8>]) -> arbitrary::Result<Vec<u8>> {
    let mut data = seeds[u.choose_index(seeds.len())?].clone();
    for _ in 0..u.int_in_range(1..=8)? {
        mutate_once(u, &mut data)?;
    }
    Ok(data)
}

/// A mutated copy of one of the JSON `seeds`: hostile values, and sometimes byte changes.
fn mutated_json(u: &mut Unstructured, seeds: &[String]) -> arbitrary::Result<String> {
    let mut text = seeds[u.choose_index(seeds.len())?].clone();
    for _ in 0..u.int_in_range(1..=4)? {
        mutate_json(u, &mut text)?;
    }
    if u.ratio(1, 4)? {
        let mut bytes = text.into_bytes();
        mutate_once(u, &mut bytes)?;
        text = String::from_utf8_lossy(&bytes).into_owned();
    }
    Ok(text)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

// ---------------------------------------------------------------- the driver

/// Runs `case` on inputs drawn from seeded random bytes: `CI_CASES` times, or for
/// `FUZZ_SECONDS` when `long`; one case only with `FUZZ_SEED`.
fn drive(name: &str, long: bool, case: impl Fn(&mut Unstructured) -> bool) {
    let seconds: Option<f64> = long.then(|| {
        std::env::var("FUZZ_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(10.0)
    });
    let replay: Option<u64> = std::env::var("FUZZ_SEED").ok().and_then(|s| s.parse().ok());
    let base: u64 = if long {
        rand::rng().next_u64()
    } else {
        0x5eed_0000 + name.len() as u64
    };
    let started = Instant::now();
    let mut execs = 0u64;
    let mut accepted = 0u64;
    let mut slowest = Duration::ZERO;
    let mut buf = vec![0u8; 4096];
    loop {
        let seed = replay.unwrap_or(base.wrapping_add(execs));
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        rng.fill_bytes(&mut buf);
        LARGEST.store(0, Ordering::Relaxed);
        let t = Instant::now();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            case(&mut Unstructured::new(&buf))
        }));
        slowest = slowest.max(t.elapsed());
        let largest = LARGEST.load(Ordering::Relaxed);
        assert!(
            r.is_ok(),
            "fuzz {name}: panic; replay with FUZZ_SEED={seed}"
        );
        accepted += u64::from(r.unwrap_or(false));
        assert!(
            largest <= MAX_ALLOC,
            "fuzz {name}: an allocation of {} MB; replay with FUZZ_SEED={seed}",
            largest >> 20
        );
        execs += 1;
        let done = match (replay, seconds) {
            (Some(_), _) => true,
            (None, Some(s)) => started.elapsed().as_secs_f64() >= s,
            (None, None) => execs as usize >= CI_CASES,
        };
        if done {
            break;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "fuzz {name}: {execs} executions in {secs:.1} s ({:.0}/s), {accepted} inputs accepted, \
         slowest case {:.1} ms",
        execs as f64 / secs,
        slowest.as_secs_f64() * 1e3
    );
}

// ---------------------------------------------------------------- seeds

fn asset(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("assets")
            .join(name),
    )
    .unwrap()
}

/// Small real IDX files: the first images and labels of the embedded digits, plain.
fn idx_seeds() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let p = Path::new("seed");
    let images = idx::parse_images(&asset("mnist-10k-images-idx3-ubyte.gz"), p).unwrap();
    let labels = idx::parse_labels(&asset("mnist-10k-labels-idx1-ubyte.gz"), p).unwrap();
    let mut img = Vec::new();
    let mut lab = Vec::new();
    for n in [1usize, 3, 20] {
        img.push(idx::encode_images(&idx::IdxImages {
            count: n,
            rows: 28,
            cols: 28,
            pixels: images.pixels[..n * 784].to_vec(),
        }));
        lab.push(idx::encode_labels(&labels[..n]));
    }
    (img, lab)
}

/// A digit encoded in every format the app reads, plus a wider RGBA picture.
fn image_seeds() -> Vec<Vec<u8>> {
    use image::{DynamicImage, ImageFormat};
    let images =
        idx::parse_images(&asset("mnist-10k-images-idx3-ubyte.gz"), Path::new("seed")).unwrap();
    let digit = image::GrayImage::from_raw(28, 28, images.pixels[..784].to_vec()).unwrap();
    let gray = DynamicImage::ImageLuma8(digit);
    let rgba = DynamicImage::ImageRgba8(image::RgbaImage::from_fn(40, 24, |x, y| {
        image::Rgba([
            (x * 6) as u8,
            (y * 10) as u8,
            128,
            if x > 20 { 0 } else { 255 },
        ])
    }));
    let mut out = Vec::new();
    for img in [&gray, &rgba] {
        for f in [
            ImageFormat::Png,
            ImageFormat::Jpeg,
            ImageFormat::Bmp,
            ImageFormat::Gif,
            ImageFormat::WebP,
        ] {
            let img = if f == ImageFormat::Jpeg {
                DynamicImage::ImageRgb8(img.to_rgb8())
            } else {
                img.clone()
            };
            let mut bytes = std::io::Cursor::new(Vec::new());
            if img.write_to(&mut bytes, f).is_ok() {
                out.push(bytes.into_inner());
            }
        }
    }
    assert!(out.len() >= 8, "only {} seed pictures", out.len());
    out
}

/// A built-in model's sidecar and weights.
fn model_seeds() -> (String, Vec<u8>) {
    (
        String::from_utf8(asset("models/dense-2d.json")).unwrap(),
        asset("models/dense-2d.safetensors"),
    )
}

/// Saved settings: the defaults and a changed form.
fn settings_seeds() -> Vec<String> {
    let a = Settings::default();
    let mut b = a.clone();
    b.train.model.latent = 16;
    b.window_size = Some([1280.0, 800.0]);
    b.compare = true;
    b.dataset = bottleneck::data::DatasetSource::Dir("/data/fashion".into());
    [a, b]
        .iter()
        .map(|s| serde_json::to_string_pretty(s).unwrap())
        .collect()
}

/// Real CSV files: the first embedded digits as 0–255 with a header, as 0–1 without one, and
/// a few 2×2 images.
fn csv_seeds() -> Vec<Vec<u8>> {
    let d = bottleneck::data::Dataset::embedded().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("seed.csv");
    bottleneck::data::csv::write(&p, &d.test.take(3)).unwrap();
    let with_header = std::fs::read(&p).unwrap();
    let mut unit = String::new();
    for i in 0..2 {
        unit.push_str(&d.test.labels[i].to_string());
        for v in d.test.image(i) {
            unit.push_str(&format!(",{v:.3}"));
        }
        unit.push('\n');
    }
    let small = b"label,a,b,c,d\n1,0,255,0,12\n0,\"3\",4,5,6\n\n2,9,9,9,9\r\n".to_vec();
    vec![with_header, unit.into_bytes(), small]
}

// ---------------------------------------------------------------- targets

fn idx_target(long: bool) {
    let (images, labels) = idx_seeds();
    let gz_images: Vec<Vec<u8>> = images.iter().map(|b| gzip(b)).collect();
    let path = Path::new("fuzz-idx3-ubyte");
    drive("idx", long, |u| {
        (|| -> arbitrary::Result<bool> {
            Ok(match u.int_in_range(0..=3)? {
                0 => idx::parse_images(&mutated(u, &images)?, path).is_ok(),
                1 => idx::parse_labels(&mutated(u, &labels)?, path).is_ok(),
                // Mutated, then gzipped: the parser sees a valid stream of a broken file.
                2 => idx::parse_images(&gzip(&mutated(u, &images)?), path).is_ok(),
                // A mutated gzip stream.
                _ => idx::parse_images(&mutated(u, &gz_images)?, path).is_ok(),
            })
        })()
        .unwrap_or(false)
    });
}

fn image_target(long: bool) {
    let seeds = image_seeds();
    let path = Path::new("fuzz-picture");
    drive("image", long, |u| {
        let Ok(bytes) = mutated(u, &seeds) else {
            return false;
        };
        let Ok(g) = preprocess::decode(&bytes, path) else {
            return false;
        };
        let p = preprocess::preprocess(&g);
        assert_eq!(p.pixels.len(), 784);
        assert!(p.pixels.iter().all(|v| (0.0..=1.0).contains(v)));
        true
    });
}

fn model_target(long: bool) {
    let (json, weights) = model_seeds();
    let (jsons, weights) = (vec![json], vec![weights]);
    let path = Path::new("fuzz.safetensors");
    let side = Path::new("fuzz.json");
    drive("model", long, |u| {
        (|| -> arbitrary::Result<bool> {
            let text = if u.ratio(1, 2)? {
                mutated_json(u, &jsons)?
            } else {
                jsons[0].clone()
            };
            let bytes = if u.ratio(1, 2)? {
                // Mostly the safetensors header (its first few hundred bytes).
                let mut w = weights[0].clone();
                for _ in 0..u.int_in_range(1..=4)? {
                    if u.ratio(3, 4)? {
                        // An earlier mutation may have cut the file short.
                        let i = u.choose_index(w.len().min(600))?;
                        w[i] = u.arbitrary()?;
                    } else {
                        mutate_once(u, &mut w)?;
                    }
                }
                w
            } else {
                weights[0].clone()
            };
            let Ok(meta) = io::parse_meta(&text, side) else {
                return Ok(false);
            };
            let Ok(m) = io::from_parts(meta, &bytes, path) else {
                return Ok(false);
            };
            // A model that loads must also run.
            let codes = m.encode(&vec![0.5; 784]);
            assert!(codes.is_ok(), "{codes:?}");
            Ok(true)
        })()
        .unwrap_or(false)
    });
}

fn settings_target(long: bool) {
    let seeds = settings_seeds();
    drive("settings", long, |u| {
        let Ok(text) = mutated_json(u, &seeds) else {
            return false;
        };
        let Ok(s) = Settings::parse(&text) else {
            return false;
        };
        assert!(s.train.validate().is_ok());
        true
    });
}

fn csv_target(long: bool) {
    use bottleneck::data::{csv, Dataset, DatasetSource};
    let seeds = csv_seeds();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fuzz.csv");
    drive("csv", long, |u| {
        (|| -> arbitrary::Result<bool> {
            // Half the cases keep the bytes and only get CSV-shaped damage, which a parser
            // must tell apart from good rows.
            let mut bytes = if u.ratio(1, 2)? {
                mutated(u, &seeds)?
            } else {
                seeds[u.choose_index(seeds.len())?].clone()
            };
            // CSV-shaped damage: cells and rows added, values out of range.
            for _ in 0..u.int_in_range(0..=3)? {
                let token: &[u8] = u.choose(&[
                    &b","[..],
                    b"\n",
                    b"300",
                    b"-1",
                    b"NaN",
                    b"inf",
                    b"1e40",
                    b"\"",
                    b"label,",
                    b"0.5",
                    b"256",
                ])?;
                let at = u.choose_index(bytes.len() + 1)?;
                bytes.splice(at..at, token.iter().copied());
            }
            let text = String::from_utf8_lossy(&bytes);
            let Ok(c) = csv::parse(&text, &path) else {
                return Ok(false);
            };
            assert_eq!(c.pixels.len(), c.labels.len() * c.side * c.side);
            assert!(c.pixels.iter().all(|v| (0.0..=1.0).contains(v)));
            if u.ratio(1, 4)? {
                // The whole import: split, resize, class names.
                std::fs::write(&path, text.as_bytes()).unwrap();
                let d = Dataset::load(&DatasetSource::Dir(path.clone()));
                let d = d.expect("a CSV that parses loads");
                assert_eq!(d.train.len() + d.test.len(), c.labels.len());
                assert_eq!(d.train.images.len(), d.train.len() * 784);
                assert!(d.train.images.iter().all(|v| (0.0..=1.0).contains(v)));
            }
            Ok(true)
        })()
        .unwrap_or(false)
    });
}

fn folder_target(long: bool) {
    use bottleneck::data::{import, DatasetSource, ImportOptions, Preprocess};
    let seeds = image_seeds();
    let root = tempfile::tempdir().unwrap();
    drive("folder", long, |u| {
        (|| -> arbitrary::Result<bool> {
            let case = root.path().join(format!("case-{}", u.arbitrary::<u32>()?));
            let _ = std::fs::remove_dir_all(&case);
            std::fs::create_dir_all(&case).unwrap();
            let classes = u.int_in_range(0..=3)?;
            let mut files = 0usize;
            for c in 0..classes.max(1) {
                let dir = if classes == 0 {
                    case.clone()
                } else {
                    case.join(format!("class {c}"))
                };
                let dir = if u.ratio(1, 6)? {
                    dir.join("nested")
                } else {
                    dir
                };
                std::fs::create_dir_all(&dir).unwrap();
                for f in 0..u.int_in_range(0..=3)? {
                    let bytes = match u.int_in_range(0..=5)? {
                        0 => seeds[u.choose_index(seeds.len())?].clone(),
                        1 => Vec::new(),
                        2 => b"not a picture".to_vec(),
                        _ => mutated(u, &seeds)?,
                    };
                    std::fs::write(dir.join(format!("{f}.png")), bytes).unwrap();
                    files += 1;
                }
            }
            if classes > 0 && u.ratio(1, 5)? {
                // Outside the class folders: skipped.
                std::fs::write(case.join("stray.png"), &seeds[0]).unwrap();
            }
            let options = ImportOptions {
                preprocess: if u.ratio(1, 2)? {
                    Preprocess::Mnist
                } else {
                    Preprocess::Fit
                },
                invert: u.ratio(1, 2)?,
            };
            let r = import::load(&DatasetSource::Dir(case.clone()), &options, None);
            let _ = std::fs::remove_dir_all(&case);
            let Ok(imported) = r else {
                return Ok(false);
            };
            let d = &imported.dataset;
            let read = d.train.len() + d.test.len();
            assert!(read >= 1 && read <= files, "{read} of {files}");
            assert_eq!(d.class_names.len(), classes.max(1));
            for split in [&d.train, &d.test] {
                assert_eq!(split.images.len(), split.len() * 784);
                assert!(split.images.iter().all(|v| (0.0..=1.0).contains(v)));
            }
            Ok(true)
        })()
        .unwrap_or(false)
    });
}

// ---------------------------------------------------------------- model import (PyTorch, Keras)

fn exchange_path(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/exchange")
        .join(name)
}

/// The entries of a zip whose entries are stored (as torch.save and Keras write them), found
/// through its central directory.
fn unzip_stored(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
    let u16at = |i: usize| u16::from_le_bytes([zip[i], zip[i + 1]]) as usize;
    let u32at = |i: usize| u32::from_le_bytes(zip[i..i + 4].try_into().unwrap()) as usize;
    let end = zip.len() - 22;
    assert_eq!(&zip[end..end + 4], b"PK\x05\x06", "a zip without a comment");
    let mut p = u32at(end + 16);
    let mut out = Vec::new();
    for _ in 0..u16at(end + 10) {
        assert_eq!(&zip[p..p + 4], b"PK\x01\x02");
        let size = u32at(p + 20);
        let (n, x, c) = (u16at(p + 28), u16at(p + 30), u16at(p + 32));
        let name = String::from_utf8(zip[p + 46..p + 46 + n].to_vec()).unwrap();
        let local = u32at(p + 42);
        let start = local + 30 + u16at(local + 26) + u16at(local + 28);
        out.push((name, zip[start..start + size].to_vec()));
        p += 46 + n + x + c;
    }
    out
}

/// CRC-32 (the zip one).
fn crc32(bytes: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, e) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0xEDB8_8320
                } else {
                    c >> 1
                };
            }
            *e = c;
        }
        t
    });
    !bytes.iter().fold(!0u32, |c, &b| {
        table[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8)
    })
}

/// A zip of stored entries with correct checksums, so a mutation inside an entry reaches the
/// parser behind the zip.
fn zip_stored(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let offset = out.len() as u32;
        let mut fields = Vec::new();
        fields.extend(0u16.to_le_bytes()); // flags
        fields.extend(0u16.to_le_bytes()); // stored
        fields.extend(0u32.to_le_bytes()); // time, date
        fields.extend(crc32(data).to_le_bytes());
        fields.extend((data.len() as u32).to_le_bytes());
        fields.extend((data.len() as u32).to_le_bytes());
        fields.extend((name.len() as u16).to_le_bytes());
        fields.extend(0u16.to_le_bytes()); // extra
        out.extend(b"PK\x03\x04");
        out.extend(20u16.to_le_bytes());
        out.extend(&fields);
        out.extend(name.as_bytes());
        out.extend(data);
        central.extend(b"PK\x01\x02");
        central.extend(20u16.to_le_bytes()); // made by
        central.extend(20u16.to_le_bytes()); // needed
        central.extend(&fields);
        central.extend([0u8; 10]); // comment length, disk, attributes
        central.extend(offset.to_le_bytes());
        central.extend(name.as_bytes());
    }
    let (at, size, n) = (out.len() as u32, central.len() as u32, entries.len() as u16);
    out.extend(central);
    out.extend(b"PK\x05\x06");
    out.extend([0u8; 4]);
    out.extend(n.to_le_bytes());
    out.extend(n.to_le_bytes());
    out.extend(size.to_le_bytes());
    out.extend(at.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

/// `bytes` written to `dir/name`, imported (with `decoder`); whether a model came out, which
/// must then run.
fn import_case(dir: &Path, name: &str, bytes: &[u8], decoder: Option<&Path>) -> bool {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let options = ImportOptions {
        decoder: decoder.map(Path::to_path_buf),
        ..ImportOptions::default()
    };
    let Ok(m) = import(&path, &options) else {
        return false;
    };
    let codes = m.encode(&vec![0.5; 784]);
    assert!(codes.is_ok(), "{codes:?}");
    true
}

/// Mutations of one of an entry's bytes, 3 times in 4 within its first `head` bytes.
fn mutate_head(u: &mut Unstructured, w: &mut Vec<u8>, head: usize) -> arbitrary::Result<()> {
    for _ in 0..u.int_in_range(1..=4)? {
        if u.ratio(3, 4)? && !w.is_empty() {
            let i = u.choose_index(w.len().min(head))?;
            w[i] = u.arbitrary()?;
        } else {
            mutate_once(u, w)?;
        }
    }
    Ok(())
}

/// PyTorch state dicts: a `.safetensors` (mostly its header) and a `.pt` (its pickle, a
/// tensor's storage, or the zip around them).
fn torch_target(long: bool) {
    let st = std::fs::read(exchange_path("torch_conv.safetensors")).unwrap();
    let pt = unzip_stored(&std::fs::read(exchange_path("torch_conv.pt")).unwrap());
    let pkl = pt
        .iter()
        .position(|(n, _)| n.ends_with("data.pkl"))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    drive("torch", long, |u| {
        (|| -> arbitrary::Result<bool> {
            let (name, bytes) = match u.int_in_range(0..=2)? {
                0 => {
                    let mut w = st.clone();
                    mutate_head(u, &mut w, 1200)?;
                    ("fuzz.safetensors", w)
                }
                1 => {
                    let mut e = pt.clone();
                    let i = if u.ratio(3, 4)? {
                        pkl
                    } else {
                        u.choose_index(e.len())?
                    };
                    for _ in 0..u.int_in_range(1..=8)? {
                        mutate_once(u, &mut e[i].1)?;
                    }
                    ("fuzz.pt", zip_stored(&e))
                }
                _ => {
                    let mut z = zip_stored(&pt);
                    for _ in 0..u.int_in_range(1..=4)? {
                        mutate_once(u, &mut z)?;
                    }
                    ("fuzz.pt", z)
                }
            };
            Ok(import_case(dir.path(), name, &bytes, None))
        })()
        .unwrap_or(false)
    });
}

/// Keras: a `.keras` encoder (its config.json, its HDF5 weights, or the zip) with the fixture's
/// decoder beside it.
fn keras_target(long: bool) {
    let entries = unzip_stored(&std::fs::read(exchange_path("keras_dense_encoder.keras")).unwrap());
    let config = entries
        .iter()
        .position(|(n, _)| n == "config.json")
        .unwrap();
    let h5 = entries
        .iter()
        .position(|(n, _)| n == "model.weights.h5")
        .unwrap();
    let jsons = vec![String::from_utf8(entries[config].1.clone()).unwrap()];
    let decoder = exchange_path("keras_dense_decoder.keras");
    let dir = tempfile::tempdir().unwrap();
    drive("keras", long, |u| {
        (|| -> arbitrary::Result<bool> {
            let mut e = entries.clone();
            let bytes = match u.int_in_range(0..=2)? {
                0 => {
                    e[config].1 = mutated_json(u, &jsons)?.into_bytes();
                    zip_stored(&e)
                }
                1 => {
                    // The HDF5 metadata: the superblock and headers before the first kernel.
                    mutate_head(u, &mut e[h5].1, 4096)?;
                    zip_stored(&e)
                }
                _ => {
                    let mut z = zip_stored(&e);
                    for _ in 0..u.int_in_range(1..=4)? {
                        mutate_once(u, &mut z)?;
                    }
                    z
                }
            };
            Ok(import_case(
                dir.path(),
                "fuzz.keras",
                &bytes,
                Some(&decoder),
            ))
        })()
        .unwrap_or(false)
    });
}

#[test]
fn fuzz_torch() {
    torch_target(false);
}

#[test]
fn fuzz_keras() {
    keras_target(false);
}

#[test]
#[ignore = "long: FUZZ_SECONDS=N cargo test --release --test fuzz -- --ignored"]
fn fuzz_torch_long() {
    torch_target(true);
}

#[test]
#[ignore = "long: FUZZ_SECONDS=N cargo test --release --test fuzz -- --ignored"]
fn fuzz_keras_long() {
    keras_target(true);
}

#[test]
fn fuzz_csv() {
    csv_target(false);
}

#[test]
fn fuzz_folder() {
    folder_target(false);
}

#[test]
#[ignore = "long: FUZZ_SECONDS=N cargo test --release --test fuzz -- --ignored"]
fn fuzz_csv_long() {
    csv_target(true);
}

#[test]
#[ignore = "long: FUZZ_SECONDS=N cargo test --release --test fuzz -- --ignored"]
fn fuzz_folder_long() {
    folder_target(true);
}

#[test]
fn fuzz_idx() {
    idx_target(false);
}

#[test]
fn fuzz_image() {
    image_target(false);
}

#[test]
fn fuzz_model() {
    model_target(false);
}

#[test]
fn fuzz_settings() {
    settings_target(false);
}

#[test]
#[ignore = "long: FUZZ_SECONDS=N cargo test --release --test fuzz -- --ignored"]
fn fuzz_idx_long() {
    idx_target(true);
}

#[test]
#[ignore = "long: FUZZ_SECONDS=N cargo test --release --test fuzz -- --ignored"]
fn fuzz_image_long() {
    image_target(true);
}

#[test]
#[ignore = "long: FUZZ_SECONDS=N cargo test --release --test fuzz -- --ignored"]
fn fuzz_model_long() {
    model_target(true);
}

#[test]
#[ignore = "long: FUZZ_SECONDS=N cargo test --release --test fuzz -- --ignored"]
fn fuzz_settings_long() {
    settings_target(true);
}

// ---------------------------------------------------------------- regressions

/// Runs `case` under the same watch as a fuzz case: no panic, no allocation above
/// [`MAX_ALLOC`]; returns its error message.
fn regression<T: std::fmt::Debug, E: std::fmt::Display>(
    name: &str,
    case: impl FnOnce() -> Result<T, E>,
) -> String {
    LARGEST.store(0, Ordering::Relaxed);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(case));
    let largest = LARGEST.load(Ordering::Relaxed);
    let r = r.unwrap_or_else(|_| panic!("{name}: panicked"));
    assert!(
        largest <= MAX_ALLOC,
        "{name}: an allocation of {} MB",
        largest >> 20
    );
    match r {
        Ok(v) => panic!("{name}: accepted: {v:?}"),
        Err(e) => e.to_string(),
    }
}

fn assert_mentions(name: &str, message: &str, parts: &[&str]) {
    for p in parts {
        assert!(
            message.contains(p),
            "{name}: '{message}' does not say '{p}'"
        );
    }
}

/// An IDX images header: magic 0x803, then `dims` as big-endian words.
fn idx_header(dims: &[u32]) -> Vec<u8> {
    let mut b = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b
}

#[test]
fn idx_regression_a_header_cut_short_names_its_missing_bytes() {
    let path = Path::new("cut-idx3-ubyte");
    let mut bytes = idx_header(&[1, 28, 28]);
    bytes.truncate(10);
    let e = regression("idx cut header", || idx::parse_images(&bytes, path));
    assert_mentions(
        "idx cut header",
        &e,
        &["cut-idx3-ubyte", "header is cut short", "12 bytes"],
    );
    let e = regression("idx 3 bytes", || idx::parse_images(&bytes[..3], path));
    assert_mentions("idx 3 bytes", &e, &["only 3 bytes", "too short"]);
}

#[test]
fn idx_regression_a_header_claiming_billions_of_images_is_refused_before_reading() {
    let path = Path::new("huge-idx3-ubyte");
    let mut bytes = idx_header(&[0x7fff_ffff, 28, 28]);
    bytes.extend_from_slice(&[0u8; 784]);
    let e = regression("idx huge count", || idx::parse_images(&bytes, path));
    assert_mentions("idx huge count", &e, &["2147483647", "more than the"]);
    // Gzipped, the stream is not inflated past what the header may promise.
    let e = regression("idx huge count gz", || {
        idx::parse_images(&gzip(&bytes), path)
    });
    assert_mentions("idx huge count gz", &e, &["2147483647"]);
    // Sides of 0 and of 4 billion pixels.
    for (side, what) in [(0u32, "0 rows"), (0xffff_ffff, "4294967295 rows")] {
        let bytes = idx_header(&[1, side, 28]);
        let e = regression("idx side", || idx::parse_images(&bytes, path));
        assert_mentions("idx side", &e, &[what, "per image"]);
    }
}

#[test]
fn idx_regression_data_shorter_than_the_header_promises_is_truncated() {
    let path = Path::new("short-idx3-ubyte");
    let mut bytes = idx_header(&[2, 28, 28]);
    bytes.extend_from_slice(&[0u8; 784 + 100]);
    let e = regression("idx short data", || idx::parse_images(&bytes, path));
    assert_mentions("idx short data", &e, &["truncated", "1568", "884"]);
    let labels = [0, 0, 8, 1, 0, 0, 0, 5, 1, 2];
    let e = regression("idx short labels", || idx::parse_labels(&labels, path));
    assert_mentions(
        "idx short labels",
        &e,
        &["truncated", "promises 5", "holds 2"],
    );
}

#[test]
fn image_regression_a_png_claiming_huge_dimensions_is_refused_by_its_header() {
    let path = Path::new("huge.png");
    for (w, h) in [(100_000u32, 100_000u32), (20_000, 20_000), (1, 0x7fff_ffff)] {
        let png = common::png_claiming(w, h, 8, 0);
        let e = regression("png claiming", || {
            preprocess::decode(&png, path).map(|g| g.width)
        });
        assert_mentions("png claiming", &e, &["huge.png", "limit"]);
    }
    // 16-bit RGBA: eight bytes a pixel.
    let png = common::png_claiming(16_000, 16_000, 16, 6);
    let e = regression("png 16-bit", || {
        preprocess::decode(&png, path).map(|g| g.width)
    });
    assert_mentions("png 16-bit", &e, &["limit"]);
}

#[test]
fn image_regression_empty_truncated_and_foreign_files_say_what_they_are() {
    let path = Path::new("bad.png");
    let e = regression("empty picture", || {
        preprocess::decode(&[], path).map(|g| g.width)
    });
    assert_mentions(
        "empty picture",
        &e,
        &["bad.png", "not an image Bottleneck can read"],
    );
    let png = &image_seeds()[0];
    let cut = &png[..png.len() / 2];
    let e = regression("cut png", || preprocess::decode(cut, path).map(|g| g.width));
    assert_mentions("cut png", &e, &["truncated or corrupt"]);
    let e = regression("text", || {
        preprocess::decode(b"label,pixel1\n", path).map(|g| g.width)
    });
    assert_mentions("text", &e, &["not an image Bottleneck can read"]);
}

#[test]
fn model_regression_a_sidecar_describing_another_shape_names_the_tensor() {
    let (json, weights) = model_seeds();
    let side = Path::new("fuzz.json");
    let path = Path::new("fuzz.safetensors");
    for (from, to) in [("\"latent\": 2", "\"latent\": 3"), ("128\n", "64\n")] {
        assert!(json.contains(from), "{from}");
        let text = json.replacen(from, to, 1);
        let meta = io::parse_meta(&text, side).expect("still a valid sidecar");
        let e = regression("model shape", || {
            io::from_parts(meta, &weights, path).map(|m| m.latent())
        });
        assert_mentions(
            "model shape",
            &e,
            &["fuzz.safetensors", "has shape", "expects"],
        );
    }
}

#[test]
fn model_regression_broken_sidecars_and_weights_say_which_file() {
    let (json, weights) = model_seeds();
    let side = Path::new("fuzz.json");
    let path = Path::new("fuzz.safetensors");
    let e = regression("sidecar cut", || {
        io::parse_meta(&json[..json.len() / 2], side)
    });
    assert_mentions(
        "sidecar cut",
        &e,
        &["fuzz.json", "not a Bottleneck model description"],
    );
    let e = regression("latent 0", || {
        io::parse_meta(&json.replacen("\"latent\": 2", "\"latent\": 0", 1), side)
            .and_then(|m| io::from_parts(m, &weights, path))
            .map(|m| m.latent())
    });
    assert_mentions("latent 0", &e, &["configuration"]);
    // The safetensors header's length word claiming 4 GiB, and the weights cut in half.
    let mut huge = weights.clone();
    huge[..8].copy_from_slice(&0xffff_ffffu64.to_le_bytes());
    for (what, bytes) in [
        ("huge header", huge),
        ("cut", weights[..weights.len() / 2].to_vec()),
    ] {
        let meta = io::parse_meta(&json, side).unwrap();
        let e = regression(what, || {
            io::from_parts(meta, &bytes, path).map(|m| m.latent())
        });
        assert_mentions(
            what,
            &e,
            &["fuzz.safetensors", "not a readable safetensors file"],
        );
    }
}

#[test]
fn settings_regression_hostile_training_values_fall_back_to_the_defaults() {
    let seeds = settings_seeds();
    let changed = &seeds[1];
    assert!(changed.contains("\"latent\": 16"));
    // A value that cannot be trained (latent 0): the rest is kept, training is reset.
    let s = Settings::parse(&changed.replacen("\"latent\": 16", "\"latent\": 0", 1)).unwrap();
    assert_eq!(s.train, Settings::default().train);
    assert!(s.compare, "the rest of the file is kept");
    // Values that are not numbers of the type at all: a parse error naming the place.
    for bad in ["-1", "1e309", "\"\\ud800\""] {
        let text = changed.replacen("\"latent\": 16", &format!("\"latent\": {bad}"), 1);
        let e = regression("settings", || Settings::parse(&text).map(|_| ()));
        assert_mentions("settings", &e, &["line"]);
    }
}

#[test]
fn csv_regression_a_row_one_value_too_long_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.csv");
    let row = |n: usize| {
        std::iter::once("3".to_string())
            .chain((0..n).map(|i| (i % 256).to_string()))
            .collect::<Vec<_>>()
            .join(",")
    };
    let text = format!("label,pixels\n{}\n{}\n{}\n", row(784), row(784), row(785));
    let e = regression("csv 786", || bottleneck::data::csv::parse(&text, &path));
    assert_mentions(
        "csv 786",
        &e,
        &["long.csv", "line 4: 786 values, expected 785"],
    );
    // One short, after a blank line and CRLF line ends: the line is still the file's own.
    let text = format!("{}\r\n\r\n{}\r\n", row(784), row(783));
    let e = regression("csv 784", || bottleneck::data::csv::parse(&text, &path));
    assert_mentions("csv 784", &e, &["line 3: 784 values, expected 785"]);
}

#[test]
fn csv_regression_hostile_cells_are_errors_naming_line_and_column() {
    let path = Path::new("cells.csv");
    let parse = |t: &str| regression(t, || bottleneck::data::csv::parse(t, path));
    for (text, parts) in [
        ("1,0,NaN,0,0\n", &["line 1, column 3", "outside 0–255"][..]),
        ("1,0,0,inf,0\n", &["line 1, column 4", "outside 0–255"]),
        ("1,0,0,0,1e40\n", &["line 1, column 5", "outside 0–255"]),
        ("-1,0,0,0,0\n", &["line 1, column 1", "label '-1'"]),
        ("256,0,0,0,0\n", &["line 1, column 1", "label '256'"]),
        // An unclosed quote runs to the end of the file: one long cell, not a number.
        (
            "1,\"0,0,0,0\n2,0,0,0,0\n",
            &["line 1, column 2", "is not a number"],
        ),
        ("1,0,0\n", &["line 1", "square"]),
        ("\u{feff}label,a,b,c,d\n", &["only a header"]),
        ("\u{feff}\r\n \n", &["no rows of data"]),
    ] {
        let e = parse(text);
        assert_mentions(text, &e, parts);
    }
}

#[test]
fn csv_regression_a_byte_order_mark_keeps_the_first_image_of_a_headerless_file() {
    let text = "\u{feff}7,0,255,0,0\r\n2,0,0,255,0\r\n";
    let c = bottleneck::data::csv::parse(text, Path::new("bom.csv")).unwrap();
    assert!(!c.header);
    assert_eq!(c.labels, vec![7, 2]);
}

#[test]
fn folder_regression_a_folder_of_no_pictures_says_so_and_names_a_skipped_file() {
    use bottleneck::data::{import, DatasetSource, ImportOptions};
    let dir = tempfile::tempdir().unwrap();
    let class = dir.path().join("cats");
    std::fs::create_dir_all(&class).unwrap();
    std::fs::write(class.join("empty.png"), b"").unwrap();
    std::fs::write(class.join("notes.png"), b"not a picture").unwrap();
    let source = DatasetSource::Dir(dir.path().to_path_buf());
    let e = regression("no pictures", || {
        import::load(&source, &ImportOptions::default(), None).map(|i| i.dataset.train.len())
    });
    assert_mentions(
        "no pictures",
        &e,
        &["no picture Bottleneck can read", "skipped"],
    );
}

/// `pickle` as the `data.pkl` of the fixture `torch_conv.pt`, imported; the error.
fn torch_pickle_case(name: &str, pickle: &[u8]) -> String {
    let mut e = unzip_stored(&std::fs::read(exchange_path("torch_conv.pt")).unwrap());
    for (n, b) in &mut e {
        if n.ends_with("data.pkl") {
            *b = pickle.to_vec();
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{name}.pt"));
    std::fs::write(&path, zip_stored(&e)).unwrap();
    regression(name, || import(&path, &ImportOptions::default()))
}

#[test]
fn torch_regression_a_string_claiming_4_gb_ends_early() {
    let e = torch_pickle_case("huge-string", b"\x80\x02X\xff\xff\xff\xffabc.");
    assert_mentions("huge string", &e, &["huge-string.pt", "ends early"]);
}

#[test]
fn torch_regression_memo_doubling_stays_small() {
    // Each round makes a pair of the previous object twice: 2^60 leaves if copied.
    let mut p = b"\x80\x02]q\x00".to_vec();
    for _ in 0..60 {
        p.extend(b"h\x00h\x00\x86q\x00");
    }
    p.push(b'.');
    let e = torch_pickle_case("doubling", &p);
    assert_mentions(
        "doubling",
        &e,
        &["doubling.pt", "does not hold a state dict"],
    );
}

#[test]
fn torch_regression_deep_nesting_does_not_overflow() {
    let mut p = b"\x80\x02N".to_vec();
    p.extend(std::iter::repeat_n(0x85u8, 500_000)); // TUPLE1
    p.push(b'.');
    let e = torch_pickle_case("nested", &p);
    assert_mentions("nested", &e, &["nested.pt", "does not hold a state dict"]);
}

#[test]
fn torch_regression_a_whole_module_says_to_save_the_state_dict() {
    let e = torch_pickle_case("module", b"\x80\x02c__main__\nNet\nq\x00)\x81q\x01}q\x02b.");
    assert_mentions(
        "module",
        &e,
        &["whole pickled nn.Module (__main__.Net)", "state_dict()"],
    );
}

#[test]
fn torch_regression_a_storage_shorter_than_it_claims() {
    let mut e = unzip_stored(&std::fs::read(exchange_path("torch_conv.pt")).unwrap());
    for (n, b) in &mut e {
        if n.ends_with("data/4") {
            b.truncate(100);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("short.pt");
    std::fs::write(&path, zip_stored(&e)).unwrap();
    let e = regression("short storage", || import(&path, &ImportOptions::default()));
    assert_mentions(
        "short storage",
        &e,
        &["short.pt", "encoder.5.weight", "shorter"],
    );
}

#[test]
fn torch_regression_a_safetensors_shape_of_2_pow_64() {
    let header =
        r#"{"w.weight":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}}"#;
    let mut st = (header.len() as u64).to_le_bytes().to_vec();
    st.extend(header.as_bytes());
    st.extend([0u8; 16]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.safetensors");
    std::fs::write(&path, st).unwrap();
    let e = regression("huge shape", || import(&path, &ImportOptions::default()));
    assert_mentions(
        "huge shape",
        &e,
        &["huge.safetensors", "not a valid safetensors"],
    );
}

/// The fixture `keras_dense_encoder.keras` with `edit` applied to its config.json, imported
/// with its decoder; the error.
fn keras_config_case(name: &str, edit: impl Fn(&str) -> String) -> String {
    let mut e = unzip_stored(&std::fs::read(exchange_path("keras_dense_encoder.keras")).unwrap());
    for (n, b) in &mut e {
        if n == "config.json" {
            *b = edit(std::str::from_utf8(b).unwrap()).into_bytes();
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{name}.keras"));
    std::fs::write(&path, zip_stored(&e)).unwrap();
    let options = ImportOptions {
        decoder: Some(exchange_path("keras_dense_decoder.keras")),
        ..ImportOptions::default()
    };
    regression(name, || import(&path, &options))
}

#[test]
fn keras_regression_a_conv_layer_is_refused_with_the_reason() {
    let e = keras_config_case("conv", |c| c.replacen("\"Dense\"", "\"Conv2D\"", 1));
    assert_mentions(
        "conv",
        &e,
        &["conv.keras", "Conv2D", "expected Dense", "'same' padding"],
    );
}

#[test]
fn keras_regression_a_layer_without_weights_names_its_path() {
    // Four Dense layers in the config, three in the HDF5 file.
    let e = keras_config_case("extra", |c| {
        let v: serde_json::Value = serde_json::from_str(c).unwrap();
        let mut v = v;
        let layers = v["config"]["layers"].as_array_mut().unwrap();
        let last = layers.last().unwrap().clone();
        layers.push(last);
        v.to_string()
    });
    assert_mentions("extra", &e, &["extra.keras", "/layers/dense_3/vars/0"]);
}
