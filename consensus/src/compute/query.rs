//! `comrade.compute.v1.Query`: nodes (with routing weight), one node,
//! a period's beacon, params.

use async_trait::async_trait;
use cnidarium::StateRead;
use comrade_primitives::{
    ExecError, TxError,
    code::QueryCode,
    component::{QueryAnswer, QueryService, decode_request, request_address},
    proto::compute::v1 as pb,
};

use super::{ComputeParams, ComputeRead as _, state_key, weight};

/// The compute query service.
#[derive(Debug)]
pub struct ComputeQuery;

fn info(n: pb::ComputeNode, params: &ComputeParams, epoch: u64) -> pb::NodeInfo {
    pb::NodeInfo {
        routing_weight: weight::routing_weight(&n, params, epoch),
        throttled: weight::is_throttled(&n, epoch),
        node: Some(n),
    }
}

#[async_trait]
impl QueryService for ComputeQuery {
    const SERVICE: &'static str = "comrade.compute.v1.Query";

    async fn query<S: StateRead>(
        state: &S,
        method: &str,
        data: &[u8],
    ) -> Result<Option<QueryAnswer>, ExecError> {
        Ok(Some(match method {
            "Nodes" => {
                let _: pb::QueryNodesRequest = decode_request(data)?;
                let params = state.compute_params().await?;
                let epoch = state.compute_epoch().await?;
                let nodes = state
                    .compute_nodes()
                    .await?
                    .into_iter()
                    .map(|(_, n)| info(n, &params, epoch))
                    .collect();
                QueryAnswer::new(&pb::QueryNodesResponse { nodes })
            }
            "Node" => {
                let req: pb::QueryNodeRequest = decode_request(data)?;
                let operator = request_address(&req.operator)?;
                let params = state.compute_params().await?;
                let epoch = state.compute_epoch().await?;
                let Some(n) = state.compute_node(&operator).await? else {
                    return Err(TxError::new(
                        QueryCode::NotFound,
                        format!("{operator} runs no compute node"),
                    )
                    .into());
                };
                QueryAnswer::proved_by(
                    &pb::QueryNodeResponse {
                        node: Some(info(n, &params, epoch)),
                    },
                    state_key::node(&operator),
                )
            }
            "Beacon" => {
                let req: pb::QueryBeaconRequest = decode_request(data)?;
                QueryAnswer::proved_by(
                    &pb::QueryBeaconResponse {
                        beacon: state.beacon(req.period).await?,
                    },
                    state_key::beacon(req.period),
                )
            }
            "Sprint" => {
                let req: pb::QuerySprintRequest = decode_request(data)?;
                let commit = if req.node.is_empty() {
                    None
                } else {
                    let node = request_address(&req.node)?;
                    super::commitment(state, req.epoch, &node).await?
                };
                QueryAnswer::proved_by(
                    &pb::QuerySprintResponse {
                        sprint: super::sprint(state, req.epoch).await?,
                        commit,
                    },
                    state_key::sprint(req.epoch),
                )
            }
            "Audits" => {
                let req: pb::QueryAuditsRequest = decode_request(data)?;
                let executor = if req.executor.is_empty() {
                    None
                } else {
                    Some(request_address(&req.executor)?)
                };
                QueryAnswer::new(&pb::QueryAuditsResponse {
                    audits: super::audit::audits(state, req.period, executor.as_ref()).await?,
                    batches: super::audit::batches(state, req.period, executor.as_ref()).await?,
                })
            }
            "Params" => {
                let _: pb::QueryParamsRequest = decode_request(data)?;
                let p = state.compute_params().await?;
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
