//! Reading a plan: the only place the runtime touches the plan file.
//!
//! The plan is the compiler's output and is executed as written, so loading
//! only refuses what cannot be run here: a format this build does not know,
//! a plan compiled for another host, or a password file that cannot be read.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use vigil_schema::plan::{PLAN_FORMAT_VERSION, Plan};

/// Why a plan cannot be run.
#[derive(Debug)]
pub enum PlanError {
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    Json {
        path: PathBuf,
        error: serde_json::Error,
    },
    FormatVersion {
        path: PathBuf,
        found: u32,
    },
    WrongHost {
        path: PathBuf,
        plan_host: String,
        this_host: String,
    },
    Password {
        router: String,
        path: String,
        reason: String,
    },
    /// Values no compiler writes ([`Plan::problems`]).
    Invalid {
        path: PathBuf,
        problems: Vec<String>,
    },
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::Read { path, error } => {
                write!(f, "cannot read plan {}: {error}", path.display())
            }
            PlanError::Json { path, error } => {
                write!(f, "plan {} is not a valid plan: {error}", path.display())
            }
            PlanError::FormatVersion { path, found } => write!(
                f,
                "plan {} has format_version {found}, this vigild reads format_version {PLAN_FORMAT_VERSION}; \
                 rebuild the plan with a matching `vigil build` or run a matching vigild",
                path.display()
            ),
            PlanError::WrongHost {
                path,
                plan_host,
                this_host,
            } => write!(
                f,
                "plan {} is for host `{plan_host}` but this host is `{this_host}`; \
                 install the plan built for `{this_host}` or pass --host {plan_host} if the host name is wrong",
                path.display()
            ),
            PlanError::Invalid { path, problems } => write!(
                f,
                "plan {} is not a valid plan: {}; rebuild it with `vigil build`",
                path.display(),
                problems.join("; ")
            ),
            PlanError::Password {
                router,
                path,
                reason,
            } => {
                write!(f, "router `{router}`: password file {path}: {reason}")
            }
        }
    }
}

impl std::error::Error for PlanError {}

/// A plan ready to run, with its secrets read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadedPlan {
    pub plan: Plan,
    /// VRRPv2 passwords by router name (at most 8 bytes).
    pub passwords: BTreeMap<String, Vec<u8>>,
}

/// Parses and checks plan text; `this_host` is compared with `plan.host`
/// unless `None` (used by `--check-plan`, which may run on a build machine).
pub fn parse_plan(
    path: &Path,
    text: &str,
    this_host: Option<&str>,
) -> Result<LoadedPlan, PlanError> {
    // Check the version before the full parse: a newer format may have
    // fields this build would reject with a less helpful message.
    let version = serde_json::from_str::<serde_json::Value>(text)
        .map_err(|error| PlanError::Json {
            path: path.into(),
            error,
        })?
        .get("format_version")
        .and_then(|v| v.as_u64());
    if let Some(v) = version {
        if v != u64::from(PLAN_FORMAT_VERSION) {
            return Err(PlanError::FormatVersion {
                path: path.into(),
                found: u32::try_from(v).unwrap_or(u32::MAX),
            });
        }
    }
    let plan: Plan = serde_json::from_str(text).map_err(|error| PlanError::Json {
        path: path.into(),
        error,
    })?;
    if let Some(host) = this_host {
        if plan.host != host {
            return Err(PlanError::WrongHost {
                path: path.into(),
                plan_host: plan.host,
                this_host: host.into(),
            });
        }
    }
    let problems = plan.problems();
    if !problems.is_empty() {
        return Err(PlanError::Invalid {
            path: path.into(),
            problems,
        });
    }
    let mut passwords = BTreeMap::new();
    for r in &plan.routers {
        if let Some(auth) = &r.auth {
            passwords.insert(r.name.clone(), read_password(&r.name, &auth.password_file)?);
        }
    }
    Ok(LoadedPlan { plan, passwords })
}

/// Reads and checks a plan file.
pub fn load_plan(path: &Path, this_host: Option<&str>) -> Result<LoadedPlan, PlanError> {
    let text = std::fs::read_to_string(path).map_err(|error| PlanError::Read {
        path: path.into(),
        error,
    })?;
    parse_plan(path, &text, this_host)
}

