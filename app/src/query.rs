//! ABCI `Query`: gRPC-style paths (`/comrade.<module>.v1.Query/<Method>`,
//! protobuf in and out) and raw `store/<key>` reads. With `prove = true` a
//! raw read returns an ICS23 proof against the app hash of that height
//! (see [`verify_store_proof`]).

use anyhow::{Context as _, Result};
use async_trait::async_trait;
use cnidarium::{Snapshot, StateDelta, StateRead, Storage};
use comrade_primitives::{
    ExecError, QueryCode,
    component::{QueryAnswer, QueryService},
    proto::app::v1 as app_pb,
};
use prost::Message;
use tendermint_proto::v0_38::{
    abci::{RequestQuery, ResponseQuery},
    crypto::{ProofOp, ProofOps},
};

use crate::state::{AppStateReadExt as _, load_params};

/// `ProofOp.type` of our ICS23 proofs over the JMT.
pub const PROOF_OP_TYPE: &str = "ics23:jmt";

/// Query error codes (codespace `comrade`): the values of
/// [`QueryCode`], which the code registry owns.
pub mod code {
    use comrade_primitives::QueryCode;

    /// Unknown path.
    pub const UNKNOWN_PATH: u32 = QueryCode::UnknownPath as u32;
    /// Request data does not decode or names a bad address.
    pub const BAD_REQUEST: u32 = QueryCode::BadRequest as u32;
    /// The requested height is not available.
    pub const HEIGHT_UNAVAILABLE: u32 = QueryCode::HeightUnavailable as u32;
    /// The requested object does not exist.
    pub const NOT_FOUND: u32 = QueryCode::NotFound as u32;
    /// Storage failed.
    pub const INTERNAL: u32 = QueryCode::Internal as u32;
}

fn fail(code: QueryCode, log: impl Into<String>) -> ResponseQuery {
    ResponseQuery {
        code: code.value(),
        log: log.into(),
        codespace: comrade_primitives::code::CODESPACE.to_string(),
        ..Default::default()
    }
}

/// `comrade.app.v1.Query/Params`: the stored params record.
#[derive(Debug)]
pub struct ParamsQuery;

#[async_trait]
impl QueryService for ParamsQuery {
    const SERVICE: &'static str = "comrade.app.v1.Query";

    async fn query<S: StateRead>(
        state: &S,
        method: &str,
        _data: &[u8],
    ) -> Result<Option<QueryAnswer>, ExecError> {
        Ok(match method {
            "Params" => {
                let (params, _) = state.stored_params().await?;
                Some(QueryAnswer::new(&app_pb::QueryParamsResponse {
                    params: Some(params.into()),
                }))
            }
            _ => None,
        })
    }
}

/// Handles one query.
pub async fn handle(storage: &Storage, req: RequestQuery) -> ResponseQuery {
    let snapshot = match req.height {
        0 => storage.latest_snapshot(),
        h => match u64::try_from(h).ok().and_then(|h| storage.snapshot(h)) {
            Some(s) => s,
            None => {
                return fail(
                    QueryCode::HeightUnavailable,
                    format!(
                        "height {h} is not available (latest is {})",
                        storage.latest_version()
                    ),
                );
            }
        },
    };
    match dispatch(&snapshot, &req).await {
        Ok(mut r) => {
            r.height = i64::try_from(snapshot.version()).unwrap_or(0);
            r
        }
        Err(ExecError::Tx(e)) => ResponseQuery {
            code: e.code.value(),
            log: e.message,
            codespace: comrade_primitives::code::CODESPACE.to_string(),
            ..Default::default()
        },
        Err(ExecError::Internal(e)) => fail(QueryCode::Internal, e.to_string()),
    }
}

