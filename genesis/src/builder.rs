//! Building and editing genesis files: the whitepaper distribution
//! ([`init`]), extra accounts ([`add_account`], [`add_account_from`]) and
//! validators ([`add_validator`]).
//!
//! Every function returns a file that passes [`GenesisFile::validate`] except
//! possibly for an empty validator set (which `add-validator` fixes), and
//! leaves the input untouched on error.

use std::collections::{BTreeMap, BTreeSet};

use comrade_app::genesis::{
    Allocation, AppState, BankGenesis, BridgeGenesisFile, Distribution, GenesisBalance,
    GenesisError, GenesisValidator, ValidatedGenesis, crowdfunding_share, module_accounts,
};
use comrade_app::params::Params;
use comrade_primitives::{Address, Amount};
use serde::Serialize;

use crate::file::{GenesisFile, GenesisFileError};
use crate::split::{SplitError, split_pro_rata};

/// Name of the display unit (1 COMRADE = 10^decimals base units).
pub const DISPLAY_UNIT: &str = "COMRADE";
/// Default base denom.
pub const DEFAULT_DENOM: &str = "ucomrade";
/// Default decimals (set to the Solana mint's decimals).
pub const DEFAULT_DECIMALS: u32 = 6;
/// Default total supply in whole COMRADE: one billion.
pub const DEFAULT_TOTAL_SUPPLY_TOKENS: u128 = 1_000_000_000;
/// Whitepaper crowdfunding share: 7% (basis points).
pub const DEFAULT_CROWDFUNDING_BPS: u32 = 700;
/// Default treasury share: 10% (basis points).
pub const DEFAULT_TREASURY_BPS: u32 = 1_000;
/// Default free-access pool share: 3% (basis points).
pub const DEFAULT_FREE_ACCESS_POOL_BPS: u32 = 300;

/// A crowdfunding contributor and their weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contributor {
    /// The contributor's account.
    pub address: Address,
    /// Positive weight; the crowdfunding share is split pro rata by weight.
    /// Weights that add up to the share itself are exact amounts.
    pub weight: u128,
}

/// The parameters of [`init`]. [`InitOptions::default`] encodes the
/// whitepaper: 1,000,000,000 COMRADE of `ucomrade` with 6 decimals, 7% to
/// crowdfunding contributors, 10% to the treasury, 3% to the free-access
/// pool and the rest to the reserve account (or the treasury when none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitOptions {
    /// Base denom (3-32 lowercase letters/digits).
    pub denom: String,
    /// Decimals of the display unit; equal to the Solana mint's decimals.
    pub decimals: u32,
    /// Total initial supply in base units.
    pub total_supply: Amount,
    /// Crowdfunding share in basis points (700 = 7%).
    pub crowdfunding_bps: u32,
    /// Treasury share in basis points.
    pub treasury_bps: u32,
    /// Free-access pool share in basis points.
    pub free_access_pool_bps: u32,
    /// Crowdfunding contributors (required when the crowdfunding share is
    /// not zero).
    pub contributors: Vec<Contributor>,
    /// Receives what is left after the three shares (and all rounding
    /// remainders); `None` gives it to the treasury.
    pub reserve: Option<Address>,
}

impl Default for InitOptions {
    fn default() -> Self {
        InitOptions {
            denom: DEFAULT_DENOM.to_string(),
            decimals: DEFAULT_DECIMALS,
            total_supply: default_total_supply(DEFAULT_DECIMALS).expect("10^9 * 10^6 fits in u128"),
            crowdfunding_bps: DEFAULT_CROWDFUNDING_BPS,
            treasury_bps: DEFAULT_TREASURY_BPS,
            free_access_pool_bps: DEFAULT_FREE_ACCESS_POOL_BPS,
            contributors: Vec::new(),
            reserve: None,
        }
    }
}

/// [`DEFAULT_TOTAL_SUPPLY_TOKENS`] in base units for `decimals`; `None` if it
/// overflows (it does not for decimals up to 29).
pub fn default_total_supply(decimals: u32) -> Option<Amount> {
    tokens_to_base_units(DEFAULT_TOTAL_SUPPLY_TOKENS, decimals)
}

