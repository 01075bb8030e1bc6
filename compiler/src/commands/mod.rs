//! One module per subcommand. Each exposes `run(...) -> u8` (the exit
//! status); `cli.rs` parses arguments and dispatches here.

pub mod build;
pub mod check;
pub mod explain;
pub mod lints;
pub mod plan_show;
pub mod schema;
