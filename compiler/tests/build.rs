//! `vigil build`: every example builds, plans match the published schema,
//! output is deterministic and minimal, bad input leaves old output intact,
//! and the real `keepalived -t` accepts every generated keepalived.conf.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const VIGIL: &str = env!("CARGO_BIN_EXE_vigil");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn examples() -> Vec<PathBuf> {
    let mut list: Vec<PathBuf> = std::fs::read_dir(root().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    list.sort();
    assert!(list.len() >= 4, "expected the bundled examples");
    list
}

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("vigil-build-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether `tool` runs here. When it does not, the test is skipped if
/// `skip_var` is set and fails otherwise, saying how to get the tool.
fn tool_present(tool: &str, skip_var: &str, how_to_install: &str) -> bool {
    if Command::new(tool).arg("--version").output().is_ok() {
        return true;
    }
    if std::env::var_os(skip_var).is_some() {
        eprintln!("{tool} not installed; skipped ({skip_var} set)");
        return false;
    }
    panic!("{tool} is not installed ({how_to_install}) or set {skip_var}=1");
}

/// Builds every example under `scratch`; the output directory of each host.
fn every_built_host(scratch: &Scratch) -> Vec<PathBuf> {
    let mut hosts = Vec::new();
    for example in examples() {
        let out = scratch.0.join(example.file_stem().unwrap());
        let run = build(&[&example], &out);
        assert!(
            run.status.success(),
            "{}: {}",
            example.display(),
            String::from_utf8_lossy(&run.stderr)
        );
        hosts.extend(
            std::fs::read_dir(&out)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.is_dir()),
        );
    }
    hosts
}

fn vigil(args: &[&str]) -> Output {
    Command::new(VIGIL).args(args).output().expect("run vigil")
}

fn build(topology: &[&Path], out: &Path) -> Output {
    let mut args = vec!["build".to_string()];
    args.extend(topology.iter().map(|p| p.display().to_string()));
    args.extend(["--out".to_string(), out.display().to_string()]);
    Command::new(VIGIL)
        .args(&args)
        .output()
        .expect("run vigil build")
}

fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_example_builds_the_full_tree_and_plans_match_the_schema() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schema/plan.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for example in examples() {
        let scratch = Scratch::new("all");
        let out = scratch.0.join("dist");
        let run = build(&[&example], &out);
        assert!(
            run.status.success(),
            "{}: {}",
            example.display(),
            String::from_utf8_lossy(&run.stderr)
        );
        assert!(out.join("inventory.yml").is_file());
        let hosts: Vec<PathBuf> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .collect();
        assert!(hosts.len() >= 2, "{}", example.display());
        for host in hosts {
            for name in [
                "plan.json",
                "vigild.service",
                "keepalived.conf",
                "nftables.conf",
            ] {
                assert!(
                    host.join(name).is_file(),
                    "{} missing",
                    host.join(name).display()
                );
            }
            let plan: serde_json::Value =
                serde_json::from_slice(&std::fs::read(host.join("plan.json")).unwrap()).unwrap();
            let errors: Vec<String> = validator
                .iter_errors(&plan)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{}: {errors:?}", host.display());
            let typed: vigil_schema::plan::Plan = serde_json::from_value(plan).unwrap();
            assert_eq!(typed.host, host.file_name().unwrap().to_string_lossy());
        }
    }
}

#[test]
fn builds_are_byte_identical_and_check_detects_staleness() {
    let scratch = Scratch::new("det");
    let example = root().join("examples/datacenter.toml");
    let (a, b) = (scratch.0.join("a"), scratch.0.join("b"));
    assert!(build(&[&example], &a).status.success());
    assert!(build(&[&example], &b).status.success());
    assert_eq!(files(&a), files(&b));
    let check = vigil(&[
        "build",
        example.to_str().unwrap(),
        "--out",
        a.to_str().unwrap(),
        "--check",
    ]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let some_plan = std::fs::read_dir(&a)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();
    std::fs::write(some_plan.join("plan.json"), "{}").unwrap();
    let check = vigil(&[
        "build",
        example.to_str().unwrap(),
        "--out",
        a.to_str().unwrap(),
        "--check",
    ]);
    assert_eq!(check.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&check.stderr).contains("plan.json"));
}

