//! The `app_state` section of the CometBFT genesis file, and its validation.
//!
//! The `genesis` crate builds and edits these files (`comrade genesis …`);
//! this module owns the types and the one validation routine that both the
//! CLI and `InitChain` run, so a file the CLI accepts is a file the chain
//! accepts.

use std::collections::BTreeSet;

use base64::Engine as _;
use comrade_primitives::{Address, Amount, parse_amount};
use serde::{Deserialize, Serialize};

use crate::{
    modules::GenesisSections,
    params::Params,
    validators::{GenesisValidatorEntry, consensus_address},
};
use comrade_bank::{auth::AuthGenesis, bank::BankGenesis as BankSection};
pub use comrade_bridge::{BridgeGenesis, BridgeGenesisFile, genesis::GuardianSetFile};
use comrade_consensus::{
    compute::{ComputeGenesis, ComputeParams},
    staking::{StakingGenesis, StakingParams},
};

/// Module account names (owned by the auth module).
pub use comrade_bank::auth::module_accounts;

/// The whole `app_state` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppState {
    /// Chain parameters (denom, fees, limits).
    pub params: Params,
    /// Staking parameters. Each genesis validator bonds `power ×
    /// power_reduction` from its operator's genesis balance.
    pub staking: StakingParams,
    /// Compute-node parameters (stake per capacity, beacon periods).
    pub compute: ComputeParams,
    /// Bank section: initial balances.
    pub bank: BankGenesis,
    /// The initial validator set.
    pub validators: Vec<GenesisValidator>,
    /// How the initial supply was distributed (checked against `bank`).
    pub distribution: Distribution,
    /// The Wormhole bridge: trusted guardian set, lockbox emitter, mint,
    /// and the amount locked at launch (equal to the total supply).
    pub bridge: BridgeGenesisFile,
}

/// Initial balances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct BankGenesis {
    /// One entry per account; addresses must be unique.
    pub balances: Vec<GenesisBalance>,
}

/// One account's initial balance in the native denom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisBalance {
    /// Bech32 address.
    pub address: String,
    /// Amount in base units, as a decimal string.
    pub amount: String,
    /// Denom; must equal `params.denom`.
    pub denom: String,
}

/// A genesis validator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisValidator {
    /// Human-readable name (moniker).
    pub name: String,
    /// Base64 of the 32-byte Ed25519 consensus public key
    /// (`priv_validator_key.json`'s `pub_key.value`).
    pub pub_key: String,
    /// Voting power (> 0).
    pub power: i64,
    /// Bech32 account that receives this validator's share of fees.
    pub operator: String,
}

/// The whitepaper's initial distribution of supply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Distribution {
    /// Total initial supply in base units; equals the sum of all balances.
    pub total_supply: String,
    /// Crowdfunding share of the total supply, in basis points (700 = 7%).
    pub crowdfunding_bps: u32,
    /// Crowdfunding contributors and their (unvested) allocations. Their sum
    /// must equal `total_supply * crowdfunding_bps / 10000` (rounded down).
    pub crowdfunding: Vec<Allocation>,
    /// Initial balance of the treasury module account.
    pub treasury: String,
    /// Initial balance of the free-access pool module account.
    pub free_access_pool: String,
}

/// An allocation of supply to an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allocation {
    /// Bech32 address.
    pub address: String,
    /// Amount in base units, as a decimal string.
    pub amount: String,
}

