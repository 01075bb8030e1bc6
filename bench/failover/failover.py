#!/usr/bin/env python3
"""Failover benchmark: vigild against keepalived in the same namespace lab.

Not a test: a command that prints a table (Markdown) and keeps the raw data.

    bench/failover/failover.py [--reps 10] [--specs v2:1000,v3:100,v3:50,v3:10]
                               [--window 60] [--phases failover,resources,spurious]
                               [--out DIR] [--vigild PATH] [--rt N]
    bench/failover/failover.py --report DIR/results.json   # tables of an earlier run

Everything runs in the lab of lab/lab.sh (prefix `vb`, hosts vb1 = ha1 with
priority 150 and vb2 = ha2 with priority 100, bridge vbbr/br0). For every
repetition the two daemons take turns (vigild, keepalived, vigild, ...), so
both see the same machine load.

Timing sources (as in the keepalived baseline): packet timestamps of a
capture on br0 in the bridge namespace (tcpdump, nanosecond precision).
"Takeover" is the first gratuitous ARP for the VIP from the new master's MAC.

Phases:
  failover   per spec and repetition, with both daemons started fresh:
             cut    carrier loss of ha1 (bridge-side veth down):
                    ha1's last advert -> ha2's first GARP, and its overhead
                    over the RFC bound 3*adv + skew(100);
             heal   link back: heal command -> ha1's first GARP (preempt-back;
                    theory 3*adv + skew(150), measured from before `ip link set up`);
             term   SIGTERM to ha1: its priority-0 advert -> ha2's first GARP
                    (theory skew(100)), and signal -> priority-0 advert;
             start  ha1 restarted while ha2 is master: exec -> ha1's first
                    advert (theory 3*adv + skew(150)) = startup to first advert.
  resources  idle RSS (sum of VmRSS and Pss of all the daemon's processes,
             10 s after start) with 1 router (v2, 1 s) and 100 routers; CPU of
             master and backup over --window seconds with 100 routers at
             100 ms and 10 ms (schedstat on-CPU time; no capture running).
  spurious   100 routers at 10 ms for --window seconds, without and with a
             busy-loop hog on every core: backup MASTER entries (spurious
             takeovers) and the master's advert gaps p50/p99/max, from a
             capture on ha1's own eth0 (the sender).

--rt N runs both daemons under SCHED_FIFO priority N (chrt), for comparison;
the default is the scheduler they get from a plain start (SCHED_OTHER).

Needs root, iproute2, tcpdump, tshark, keepalived and a vigild binary
(default: target/release/vigild, build it with `cargo build --release -p vigild`).
"""

import argparse
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LAB_SH = os.path.join(ROOT, "lab", "lab.sh")
PREFIX = os.environ.get("LAB_PREFIX", "vb")
NS1, NS2, BR = PREFIX + "1", PREFIX + "2", PREFIX + "br"
MAC = {1: "02:00:00:00:4d:01", 2: "02:00:00:00:4d:02"}
ADDR = {1: "10.77.0.11", 2: "10.77.0.12"}
PRIO = {1: 150, 2: 100}
# --rt N: run both daemons under SCHED_FIFO priority N (0 = SCHED_OTHER, the default).
RT_PRIORITY = 0


def skew(prio, adv_ms):
    return (256 - prio) * adv_ms / 256.0


def master_down(prio, adv_ms):
    return 3 * adv_ms + skew(prio, adv_ms)


