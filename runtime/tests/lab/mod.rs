//! A network-namespace lab for integration tests.
//!
//! Layout (like `lab/lab.sh`): a bridge namespace `<prefix>br` holding `br0`
//! (no STP, no forwarding delay, no multicast snooping) and, per host `i`, a
//! namespace `<prefix>h<i>` whose `eth0` (MAC 02:00:00:00:<t>:<i>, address
//! 10.<subnet>.0.<10+i>/24, IPv6 link-local without DAD) is one end of a veth
//! pair; the other end `p<i>` is a port of `br0`. Nothing touches the root
//! namespace. Every namespace is deleted in `Drop`, which also runs when a
//! test panics, and every process started through the lab is killed there.
//!
//! Each test passes its own short tag, so labs of tests running in parallel
//! never share a namespace name.

#![allow(dead_code)]

use std::fs::File;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `ip ARGS...`, panicking with its stderr on failure.
pub fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `true` if the lab can run here; `false` (after a message) when the test
/// should be skipped because `VIGIL_SKIP_NETNS=1`; panics otherwise.
pub fn available() -> bool {
    let root = nix::unistd::geteuid().is_root();
    let netns = Command::new("ip")
        .args(["netns", "list"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if root && netns {
        return true;
    }
    let why = if !root {
        "this test must run as root"
    } else {
        "`ip netns` is not available"
    };
    if std::env::var("VIGIL_SKIP_NETNS").as_deref() == Ok("1") {
        eprintln!("SKIPPED: {why} (VIGIL_SKIP_NETNS=1)");
        return false;
    }
    panic!(
        "{why}: the namespace lab needs root and iproute2; set VIGIL_SKIP_NETNS=1 to skip these tests"
    );
}

/// A running lab.
pub struct Lab {
    pub prefix: String,
    pub hosts: usize,
    /// Second octet of this lab's IPv4 subnet (10.<subnet>.0.0/24).
    pub subnet: u8,
    children: Vec<Child>,
    namespaces: Vec<String>,
    pub dir: PathBuf,
}

impl Lab {
    /// Builds a lab with `hosts` hosts; `tag` must be unique per test (≤ 6 chars).
    pub fn new(tag: &str, hosts: usize) -> Lab {
        let prefix = format!("vg{tag}{}", std::process::id() % 100_000);
        // Labs are isolated from each other, so all use 10.77.0.0/24 and the
        // plan files in tests/plans/ can name fixed addresses.
        let subnet = 77;
        let dir = std::env::temp_dir().join(format!("{prefix}-lab"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("lab dir");
        let mut lab = Lab {
            prefix,
            hosts,
            subnet,
            children: Vec::new(),
            namespaces: Vec::new(),
            dir,
        };
        // A leftover from a crashed run with the same pid is removed first.
        for ns in std::iter::once(lab.bridge_ns()).chain((1..=hosts).map(|i| lab.ns(i))) {
            let _ = Command::new("ip")
                .args(["netns", "del", &ns])
                .stderr(Stdio::null())
                .status();
        }
        let br = lab.bridge_ns();
        ip(&["netns", "add", &br]);
        lab.namespaces.push(br.clone());
        ip(&["-n", &br, "link", "set", "lo", "up"]);
        ip(&[
            "-n",
            &br,
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "stp_state",
            "0",
            "forward_delay",
            "0",
            "mcast_snooping",
            "0",
        ]);
        ip(&["-n", &br, "link", "set", "br0", "up"]);
        for i in 1..=hosts {
            let ns = lab.ns(i);
            ip(&["netns", "add", &ns]);
            lab.namespaces.push(ns.clone());
            lab.sysctl(i, "net.ipv6.conf.all.accept_dad", "0");
            lab.sysctl(i, "net.ipv6.conf.default.accept_dad", "0");
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
            lab.attach(i);
        }
        lab
    }

    /// Creates host `i`'s `eth0` (a veth whose other end `p<i>` is a port of
    /// `br0`) with its fixed MAC and address, and brings it up.
    fn attach(&self, i: usize) {
        let (br, ns) = (self.bridge_ns(), self.ns(i));
        let port = format!("p{i}");
        let mac = format!("02:00:00:00:{:02x}:{:02x}", self.subnet, i);
        ip(&[
            "-n", &br, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &ns,
        ]);
        ip(&["-n", &br, "link", "set", &port, "master", "br0", "up"]);
        self.sysctl(i, "net.ipv6.conf.eth0.accept_dad", "0");
        ip(&["-n", &ns, "link", "set", "eth0", "address", &mac]);
        ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{}/24", self.addr(i)),
            "dev",
            "eth0",
        ]);
        ip(&["-n", &ns, "link", "set", "eth0", "up"]);
    }

    /// `ip link del eth0` in host `i` (the bridge-side end goes with it).
    pub fn delete_eth0(&self, i: usize) {
        ip(&["-n", &self.ns(i), "link", "del", "eth0"]);
    }

    /// Re-creates host `i`'s `eth0` after [`Lab::delete_eth0`]: same name,
    /// MAC and address, a new ifindex, attached to the bridge as at start.
    pub fn recreate_eth0(&self, i: usize) {
        self.attach(i);
    }

    /// The ifindex of `dev` in host `i`.
    pub fn ifindex(&self, i: usize, dev: &str) -> u32 {
        let out = ip(&["-n", &self.ns(i), "-o", "link", "show", "dev", dev]);
        out.split(':')
            .next()
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no ifindex in {out}"))
    }

    pub fn bridge_ns(&self) -> String {
        format!("{}br", self.prefix)
    }

    /// Namespace of host `i` (1-based).
    pub fn ns(&self, i: usize) -> String {
        format!("{}h{i}", self.prefix)
    }

    /// IPv4 address of host `i`.
    pub fn addr(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, self.subnet, 0, 10 + i as u8)
    }

    /// An address in the lab subnet that no host has (for VIPs).
    pub fn vip(&self, n: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, self.subnet, 0, 100 + n)
    }

    /// Host `i`'s IPv6 link-local address (from its fixed MAC).
    pub fn link_local(&self, i: usize) -> std::net::Ipv6Addr {
        let out = ip(&[
            "-n",
            &self.ns(i),
            "-6",
            "-o",
            "addr",
            "show",
            "dev",
            "eth0",
            "scope",
            "link",
        ]);
        let word = out
            .split_whitespace()
            .skip_while(|w| *w != "inet6")
            .nth(1)
            .expect("link-local address");
        word.split('/')
            .next()
            .unwrap()
            .parse()
            .expect("parse link-local")
    }

    /// Host `i`'s MAC.
    pub fn mac(&self, i: usize) -> [u8; 6] {
        [2, 0, 0, 0, self.subnet, i as u8]
    }

    pub fn sysctl(&self, i: usize, key: &str, value: &str) {
        let st = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.ns(i),
                "sysctl",
                "-qw",
                &format!("{key}={value}"),
            ])
            .status()
            .expect("sysctl");
        assert!(st.success(), "sysctl {key} in {}", self.ns(i));
    }

    /// Carrier loss for host `i`: its bridge-side veth goes down.
    pub fn cut(&self, i: usize) {
        ip(&[
            "-n",
            &self.bridge_ns(),
            "link",
            "set",
            &format!("p{i}"),
            "down",
        ]);
    }

    pub fn heal(&self, i: usize) {
        ip(&[
            "-n",
            &self.bridge_ns(),
            "link",
            "set",
            &format!("p{i}"),
            "up",
        ]);
    }

    /// `ip -o addr show dev eth0` in host `i`.
    pub fn addrs(&self, i: usize) -> String {
        ip(&["-n", &self.ns(i), "-o", "addr", "show", "dev", "eth0"])
    }

    /// Whether host `i` holds `addr` (as printed, e.g. "10.100.0.101/24").
    pub fn holds(&self, i: usize, addr_with_prefix: &str) -> bool {
        self.addrs(i)
            .split_whitespace()
            .any(|w| w == addr_with_prefix)
    }

    /// The hosts holding `addr_with_prefix`.
    pub fn holders(&self, addr_with_prefix: &str) -> Vec<usize> {
        (1..=self.hosts)
            .filter(|&i| self.holds(i, addr_with_prefix))
            .collect()
    }

    /// Polls `cond` every 5 ms until it holds or `timeout` passes; returns the wait.
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

    /// Runs `f` on a new thread inside host `i`'s namespace (sockets it opens stay there).
    pub fn in_ns<T: Send + 'static>(&self, i: usize, f: impl FnOnce() -> T + Send + 'static) -> T {
        run_in_netns(&self.ns(i), f)
    }

    /// Writes a file into the lab directory and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, text).expect("write lab file");
        p
    }

    /// Starts `vigild --plan PLAN --host NAME` in host `i`; stderr goes to
    /// `<dir>/<name>.log`. Returns the index to use with [`Lab::pid`] and friends.
    pub fn start_vigild(&mut self, i: usize, plan: &Path, host: &str) -> usize {
        self.start_vigild_env(i, plan, host, &[])
    }

    /// [`Lab::start_vigild`] with extra environment variables.
    pub fn start_vigild_env(
        &mut self,
        i: usize,
        plan: &Path,
        host: &str,
        env: &[(&str, &str)],
    ) -> usize {
        self.start_vigild_args(i, plan, host, env, &[])
    }

    /// [`Lab::start_vigild`] with extra environment variables and arguments.
    pub fn start_vigild_args(
        &mut self,
        i: usize,
        plan: &Path,
        host: &str,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> usize {
        let log = self.dir.join(format!("{host}.log"));
        let f = File::options()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.ns(i),
                env!("CARGO_BIN_EXE_vigild"),
                "--plan",
            ])
            .arg(plan)
            .args(["--host", host])
            // Each lab keeps its daemons' ledgers (and nothing else shares them).
            .arg("--state-dir")
            .arg(self.dir.join("state"))
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(f)
            .spawn()
            .expect("spawn vigild");
        self.children.push(child);
        self.children.len() - 1
    }

    /// Starts `program ARGS...` in host `i` (killed when the lab is
    /// dropped); stdout and stderr go to `<dir>/<log>.log`.
    pub fn start_process(&mut self, i: usize, program: &str, args: &[&str], log: &str) -> usize {
        let f = File::create(self.dir.join(format!("{log}.log"))).expect("log file");
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns(i), program])
            .args(args)
            .stdin(Stdio::null())
            .stdout(f.try_clone().expect("log file"))
            .stderr(f)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {program}: {e}"));
        self.children.push(child);
        self.children.len() - 1
    }

    pub fn pid(&self, child: usize) -> i32 {
        self.children[child].id() as i32
    }

    /// Sends `sig` to a started process.
    pub fn signal(&self, child: usize, sig: nix::sys::signal::Signal) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid(child)), sig);
    }

    /// Waits for a started process to exit; its exit code, or `None` on timeout.
    pub fn wait_exit(
        &mut self,
        child: usize,
        timeout: Duration,
    ) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        loop {
            if let Ok(Some(st)) = self.children[child].try_wait() {
                return Some(st);
            }
            if start.elapsed() > timeout {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The stderr log of a host's vigild.
    pub fn log(&self, host: &str) -> String {
        std::fs::read_to_string(self.dir.join(format!("{host}.log"))).unwrap_or_default()
    }

    /// Starts a packet capture on the bridge; stop it with [`Lab::stop_capture`].
    pub fn start_capture(&mut self, name: &str) -> (usize, PathBuf) {
        let file = self.dir.join(format!("{name}.pcap"));
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.bridge_ns(),
                "tshark",
                "-q",
                "-i",
                "br0",
                "-w",
            ])
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tshark (apt-get install -y tshark)");
        self.children.push(child);
        let idx = self.children.len() - 1;
        // tshark prints "Capture started" once dumpcap is live.
        let stderr = self.children[idx].stderr.take().expect("tshark stderr");
        let mut reader = std::io::BufReader::new(stderr);
        let mut line = String::new();
        use std::io::BufRead;
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            if line.contains("Capture started") {
                break;
            }
            line.clear();
        }
        std::thread::sleep(Duration::from_millis(200));
        // Keep draining so tshark never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while reader.read_line(&mut sink).unwrap_or(0) > 0 {
                sink.clear();
            }
        });
        (idx, file)
    }

    /// Stops a capture (SIGINT lets tshark flush) and returns the file.
    pub fn stop_capture(&mut self, cap: (usize, PathBuf)) -> PathBuf {
        std::thread::sleep(Duration::from_millis(300));
        self.signal(cap.0, nix::sys::signal::Signal::SIGINT);
        let _ = self.wait_exit(cap.0, Duration::from_secs(5));
        cap.1
    }
}

/// `tshark -r FILE ARGS...` output.
pub fn tshark_read(file: &Path, args: &[&str]) -> String {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args(args)
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `f` on a new thread that first enters network namespace `ns`.
pub fn run_in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let fd = File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
        nix::sched::setns(fd, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        f()
    })
    .join()
    .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

impl Drop for Lab {
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
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("lab files kept in {}", self.dir.display());
        }
    }
}
