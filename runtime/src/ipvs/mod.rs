//! IPVS programming over generic netlink.
//!
//! * [`genl`] — netlink/genl framing, encoded by hand;
//! * [`messages`] — IPVS commands and the encoding of services and destinations;
//! * [`client`] — the socket: family resolution, GET_INFO probe, dumps, requests;
//! * [`reconcile`] — pure diff from the plan's desired state to kernel operations.

pub mod client;
pub mod genl;
pub mod messages;
pub mod reconcile;
