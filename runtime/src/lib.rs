//! vigild