def sh(*args, check=True, **kw):
    return subprocess.run(args, check=check, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def lab(*args):
    return sh(LAB_SH, "--prefix", PREFIX, *args)


# --- configuration -----------------------------------------------------------

def vips(n):
    """(vrid, vip) of each router: one router is VRID 77 / .100 like the baseline."""
    if n == 1:
        return [(77, "10.77.0.100")]
    return [(i, "10.77.0.%d" % (99 + i)) for i in range(1, n + 1)]


def keepalived_conf(host, version, adv_ms, n):
    adv = "%d" % (adv_ms // 1000) if version == 2 else ("%g" % (adv_ms / 1000.0))
    out = ["global_defs {", "  router_id ha%d" % host, "  vrrp_version %d" % version,
           "  enable_script_security", "}"]
    for vrid, vip in vips(n):
        out += ["vrrp_instance VI_%d {" % vrid,
                "  state %s" % ("MASTER" if host == 1 else "BACKUP"),
                "  interface eth0", "  virtual_router_id %d" % vrid,
                "  priority %d" % PRIO[host], "  advert_int %s" % adv,
                "  virtual_ipaddress {", "    %s/24 dev eth0" % vip, "  }", "}"]
    return "\n".join(out) + "\n"


def vigild_plan(host, version, adv_ms, n):
    cs = adv_ms // 10
    routers = []
    for vrid, vip in vips(n):
        routers.append({
            "name": "vi%03d" % vrid, "interface": "eth0", "family": "ipv4",
            "version": version, "vrid": vrid, "priority": PRIO[host],
            "advert_interval_cs": cs,
            "advert_interval_min_cs": cs if version == 2 else 1,
            "advert_interval_max_cs": cs if version == 2 else 4095,
            "preempt": True, "preempt_delay_ms": 0, "accept": False, "owner": False,
            "source_address": ADDR[host], "unicast_peers": [],
            "peers": [{"host": "ha%d" % (3 - host), "address": ADDR[3 - host], "priority": PRIO[3 - host]}],
            "vips": [{"address": vip, "prefix_len": 24, "label": None}],
            "auth": None, "arbitration": None, "heartbeat_paths": [], "trackers": [],
            "notify": {"master": None, "backup": None, "fault": None, "stop": None, "any": None, "timeout_ms": 5000},
            "garp": {"repeat": 5, "interval_ms": 0, "refresh_ms": 0},
            "expected_role": "master" if host == 1 else "backup", "sync_group": None,
        })
    return json.dumps({
        "format_version": 1, "compiler_version": "bench", "topology_hash": "bench-failover",
        "host": "ha%d" % host, "cluster": "bench",
        # keepalived's baseline config has no vrrp_startup_delay either.
        "startup_delay_ms": 0,
        "routers": routers, "sync_groups": [], "virtual_servers": [],
    }, indent=1)


# --- daemons -------------------------------------------------------------------

class Daemon:
    """One daemon on one lab host; `kind` is "vigild" or "keepalived"."""

    def __init__(self, kind, host, out, tag, vigild):
        self.kind, self.host, self.out, self.tag, self.vigild = kind, host, out, tag, vigild
        self.rt = RT_PRIORITY
        self.ns = PREFIX + str(host)
        self.log = os.path.join(out, "%s-%s-ha%d.log" % (tag, kind, host))
        self.proc = None

    def write_config(self, version, adv_ms, n):
        if self.kind == "vigild":
            self.conf = os.path.join(self.out, "%s-ha%d.plan.json" % (self.tag, self.host))
            text = vigild_plan(self.host, version, adv_ms, n)
        else:
            self.conf = os.path.join(self.out, "%s-ha%d.keepalived.conf" % (self.tag, self.host))
            text = keepalived_conf(self.host, version, adv_ms, n)
        with open(self.conf, "w") as f:
            f.write(text)

    def pidfile(self, what):
        return os.path.join(self.out, "%s-ha%d.%s.pid" % (self.tag, self.host, what))

    def start(self):
        """Starts the daemon; returns the wall-clock instant just before exec."""
        logf = open(self.log, "a")
        if self.kind == "vigild":
            cmd = ["ip", "netns", "exec", self.ns, self.vigild, "--plan", self.conf, "--host", "ha%d" % self.host]
        else:
            for w in ("main", "vrrp", "chk", "bfd"):
                try:
                    os.unlink(self.pidfile(w))
                except FileNotFoundError:
                    pass
            cmd = ["ip", "netns", "exec", self.ns, "keepalived", "--dont-fork", "--log-console", "--log-detail",
                   "--no-syslog", "--vrrp", "-f", self.conf, "-p", self.pidfile("main"), "-r", self.pidfile("vrrp"),
                   "-c", self.pidfile("chk"), "-b", self.pidfile("bfd")]
        if self.rt:
            # The same real-time policy for both daemons (keepalived's own
            # vrrp_rt_priority is not used, so neither side gets an advantage).
            cmd = cmd[:4] + ["chrt", "-f", str(self.rt)] + cmd[4:]
        t = time.time()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)
        logf.close()
        return t

    def pids(self):
        """Every process of the daemon (keepalived: parent and VRRP child)."""
        if self.proc is None:
            return []
        out = [self.proc.pid]
        if self.kind == "keepalived":
            for _ in range(200):
                try:
                    with open(self.pidfile("vrrp")) as f:
                        out.append(int(f.read().strip()))
                    break
                except (FileNotFoundError, ValueError):
                    time.sleep(0.01)
        return out

    def signal(self, sig):
        if self.proc is not None:
            self.proc.send_signal(sig)

    def stop(self, timeout=10):
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def master_entries(self):
        """How many times this daemon has entered MASTER (any router) so far."""
        try:
            text = open(self.log).read()
        except FileNotFoundError:
            return 0
        if self.kind == "vigild":
            return len(re.findall(r'"event":"state_change".*"to":"master"', text))
        return text.count("Entering MASTER STATE")


def holds(ns, vip):
    out = sh("ip", "-n", ns, "-o", "-4", "addr", "show", "dev", "eth0", check=False).stdout
    return (" %s/" % vip) in out


def vip_count(ns):
    out = sh("ip", "-n", ns, "-o", "-4", "addr", "show", "dev", "eth0", check=False).stdout
    return out.count("inet ") - 1


def wait_until(cond, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.01)
    raise RuntimeError("timed out waiting for " + what)


class Capture:
    """tcpdump with nanosecond timestamps; waits until it is listening."""

    def __init__(self, ns, iface, path, bpf):
        self.path = path
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, "tcpdump", "-i", iface, "-U", "-n", "--time-stamp-precision=nano",
             "-B", "16384", "-w", path, bpf], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        while True:
            line = self.proc.stderr.readline()
            if not line or "listening on" in line:
                break
        time.sleep(0.2)

    def stop(self):
        time.sleep(0.3)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        err = self.proc.stderr.read()
        m = re.search(r"(\d+) packets dropped by kernel", err)
        return int(m.group(1)) if m else None


