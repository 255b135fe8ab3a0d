//! Typed access to compute state.

use async_trait::async_trait;
use cnidarium::{StateRead, StateWrite};
use comrade_primitives::{
    Address, InternalError,
    proto::compute::v1 as pb,
    state::{StateReadProto as _, StateWriteProto as _},
};
use futures::StreamExt as _;
use prost::Message as _;

use super::{ComputeParams, state_key};

/// Reads of compute state.
#[async_trait]
pub trait ComputeRead: StateRead {
    /// The params (written at genesis; missing means corrupt state).
    async fn compute_params(&self) -> Result<ComputeParams, InternalError> {
        let p: pb::Params = self
            .get_proto(state_key::PARAMS)
            .await?
            .ok_or_else(|| InternalError::invariant("compute params missing from state"))?;
        ComputeParams::try_from(&p).map_err(|reason| InternalError::Corrupt {
            key: state_key::PARAMS.into(),
            reason,
        })
    }

    /// A node by operator.
    async fn compute_node(
        &self,
        operator: &Address,
    ) -> Result<Option<pb::ComputeNode>, InternalError> {
        self.get_proto(&state_key::node(operator)).await
    }

    /// Every node, sorted by operator address.
    async fn compute_nodes(&self) -> Result<Vec<(Address, pb::ComputeNode)>, InternalError> {
        let mut out = Vec::new();
        let mut stream = std::pin::pin!(self.prefix_raw(state_key::NODE_PREFIX));
        while let Some(item) = stream.next().await {
            let (key, bytes) =
                item.map_err(|e| InternalError::storage("scanning compute nodes", e))?;
            let corrupt = |reason: String| InternalError::Corrupt {
                key: key.clone(),
                reason,
            };
            let addr: Address = key
                .strip_prefix(state_key::NODE_PREFIX)
                .ok_or_else(|| corrupt("prefix stream returned a foreign key".into()))?
                .parse()
                .map_err(|e| corrupt(format!("operator: {e}")))?;
            let n =
                pb::ComputeNode::decode(bytes.as_slice()).map_err(|e| corrupt(e.to_string()))?;
            out.push((addr, n));
        }
        out.sort_by_key(|(a, _)| *a);
        Ok(out)
    }

    /// The current compute epoch.
    async fn compute_epoch(&self) -> Result<u64, InternalError> {
        Ok(self.get_u64(state_key::EPOCH).await?.unwrap_or(0))
    }

    /// The beacon of period `p`, once final.
    async fn beacon(&self, period: u64) -> Result<Option<pb::Beacon>, InternalError> {
        self.get_proto(&state_key::beacon(period)).await
    }
}
impl<T: StateRead + ?Sized> ComputeRead for T {}

/// Writes of compute state.
pub trait ComputeWrite: StateWrite {
    /// Stores a node record.
    fn put_compute_node(&mut self, operator: &Address, n: &pb::ComputeNode) {
        self.put_proto(state_key::node(operator), n);
    }
}
impl<T: StateWrite + ?Sized> ComputeWrite for T {}
