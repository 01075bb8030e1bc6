//! Replay tests: each directory under `tests/replay/` is one scenario.
//!
//! * `plan.json`: `{ "startup_delay_ms", "password", "router": <PlanRouter> }`;
//! * `input.jsonl`: one step per line, `{"at_us": N, ...}` with one of
//!   - `"input": <Input>` fed as is,
//!   - `"advert": {"ip": <IpMeta>, "repr": <wire Repr>}` emitted to bytes,
//!   - `"packet": {"ip": <IpMeta>, "hex": "..."}` raw bytes,
//!
//!   the last two going through `rx::decode` and `Router::classify` exactly
//!   as the I/O shell does;
//! * `expected.jsonl`: per step the input the router saw, its state after and
//!   every action, then one line with the final counters.
//!
//! `VIGIL_UPDATE_GOLDENS=1 cargo test -p vigild --test replay` rewrites the
//! expected files; review the diff before committing.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use vigil_schema::plan::PlanRouter;
use vigild::vrrp::{
    Action, Input, Instant, Received, Router, RouterConfig, RxError, State, Stats, rx,
};
use vigild::wire::IpMeta;
use vigild::wire::vrrp::Repr;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CasePlan {
    startup_delay_ms: u64,
    password: Option<String>,
    router: PlanRouter,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    at_us: u64,
    #[serde(flatten)]
    what: What,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum What {
    Input(Input),
    Advert { ip: IpMeta, repr: Repr },
    Packet { ip: IpMeta, hex: String },
}

#[derive(Serialize)]
struct Record<'a> {
    at_us: u64,
    input: &'a Input,
    state: State,
    actions: &'a [Action],
}

#[derive(Serialize)]
struct Final<'a> {
    final_state: State,
    stats: &'a Stats,
}

fn password(p: &str) -> [u8; 8] {
    let mut out = [0u8; 8];
    let b = p.as_bytes();
    assert!(b.len() <= 8, "password longer than 8 bytes");
    out[..b.len()].copy_from_slice(b);
    out
}

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

fn run_case(dir: &Path) -> String {
    let plan: CasePlan =
        serde_json::from_str(&fs::read_to_string(dir.join("plan.json")).expect("plan.json"))
            .expect("plan.json parses");
    let config = RouterConfig::from_plan(&plan.router, plan.startup_delay_ms)
        .expect("plan router is runnable");
    let mut router = Router::new(config, plan.password.as_deref().map(password));
    let mut out = String::new();
    let mut last_at = 0;
    for (n, line) in fs::read_to_string(dir.join("input.jsonl"))
        .expect("input.jsonl")
        .lines()
        .enumerate()
    {
        if line.trim().is_empty() {
            continue;
        }
        let step: Step = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{}:{}: {e}", dir.display(), n + 1));
        assert!(
            step.at_us >= last_at,
            "{}:{}: time goes backwards",
            dir.display(),
            n + 1
        );
        last_at = step.at_us;
        let input = match step.what {
            What::Input(i) => i,
            What::Advert { ip, repr } => classify(
                &router,
                &ip,
                &repr.to_bytes(ip.src, ip.dst).expect("emittable"),
            ),
            What::Packet { ip, hex } => classify(&router, &ip, &unhex(&hex)),
        };
        let actions = router.handle(input.clone(), Instant(step.at_us));
        let rec = Record {
            at_us: step.at_us,
            input: &input,
            state: router.state(),
            actions: &actions,
        };
        out.push_str(&serde_json::to_string(&rec).unwrap());
        out.push('\n');
    }
    out.push_str(
        &serde_json::to_string(&Final {
            final_state: router.state(),
            stats: router.stats(),
        })
        .unwrap(),
    );
    out.push('\n');
    out
}

/// What the shell does with a received packet for this router's interface.
fn classify(router: &Router, ip: &IpMeta, bytes: &[u8]) -> Input {
    match rx::decode(ip, bytes) {
        Received::Advert(repr) if repr.vrid == router.config().vrid => router.classify(ip, &repr),
        Received::Advert(_) => Input::RxError {
            reason: RxError::UnknownVrid,
        },
        Received::Error { reason, .. } => Input::RxError { reason },
    }
}

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/replay");
    let mut dirs: Vec<PathBuf> = fs::read_dir(&root)
        .expect("tests/replay exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("input.jsonl").exists())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn replay_cases_match_goldens() {
    let update = std::env::var_os("VIGIL_UPDATE_GOLDENS").is_some_and(|v| v == "1");
    let dirs = cases();
    assert!(
        dirs.len() >= 10,
        "replay cases missing: found {}",
        dirs.len()
    );
    let mut failures = Vec::new();
    for dir in dirs {
        let got = run_case(&dir);
        let path = dir.join("expected.jsonl");
        if update {
            fs::write(&path, &got).unwrap();
            continue;
        }
        let want = fs::read_to_string(&path).unwrap_or_default();
        if got != want {
            let line = got
                .lines()
                .zip(want.lines())
                .position(|(a, b)| a != b)
                .map_or_else(
                    || {
                        format!(
                            "length differs ({} vs {} lines)",
                            got.lines().count(),
                            want.lines().count()
                        )
                    },
                    |i| {
                        format!(
                            "line {}:\n  got:  {}\n  want: {}",
                            i + 1,
                            got.lines().nth(i).unwrap(),
                            want.lines().nth(i).unwrap()
                        )
                    },
                );
            failures.push(format!("{}: {line}", dir.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "replay mismatches (VIGIL_UPDATE_GOLDENS=1 to accept):\n{}",
        failures.join("\n")
    );
}