/// `tokens * 10^decimals`, or `None` on overflow.
pub fn tokens_to_base_units(tokens: u128, decimals: u32) -> Option<Amount> {
    10u128
        .checked_pow(decimals)
        .and_then(|unit| tokens.checked_mul(unit))
}

/// Formats base units as display units, e.g. `1234.5 COMRADE` for
/// `1234500000` with 6 decimals (trailing zeros dropped).
pub fn format_display(amount: Amount, decimals: u32) -> String {
    let Some(unit) = 10u128.checked_pow(decimals) else {
        return format!("{amount} base units");
    };
    let whole = amount / unit;
    let frac = amount % unit;
    if frac == 0 {
        return format!("{whole} {DISPLAY_UNIT}");
    }
    let width = usize::try_from(decimals).unwrap_or(0);
    let frac = format!("{frac:0width$}");
    format!("{whole}.{} {DISPLAY_UNIT}", frac.trim_end_matches('0'))
}

/// Why a genesis file cannot be built or edited as asked.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The shares add up to more than 100%.
    #[error(
        "crowdfunding ({crowdfunding} bps) + treasury ({treasury} bps) + free-access pool \
         ({free_access_pool} bps) exceed 10000 bps"
    )]
    SharesExceedTotal {
        /// Crowdfunding share.
        crowdfunding: u32,
        /// Treasury share.
        treasury: u32,
        /// Free-access pool share.
        free_access_pool: u32,
    },
    /// A crowdfunding share is configured but there are no contributors.
    #[error(
        "crowdfunding share is {bps} bps ({amount} base units) but no contributors were given: \
         pass a contributors file or set the crowdfunding share to 0"
    )]
    NoContributors {
        /// Configured share.
        bps: u32,
        /// The amount to distribute.
        amount: Amount,
    },
    /// The same contributor is listed twice.
    #[error("contributor {0} is listed twice")]
    DuplicateContributor(Address),
    /// The contributors' weights cannot be used.
    #[error("cannot split the crowdfunding share: {0}")]
    Split(#[from] SplitError),
    /// The account already has a genesis balance.
    #[error("account {0} already has a genesis balance")]
    AccountExists(Address),
    /// The new total supply would overflow 128 bits.
    #[error("total supply would overflow 2^128 - 1")]
    SupplyOverflow,
    /// The source account cannot cover the amount.
    #[error("{source_account} has {balance} base units, cannot move {amount}")]
    InsufficientFunds {
        /// The source.
        source_account: Address,
        /// Its balance.
        balance: Amount,
        /// The requested amount.
        amount: Amount,
    },
    /// Minting is impossible when the crowdfunding share is 100%.
    #[error(
        "cannot mint for a non-contributor when crowdfunding_bps is 10000; move funds with a \
         source account instead"
    )]
    CrowdfundingIsEverything,
    /// The result (or the input) is not a valid genesis file.
    #[error(transparent)]
    Invalid(#[from] GenesisFileError),
}

impl From<GenesisError> for BuildError {
    fn from(e: GenesisError) -> Self {
        BuildError::Invalid(GenesisFileError::App(e))
    }
}

