//! Small RPC helpers over `tendermint-rpc` for tools and tests: clients with
//! timeouts, balance and account queries (with verified proofs), and signed
//! `MsgSend`s.

use std::time::Duration;

use comrade_app::client::{SignOptions, msg_send, sign_tx};
use comrade_primitives::{
    Address,
    proto::{auth::v1 as auth_pb, bank::v1 as bank_pb},
};
use prost::Message as _;
use tendermint_rpc::{Client as _, HttpClient};

use crate::{LocalnetError, Result};

/// Timeout of one RPC request.
pub const RPC_TIMEOUT: Duration = Duration::from_secs(10);

/// Fee paid by [`signed_send`] (well above the minimum for a `MsgSend`).
pub const SEND_FEE: u128 = 50_000;

fn q(e: impl std::fmt::Display) -> LocalnetError {
    LocalnetError::Query(e.to_string())
}

/// An HTTP RPC client for `url` (`http://127.0.0.1:<port>`) with [`RPC_TIMEOUT`].
pub fn client(url: &str) -> Result<HttpClient> {
    let u = url
        .parse()
        .map_err(|e| q(format!("bad rpc url {url}: {e}")))?;
    HttpClient::builder(u)
        .timeout(RPC_TIMEOUT)
        .build()
        .map_err(|e| q(format!("cannot build rpc client for {url}: {e}")))
}

/// The on-chain account (number, sequence), if it exists.
pub async fn account(c: &HttpClient, address: &Address) -> Result<Option<auth_pb::Account>> {
    let data = auth_pb::QueryAccountRequest {
        address: address.to_string(),
    }
    .encode_to_vec();
    let r = c
        .abci_query(
            Some("/comrade.auth.v1.Query/Account".into()),
            data,
            None,
            false,
        )
        .await
        .map_err(q)?;
    if r.code.value() == comrade_app::query::code::NOT_FOUND {
        return Ok(None);
    }
    if r.code.is_err() {
        return Err(q(format!(
            "account query for {address}: code {}: {}",
            r.code.value(),
            r.log
        )));
    }
    let resp = auth_pb::QueryAccountResponse::decode(r.value.as_slice()).map_err(q)?;
    Ok(resp.account)
}

/// The balance of `address` in the native denom (no proof).
pub async fn balance(c: &HttpClient, address: &Address) -> Result<u128> {
    let data = bank_pb::QueryBalanceRequest {
        address: address.to_string(),
        denom: String::new(),
    }
    .encode_to_vec();
    let r = c
        .abci_query(
            Some("/comrade.bank.v1.Query/Balance".into()),
            data,
            None,
            false,
        )
        .await
        .map_err(q)?;
    if r.code.is_err() {
        return Err(q(format!(
            "balance query for {address}: code {}: {}",
            r.code.value(),
            r.log
        )));
    }
    let resp = bank_pb::QueryBalanceResponse::decode(r.value.as_slice()).map_err(q)?;
    resp.amount
        .parse()
        .map_err(|e| q(format!("balance {:?}: {e}", resp.amount)))
}

/// A balance read with a verified proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenBalance {
    /// The balance.
    pub amount: u128,
    /// The height whose state answered the query.
    pub height: u64,
    /// The app hash the proof was verified against (header of `height + 1`).
    pub app_hash: Vec<u8>,
}

/// Reads `store/bank/balance/<address>` with `prove = true` from this node and
/// verifies the ICS23 proof against this node's app hash for that height: the
/// `app_hash` in the header of block `height + 1` (waits, bounded, for that
/// block). A missing balance key is proven absent and reads as 0.
pub async fn proven_balance(c: &HttpClient, address: &Address) -> Result<ProvenBalance> {
    let key = comrade_bank::bank::state_key::balance(address);
    let r = c
        .abci_query(Some(format!("store/{key}")), Vec::new(), None, true)
        .await
        .map_err(q)?;
    if r.code.is_err() {
        return Err(q(format!(
            "store query {key}: code {}: {}",
            r.code.value(),
            r.log
        )));
    }
    let height = r.height.value();
    let ops = r
        .proof
        .ok_or_else(|| q(format!("store query {key}: no proof returned")))?;
    let ops = tendermint_proto::v0_38::crypto::ProofOps {
        ops: ops
            .ops
            .into_iter()
            .map(|o| tendermint_proto::v0_38::crypto::ProofOp {
                r#type: o.field_type,
                key: o.key,
                data: o.data,
            })
            .collect(),
    };
    let next = tendermint::block::Height::try_from(height.saturating_add(1)).map_err(q)?;
    let header = wait_header(c, next, Duration::from_secs(15)).await?;
    let app_hash = header.app_hash.as_bytes().to_vec();
    let value = (!r.value.is_empty()).then_some(r.value.as_slice());
    comrade_app::query::verify_store_proof(&app_hash, key.as_bytes(), value, &ops)
        .map_err(|e| q(format!("proof of {key} at height {height}: {e:#}")))?;
    let amount = match value {
        Some(v) => u128::from(bank_pb::Amount::decode(v).map_err(q)?),
        None => 0,
    };
    Ok(ProvenBalance {
        amount,
        height,
        app_hash,
    })
}

/// Polls `/header` until block `height` exists, at most `timeout`.
pub async fn wait_header(
    c: &HttpClient,
    height: tendermint::block::Height,
    timeout: Duration,
) -> Result<tendermint::block::Header> {
    let start = std::time::Instant::now();
    loop {
        let left = timeout.saturating_sub(start.elapsed());
        if let Ok(Ok(h)) = tokio::time::timeout(left, c.header(height)).await {
            return Ok(h.header);
        }
        if start.elapsed() >= timeout {
            return Err(LocalnetError::Timeout {
                what: format!("block {height}"),
                secs: start.elapsed().as_secs_f64(),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A signed `MsgSend` of `amount` base units from `key` to `to`, paying
/// [`SEND_FEE`], for the default denom.
pub fn signed_send(
    key: &k256::ecdsa::SigningKey,
    to: &Address,
    amount: u128,
    chain_id: &str,
    account_number: u64,
    sequence: u64,
) -> Vec<u8> {
    let denom = comrade_app::params::Params::default().denom;
    let from = comrade_app::client::address_of(key).to_string();
    let fee = SEND_FEE.to_string();
    sign_tx(
        key,
        vec![msg_send(
            &from,
            &to.to_string(),
            &denom,
            &amount.to_string(),
        )],
        &SignOptions {
            chain_id,
            account_number,
            sequence,
            fee: (&fee, &denom),
            memo: "",
            timeout_height: 0,
        },
    )
}
