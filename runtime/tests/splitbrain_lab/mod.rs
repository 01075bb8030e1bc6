//! A two-segment namespace lab for the split-brain tests.
//!
//! ```text
//!            <p>sw: br0 (service)              br1 (heartbeat)
//!             s1   s2   sg                      b1   b2
//!             |    |    |                       |    |
//!   <p>h1 eth0  <p>h2 eth0  <p>gw eth0    <p>h1 hb0  <p>h2 hb0
//!   10.88.0.11  10.88.0.12  10.88.0.1     10.99.0.11 10.99.0.12
//! ```
//!
//! The gateway namespace answers ping: it is the reference IP. Faults are
//! made in the switch namespace so the hosts keep their carrier (a router
//! that loses carrier enters FAULT without any arbitration):
//! * [`SbLab::detach_service`]: host `i`'s port leaves br0 (upstream loss);
//! * [`SbLab::isolate_service_peers`]: the hosts' ports on br0 become
//!   "isolated" bridge ports: each still reaches the gateway, but not the
//!   other host (the split arbitration cannot resolve by itself);
//! * [`SbLab::cut_heartbeat`]: host `i`'s port leaves br1.
//!
//! Plans come from the real compiler (`vigil build`) and topologies under
//! `tests/topologies/`. Every namespace and process is removed in `Drop`.

#![allow(dead_code)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The namespace lab of the other tests; its root/`ip netns` check is ours too.
#[path = "../lab/mod.rs"]
mod lab;
pub use lab::available;

pub const VIP: &str = "10.88.0.100/24";

/// Runs `ip ARGS...`, panicking with its stderr on failure.
pub fn ip(args: &[&str]) -> String {
    run("ip", args)
}

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().expect(cmd);
    assert!(
        out.status.success(),
        "{cmd} {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_path_buf()
}

/// The compiler binary: `$VIGIL_BIN`, else `target/debug/vigil` of this
/// build, else built on demand (into its own target directory, so it never
/// waits for the running cargo).
pub fn vigil_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("VIGIL_BIN") {
        return PathBuf::from(bin);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"));
    let bin = target.join("debug/vigil");
    if bin.exists() {
        return bin;
    }
    let own = workspace().join("target/splitbrain-compiler");
    let st = Command::new(env!("CARGO"))
        .args(["build", "-p", "vigil", "--bin", "vigil", "--target-dir"])
        .arg(&own)
        .current_dir(workspace())
        .status()
        .expect("run cargo build -p vigil");
    assert!(st.success(), "cargo build -p vigil failed");
    own.join("debug/vigil")
}

/// A base topology from `tests/topologies/`.
pub fn topology(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/topologies")
            .join(name),
    )
    .expect("topology")
}

/// The lab.
pub struct SbLab {
    pub prefix: String,
    pub dir: PathBuf,
    children: Vec<Child>,
    namespaces: Vec<String>,
}

