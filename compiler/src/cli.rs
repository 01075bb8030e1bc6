//! Command-line parsing and dispatch (hand-rolled: a handful of
//! subcommands and flags). To add a subcommand, add a [`Command`] variant,
//! its parsing in [`parse`], a line in [`USAGE`], and a module in
//! `commands/`.

use std::path::PathBuf;

use crate::commands::{
    self, build::BuildArgs, check::CheckArgs, import::ImportArgs, plan_show::PlanShowArgs,
    simulate::SimulateArgs,
};
use crate::render::Format;
use crate::simulate::scenario::{CliFault, CliFaultKind};

pub const USAGE: &str = "\
vigil: lints a cluster-wide HA topology (VRRP, IPVS) and emits per-host plans

Usage:
  vigil check FILE|DIR... [--format human|json|github|sarif|concise] [--deny warnings]
  vigil check --keepalived HOST=FILE...|DIR [--segment NAME=CIDR]... [--cluster NAME]
              [--format ...] [--deny warnings]
                              lint a fleet of keepalived.conf files (DIR: one
                              HOST/keepalived.conf or HOST.conf per host)
  vigil import HOST=FILE...|DIR [--segment NAME=CIDR]... [--cluster NAME] [--out FILE]
                              write the fleet's equivalent topology TOML
                              (docs/migrating-from-keepalived.md)
  vigil build TOPOLOGY... --out DIR [--templates DIR] [--check]
                              write every host's plan and artifacts to DIR
                              (--check: exit 1 when DIR is stale instead)
  vigil plan show HOST TOPOLOGY...
                              summarise one host's plan
  vigil simulate [TOPOLOGY...] [--scenario FILE] [--fail SPEC [--at T] [--for D]]...
                 [--cut SPEC [--at T] [--for D]]... [--duration D] [--max-outage D]
                 [--seed N] [--router NAME]... [--format human|json]
                              run the plans in a simulated cluster under faults;
                              print who holds each VIP when, and a verdict
                              (docs/simulate.md)
  vigil lints                 list every lint
  vigil explain CODE|NAME     explain a lint (e.g. `vigil explain V0101`)
  vigil schema                print the topology JSON Schema
  vigil --help | --version

check exits 0 when clean, 1 on errors (or warnings with --deny warnings),
2 on usage errors or unreadable files. A directory stands for its *.toml files.
simulate exits 0 when the verdict holds, 1 on a double holder, an outage above
the bound or a broken invariant, 2 on usage errors or an invalid topology or scenario.
";

/// A parsed command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Check(CheckArgs),
    Import(ImportArgs),
    Build(BuildArgs),
    PlanShow(PlanShowArgs),
    Simulate(SimulateArgs),
    Lints,
    Explain(String),
    Schema,
    Help,
    Version,
}

/// Parses arguments (without the program name).
pub fn parse(args: &[String]) -> Result<Command, String> {
    let Some((first, rest)) = args.split_first() else {
        return Err("no command given".into());
    };
    match first.as_str() {
        "-h" | "--help" | "help" => Ok(Command::Help),
        "-V" | "--version" => Ok(Command::Version),
        "check" => parse_check(rest).map(Command::Check),
        "import" => parse_import(rest).map(Command::Import),
        "build" => parse_build(rest).map(Command::Build),
        "simulate" => parse_simulate(rest).map(Command::Simulate),
        "plan" => match rest {
            [sub, host, paths @ ..] if sub == "show" && !paths.is_empty() => {
                Ok(Command::PlanShow(PlanShowArgs {
                    host: host.clone(),
                    paths: paths.iter().map(PathBuf::from).collect(),
                }))
            }
            _ => Err("usage: vigil plan show HOST TOPOLOGY...".into()),
        },
        "lints" => no_more(rest, Command::Lints),
        "schema" => no_more(rest, Command::Schema),
        "explain" => match rest {
            [key] => Ok(Command::Explain(key.clone())),
            _ => Err("`explain` takes one lint code or name".into()),
        },
        other => Err(format!("unknown command `{other}`")),
    }
}

