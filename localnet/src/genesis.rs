//! The shared CometBFT genesis of a localnet, and its funded test keys.

use std::path::Path;

use comrade_app::{
    genesis::{AppState, GenesisValidator},
    params::Params,
};
use comrade_primitives::Address;
use k256::ecdsa::SigningKey;
use serde_json::{Value, json};

use crate::{AppKind, ComputeSchedule, LocalnetConfig, LocalnetError, Result};

/// Genesis balance of the faucet key, in base units (1e9 COMRADE).
pub const FAUCET_BALANCE: u128 = 1_000_000_000_000_000;
/// Genesis balance of each funded load-test account (1e6 COMRADE).
pub const FUNDED_ACCOUNT_BALANCE: u128 = 1_000_000_000_000;
/// Genesis balance of each validator operator account: its self-stake
/// (`VALIDATOR_POWER × power_reduction`, bonded at InitChain) plus 1 COMRADE
/// for fees.
const OPERATOR_BALANCE: u128 = VALIDATOR_POWER as u128 * 1_000_000 + 1_000_000;
/// Genesis balance of the reward pool (1e6 COMRADE).
const REWARD_POOL_BALANCE: u128 = 1_000_000_000_000;
/// Genesis balance of the compute node's operator (1,000 COMRADE: its
/// stake, [`COMPUTE_NODE_STAKE`], and fees).
const COMPUTE_OPERATOR_BALANCE: u128 = 1_000_000_000;
/// Stake the localnet's compute node registers with (the minimum, 100 COMRADE).
pub const COMPUTE_NODE_STAKE: u128 = 100_000_000;
/// Voting power of each validator.
pub(crate) const VALIDATOR_POWER: i64 = 10;

/// A deterministic, funded secp256k1 test key.
#[derive(Clone)]
pub struct TestKey {
    /// The signing key.
    pub key: SigningKey,
    /// Its `comrade1…` address.
    pub address: Address,
}

impl std::fmt::Debug for TestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestKey")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// The deterministic secp256k1 test key of `seed`: the first valid scalar
/// of `sha256("comrade-test-account" || seed || counter)`. The localnet's
/// faucet and funded accounts are these keys, so anyone can sign for them.
pub fn account_key(seed: u64) -> SigningKey {
    use sha2::{Digest, Sha256};
    let mut counter = 0u64;
    loop {
        let d = Sha256::new()
            .chain_update(b"comrade-test-account")
            .chain_update(seed.to_be_bytes())
            .chain_update(counter.to_be_bytes())
            .finalize();
        if let Ok(k) = SigningKey::from_slice(&d) {
            return k;
        }
        counter = counter.wrapping_add(1);
    }
}

impl TestKey {
    fn from_seed(seed: u64) -> Self {
        let key = account_key(seed);
        let address = comrade_app::client::address_of(&key);
        TestKey { key, address }
    }

    /// The private key as 64 hex characters (test use only!).
    pub fn private_key_hex(&self) -> String {
        hex::encode(self.key.to_bytes())
    }
}

/// The faucet: the main funded test key (`account_key(0)`), [`FAUCET_BALANCE`].
pub fn faucet_key() -> TestKey {
    TestKey::from_seed(0)
}

/// Funded load-test account `n` (`1..=funded_accounts`), [`FUNDED_ACCOUNT_BALANCE`].
pub fn funded_account_key(n: u64) -> TestKey {
    TestKey::from_seed(n)
}

/// The operator of the localnet's compute node, funded with 1,000 COMRADE.
pub fn compute_operator_key() -> TestKey {
    compute_operator_key_at(0)
}

/// Compute-node slots the localnet funds an operator for (slot 0 is the
/// node of `up --compute`; tests run more, e.g. auditors).
pub const COMPUTE_SLOTS: u32 = 3;

/// The operator of compute slot `slot` (`< COMPUTE_SLOTS` is funded).
pub fn compute_operator_key_at(slot: u32) -> TestKey {
    TestKey::from_seed(2_000_000u64.saturating_add(u64::from(slot)))
}

fn operator_key(i: usize) -> TestKey {
    TestKey::from_seed(1_000_000u64.saturating_add(u64::try_from(i).unwrap_or(0)))
}

/// Reads `pub_key.value` (base64 ed25519) of `<home>/config/priv_validator_key.json`.
pub(crate) fn validator_pub_key(home: &Path) -> Result<String> {
    let path = home.join("config").join("priv_validator_key.json");
    let bytes = std::fs::read(&path).map_err(LocalnetError::io(&path))?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| LocalnetError::BadFile {
        path: path.clone(),
        detail: e.to_string(),
    })?;
    v.pointer("/pub_key/value")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| LocalnetError::BadFile {
            path,
            detail: "no pub_key.value".into(),
        })
}

/// The app's `app_state`: default params, no crowdfunding, the faucet, the
/// funded accounts and the operators funded, one validator per key.
pub(crate) fn app_state(cfg: &LocalnetConfig, pub_keys: &[String]) -> AppState {
    let params = Params::default();
    let mut balances: Vec<(Address, u128)> = vec![(faucet_key().address, FAUCET_BALANCE)];
    for n in 1..=cfg.funded_accounts {
        balances.push((funded_account_key(n).address, FUNDED_ACCOUNT_BALANCE));
    }
    let validators = pub_keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let op = operator_key(i).address;
            balances.push((op, OPERATOR_BALANCE));
            GenesisValidator {
                name: format!("node{i}"),
                pub_key: k.clone(),
                power: VALIDATOR_POWER,
                operator: op.to_string(),
            }
        })
        .collect();
    for slot in 0..COMPUTE_SLOTS {
        balances.push((
            compute_operator_key_at(slot).address,
            COMPUTE_OPERATOR_BALANCE,
        ));
    }
    // The reward pool pays capacity rewards; it is funded here, never minted.
    balances.push((
        Address::module(comrade_bank::auth::module_accounts::REWARD_POOL),
        REWARD_POOL_BALANCE,
    ));
    let mut state = AppState::dev(params, &balances, validators);
    state.staking = localnet_staking_params();
    state.compute = localnet_compute_params(cfg.compute_schedule);
    state
}

