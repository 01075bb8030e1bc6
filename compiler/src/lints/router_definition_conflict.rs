use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::{Cluster, ObjectKind};

pub static LINT: Lint = Lint {
    code: "V0102",
    name: "router-definition-conflict",
    severity: Severity::Error,
    summary: "a router defined in several files has different values (VRID, VIPs, timers, a member's priority)",
    explanation: r#"## What it does
A router may be defined in several topology files (for instance one file per
team adds its members). Every field that more than one definition states
must have the same value; this lint reports the ones that differ.

## Why is this bad
The definitions describe one virtual router. If they disagree, at least one
file does not mean what it says: hosts configured from it would advertise
another VRID, another interval or another VIP list than their peers. VRRP
drops adverts that do not match, so every member believes it is alone and
all of them become master.

## Example
```toml
# a.toml
[router.www]
segment = "front"
vrid = 51

# b.toml
[router.www]
segment = "front"
vrid = 52          # same router, another VRID
```

## Fix
Make the values equal, or state the field in one file only (optional
fields left out of a definition are taken from the other one).
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    cluster
        .conflicts
        .iter()
        .filter(|c| c.kind == ObjectKind::Router)
        .filter_map(|c| {
            let field = c.field.as_deref()?;
            let consequence = match field {
                "vrid" => format!(
                    "members would advertise VRID {} in one place and {} in the other: \
                     neither hears a master and both become master",
                    c.kept.value, c.other.value
                ),
                "segment" => "the members would run the router on different links and never hear each other: two masters".to_string(),
                "vips" => "VRRP drops adverts whose address list differs from its own: two masters".to_string(),
                "advert_interval" | "version" => format!(
                    "VRRP drops adverts with another {field}: every member becomes master"
                ),
                "auth" => "members would send different passwords, and each rejects the other's \
                           adverts as unauthenticated: every member becomes master"
                    .to_string(),
                _ => "the files do not describe the same router; the first value is used".to_string(),
            };
            Some(
                lint.at(
                    &c.other.span,
                    format!(
                        "router `{}` is defined twice with different `{field}` ({} here, {} before): {consequence}",
                        c.name, c.other.value, c.kept.value
                    ),
                )
                .label(format!("`{field}` = {}", c.other.value))
                .with(c.kept.span.clone(), format!("first defined as {}", c.kept.value))
                .help(format!(
                    "give `{field}` the same value in every definition of `{}`, or state it in one file only",
                    c.name
                )),
            )
        })
        .collect()
}
