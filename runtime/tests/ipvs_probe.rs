//! The startup probe against the running kernel. Where `ip_vs` is absent
//! (the usual development host) the error must say so in plain words; where
//! it is present the probe must return a plausible version.

use vigild::ipvs::client::{IpvsClient, IpvsError};

#[test]
fn probe_reports_missing_ipvs_clearly_or_returns_a_version() {
    let has_ipvs_before = std::path::Path::new("/proc/net/ip_vs").exists();
    match IpvsClient::probe() {
        Err(IpvsError::NoIpvs) => {
            assert!(
                !has_ipvs_before,
                "IPVS is loaded but the family was not found"
            );
            assert_eq!(
                IpvsError::NoIpvs.to_string(),
                "the kernel has no IPVS (ip_vs module not loaded?)"
            );
        }
        Err(other) => panic!("unexpected probe failure: {other}"),
        Ok((client, info)) => {
            assert!(
                client.family_id() >= 0x10,
                "dynamic genl ids start after the controller"
            );
            assert_eq!(
                info.version >> 16,
                1,
                "IPVS major version 1, got {:#x}",
                info.version
            );
            assert!(info.conn_tab_size > 0);
        }
    }
}
