//! keepalived.conf as a front end: a fleet of per-host keepalived.conf
//! files becomes the same topology the TOML loader produces, with every
//! value's span pointing into the keepalived.conf file it was read from, so
//! every lint runs unchanged (`vigil check --keepalived`) and the topology
//! can be written out as TOML (`vigil import`).
//!
//! * [`parse`] reads the language (includes, comments, both brace styles).
//! * [`host`] reads one host's statements (values, unsupported constructs).
//! * [`fleet`] maps each host's statements onto the topology: one
//!   [`Topology`](vigil_schema::topology::Topology) per host, in which the
//!   host's files are laid end to end (a [`LoadedFile`](crate::load::LoadedFile)
//!   layout) so that a value can come from any of them.
//! * [`emit`] writes the resolved cluster as topology TOML.
//!
//! keepalived.conf does not say which L2 segment an interface is on, nor
//! the interfaces' own addresses. Segments are inferred: interfaces of
//! different hosts whose instances share a subnet (from the VIP prefixes and
//! `unicast_src_ip`/`unicast_peer`) are one segment; an interface with no
//! subnet at all is joined by name. Operators can name segments with
//! `--segment NAME=CIDR`. Instances on one segment with the same
//! `virtual_router_id` are one router; a host with two such instances is a
//! VRID collision and its instances stay separate routers, by name.

pub mod emit;
pub mod fleet;
pub mod host;
pub mod parse;

pub use fleet::{Fleet, HostSource, Options, read_fleet};
