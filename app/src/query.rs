//! ABCI `Query`: gRPC-style paths (`/comrade.<module>.v1.Query/<Method>`,
//! protobuf in and out) and raw `store/<key>` reads. With `prove = true` a
//! raw read returns an ICS23 proof against the app hash of that height
//! (see [`verify_store_proof`]).

use anyhow::{Context as _, Result};
use cnidarium::{Snapshot, StateRead as _, Storage};
use comrade_primitives::{
    Address,
    proto::{app::v1 as app_pb, auth::v1 as auth_pb, bank::v1 as bank_pb},
};
use prost::Message;
use tendermint_proto::v0_38::{
    abci::{RequestQuery, ResponseQuery},
    crypto::{ProofOp, ProofOps},
};

use crate::state::{AppStateReadExt, AuthStateReadExt, BankStateReadExt, StateReadProto};
use crate::state_key;

/// `ProofOp.type` of our ICS23 proofs over the JMT.
pub const PROOF_OP_TYPE: &str = "ics23:jmt";

/// Query error codes (codespace `comrade`).
pub mod code {
    /// Unknown path.
    pub const UNKNOWN_PATH: u32 = 50;
    /// Request data does not decode or names a bad address.
    pub const BAD_REQUEST: u32 = 51;
    /// The requested height is not available.
    pub const HEIGHT_UNAVAILABLE: u32 = 52;
    /// The requested object does not exist.
    pub const NOT_FOUND: u32 = 53;
    /// Storage failed.
    pub const INTERNAL: u32 = 99;
}

/// A rejected query: code and message.
#[derive(Debug)]
struct QueryError {
    code: u32,
    log: String,
}

impl From<QueryError> for ResponseQuery {
    fn from(e: QueryError) -> Self {
        ResponseQuery {
            code: e.code,
            log: e.log,
            codespace: comrade_primitives::code::CODESPACE.to_string(),
            ..Default::default()
        }
    }
}

fn fail(code: u32, log: impl Into<String>) -> QueryError {
    QueryError {
        code,
        log: log.into(),
    }
}

fn parse_addr(s: &str) -> Result<Address, QueryError> {
    s.parse()
        .map_err(|e: comrade_primitives::AddressError| fail(code::BAD_REQUEST, e.to_string()))
}

fn decode<M: Message + Default>(data: &[u8]) -> Result<M, QueryError> {
    M::decode(data).map_err(|e| fail(code::BAD_REQUEST, format!("cannot decode request: {e}")))
}

/// Handles one query.
pub async fn handle(storage: &Storage, req: RequestQuery) -> ResponseQuery {
    let snapshot = match req.height {
        0 => storage.latest_snapshot(),
        h => match u64::try_from(h).ok().and_then(|h| storage.snapshot(h)) {
            Some(s) => s,
            None => {
                return fail(
                    code::HEIGHT_UNAVAILABLE,
                    format!(
                        "height {h} is not available (latest is {})",
                        storage.latest_version()
                    ),
                )
                .into();
            }
        },
    };
    match dispatch(&snapshot, &req).await {
        Ok(Ok(mut r)) => {
            r.height = i64::try_from(snapshot.version()).unwrap_or(0);
            r
        }
        Ok(Err(r)) => r.into(),
        Err(e) => fail(code::INTERNAL, format!("{e:#}")).into(),
    }
}