#[test]
fn changing_one_router_changes_only_its_members_plans() {
    let scratch = Scratch::new("minimal");
    let original = std::fs::read_to_string(root().join("examples/web-pair.toml")).unwrap();
    // Add a second, independent router on two extra hosts, then change it.
    let extra = r#"
[host.api1.interface.eth0]
segment = "front"
addresses = ["10.20.0.21/24"]

[host.api2.interface.eth0]
segment = "front"
addresses = ["10.20.0.22/24"]

[router.api]
segment = "front"
vrid = 52
vips = ["10.20.0.200/24"]
advert_interval = "1s"

[router.api.arbitration]

[router.api.member.api1]
priority = 120

[router.api.member.api2]
priority = 110
"#;
    let before = scratch.0.join("before.toml");
    let after = scratch.0.join("after.toml");
    std::fs::write(&before, format!("{original}{extra}")).unwrap();
    std::fs::write(
        &after,
        format!("{original}{}", extra.replace("\"1s\"", "\"2s\"")),
    )
    .unwrap();
    let (a, b) = (scratch.0.join("a"), scratch.0.join("b"));
    let run = build(&[&before], &a);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(build(&[&after], &b).status.success());
    let (fa, fb) = (files(&a), files(&b));
    let changed: BTreeSet<String> = fa
        .iter()
        .zip(&fb)
        .filter(|(x, y)| x != y)
        .map(|(x, _)| x.0.display().to_string())
        .collect();
    let hosts: BTreeSet<&str> = changed
        .iter()
        .filter_map(|p| p.split('/').next())
        .filter(|h| *h != "inventory.yml")
        .collect();
    assert_eq!(
        hosts,
        BTreeSet::from(["api1", "api2"]),
        "changed: {changed:?}"
    );
}

#[test]
fn refuses_errors_unknown_hosts_and_unwritable_output_keeping_previous_build() {
    let scratch = Scratch::new("bad");
    let out = scratch.0.join("dist");
    let good = root().join("examples/web-pair.toml");
    assert!(build(&[&good], &out).status.success());
    let before = files(&out);

    let broken = scratch.0.join("broken.toml");
    std::fs::write(
        &broken,
        std::fs::read_to_string(&good)
            .unwrap()
            .replace("priority = 100", "priority = 150"),
    )
    .unwrap();
    let run = build(&[&broken], &out);
    assert_eq!(run.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("nothing was built"), "{stderr}");
    assert_eq!(files(&out), before, "previous build must stay intact");

    let show = vigil(&["plan", "show", "nosuchhost", good.to_str().unwrap()]);
    assert_eq!(show.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&show.stderr).contains("no host `nosuchhost`"));

    // A non-empty directory that is not a previous build is never replaced.
    let precious = scratch.0.join("precious");
    std::fs::create_dir_all(&precious).unwrap();
    std::fs::write(precious.join("keep.txt"), "data").unwrap();
    let run = build(&[&good], &precious);
    assert_eq!(run.status.code(), Some(2));
    assert!(precious.join("keep.txt").is_file());

    // An output under a regular file cannot be written.
    std::fs::write(scratch.0.join("plain-file"), "x").unwrap();
    let run = build(&[&good], &scratch.0.join("plain-file/dist"));
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("cannot write"));
}

#[test]
fn plan_show_summarises_roles_vips_and_peers() {
    let good = root().join("examples/web-pair.toml");
    let show = vigil(&["plan", "show", "web1", good.to_str().unwrap()]);
    assert!(show.status.success());
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(text.contains("router www"), "{text}");
    assert!(text.contains("expected MASTER"), "{text}");
    assert!(text.contains("VIPs: 10.20.0.100/24"), "{text}");
    assert!(text.contains("peers: web2"), "{text}");
}