/// Why a genesis `app_state` is rejected. Each variant is one clear message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenesisError {
    /// The JSON does not match the schema.
    #[error("app_state is not valid JSON for this app: {0}")]
    Json(String),
    /// An address does not parse.
    #[error("{field}: invalid address {address:?}: {reason}")]
    BadAddress {
        /// Where it was found.
        field: String,
        /// The address.
        address: String,
        /// Why it failed.
        reason: String,
    },
    /// An amount does not parse.
    #[error("{field}: invalid amount {amount:?} (expected a decimal integer below 2^128)")]
    BadAmount {
        /// Where it was found.
        field: String,
        /// The amount.
        amount: String,
    },
    /// The same address appears twice in `bank.balances`.
    #[error("duplicate account {0} in bank.balances")]
    DuplicateAccount(String),
    /// The same address appears twice in `distribution.crowdfunding`.
    #[error("duplicate contributor {0} in distribution.crowdfunding")]
    DuplicateContributor(String),
    /// A balance is in a denom other than the native one.
    #[error("unknown denom {denom:?} for {address}: the only denom is {expected:?}")]
    UnknownDenom {
        /// The account.
        address: String,
        /// The denom found.
        denom: String,
        /// The native denom.
        expected: String,
    },
    /// The sum of balances overflows 128 bits.
    #[error("total supply overflows 2^128 - 1")]
    SupplyOverflow,
    /// The sum of balances differs from `distribution.total_supply`.
    #[error("balances add up to {actual} but distribution.total_supply is {declared}")]
    SupplyMismatch {
        /// Sum of balances.
        actual: Amount,
        /// Declared total.
        declared: Amount,
    },
    /// Crowdfunding allocations do not add up to the configured share.
    #[error("crowdfunding allocations add up to {actual} but {bps} bps of {total} is {expected}")]
    CrowdfundingMismatch {
        /// Sum of allocations.
        actual: Amount,
        /// Expected sum.
        expected: Amount,
        /// Share in basis points.
        bps: u32,
        /// Total supply.
        total: Amount,
    },
    /// An allocation is not covered by the account's balance.
    #[error("{what} allocation of {allocated} to {address} exceeds its balance {balance}")]
    AllocationNotFunded {
        /// Which allocation.
        what: String,
        /// The account.
        address: String,
        /// The allocation.
        allocated: Amount,
        /// The account's genesis balance.
        balance: Amount,
    },
    /// The validator set is empty.
    #[error("the validator set is empty: add one with `comrade genesis add-validator`")]
    EmptyValidatorSet,
    /// A validator entry is malformed or duplicated.
    #[error("validator {name:?}: {reason}")]
    BadValidator {
        /// Its name.
        name: String,
        /// Why.
        reason: String,
    },
    /// A parameter is out of range.
    #[error("params: {0}")]
    BadParams(String),
    /// The bridge section is malformed.
    #[error("bridge: {0}")]
    BadBridge(String),
    /// The vault amount locked at launch differs from the genesis supply:
    /// the chain's COMRADE must be backed one to one.
    #[error(
        "bridge.locked is {locked} but the genesis supply is {supply}: every genesis COMRADE \
         must be locked in the lockbox vault on Solana"
    )]
    LockedMismatch {
        /// Declared locked amount.
        locked: Amount,
        /// Genesis supply.
        supply: Amount,
    },
}

/// A validated, typed view of [`AppState`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedGenesis {
    /// Parameters.
    pub params: Params,
    /// Balances, sorted by address.
    pub balances: Vec<(Address, Amount)>,
    /// Validators, sorted by consensus address.
    pub validators: Vec<GenesisValidatorEntry>,
    /// Staking parameters.
    pub staking: StakingParams,
    /// Compute parameters.
    pub compute: ComputeParams,
    /// Total supply.
    pub total_supply: Amount,
    /// The bridge section.
    pub bridge: BridgeGenesis,
}

fn addr(field: &str, s: &str) -> Result<Address, GenesisError> {
    s.parse().map_err(
        |e: comrade_primitives::AddressError| GenesisError::BadAddress {
            field: field.to_string(),
            address: s.to_string(),
            reason: e.to_string(),
        },
    )
}

fn amount(field: &str, s: &str) -> Result<Amount, GenesisError> {
    parse_amount(s).map_err(|_| GenesisError::BadAmount {
        field: field.to_string(),
        amount: s.to_string(),
    })
}

impl AppState {
    /// An `app_state` for development and test networks: `balances` in the
    /// native denom of `params`, the given validators, no crowdfunding and
    /// unfunded treasury and free-access pool. Real networks use the
    /// whitepaper distribution of `comrade genesis init`.
    pub fn dev(
        params: Params,
        balances: &[(Address, Amount)],
        validators: Vec<GenesisValidator>,
    ) -> Self {
        let total = balances
            .iter()
            .fold(0u128, |acc, (_, a)| acc.saturating_add(*a));
        AppState {
            bank: BankGenesis {
                balances: balances
                    .iter()
                    .map(|(a, amt)| GenesisBalance {
                        address: a.to_string(),
                        amount: amt.to_string(),
                        denom: params.denom.clone(),
                    })
                    .collect(),
            },
            validators,
            staking: StakingParams::default(),
            compute: ComputeParams::default(),
            bridge: BridgeGenesisFile::devnet(total),
            distribution: Distribution {
                total_supply: total.to_string(),
                crowdfunding_bps: 0,
                crowdfunding: Vec::new(),
                treasury: "0".into(),
                free_access_pool: "0".into(),
            },
            params,
        }
    }

