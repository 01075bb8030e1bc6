//! `--format github`: GitHub Actions workflow commands, which annotate the
//! pull request at the offending line.
//!
//! `::error file=F,line=L,col=C,endLine=L2,endColumn=C2,title=CODE name::message`
//! Data is escaped `%`→`%25`, CR→`%0D`, LF→`%0A`; properties also escape
//! `:`→`%3A` and `,`→`%2C`.

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::SourceMap;

pub fn render(diagnostic: &Diagnostic, sources: &SourceMap) -> String {
    let command = match diagnostic.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "notice",
    };
    let file = sources.file(diagnostic.primary.span.file);
    let start = file.line_col(diagnostic.primary.span.range.start);
    let end = file.line_col(diagnostic.primary.span.range.end);
    let mut message = diagnostic.message.clone();
    if let Some(help) = &diagnostic.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    format!(
        "::{command} file={},line={},col={},endLine={},endColumn={},title={}::{}",
        escape_property(&file.name),
        start.line,
        start.column,
        end.line,
        end.column,
        escape_property(&format!("{} {}", diagnostic.code, diagnostic.name)),
        escape_data(&message)
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