/// Validates `file`, accepting an empty validator set (the only rule a file
/// can break before its validators are added). Returns the typed view, or
/// `None` when the only problem is the empty validator set.
pub fn validate_allowing_no_validators(
    file: &GenesisFile,
) -> Result<Option<ValidatedGenesis>, GenesisFileError> {
    match file.validate() {
        Ok(v) => Ok(Some(v)),
        // `AppState::validate` checks validators last, so everything else
        // has passed when this is the error.
        Err(GenesisFileError::App(GenesisError::EmptyValidatorSet)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Balances and the supply of a file that is valid up to its validators.
fn balances_of(file: &GenesisFile) -> Result<(BTreeMap<Address, Amount>, Amount), BuildError> {
    validate_allowing_no_validators(file)?;
    // Valid up to validators: every address and amount parses and is unique.
    let mut map = BTreeMap::new();
    let mut total: Amount = 0;
    for b in &file.app_state.bank.balances {
        let a: Address = b.address.parse().map_err(|e| {
            BuildError::from(GenesisError::BadAddress {
                field: "bank.balances".into(),
                address: b.address.clone(),
                reason: format!("{e}"),
            })
        })?;
        let amt = comrade_primitives::parse_amount(&b.amount).map_err(|_| {
            BuildError::from(GenesisError::BadAmount {
                field: "bank.balances".into(),
                amount: b.amount.clone(),
            })
        })?;
        map.insert(a, amt);
        total = total.checked_add(amt).ok_or(BuildError::SupplyOverflow)?;
    }
    Ok((map, total))
}

fn crowdfunding_of(file: &GenesisFile) -> Result<BTreeMap<Address, Amount>, BuildError> {
    let mut map = BTreeMap::new();
    for c in &file.app_state.distribution.crowdfunding {
        let a: Address = c.address.parse().map_err(|e| {
            BuildError::from(GenesisError::BadAddress {
                field: "distribution.crowdfunding".into(),
                address: c.address.clone(),
                reason: format!("{e}"),
            })
        })?;
        let amt = comrade_primitives::parse_amount(&c.amount).map_err(|_| {
            BuildError::from(GenesisError::BadAmount {
                field: "distribution.crowdfunding".into(),
                amount: c.amount.clone(),
            })
        })?;
        map.insert(a, amt);
    }
    Ok(map)
}

/// Rewrites balances, crowdfunding allocations and the module-account
/// figures of `state` from maps (sorted by address, zero balances dropped).
fn write_back(
    state: &mut AppState,
    balances: &BTreeMap<Address, Amount>,
    crowdfunding: &BTreeMap<Address, Amount>,
    total: Amount,
) {
    let denom = state.params.denom.clone();
    state.bank.balances = balances
        .iter()
        .filter(|(_, amt)| **amt > 0)
        .map(|(a, amt)| GenesisBalance {
            address: a.to_string(),
            amount: amt.to_string(),
            denom: denom.clone(),
        })
        .collect();
    state.bridge.locked = total.to_string();
    let d = &mut state.distribution;
    d.total_supply = total.to_string();
    d.crowdfunding = crowdfunding
        .iter()
        .map(|(a, amt)| Allocation {
            address: a.to_string(),
            amount: amt.to_string(),
        })
        .collect();
    let balance = |name: &str| {
        balances
            .get(&Address::module(name))
            .copied()
            .unwrap_or(0)
            .to_string()
    };
    d.treasury = balance(module_accounts::TREASURY);
    d.free_access_pool = balance(module_accounts::FREE_ACCESS_POOL);
}

fn credit(map: &mut BTreeMap<Address, Amount>, a: Address, amt: Amount) -> Result<(), BuildError> {
    let e = map.entry(a).or_insert(0);
    *e = e.checked_add(amt).ok_or(BuildError::SupplyOverflow)?;
    Ok(())
}

/// Builds a new genesis file: the distribution of `opts`, default chain
/// parameters with `opts.denom`/`opts.decimals`, CometBFT consensus
/// parameters with vote extensions from height 1, and no validators yet.
///
/// The shares are `floor(total * bps / 10000)` each; the crowdfunding share
/// is split among contributors (sorted by address) pro rata by weight with
/// the largest-remainder method, so allocations add up to it exactly; every
/// other rounding remainder goes to the reserve (or treasury). The balances
/// therefore add up to `total_supply` exactly.
///
/// `genesis_time` is an RFC 3339 time supplied by the caller (this function
/// reads no clock).
pub fn init(
    chain_id: &str,
    genesis_time: &str,
    opts: &InitOptions,
) -> Result<GenesisFile, BuildError> {
    let (c_bps, t_bps, f_bps) = (
        opts.crowdfunding_bps,
        opts.treasury_bps,
        opts.free_access_pool_bps,
    );
    if u64::from(c_bps) + u64::from(t_bps) + u64::from(f_bps) > 10_000 {
        return Err(BuildError::SharesExceedTotal {
            crowdfunding: c_bps,
            treasury: t_bps,
            free_access_pool: f_bps,
        });
    }
    let params = Params {
        denom: opts.denom.clone(),
        decimals: opts.decimals,
        ..Params::default()
    };
    params.validate().map_err(GenesisError::BadParams)?;

    let total = opts.total_supply;
    let crowd = crowdfunding_share(total, c_bps);
    let treasury_share = crowdfunding_share(total, t_bps);
    let free_share = crowdfunding_share(total, f_bps);

    let mut contributors = opts.contributors.clone();
    contributors.sort_by_key(|c| c.address);
    if let Some(w) = contributors
        .windows(2)
        .find(|w| w[0].address == w[1].address)
    {
        return Err(BuildError::DuplicateContributor(w[0].address));
    }
    if contributors.is_empty() && crowd > 0 {
        return Err(BuildError::NoContributors {
            bps: c_bps,
            amount: crowd,
        });
    }
    let mut allocations = BTreeMap::new();
    if !contributors.is_empty() {
        let weights: Vec<u128> = contributors.iter().map(|c| c.weight).collect();
        let parts = split_pro_rata(crowd, &weights)?;
        for (c, part) in contributors.iter().zip(parts) {
            allocations.insert(c.address, part);
        }
    }

    // Shares are floors of bps fractions adding up to at most 100%, so their
    // sum never exceeds the total.
    let rest = total
        .checked_sub(crowd)
        .and_then(|r| r.checked_sub(treasury_share))
        .and_then(|r| r.checked_sub(free_share))
        .ok_or(BuildError::SupplyOverflow)?;
    let treasury = Address::module(module_accounts::TREASURY);
    let mut balances = BTreeMap::new();
    for (a, amt) in &allocations {
        credit(&mut balances, *a, *amt)?;
    }
    credit(&mut balances, treasury, treasury_share)?;
    credit(
        &mut balances,
        Address::module(module_accounts::FREE_ACCESS_POOL),
        free_share,
    )?;
    credit(&mut balances, opts.reserve.unwrap_or(treasury), rest)?;

    let mut state = AppState {
        params,
        staking: Default::default(),
        compute: Default::default(),
        // Development values until `genesis set-bridge` names the real
        // guardian set, lockbox and mint; `write_back` keeps `locked` equal
        // to the supply.
        bridge: BridgeGenesisFile::devnet(0),
        bank: BankGenesis::default(),
        validators: Vec::new(),
        distribution: Distribution {
            total_supply: String::new(),
            crowdfunding_bps: c_bps,
            crowdfunding: Vec::new(),
            treasury: String::new(),
            free_access_pool: String::new(),
        },
    };
    write_back(&mut state, &balances, &allocations, total);
    let file = GenesisFile::new(chain_id, genesis_time, state);
    validate_allowing_no_validators(&file)?;
    Ok(file)
}

/// What [`add_account`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AddAccountOutcome {
    /// Base units credited to the new account.
    pub amount: Amount,
    /// Extra base units minted for crowdfunding contributors (pro rata to
    /// their allocations) so that they keep exactly `crowdfunding_bps` of
    /// the new total supply.
    pub crowdfunding_top_up: Amount,
    /// The new total supply.
    pub total_supply: Amount,
}

/// Adds a genesis account holding `amount` newly minted base units.
///
/// The total supply grows by `amount` plus a small top-up for the
/// crowdfunding contributors: the whitepaper fixes their allocation at
/// `crowdfunding_bps` of the total supply, so minting for anyone else also
/// mints their share (split pro rata to their current allocations with the
/// largest-remainder method). The top-up `d` is the largest amount with
/// `floor((supply + amount + d) * bps / 10000) == crowdfunding + d`; it is
/// zero when the crowdfunding share is zero. Use [`add_account_from`] to
/// fund the account from an existing balance instead.
pub fn add_account(
    file: &GenesisFile,
    address: Address,
    amount: Amount,
) -> Result<(GenesisFile, AddAccountOutcome), BuildError> {
    let (mut balances, total) = balances_of(file)?;
    if balances.contains_key(&address) {
        return Err(BuildError::AccountExists(address));
    }
    let mut crowdfunding = crowdfunding_of(file)?;
    let bps = file.app_state.distribution.crowdfunding_bps;
    let crowd: Amount = crowdfunding.values().sum();
    let supply = total
        .checked_add(amount)
        .ok_or(BuildError::SupplyOverflow)?;
    let top_up = crowdfunding_top_up(supply, crowd, bps)?;

    if top_up > 0 {
        if crowdfunding.is_empty() {
            return Err(BuildError::NoContributors {
                bps,
                amount: top_up,
            });
        }
        let addrs: Vec<Address> = crowdfunding.keys().copied().collect();
        let mut weights: Vec<u128> = crowdfunding.values().copied().collect();
        if weights.iter().all(|w| *w == 0) {
            weights.iter_mut().for_each(|w| *w = 1);
        }
        // Contributors with a zero allocation keep zero.
        let (idx, nz): (Vec<usize>, Vec<u128>) = weights
            .iter()
            .enumerate()
            .filter(|(_, w)| **w > 0)
            .map(|(i, w)| (i, *w))
            .unzip();
        let parts = split_pro_rata(top_up, &nz)?;
        for (i, part) in idx.into_iter().zip(parts) {
            let a = addrs[i];
            credit(&mut crowdfunding, a, part)?;
            credit(&mut balances, a, part)?;
        }
    }
    balances.insert(address, amount);
    let new_total = supply
        .checked_add(top_up)
        .ok_or(BuildError::SupplyOverflow)?;
    let mut out = file.clone();
    write_back(&mut out.app_state, &balances, &crowdfunding, new_total);
    validate_allowing_no_validators(&out)?;
    Ok((
        out,
        AddAccountOutcome {
            amount,
            crowdfunding_top_up: top_up,
            total_supply: new_total,
        },
    ))
}

/// The `d` of [`add_account`]: with `S = supply`, `C = crowd`, `b = bps`,
/// the largest `d` with `floor((S + d) * b / 10000) == C + d`, which is
/// `floor((S * b - 10000 * C) / (10000 - b))`.
fn crowdfunding_top_up(supply: Amount, crowd: Amount, bps: u32) -> Result<Amount, BuildError> {
    if bps == 0 {
        return Ok(0);
    }
    if bps >= 10_000 {
        return Err(BuildError::CrowdfundingIsEverything);
    }
    let b = Amount::from(bps);
    // S * b = 10000 * q + r
    let q = crowdfunding_share(supply, bps);
    let r = (supply % 10_000) * b % 10_000;
    // N = S * b - 10000 * C = 10000 * (q - C) + r, with q >= C.
    let n = q
        .checked_sub(crowd)
        .and_then(|x| x.checked_mul(10_000))
        .and_then(|x| x.checked_add(r))
        .ok_or(BuildError::SupplyOverflow)?;
    let d = n / (10_000 - b);
    debug_assert_eq!(
        crowdfunding_share(supply.saturating_add(d), bps),
        crowd.saturating_add(d)
    );
    Ok(d)
}

/// Which existing balance funds [`add_account_from`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The treasury module account.
    Treasury,
    /// The free-access pool module account.
    FreeAccessPool,
    /// Any account with a genesis balance (crowdfunding contributors may not
    /// go below their allocation).
    Account(Address),
}

impl Source {
    /// The source's address.
    pub fn address(self) -> Address {
        match self {
            Source::Treasury => Address::module(module_accounts::TREASURY),
            Source::FreeAccessPool => Address::module(module_accounts::FREE_ACCESS_POOL),
            Source::Account(a) => a,
        }
    }
}

/// Adds a genesis account with `amount` base units taken from `source`; the
/// total supply and the crowdfunding allocations do not change.
pub fn add_account_from(
    file: &GenesisFile,
    address: Address,
    amount: Amount,
    source: Source,
) -> Result<GenesisFile, BuildError> {
    let (mut balances, total) = balances_of(file)?;
    if balances.contains_key(&address) {
        return Err(BuildError::AccountExists(address));
    }
    let from = source.address();
    let balance = balances.get(&from).copied().unwrap_or(0);
    let left = balance
        .checked_sub(amount)
        .ok_or(BuildError::InsufficientFunds {
            source_account: from,
            balance,
            amount,
        })?;
    balances.insert(from, left);
    balances.insert(address, amount);
    let crowdfunding = crowdfunding_of(file)?;
    let mut out = file.clone();
    write_back(&mut out.app_state, &balances, &crowdfunding, total);
    validate_allowing_no_validators(&out)?;
    Ok(out)
}

/// Adds a validator to `app_state.validators` and checks the result with
/// the app's rules (name and key unique, key a valid Ed25519 point, power
/// positive and within CometBFT's limit, operator a valid address).
pub fn add_validator(
    file: &GenesisFile,
    validator: GenesisValidator,
) -> Result<GenesisFile, BuildError> {
    let mut out = file.clone();
    out.app_state.validators.push(validator);
    out.validate()?;
    Ok(out)
}

/// One validator in a [`Summary`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SummaryValidator {
    /// Name.
    pub name: String,
    /// Voting power.
    pub power: i64,
    /// Operator account.
    pub operator: String,
}

