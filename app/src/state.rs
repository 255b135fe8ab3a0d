//! Typed access to the app's own state: params, versions, heights.

use async_trait::async_trait;
use cnidarium::{StateRead, StateWrite};
use comrade_primitives::{
    InternalError,
    proto::app::v1 as app_pb,
    state::{StateReadProto, StateWriteProto},
};

use crate::{
    params::{ChainParams, Params},
    state_key,
};

/// Reads of app-level state.
#[async_trait]
pub trait AppStateReadExt: StateRead {
    /// The validated params loaded into this state (see [`load_params`]).
    /// Missing params are an app bug, never silently defaulted.
    fn chain_params(&self) -> Result<ChainParams, InternalError> {
        self.object_get::<ChainParams>(state_key::PARAMS_OBJECT)
            .ok_or_else(|| InternalError::invariant("params are not loaded into this state"))
    }

    /// The stored params record, validated. Run once per block or mempool
    /// reset; a record that does not validate means corrupt state.
    async fn stored_params(&self) -> Result<(Params, ChainParams), InternalError> {
        let p: Params = self
            .get_proto::<app_pb::Params>(state_key::PARAMS)
            .await?
            .ok_or_else(|| InternalError::invariant("params missing from state"))?
            .into();
        let typed = ChainParams::try_from(&p).map_err(|reason| InternalError::Corrupt {
            key: state_key::PARAMS.to_string(),
            reason,
        })?;
        Ok((p, typed))
    }

    /// The state-format marker.
    async fn state_version(&self) -> Result<Option<app_pb::StateVersion>, InternalError> {
        self.get_proto(state_key::STATE_VERSION).await
    }

    /// Height from which vote extensions are required.
    async fn vote_ext_enable_height(&self) -> Result<u64, InternalError> {
        Ok(self
            .get_u64(state_key::VOTE_EXT_ENABLE_HEIGHT)
            .await?
            .unwrap_or(0))
    }

    /// Last finalized block height (0 at genesis).
    async fn block_height(&self) -> Result<u64, InternalError> {
        Ok(self.get_u64(state_key::BLOCK_HEIGHT).await?.unwrap_or(0))
    }
}
impl<T: StateRead + ?Sized> AppStateReadExt for T {}

/// Loads validated params into `state` for the rest of its life (ephemeral
/// objects, never persisted): the app's view and each module's own.
pub fn load_params<S: StateWrite + ?Sized>(state: &mut S, params: ChainParams) {
    comrade_bank::auth::state::load_params(state, params.auth.clone());
    comrade_bank::bank::state::load_params(state, params.bank.clone());
    state.object_put(state_key::PARAMS_OBJECT, params);
}

/// Writes the app's own genesis records.
pub(crate) fn put_app_genesis<S: StateWrite + ?Sized>(
    state: &mut S,
    params: &Params,
    chain_id: &str,
    vote_ext_enable_height: u64,
) {
    state.put_proto(
        state_key::STATE_VERSION.to_string(),
        &app_pb::StateVersion {
            version: crate::app::STATE_FORMAT_VERSION,
            chain_id: chain_id.to_string(),
        },
    );
    state.put_proto(
        state_key::PARAMS.to_string(),
        &app_pb::Params::from(params.clone()),
    );
    state.put_u64(
        state_key::VOTE_EXT_ENABLE_HEIGHT.to_string(),
        vote_ext_enable_height,
    );
    state.put_u64(state_key::BLOCK_HEIGHT.to_string(), 0);
}