fn no_more(rest: &[String], command: Command) -> Result<Command, String> {
    match rest.first() {
        None => Ok(command),
        Some(arg) => Err(format!("unexpected argument `{arg}`")),
    }
}

/// Splits `--flag=value` into the flag and its inline value.
fn split_flag(arg: &str) -> (&str, Option<String>) {
    match arg.split_once('=') {
        Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
        _ => (arg, None),
    }
}

/// A flag's value: inline (`--flag=value`) or the next argument.
fn flag_value(
    inline: Option<String>,
    rest: &mut std::slice::Iter<'_, String>,
    name: &str,
) -> Result<String, String> {
    inline
        .or_else(|| rest.next().cloned())
        .ok_or_else(|| format!("`{name}` needs a value"))
}

fn parse_check(rest: &[String]) -> Result<CheckArgs, String> {
    let mut args = CheckArgs {
        paths: Vec::new(),
        format: Format::Human,
        deny_warnings: false,
        keepalived: None,
    };
    let mut keepalived = false;
    let mut options = crate::keepalived::Options::default();
    let mut iter = rest.iter();
    while let Some(arg) = iter.next() {
        let (flag, inline) = split_flag(arg);
        let mut value = |name: &str| flag_value(inline.clone(), &mut iter, name);
        match flag {
            "--format" => {
                let v = value("--format")?;
                args.format = Format::parse(&v).ok_or_else(|| {
                    format!("unknown format `{v}` (human, json, github, sarif or concise)")
                })?;
            }
            "--deny" => {
                let v = value("--deny")?;
                if v != "warnings" {
                    return Err(format!("`--deny` takes `warnings`, not `{v}`"));
                }
                args.deny_warnings = true;
            }
            "--keepalived" => keepalived = true,
            "--segment" => options.segments.push(parse_segment(&value("--segment")?)?),
            "--cluster" => options.cluster = Some(value("--cluster")?),
            "--" => args.paths.extend(iter.by_ref().map(PathBuf::from)),
            f if f.starts_with('-') && f.len() > 1 => return Err(format!("unknown option `{f}`")),
            _ => args.paths.push(PathBuf::from(arg)),
        }
    }
    if args.paths.is_empty() {
        return Err("`check` needs at least one file".into());
    }
    if keepalived {
        args.keepalived = Some(options);
    } else if !options.segments.is_empty() || options.cluster.is_some() {
        return Err("`--segment` and `--cluster` go with `--keepalived`".into());
    }
    Ok(args)
}

/// `NAME=CIDR`.
fn parse_segment(v: &str) -> Result<(String, vigil_schema::units::Cidr), String> {
    let (name, cidr) = v.split_once('=').ok_or_else(|| {
        format!("`--segment` takes NAME=CIDR (e.g. front=10.0.0.0/24), not `{v}`")
    })?;
    let cidr = cidr.parse().map_err(|e| format!("`--segment {v}`: {e}"))?;
    Ok((name.to_string(), cidr))
}

fn parse_import(rest: &[String]) -> Result<ImportArgs, String> {
    let mut args = ImportArgs {
        hosts: Vec::new(),
        out: None,
        options: crate::keepalived::Options::default(),
    };
    let mut iter = rest.iter();
    while let Some(arg) = iter.next() {
        let (flag, inline) = split_flag(arg);
        let mut value = |name: &str| flag_value(inline.clone(), &mut iter, name);
        match flag {
            "--out" | "-o" => args.out = Some(PathBuf::from(value("--out")?)),
            "--segment" => args
                .options
                .segments
                .push(parse_segment(&value("--segment")?)?),
            "--cluster" => args.options.cluster = Some(value("--cluster")?),
            f if f.starts_with('-') && f.len() > 1 => return Err(format!("unknown option `{f}`")),
            _ => args.hosts.push(arg.clone()),
        }
    }
    if args.hosts.is_empty() {
        return Err("`import` needs HOST=FILE... or a directory".into());
    }
    Ok(args)
}

