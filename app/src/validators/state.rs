//! Typed reads of the validator set.

use async_trait::async_trait;
use cnidarium::StateRead;
use comrade_primitives::{InternalError, proto::app::v1 as pb};
use futures::StreamExt as _;
use prost::Message as _;

use super::state_key;

/// Reads of the validator set.
#[async_trait]
pub trait ValidatorsRead: StateRead {
    /// All validators, sorted by consensus address.
    async fn validators(&self) -> Result<Vec<([u8; 20], pb::Validator)>, InternalError> {
        let mut out = Vec::new();
        let mut stream = std::pin::pin!(self.prefix_raw(state_key::VALIDATOR_PREFIX));
        while let Some(item) = stream.next().await {
            let (key, bytes) =
                item.map_err(|e| InternalError::storage("reading the validator set", e))?;
            let corrupt = |reason: String| InternalError::Corrupt {
                key: key.clone(),
                reason,
            };
            let hex_addr = key
                .strip_prefix(state_key::VALIDATOR_PREFIX)
                .ok_or_else(|| corrupt("prefix stream returned a foreign key".into()))?;
            let addr: [u8; 20] = hex::decode(hex_addr)
                .ok()
                .and_then(|v| v.try_into().ok())
                .ok_or_else(|| corrupt("key is not a hex consensus address".into()))?;
            let v = pb::Validator::decode(bytes.as_slice()).map_err(|e| corrupt(e.to_string()))?;
            out.push((addr, v));
        }
        out.sort_by_key(|(addr, _)| *addr);
        Ok(out)
    }
}
impl<T: StateRead + ?Sized> ValidatorsRead for T {}
