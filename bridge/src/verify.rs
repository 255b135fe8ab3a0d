//! A VAA checked against the chain's guardian sets.

use cnidarium::StateRead;
use comrade_primitives::{ExecError, InternalError, proto::bridge::v1 as pb};

use crate::{
    BridgeError, BridgeRead as _,
    vaa::{GuardianAddress, Vaa},
};

/// A stored set's addresses; a key of another length is corrupt state.
pub fn set_addresses(set: &pb::GuardianSet) -> Result<Vec<GuardianAddress>, InternalError> {
    set.keys
        .iter()
        .map(|k| {
            <[u8; 20]>::try_from(k.as_slice()).map_err(|_| InternalError::Corrupt {
                key: crate::state_key::guardian_set(set.index),
                reason: format!("guardian key of {} bytes", k.len()),
            })
        })
        .collect()
}

/// Verifies `vaa` against the guardian set it names: the set is known and
/// non-empty, not expired at block time `now` (CheckTx has no block time and
/// leaves the expiry to FinalizeBlock), and its signatures reach quorum.
/// Returns the set.
pub async fn verify_vaa<S: StateRead + ?Sized>(
    state: &S,
    vaa: &Vaa,
    now: Option<i64>,
) -> Result<pb::GuardianSet, ExecError> {
    let set = state
        .guardian_set(vaa.guardian_set_index)
        .await?
        .filter(|s| !s.keys.is_empty())
        .ok_or(BridgeError::UnknownGuardianSet(vaa.guardian_set_index))?;
    if set.expiration_time != 0
        && let Some(now) = now
        && now >= set.expiration_time
    {
        return Err(BridgeError::ExpiredGuardianSet {
            index: set.index,
            expired_at: set.expiration_time,
            now,
            current: state.current_guardian_set_index().await?,
        }
        .into());
    }
    vaa.verify_signatures(&set_addresses(&set)?)?;
    Ok(set)
}
