//! `vigild`: run a compiled plan (foreground, logs on stderr), or check one.
//!
//! ```text
//! vigild --plan FILE [--host NAME]   run (host name defaults to the system's)
//! vigild --check-plan FILE           validate and print a summary; exit 0 or 1
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use vigild::event_loop::Daemon;
use vigild::plan_load::{load_plan, this_host};
use vigild::vrrp::RouterConfig;

const USAGE: &str = "usage: vigild --plan FILE [--host NAME] [--control-socket PATH] [--state-dir DIR] [--record FILE]\n       vigild --check-plan FILE\n       vigild status [--socket PATH] [--json]";

enum Mode {
    Run {
        plan: PathBuf,
        host: Option<String>,
        control: PathBuf,
        state_dir: Option<PathBuf>,
        record: Option<PathBuf>,
    },
    Check {
        plan: PathBuf,
    },
}

fn parse_args() -> Result<Mode, String> {
    let mut args = std::env::args().skip(1);
    let mut plan = None;
    let mut check = None;
    let mut host = None;
    let mut control = PathBuf::from(vigild::control::DEFAULT_SOCKET);
    let mut state_dir = None;
    let mut record = None;
    while let Some(a) = args.next() {
        let mut value = |flag: &str| args.next().ok_or_else(|| format!("{flag} needs a value"));
        match a.as_str() {
            "--plan" => plan = Some(PathBuf::from(value("--plan")?)),
            "--check-plan" => check = Some(PathBuf::from(value("--check-plan")?)),
            "--host" => host = Some(value("--host")?),
            "--control-socket" => control = PathBuf::from(value("--control-socket")?),
            "--state-dir" => state_dir = Some(PathBuf::from(value("--state-dir")?)),
            "--record" => record = Some(PathBuf::from(value("--record")?)),
            "--help" | "-h" => return Err(String::new()),
            "--version" | "-V" => {
                println!("vigild {}", env!("CARGO_PKG_VERSION"));
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    match (plan, check) {
        (Some(plan), None) => Ok(Mode::Run {
            plan,
            host,
            control,
            state_dir,
            record,
        }),
        (None, Some(plan)) => Ok(Mode::Check { plan }),
        (Some(_), Some(_)) => Err("use either --plan or --check-plan".into()),
        (None, None) => Err("--plan FILE or --check-plan FILE is required".into()),
    }
}

fn check(plan: PathBuf) -> ExitCode {
    let loaded = match load_plan(&plan, None) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("vigild: {e}");
            return ExitCode::FAILURE;
        }
    };
    let p = &loaded.plan;
    let mut ok = true;
    println!(
        "plan {} for host {} (cluster {}, topology {})",
        plan.display(),
        p.host,
        p.cluster,
        p.topology_hash
    );
    println!(
        "startup delay {} ms, {} router(s), {} virtual server(s)",
        p.startup_delay_ms,
        p.routers.len(),
        p.virtual_servers.len()
    );
    for r in &p.routers {
        let vips: Vec<String> = r
            .vips
            .iter()
            .map(|v| format!("{}/{}", v.address, v.prefix_len))
            .collect();
        let mode = if r.unicast_peers.is_empty() {
            "multicast".to_string()
        } else {
            format!("unicast to {}", r.unicast_peers.len())
        };
        match RouterConfig::from_plan(r, p.startup_delay_ms) {
            Ok(_) => println!(
                "  router {}: {} {:?} VRRPv{} vrid {} priority {} interval {} cs, {mode}, preempt {}, vips {}",
                r.name,
                r.interface,
                r.family,
                r.version,
                r.vrid,
                r.priority,
                r.advert_interval_cs,
                r.preempt,
                vips.join(" ")
            ),
            Err(e) => {
                ok = false;
                println!("  router {}: INVALID: {e}", r.name);
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn run(
    plan: PathBuf,
    host: Option<String>,
    control: PathBuf,
    state_dir: Option<PathBuf>,
    record: Option<PathBuf>,
) -> ExitCode {
    let host = match this_host(host.as_deref()) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("vigild: {e}");
            return ExitCode::FAILURE;
        }
    };
    let loaded = match load_plan(&plan, Some(&host)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("vigild: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The ledger lives next to the status socket unless told otherwise
    // (the unit's runtime directory, /run/vigild, which a reboot clears
    // together with the kernel state it describes).
    let state_dir = state_dir.unwrap_or_else(|| {
        control
            .parent()
            .map_or_else(|| PathBuf::from("."), PathBuf::from)
    });
    let mut daemon = match Daemon::start(&plan, &host, loaded, &state_dir, record.as_deref()) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("vigild: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    daemon.listen_control(&control);
    match daemon.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vigild: event loop failed: {e}");
            daemon.shutdown();
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("status") {
        return vigild::control::client::main(&args[1..]);
    }
    match parse_args() {
        Ok(Mode::Run {
            plan,
            host,
            control,
            state_dir,
            record,
        }) => run(plan, host, control, state_dir, record),
        Ok(Mode::Check { plan }) => check(plan),
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("vigild: {msg}");
            }
            eprintln!("{USAGE}");
            if msg.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            }
        }
    }
}
