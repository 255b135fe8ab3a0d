//! The auth module's parameters: the limits of the tx envelope (as the
//! Cosmos SDK's auth module owns `max_memo_characters`). Stored in the
//! chain's one params record; see `comrade_app::params`.

/// Tx size and memo limits, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthParams {
    max_tx_bytes: u64,
    max_memo_bytes: u64,
}

impl AuthParams {
    /// Checks and builds the params: `max_tx_bytes` in 256..=4 MiB, the memo
    /// limit at most the tx limit.
    pub fn new(max_tx_bytes: u64, max_memo_bytes: u64) -> Result<Self, String> {
        if !(256..=4 * 1024 * 1024).contains(&max_tx_bytes) {
            return Err(format!(
                "max_tx_bytes {max_tx_bytes} must be between 256 and 4194304"
            ));
        }
        if max_memo_bytes > max_tx_bytes {
            return Err("max_memo_bytes exceeds max_tx_bytes".into());
        }
        Ok(AuthParams {
            max_tx_bytes,
            max_memo_bytes,
        })
    }

    /// Maximum tx size in bytes.
    pub fn max_tx_bytes(&self) -> u64 {
        self.max_tx_bytes
    }

    /// Maximum memo length in bytes.
    pub fn max_memo_bytes(&self) -> u64 {
        self.max_memo_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_params_bound_tx_and_memo_sizes() {
        assert!(AuthParams::new(65_536, 256).is_ok());
        assert!(AuthParams::new(255, 0).is_err());
        assert!(AuthParams::new(4 * 1024 * 1024 + 1, 0).is_err());
        assert!(AuthParams::new(1_000, 1_001).is_err());
    }
}