#[test]
fn plan_snapshot() {
    let scratch = Scratch::new("snap");
    let out = scratch.0.join("dist");
    assert!(
        build(&[&root().join("examples/lvs-dr.toml")], &out)
            .status
            .success()
    );
    let first_host = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .min()
        .unwrap();
    let plan = std::fs::read_to_string(first_host.join("plan.json")).unwrap();
    insta::assert_snapshot!(plan);
}

/// `keepalived -t` on every generated keepalived.conf, inside a network
/// namespace that has the interfaces the config names (keepalived checks
/// them) and stubs for the operator's scripts that this machine lacks.
#[test]
fn keepalived_accepts_every_generated_config() {
    if !tool_present(
        "keepalived",
        "VIGIL_SKIP_KEEPALIVED",
        "run ./run-tests as root: it installs it",
    ) {
        return;
    }
    let scratch = Scratch::new("kad");
    let mut checked = 0;
    for host in every_built_host(&scratch) {
        let plan: vigil_schema::plan::Plan =
            serde_json::from_slice(&std::fs::read(host.join("plan.json")).unwrap()).unwrap();
        let mut interfaces = BTreeSet::new();
        let mut scripts = BTreeSet::new();
        for r in &plan.routers {
            interfaces.insert(r.interface.clone());
            for t in &r.trackers {
                match &t.kind {
                    vigil_schema::plan::PlanTrackerKind::Interface { interface } => {
                        interfaces.insert(interface.clone());
                    }
                    vigil_schema::plan::PlanTrackerKind::Command { command, .. } => {
                        scripts.insert(command[0].clone());
                    }
                }
            }
            for n in [
                &r.notify.master,
                &r.notify.backup,
                &r.notify.fault,
                &r.notify.stop,
                &r.notify.any,
            ]
            .into_iter()
            .flatten()
            {
                scripts.insert(n[0].clone());
            }
        }
        for vs in &plan.virtual_servers {
            if let Some(vigil_schema::plan::PlanCheck::Command { command }) =
                vs.health.as_ref().map(|h| &h.check)
            {
                scripts.insert(command[0].clone());
            }
        }
        let ns = format!("vkt{}-{checked}", std::process::id());
        let status = Command::new("ip")
            .args(["netns", "add", &ns])
            .status()
            .unwrap();
        assert!(status.success(), "ip netns add (needs root)");
        let mut setup = String::from("set -e\n");
        for (i, name) in interfaces.iter().enumerate() {
            setup.push_str(&format!(
                "ip link add {name} type veth peer name vkp{i}\nip link set {name} up\n"
            ));
        }
        // Operator scripts absent from this machine get a stub, made
        // visible through an overlay of their nearest existing directory
        // in the namespace's private mount table (the host is untouched).
        let mut overlaid: Vec<PathBuf> = Vec::new();
        for (i, script) in scripts.iter().enumerate() {
            let path = Path::new(script);
            if path.exists() {
                continue;
            }
            let mut base = path.parent().unwrap().to_path_buf();
            while !base.exists() {
                base = base.parent().unwrap().to_path_buf();
            }
            if !overlaid.iter().any(|o| base.starts_with(o)) {
                let layer = scratch.0.join(format!("layer-{checked}-{i}"));
                std::fs::create_dir_all(layer.join("upper")).unwrap();
                std::fs::create_dir_all(layer.join("work")).unwrap();
                setup.push_str(&format!(
                        "mount -t overlay vigil-test -o lowerdir={b},upperdir={l}/upper,workdir={l}/work {b}\n",
                        b = base.display(),
                        l = layer.display()
                    ));
                overlaid.push(base);
            }
            setup.push_str(&format!(
                "mkdir -p {d}\nprintf '#!/bin/sh\\nexit 0\\n' > {script}\nchmod 755 {script}\n",
                d = path.parent().unwrap().display()
            ));
        }
        let conf = host.join("keepalived.conf");
        setup.push_str(&format!("exec keepalived -t -f {} -l -D\n", conf.display()));
        let run = Command::new("ip")
            .args(["netns", "exec", &ns, "sh", "-c", &setup])
            .output()
            .unwrap();
        let _ = Command::new("ip").args(["netns", "del", &ns]).status();
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
        assert!(
            run.status.success(),
            "keepalived -t rejected {}:\n{log}",
            conf.display()
        );
        checked += 1;
    }
    assert!(checked >= 8, "checked {checked} configs");
}