impl SbLab {
    /// Builds the lab; `tag` is unique per test (≤ 5 chars).
    pub fn new(tag: &str) -> SbLab {
        let prefix = format!("sb{tag}{}", std::process::id() % 100_000);
        let dir = std::env::temp_dir().join(format!("{prefix}-lab"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("lab dir");
        let mut lab = SbLab {
            prefix,
            dir,
            children: Vec::new(),
            namespaces: Vec::new(),
        };
        for n in ["sw", "gw", "h1", "h2"] {
            let ns = lab.name(n);
            let _ = Command::new("ip")
                .args(["netns", "del", &ns])
                .stderr(Stdio::null())
                .status();
            ip(&["netns", "add", &ns]);
            lab.namespaces.push(ns.clone());
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
        }
        let sw = lab.name("sw");
        for br in ["br0", "br1"] {
            ip(&[
                "-n",
                &sw,
                "link",
                "add",
                br,
                "type",
                "bridge",
                "stp_state",
                "0",
                "forward_delay",
                "0",
                "mcast_snooping",
                "0",
            ]);
            ip(&["-n", &sw, "link", "set", br, "up"]);
        }
        lab.plug(
            "sg",
            "br0",
            "gw",
            "eth0",
            "02:00:00:88:00:fe",
            "10.88.0.1/24",
        );
        for i in 1..=2 {
            let h = format!("h{i}");
            lab.plug(
                &format!("s{i}"),
                "br0",
                &h,
                "eth0",
                &format!("02:00:00:88:00:{i:02x}"),
                &format!("10.88.0.1{i}/24"),
            );
            lab.plug(
                &format!("b{i}"),
                "br1",
                &h,
                "hb0",
                &format!("02:00:00:99:00:{i:02x}"),
                &format!("10.99.0.1{i}/24"),
            );
            // A spare link for interface trackers (a veth pair: no dummy
            // module needed): trk0 loses carrier when trk0p goes down.
            let n = lab.name(&h);
            ip(&[
                "-n", &n, "link", "add", "trk0", "type", "veth", "peer", "name", "trk0p",
            ]);
            ip(&["-n", &n, "link", "set", "trk0p", "up"]);
            ip(&["-n", &n, "link", "set", "trk0", "up"]);
        }
        lab
    }

    /// Namespace name of `what` (`sw`, `gw`, `h1`, `h2`).
    pub fn name(&self, what: &str) -> String {
        format!("{}{what}", self.prefix)
    }

    pub fn host_ns(&self, i: usize) -> String {
        self.name(&format!("h{i}"))
    }

    fn plug(&self, port: &str, br: &str, ns: &str, ifname: &str, mac: &str, addr: &str) {
        let sw = self.name("sw");
        let ns = self.name(ns);
        ip(&[
            "-n", &sw, "link", "add", port, "type", "veth", "peer", "name", ifname, "netns", &ns,
        ]);
        ip(&["-n", &sw, "link", "set", port, "master", br, "up"]);
        ip(&["-n", &ns, "link", "set", ifname, "address", mac]);
        ip(&["-n", &ns, "addr", "add", addr, "dev", ifname]);
        ip(&["-n", &ns, "link", "set", ifname, "up"]);
    }

    /// Host `i` loses the service segment (its port leaves br0; carrier stays).
    pub fn detach_service(&self, i: usize) {
        ip(&[
            "-n",
            &self.name("sw"),
            "link",
            "set",
            &format!("s{i}"),
            "nomaster",
        ]);
    }

    pub fn attach_service(&self, i: usize) {
        ip(&[
            "-n",
            &self.name("sw"),
            "link",
            "set",
            &format!("s{i}"),
            "master",
            "br0",
        ]);
    }

    /// Host `i` loses the heartbeat link (carrier stays).
    pub fn cut_heartbeat(&self, i: usize) {
        ip(&[
            "-n",
            &self.name("sw"),
            "link",
            "set",
            &format!("b{i}"),
            "nomaster",
        ]);
    }

    pub fn heal_heartbeat(&self, i: usize) {
        ip(&[
            "-n",
            &self.name("sw"),
            "link",
            "set",
            &format!("b{i}"),
            "master",
            "br1",
        ]);
    }

    /// Both hosts still reach the gateway on br0, but no longer each other.
    pub fn isolate_service_peers(&self, on: bool) {
        let v = if on { "on" } else { "off" };
        for p in ["s1", "s2"] {
            run(
                "bridge",
                &[
                    "-n",
                    &self.name("sw"),
                    "link",
                    "set",
                    "dev",
                    p,
                    "isolated",
                    v,
                ],
            );
        }
    }

    /// `ip link set IF up|down` in host `i`.
    pub fn set_link(&self, i: usize, ifname: &str, up: bool) {
        ip(&[
            "-n",
            &self.host_ns(i),
            "link",
            "set",
            ifname,
            if up { "up" } else { "down" },
        ]);
    }

    /// Whether host `i` holds `addr` on eth0 (`ip -n NS -o addr`).
    pub fn holds(&self, i: usize, addr_with_prefix: &str) -> bool {
        ip(&["-n", &self.host_ns(i), "-o", "addr", "show", "dev", "eth0"])
            .split_whitespace()
            .any(|w| w == addr_with_prefix)
    }

    /// The hosts holding the VIP.
    pub fn holders(&self) -> Vec<usize> {
        (1..=2).filter(|&i| self.holds(i, VIP)).collect()
    }

    /// The MAC the gateway has for `addr` (its neighbour entry), if any.
    pub fn gateway_neighbour(&self, addr: &str) -> Option<String> {
        let out = ip(&["-n", &self.name("gw"), "neigh", "show", addr]);
        let mut words = out.split_whitespace();
        words.find(|w| *w == "lladdr")?;
        words.next().map(str::to_string)
    }

    /// Polls `cond` every 5 ms until it holds or `timeout` passes.
    pub fn wait_for(&self, timeout: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
        let start = Instant::now();
        loop {
            if cond() {
                return Some(start.elapsed());
            }
            if start.elapsed() > timeout {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Holds `cond` true for the whole `period` (checked every 5 ms);
    /// returns the first failing instant's offset otherwise.
    pub fn holds_for(
        &self,
        period: Duration,
        mut cond: impl FnMut() -> bool,
    ) -> Result<(), Duration> {
        let start = Instant::now();
        while start.elapsed() < period {
            if !cond() {
                return Err(start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }

    /// Writes a file into the lab directory.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, text).expect("write lab file");
        p
    }

    /// Compiles `topology` with `vigil build`; returns (plan of ha1, plan of
    /// ha2, the compiler's diagnostics).
    pub fn build(&self, name: &str, topology: &str) -> (PathBuf, PathBuf, String) {
        let src = self.write(&format!("{name}.toml"), topology);
        let out = self.dir.join(format!("{name}-out"));
        let res = Command::new(vigil_bin())
            .arg("build")
            .arg(&src)
            .arg("--out")
            .arg(&out)
            .output()
            .expect("run vigil build");
        let diag = format!(
            "{}{}",
            String::from_utf8_lossy(&res.stdout),
            String::from_utf8_lossy(&res.stderr)
        );
        assert!(res.status.success(), "vigil build failed:\n{diag}");
        (out.join("ha1/plan.json"), out.join("ha2/plan.json"), diag)
    }

    /// Starts vigild for host `i` (`ha<i>`); stderr goes to `<dir>/ha<i>.log`.
    pub fn start_vigild(&mut self, i: usize, plan: &Path) -> usize {
        let log = self.dir.join(format!("ha{i}.log"));
        let f = File::options()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.host_ns(i),
                env!("CARGO_BIN_EXE_vigild"),
                "--plan",
            ])
            .arg(plan)
            .args(["--host", &format!("ha{i}")])
            .arg("--control-socket")
            .arg(self.control_socket(i))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(f)
            .spawn()
            .expect("spawn vigild");
        self.children.push(child);
        self.children.len() - 1
    }

    /// Host `i`'s status socket.
    pub fn control_socket(&self, i: usize) -> PathBuf {
        self.dir.join(format!("ha{i}.sock"))
    }

    /// `vigild status --socket <host i's> [--json]`: exit success and stdout.
    pub fn status(&self, i: usize, json: bool) -> (bool, String) {
        let mut c = Command::new(env!("CARGO_BIN_EXE_vigild"));
        c.arg("status").arg("--socket").arg(self.control_socket(i));
        if json {
            c.arg("--json");
        }
        let out = c.output().expect("run vigild status");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    pub fn pid(&self, child: usize) -> i32 {
        self.children[child].id() as i32
    }

    pub fn signal(&self, child: usize, sig: nix::sys::signal::Signal) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid(child)), sig);
    }

    /// The log of host `i`'s vigild.
    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.dir.join(format!("ha{i}.log"))).unwrap_or_default()
    }

    /// Both logs, for assertion messages.
    pub fn logs(&self) -> String {
        format!("--- ha1\n{}--- ha2\n{}", self.log(1), self.log(2))
    }

    /// Log events of host `i` named `event`, parsed.
    pub fn events(&self, i: usize, event: &str) -> Vec<serde_json::Value> {
        self.log(i)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["event"] == event)
            .collect()
    }

