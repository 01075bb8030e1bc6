use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::lints::commands::commands;
use crate::model::Cluster;
use crate::source::{Span, needs_masking, printable};

pub static LINT: Lint = Lint {
    code: "V0110",
    name: "unsafe-text",
    severity: Severity::Error,
    summary: "a command word, HTTP check path or Host contains a quote, line break or control character",
    explanation: r#"## What it does
Checks the text that generated configuration files quote: every word of a
command (trackers, `notify`, `fence`, `self_fence`, health checks) must not
contain a double quote, a line break or another control character; the
`path` and `host` of an HTTP check must not contain those or whitespace.

## Why is this bad
keepalived.conf gets each command inside double quotes
(`script "/usr/local/bin/check 'a b'"`) and the HTTP path unquoted. A quote
ends the string early and a line break starts a new line: the rest of the
word becomes keepalived configuration of its own (`vrrp_instance ... {`),
so one team's file could rewrite another's routers, and at best
`keepalived` refuses the file. vigild runs commands without a shell and
would not be affected, but the generated files must mean what the
topology says.

## Example
```toml
[router.www.notify]
master = ["/usr/local/bin/notify", "line one\nvrrp_instance x {"]
```

## Fix
Pass such values through a file or an environment the command reads, or
wrap the command in a script; use `%20` for spaces in an HTTP path.
"#,
    check,
};

/// What is wrong with a command word, if anything.
fn bad_in_word(word: &str) -> Option<char> {
    word.chars()
        .find(|c| *c == '"' || *c == '\n' || *c == '\r' || needs_masking(*c))
}

/// What is wrong with an HTTP path or Host, if anything.
fn bad_in_http(text: &str) -> Option<char> {
    text.chars()
        .find(|c| *c == '"' || c.is_whitespace() || needs_masking(*c))
}

fn describe(c: char) -> String {
    match c {
        '"' => "a double quote".to_string(),
        '\n' | '\r' => "a line break".to_string(),
        c if c.is_whitespace() => format!("whitespace (U+{:04X})", u32::from(c)),
        c => format!("the control character U+{:04X}", u32::from(c)),
    }
}

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut report = |what: &str, span: &Span, value: &str, bad: char, help: &str| {
        out.push(
            lint.at(
                span,
                format!(
                    "{what} contains {} (in \"{}\"): generated keepalived.conf cannot carry it, and the \
                     rest of the value would become configuration of its own",
                    describe(bad),
                    printable(&value.escape_debug().to_string())
                ),
            )
            .label(describe(bad))
            .help(help.to_string()),
        );
    };
    for (what, command) in commands(cluster) {
        if let Some((word, bad)) = command
            .value
            .iter()
            .find_map(|w| bad_in_word(w).map(|c| (w, c)))
        {
            report(
                &what,
                &command.span,
                word,
                bad,
                "pass such values through a file or the environment, or wrap the command in a script",
            );
        }
    }
    for vs in cluster.virtual_servers.values() {
        let Some(http) = vs.health.as_ref().and_then(|h| h.http.as_ref()) else {
            continue;
        };
        if let Some(bad) = bad_in_http(&http.path.value) {
            report(
                &format!("the HTTP check path of `{}`", vs.name),
                &http.path.span_or(&http.span),
                &http.path.value,
                bad,
                "percent-encode the path (`%20` for a space)",
            );
        }
        if let Some(host) = &http.host
            && let Some(bad) = bad_in_http(&host.value)
        {
            report(
                &format!("the HTTP check Host of `{}`", vs.name),
                &host.span,
                &host.value,
                bad,
                "a Host header is a host name, optionally with `:port`",
            );
        }
    }
    out
}