def packets(pcap):
    """(ts, src_mac, kind, vrid, prio, arp_ip) of every VRRP advert and ARP frame."""
    out = sh("tshark", "-r", pcap, "-Y", "vrrp or arp", "-T", "fields", "-e", "frame.time_epoch", "-e", "eth.src",
             "-e", "vrrp.virt_rtr_id", "-e", "vrrp.prio", "-e", "arp.src.proto_ipv4", "-E", "separator=\t",
             check=False).stdout
    res = []
    for line in out.splitlines():
        f = line.split("\t")
        if len(f) < 5:
            continue
        ts = float(f[0])
        if f[2]:
            res.append((ts, f[1], "adv", int(f[2]), int(f[3]), None))
        elif f[4]:
            res.append((ts, f[1], "arp", None, None, f[4]))
    return res


# --- statistics ------------------------------------------------------------------

def med_min_max(xs, digits=1):
    if not xs:
        return "n/a"
    fmt = "%%.%df" % digits
    return "%s (%s–%s)" % (fmt % statistics.median(xs), fmt % min(xs), fmt % max(xs))


def pct(xs, p):
    if not xs:
        return float("nan")
    s = sorted(xs)
    k = min(len(s) - 1, max(0, int(round(p / 100.0 * (len(s) - 1)))))
    return s[k]


# --- failover phase ------------------------------------------------------------------