async fn dispatch(s: &Snapshot, req: &RequestQuery) -> Result<Result<ResponseQuery, QueryError>> {
    let ok = |value: Vec<u8>| ResponseQuery {
        value: value.into(),
        ..Default::default()
    };
    if let Some(key) = req.path.strip_prefix("store/") {
        return raw(s, key, req.prove).await;
    }
    Ok(Ok(match req.path.as_str() {
        "/comrade.bank.v1.Query/Balance" => {
            let r: bank_pb::QueryBalanceRequest = match decode(&req.data) {
                Ok(r) => r,
                Err(e) => return Ok(Err(e)),
            };
            let a = match parse_addr(&r.address) {
                Ok(a) => a,
                Err(e) => return Ok(Err(e)),
            };
            let params = s.params().await?;
            if !r.denom.is_empty() && r.denom != params.denom {
                return Ok(Err(fail(
                    code::BAD_REQUEST,
                    format!(
                        "unknown denom {:?}: the only denom is {:?}",
                        r.denom, params.denom
                    ),
                )));
            }
            let amount = s.balance(&a).await?;
            let mut resp = ok(bank_pb::QueryBalanceResponse {
                denom: params.denom,
                amount: amount.to_string(),
            }
            .encode_to_vec());
            if req.prove {
                let (_, proof) = proof_for(s, &state_key::balance(&a)).await?;
                resp.proof_ops = Some(proof);
                resp.key = state_key::balance(&a).into_bytes().into();
            }
            resp
        }
        "/comrade.bank.v1.Query/AllBalances" => {
            let r: bank_pb::QueryAllBalancesRequest = match decode(&req.data) {
                Ok(r) => r,
                Err(e) => return Ok(Err(e)),
            };
            let a = match parse_addr(&r.address) {
                Ok(a) => a,
                Err(e) => return Ok(Err(e)),
            };
            let params = s.params().await?;
            let amount = s.balance(&a).await?;
            let balances = if amount == 0 {
                Vec::new()
            } else {
                vec![bank_pb::Coin {
                    denom: params.denom,
                    amount: amount.to_string(),
                }]
            };
            ok(bank_pb::QueryAllBalancesResponse { balances }.encode_to_vec())
        }
        "/comrade.bank.v1.Query/Supply" => {
            let params = s.params().await?;
            ok(bank_pb::QuerySupplyResponse {
                supply: vec![bank_pb::Coin {
                    denom: params.denom,
                    amount: s.supply().await?.to_string(),
                }],
            }
            .encode_to_vec())
        }
        "/comrade.auth.v1.Query/Account" => {
            let r: auth_pb::QueryAccountRequest = match decode(&req.data) {
                Ok(r) => r,
                Err(e) => return Ok(Err(e)),
            };
            let a = match parse_addr(&r.address) {
                Ok(a) => a,
                Err(e) => return Ok(Err(e)),
            };
            match s.account(&a).await? {
                Some(acc) => {
                    ok(auth_pb::QueryAccountResponse { account: Some(acc) }.encode_to_vec())
                }
                None => return Ok(Err(fail(code::NOT_FOUND, format!("account {a} not found")))),
            }
        }
        "/comrade.app.v1.Query/Params" => ok(app_pb::QueryParamsResponse {
            params: Some(s.params().await?.into()),
        }
        .encode_to_vec()),
        "/comrade.app.v1.Query/Validators" => ok(app_pb::QueryValidatorsResponse {
            validators: s.validators().await?.into_iter().map(|(_, v)| v).collect(),
        }
        .encode_to_vec()),
        other => {
            return Ok(Err(fail(
                code::UNKNOWN_PATH,
                format!("unknown query path {other:?}"),
            )));
        }
    }))
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

async fn raw(s: &Snapshot, key: &str, prove: bool) -> Result<Result<ResponseQuery, QueryError>> {
    if key.is_empty() {
        return Ok(Err(fail(code::BAD_REQUEST, "empty store key")));
    }
    let (value, proof_ops) = if prove {
        let (v, p) = proof_for(s, key).await?;
        (v, Some(p))
    } else {
        (s.get_raw(key).await?, None)
    };
    let exists = value.is_some();
    Ok(Ok(ResponseQuery {
        code: 0,
        log: if exists { "exists" } else { "does not exist" }.to_string(),
        key: key.as_bytes().to_vec().into(),
        value: value.unwrap_or_default().into(),
        proof_ops,
        ..Default::default()
    }))
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
    s.get_proto(key).await
}
