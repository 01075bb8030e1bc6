use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;
use crate::names::{NameProblem, check_interface, check_name};
use crate::source::Span;

pub static LINT: Lint = Lint {
    code: "V0106",
    name: "unsafe-name",
    severity: Severity::Error,
    summary: "a name is not of the safe form (letters, digits, `-`, `_`, `.`; no `/`, no leading `.`)",
    explanation: r#"## What it does
Checks every name that becomes a file name or a token of a generated
configuration file: the cluster, segments, hosts, routers, trackers, sync
groups, virtual servers (1 to 63 characters) and interfaces (at most 15).
A name consists of ASCII letters, digits, `-`, `_` and `.`, and starts with
a letter or a digit.

## Why is this bad
`vigil build` writes each host's files to `OUT/<host>/` and each router's
password to `OUT/<host>/secrets/<router>.pass`; keepalived.conf gets
`router_id <host>`, `vrrp_instance <router>`, `interface <ifname>` without
quotes. A host named `../../etc` would place a unit file and a
keepalived.conf outside the output directory, anywhere the build user can
write; a name with a space, a quote, a brace or a newline changes the
meaning of the generated configuration. In a topology assembled from
several teams' files, any file could do this.

## Example
```toml
[host."../../escaped".interface.eth0]
segment = "front"
```

## Fix
Rename the object to a plain name such as `web1` or `lb-1.dc2`, and update
the references to it.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut name = |kind: &str, name: &str, span: &Span, used_as: &str| {
        if let Err(problem) = check_name(name) {
            out.push(report(lint, kind, name, span, &problem, used_as));
        }
    };
    if let Some(c) = &cluster.name {
        name(
            "cluster name",
            &c.value,
            &c.span,
            "it is written into the header of every generated file",
        );
    }
    for s in cluster.segments.values() {
        name(
            "segment",
            &s.name,
            &s.span,
            "it is written into plans and generated firewall rules",
        );
    }
    for h in cluster.hosts.values() {
        name(
            "host",
            &h.name,
            &h.span,
            "`vigil build` writes the host's files to a directory of that name and keepalived.conf \
             gets it as `router_id`",
        );
    }
    for r in cluster.routers.values() {
        name(
            "router",
            &r.name,
            &r.span,
            "`vigil build` writes its password to `secrets/<router>.pass` and keepalived.conf gets \
             it as `vrrp_instance`",
        );
        for t in r.trackers.values() {
            name(
                "tracker",
                &t.name,
                &t.span,
                "keepalived.conf gets it as the name of a `vrrp_script`",
            );
        }
    }
    for g in cluster.sync_groups.values() {
        name(
            "sync group",
            &g.name,
            &g.span,
            "keepalived.conf gets it as `vrrp_sync_group`",
        );
    }
    for v in cluster.virtual_servers.values() {
        name(
            "virtual server",
            &v.name,
            &v.span,
            "it is written into plans and generated configuration files",
        );
    }
    for h in cluster.hosts.values() {
        for i in h.interfaces.values() {
            if let Err(problem) = check_interface(&i.name) {
                out.push(report(
                    lint,
                    "interface",
                    &i.name,
                    &i.span,
                    &problem,
                    "keepalived.conf and the nftables rules get it as `interface` and `iifname`",
                ));
            }
        }
    }
    out
}

fn report(
    lint: &Lint,
    kind: &str,
    name: &str,
    span: &Span,
    problem: &NameProblem,
    used_as: &str,
) -> Diagnostic {
    let shown = name.escape_debug();
    lint.at(
        span,
        format!("{kind} name `{shown}` is not a safe name: {problem}; {used_as}"),
    )
    .label(format!("{kind} `{shown}`"))
    .help(match problem {
        NameProblem::TooLong { max, .. } => {
            format!("shorten the name to at most {max} characters")
        }
        _ => "use ASCII letters, digits, `-`, `_` and `.`, starting with a letter or a digit \
              (e.g. `web1`, `lb-1.dc2`)"
            .to_string(),
    })
}
