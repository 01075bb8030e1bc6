use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::{Cluster, family_name, family_of};

pub static LINT: Lint = Lint {
    code: "V0701",
    name: "unicast-member-without-address",
    severity: Severity::Error,
    summary: "a unicast router's member has no address of the router's family on the segment",
    explanation: r#"## What it does
With `unicast = true`, adverts go from each member's address on the segment
to the other members' addresses. This lint reports members whose interface
on the segment has no address of the router's family.

## Why is this bad
The member has no source address to send from and no address its peers
could send to: it never hears the others and the others never hear it, so
it becomes master alongside the real one.

## Example
```toml
[host.web2.interface.eth0]
segment = "front"          # no addresses
[router.www]
unicast = true
```

## Fix
Add the host's address on the segment (`addresses = ["10.20.0.12/24"]`), or
use multicast.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in cluster.routers.values() {
        if !r.unicast.value {
            continue;
        }
        let Some(family) = r.family() else { continue };
        for m in r.members.values() {
            let Some(iface) = cluster.member_interface(r, m) else {
                continue;
            };
            if !iface.addresses.iter().any(|a| family_of(a.addr) == family) {
                out.push(
                    lint.at(
                        &m.span,
                        format!(
                            "unicast router `{}`: member `{}` has no {} address on `{}` (segment `{}`), so it can \
                             neither send nor receive adverts and will become a second master",
                            r.name,
                            m.host,
                            family_name(family),
                            iface.name,
                            r.segment.value
                        ),
                    )
                    .label("member without a unicast address")
                    .with(iface.span.clone(), format!("interface `{}` has no {} address", iface.name, family_name(family)))
                    .with(r.unicast.span_or(&r.span), "unicast adverts")
                    .help(format!(
                        "add the host's {} address to interface `{}`, or remove `unicast`",
                        family_name(family),
                        iface.name
                    )),
                );
            }
        }
    }
    out
}
