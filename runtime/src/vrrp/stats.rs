//! Per-router counters, after the VRRPv3 MIB (RFC 6527 `vrrpv3StatisticsTable`
//! and the router-wide checksum/version/VRID errors) plus the VRRPv2
//! authentication counters of RFC 2787. Serialisable so the shell can dump
//! them as JSON. The shell keeps one extra `Stats` for packets it could not
//! attribute to any router (unknown VRID, unreadable header).

use serde::{Deserialize, Serialize};

use super::rx::RxError;
use crate::wire::DecodeError;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// vrrpv3StatisticsMasterTransitions.
    pub became_master: u64,
    /// vrrpv3StatisticsRcvdAdvertisements (valid adverts, any state).
    pub adverts_received: u64,
    pub adverts_sent: u64,
    /// vrrpv3StatisticsRcvdPriZeroPackets / SentPriZeroPackets.
    pub priority_zero_received: u64,
    pub priority_zero_sent: u64,
    /// vrrpv3RouterChecksumErrors.
    pub checksum_errors: u64,
    /// vrrpv3RouterVersionErrors (unknown version, or not the router's).
    pub version_errors: u64,
    /// vrrpv3RouterVrIdErrors.
    pub vrid_errors: u64,
    /// vrrpv3StatisticsRcvdInvalidTypePackets.
    pub invalid_type: u64,
    /// vrrpv3StatisticsAdvIntervalErrors (v2 mismatch, v3 out of bounds, zero).
    pub interval_errors: u64,
    /// vrrpv3StatisticsIpTtlErrors.
    pub ttl_errors: u64,
    /// vrrpv3StatisticsPacketLengthErrors (truncated, length, count).
    pub length_errors: u64,
    /// vrrpv3StatisticsAddressListErrors.
    pub address_list_errors: u64,
    /// RFC 2787 vrrpStatsAuthFailures / InvalidAuthType / AuthTypeMismatch.
    pub auth_failures: u64,
    pub invalid_auth_type: u64,
    pub auth_type_mismatch: u64,
    /// Our own address as source (loop or address conflict).
    pub own_address: u64,
    /// Wrong address family or malformed framing.
    pub other_errors: u64,
    /// Adverts from another master with our priority (see `Alarm::DualMaster`).
    pub dual_master: u64,
    /// Times the arbitration verdict kept us from becoming master.
    pub master_vetoed: u64,
}

impl Stats {
    /// Counts one discarded packet.
    pub fn record(&mut self, reason: RxError) {
        let c = match reason {
            RxError::Decode(d) => match d {
                DecodeError::Truncated
                | DecodeError::LengthMismatch
                | DecodeError::AddressCountMismatch => &mut self.length_errors,
                DecodeError::BadVersion => &mut self.version_errors,
                DecodeError::BadType => &mut self.invalid_type,
                DecodeError::BadChecksum => &mut self.checksum_errors,
                DecodeError::BadTtl => &mut self.ttl_errors,
                DecodeError::BadInterval => &mut self.interval_errors,
                DecodeError::BadAuthType => &mut self.invalid_auth_type,
                DecodeError::BadAddressFamily | DecodeError::Malformed => &mut self.other_errors,
            },
            RxError::UnknownVrid => &mut self.vrid_errors,
            RxError::VersionMismatch => &mut self.version_errors,
            RxError::IntervalMismatch | RxError::IntervalOutOfBounds => &mut self.interval_errors,
            RxError::AddressListMismatch => &mut self.address_list_errors,
            RxError::AuthFailure => &mut self.auth_failures,
            RxError::AuthTypeMismatch => &mut self.auth_type_mismatch,
            RxError::OwnAddress => &mut self.own_address,
        };
        *c += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reason_lands_in_its_counter() {
        let mut s = Stats::default();
        s.record(DecodeError::BadChecksum.into());
        s.record(DecodeError::BadTtl.into());
        s.record(DecodeError::Truncated.into());
        s.record(DecodeError::AddressCountMismatch.into());
        s.record(RxError::IntervalOutOfBounds);
        s.record(RxError::AuthFailure);
        assert_eq!(s.checksum_errors, 1);
        assert_eq!(s.ttl_errors, 1);
        assert_eq!(s.length_errors, 2);
        assert_eq!(s.interval_errors, 1);
        assert_eq!(s.auth_failures, 1);
        assert_eq!(s.version_errors, 0);
    }
}
