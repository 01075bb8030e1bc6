use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0802",
    name: "bad-member-interface",
    severity: Severity::Error,
    summary: "a member's `interface` does not exist on its host or is not on the router's segment",
    explanation: r#"## What it does
Checks that a member's explicit `interface` is an interface of its host and
is attached to the router's segment.

## Why is this bad
The member would send adverts on the wrong link (or on no link): its peers
never hear it and it never hears them, so both sides become master, and the
VIPs end up on an interface where no client can reach them.

## Example
```toml
[host.web1.interface.eth0]
segment = "front"
[router.www.member.web1]
interface = "eth1"          # web1 has no eth1
```

## Fix
Name the host's interface on the router's segment, or leave `interface` out
when the host has exactly one there.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in cluster.routers.values() {
        for m in r.members.values() {
            let (Some(host), Some(name)) = (cluster.hosts.get(&m.host), &m.interface) else {
                continue;
            };
            match host.interfaces.get(&name.value) {
                None => {
                    let known: Vec<_> = host.interfaces.keys().map(|k| format!("`{k}`")).collect();
                    out.push(
                        lint.at(
                            &name.span,
                            format!(
                                "member `{}` of router `{}` runs on interface `{}`, which host `{}` does not have: \
                                 it cannot send or receive adverts",
                                m.host, r.name, name.value, host.name
                            ),
                        )
                        .label("unknown interface")
                        .with(host.span.clone(), format!("host `{}`", host.name))
                        .help(if known.is_empty() {
                            format!("define the interface under `[host.{}.interface.{}]`", host.name, name.value)
                        } else {
                            format!("the host's interfaces are {}", known.join(", "))
                        }),
                    );
                }
                Some(iface) if iface.segment.value != r.segment.value => out.push(
                    lint.at(
                        &name.span,
                        format!(
                            "member `{}` of router `{}` runs on `{}`, which is on segment `{}`, not `{}`: its adverts \
                             and VIPs would be on the wrong link and both sides become master",
                            m.host, r.name, name.value, iface.segment.value, r.segment.value
                        ),
                    )
                    .label(format!("on segment `{}`", iface.segment.value))
                    .with(iface.segment.span.clone(), "the interface's segment")
                    .help(format!("use the host's interface on segment `{}`", r.segment.value)),
                ),
                Some(_) => {}
            }
        }
    }
    out
}
