//! `comrade.bridge.v1.Query`: config, guardian sets, the locked total
//! against the supply, deposits by emitter triple.

use async_trait::async_trait;
use cnidarium::StateRead;
use comrade_bank::BankRead as _;
use comrade_primitives::{
    ExecError, TxError,
    code::QueryCode,
    component::{QueryAnswer, QueryService, decode_request},
    proto::bridge::v1 as pb,
};

use crate::{BridgeRead as _, state_key};

/// The bridge query service.
#[derive(Debug)]
pub struct BridgeQuery;

#[async_trait]
impl QueryService for BridgeQuery {
    const SERVICE: &'static str = "comrade.bridge.v1.Query";

    async fn query<S: StateRead>(
        state: &S,
        method: &str,
        data: &[u8],
    ) -> Result<Option<QueryAnswer>, ExecError> {
        Ok(Some(match method {
            "Config" => {
                let _: pb::QueryConfigRequest = decode_request(data)?;
                QueryAnswer::proved_by(
                    &pb::QueryConfigResponse {
                        config: Some(state.bridge_config().await?),
                        current_guardian_set: state.current_guardian_set_index().await?,
                    },
                    state_key::CONFIG.into(),
                )
            }
            "GuardianSet" => {
                let req: pb::QueryGuardianSetRequest = decode_request(data)?;
                let current = state.current_guardian_set_index().await?;
                let index = req.index.unwrap_or(current);
                let Some(set) = state.guardian_set(index).await? else {
                    return Err(TxError::new(
                        QueryCode::NotFound,
                        format!("guardian set {index} is not known (current: {current})"),
                    )
                    .into());
                };
                QueryAnswer::proved_by(
                    &pb::QueryGuardianSetResponse {
                        set: Some(set),
                        current_index: current,
                    },
                    state_key::guardian_set(index),
                )
            }
            "Supply" => {
                let _: pb::QuerySupplyRequest = decode_request(data)?;
                QueryAnswer::proved_by(
                    &pb::QuerySupplyResponse {
                        locked: state.locked().await?.to_string(),
                        supply: state.supply().await?.to_string(),
                    },
                    state_key::LOCKED.into(),
                )
            }
            "Deposit" => {
                let req: pb::QueryDepositRequest = decode_request(data)?;
                let chain = u16::try_from(req.emitter_chain).map_err(|_| {
                    TxError::new(
                        QueryCode::BadRequest,
                        format!("emitter chain {} above u16", req.emitter_chain),
                    )
                })?;
                let emitter =
                    <[u8; 32]>::try_from(req.emitter_address.as_slice()).map_err(|_| {
                        TxError::new(
                            QueryCode::BadRequest,
                            format!(
                                "emitter address of {} bytes (32)",
                                req.emitter_address.len()
                            ),
                        )
                    })?;
                QueryAnswer::proved_by(
                    &pb::QueryDepositResponse {
                        redemption: state.redemption(chain, &emitter, req.sequence).await?,
                    },
                    state_key::redeemed(chain, &emitter, req.sequence),
                )
            }
            _ => return Ok(None),
        }))
    }
}
