use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0307",
    name: "tracked-interface-unknown",
    severity: Severity::Error,
    summary: "an interface tracker names an interface that a member's host does not have",
    explanation: r#"## What it does
For each interface tracker, checks that every member it applies to has an
interface of that name.

## Why is this bad
A tracker on an interface the host does not have either fails forever (the
member never becomes master) or is disabled (keepalived: "Disabling track
script ... since not found"), so the failure it was meant to catch goes
unnoticed.

## Example
```toml
[host.web1.interface.eth0]
segment = "front"
[router.www.track.uplink]
interface = "eth1"           # web1 has no eth1
on_fail = "fault"
```

## Fix
Track an interface the hosts have (declare it under `[host.X.interface]`),
or limit the tracker with `hosts = [...]`.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in cluster.routers.values() {
        for t in r.trackers.values() {
            let Some(name) = &t.interface else { continue };
            for m in r.members.values() {
                let applies = t.hosts.is_empty() || t.hosts.iter().any(|h| h.value == m.host);
                let Some(host) = cluster.hosts.get(&m.host) else {
                    continue;
                };
                if applies && !host.interfaces.contains_key(&name.value) {
                    out.push(
                        lint.at(
                            &name.span,
                            format!(
                                "tracker `{}` of router `{}` watches `{}`, which host `{}` does not have: the \
                                 tracker can never see the failure it is meant to catch",
                                t.name, r.name, name.value, host.name
                            ),
                        )
                        .label(format!("not an interface of `{}`", host.name))
                        .with(host.span.clone(), format!("host `{}`", host.name))
                        .help("declare the interface under the host, or limit the tracker with `hosts = [...]`"),
                    );
                }
            }
        }
    }
    out
}