/// Compute params of the localnet. [`ComputeSchedule::Standard`] is the
/// design's localnet column: the CPU profile (an opening costs ~60 µs
/// here), 10-block sprints, 20-block beacon periods, 300-block epochs.
/// [`ComputeSchedule::Fast`] packs a whole sprint (rows, commitment, the
/// opening beacon, reveals, verification) into 40-block epochs, and audits
/// every receipt. Both have the design's localnet audit column otherwise:
/// two auditors per receipt.
pub(crate) fn localnet_compute_params(
    schedule: ComputeSchedule,
) -> comrade_consensus::compute::ComputeParams {
    let standard = comrade_consensus::compute::ComputeParams {
        profile_id: comrade_exact::Profile::LOCALNET_CPU.id,
        epoch_blocks: 300,
        sprint_blocks: 10,
        commit_grace_blocks: 2,
        openings: 32,
        reveal_blocks: 10,
        mac_budget_per_block: 100_000_000,
        max_rows: 1 << 24,
        beacon_period_blocks: 20,
        beacon_reveal_blocks: 3,
        unbonding_blocks: 30,
        block_time_ms: 1_000,
        reward_per_sprint: 100_000_000,
        // the design's localnet column: half the receipts audited by two
        audit_rate_ppm: 500_000,
        auditors_per_audit: 2,
        audit_open_blocks: 10,
        audit_report_blocks: 40,
        ..Default::default()
    };
    match schedule {
        ComputeSchedule::Standard => standard,
        ComputeSchedule::Fast => comrade_consensus::compute::ComputeParams {
            epoch_blocks: 40,
            sprint_blocks: 6,
            commit_grace_blocks: 3,
            beacon_period_blocks: 10,
            beacon_reveal_blocks: 3,
            reveal_blocks: 6,
            // every receipt audited, by two, well inside the epoch
            audit_rate_ppm: 1_000_000,
            // Windows in blocks of ~0.5 s: a worker whose tx waits out its
            // 12 s timeout (one tx at a time; a tx left out of a proposal
            // stalls it) must still open its receipts and reveal before it
            // is failed or jailed. With 10-block openings and 3 missed
            // periods of 10 blocks, such a stall on these 2-core machines
            // failed honest receipts and jailed nodes in the e2e test.
            audit_open_blocks: 30,
            audit_report_blocks: 60,
            jail_after_reveal_misses: 6,
            ..standard
        },
    }
}

/// Staking params of the localnet: the default stake sizes with short
/// epochs and windows, so set changes, unbondings and downtime jailing are
/// seen within a test's minutes.
pub(crate) fn localnet_staking_params() -> comrade_consensus::staking::StakingParams {
    comrade_consensus::staking::StakingParams {
        epoch_blocks: 10,
        unbonding_blocks: 30,
        signed_blocks_window: 100,
        downtime_jail_blocks: 20,
        ..Default::default()
    }
}

/// The CometBFT genesis document. For [`AppKind::Comrade`] the validator set
/// is empty (the app returns it from `app_state` in `InitChain`) and vote
/// extensions are enabled from height 1; for the kvstore kinds the
/// validators are listed and vote extensions are off.
pub(crate) fn genesis_json(cfg: &LocalnetConfig, pub_keys: &[String]) -> Result<Value> {
    let (validators, ve_height, app_state) = match cfg.app {
        AppKind::Comrade => {
            let state = app_state(cfg, pub_keys);
            state.validate().map_err(|e| {
                LocalnetError::Config(format!("generated app_state is invalid: {e}"))
            })?;
            let state = serde_json::to_value(&state)
                .map_err(|e| LocalnetError::Config(format!("app_state: {e}")))?;
            (Vec::new(), 1, Some(state))
        }
        AppKind::KvStore | AppKind::KvStoreSocket => {
            let vals = pub_keys
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    json!({
                        "pub_key": { "type": "tendermint/PubKeyEd25519", "value": k },
                        "power": VALIDATOR_POWER.to_string(),
                        "name": format!("node{i}"),
                    })
                })
                .collect();
            (vals, 0, None)
        }
    };
    // The same consensus params `comrade genesis init` writes.
    let mut params = comrade_genesis::ConsensusParams::default();
    params.abci.vote_extensions_enable_height = ve_height;
    let params = serde_json::to_value(&params)
        .map_err(|e| LocalnetError::Config(format!("consensus params: {e}")))?;
    let mut g = json!({
        "genesis_time": tendermint::Time::now().to_rfc3339(),
        "chain_id": cfg.chain_id,
        "initial_height": "1",
        "consensus_params": params,
        "validators": validators,
        "app_hash": "",
    });
    if let (Some(state), Some(obj)) = (app_state, g.as_object_mut()) {
        obj.insert("app_state".to_string(), state);
    }
    Ok(g)
}
