//! `cosmos.bank.v1beta1.Query`: the Cosmos SDK's view of balances, supply
//! and denom metadata, so cosmjs, wallets and explorers read them unchanged.
//! There is one denom; any other denom has a zero balance and supply, as in
//! the SDK.

use async_trait::async_trait;
use cnidarium::StateRead;
use comrade_primitives::{
    Amount, ExecError,
    component::{QueryAnswer, QueryService, decode_request, request_address},
};
use cosmrs::proto::cosmos::{
    bank::v1beta1 as sdk,
    base::{query::v1beta1::PageResponse, v1beta1::Coin},
};

use super::{BankParams, BankRead as _, state_key};
use crate::auth::cosmos_query::not_found;

/// The Cosmos SDK bank query service.
#[derive(Debug)]
pub struct CosmosBankQuery;

fn coin(denom: &str, amount: Amount) -> Coin {
    Coin {
        denom: denom.to_string(),
        amount: amount.to_string(),
    }
}

/// The native denom's display unit: the base denom without its micro
/// prefix (`ucomrade` → `comrade`), or the base denom itself.
pub fn display_denom(p: &BankParams) -> String {
    let base = p.denom();
    base.strip_prefix('u')
        .filter(|d| !d.is_empty())
        .unwrap_or(base)
        .to_string()
}

/// The SDK metadata of the native denom: base units and the display unit
/// with `decimals` (equal to the Solana mint's) as its exponent.
pub fn metadata(p: &BankParams) -> sdk::Metadata {
    let display = display_denom(p);
    let symbol = display.to_uppercase();
    sdk::Metadata {
        description: "COMRADE, bridged one to one from the SPL token on Solana".to_string(),
        denom_units: vec![
            sdk::DenomUnit {
                denom: p.denom().to_string(),
                exponent: 0,
                aliases: Vec::new(),
            },
            sdk::DenomUnit {
                denom: display.clone(),
                exponent: p.decimals(),
                aliases: Vec::new(),
            },
        ],
        base: p.denom().to_string(),
        display,
        name: symbol.clone(),
        symbol,
        uri: String::new(),
        uri_hash: String::new(),
    }
}

/// The response page of a one-denom list.
fn one_page() -> Option<PageResponse> {
    Some(PageResponse {
        next_key: Vec::new(),
        total: 0,
    })
}

#[async_trait]
impl QueryService for CosmosBankQuery {
    const SERVICE: &'static str = "cosmos.bank.v1beta1.Query";

    async fn query<S: StateRead>(
        state: &S,
        method: &str,
        data: &[u8],
    ) -> Result<Option<QueryAnswer>, ExecError> {
        let params = state.bank_params()?;
        let denom = params.denom();
        Ok(Some(match method {
            "Balance" => {
                let r: sdk::QueryBalanceRequest = decode_request(data)?;
                let a = request_address(&r.address)?;
                let amount = if r.denom == denom {
                    state.balance(&a).await?
                } else {
                    0
                };
                QueryAnswer::proved_by(
                    &sdk::QueryBalanceResponse {
                        balance: Some(coin(&r.denom, amount)),
                    },
                    state_key::balance(&a),
                )
            }
            "AllBalances" | "SpendableBalances" => {
                // Nothing is locked or vesting yet: spendable = all.
                let address = if method == "AllBalances" {
                    decode_request::<sdk::QueryAllBalancesRequest>(data)?.address
                } else {
                    decode_request::<sdk::QuerySpendableBalancesRequest>(data)?.address
                };
                let a = request_address(&address)?;
                let amount = state.balance(&a).await?;
                let balances = if amount == 0 {
                    Vec::new()
                } else {
                    vec![coin(denom, amount)]
                };
                QueryAnswer::new(&sdk::QueryAllBalancesResponse {
                    balances,
                    pagination: one_page(),
                })
            }
            "TotalSupply" => QueryAnswer::new(&sdk::QueryTotalSupplyResponse {
                supply: vec![coin(denom, state.supply().await?)],
                pagination: one_page(),
            }),
            "SupplyOf" => {
                let r: sdk::QuerySupplyOfRequest = decode_request(data)?;
                let amount = if r.denom == denom {
                    state.supply().await?
                } else {
                    0
                };
                QueryAnswer::proved_by(
                    &sdk::QuerySupplyOfResponse {
                        amount: Some(coin(&r.denom, amount)),
                    },
                    state_key::SUPPLY.to_string(),
                )
            }
            "DenomMetadata" => {
                let r: sdk::QueryDenomMetadataRequest = decode_request(data)?;
                if r.denom != denom {
                    return Err(not_found(format_args!(
                        "client metadata for denom {}",
                        r.denom
                    )));
                }
                QueryAnswer::new(&sdk::QueryDenomMetadataResponse {
                    metadata: Some(metadata(&params)),
                })
            }
            "DenomsMetadata" => QueryAnswer::new(&sdk::QueryDenomsMetadataResponse {
                metadatas: vec![metadata(&params)],
                pagination: one_page(),
            }),
            "Params" => QueryAnswer::new(&sdk::QueryParamsResponse {
                params: Some(sdk::Params {
                    default_send_enabled: true,
                    ..Default::default()
                }),
            }),
            _ => return Ok(None),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_denom_metadata_has_base_and_display_units() {
        let p = BankParams::new("ucomrade", 6).unwrap_or_else(|e| panic!("{e}"));
        let m = metadata(&p);
        assert_eq!(
            (m.base.as_str(), m.display.as_str()),
            ("ucomrade", "comrade")
        );
        assert_eq!(m.denom_units[1].exponent, 6);
        assert_eq!(m.symbol, "COMRADE");
        let odd = BankParams::new("abc", 0).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(display_denom(&odd), "abc");
    }
}
