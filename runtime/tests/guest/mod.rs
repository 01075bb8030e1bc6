//! Shared by the test binaries that run their `guest_*` tests inside a qemu
//! guest booted on Debian's kernel (`tests/vm/kvm-run.sh`), where IPVS
//! exists: the host-side launcher, and `ipvsadm` helpers for the guest side.

use std::path::PathBuf;
use std::process::Command;

/// Host side: boots the guest and runs this test binary's ignored
/// `guest_*` tests there; panics with the guest's output on failure.
/// Returns at once inside the guest, and skips with `VIGIL_SKIP_VM=1`.
/// `what` names the tests in messages; `extra` are more libtest arguments.
pub fn run_guest_tests(what: &str, extra: &[&str]) {
    if std::env::var_os("KVM_RUN_GUEST").is_some() {
        return; // already inside: the guest_* tests do the work
    }
    if std::env::var("VIGIL_SKIP_VM").as_deref() == Ok("1") {
        eprintln!("VIGIL_SKIP_VM=1: {what} skipped");
        return;
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vm/kvm-run.sh");
    let exe = std::env::current_exe().expect("test binary path");
    let mut cmd = Command::new(&script);
    if std::env::var_os("KVM_RUN_CACHE").is_none() {
        // Keep the extracted kernel between runs (saves ~1 s per boot).
        cmd.env(
            "KVM_RUN_CACHE",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/kvm-run-cache"),
        );
    }
    let out = cmd
        .arg(&exe)
        .args(["--ignored", "--test-threads=1"])
        .args(extra)
        .arg("guest_")
        .env("KVM_RUN_TIMEOUT", "400")
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("--- guest stdout ---\n{stdout}\n--- guest stderr ---\n{stderr}");
    match out.status.code() {
        Some(0) => {}
        Some(126) => panic!(
            "the VM harness lacks a prerequisite (install the packages of tests/vm/packages, \
             or set VIGIL_SKIP_VM=1): {stderr}"
        ),
        other => panic!("{what} in the VM failed (exit {other:?}); output above"),
    }
    assert!(
        stdout.contains("test result: ok") && !stdout.contains(" 0 passed"),
        "the guest ran no test"
    );
}

/// Guest side: runs the real `ipvsadm`; its stdout, or a panic with stderr.
pub fn ipvsadm(args: &[&str]) -> String {
    let out = Command::new("ipvsadm")
        .args(args)
        .output()
        .expect("ipvsadm runs in the guest");
    assert!(
        out.status.success(),
        "ipvsadm {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `ipvsadm -Ln --exact` without the banner and the connection counters,
/// whitespace collapsed, one entry per line.
pub fn listing() -> Vec<String> {
    ipvsadm(&["-Ln", "--exact"])
        .lines()
        .skip(3)
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            if words.first() == Some(&"->") {
                words[..4.min(words.len())].join(" ")
            } else {
                words.join(" ")
            }
        })
        .collect()
}
