//! Protobuf types generated from `proto/comrade/**` (prost, built by `build.rs`).
#![allow(missing_docs, clippy::all)]

/// `comrade.bank.v1`
pub mod bank {
    /// Version 1.
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/comrade.bank.v1.rs"));
    }
}
/// `comrade.auth.v1`
pub mod auth {
    /// Version 1.
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/comrade.auth.v1.rs"));
    }
}
/// `comrade.app.v1`
pub mod app {
    /// Version 1.
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/comrade.app.v1.rs"));
    }
}
/// `comrade.staking.v1`
pub mod staking {
    /// Version 1.
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/comrade.staking.v1.rs"));
    }
}
/// `comrade.compute.v1`
pub mod compute {
    /// Version 1.
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/comrade.compute.v1.rs"));
    }
}
/// `comrade.bridge.v1`
pub mod bridge {
    /// Version 1.
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/comrade.bridge.v1.rs"));
    }
}