async fn dispatch(s: &Snapshot, req: &RequestQuery) -> Result<ResponseQuery, ExecError> {
    let internal = |e: anyhow::Error| {
        ExecError::Internal(comrade_primitives::InternalError::storage(
            "answering a query",
            e,
        ))
    };
    if let Some(key) = req.path.strip_prefix("store/") {
        return raw(s, key, req.prove).await.map_err(internal);
    }
    // Modules read their params from the state they are handed, as in
    // execution.
    let mut state = StateDelta::new(s.clone());
    let (_, params) = state.stored_params().await?;
    load_params(&mut state, params);
    let Some(answer) = crate::modules::route_query(&state, &req.path, &req.data).await? else {
        return Ok(fail(
            QueryCode::UnknownPath,
            format!("unknown query path {:?}", req.path),
        ));
    };
    let mut resp = ResponseQuery {
        value: answer.value.into(),
        ..Default::default()
    };
    if req.prove
        && let Some(key) = answer.proof_key
    {
        let (_, proof) = proof_for(s, &key).await.map_err(internal)?;
        resp.proof_ops = Some(proof);
        resp.key = key.into_bytes().into();
    }
    Ok(resp)
}

async fn proof_for(s: &Snapshot, key: &str) -> Result<(Option<Vec<u8>>, ProofOps)> {
    let (value, proof) = s.get_with_proof(key.as_bytes().to_vec()).await?;
    let ops = proof
        .proofs
        .iter()
        .map(|p| ProofOp {
            r#type: PROOF_OP_TYPE.to_string(),
            key: key.as_bytes().to_vec(),
            data: p.encode_to_vec(),
        })
        .collect();
    Ok((value, ProofOps { ops }))
}

async fn raw(s: &Snapshot, key: &str, prove: bool) -> Result<ResponseQuery> {
    if key.is_empty() {
        return Ok(fail(QueryCode::BadRequest, "empty store key"));
    }
    let (value, proof_ops) = if prove {
        let (v, p) = proof_for(s, key).await?;
        (v, Some(p))
    } else {
        (s.get_raw(key).await?, None)
    };
    let exists = value.is_some();
    Ok(ResponseQuery {
        code: 0,
        log: if exists { "exists" } else { "does not exist" }.to_string(),
        key: key.as_bytes().to_vec().into(),
        value: value.unwrap_or_default().into(),
        proof_ops,
        ..Default::default()
    })
}

/// Verifies a proof returned by a `store/<key>` (or `Balance`) query against
/// `app_hash`: membership of `value` under `key` if `value` is `Some`,
/// non-membership otherwise.
pub fn verify_store_proof(
    app_hash: &[u8],
    key: &[u8],
    value: Option<&[u8]>,
    proof_ops: &ProofOps,
) -> Result<()> {
    let [op] = proof_ops.ops.as_slice() else {
        anyhow::bail!("expected exactly one proof op, got {}", proof_ops.ops.len());
    };
    anyhow::ensure!(
        op.r#type == PROOF_OP_TYPE,
        "unknown proof op type {:?}",
        op.r#type
    );
    anyhow::ensure!(op.key == key, "proof is for another key");
    let proof = ics23::CommitmentProof::decode(op.data.as_slice()).context("undecodable proof")?;
    let spec = cnidarium::ics23_spec();
    let ok = match value {
        Some(v) => ics23::verify_membership::<ics23::HostFunctionsManager>(
            &proof,
            &spec,
            &app_hash.to_vec(),
            key,
            v,
        ),
        None => ics23::verify_non_membership::<ics23::HostFunctionsManager>(
            &proof,
            &spec,
            &app_hash.to_vec(),
            key,
        ),
    };
    anyhow::ensure!(
        ok,
        "proof does not verify against app hash {}",
        hex::encode(app_hash)
    );
    Ok(())
}

/// Reads a protobuf from a snapshot (helper for tools and tests).
pub async fn get_proto<M: Message + Default>(s: &Snapshot, key: &str) -> Result<Option<M>> {
    use comrade_primitives::state::StateReadProto as _;
    Ok(s.get_proto(key).await?)
}
