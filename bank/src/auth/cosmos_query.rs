//! `cosmos.auth.v1beta1.Query`: the Cosmos SDK's view of accounts, so
//! cosmjs, wallets and explorers read them unchanged. Accounts are
//! `BaseAccount`s (module accounts `ModuleAccount`s) packed in `Any`.

use async_trait::async_trait;
use cnidarium::StateRead;
use comrade_primitives::{
    Address, ExecError, InternalError, QueryCode, TxError,
    component::{QueryAnswer, QueryService, decode_request},
    proto::auth::v1 as pb,
};
use cosmrs::proto::cosmos::{
    auth::v1beta1 as sdk,
    base::query::v1beta1::{PageRequest, PageResponse},
    crypto::secp256k1::PubKey,
};
use prost::{Message as _, Name as _};

use super::{AuthRead as _, module_accounts, state_key};

/// The Cosmos SDK auth query service.
#[derive(Debug)]
pub struct CosmosAuthQuery;

/// Accounts returned per page when the request sets no limit (the SDK's
/// default), and the most one page may hold.
const DEFAULT_LIMIT: u64 = 100;
const MAX_LIMIT: u64 = 1_000;

/// The SDK's `Any` for a stored account: a `ModuleAccount` for a module
/// address, a `BaseAccount` otherwise.
pub fn account_any(address: &Address, a: &pb::Account) -> cosmrs::Any {
    let pub_key = (!a.pub_key.is_empty()).then(|| cosmrs::Any {
        type_url: "/cosmos.crypto.secp256k1.PubKey".to_string(),
        value: PubKey {
            key: a.pub_key.clone(),
        }
        .encode_to_vec(),
    });
    let base = sdk::BaseAccount {
        address: address.to_string(),
        pub_key,
        account_number: a.account_number,
        sequence: a.sequence,
    };
    match module_accounts::name_of(address) {
        Some(name) => cosmrs::Any {
            type_url: sdk::ModuleAccount::type_url(),
            value: sdk::ModuleAccount {
                base_account: Some(base),
                name: name.to_string(),
                permissions: Vec::new(),
            }
            .encode_to_vec(),
        },
        None => cosmrs::Any {
            type_url: sdk::BaseAccount::type_url(),
            value: base.encode_to_vec(),
        },
    }
}

/// The SDK's "not found" as cosmjs recognises it (`rpc error: code =
/// NotFound`), with our query code.
pub fn not_found(what: impl std::fmt::Display) -> ExecError {
    TxError::new(
        QueryCode::NotFound,
        format!("rpc error: code = NotFound desc = {what}: key not found"),
    )
    .into()
}

/// One page of accounts in store-key order, starting at `page.key`
/// (inclusive, as the SDK's `next_key` is the first key of the next page).
async fn accounts_page<S: StateRead>(
    state: &S,
    page: Option<PageRequest>,
) -> Result<(Vec<cosmrs::Any>, PageResponse), ExecError> {
    use futures::StreamExt as _;
    let page = page.unwrap_or_default();
    if page.offset != 0 || page.reverse {
        return Err(TxError::new(
            QueryCode::BadRequest,
            "pagination: only key-based forward pages are supported (offset and reverse are not)",
        )
        .into());
    }
    let limit = match page.limit {
        0 => DEFAULT_LIMIT,
        l => l.min(MAX_LIMIT),
    };
    let start = String::from_utf8(page.key)
        .map_err(|_| TxError::new(QueryCode::BadRequest, "pagination key is not a store key"))?;
    let mut accounts = Vec::new();
    let mut next_key = Vec::new();
    let mut total: u64 = 0;
    let mut stream = std::pin::pin!(state.prefix_raw(state_key::ACCOUNT_PREFIX));
    while let Some(item) = stream.next().await {
        let (key, bytes) = item.map_err(|e| InternalError::storage("listing accounts", e))?;
        total = total.saturating_add(1);
        if key < start {
            continue;
        }
        if u64::try_from(accounts.len()).unwrap_or(u64::MAX) >= limit {
            if next_key.is_empty() {
                next_key = key.into_bytes();
            }
            if !page.count_total {
                break;
            }
            continue;
        }
        let a = pb::Account::decode(bytes.as_slice()).map_err(|e| InternalError::Corrupt {
            key: key.clone(),
            reason: e.to_string(),
        })?;
        let address: Address = a.address.parse().map_err(|e| InternalError::Corrupt {
            key: key.clone(),
            reason: format!("address: {e}"),
        })?;
        accounts.push(account_any(&address, &a));
    }
    Ok((
        accounts,
        PageResponse {
            next_key,
            total: if page.count_total { total } else { 0 },
        },
    ))
}

#[async_trait]
impl QueryService for CosmosAuthQuery {
    const SERVICE: &'static str = "cosmos.auth.v1beta1.Query";

    async fn query<S: StateRead>(
        state: &S,
        method: &str,
        data: &[u8],
    ) -> Result<Option<QueryAnswer>, ExecError> {
        Ok(Some(match method {
            "Account" => {
                let r: sdk::QueryAccountRequest = decode_request(data)?;
                let (a, account) = super::query::requested_account(state, &r.address).await?;
                QueryAnswer::proved_by(
                    &sdk::QueryAccountResponse {
                        account: Some(account_any(&a, &account)),
                    },
                    state_key::account(&a),
                )
            }
            "Accounts" => {
                let r: sdk::QueryAccountsRequest = decode_request(data)?;
                let (accounts, page) = accounts_page(state, r.pagination).await?;
                QueryAnswer::new(&sdk::QueryAccountsResponse {
                    accounts,
                    pagination: Some(page),
                })
            }
            "ModuleAccounts" => {
                let mut accounts = Vec::new();
                for name in module_accounts::ALL {
                    let a = Address::module(name);
                    if let Some(account) = state.account(&a).await? {
                        accounts.push(account_any(&a, &account));
                    }
                }
                QueryAnswer::new(&sdk::QueryModuleAccountsResponse { accounts })
            }
            "Params" => {
                let p = state.auth_params()?;
                QueryAnswer::new(&sdk::QueryParamsResponse {
                    params: Some(sdk::Params {
                        max_memo_characters: p.max_memo_bytes(),
                        // One signature per tx; fees are by size, not gas,
                        // so the SDK's gas costs are zero here.
                        tx_sig_limit: 1,
                        tx_size_cost_per_byte: 0,
                        sig_verify_cost_ed25519: 0,
                        sig_verify_cost_secp256k1: 0,
                    }),
                })
            }
            _ => return Ok(None),
        }))
    }
}
