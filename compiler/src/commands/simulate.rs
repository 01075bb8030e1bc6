//! `vigil simulate TOPOLOGY... [--scenario FILE] [--fail SPEC [--at T] [--for D]]...
//! [--cut SPEC [--at T] [--for D]]... [--format human|json]`

use std::io::Write;
use std::path::PathBuf;

use vigil_schema::units::Duration as Written;
use vigild::sim::Sim;

use crate::plan::emit_plans;
use crate::simulate::scenario::{CliFault, ScenarioFile, prepare};
use crate::simulate::{report, sim_topology};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimulateArgs {
    pub paths: Vec<PathBuf>,
    pub scenario: Option<PathBuf>,
    pub faults: Vec<CliFault>,
    pub json: bool,
    pub seed: Option<u64>,
    pub duration: Option<Written>,
    pub max_outage: Option<Written>,
    /// Only these routers in the timeline (all when empty).
    pub routers: Vec<String>,
}

/// Exit status: 0 the verdict holds, 1 a double holder, an outage above
/// the bound or a broken invariant, 2 usage errors, unreadable or invalid
/// topology or scenario.
pub fn run(args: &SimulateArgs) -> u8 {
    let mut stderr = std::io::stderr().lock();
    let file = match &args.scenario {
        Some(path) => match ScenarioFile::read(path) {
            Ok(f) => Some(f),
            Err(e) => {
                let _ = writeln!(stderr, "error: {e}");
                return 2;
            }
        },
        None => None,
    };
    let mut paths = args.paths.clone();
    if paths.is_empty()
        && let (Some(f), Some(path)) = (&file, &args.scenario)
    {
        paths = f.topology_paths(path);
    }
    if paths.is_empty() {
        let _ = writeln!(
            stderr,
            "error: `simulate` needs topology files (or a scenario that names them with `topology = [...]`)"
        );
        return 2;
    }
    drop(stderr);
    let analysis = match super::error_free(&paths, false, "nothing was simulated") {
        Ok(a) => a,
        Err(_) => return 2,
    };
    let mut stderr = std::io::stderr().lock();
    let Some(cluster) = &analysis.cluster else {
        return 2;
    };
    let plans = match emit_plans(cluster) {
        Ok(p) => p,
        Err(e) => {
            let _ = writeln!(stderr, "error: {e}");
            return 2;
        }
    };
    for r in &args.routers {
        if !cluster.routers.contains_key(r) {
            let known: Vec<&str> = cluster.routers.keys().map(String::as_str).collect();
            let _ = writeln!(
                stderr,
                "error: no router `{r}` in the topology (routers: {})",
                known.join(", ")
            );
            return 2;
        }
    }
    let topo = sim_topology(cluster, &plans);
    let prepared = match prepare(
        file.as_ref(),
        &args.faults,
        cluster,
        &topo,
        args.seed,
        args.duration,
        args.max_outage,
    ) {
        Ok(p) => p,
        Err(e) => {
            let _ = writeln!(stderr, "error: {e}");
            return 2;
        }
    };
    let mut sim = match Sim::new(topo, prepared.scenario, prepared.seed) {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(stderr, "error: {e}");
            return 2;
        }
    };
    sim.stop_at_violation = false;
    // Violations are recorded and reported; the run goes on.
    let _ = sim.run();
    let report = report::build(
        &sim,
        cluster,
        prepared.description,
        prepared.max_outage,
        &args.routers,
    );
    let mut stdout = std::io::stdout().lock();
    let text = if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(j) => j + "\n",
            Err(e) => {
                let _ = writeln!(stderr, "error: {e}");
                return 2;
            }
        }
    } else {
        report::human(&report)
    };
    let _ = stdout.write_all(text.as_bytes());
    if report.verdict.ok { 0 } else { 1 }
}