/// A short description of a genesis file (`comrade genesis show --summary`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Chain id.
    pub chain_id: String,
    /// Genesis time.
    pub genesis_time: String,
    /// Base denom.
    pub denom: String,
    /// Decimals.
    pub decimals: u32,
    /// Total supply in base units.
    pub total_supply: String,
    /// Number of accounts with a balance.
    pub accounts: usize,
    /// Crowdfunding share in basis points.
    pub crowdfunding_bps: u32,
    /// Number of crowdfunding contributors.
    pub contributors: usize,
    /// Sum of crowdfunding allocations in base units.
    pub crowdfunding_total: String,
    /// Treasury balance in base units.
    pub treasury: String,
    /// Free-access pool balance in base units.
    pub free_access_pool: String,
    /// Validators in file order.
    pub validators: Vec<SummaryValidator>,
    /// First height with vote extensions.
    pub vote_extensions_enable_height: i64,
}

impl GenesisFile {
    /// A short description; amounts that do not parse count as zero.
    pub fn summary(&self) -> Summary {
        let s = &self.app_state;
        let d = &s.distribution;
        let crowd: Amount = d
            .crowdfunding
            .iter()
            .filter_map(|c| comrade_primitives::parse_amount(&c.amount).ok())
            .fold(0, Amount::saturating_add);
        let accounts: BTreeSet<&str> = s.bank.balances.iter().map(|b| b.address.as_str()).collect();
        Summary {
            chain_id: self.chain_id.clone(),
            genesis_time: self.genesis_time.clone(),
            denom: s.params.denom.clone(),
            decimals: s.params.decimals,
            total_supply: d.total_supply.clone(),
            accounts: accounts.len(),
            crowdfunding_bps: d.crowdfunding_bps,
            contributors: d.crowdfunding.len(),
            crowdfunding_total: crowd.to_string(),
            treasury: d.treasury.clone(),
            free_access_pool: d.free_access_pool.clone(),
            validators: s
                .validators
                .iter()
                .map(|v| SummaryValidator {
                    name: v.name.clone(),
                    power: v.power,
                    operator: v.operator.clone(),
                })
                .collect(),
            vote_extensions_enable_height: self.consensus_params.abci.vote_extensions_enable_height,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn format_display_examples() {
        assert_eq!(format_display(1_234_500_000, 6), "1234.5 COMRADE");
        assert_eq!(format_display(1_000_000, 6), "1 COMRADE");
        assert_eq!(format_display(1, 6), "0.000001 COMRADE");
        assert_eq!(format_display(7, 0), "7 COMRADE");
    }

    proptest! {
        #[test]
        fn top_up_is_the_fixpoint(
            supply in 0u128..u128::MAX / 20_000,
            bps in 1u32..10_000,
            extra in 0u128..1_000_000_000_000u128,
        ) {
            let crowd = crowdfunding_share(supply, bps);
            let s = supply + extra;
            let d = crowdfunding_top_up(s, crowd, bps).unwrap();
            prop_assert_eq!(crowdfunding_share(s + d, bps), crowd + d);
            // and it is the largest such d
            prop_assert_ne!(crowdfunding_share(s + d + 1, bps), crowd + d + 1);
        }
    }
}