    /// Parses `app_state` JSON bytes.
    pub fn from_json(bytes: &[u8]) -> Result<Self, GenesisError> {
        serde_json::from_slice(bytes).map_err(|e| GenesisError::Json(e.to_string()))
    }

    /// Checks every rule and returns the typed view.
    pub fn validate(&self) -> Result<ValidatedGenesis, GenesisError> {
        self.params.validate().map_err(GenesisError::BadParams)?;
        self.staking.validate().map_err(GenesisError::BadParams)?;
        self.compute.validate().map_err(GenesisError::BadParams)?;
        let denom = &self.params.denom;

        let mut balances = std::collections::BTreeMap::new();
        let mut total: Amount = 0;
        for (i, b) in self.bank.balances.iter().enumerate() {
            let field = format!("bank.balances[{i}]");
            let a = addr(&field, &b.address)?;
            let amt = amount(&field, &b.amount)?;
            if &b.denom != denom {
                return Err(GenesisError::UnknownDenom {
                    address: b.address.clone(),
                    denom: b.denom.clone(),
                    expected: denom.clone(),
                });
            }
            if balances.insert(a, amt).is_some() {
                return Err(GenesisError::DuplicateAccount(a.to_string()));
            }
            total = total.checked_add(amt).ok_or(GenesisError::SupplyOverflow)?;
        }

        let bridge = self
            .bridge
            .validate(self.params.decimals)
            .map_err(GenesisError::BadBridge)?;
        if bridge.locked != total {
            return Err(GenesisError::LockedMismatch {
                locked: bridge.locked,
                supply: total,
            });
        }

        let d = &self.distribution;
        let declared = amount("distribution.total_supply", &d.total_supply)?;
        if declared != total {
            return Err(GenesisError::SupplyMismatch {
                actual: total,
                declared,
            });
        }
        if d.crowdfunding_bps > 10_000 {
            return Err(GenesisError::BadParams(format!(
                "distribution.crowdfunding_bps {} exceeds 10000",
                d.crowdfunding_bps
            )));
        }
        let balance_of = |a: &Address| balances.get(a).copied().unwrap_or(0);
        let mut seen = BTreeSet::new();
        let mut crowd: Amount = 0;
        for (i, c) in d.crowdfunding.iter().enumerate() {
            let field = format!("distribution.crowdfunding[{i}]");
            let a = addr(&field, &c.address)?;
            let amt = amount(&field, &c.amount)?;
            if !seen.insert(a) {
                return Err(GenesisError::DuplicateContributor(a.to_string()));
            }
            if amt > balance_of(&a) {
                return Err(GenesisError::AllocationNotFunded {
                    what: "crowdfunding".into(),
                    address: a.to_string(),
                    allocated: amt,
                    balance: balance_of(&a),
                });
            }
            crowd = crowd.checked_add(amt).ok_or(GenesisError::SupplyOverflow)?;
        }
        let expected = crowdfunding_share(total, d.crowdfunding_bps);
        if crowd != expected {
            return Err(GenesisError::CrowdfundingMismatch {
                actual: crowd,
                expected,
                bps: d.crowdfunding_bps,
                total,
            });
        }
        for (what, name, s) in [
            ("treasury", module_accounts::TREASURY, &d.treasury),
            (
                "free_access_pool",
                module_accounts::FREE_ACCESS_POOL,
                &d.free_access_pool,
            ),
        ] {
            let a = Address::module(name);
            let amt = amount(&format!("distribution.{what}"), s)?;
            if amt != balance_of(&a) {
                return Err(GenesisError::AllocationNotFunded {
                    what: what.to_string(),
                    address: a.to_string(),
                    allocated: amt,
                    balance: balance_of(&a),
                });
            }
        }

        if self.validators.is_empty() {
            return Err(GenesisError::EmptyValidatorSet);
        }
        let mut validators = Vec::new();
        let mut keys = BTreeSet::new();
        let mut names = BTreeSet::new();
        let mut operators = BTreeSet::new();
        let mut power_sum: i64 = 0;
        for v in &self.validators {
            let bad = |reason: String| GenesisError::BadValidator {
                name: v.name.clone(),
                reason,
            };
            if v.name.trim().is_empty() {
                return Err(bad("empty name".into()));
            }
            if !names.insert(v.name.clone()) {
                return Err(bad("duplicate name".into()));
            }
            let key = base64::engine::general_purpose::STANDARD
                .decode(&v.pub_key)
                .map_err(|e| bad(format!("pub_key is not base64: {e}")))?;
            let key: [u8; 32] = key
                .as_slice()
                .try_into()
                .map_err(|_| bad(format!("pub_key has {} bytes, expected 32", key.len())))?;
            ed25519_consensus::VerificationKey::try_from(key)
                .map_err(|e| bad(format!("pub_key is not an ed25519 point: {e}")))?;
            if !keys.insert(key) {
                return Err(bad("duplicate pub_key".into()));
            }
            if v.power <= 0 {
                return Err(bad(format!("power {} must be positive", v.power)));
            }
            power_sum = power_sum
                .checked_add(v.power)
                .filter(|p| *p <= MAX_TOTAL_VOTING_POWER)
                .ok_or_else(|| bad("total voting power exceeds the CometBFT maximum".into()))?;
            let op = addr(&format!("validator {:?} operator", v.name), &v.operator)?;
            if !operators.insert(op) {
                return Err(bad(format!("operator {op} already runs another validator")));
            }
            // The operator's genesis balance pays the self-stake at InitChain.
            let stake = u128::try_from(v.power)
                .ok()
                .and_then(|p| p.checked_mul(self.staking.power_reduction))
                .ok_or_else(|| bad("stake (power × power_reduction) overflows".into()))?;
            if stake < self.staking.min_self_stake {
                return Err(bad(format!(
                    "stake {stake} (power {} × power_reduction {}) is below staking.min_self_stake {}",
                    v.power, self.staking.power_reduction, self.staking.min_self_stake
                )));
            }
            let funded = balance_of(&op);
            if funded < stake {
                return Err(bad(format!(
                    "operator {op} has a genesis balance of {funded}, below its self-stake {stake} \
                     (power {} × power_reduction {})",
                    v.power, self.staking.power_reduction
                )));
            }
            validators.push(GenesisValidatorEntry {
                name: v.name.clone(),
                pub_key: key,
                power: v.power,
                operator: op,
            });
        }
        validators.sort_by_key(|v| consensus_address(&v.pub_key));

        Ok(ValidatedGenesis {
            params: self.params.clone(),
            balances: balances.into_iter().collect(),
            validators,
            staking: self.staking.clone(),
            compute: self.compute.clone(),
            total_supply: total,
            bridge,
        })
    }
}

