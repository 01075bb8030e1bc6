//! What a run leaves behind for people: every state change, who held each
//! VIP when, which defence acted, which fault happened. Tests assert on it;
//! `vigil simulate` prints it as a timeline and a verdict.

use std::net::IpAddr;

use serde::Serialize;
use serde_json::Value;

use crate::vrrp::Instant;

use super::invariants::Violation;

/// A router changed state on a host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Transition {
    pub at: Instant,
    pub host: String,
    pub router: String,
    pub from: String,
    pub to: String,
    /// The core's reason (`MasterDown`, `HigherPriority`, ...), or what the
    /// world did (`crash`, `power off`).
    pub reason: String,
}

/// The set of hosts whose kernel carries a VIP changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HolderChange {
    pub at: Instant,
    pub router: String,
    pub vip: IpAddr,
    /// Host names, sorted.
    pub holders: Vec<String>,
}

/// Which defence acted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DefenceKind {
    /// A takeover was held back (arbitration's veto or a required fence's gate).
    MasterVetoed,
    /// Arbitration found the member isolated: it entered FAULT (a master
    /// released its VIPs).
    Isolation,
    SelfFence,
    /// A fence command succeeded.
    Fence,
    FenceFailed,
    /// A resigning master sent a priority-0 advert.
    PriorityZero,
    /// A sync group held a member in FAULT because another member failed.
    SyncGroup,
    /// A tracker changed state.
    Tracker,
    /// The router's interface went down, away or came back.
    Link,
    /// A master heard another master with its own priority.
    DualMasterAlarm,
    /// A VIP left by a crashed run was removed at start.
    StaleAddressRemoved,
    /// A planned VIP found at start that no run of ours added was left alone.
    ForeignAddressLeft,
    /// A member lost its lease (it resigns if it was master).
    LeaseLost,
}

impl DefenceKind {
    pub fn describe(self) -> &'static str {
        match self {
            DefenceKind::MasterVetoed => "takeover vetoed (arbitration or fence gate)",
            DefenceKind::Isolation => "isolation: released the VIPs (FAULT)",
            DefenceKind::SelfFence => "self-fence command",
            DefenceKind::Fence => "fenced the peer",
            DefenceKind::FenceFailed => "fence failed: takeover held back",
            DefenceKind::PriorityZero => "priority 0 on resignation",
            DefenceKind::SyncGroup => "sync group moved together",
            DefenceKind::Tracker => "tracker",
            DefenceKind::Link => "link fault",
            DefenceKind::DualMasterAlarm => "dual-master alarm",
            DefenceKind::StaleAddressRemoved => "stale VIP removed at start",
            DefenceKind::ForeignAddressLeft => "foreign VIP left alone at start",
            DefenceKind::LeaseLost => "lease lost: mastership given up",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Defence {
    pub at: Instant,
    pub host: String,
    pub router: Option<String>,
    pub kind: DefenceKind,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FaultRecord {
    pub at: Instant,
    pub description: String,
}

/// One interval of a VIP's holders.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HolderSpan {
    pub from: Instant,
    pub to: Instant,
    pub holders: Vec<String>,
}

/// Everything a run recorded.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Record {
    pub transitions: Vec<Transition>,
    pub holders: Vec<HolderChange>,
    pub defences: Vec<Defence>,
    pub faults: Vec<FaultRecord>,
    pub violations: Vec<Violation>,
}

impl Record {
    /// The holders of `vip` as consecutive spans from 0 to `end`.
    pub fn holder_spans(&self, vip: IpAddr, end: Instant) -> Vec<HolderSpan> {
        let mut spans: Vec<HolderSpan> = Vec::new();
        let mut from = Instant::ZERO;
        let mut current: Vec<String> = Vec::new();
        for c in self.holders.iter().filter(|c| c.vip == vip) {
            if c.at > end {
                break;
            }
            if c.holders == current {
                continue;
            }
            if c.at > from {
                spans.push(HolderSpan {
                    from,
                    to: c.at,
                    holders: current.clone(),
                });
            }
            from = c.at;
            current = c.holders.clone();
        }
        if end > from || spans.is_empty() {
            spans.push(HolderSpan {
                from,
                to: end.max(from),
                holders: current,
            });
        }
        spans
    }

    /// The longest span at or after `after` in which nobody held `vip`.
    pub fn longest_outage(&self, vip: IpAddr, after: Instant, end: Instant) -> Option<HolderSpan> {
        self.holder_spans(vip, end)
            .into_iter()
            .filter(|s| s.holders.is_empty() && s.to > after)
            .map(|s| HolderSpan {
                from: s.from.max(after),
                ..s
            })
            .max_by_key(|s| s.to.as_micros() - s.from.as_micros())
    }

    /// Spans in which two or more hosts held `vip`.
    pub fn double_holders(&self, vip: IpAddr, end: Instant) -> Vec<HolderSpan> {
        self.holder_spans(vip, end)
            .into_iter()
            .filter(|s| s.holders.len() > 1)
            .collect()
    }

    /// The state changes of one router.
    pub fn transitions_of<'a>(&'a self, router: &'a str) -> impl Iterator<Item = &'a Transition> {
        self.transitions.iter().filter(move |t| t.router == router)
    }

