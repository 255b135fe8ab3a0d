//! `comrade.staking.v1.Query`: validators (with set power, unbonding stake
//! and missed blocks), one validator by operator, params.

use async_trait::async_trait;
use cnidarium::StateRead;
use comrade_primitives::{
    ExecError, TxError,
    code::QueryCode,
    component::{QueryAnswer, QueryService, decode_request, request_address},
    proto::staking::v1 as pb,
};

use super::{StakingRead as _, state_key};

/// The staking query service.
#[derive(Debug)]
pub struct StakingQuery;

async fn info<S: StateRead + ?Sized>(
    state: &S,
    addr: [u8; 20],
    v: pb::Validator,
) -> Result<pb::ValidatorInfo, ExecError> {
    let power = state
        .decided_set()
        .await?
        .into_iter()
        .find(|(a, _)| *a == addr)
        .map_or(0, |(_, p)| p);
    Ok(pb::ValidatorInfo {
        consensus_address: hex::encode_upper(addr),
        power,
        unbonding: state.unbonding_total(&addr).await?.to_string(),
        missed_blocks: state.liveness(&addr).await?.map_or(0, |l| l.missed),
        validator: Some(v),
    })
}

#[async_trait]
impl QueryService for StakingQuery {
    const SERVICE: &'static str = "comrade.staking.v1.Query";

    async fn query<S: StateRead>(
        state: &S,
        method: &str,
        data: &[u8],
    ) -> Result<Option<QueryAnswer>, ExecError> {
        Ok(Some(match method {
            "Validators" => {
                let _: pb::QueryValidatorsRequest = decode_request(data)?;
                let mut validators = Vec::new();
                for (addr, v) in state.all_validators().await? {
                    validators.push(info(state, addr, v).await?);
                }
                QueryAnswer::new(&pb::QueryValidatorsResponse { validators })
            }
            "Validator" => {
                let req: pb::QueryValidatorRequest = decode_request(data)?;
                let operator = request_address(&req.operator)?;
                let Some((addr, v)) = state.validator_of(&operator).await? else {
                    return Err(TxError::new(
                        QueryCode::NotFound,
                        format!("{operator} runs no validator"),
                    )
                    .into());
                };
                QueryAnswer::proved_by(
                    &pb::QueryValidatorResponse {
                        validator: Some(info(state, addr, v).await?),
                    },
                    state_key::validator(&addr),
                )
            }
            "Params" => {
                let _: pb::QueryParamsRequest = decode_request(data)?;
                let p = state.staking_params().await?;
                QueryAnswer::proved_by(
                    &pb::QueryParamsResponse {
                        params: Some((&p).into()),
                    },
                    state_key::PARAMS.into(),
                )
            }
            _ => return Ok(None),
        }))
    }
}
