//! The safe form of names that become file names or configuration tokens.
//!
//! Host names become directories of `vigil build`'s output, router names
//! become `secrets/<router>.pass` and `vrrp_instance <router>` in a
//! keepalived.conf, interface names become `interface <name>` and
//! `iifname "<name>"`. None of them is quoted or escaped on the way, so
//! the topology may only use names of one documented form (see
//! `docs/topology.md`, "Names"):
//!
//! * an object name (cluster, segment, host, router, tracker, sync group,
//!   virtual server): 1 to 63 characters, ASCII letters, digits, `-`, `_`
//!   and `.`, starting with a letter or a digit;
//! * an interface name: the same characters, at most 15 (the kernel's
//!   limit, `IFNAMSIZ` − 1).
//!
//! This rules out `..`, `/`, absolute paths, the empty name, NUL and other
//! control characters, a leading `.` (hidden files, `.` and `..`),
//! whitespace, quotes and braces. The `unsafe-name` lint reports names
//! that break it; `vigil build` checks every output path again with
//! [`is_safe_file_name`] before writing anything.

/// Longest object name.
pub const MAX_NAME: usize = 63;
/// Longest interface name (IFNAMSIZ − 1).
pub const MAX_INTERFACE: usize = 15;

/// What is wrong with a name, for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameProblem {
    Empty,
    TooLong {
        len: usize,
        max: usize,
    },
    /// A path separator, `..` or another character that makes the name
    /// leave its directory.
    PathSeparator,
    /// The first character is not a letter or a digit (`.`, `-`, `_`).
    BadStart(char),
    /// A character outside letters, digits, `-`, `_`, `.`.
    BadChar(char),
}

impl std::fmt::Display for NameProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NameProblem::Empty => f.write_str("it is empty"),
            NameProblem::TooLong { len, max } => {
                write!(f, "it is {len} characters long (at most {max})")
            }
            NameProblem::PathSeparator => {
                f.write_str("it contains `/`: as a file name it would leave its directory")
            }
            NameProblem::BadStart(c) => write!(
                f,
                "it starts with {}; a name starts with a letter or a digit",
                describe(*c)
            ),
            NameProblem::BadChar(c) => write!(
                f,
                "it contains {}; only ASCII letters, digits, `-`, `_` and `.` are allowed",
                describe(*c)
            ),
        }
    }
}

/// A character as a message shows it (control characters by code).
fn describe(c: char) -> String {
    if c.is_control() || c.is_whitespace() {
        format!("the character U+{:04X}", u32::from(c))
    } else {
        format!("`{c}`")
    }
}

fn check_form(name: &str, max: usize) -> Result<(), NameProblem> {
    let Some(first) = name.chars().next() else {
        return Err(NameProblem::Empty);
    };
    if name.contains('/') || name.contains('\\') {
        return Err(NameProblem::PathSeparator);
    }
    if !first.is_ascii_alphanumeric() {
        return Err(NameProblem::BadStart(first));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(NameProblem::BadChar(bad));
    }
    let len = name.chars().count();
    if len > max {
        return Err(NameProblem::TooLong { len, max });
    }
    Ok(())
}

/// Checks an object name (host, router, segment, tracker, sync group,
/// virtual server, cluster).
pub fn check_name(name: &str) -> Result<(), NameProblem> {
    check_form(name, MAX_NAME)
}

/// Checks an interface name.
pub fn check_interface(name: &str) -> Result<(), NameProblem> {
    check_form(name, MAX_INTERFACE)
}

/// Whether `name` may be used as one component of an output path: the
/// object-name form plus the suffix an output file adds (`www.pass`,
/// `plan.json`). Rejects everything [`check_name`] rejects.
pub fn is_safe_file_name(name: &str) -> bool {
    // Longest suffix added to a name: `.pass`.
    check_form(name, MAX_NAME + ".pass".len()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_pass() {
        for name in [
            "web1",
            "lb-1.dc2",
            "edge_v4",
            "0",
            "A",
            &"x".repeat(MAX_NAME),
        ] {
            assert_eq!(check_name(name), Ok(()), "{name}");
        }
        for name in ["eth0", "bond0.100", "enp3s0f1", "veth-a_b"] {
            assert_eq!(check_interface(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn names_that_could_escape_or_inject_are_refused() {
        let cases: &[(&str, NameProblem)] = &[
            ("", NameProblem::Empty),
            ("../../escaped", NameProblem::PathSeparator),
            ("..", NameProblem::BadStart('.')),
            (".", NameProblem::BadStart('.')),
            (".hidden", NameProblem::BadStart('.')),
            ("/etc/x", NameProblem::PathSeparator),
            ("a/b", NameProblem::PathSeparator),
            ("a\\b", NameProblem::PathSeparator),
            ("a\0b", NameProblem::BadChar('\0')),
            ("a b", NameProblem::BadChar(' ')),
            ("a\nvrrp_instance x {", NameProblem::BadChar('\n')),
            ("a\"b", NameProblem::BadChar('"')),
            ("a{", NameProblem::BadChar('{')),
            ("-rf", NameProblem::BadStart('-')),
            ("wéb", NameProblem::BadChar('é')),
        ];
        for (name, problem) in cases {
            assert_eq!(check_name(name).as_ref(), Err(problem), "{name:?}");
            assert!(!is_safe_file_name(name), "{name:?}");
        }
        assert_eq!(
            check_name(&"x".repeat(MAX_NAME + 1)),
            Err(NameProblem::TooLong {
                len: MAX_NAME + 1,
                max: MAX_NAME
            })
        );
        assert!(matches!(
            check_interface("a-very-long-ifname"),
            Err(NameProblem::TooLong { max: 15, .. })
        ));
    }

    #[test]
    fn problems_read_as_sentences() {
        assert_eq!(
            NameProblem::BadChar('\n').to_string(),
            "it contains the character U+000A; only ASCII letters, digits, `-`, `_` and `.` are allowed"
        );
    }
}
