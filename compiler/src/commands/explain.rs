//! `vigil explain CODE|NAME`: a lint's documentation.

use crate::lints::find;

/// The explanation, or `None` for an unknown code or name.
pub fn text(key: &str) -> Option<String> {
    let Some(lint) = find(key) else {
        let (code, name, text) = crate::load::codes::EXPLANATIONS
            .iter()
            .find(|(code, name, _)| code.eq_ignore_ascii_case(key) || *name == key)?;
        return Some(format!("# {code} {name} (error)\n\n{text}"));
    };
    Some(format!(
        "# {} {} ({})\n\n{}\n\n{}",
        lint.code,
        lint.name,
        lint.severity.as_str(),
        lint.summary,
        lint.explanation.trim_end()
    ))
}

pub fn run(key: &str) -> u8 {
    match text(key) {
        Some(text) => {
            println!("{text}");
            0
        }
        None => {
            eprintln!("error: no lint has the code or name `{key}` (see `vigil lints`)");
            2
        }
    }
}