fn parse_build(rest: &[String]) -> Result<BuildArgs, String> {
    let mut paths = Vec::new();
    let mut out = None;
    let mut templates = None;
    let mut check = false;
    let mut iter = rest.iter();
    while let Some(arg) = iter.next() {
        let (flag, inline) = split_flag(arg);
        let mut value = |name: &str| flag_value(inline.clone(), &mut iter, name);
        match flag {
            "--out" => out = Some(PathBuf::from(value("--out")?)),
            "--templates" => templates = Some(PathBuf::from(value("--templates")?)),
            "--check" => check = true,
            f if f.starts_with('-') && f.len() > 1 => return Err(format!("unknown option `{f}`")),
            _ => paths.push(PathBuf::from(arg)),
        }
    }
    if paths.is_empty() {
        return Err("`build` needs at least one topology file".into());
    }
    let out = out.ok_or("`build` needs `--out DIR`")?;
    Ok(BuildArgs {
        paths,
        out,
        templates,
        check,
    })
}

fn parse_duration(v: &str, flag: &str) -> Result<vigil_schema::units::Duration, String> {
    v.parse().map_err(|e| format!("`{flag}`: {e}"))
}

fn parse_simulate(rest: &[String]) -> Result<SimulateArgs, String> {
    let mut args = SimulateArgs {
        paths: Vec::new(),
        scenario: None,
        faults: Vec::new(),
        json: false,
        seed: None,
        duration: None,
        max_outage: None,
        routers: Vec::new(),
    };
    let mut iter = rest.iter();
    while let Some(arg) = iter.next() {
        let (flag, inline) = split_flag(arg);
        let mut value = |name: &str| flag_value(inline.clone(), &mut iter, name);
        match flag {
            "--scenario" => args.scenario = Some(PathBuf::from(value("--scenario")?)),
            "--fail" => args.faults.push(CliFault {
                kind: CliFaultKind::Fail(value("--fail")?),
                at: None,
                for_: None,
            }),
            "--cut" => args.faults.push(CliFault {
                kind: CliFaultKind::Cut(value("--cut")?),
                at: None,
                for_: None,
            }),
            "--at" | "--for" => {
                let d = parse_duration(&value(flag)?, flag)?;
                let Some(last) = args.faults.last_mut() else {
                    return Err(format!("`{flag}` follows a `--fail` or `--cut`"));
                };
                let slot = if flag == "--at" {
                    &mut last.at
                } else {
                    &mut last.for_
                };
                if slot.is_some() {
                    return Err(format!("`{flag}` given twice for one fault"));
                }
                *slot = Some(d);
            }
            "--duration" => args.duration = Some(parse_duration(&value(flag)?, flag)?),
            "--max-outage" => args.max_outage = Some(parse_duration(&value(flag)?, flag)?),
            "--seed" => {
                let v = value("--seed")?;
                args.seed = Some(
                    v.parse()
                        .map_err(|_| format!("`--seed` takes a number, not `{v}`"))?,
                );
            }
            "--router" => args.routers.push(value("--router")?),
            "--format" => {
                let v = value("--format")?;
                args.json = match v.as_str() {
                    "human" => false,
                    "json" => true,
                    _ => return Err(format!("unknown format `{v}` (human or json)")),
                };
            }
            "--" => args.paths.extend(iter.by_ref().map(PathBuf::from)),
            f if f.starts_with('-') && f.len() > 1 => return Err(format!("unknown option `{f}`")),
            _ => args.paths.push(PathBuf::from(arg)),
        }
    }
    if args.paths.is_empty() && args.scenario.is_none() {
        return Err("`simulate` needs topology files or `--scenario FILE`".into());
    }
    Ok(args)
}

