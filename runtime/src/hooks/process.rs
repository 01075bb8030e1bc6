//! Child processes the event loop starts and never waits for.
//!
//! Notify hooks, fence commands, self-fence and command trackers are all
//! programs that may hang. The loop must keep sending adverts on time, so a
//! [`ProcessRunner`] only spawns (own process group, stdin/stdout/stderr on
//! /dev/null), reaps with `waitpid(WNOHANG)` (`Child::try_wait`) when its
//! [`ProcessRunner::next_deadline`] comes, and kills the whole process group
//! with SIGKILL once a child outlives its timeout. While children run the
//! runner asks to be polled every [`REAP_INTERVAL`]; with none it asks for
//! nothing.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde::Serialize;

use crate::vrrp::Instant;

/// How often running children are checked for exit.
pub const REAP_INTERVAL: Duration = Duration::from_millis(20);

/// Identifies one started process.
pub type ProcId = u64;

/// How a process ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Outcome {
    /// Exited with this status.
    Exited { code: i32 },
    /// Killed by a signal it did not get from us.
    Signaled { signal: i32 },
    /// Outlived its timeout and was killed.
    TimedOut,
}

impl Outcome {
    pub fn success(&self) -> bool {
        *self == Outcome::Exited { code: 0 }
    }
}

/// One finished process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finished {
    pub id: ProcId,
    pub outcome: Outcome,
    pub pid: u32,
    /// How long it ran.
    pub elapsed: Duration,
}

#[derive(Debug)]
struct Running {
    id: ProcId,
    child: Child,
    started: Instant,
    deadline: Instant,
}

/// Every child the daemon has started and not yet reaped.
#[derive(Debug, Default)]
pub struct ProcessRunner {
    running: Vec<Running>,
    next_id: ProcId,
    next_reap: Option<Instant>,
}

impl ProcessRunner {
    /// Starts `argv` with `env` added to the daemon's environment; it is
    /// killed if still running `timeout` after `now`.
    pub fn spawn(
        &mut self,
        argv: &[String],
        env: &[(String, String)],
        timeout: Duration,
        now: Instant,
    ) -> Result<(ProcId, u32), String> {
        let (program, args) = argv.split_first().ok_or("empty command")?;
        let child = Command::new(program)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot run {program}: {e}"))?;
        self.next_id += 1;
        let id = self.next_id;
        let pid = child.id();
        self.running.push(Running {
            id,
            child,
            started: now,
            deadline: now + timeout,
        });
        if self.next_reap.is_none() {
            self.next_reap = Some(now + REAP_INTERVAL);
        }
        Ok((id, pid))
    }

    /// Number of children still running.
    pub fn len(&self) -> usize {
        self.running.len()
    }

    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }

    /// When [`ProcessRunner::poll`] should run next, if anything runs.
    pub fn next_deadline(&self) -> Option<Instant> {
        let reap = self.next_reap?;
        Some(
            self.running
                .iter()
                .map(|r| r.deadline)
                .fold(reap, Instant::min),
        )
    }

    /// Reaps exited children and kills those past their deadline.
    pub fn poll(&mut self, now: Instant) -> Vec<Finished> {
        let mut done = Vec::new();
        let mut i = 0;
        while i < self.running.len() {
            let r = &mut self.running[i];
            let outcome = match r.child.try_wait() {
                Ok(Some(status)) => Some(match status.code() {
                    Some(code) => Outcome::Exited { code },
                    None => {
                        use std::os::unix::process::ExitStatusExt;
                        Outcome::Signaled {
                            signal: status.signal().unwrap_or(0),
                        }
                    }
                }),
                Ok(None) if now >= r.deadline => {
                    kill_group(&mut r.child);
                    Some(Outcome::TimedOut)
                }
                Ok(None) => None,
                Err(_) => {
                    kill_group(&mut r.child);
                    Some(Outcome::Signaled { signal: 9 })
                }
            };
            match outcome {
                Some(outcome) => {
                    let r = self.running.swap_remove(i);
                    done.push(Finished {
                        id: r.id,
                        outcome,
                        pid: r.child.id(),
                        elapsed: now.saturating_since(r.started),
                    });
                }
                None => i += 1,
            }
        }
        self.next_reap = (!self.running.is_empty()).then(|| now + REAP_INTERVAL);
        done
    }

    /// Kills one child (a cancelled fence, a removed router).
    pub fn kill(&mut self, id: ProcId) {
        if let Some(i) = self.running.iter().position(|r| r.id == id) {
            let mut r = self.running.swap_remove(i);
            kill_group(&mut r.child);
        }
    }
}

/// SIGKILL to the child's process group, then reap (SIGKILL cannot be
/// caught, so the wait returns at once).
fn kill_group(child: &mut Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for ProcessRunner {
    fn drop(&mut self) {
        for r in &mut self.running {
            kill_group(&mut r.child);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now(start: std::time::Instant) -> Instant {
        Instant(start.elapsed().as_micros() as u64)
    }

    fn sh(cmd: &str) -> Vec<String> {
        vec!["/bin/sh".into(), "-c".into(), cmd.into()]
    }

    fn run_until_done(p: &mut ProcessRunner, start: std::time::Instant) -> Vec<Finished> {
        let mut all = Vec::new();
        while !p.is_empty() {
            std::thread::sleep(Duration::from_millis(5));
            all.extend(p.poll(now(start)));
            assert!(start.elapsed() < Duration::from_secs(10));
        }
        all
    }

    #[test]
    fn exit_codes_env_timeout_and_no_blocking() {
        let start = std::time::Instant::now();
        let mut p = ProcessRunner::default();
        assert_eq!(p.next_deadline(), None);
        let dir = std::env::temp_dir().join(format!("vigil-proc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("env");
        let (ok, _) = p
            .spawn(
                &sh(&format!("echo \"$VIGIL_X\" > {}", out.display())),
                &[("VIGIL_X".into(), "hello".into())],
                Duration::from_secs(5),
                now(start),
            )
            .unwrap();
        let (bad, _) = p
            .spawn(&sh("exit 3"), &[], Duration::from_secs(5), now(start))
            .unwrap();
        let t0 = std::time::Instant::now();
        let (hang, _) = p
            .spawn(&sh("sleep 30"), &[], Duration::from_millis(200), now(start))
            .unwrap();
        // Spawning never waits for the child.
        assert!(t0.elapsed() < Duration::from_millis(100));
        assert!(p.next_deadline().is_some());
        let done = run_until_done(&mut p, start);
        let get = |id| done.iter().find(|f| f.id == id).unwrap().clone();
        assert_eq!(get(ok).outcome, Outcome::Exited { code: 0 });
        assert_eq!(get(bad).outcome, Outcome::Exited { code: 3 });
        let h = get(hang);
        assert_eq!(h.outcome, Outcome::TimedOut);
        assert!(h.elapsed >= Duration::from_millis(200) && h.elapsed < Duration::from_secs(2));
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "hello\n");
        // The killed shell's process group is gone (no orphaned sleep).
        assert!(nix::sys::signal::kill(Pid::from_raw(h.pid as i32), None).is_err());
        assert_eq!(p.next_deadline(), None);
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            p.spawn(
                &["/nonexistent/x".into()],
                &[],
                Duration::from_secs(1),
                now(start)
            )
            .is_err()
        );
        assert!(
            p.spawn(&[], &[], Duration::from_secs(1), now(start))
                .is_err()
        );
    }
}