/// Reads a VRRPv2 password: at most 8 bytes, one trailing newline ignored.
fn read_password(router: &str, path: &str) -> Result<Vec<u8>, PlanError> {
    let err = |reason: String| PlanError::Password {
        router: router.into(),
        path: path.into(),
        reason,
    };
    let mut bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
    if bytes.is_empty() {
        return Err(err("the password is empty".into()));
    }
    if bytes.len() > 8 {
        return Err(err(format!(
            "the password has {} bytes; VRRPv2 allows at most 8",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// This host's name: `--host` if given, else the kernel's host name.
pub fn this_host(flag: Option<&str>) -> Result<String, String> {
    if let Some(h) = flag {
        return Ok(h.to_string());
    }
    nix::unistd::gethostname()
        .map_err(|e| format!("cannot read the host name: {e}; pass --host NAME"))?
        .into_string()
        .map_err(|_| "the host name is not UTF-8; pass --host NAME".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_json(version: u32, host: &str, auth: Option<&str>) -> String {
        let auth = match auth {
            Some(p) => format!("{{\"password_file\":\"{p}\"}}"),
            None => "null".into(),
        };
        format!(
            r#"{{"format_version":{version},"compiler_version":"0.1.0","topology_hash":"abc","host":"{host}",
            "cluster":"c","startup_delay_ms":0,"sync_groups":[],"virtual_servers":[],
            "routers":[{{"name":"r1","interface":"eth0","family":"ipv4","version":2,"vrid":7,"priority":100,
            "advert_interval_cs":100,"advert_interval_min_cs":100,"advert_interval_max_cs":100,
            "preempt":true,"preempt_delay_ms":0,"accept":false,"owner":false,"source_address":"10.0.0.1",
            "unicast_peers":[],"peers":[],"vips":[{{"address":"10.0.0.100","prefix_len":24,"label":null}}],
            "auth":{auth},"arbitration":null,"heartbeat_paths":[],"trackers":[],
            "notify":{{"master":null,"backup":null,"fault":null,"stop":null,"any":null,"timeout_ms":1000}},
            "garp":{{"repeat":5,"interval_ms":0,"refresh_ms":0}},"expected_role":"backup","sync_group":null}}]}}"#
        )
    }

    #[test]
    fn accepts_own_plan_and_refuses_others() {
        let p = Path::new("p.json");
        assert!(parse_plan(p, &plan_json(PLAN_FORMAT_VERSION, "a", None), Some("a")).is_ok());
        assert!(parse_plan(p, &plan_json(PLAN_FORMAT_VERSION, "a", None), None).is_ok());
        let e = parse_plan(p, &plan_json(PLAN_FORMAT_VERSION, "a", None), Some("b")).unwrap_err();
        assert!(
            e.to_string()
                .contains("is for host `a` but this host is `b`"),
            "{e}"
        );
        let e =
            parse_plan(p, &plan_json(PLAN_FORMAT_VERSION + 1, "a", None), Some("a")).unwrap_err();
        assert!(matches!(e, PlanError::FormatVersion { .. }), "{e}");
        assert!(matches!(
            parse_plan(p, "{", None),
            Err(PlanError::Json { .. })
        ));
    }

    #[test]
    fn refuses_values_no_compiler_writes() {
        let p = Path::new("p.json");
        let good = plan_json(PLAN_FORMAT_VERSION, "a", None);
        let v4 = good.replace(r#""version":2"#, r#""version":4"#);
        assert_ne!(v4, good);
        let e = parse_plan(p, &v4, None).unwrap_err().to_string();
        assert!(e.contains("VRRP version 2 or 3"), "{e}");
        let sched = good.replace(
            r#""virtual_servers":[]"#,
            r#""virtual_servers":[{"name":"w","family":"ipv4","protocol":"tcp","address":"10.0.0.100","port":80,"fwmark":null,"scheduler":"fastest","scheduler_flags":[],"method":"dr","persistence_timeout_s":0,"persistence_prefix_len":32,"quorum":null,"hysteresis":0,"sorry_server":null,"on_fail":"inhibit","only_on_master_of":null,"keep_on_stop":false,"health":null,"real_servers":[]}]"#,
        );
        assert_ne!(sched, good);
        let e = parse_plan(p, &sched, None).unwrap_err().to_string();
        assert!(e.contains("unknown variant `fastest`"), "{e}");
        let arb = good.replace(
            r#""arbitration":null"#,
            r#""arbitration":{"reference_ips":["10.0.0.254"],"interval_ms":0,"timeout_ms":500,"attempts":3,"release_after_ms":3000,"fence":null,"self_fence":null}"#,
        );
        assert_ne!(arb, good);
        let e = parse_plan(p, &arb, None).unwrap_err().to_string();
        assert!(
            e.contains("router `r1`: arbitration interval_ms is 0 (at least 1)"),
            "{e}"
        );
        let ok = arb.replace(r#""interval_ms":0"#, r#""interval_ms":1000"#);
        assert!(parse_plan(p, &ok, None).is_ok());
        let lease = good.replace(
            r#""arbitration":null"#,
            r#""arbitration":null,"lease":{"endpoints":[],"key":"/vigil/c/r1","holder":"a","ttl_ms":3000,"keepalive_interval_ms":500,"request_timeout_ms":500,"release_margin_ms":3000,"acquire_delay_ms":0}"#,
        );
        assert_ne!(lease, good);
        let e = parse_plan(p, &lease, None).unwrap_err().to_string();
        assert!(e.contains("router `r1`: lease endpoints is empty"), "{e}");
        assert!(e.contains("must be below ttl_ms 3000"), "{e}");
        let ok = lease
            .replace(r#""endpoints":[]"#, r#""endpoints":["10.0.9.1:2379"]"#)
            .replace(r#""release_margin_ms":3000"#, r#""release_margin_ms":500"#);
        assert!(parse_plan(p, &ok, None).is_ok());
    }

    #[test]
    fn reads_password_files() {
        let dir = std::env::temp_dir().join(format!("vigild-pw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ok = dir.join("ok");
        std::fs::write(&ok, "secret\n").unwrap();
        let long = dir.join("long");
        std::fs::write(&long, "123456789").unwrap();
        let p = Path::new("p.json");
        let l = parse_plan(p, &plan_json(1, "a", Some(ok.to_str().unwrap())), Some("a")).unwrap();
        assert_eq!(l.passwords["r1"], b"secret");
        let e = parse_plan(
            p,
            &plan_json(1, "a", Some(long.to_str().unwrap())),
            Some("a"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("at most 8"), "{e}");
        let e = parse_plan(p, &plan_json(1, "a", Some("/nonexistent/pw")), Some("a")).unwrap_err();
        assert!(matches!(e, PlanError::Password { .. }));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