/// Runs the command line; returns the exit status.
pub fn main(args: &[String]) -> u8 {
    let command = match parse(args) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("error: {message}\n\n{USAGE}");
            return 2;
        }
    };
    match command {
        Command::Check(check) => commands::check::run(&check),
        Command::Import(import) => commands::import::run(&import),
        Command::Build(build) => commands::build::run(&build),
        Command::PlanShow(show) => commands::plan_show::run(&show),
        Command::Simulate(sim) => commands::simulate::run(&sim),
        Command::Lints => commands::lints::run(),
        Command::Explain(key) => commands::explain::run(&key),
        Command::Schema => commands::schema::run(),
        Command::Help => {
            print!("{USAGE}");
            0
        }
        Command::Version => {
            println!("vigil {}", env!("CARGO_PKG_VERSION"));
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_check_flags_in_any_order() {
        let Ok(Command::Check(c)) =
            parse(&args("check --format=json a.toml --deny warnings b.toml"))
        else {
            panic!("not a check");
        };
        assert_eq!(
            c.paths,
            vec![PathBuf::from("a.toml"), PathBuf::from("b.toml")]
        );
        assert_eq!(c.format, Format::Json);
        assert!(c.deny_warnings);
    }

    #[test]
    fn parses_keepalived_check_and_import() {
        let Ok(Command::Check(c)) = parse(&args(
            "check --keepalived fleet/ --segment front=10.0.0.0/24 --cluster shop --format sarif",
        )) else {
            panic!("not a check");
        };
        let options = c.keepalived.expect("keepalived mode");
        assert_eq!(options.segments.len(), 1);
        assert_eq!(options.segments[0].0, "front");
        assert_eq!(options.cluster.as_deref(), Some("shop"));
        assert_eq!(c.paths, vec![PathBuf::from("fleet/")]);
        assert!(parse(&args("check a.toml --segment x=10.0.0.0/24")).is_err());
        assert!(parse(&args("check --keepalived d --segment front")).is_err());
        let Ok(Command::Import(i)) = parse(&args("import lb1=a.conf lb2=b.conf -o t.toml")) else {
            panic!("not an import");
        };
        assert_eq!(i.hosts, ["lb1=a.conf", "lb2=b.conf"]);
        assert_eq!(i.out, Some(PathBuf::from("t.toml")));
        assert!(parse(&args("import")).is_err());
    }

    #[test]
    fn parses_simulate_faults_with_their_times() {
        let Ok(Command::Simulate(s)) = parse(&args(
            "simulate t.toml --fail host:lb1 --at 10s --for 5s --cut hb --format json --seed 7",
        )) else {
            panic!("not a simulate");
        };
        assert_eq!(s.paths, vec![PathBuf::from("t.toml")]);
        assert_eq!(s.faults.len(), 2);
        assert_eq!(s.faults[0].kind, CliFaultKind::Fail("host:lb1".into()));
        assert_eq!(s.faults[0].at.map(|d| d.as_millis()), Some(10_000));
        assert_eq!(s.faults[0].for_.map(|d| d.as_millis()), Some(5_000));
        assert_eq!(s.faults[1].kind, CliFaultKind::Cut("hb".into()));
        assert_eq!(s.faults[1].at, None);
        assert!(s.json);
        assert_eq!(s.seed, Some(7));
        assert!(parse(&args("simulate --at 1s t.toml")).is_err());
        assert!(parse(&args("simulate t.toml --fail host:a --at 1s --at 2s")).is_err());
        assert!(parse(&args("simulate t.toml --fail host:a --at soon")).is_err());
        assert!(parse(&args("simulate")).is_err());
        assert!(parse(&args("simulate --scenario s.toml")).is_ok());
    }

    #[test]
    fn rejects_bad_command_lines() {
        assert!(parse(&args("check")).is_err());
        assert!(parse(&args("check --format xml a.toml")).is_err());
        assert!(parse(&args("check --deny errors a.toml")).is_err());
        assert!(parse(&args("check --frobnicate a.toml")).is_err());
        assert!(parse(&args("explain")).is_err());
        assert!(parse(&args("frob")).is_err());
        assert!(parse(&[]).is_err());
    }
}
