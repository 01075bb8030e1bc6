//! One simulated host's kernel: links, addresses and the IPVS table. It
//! answers like rtnetlink would (adding an address that is there is
//! `EEXIST`, removing one that is not is `EADDRNOTAVAIL`) and outlives the
//! daemon: a crash keeps it, a power-off resets it.

use std::collections::BTreeMap;

use crate::ipvs::reconcile::{KernelService, Op};
use crate::node::{AddrOutcome, Address, Link};

use super::topology::SimHost;

/// The kernel state of one host.
#[derive(Clone, Debug, Default)]
pub struct Kernel {
    pub links: BTreeMap<String, Link>,
    pub addresses: Vec<Address>,
    pub ipvs: Vec<KernelService>,
    next_ifindex: u32,
}

impl Kernel {
    /// A freshly booted host: every interface up with its own addresses.
    pub fn boot(host: &SimHost) -> Kernel {
        let mut k = Kernel {
            next_ifindex: 2,
            ..Kernel::default()
        };
        for iface in &host.interfaces {
            k.create_link(host, &iface.name);
        }
        k
    }

    fn mac(host: &SimHost, ifindex: u32) -> Vec<u8> {
        let h = host
            .name
            .bytes()
            .fold(0u32, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(b)));
        let [a, b, c, _] = h.to_be_bytes();
        vec![0x02, a, b, c, (ifindex >> 8) as u8, ifindex as u8]
    }

    /// The link exists and has carrier.
    pub fn link_up(&self, name: &str) -> bool {
        self.links.get(name).is_some_and(|l| l.exists && l.up)
    }

    pub fn link(&self, name: &str) -> Option<&Link> {
        self.links.get(name).filter(|l| l.exists)
    }

    /// Carrier change; returns the link to notify, if it exists.
    pub fn set_carrier(&mut self, name: &str, up: bool) -> Option<Link> {
        let l = self.links.get_mut(name).filter(|l| l.exists)?;
        l.up = up;
        Some(l.clone())
    }

    /// Deletes the interface and its addresses; returns the notification.
    pub fn delete_link(&mut self, name: &str) -> Option<Link> {
        let l = self.links.get_mut(name).filter(|l| l.exists)?;
        l.exists = false;
        l.up = false;
        let gone = l.clone();
        self.addresses.retain(|a| a.interface != name);
        Some(gone)
    }

    /// Creates (or re-creates, with a new ifindex) an interface the host
    /// declares, up, with the host's own addresses on it.
    pub fn create_link(&mut self, host: &SimHost, name: &str) -> Option<Link> {
        let iface = host.interfaces.iter().find(|i| i.name == name)?;
        if self.link(name).is_some() {
            return None;
        }
        let ifindex = self.next_ifindex;
        self.next_ifindex += 1;
        let link = Link {
            name: name.to_string(),
            ifindex,
            mac: Self::mac(host, ifindex),
            up: true,
            exists: true,
        };
        self.links.insert(name.to_string(), link.clone());
        for (a, p) in &iface.addresses {
            self.addresses.push(Address {
                interface: name.to_string(),
                address: *a,
                prefix_len: *p,
                label: None,
            });
        }
        Some(link)
    }

    /// Whether `interface` carries `address` (any prefix or label).
    pub fn has_address(&self, interface: &str, address: std::net::IpAddr) -> bool {
        self.addresses
            .iter()
            .any(|a| a.interface == interface && a.address == address)
    }

    /// RTM_NEWADDR with NLM_F_EXCL.
    pub fn add_address(&mut self, a: &Address) -> AddrOutcome {
        if self.link(&a.interface).is_none() {
            return AddrOutcome::Failed {
                error: "No such device (os error 19)".into(),
            };
        }
        let exists = self.addresses.iter().any(|k| {
            k.interface == a.interface && k.address == a.address && k.prefix_len == a.prefix_len
        });
        if exists {
            return AddrOutcome::Unchanged;
        }
        self.addresses.push(a.clone());
        AddrOutcome::Done
    }

    /// RTM_DELADDR: address and prefix must match, and the label when given.
    /// On an interface that is gone the kernel answers ENODEV, which the
    /// shell reports as unchanged (the address went with the interface).
    pub fn remove_address(&mut self, a: &Address) -> AddrOutcome {
        if self.link(&a.interface).is_none() {
            return AddrOutcome::Unchanged;
        }
        let pos = self.addresses.iter().position(|k| {
            k.interface == a.interface
                && k.address == a.address
                && k.prefix_len == a.prefix_len
                && (a.label.is_none() || k.label == a.label)
        });
        match pos {
            Some(i) => {
                self.addresses.remove(i);
                AddrOutcome::Done
            }
            None => AddrOutcome::Unchanged,
        }
    }

    /// Every address on these interfaces.
    pub fn addresses_on(&self, interfaces: &std::collections::BTreeSet<String>) -> Vec<Address> {
        self.addresses
            .iter()
            .filter(|a| interfaces.contains(&a.interface))
            .cloned()
            .collect()
    }

    /// Applies IPVS operations like the kernel (an impossible one is
    /// skipped and reported).
    pub fn apply_ipvs(&mut self, ops: &[Op]) -> Vec<String> {
        let mut errors = Vec::new();
        for op in ops {
            match op {
                Op::NewService(s) => {
                    if self.ipvs.iter().any(|k| k.service.key == s.key) {
                        errors.push(format!("{:?}: exists", s.key));
                    } else {
                        self.ipvs.push(KernelService {
                            service: s.clone(),
                            dests: Vec::new(),
                        });
                    }
                }
                Op::SetService(s) => match self.ipvs.iter_mut().find(|k| k.service.key == s.key) {
                    Some(k) => k.service = s.clone(),
                    None => errors.push(format!("{:?}: no such service", s.key)),
                },
                Op::DelService(key) => {
                    let before = self.ipvs.len();
                    self.ipvs.retain(|k| k.service.key != *key);
                    if self.ipvs.len() == before {
                        errors.push(format!("{key:?}: no such service"));
                    }
                }
                Op::NewDest(key, d) | Op::SetDest(key, d) => {
                    let new = matches!(op, Op::NewDest(..));
                    match self.ipvs.iter_mut().find(|k| k.service.key == *key) {
                        Some(k) => match k.dests.iter_mut().find(|x| x.key == d.key) {
                            Some(x) if !new => *x = d.clone(),
                            Some(_) => errors.push(format!("{:?}: dest exists", d.key)),
                            None if new => k.dests.push(d.clone()),
                            None => errors.push(format!("{:?}: no such dest", d.key)),
                        },
                        None => errors.push(format!("{key:?}: no such service")),
                    }
                }
                Op::DelDest(key, dk) => {
                    match self.ipvs.iter_mut().find(|k| k.service.key == *key) {
                        Some(k) => {
                            let before = k.dests.len();
                            k.dests.retain(|x| x.key != *dk);
                            if k.dests.len() == before {
                                errors.push(format!("{dk:?}: no such dest"));
                            }
                        }
                        None => errors.push(format!("{key:?}: no such service")),
                    }
                }
            }
        }
        errors
    }
}