/// The real `nft -c` accepts every generated nftables.conf (in a scratch
/// network namespace, so the host's ruleset is never touched).
#[test]
fn nft_accepts_every_generated_ruleset() {
    if !tool_present(
        "nft",
        "VIGIL_SKIP_NFT",
        "run ./run-tests as root: it installs nftables",
    ) {
        return;
    }
    let scratch = Scratch::new("nft");
    let ns = format!("vnft{}", std::process::id());
    assert!(
        Command::new("ip")
            .args(["netns", "add", &ns])
            .status()
            .unwrap()
            .success(),
        "ip netns add (needs root)"
    );
    let mut checked = 0;
    let mut failures = Vec::new();
    for host in every_built_host(&scratch) {
        let rules = host.join("nftables.conf");
        let run = Command::new("ip")
            .args(["netns", "exec", &ns, "nft", "-c", "-f"])
            .arg(&rules)
            .output()
            .unwrap();
        if !run.status.success() {
            failures.push(format!(
                "{}: {}",
                rules.display(),
                String::from_utf8_lossy(&run.stderr)
            ));
        }
        checked += 1;
    }
    let _ = Command::new("ip").args(["netns", "del", &ns]).status();
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(checked >= 8);
}

/// `systemd-analyze verify` accepts every generated unit without a single
/// warning (it exits 0 on unknown keys, so any output fails the test), and
/// `systemd-analyze security` rates its hardening at 5.0 or better, in a
/// scratch root holding the distribution's units and the binaries the unit
/// names.
#[test]
fn systemd_accepts_every_generated_unit() {
    if !tool_present(
        "systemd-analyze",
        "VIGIL_SKIP_SYSTEMD",
        "Debian package systemd",
    ) {
        return;
    }
    let scratch = Scratch::new("systemd");
    let sysroot = scratch.0.join("root");
    for dir in [
        "usr/lib/systemd",
        "etc/systemd/system",
        "usr/local/sbin",
        "bin",
    ] {
        std::fs::create_dir_all(sysroot.join(dir)).unwrap();
    }
    let copy = Command::new("cp")
        .args(["-a", "/lib/systemd/system"])
        .arg(sysroot.join("usr/lib/systemd/"))
        .status()
        .unwrap();
    assert!(copy.success());
    std::fs::copy("/bin/kill", sysroot.join("bin/kill")).unwrap();
    std::fs::copy(VIGIL, sysroot.join("usr/local/sbin/vigild")).unwrap();
    let mut checked = 0;
    for host in every_built_host(&scratch) {
        std::fs::copy(
            host.join("vigild.service"),
            sysroot.join("etc/systemd/system/vigild.service"),
        )
        .unwrap();
        let verify = Command::new("systemd-analyze")
            .arg("verify")
            .arg(format!("--root={}", sysroot.display()))
            .arg("/etc/systemd/system/vigild.service")
            .output()
            .unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&verify.stdout),
            String::from_utf8_lossy(&verify.stderr)
        );
        assert!(
            verify.status.success() && said.trim().is_empty(),
            "{}: {said}",
            host.display()
        );
        let security = Command::new("systemd-analyze")
            .args(["security", "--offline=true", "--threshold=50"])
            .arg(format!("--root={}", sysroot.display()))
            .arg("/etc/systemd/system/vigild.service")
            .output()
            .unwrap();
        assert!(
            security.status.success(),
            "{}: hardening score above 5.0:\n{}",
            host.display(),
            String::from_utf8_lossy(&security.stdout)
        );
        checked += 1;
    }
    assert!(checked >= 8);
}

/// Every file under `dir`, relative to it.
fn listing(dir: &Path) -> Vec<PathBuf> {
    files(dir).into_iter().map(|(p, _)| p).collect()
}

