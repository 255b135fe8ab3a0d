//! `InitChain`: the app's own records, then every component's
//! `init_chain` with its genesis section, in hook order.

use anyhow::{Context as _, Result, bail};
use cnidarium::StateDelta;
use tendermint_proto::v0_38::abci::{RequestInitChain, ResponseInitChain};

use super::{App, PRE_GENESIS, lock};
use crate::{
    error::ExecError,
    genesis::AppState,
    modules,
    params::ChainParams,
    state::{load_params, put_app_genesis},
    validators::{ValidatorsRead as _, validator_update},
};

impl App {
    /// `InitChain`: loads `app_state`, stores it at version 0 and returns the
    /// validator set and genesis app hash. Idempotent when called again on an
    /// initialised store for the same chain (CometBFT does so when it has not
    /// produced block 1 yet).
    pub fn init_chain(&self, req: RequestInitChain) -> Result<ResponseInitChain> {
        let storage = &self.inner.storage;
        if storage.latest_version() != PRE_GENESIS {
            let stored = self.chain_id().unwrap_or_default();
            if stored != req.chain_id {
                bail!(
                    "InitChain for chain {:?} but state belongs to chain {stored:?}",
                    req.chain_id
                );
            }
            let snap = storage.latest_snapshot();
            let set = self.block_on(snap.validators())?;
            let root = self.block_on(snap.root_hash())?;
            return Ok(ResponseInitChain {
                consensus_params: None,
                validators: set.iter().map(|(_, v)| validator_update(v)).collect(),
                app_hash: root.0.to_vec().into(),
            });
        }
        if req.chain_id.is_empty() || req.chain_id.len() > 50 {
            bail!("chain id {:?} must be 1-50 characters", req.chain_id);
        }
        if req.initial_height > 1 {
            bail!(
                "initial_height {} is not supported (must be 1)",
                req.initial_height
            );
        }
        let app_state = AppState::from_json(&req.app_state_bytes)?;
        let genesis = app_state.validate().context("invalid genesis app_state")?;
        let enable_height = req
            .consensus_params
            .as_ref()
            .and_then(|p| p.abci.as_ref())
            .map(|a| a.vote_extensions_enable_height)
            .unwrap_or(0);
        let enable_height = u64::try_from(enable_height)
            .with_context(|| format!("negative vote_extensions_enable_height {enable_height}"))?;
        let params = ChainParams::try_from(&genesis.params)
            .map_err(|e| anyhow::anyhow!("invalid genesis params: {e}"))?;

        let sections = genesis.sections();
        let mut state = StateDelta::new(storage.latest_snapshot());
        load_params(&mut state, params);
        put_app_genesis(&mut state, &genesis.params, &req.chain_id, enable_height);
        match self.block_on(modules::init_chain(&mut state, &sections)) {
            Ok(()) => {}
            Err(ExecError::Tx(e)) => bail!("genesis rejected by a module: {e}"),
            Err(ExecError::Internal(e)) => bail!("{e}"),
        }
        let root = self.block_on(storage.commit(state))?;
        self.inner.read_cache.reset(storage.latest_version());
        *lock(&self.inner.chain_id) = Some(req.chain_id.clone());
        self.reset_mempool()?;

        let updates = sections
            .staking
            .validators
            .iter()
            .map(|v| validator_update(&v.record()))
            .collect();
        Ok(ResponseInitChain {
            consensus_params: None,
            validators: updates,
            app_hash: root.0.to_vec().into(),
        })
    }
}
