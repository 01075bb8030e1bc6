//! `gen-topology HOSTS ROUTERS`: print a large, clean synthetic topology on
//! standard output (see `vigil_bench::generate` for its shape).

use std::io::Write;
use std::process::ExitCode;

use vigil_bench::{Shape, generate};

const USAGE: &str = "usage: gen-topology HOSTS ROUTERS > topology.toml";

fn parse_count(arg: Option<String>, what: &str) -> Result<usize, String> {
    let arg = arg.ok_or_else(|| format!("missing {what}\n{USAGE}"))?;
    arg.parse()
        .map_err(|_| format!("{what} must be a whole number, got `{arg}`\n{USAGE}"))
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let hosts = parse_count(args.next(), "HOSTS")?;
    let routers = parse_count(args.next(), "ROUTERS")?;
    if let Some(extra) = args.next() {
        return Err(format!("unexpected argument `{extra}`\n{USAGE}"));
    }
    let text = generate(Shape { hosts, routers })?;
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(|e| format!("cannot write the topology: {e}"))
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("gen-topology: {message}");
            ExitCode::FAILURE
        }
    }
}
