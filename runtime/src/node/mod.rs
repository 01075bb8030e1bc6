//! The whole daemon as one sans-IO node: `Node::handle(Event, now) -> Vec<Command>`.

pub mod event;

pub use event::{AddrOutcome, Address, Command, Event, Ledger, Link, ProcId};
