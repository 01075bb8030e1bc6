//! The lint registry. One lint per file, named after the lint; each file
//! exports a `LINT` static with its metadata, documentation and check.
//! See `README.md` in this directory for how to add one.
//!
//! Codes are stable and grouped by area:
//! * `V00xx` loading (not lints: see [`crate::load::LoadError`], and
//!   [`crate::keepalived::parse::ReadError`] for keepalived.conf input, V0011–V0015)
//! * `V01xx` identity and definitions across files
//! * `V02xx` protocol version, timers, authentication
//! * `V03xx` priorities, election, trackers
//! * `V04xx` preemption
//! * `V05xx` split-brain arbitration
//! * `V06xx` virtual addresses
//! * `V07xx` unicast
//! * `V08xx` references between objects (members, interfaces, segments, sync groups)
//! * `V09xx` virtual servers and health checks
//! * `V10xx` host services (the metrics listener)

use crate::diagnostic::{Diagnostic, Severity, normalize};
use crate::model::Cluster;
use crate::source::Span;

pub mod advert_interval_out_of_range;
pub mod arbitration_timing;
pub mod auth_with_v3;
pub mod bad_member_interface;
pub mod body_sha256_malformed;
pub(crate) mod commands;
pub mod demote_in_sync_group;
pub mod dr_real_server_off_segment;
pub mod duplicate_definition;
pub mod duplicate_vip;
pub mod duplicate_virtual_service;
pub mod empty_command;
pub mod empty_file;
pub mod empty_topology;
pub mod fence_without_arbitration;
pub mod garp_repeat_out_of_range;
pub mod health_check_kind;
pub mod health_timeout_too_long;
pub mod health_timing;
pub mod heartbeat_path_interface;
pub mod heartbeat_vrid_collision;
pub mod http_status_range;
pub mod hysteresis_not_below_quorum;
pub mod ipv6_first_vip_not_link_local;
pub mod ipv6_requires_v3;
pub mod lease_on_keepalived_host;
pub mod lease_store;
pub mod lease_tls_unsupported;
pub mod lease_ttl;
pub mod lease_without_reference_ips;
pub mod lvs_number_out_of_range;
pub mod member_interface_unresolved;
pub mod member_without_address;
pub mod metrics_listen_not_local;
pub mod metrics_port_clash;
pub mod missing_arbitration;
pub mod mixed_address_families;
pub mod multiple_address_owners;
pub mod no_vips;
pub mod owner_without_address;
pub mod password_too_long;
pub mod port_out_of_range;
pub mod preempt_never_misuse;
pub mod priority_out_of_range;
pub mod priority_tie;
pub mod quorum_unreachable;
pub mod reference_ip_misplaced;
pub mod router_definition_conflict;
pub mod router_in_several_sync_groups;
pub mod scheduler_flag_mismatch;
pub mod segment_definition_conflict;
pub mod single_heartbeat_path;
pub mod startup_delay_too_short;
pub mod sync_group_members_differ;
pub mod sync_group_unknown_router;
pub mod too_many_vips;
pub mod tracked_interface_unknown;
pub mod tracker_cannot_fail_over;
pub mod tracker_kind;
pub mod tracker_timeout_too_long;
pub mod tracker_timing;
pub mod tracker_weight_out_of_range;
pub mod unicast_member_without_address;
pub mod unknown_member_host;
pub mod unknown_segment;
pub mod unsafe_name;
pub mod unsafe_text;
pub mod unsupported_version;
pub mod vip_outside_segment;
pub mod vip_prefix_mismatch;
pub mod virtual_server_address_not_vip;
pub mod virtual_service_identity;
pub mod vmac_ipv6_on_vigild;
pub mod vmac_name_clash;
pub mod vrid_collision;
pub mod vrid_out_of_range;

/// The largest count (`rise`, `fall`, `attempts`, `garp.repeat`) a plan
/// carries: keepalived's limit for the same settings (`INT_MAX`), which
/// also fits the plan's `u32`.
pub const MAX_COUNT: i64 = i32::MAX as i64;

/// A lint: metadata, documentation and a check over the resolved model.
pub struct Lint {
    /// Stable code, `V` + four digits.
    pub code: &'static str,
    /// Kebab-case name, also accepted by `vigil explain`.
    pub name: &'static str,
    pub severity: Severity,
    /// One line for `vigil lints`.
    pub summary: &'static str,
    /// Markdown for `vigil explain`: what it does, why it is bad in
    /// production, an example, the fix.
    pub explanation: &'static str,
    pub check: fn(&Lint, &Cluster) -> Vec<Diagnostic>,
}

impl Lint {
    /// A diagnostic of this lint at `span`.
    pub fn at(&self, span: &Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(self.code, self.name, self.severity, span.clone(), message)
    }
}

impl std::fmt::Debug for Lint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Lint({} {})", self.code, self.name)
    }
}

