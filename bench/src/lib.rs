//! Synthetic topologies for benchmarks.
//!
//! [`generate`] writes a large topology that a correct compiler must find
//! clean, so that a benchmark measures the normal path (parse, resolve, every
//! lint, plan emission) rather than an early exit on the first error:
//!
//! * segments are added until no segment needs more than
//!   [`MAX_ROUTERS_PER_SEGMENT`] VRIDs or holds more than
//!   [`MAX_HOSTS_PER_SEGMENT`] hosts, so VRIDs stay unique per segment;
//! * each segment is a `/22` in `10.0.0.0/8`: the gateway (the reference IP)
//!   at `.1`, hosts from offset 10, VIPs from offset 512, so no VIP equals a
//!   host address or a reference IP;
//! * each router has two or three members from its segment with distinct
//!   priorities, arbitration by the segment's reference IP, and one tracker
//!   whose demotion is large enough to move the VIP (or a `fault` tracker);
//! * every segment reserves one VRID the routers never use.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

/// VRIDs used per segment (1..=200); 254 is reserved for "someone else".
pub const MAX_ROUTERS_PER_SEGMENT: usize = 200;
/// Hosts per segment; host offsets 10..410 stay below the VIP range at 512.
pub const MAX_HOSTS_PER_SEGMENT: usize = 400;

const RESERVED_VRID: usize = 254;
const PREFIX: u8 = 22;
const SEGMENT_SIZE: u32 = 1 << (32 - PREFIX);
const HOST_OFFSET: u32 = 10;
const VIP_OFFSET: u32 = 512;
/// Priorities of the members, best first. A demotion of [`DEMOTE`] takes any
/// member below the next one and never below 1.
const PRIORITIES: [u32; 3] = [200, 150, 100];
const DEMOTE: u32 = 90;

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub hosts: usize,
    pub routers: usize,
}

impl Shape {
    /// The number of segments: enough for unique VRIDs and addresses.
    pub fn segments(&self) -> usize {
        self.routers
            .div_ceil(MAX_ROUTERS_PER_SEGMENT)
            .max(self.hosts.div_ceil(MAX_HOSTS_PER_SEGMENT))
            .max(1)
    }
}

/// `total` split into `parts` nearly equal shares; the first ones get the remainder.
fn share(total: usize, parts: usize, index: usize) -> usize {
    total / parts + usize::from(index < total % parts)
}

fn segment_base(segment: usize) -> u32 {
    u32::from(Ipv4Addr::new(10, 0, 0, 0)) + segment as u32 * SEGMENT_SIZE
}

fn addr(base: u32, offset: u32) -> Ipv4Addr {
    Ipv4Addr::from(base + offset)
}

/// The topology as TOML text, or why this shape cannot be generated.
pub fn generate(shape: Shape) -> Result<String, String> {
    let segments = shape.segments();
    if segments > 16_384 {
        return Err(format!(
            "{segments} segments do not fit in 10.0.0.0/8 as /{PREFIX}s"
        ));
    }
    for s in 0..segments {
        if share(shape.routers, segments, s) > 0 && share(shape.hosts, segments, s) < 2 {
            return Err(format!(
                "{} hosts over {segments} segments leave fewer than two hosts for some routers; \
                 use at least {} hosts",
                shape.hosts,
                2 * segments
            ));
        }
    }

    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(
        w,
        "# Synthetic topology: {} hosts, {} routers over {segments} segments (bench/gen-topology).",
        shape.hosts, shape.routers
    );
    let _ = writeln!(w, "\n[cluster]\nname = \"bench\"");

    let mut first_host = 0;
    let mut first_router = 0;
    for s in 0..segments {
        let base = segment_base(s);
        let hosts = share(shape.hosts, segments, s);
        let routers = share(shape.routers, segments, s);
        let segment = format!("s{s:04}");

        let _ = writeln!(w, "\n[segment.{segment}]");
        let _ = writeln!(w, "subnets = [\"{}/{PREFIX}\"]", addr(base, 0));
        let _ = writeln!(w, "reference_ips = [\"{}\"]", addr(base, 1));
        let _ = writeln!(
            w,
            "reserved_vrids = [{{ vrid = {RESERVED_VRID}, owner = \"top-of-rack switches\" }}]"
        );

        let host_name = |k: usize| format!("h{:05}", first_host + k);
        for k in 0..hosts {
            let _ = writeln!(w, "\n[host.{}.interface.eth0]", host_name(k));
            let _ = writeln!(w, "segment = \"{segment}\"");
            let _ = writeln!(
                w,
                "addresses = [\"{}/{PREFIX}\"]",
                addr(base, HOST_OFFSET + k as u32)
            );
        }

        for i in 0..routers {
            let router = format!("r{:05}", first_router + i);
            let members = if i % 3 == 0 && hosts >= 3 { 3 } else { 2 };
            let _ = writeln!(w, "\n[router.{router}]");
            let _ = writeln!(w, "segment = \"{segment}\"");
            let _ = writeln!(w, "vrid = {}", i + 1);
            let _ = writeln!(
                w,
                "vips = [\"{}/{PREFIX}\"]",
                addr(base, VIP_OFFSET + i as u32)
            );
            let _ = writeln!(w, "arbitration = {{}}");
            // Consecutive hosts, starting two further on for each router, so
            // every host carries about the same number of routers; the best
            // priority rotates over the members.
            let start = (i * 2) % hosts;
            for j in 0..members {
                let priority = PRIORITIES[(i + j) % members];
                let _ = writeln!(
                    w,
                    "member.{} = {{ priority = {priority} }}",
                    host_name((start + j) % hosts)
                );
            }
            if i % 2 == 0 {
                let _ = writeln!(
                    w,
                    "track.service = {{ command = [\"/usr/local/bin/check-service\", \"{router}\"], on_fail = {{ demote = {DEMOTE} }} }}"
                );
            } else {
                let _ = writeln!(
                    w,
                    "track.link = {{ interface = \"eth0\", on_fail = \"fault\" }}"
                );
            }
        }
        first_host += hosts;
        first_router += routers;
    }
    Ok(out)
}