def failover_rep(kind, version, adv_ms, rep, out, vigild, events):
    tag = "fo-v%d-%d" % (version, adv_ms)
    d1, d2 = Daemon(kind, 1, out, tag, vigild), Daemon(kind, 2, out, tag, vigild)
    for d in (d1, d2):
        d.write_config(version, adv_ms, 1)
    adv = adv_ms / 1000.0
    vip = "10.77.0.100"
    md = master_down(100, adv_ms) / 1000.0
    tmo = 4 * md + 5
    ev = {"daemon": kind, "version": version, "adv_ms": adv_ms, "rep": rep}
    try:
        d2.start()
        d1.start()
        wait_until(lambda: holds(NS1, vip) and not holds(NS2, vip), tmo, "ha1 master")
        time.sleep(3 * adv + random.uniform(0, adv))
        # cut: host death by carrier loss
        ev["t_cut"] = time.time()
        lab("cut", "1")
        wait_until(lambda: holds(NS2, vip), tmo, "ha2 takes over after cut")
        time.sleep(2 * adv + 0.05)
        # heal: ha1 returns and preempts
        time.sleep(random.uniform(0, adv))
        ev["t_heal"] = time.time()
        lab("heal", "1")
        wait_until(lambda: holds(NS1, vip) and not holds(NS2, vip), tmo, "ha1 preempts after heal")
        time.sleep(3 * adv + random.uniform(0, adv))
        # term: graceful stop, priority 0
        ev["t_term"] = time.time()
        d1.signal(signal.SIGTERM)
        wait_until(lambda: holds(NS2, vip), tmo, "ha2 takes over after SIGTERM")
        d1.proc.wait(10)
        d1.proc = None
        time.sleep(2 * adv + random.uniform(0, adv))
        # start: ha1 starts again while ha2 is master
        ev["t_start"] = d1.start()
        wait_until(lambda: holds(NS1, vip) and not holds(NS2, vip), tmo, "ha1 preempts after restart")
        time.sleep(0.1)
    finally:
        d1.stop()
        d2.stop()
    events.append(ev)


def analyze_failover(pcap, events):
    pk = packets(pcap)
    adv1 = [p for p in pk if p[2] == "adv" and p[1] == MAC[1] and p[3] == 77]
    garp1 = [p[0] for p in pk if p[2] == "arp" and p[1] == MAC[1] and p[5] == "10.77.0.100"]
    garp2 = [p[0] for p in pk if p[2] == "arp" and p[1] == MAC[2] and p[5] == "10.77.0.100"]
    rows = []
    for ev in events:
        a = ev["adv_ms"]
        r = dict(ev)
        g2 = [t for t in garp2 if t > ev["t_cut"]]
        if g2:
            last = [p[0] for p in adv1 if p[0] < g2[0] and p[4] > 0]
            if last:
                r["cut_ms"] = (g2[0] - last[-1]) * 1000
                r["cut_over_ms"] = r["cut_ms"] - master_down(100, a)
        g1 = [t for t in garp1 if t > ev["t_heal"]]
        if g1:
            r["heal_ms"] = (g1[0] - ev["t_heal"]) * 1000
            r["heal_over_ms"] = r["heal_ms"] - master_down(150, a)
        p0 = [p[0] for p in adv1 if p[0] > ev["t_term"] and p[4] == 0]
        if p0:
            r["sig_to_prio0_ms"] = (p0[0] - ev["t_term"]) * 1000
            g2 = [t for t in garp2 if t > p0[0]]
            if g2:
                r["term_ms"] = (g2[0] - p0[0]) * 1000
                r["term_over_ms"] = r["term_ms"] - skew(100, a)
        f1 = [p[0] for p in adv1 if p[0] > ev["t_start"] and p[4] > 0]
        if f1:
            r["start_ms"] = (f1[0] - ev["t_start"]) * 1000
            r["start_over_ms"] = r["start_ms"] - master_down(150, a)
        rows.append(r)
    return rows


