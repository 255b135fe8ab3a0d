//! `comrade.auth.v1.Query`.

use async_trait::async_trait;
use cnidarium::StateRead;
use comrade_primitives::{
    Address, ExecError,
    component::{QueryAnswer, QueryService, decode_request, request_address},
    proto::auth::v1 as pb,
};

use super::state::AuthRead as _;

/// The account a query names: a bad address is `BadRequest`, a missing
/// account `NotFound` (in the SDK's words, which cosmjs matches).
pub(crate) async fn requested_account<S: StateRead>(
    state: &S,
    address: &str,
) -> Result<(Address, pb::Account), ExecError> {
    let a = request_address(address)?;
    match state.account(&a).await? {
        Some(account) => Ok((a, account)),
        None => Err(super::cosmos_query::not_found(format_args!(
            "account {a} not found"
        ))),
    }
}

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
                let (_, account) = requested_account(state, &r.address).await?;
                QueryAnswer::new(&pb::QueryAccountResponse {
                    account: Some(account),
                })
            }
            _ => return Ok(None),
        }))
    }
}
