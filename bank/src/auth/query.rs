//! `comrade.auth.v1.Query`.

use async_trait::async_trait;
use cnidarium::StateRead;
use comrade_primitives::{
    ExecError, QueryCode, TxError,
    component::{QueryAnswer, QueryService, decode_request, request_address},
    proto::auth::v1 as pb,
};

use super::state::AuthRead as _;

/// The auth query service.
#[derive(Debug)]
pub struct AuthQuery;

#[async_trait]
impl QueryService for AuthQuery {
    const SERVICE: &'static str = "comrade.auth.v1.Query";

    async fn query<S: StateRead>(
        state: &S,
        method: &str,
        data: &[u8],
    ) -> Result<Option<QueryAnswer>, ExecError> {
        Ok(Some(match method {
            "Account" => {
                let r: pb::QueryAccountRequest = decode_request(data)?;
                let a = request_address(&r.address)?;
                let Some(account) = state.account(&a).await? else {
                    return Err(TxError::new(
                        QueryCode::NotFound,
                        format!("account {a} not found"),
                    )
                    .into());
                };
                QueryAnswer::new(&pb::QueryAccountResponse {
                    account: Some(account),
                })
            }
            _ => return Ok(None),
        }))
    }
}
