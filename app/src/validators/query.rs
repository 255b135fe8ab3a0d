//! `comrade.app.v1.Query/Validators` (the validator set lives under the
//! app's service until staking brings its own).

use async_trait::async_trait;
use cnidarium::StateRead;
use comrade_primitives::{
    ExecError,
    component::{QueryAnswer, QueryService},
    proto::app::v1 as pb,
};

use super::ValidatorsRead as _;

/// The validator-set query service.
#[derive(Debug)]
pub struct ValidatorsQuery;

#[async_trait]
impl QueryService for ValidatorsQuery {
    const SERVICE: &'static str = "comrade.app.v1.Query";

    async fn query<S: StateRead>(
        state: &S,
        method: &str,
        _data: &[u8],
    ) -> Result<Option<QueryAnswer>, ExecError> {
        Ok(match method {
            "Validators" => Some(QueryAnswer::new(&pb::QueryValidatorsResponse {
                validators: state
                    .validators()
                    .await?
                    .into_iter()
                    .map(|(_, v)| v)
                    .collect(),
            })),
            _ => None,
        })
    }
}
