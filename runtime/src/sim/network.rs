//! The simulated network: adverts between hosts on a segment, echo
//! requests to reference IPs, delay, jitter, loss and cuts.

use std::net::IpAddr;
use std::time::Duration;

use vigil_schema::plan::Family;

use crate::node::Event;
use crate::wire::IpMeta;

use super::record::DefenceKind;
use super::scenario::Endpoint;
use super::trace::advert_fields;
use super::world::{Item, Sim};

impl Sim {
    pub(super) fn sample_delay(&mut self) -> Duration {
        let p = self.net.profile.clone();
        let mut d = p.delay + self.rng.duration(Duration::ZERO, p.jitter);
        if self.rng.chance(p.reorder) {
            d += self
                .rng
                .duration(Duration::ZERO, p.jitter * 5 + Duration::from_millis(1));
        }
        d
    }

    /// Whether a cut stops traffic between two endpoints on a segment.
    pub(super) fn blocked(&self, segment: &str, x: &Endpoint, y: &Endpoint) -> bool {
        self.net.cuts.values().any(|c| c.blocks(segment, x, y))
    }

    pub(super) fn send_vrrp(
        &mut self,
        h: usize,
        interface: &str,
        family: Family,
        src: IpAddr,
        dst: IpAddr,
        bytes: Vec<u8>,
    ) {
        self.count_send(h, interface, family, dst, &bytes);
        if let Some((_, 0)) = advert_fields(&bytes) {
            let router = self.router_by_key(h, interface, family, bytes[1]);
            self.defence(h, router, DefenceKind::PriorityZero, format!("to {dst}"));
        }
        let host = &self.hosts[h];
        let Some(link) = host.kernel.link(interface).filter(|l| l.up) else {
            return;
        };
        if host
            .sockets
            .get(&(interface.to_string(), family))
            .map(|s| s.0)
            != Some(link.ifindex)
        {
            return;
        }
        let Some(segment) = self.topo.segment_of(h, interface).map(str::to_string) else {
            return;
        };
        let me = Endpoint::Host(host.spec.name.clone());
        let mut receivers = Vec::new();
        for (g, other) in self.hosts.iter().enumerate() {
            if g == h || !other.powered {
                continue;
            }
            for iface in other
                .spec
                .interfaces
                .iter()
                .filter(|i| i.segment == segment)
            {
                let wanted = dst.is_multicast() || other.kernel.has_address(&iface.name, dst);
                if wanted && !self.blocked(&segment, &me, &Endpoint::Host(other.spec.name.clone()))
                {
                    receivers.push((g, iface.name.clone()));
                }
            }
        }
        let loss = self.net.profile.loss;
        for (g, iface) in receivers {
            if self.rng.chance(loss) {
                continue;
            }
            let at = self.now + self.sample_delay();
            self.push(
                at,
                Item::Packet {
                    host: g,
                    interface: iface,
                    family,
                    ip: IpMeta { src, dst, ttl: 255 },
                    payload: bytes.clone(),
                },
            );
        }
    }

    /// Whether the host can reach a reference IP over an interface now.
    pub(super) fn reference_reachable(&self, h: usize, interface: &str, target: IpAddr) -> bool {
        let host = &self.hosts[h];
        if !host.powered || !host.kernel.link_up(interface) || self.net.dark.contains(&target) {
            return false;
        }
        let Some(segment) = self.topo.segment_of(h, interface) else {
            return false;
        };
        if self.topo.reference_segment(target) != Some(segment) {
            return false;
        }
        !self.blocked(
            segment,
            &Endpoint::Host(host.spec.name.clone()),
            &Endpoint::Reference(target),
        )
    }

    pub(super) fn send_echo(&mut self, h: usize, router: String, target: IpAddr, seq: u16) {
        self.count_echo(h, &router, target);
        let interface = self.hosts[h].echo.get(&router).cloned();
        let usable = interface
            .as_deref()
            .is_some_and(|i| self.hosts[h].kernel.link_up(i));
        let Some(interface) = interface.filter(|_| usable) else {
            let d = self.answer_delay();
            self.answer(h, d, Event::EchoSendFailed { router, target });
            return;
        };
        if !self.reference_reachable(h, &interface, target) {
            return;
        }
        let loss = self.net.profile.loss;
        if self.rng.chance(loss) || self.rng.chance(loss) {
            return;
        }
        let at = self.now + self.sample_delay() + self.sample_delay();
        let life = self.hosts[h].life;
        self.push(
            at,
            Item::EchoReply {
                host: h,
                life,
                router,
                from: target,
                seq,
            },
        );
    }
}