/// Every lint, in code order.
pub static ALL: &[&Lint] = &[
    &vrid_collision::LINT,
    &router_definition_conflict::LINT,
    &segment_definition_conflict::LINT,
    &duplicate_definition::LINT,
    &vrid_out_of_range::LINT,
    &unsafe_name::LINT,
    &empty_file::LINT,
    &empty_topology::LINT,
    &heartbeat_vrid_collision::LINT,
    &unsafe_text::LINT,
    &empty_command::LINT,
    &unsupported_version::LINT,
    &advert_interval_out_of_range::LINT,
    &ipv6_requires_v3::LINT,
    &auth_with_v3::LINT,
    &password_too_long::LINT,
    &startup_delay_too_short::LINT,
    &garp_repeat_out_of_range::LINT,
    &priority_out_of_range::LINT,
    &priority_tie::LINT,
    &multiple_address_owners::LINT,
    &tracker_cannot_fail_over::LINT,
    &tracker_kind::LINT,
    &tracker_weight_out_of_range::LINT,
    &tracked_interface_unknown::LINT,
    &owner_without_address::LINT,
    &tracker_timing::LINT,
    &tracker_timeout_too_long::LINT,
    &preempt_never_misuse::LINT,
    &missing_arbitration::LINT,
    &reference_ip_misplaced::LINT,
    &arbitration_timing::LINT,
    &single_heartbeat_path::LINT,
    &fence_without_arbitration::LINT,
    &lease_ttl::LINT,
    &lease_store::LINT,
    &lease_tls_unsupported::LINT,
    &lease_without_reference_ips::LINT,
    &lease_on_keepalived_host::LINT,
    &duplicate_vip::LINT,
    &vip_outside_segment::LINT,
    &mixed_address_families::LINT,
    &too_many_vips::LINT,
    &no_vips::LINT,
    &ipv6_first_vip_not_link_local::LINT,
    &vip_prefix_mismatch::LINT,
    &vmac_name_clash::LINT,
    &vmac_ipv6_on_vigild::LINT,
    &unicast_member_without_address::LINT,
    &unknown_member_host::LINT,
    &bad_member_interface::LINT,
    &member_interface_unresolved::LINT,
    &unknown_segment::LINT,
    &sync_group_unknown_router::LINT,
    &demote_in_sync_group::LINT,
    &router_in_several_sync_groups::LINT,
    &sync_group_members_differ::LINT,
    &heartbeat_path_interface::LINT,
    &member_without_address::LINT,
    &virtual_server_address_not_vip::LINT,
    &duplicate_virtual_service::LINT,
    &health_check_kind::LINT,
    &quorum_unreachable::LINT,
    &virtual_service_identity::LINT,
    &port_out_of_range::LINT,
    &scheduler_flag_mismatch::LINT,
    &hysteresis_not_below_quorum::LINT,
    &health_timeout_too_long::LINT,
    &health_timing::LINT,
    &http_status_range::LINT,
    &body_sha256_malformed::LINT,
    &dr_real_server_off_segment::LINT,
    &lvs_number_out_of_range::LINT,
    &metrics_listen_not_local::LINT,
    &metrics_port_clash::LINT,
];

/// Runs every lint; diagnostics sorted by position.
pub fn run(cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = ALL.iter().flat_map(|l| (l.check)(l, cluster)).collect();
    normalize(&mut out);
    out
}

/// A lint by code (`V0101`, any case) or name (`vrid-collision`).
pub fn find(key: &str) -> Option<&'static Lint> {
    ALL.iter()
        .copied()
        .find(|l| l.code.eq_ignore_ascii_case(key) || l.name == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_are_unique_and_well_formed() {
        let mut codes = std::collections::BTreeSet::new();
        let mut names = std::collections::BTreeSet::new();
        for lint in ALL {
            assert!(codes.insert(lint.code), "duplicate code {}", lint.code);
            assert!(names.insert(lint.name), "duplicate name {}", lint.name);
            assert!(
                lint.code.len() == 5 && lint.code.starts_with('V'),
                "{lint:?}"
            );
            assert!(
                lint.code[1..].bytes().all(|b| b.is_ascii_digit()),
                "{lint:?}"
            );
            assert!(
                lint.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{lint:?}"
            );
            assert!(
                !lint.summary.is_empty() && !lint.summary.contains('\n'),
                "{lint:?}"
            );
            for section in [
                "## What it does",
                "## Why is this bad",
                "## Example",
                "## Fix",
            ] {
                assert!(
                    lint.explanation.contains(section),
                    "{lint:?} lacks {section}"
                );
            }
        }
        let sorted: Vec<_> = ALL.iter().map(|l| l.code).collect();
        let mut expected = sorted.clone();
        expected.sort();
        assert_eq!(sorted, expected, "keep ALL in code order");
    }
}