    /// Starts tshark on a bridge of the switch namespace.
    pub fn start_capture(&mut self, bridge: &str) -> (usize, PathBuf) {
        let file = self.dir.join(format!("{bridge}.pcap"));
        let mut child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.name("sw"),
                "tshark",
                "-q",
                "-i",
                bridge,
                "-w",
            ])
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tshark (apt-get install -y tshark)");
        let stderr = child.stderr.take().expect("tshark stderr");
        self.children.push(child);
        let idx = self.children.len() - 1;
        use std::io::BufRead;
        let mut reader = std::io::BufReader::new(stderr);
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            if line.contains("Capture started") {
                break;
            }
            line.clear();
        }
        std::thread::sleep(Duration::from_millis(200));
        std::thread::spawn(move || {
            let mut sink = String::new();
            while reader.read_line(&mut sink).unwrap_or(0) > 0 {
                sink.clear();
            }
        });
        (idx, file)
    }

    /// Stops a capture and returns `tshark -r FILE ARGS` output.
    pub fn stop_capture(&mut self, cap: (usize, PathBuf), args: &[&str]) -> String {
        std::thread::sleep(Duration::from_millis(300));
        self.signal(cap.0, nix::sys::signal::Signal::SIGINT);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.children[cap.0].try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut a = vec!["-r", cap.1.to_str().expect("utf-8 path")];
        a.extend_from_slice(args);
        run("tshark", &a)
    }
}

impl Drop for SbLab {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in self.namespaces.iter().rev() {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
        if std::thread::panicking() {
            eprintln!("lab files kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
