//! A harness chain for module tests: signs messages for several senders,
//! runs blocks and checks txs.

use comrade_app::client::{address_of, pack, sign_tx};
use comrade_primitives::{Address, proto::staking::v1 as pb};
use comrade_test_utils::{MockConsensus, account_key, genesis};
use k256::ecdsa::SigningKey;
use tendermint_proto::v0_38::abci::ResponseFinalizeBlock;

use crate::common::*;

/// A harness chain with a funded user (carol) and per-sender sequences.
pub(crate) struct Net {
    pub h: MockConsensus,
    pub carol: SigningKey,
    seqs: std::collections::BTreeMap<Address, u64>,
    _dir: tempfile::TempDir,
}

/// Base units per COMRADE (and per unit of voting power).
pub(crate) const REDUCTION: u128 = 1_000_000;

/// A chain of the four harness validators where carol holds 1000 COMRADE;
/// `configure` edits the genesis (params) first.
pub(crate) fn net(configure: impl FnOnce(&mut comrade_app::genesis::AppState)) -> Net {
    let dir = tempfile::tempdir().unwrap();
    let carol = account_key(77);
    let mut state = genesis(&[(address_of(&carol), 1_000 * REDUCTION)], &validators());
    configure(&mut state);
    let h = MockConsensus::new(&dir.path().join("db"), CHAIN_ID, &state, validators()).unwrap();
    Net {
        h,
        carol,
        seqs: Default::default(),
        _dir: dir,
    }
}

/// The operator key of harness validator `i` (as `TestValidator::new` makes it).
pub(crate) fn operator_key(i: u8) -> SigningKey {
    account_key(1_000_000 + u64::from(i))
}

impl Net {
    pub(crate) fn tx<M: prost::Message>(
        &mut self,
        key: &SigningKey,
        type_url: &str,
        msg: &M,
    ) -> Vec<u8> {
        let a = address_of(key);
        let seq = *self.seqs.get(&a).unwrap_or(&0);
        sign_tx(
            key,
            vec![pack(type_url, msg)],
            &opts(account_number(&self.h, &a), seq),
        )
    }

    /// One block with these txs; the sequence of each successful sender moves.
    pub(crate) fn block(&mut self, txs: Vec<(SigningKey, Vec<u8>)>) -> ResponseFinalizeBlock {
        let r = self
            .h
            .block(txs.iter().map(|(_, t)| t.clone()).collect())
            .unwrap();
        assert_eq!(r.tx_results.len(), txs.len() + 1, "a tx was left out");
        for ((k, _), res) in txs.iter().zip(r.tx_results.iter().skip(1)) {
            assert_eq!(res.code, 0, "{}", res.log);
            *self.seqs.entry(address_of(k)).or_default() += 1;
        }
        r
    }

    /// One block in which carol sends `amount` to each of `keys`.
    pub(crate) fn fund(&mut self, keys: &[SigningKey], amount: u128) -> ResponseFinalizeBlock {
        let carol = self.carol.clone();
        let ca = address_of(&carol);
        let first = self.seq(&ca);
        let txs = keys
            .iter()
            .zip(first..)
            .map(|(k, seq)| {
                let tx = send(
                    &carol,
                    &address_of(k),
                    amount,
                    account_number(&self.h, &ca),
                    seq,
                );
                (carol.clone(), tx)
            })
            .collect();
        self.block(txs)
    }

    /// CheckTx's code and log for `tx` (the pipeline a block runs; a
    /// proposal leaves out a failing tx, so negatives are checked here).
    pub(crate) fn check(&self, tx: Vec<u8>) -> (u32, String) {
        let r = self
            .h
            .app
            .check_tx(tendermint_proto::v0_38::abci::RequestCheckTx {
                tx: tx.into(),
                r#type: 0,
            })
            .unwrap();
        (r.code, r.log)
    }

    /// The next sequence of `a` as this harness tracks it.
    pub(crate) fn seq(&self, a: &Address) -> u64 {
        *self.seqs.get(a).unwrap_or(&0)
    }

    pub(crate) fn height(&self) -> u64 {
        self.h.app.committed_height()
    }

    pub(crate) fn validator(&self, op: &Address) -> Option<pb::Validator> {
        use comrade_consensus::staking::StakingRead as _;
        let snap = self.h.app.storage().latest_snapshot();
        self.h
            .app
            .block_on(snap.validator_of(op))
            .unwrap()
            .map(|(_, v)| v)
    }

    pub(crate) fn view(&self) -> Vec<([u8; 20], i64)> {
        use comrade_consensus::staking::ValidatorsRead as _;
        let snap = self.h.app.storage().latest_snapshot();
        self.h
            .app
            .block_on(snap.validators())
            .unwrap()
            .into_iter()
            .map(|(a, v)| (a, v.power))
            .collect()
    }

    /// Runs empty blocks until `height` is committed; returns every
    /// FinalizeBlock response with its height.
    pub(crate) fn run_to(&mut self, height: u64) -> Vec<(u64, ResponseFinalizeBlock)> {
        let mut out = Vec::new();
        while self.height() < height {
            let r = self.block(vec![]);
            out.push((self.height(), r));
        }
        out
    }
}

/// Adds a genesis balance for module account `name` (and to the supply).
pub(crate) fn fund_module(g: &mut comrade_app::genesis::AppState, name: &str, amount: u128) {
    let a = Address::module(name);
    g.bank.balances.push(comrade_app::genesis::GenesisBalance {
        address: a.to_string(),
        amount: amount.to_string(),
        denom: g.params.denom.clone(),
    });
    let total: u128 = g.distribution.total_supply.parse().unwrap();
    g.distribution.total_supply = (total + amount).to_string();
    g.bridge.locked = g.distribution.total_supply.clone();
}