def phase_failover(args, out, results):
    for spec in args.specs.split(","):
        v, a = spec.split(":")
        version, adv_ms = int(v[1:]), int(a)
        pcap = os.path.join(out, "failover-v%d-%d.pcap" % (version, adv_ms))
        cap = Capture(BR, "br0", pcap, "ip proto 112 or arp")
        events = []
        try:
            for rep in range(1, args.reps + 1):
                order = ["vigild", "keepalived"] if rep % 2 else ["keepalived", "vigild"]
                for kind in order:
                    print("  failover v%d %d ms rep %d %s" % (version, adv_ms, rep, kind), file=sys.stderr, flush=True)
                    failover_rep(kind, version, adv_ms, rep, out, args.vigild, events)
        finally:
            dropped = cap.stop()
        rows = analyze_failover(pcap, events)
        for r in rows:
            r["capture_dropped"] = dropped
        results["failover"] += rows
        save(out, results)


# --- resources and spurious takeovers ----------------------------------------------------

def cpu_ns(pids):
    total = 0
    for pid in pids:
        try:
            for tid in os.listdir("/proc/%d/task" % pid):
                with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                    total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def mem_kb(pids):
    rss = pss = 0
    for pid in pids:
        try:
            for line in open("/proc/%d/status" % pid):
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1])
            for line in open("/proc/%d/smaps_rollup" % pid):
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except FileNotFoundError:
            pass
    return rss, pss


def start_pair(kind, version, adv_ms, n, out, vigild, tag):
    d1, d2 = Daemon(kind, 1, out, tag, vigild), Daemon(kind, 2, out, tag, vigild)
    for d in (d1, d2):
        d.write_config(version, adv_ms, n)
    t0 = d2.start()
    d1.start()
    md = master_down(100, adv_ms) / 1000.0
    wait_until(lambda: vip_count(NS1) == n and vip_count(NS2) == 0, 4 * md + 20, "ha1 master of all %d" % n)
    return d1, d2, t0


def hog_start():
    return [subprocess.Popen(["sh", "-c", "while :; do :; done"]) for _ in range(os.cpu_count() or 2)]


def hog_stop(hogs):
    for h in hogs:
        h.kill()
        h.wait()


def phase_resources(args, out, results):
    configs = [(1, 2, 1000, 10), (100, 3, 100, args.window), (100, 3, 10, args.window)]
    for n, version, adv_ms, window in configs:
        for kind in ("vigild", "keepalived"):
            print("  resources %d x v%d %d ms %s" % (n, version, adv_ms, kind), file=sys.stderr, flush=True)
            tag = "res-%d-v%d-%d" % (n, version, adv_ms)
            d1, d2, t0 = start_pair(kind, version, adv_ms, n, out, args.vigild, tag)
            try:
                time.sleep(max(0.0, t0 + 10 - time.time()))
                row = {"daemon": kind, "routers": n, "version": version, "adv_ms": adv_ms, "window_s": window,
                       "load": open("/proc/loadavg").read().split()[:3]}
                p1, p2 = d1.pids(), d2.pids()
                row["rss_master_kb"], row["pss_master_kb"] = mem_kb(p1)
                row["rss_backup_kb"], row["pss_backup_kb"] = mem_kb(p2)
                m0 = d2.master_entries()
                c1, c2, w0 = cpu_ns(p1), cpu_ns(p2), time.time()
                time.sleep(window if n > 1 else 0)
                c1b, c2b, w1 = cpu_ns(p1), cpu_ns(p2), time.time()
                row["cpu_master_pct"] = (c1b - c1) / 1e9 / (w1 - w0) * 100 if n > 1 else None
                row["cpu_backup_pct"] = (c2b - c2) / 1e9 / (w1 - w0) * 100 if n > 1 else None
                row["spurious"] = d2.master_entries() - m0
            finally:
                d1.stop()
                d2.stop()
            results["resources"].append(row)
            save(out, results)


