//! What the simulated cluster is made of: hosts with their plans, their
//! interfaces attached to segments, and the reference IPs (gateways) that
//! answer echo requests on each segment.
//!
//! The caller builds it (from a topology model, or by hand in tests):
//!
//! ```
//! # use vigild::sim::SimTopology;
//! # fn build(web1_plan: vigil_schema::plan::Plan) {
//! let mut topo = SimTopology::default();
//! topo.reference_ip("front", "10.0.0.1".parse().unwrap());
//! topo.host("web1", web1_plan)
//!     .interface("eth0", "front", &[("10.0.0.11".parse().unwrap(), 24)]);
//! # }
//! ```

use std::collections::BTreeMap;
use std::net::IpAddr;

use vigil_schema::plan::Plan;

/// The cluster the simulation runs.
#[derive(Clone, Debug, Default)]
pub struct SimTopology {
    /// Reference IPs by segment (each answers echo requests from the hosts
    /// on its segment, unless dark or cut off).
    pub reference_ips: BTreeMap<String, Vec<IpAddr>>,
    /// Hosts, in the order they were added (the index is the host's id).
    pub hosts: Vec<SimHost>,
}

/// One host.
#[derive(Clone, Debug)]
pub struct SimHost {
    pub name: String,
    pub plan: Plan,
    /// Router passwords (what the shell reads from the plan's files).
    pub passwords: BTreeMap<String, Vec<u8>>,
    pub interfaces: Vec<SimInterface>,
}

/// One interface of a host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimInterface {
    pub name: String,
    pub segment: String,
    /// The host's own addresses on it, with their prefix length.
    pub addresses: Vec<(IpAddr, u8)>,
}

/// Adds interfaces and passwords to a host.
pub struct HostBuilder<'a> {
    host: &'a mut SimHost,
}

impl HostBuilder<'_> {
    pub fn interface(self, name: &str, segment: &str, addresses: &[(IpAddr, u8)]) -> Self {
        self.host.interfaces.retain(|i| i.name != name);
        self.host.interfaces.push(SimInterface {
            name: name.to_string(),
            segment: segment.to_string(),
            addresses: addresses.to_vec(),
        });
        self
    }

    pub fn password(self, router: &str, password: &[u8]) -> Self {
        self.host
            .passwords
            .insert(router.to_string(), password.to_vec());
        self
    }
}

impl SimTopology {
    /// Adds (or replaces) a host; add its interfaces on the returned builder.
    pub fn host(&mut self, name: &str, plan: Plan) -> HostBuilder<'_> {
        self.hosts.retain(|h| h.name != name);
        self.hosts.push(SimHost {
            name: name.to_string(),
            plan,
            passwords: BTreeMap::new(),
            interfaces: Vec::new(),
        });
        let host = self.hosts.last_mut().expect("just pushed");
        HostBuilder { host }
    }

    /// Adds a reference IP on a segment.
    pub fn reference_ip(&mut self, segment: &str, ip: IpAddr) -> &mut Self {
        let list = self.reference_ips.entry(segment.to_string()).or_default();
        if !list.contains(&ip) {
            list.push(ip);
        }
        self
    }

    /// The index of a host.
    pub fn host_index(&self, name: &str) -> Option<usize> {
        self.hosts.iter().position(|h| h.name == name)
    }

    /// The segment a host's interface is attached to.
    pub fn segment_of(&self, host: usize, interface: &str) -> Option<&str> {
        self.hosts
            .get(host)?
            .interfaces
            .iter()
            .find(|i| i.name == interface)
            .map(|i| i.segment.as_str())
    }

    /// The segment a reference IP is on.
    pub fn reference_segment(&self, ip: IpAddr) -> Option<&str> {
        self.reference_ips
            .iter()
            .find(|(_, ips)| ips.contains(&ip))
            .map(|(s, _)| s.as_str())
    }

    /// Every segment named by an interface or a reference IP.
    pub fn segments(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .hosts
            .iter()
            .flat_map(|h| h.interfaces.iter().map(|i| i.segment.clone()))
            .chain(self.reference_ips.keys().cloned())
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// Every router name, over all hosts.
    pub fn routers(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .hosts
            .iter()
            .flat_map(|h| h.plan.routers.iter().map(|r| r.name.clone()))
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// Problems that make a run meaningless (duplicate host or address).
    pub fn check(&self) -> Result<(), String> {
        let mut seen = BTreeMap::new();
        for (i, h) in self.hosts.iter().enumerate() {
            if self.hosts[..i].iter().any(|o| o.name == h.name) {
                return Err(format!("host `{}` is defined twice", h.name));
            }
            for iface in &h.interfaces {
                for (a, _) in &iface.addresses {
                    if let Some(other) = seen.insert((iface.segment.clone(), *a), h.name.clone()) {
                        return Err(format!(
                            "address {a} on segment `{}` belongs to `{other}` and `{}`",
                            iface.segment, h.name
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}
