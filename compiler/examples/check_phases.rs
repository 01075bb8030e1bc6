//! Where `vigil check` spends time and memory on one topology, phase by
//! phase: load (read + TOML parse), resolve, each lint that takes 5 ms or
//! more, all lints. Resident and peak memory are read from /proc (Linux).
//!
//!   cargo run --release -p vigil --example check_phases -- TOPOLOGY.toml
//!
//! A profiling aid for bench/check-large.sh (see docs/benchmarks.md).

use std::time::Instant;

fn memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or("?".to_string(), |kb| format!("{} MiB", kb / 1024))
    };
    format!("rss {}, peak {}", field("VmRSS:"), field("VmHWM:"))
}

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: check_phases TOPOLOGY.toml");
        std::process::exit(2);
    };
    let t = Instant::now();
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let size = bytes.len();
    let mut loaded = vigil::load::Loaded::default();
    loaded.add_bytes(&path, bytes);
    println!(
        "load     {:>8.1?}  {}  ({size} bytes)",
        t.elapsed(),
        memory()
    );
    let t = Instant::now();
    let cluster = vigil::resolve::resolve(&loaded.files);
    println!("resolve  {:>8.1?}  {}", t.elapsed(), memory());
    let t = Instant::now();
    let mut count = 0;
    for lint in vigil::lints::ALL {
        let start = Instant::now();
        count += (lint.check)(lint, &cluster).len();
        let took = start.elapsed();
        if took.as_millis() >= 5 {
            println!("  {:<32} {took:>8.1?}", lint.name);
        }
    }
    println!(
        "lints    {:>8.1?}  {}  ({count} diagnostics)",
        t.elapsed(),
        memory()
    );
}
