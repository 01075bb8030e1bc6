use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::{Cluster, ObjectKind};

pub static LINT: Lint = Lint {
    code: "V0103",
    name: "segment-definition-conflict",
    severity: Severity::Error,
    summary: "a segment defined in several files lists different subnets",
    explanation: r#"## What it does
A segment may be defined in several files; their `subnets` must be the same
set (reference IPs and reserved VRIDs are merged).

## Why is this bad
Subnets decide which VIPs and reference IPs belong on the segment. Two
different lists mean two different views of one link: VIPs one team thinks
are on-link are not, and arbitration probes go to addresses that are not
there.

## Example
```toml
# a.toml
[segment.front]
subnets = ["10.20.0.0/24"]

# b.toml
[segment.front]
subnets = ["10.30.0.0/24"]
```

## Fix
List the same subnets in every definition of the segment.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    cluster
        .conflicts
        .iter()
        .filter(|c| c.kind == ObjectKind::Segment)
        .map(|c| {
            lint.at(
                &c.other.span,
                format!(
                    "segment `{}` is defined with subnets [{}] here but [{}] elsewhere: \
                     the files disagree about which addresses are on this link",
                    c.name, c.other.value, c.kept.value
                ),
            )
            .label("these subnets")
            .with(c.kept.span.clone(), "first defined with these subnets")
            .help("list the same subnets in every definition of the segment")
        })
        .collect()
}
