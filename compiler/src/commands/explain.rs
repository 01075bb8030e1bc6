//! `vigil explain CODE|NAME`: a lint's documentation.

use crate::lints::find;

/// The explanation, or `None` for an unknown code or name.
pub fn text(key: &str) -> Option<String> {
    let Some(lint) = find(key) else {
        if let Some(e) = crate::keepalived::parse::ReadError::ALL
            .into_iter()
            .find(|e| e.code().eq_ignore_ascii_case(key) || e.name() == key)
        {
            return Some(format!(
                "# {} {} ({})\n\n{}",
                e.code(),
                e.name(),
                e.severity().as_str(),
                e.explanation()
            ));
        }
        let load = crate::load::LoadError::ALL
            .into_iter()
            .find(|e| e.code().eq_ignore_ascii_case(key) || e.name() == key)?;
        return Some(format!(
            "# {} {} (error)\n\n{}",
            load.code(),
            load.name(),
            load.explanation()
        ));
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