    /// Whether a defence of this kind acted (optionally for one router).
    pub fn defended(&self, kind: DefenceKind, router: Option<&str>) -> bool {
        self.defences
            .iter()
            .any(|d| d.kind == kind && (router.is_none() || d.router.as_deref() == router))
    }
}

/// Reading what the nodes log: state changes and defences.
impl super::world::Sim {
    pub(super) fn defence(
        &mut self,
        h: usize,
        router: Option<String>,
        kind: DefenceKind,
        detail: String,
    ) {
        self.record.defences.push(Defence {
            at: self.now,
            host: self.hosts[h].spec.name.clone(),
            router,
            kind,
            detail,
        });
    }

    /// Reads what the node logged: state changes and defences.
    pub(super) fn on_log(&mut self, h: usize, event: &str, fields: &Value) {
        let s = |k: &str| fields.get(k).and_then(Value::as_str).map(str::to_string);
        let router = s("router");
        match event {
            "state_change" => {
                self.states_changed = true;
                self.host_dirty.insert(h);
                let reason = match fields.get("reason") {
                    Some(Value::String(r)) => r.clone(),
                    Some(v) => v.to_string(),
                    None => String::new(),
                };
                self.record.transitions.push(Transition {
                    at: self.now,
                    host: self.hosts[h].spec.name.clone(),
                    router: router.unwrap_or_default(),
                    from: s("from").unwrap_or_default(),
                    to: s("to").unwrap_or_default(),
                    reason,
                });
            }
            "alarm" => {
                let alarm = fields.get("alarm");
                let kind = alarm
                    .and_then(|a| a.get("kind"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                // What the alarm says besides its kind.
                let detail = match alarm {
                    Some(Value::Object(o)) => {
                        let rest: serde_json::Map<String, Value> = o
                            .iter()
                            .filter(|(k, _)| *k != "kind")
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect();
                        if rest.is_empty() {
                            String::new()
                        } else {
                            Value::Object(rest).to_string()
                        }
                    }
                    _ => String::new(),
                };
                let kind = match kind {
                    "master_vetoed" => Some(DefenceKind::MasterVetoed),
                    "fence_failed" => Some(DefenceKind::FenceFailed),
                    "dual_master" => Some(DefenceKind::DualMasterAlarm),
                    "vip_present_not_ours" => Some(DefenceKind::ForeignAddressLeft),
                    _ => None,
                };
                if let Some(kind) = kind {
                    self.defence(h, router, kind, detail);
                }
            }
            "isolated" if fields.get("isolated") == Some(&Value::Bool(true)) => {
                self.defence(
                    h,
                    router,
                    DefenceKind::Isolation,
                    "no reference IP answers".into(),
                );
            }
            "lease" if fields.get("holding") == Some(&Value::Bool(false)) => {
                let why = fields
                    .get("why")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                self.defence(h, router, DefenceKind::LeaseLost, why);
            }
            "self_fence_started" => {
                self.defence(h, router, DefenceKind::SelfFence, String::new());
            }
            "fence" if fields.get("ok") == Some(&Value::Bool(true)) => {
                self.defence(h, router, DefenceKind::Fence, String::new());
            }
            "sync_group" if fields.get("fault") == Some(&Value::Bool(true)) => {
                let by = fields
                    .get("because_of")
                    .map(|v| v.to_string())
                    .unwrap_or_default();
                self.defence(
                    h,
                    router,
                    DefenceKind::SyncGroup,
                    format!("because of {by}"),
                );
            }
            "tracker" => {
                let detail = format!(
                    "{} {}",
                    s("tracker").unwrap_or_default(),
                    s("state").unwrap_or_default()
                );
                self.defence(h, router, DefenceKind::Tracker, detail);
            }
            "link" => {
                let up = fields.get("up").and_then(Value::as_bool).unwrap_or(false);
                let detail = format!(
                    "{} {}",
                    s("interface").unwrap_or_default(),
                    if up { "up" } else { "down" }
                );
                self.defence(h, router, DefenceKind::Link, detail);
            }
            "stale_vip_removed" if fields.get("ok") == Some(&Value::Bool(true)) => {
                let detail = s("address").unwrap_or_default();
                self.defence(h, None, DefenceKind::StaleAddressRemoved, detail);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(at: u64, holders: &[&str]) -> HolderChange {
        HolderChange {
            at: Instant(at),
            router: "r".into(),
            vip: "10.0.0.100".parse().unwrap(),
            holders: holders.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn spans_outages_and_doubles() {
        let vip: IpAddr = "10.0.0.100".parse().unwrap();
        let r = Record {
            holders: vec![
                change(100, &["a"]),
                change(500, &[]),
                change(800, &["b"]),
                change(900, &["a", "b"]),
                change(950, &["b"]),
            ],
            ..Record::default()
        };
        let spans = r.holder_spans(vip, Instant(1000));
        assert_eq!(spans.len(), 6);
        assert_eq!(spans[0].holders, Vec::<String>::new());
        let out = r.longest_outage(vip, Instant(100), Instant(1000)).unwrap();
        assert_eq!((out.from, out.to), (Instant(500), Instant(800)));
        let d = r.double_holders(vip, Instant(1000));
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].from, d[0].to), (Instant(900), Instant(950)));
    }
}
