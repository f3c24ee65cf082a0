//! The fuzzing harness of tests/fuzz.rs: the allocation watch (the largest single allocation
//! of a case), byte and JSON mutations drawn from `arbitrary::Unstructured`, the driver that
//! runs a target for `CI_CASES` cases or `FUZZ_SECONDS`, and the regression check.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use arbitrary::Unstructured;
use rand::{RngCore, SeedableRng};

/// Cases per target in the normal test run.
pub const CI_CASES: usize = 2000;
/// The largest single allocation a parser may ask for while reading a fuzzed input (inputs
/// are at most a few MB; the real limits are far below this).
pub const MAX_ALLOC: usize = 600 << 20;

/// Counts the largest allocation request of the process (reset per case).
struct Watch;

pub static LARGEST: AtomicUsize = AtomicUsize::new(0);

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
pub fn mutate_once(u: &mut Unstructured, data: &mut Vec<u8>) -> arbitrary::Result<()> {
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
pub fn mutate_json(u: &mut Unstructured, text: &mut String) -> arbitrary::Result<()> {
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
pub fn mutated(u: &mut Unstructured, seeds: &[Vec<u8>]) -> arbitrary::Result<Vec<u8>> {
    let mut data = seeds[u.choose_index(seeds.len())?].clone();
    for _ in 0..u.int_in_range(1..=8)? {
        mutate_once(u, &mut data)?;
    }
    Ok(data)
}

/// A mutated copy of one of the JSON `seeds`: hostile values, and sometimes byte changes.
pub fn mutated_json(u: &mut Unstructured, seeds: &[String]) -> arbitrary::Result<String> {
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

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

// ---------------------------------------------------------------- the driver

/// Runs `case` on inputs drawn from seeded random bytes: `CI_CASES` times, or for
/// `FUZZ_SECONDS` when `long`; one case only with `FUZZ_SEED`.
pub fn drive(name: &str, long: bool, case: impl Fn(&mut Unstructured) -> bool) {
    let seconds: Option<f64> = long.then(|| {
        std::env::var("FUZZ_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(10.0)
    });
    let replay: Option<u64> = std::env::var("FUZZ_SEED").ok().and_then(|s| s.parse().ok());
    let trace = std::env::var_os("FUZZ_TRACE").is_some();
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
        if trace {
            // The last seed printed names a case that hangs or exhausts memory.
            eprintln!("fuzz {name}: FUZZ_SEED={seed}");
        }
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

/// Runs `case` under the same watch as a fuzz case: no panic, no allocation above
/// [`MAX_ALLOC`]; returns its error message.
pub fn regression<T: std::fmt::Debug, E: std::fmt::Display>(
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

pub fn assert_mentions(name: &str, message: &str, parts: &[&str]) {
    for p in parts {
        assert!(
            message.contains(p),
            "{name}: '{message}' does not say '{p}'"
        );
    }
}
