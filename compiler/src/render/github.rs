//! `--format github`: GitHub Actions workflow commands, which annotate the
//! pull request at the offending line.
//!
//! `::error file=F,line=L,col=C,endLine=L2,endColumn=C2,title=CODE name::message`
//! Data is escaped `%`→`%25`, CR→`%0D`, LF→`%0A`; properties also escape
//! `:`→`%3A` and `,`→`%2C`.
//!
//! Secondary labels are listed in the message (`see FILE:LINE:COL: label`),
//! and each one in another file than the primary also gets a `::notice`
//! there, so both files of a cross-file conflict are annotated.

use crate::diagnostic::{Diagnostic, Label, Severity};
use crate::source::{SourceMap, printable};

pub fn render(diagnostic: &Diagnostic, sources: &SourceMap) -> String {
    let command = match diagnostic.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "notice",
    };
    let title = format!("{} {}", diagnostic.code, diagnostic.name);
    let mut message = printable(&diagnostic.message).into_owned();
    if let Some(help) = &diagnostic.help {
        message.push_str("\nhelp: ");
        message.push_str(&printable(help));
    }
    // Every secondary location is named in the message; those in another
    // file also get a notice of their own, so that file is annotated too.
    let primary = sources.file(diagnostic.primary.span.file);
    let primary_at = primary.line_col(diagnostic.primary.span.range.start);
    let mut notices = Vec::new();
    for label in &diagnostic.secondary {
        let file = sources.file(label.span.file);
        let at = file.line_col(label.span.range.start);
        let text = printable(label.message.as_deref().unwrap_or("related")).into_owned();
        message.push_str(&format!(
            "\nsee {}:{}:{}: {text}",
            printable(&file.name),
            at.line,
            at.column
        ));
        if label.span.file != diagnostic.primary.span.file {
            notices.push(annotation(
                "notice",
                sources,
                label,
                &format!("{title} (related)"),
                &format!(
                    "{text}: related to {} at {}:{}:{}: {}",
                    diagnostic.code,
                    printable(&primary.name),
                    primary_at.line,
                    primary_at.column,
                    printable(&diagnostic.message)
                ),
            ));
        }
    }
    let mut out = annotation(command, sources, &diagnostic.primary, &title, &message);
    for notice in notices {
        out.push('\n');
        out.push_str(&notice);
    }
    out
}

/// One workflow command annotating `label`'s span.
fn annotation(
    command: &str,
    sources: &SourceMap,
    label: &Label,
    title: &str,
    message: &str,
) -> String {
    let file = sources.file(label.span.file);
    let start = file.line_col(label.span.range.start);
    let end = file.line_col(label.span.range.end);
    format!(
        "::{command} file={},line={},col={},endLine={},endColumn={},title={}::{}",
        escape_property(&printable(&file.name)),
        start.line,
        start.column,
        end.line,
        end.column,
        escape_property(title),
        escape_data(message)
    )
}

pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_follow_the_workflow_command_rules() {
        assert_eq!(escape_data("50% a\r\nb"), "50%25 a%0D%0Ab");
        assert_eq!(escape_property("a:b,c%"), "a%3Ab%2Cc%25");
    }
}
