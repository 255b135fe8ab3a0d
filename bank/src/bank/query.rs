//! `comrade.bank.v1.Query`.

use async_trait::async_trait;
use cnidarium::StateRead;
use comrade_primitives::{
    ExecError, QueryCode, TxError,
    component::{QueryAnswer, QueryService, decode_request, request_address},
    proto::bank::v1 as pb,
};

use super::{BankRead as _, state_key};

/// The bank query service.
#[derive(Debug)]
pub struct BankQuery;

#[async_trait]
impl QueryService for BankQuery {
    const SERVICE: &'static str = "comrade.bank.v1.Query";

    async fn query<S: StateRead>(
        state: &S,
        method: &str,
        data: &[u8],
    ) -> Result<Option<QueryAnswer>, ExecError> {
        let params = state.bank_params()?;
        let denom = params.denom().to_string();
        Ok(Some(match method {
            "Balance" => {
                let r: pb::QueryBalanceRequest = decode_request(data)?;
                let a = request_address(&r.address)?;
                if !r.denom.is_empty() && r.denom != denom {
                    return Err(TxError::new(
                        QueryCode::BadRequest,
                        format!("unknown denom {:?}: the only denom is {denom:?}", r.denom),
                    )
                    .into());
                }
                let amount = state.balance(&a).await?;
                QueryAnswer::proved_by(
                    &pb::QueryBalanceResponse {
                        denom,
                        amount: amount.to_string(),
                    },
                    state_key::balance(&a),
                )
            }
            "AllBalances" => {
                let r: pb::QueryAllBalancesRequest = decode_request(data)?;
                let a = request_address(&r.address)?;
                let amount = state.balance(&a).await?;
                let balances = if amount == 0 {
                    Vec::new()
                } else {
                    vec![pb::Coin {
                        denom,
                        amount: amount.to_string(),
                    }]
                };
                QueryAnswer::new(&pb::QueryAllBalancesResponse { balances })
            }
            "Supply" => QueryAnswer::new(&pb::QuerySupplyResponse {
                supply: vec![pb::Coin {
                    denom,
                    amount: state.supply().await?.to_string(),
                }],
            }),
            _ => return Ok(None),
        }))
    }
}
