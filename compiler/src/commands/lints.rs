//! `vigil lints`: the table of every lint.

use crate::lints::ALL;

pub fn table() -> String {
    let name_width = ALL.iter().map(|l| l.name.len()).max().unwrap_or(4).max(4);
    let mut out = format!(
        "{:<6} {:<name_width$} {:<8} SUMMARY\n",
        "CODE", "NAME", "SEVERITY"
    );
    for lint in ALL {
        out.push_str(&format!(
            "{:<6} {:<name_width$} {:<8} {}\n",
            lint.code,
            lint.name,
            lint.severity.as_str(),
            lint.summary
        ));
    }
    out
}

pub fn run() -> u8 {
    print!("{}", table());
    0
}