def sender_gaps(pcap):
    out = sh("tcpdump", "-r", pcap, "-nn", "-tt", "--time-stamp-precision=nano", check=False).stdout
    last, gaps, count = {}, [], 0
    for line in out.splitlines():
        m = re.match(r"(\d+\.\d+) IP 10\.77\.0\.11 > .*vrid (\d+), prio (\d+)", line)
        if not m:
            continue
        ts, vrid = float(m.group(1)), int(m.group(2))
        count += 1
        if vrid in last:
            gaps.append((ts - last[vrid]) * 1000)
        last[vrid] = ts
    return gaps, count


def phase_spurious(args, out, results):
    for hog in (False, True):
        for kind in ("vigild", "keepalived"):
            print("  spurious 100 x 10 ms hog=%s %s" % (hog, kind), file=sys.stderr, flush=True)
            tag = "sp-%s" % ("hog" if hog else "idle")
            d1, d2, _ = start_pair(kind, 3, 10, 100, out, args.vigild, tag)
            pcap = os.path.join(out, "spurious-%s-%s.pcap" % (tag, kind))
            hogs = []
            try:
                time.sleep(2)
                cap = Capture(NS1, "eth0", pcap, "ip proto 112 and src host 10.77.0.11")
                m0 = d2.master_entries()
                hogs = hog_start() if hog else []
                w0 = time.time()
                time.sleep(args.window)
                w1 = time.time()
                hog_stop(hogs)
                hogs = []
                spurious = d2.master_entries() - m0
                load = open("/proc/loadavg").read().split()[:3]
                dropped = cap.stop()
            finally:
                hog_stop(hogs)
                d1.stop()
                d2.stop()
            gaps, count = sender_gaps(pcap)
            os.unlink(pcap)
            results["spurious"].append({
                "daemon": kind, "hog": hog, "window_s": w1 - w0, "spurious": spurious,
                "adverts_per_s": count / (w1 - w0), "gap_p50_ms": pct(gaps, 50), "gap_p99_ms": pct(gaps, 99),
                "gap_max_ms": max(gaps) if gaps else float("nan"), "capture_dropped": dropped, "load": load})
            save(out, results)


# --- report ----------------------------------------------------------------------

def save(out, results):
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)


