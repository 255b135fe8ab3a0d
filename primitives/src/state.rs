//! Typed state access shared by every module: protobuf values and big-endian
//! integers under string keys, on any cnidarium `StateRead` / `StateWrite`.
//!
//! A value that does not decode, or a store read that fails, is an
//! [`InternalError`]: the node halts rather than fork.

use async_trait::async_trait;
use cnidarium::{StateRead, StateWrite};
use prost::Message;

use crate::error::InternalError;

/// Protobuf and integer reads on any readable state.
#[async_trait]
pub trait StateReadProto: StateRead {
    /// Reads raw bytes, mapping a store failure to [`InternalError::Storage`].
    async fn get_bytes(&self, key: &str) -> Result<Option<Vec<u8>>, InternalError> {
        self.get_raw(key)
            .await
            .map_err(|e| InternalError::storage(format!("reading {key}"), e))
    }

    /// Reads and decodes a protobuf value.
    async fn get_proto<M: Message + Default>(&self, key: &str) -> Result<Option<M>, InternalError> {
        match self.get_bytes(key).await? {
            None => Ok(None),
            Some(bytes) => {
                M::decode(bytes.as_slice())
                    .map(Some)
                    .map_err(|e| InternalError::Corrupt {
                        key: key.to_string(),
                        reason: e.to_string(),
                    })
            }
        }
    }

    /// Reads a big-endian u64.
    async fn get_u64(&self, key: &str) -> Result<Option<u64>, InternalError> {
        match self.get_bytes(key).await? {
            None => Ok(None),
            Some(bytes) => {
                let arr: [u8; 8] =
                    bytes
                        .as_slice()
                        .try_into()
                        .map_err(|_| InternalError::Corrupt {
                            key: key.to_string(),
                            reason: format!("{} bytes, expected a u64 (8)", bytes.len()),
                        })?;
                Ok(Some(u64::from_be_bytes(arr)))
            }
        }
    }
}
impl<T: StateRead + ?Sized> StateReadProto for T {}

/// Protobuf and integer writes on any writable state.
pub trait StateWriteProto: StateWrite {
    /// Encodes and writes a protobuf value.
    fn put_proto<M: Message>(&mut self, key: String, value: &M) {
        self.put_raw(key, value.encode_to_vec());
    }
    /// Writes a big-endian u64.
    fn put_u64(&mut self, key: String, value: u64) {
        self.put_raw(key, value.to_be_bytes().to_vec());
    }
}
impl<T: StateWrite + ?Sized> StateWriteProto for T {}

/// `prefix` followed by the 20 address bytes in lowercase hex, the form every
/// module's address-keyed state uses. Keys use hex, not the bech32 form users
/// see: bech32's checksum made key formatting ~10% of the app's CPU time
/// under load.
pub fn address_key(prefix: &str, address: &crate::Address) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut key = String::with_capacity(prefix.len().saturating_add(40));
    key.push_str(prefix);
    for b in address.as_bytes() {
        key.push(char::from(HEX[usize::from(b >> 4)]));
        key.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    key
}