#[test]
fn host_names_that_are_paths_fail_check_and_build_writes_nothing() {
    let scratch = Scratch::new("escape");
    let work = scratch.0.join("a/b");
    std::fs::create_dir_all(&work).unwrap();
    let good = std::fs::read_to_string(root().join("examples/web-pair.toml")).unwrap();
    let absolute = scratch.0.join("abs").display().to_string();
    for name in ["../../escaped", "../x", absolute.as_str(), ".hidden"] {
        let topology = work.join("topology.toml");
        std::fs::write(
            &topology,
            good.replace("host.web1", &format!("host.\"{name}\""))
                .replace("member.web1", &format!("member.\"{name}\"")),
        )
        .unwrap();

        let check = vigil(&["check", "--format", "json", topology.to_str().unwrap()]);
        assert_eq!(check.status.code(), Some(1), "{name}");
        let stdout = String::from_utf8_lossy(&check.stdout);
        let first: serde_json::Value =
            serde_json::from_str(stdout.lines().next().expect("a diagnostic")).unwrap();
        assert_eq!(first["code"], "V0106", "{name}: {stdout}");
        assert_eq!(stdout.lines().count(), 1, "{name}: {stdout}");
        // The span is the host's table, which names it.
        let (start, end) = (
            first["span"]["start"].as_u64().unwrap() as usize,
            first["span"]["end"].as_u64().unwrap() as usize,
        );
        let text = std::fs::read_to_string(&topology).unwrap();
        assert!(
            text[start..end].contains(name),
            "{name}: {}",
            &text[start..end]
        );

        let run = build(&[&topology], &work.join("out"));
        assert_eq!(run.status.code(), Some(1), "{name}");
        assert_eq!(
            listing(&scratch.0),
            vec![PathBuf::from("a/b/topology.toml")],
            "{name}: build wrote files"
        );
    }
}

#[test]
fn write_tree_refuses_paths_outside_the_output_directory() {
    use vigil::build::{OutputFile, Tree, write_tree};
    let scratch = Scratch::new("tree");
    let out = scratch.0.join("x/out");
    std::fs::create_dir_all(scratch.0.join("x")).unwrap();
    let file = OutputFile {
        bytes: b"data\n".to_vec(),
        secret: false,
    };
    let outside = scratch.0.join("outside.conf");
    for bad in [
        PathBuf::from("../escaped/plan.json"),
        PathBuf::from("web1/../../escaped.conf"),
        outside.clone(),
        PathBuf::from(".hidden/plan.json"),
        PathBuf::from(""),
    ] {
        let mut tree = Tree::new();
        tree.insert(PathBuf::from("inventory.yml"), file.clone());
        tree.insert(bad.clone(), file.clone());
        let result = write_tree(&out, &tree);
        assert!(result.is_err(), "{bad:?} was accepted");
        assert!(result.unwrap_err().contains("refusing to write"), "{bad:?}");
        assert_eq!(listing(&scratch.0), Vec::<PathBuf>::new(), "{bad:?}");
    }
    // The same tree without the bad path is written.
    let mut tree = Tree::new();
    tree.insert(PathBuf::from("inventory.yml"), file.clone());
    tree.insert(PathBuf::from("web1/secrets/www.pass"), file);
    write_tree(&out, &tree).unwrap();
    assert_eq!(
        listing(&scratch.0),
        vec![
            PathBuf::from("x/out/inventory.yml"),
            PathBuf::from("x/out/web1/secrets/www.pass")
        ]
    );
}

/// RFC 5798 5.2.9: an IPv6 router's first address is its link-local one,
/// whatever order the topology lists them in and however they sort.
#[test]
fn ipv6_link_local_vip_comes_first_in_the_plan() {
    let scratch = Scratch::new("ll");
    let out = scratch.0.join("out");
    assert!(
        build(&[&root().join("examples/datacenter.toml")], &out)
            .status
            .success()
    );
    let plan: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("lb1/plan.json")).unwrap()).unwrap();
    let router = plan["routers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "edge-v6")
        .expect("edge-v6 on lb1");
    let vips: Vec<&str> = router["vips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["address"].as_str().unwrap())
        .collect();
    assert_eq!(vips, ["fe80::10:1", "2001:db8:10::100"]);
}