/// CometBFT's `MaxTotalVotingPower` (`MaxInt64 / 8`).
pub const MAX_TOTAL_VOTING_POWER: i64 = i64::MAX / 8;

/// `total * bps / 10000`, rounded down; exact, saturating at 2^128 - 1
/// (only possible for `bps > 10000`, which validation rejects first).
pub fn crowdfunding_share(total: Amount, bps: u32) -> Amount {
    comrade_primitives::amount::bps_share(total, bps).unwrap_or(Amount::MAX)
}

/// Module accounts created at genesis, in numbering order (after the
/// funded accounts).
pub const GENESIS_MODULE_ACCOUNTS: [&str; 5] = module_accounts::ALL;

impl ValidatedGenesis {
    /// Each module's genesis section. Account numbers follow the funded
    /// accounts in address order, then the module accounts.
    pub fn sections(&self) -> GenesisSections {
        let accounts = self
            .balances
            .iter()
            .map(|(a, _)| *a)
            .chain(GENESIS_MODULE_ACCOUNTS.iter().map(|n| Address::module(n)))
            .collect();
        GenesisSections {
            auth: AuthGenesis { accounts },
            bank: BankSection {
                balances: self.balances.clone(),
                total_supply: self.total_supply,
            },
            staking: StakingGenesis {
                params: self.staking.clone(),
                validators: self.validators.clone(),
            },
            compute: ComputeGenesis {
                params: self.compute.clone(),
            },
            fees: (),
            bridge: self.bridge.clone(),
        }
    }
}