def report(results):
    lines = []
    fo = results["failover"]
    if fo:
        lines.append("### Failover (ms, median (min–max); per cell n = repetitions)")
        lines.append("")
        lines.append("| interval | daemon | n | cut: last advert → new master's GARP | overhead over 3·adv+skew | "
                     "term: prio-0 advert → GARP | overhead over skew | signal → prio-0 advert | "
                     "heal → preempt GARP (over 3·adv+skew₁₅₀) | start → first advert (over 3·adv+skew₁₅₀) |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|")
        specs = []
        for r in fo:
            k = (r["version"], r["adv_ms"])
            if k not in specs:
                specs.append(k)
        for version, a in specs:
            for kind in ("vigild", "keepalived"):
                rs = [r for r in fo if r["version"] == version and r["adv_ms"] == a and r["daemon"] == kind]
                col = lambda key: [r[key] for r in rs if key in r]
                lines.append("| v%d %s | %s | %d | %s | %s | %s | %s | %s | %s (%s) | %s (%s) |" % (
                    version, ("%d s" % (a // 1000)) if a >= 1000 else ("%d ms" % a), kind, len(rs),
                    med_min_max(col("cut_ms")), med_min_max(col("cut_over_ms"), 2),
                    med_min_max(col("term_ms")), med_min_max(col("term_over_ms"), 2),
                    med_min_max(col("sig_to_prio0_ms"), 2),
                    med_min_max(col("heal_ms")), med_min_max(col("heal_over_ms")),
                    med_min_max(col("start_ms")), med_min_max(col("start_over_ms"))))
        lines.append("")
    rs = results["resources"]
    if rs:
        lines.append("### Resources (sum over all processes of the daemon)")
        lines.append("")
        lines.append("| routers | version, interval | daemon | VmRSS master / backup (kB) | Pss master / backup (kB) | "
                     "CPU master / backup (% of a core) | backup MASTER entries in window | load (1/5/15) |")
        lines.append("|---|---|---|---|---|---|---|---|")
        for r in rs:
            cpu = "—" if r["cpu_master_pct"] is None else "%.2f / %.2f (%d s)" % (
                r["cpu_master_pct"], r["cpu_backup_pct"], r["window_s"])
            lines.append("| %d | v%d %d ms | %s | %d / %d | %d / %d | %s | %d | %s |" % (
                r["routers"], r["version"], r["adv_ms"], r["daemon"], r["rss_master_kb"], r["rss_backup_kb"],
                r["pss_master_kb"], r["pss_backup_kb"], cpu, r["spurious"], " ".join(r["load"])))
        lines.append("")
    sp = results["spurious"]
    if sp:
        lines.append("### Steady state: 100 routers at 10 ms (master's advert gaps at the sender)")
        lines.append("")
        lines.append("| hog on every core | daemon | window (s) | spurious takeovers | adverts/s sent | "
                     "gap p50 / p99 / max (ms) | load (1/5/15) |")
        lines.append("|---|---|---|---|---|---|---|")
        for r in sp:
            lines.append("| %s | %s | %.0f | %d | %.0f | %.2f / %.2f / %.1f | %s |" % (
                "yes" if r["hog"] else "no", r["daemon"], r["window_s"], r["spurious"], r["adverts_per_s"],
                r["gap_p50_ms"], r["gap_p99_ms"], r["gap_max_ms"], " ".join(r["load"])))
        lines.append("")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--specs", default="v2:1000,v3:100,v3:50,v3:10",
                    help="comma-separated VERSION:INTERVAL_MS (v2 needs whole seconds)")
    ap.add_argument("--window", type=int, default=60, help="CPU and steady-state window in seconds")
    ap.add_argument("--phases", default="failover,resources,spurious")
    ap.add_argument("--out", default=None, help="directory for pcaps, logs, results.json, results.md")
    ap.add_argument("--vigild", default=os.path.join(ROOT, "target", "release", "vigild"))
    ap.add_argument("--rt", type=int, default=0, metavar="N",
                    help="run both daemons under SCHED_FIFO priority N (chrt -f N); default SCHED_OTHER")
    ap.add_argument("--report", metavar="RESULTS_JSON", help="only print the table of an earlier run")
    args = ap.parse_args()
    if args.report:
        print(report(json.load(open(args.report))))
        return
    global RT_PRIORITY
    RT_PRIORITY = args.rt
    if os.geteuid() != 0:
        sys.exit("failover.py: must run as root (network namespaces)")
    for tool in ("ip", "tcpdump", "tshark", "keepalived"):
        if subprocess.run(["sh", "-c", "command -v " + tool], stdout=subprocess.DEVNULL).returncode != 0:
            sys.exit("failover.py: %s is not installed" % tool)
    if not os.access(args.vigild, os.X_OK):
        sys.exit("failover.py: no vigild at %s (cargo build --release -p vigild)" % args.vigild)
    out = args.out or "/tmp/vigil-failover-%s" % time.strftime("%Y%m%dT%H%M%S")
    os.makedirs(out, exist_ok=True)
    results = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "args": vars(args),
               "uptime_before": sh("uptime").stdout.strip(), "nproc": os.cpu_count(),
               "keepalived": sh("keepalived", "--version", check=False).stderr.splitlines()[0:1],
               "failover": [], "resources": [], "spurious": []}
    print("failover.py: output in %s; %s" % (out, results["uptime_before"]), file=sys.stderr)
    lab("up", "2")
    try:
        phases = args.phases.split(",")
        if "failover" in phases:
            phase_failover(args, out, results)
        if "resources" in phases:
            phase_resources(args, out, results)
        if "spurious" in phases:
            phase_spurious(args, out, results)
    finally:
        results["uptime_after"] = sh("uptime").stdout.strip()
        save(out, results)
        lab("down")
    text = report(results)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(text + "\n")
    print("Load: before: %s; after: %s" % (results["uptime_before"], results["uptime_after"]))
    print()
    print(text)


if __name__ == "__main__":
    main()
