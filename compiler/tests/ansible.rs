//! The Ansible delivery path: `examples/ansible/site.yml` against the
//! inventory `vigil build` writes, run for real with a local connection into
//! a scratch root: files land where the unit expects them, secrets are 0600,
//! and a second run changes nothing.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `ansible-playbook` from PATH, or from the venv `run-tests` creates.
fn ansible_playbook() -> Option<PathBuf> {
    let venv = PathBuf::from("/opt/vigil-venv/bin/ansible-playbook");
    if Command::new("ansible-playbook")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        Some(PathBuf::from("ansible-playbook"))
    } else {
        venv.exists().then_some(venv)
    }
}

fn run(playbook: &Path, args: &[&str]) -> String {
    let out = Command::new(playbook)
        .args(args)
        .env("ANSIBLE_NOCOLOR", "1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "ansible-playbook {args:?} failed:\n{text}"
    );
    text
}

#[test]
fn site_playbook_ships_each_hosts_artifacts_idempotently() {
    let Some(playbook) = ansible_playbook() else {
        if std::env::var_os("VIGIL_SKIP_ANSIBLE").is_some() {
            eprintln!("ansible-playbook not installed; skipped (VIGIL_SKIP_ANSIBLE set)");
            return;
        }
        panic!(
            "ansible-playbook not found: run ./run-tests (it installs ansible-core in /opt/vigil-venv) or set VIGIL_SKIP_ANSIBLE=1"
        );
    };
    let scratch = std::env::temp_dir().join(format!("vigil-ansible-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let dist = scratch.join("dist");
    let topology = root().join("examples/datacenter.toml");
    let build = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args([
            "build",
            topology.to_str().unwrap(),
            "--out",
            dist.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let inventory = dist.join("inventory.yml");
    let site = root().join("examples/ansible/site.yml");
    let (inv, site) = (inventory.to_str().unwrap(), site.to_str().unwrap());
    run(&playbook, &["-i", inv, site, "--syntax-check"]);

    let target = format!(
        "vigil_root={}/{{{{ inventory_hostname }}}}",
        scratch.join("root").display()
    );
    let args = [
        "-i",
        inv,
        site,
        "-c",
        "local",
        "-e",
        &target,
        "-e",
        "vigil_manage_service=false",
        "-e",
        "vigil_validate_keepalived=false",
        "-e",
        "ansible_python_interpreter={{ ansible_playbook_python }}",
    ];
    let first = run(&playbook, &args);
    assert!(first.contains("changed="), "{first}");

    let mut hosts = 0;
    for host in std::fs::read_dir(&dist)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
    {
        let name = host.file_name().unwrap();
        let installed = scratch.join("root").join(name);
        for (built, shipped) in [
            ("plan.json", "etc/vigil/plan.json"),
            ("vigild.service", "etc/systemd/system/vigild.service"),
            ("nftables.conf", "etc/nftables.d/vigil.conf"),
        ] {
            if !installed.join("etc/vigil").exists() {
                // a keepalived host: only keepalived.conf is shipped
                assert_eq!(
                    std::fs::read(host.join("keepalived.conf")).unwrap(),
                    std::fs::read(installed.join("etc/keepalived/keepalived.conf")).unwrap(),
                );
                break;
            }
            assert_eq!(
                std::fs::read(host.join(built)).unwrap(),
                std::fs::read(installed.join(shipped)).unwrap_or_default(),
                "{} on {name:?}",
                shipped
            );
        }
        if let Ok(secrets) = std::fs::read_dir(host.join("secrets")) {
            for secret in secrets {
                let file = installed
                    .join("etc/vigil/secrets")
                    .join(secret.unwrap().file_name());
                let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{}", file.display());
            }
        }
        hosts += 1;
    }
    assert!(hosts >= 10);

    let second = run(&playbook, &args);
    let recap = second.split("PLAY RECAP").last().unwrap_or("");
    assert!(
        !recap.contains("changed=1")
            && !recap.contains("changed=2")
            && !recap.contains("changed=3")
            && !recap.contains("changed=4"),
        "second run changed something:\n{recap}"
    );
    assert!(recap.contains("changed=0"), "{recap}");
    let _ = std::fs::remove_dir_all(&scratch);
}
