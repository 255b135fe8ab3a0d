//! Every module of the state machine, in one place. Adding a module is one
//! line in each list below (plus its genesis section in
//! [`crate::genesis`]); see `docs/architecture.md`.

use crate::registry::{actions, codes, components, queries};

// The action registry: type URL → message, one line per message type.
actions! {
    Send => comrade_bank::bank::MsgSend,
    CreateValidator => comrade_consensus::staking::MsgCreateValidator,
    Bond => comrade_consensus::staking::MsgBond,
    Unbond => comrade_consensus::staking::MsgUnbond,
    Unjail => comrade_consensus::staking::MsgUnjail,
    RegisterComputeNode => comrade_consensus::compute::MsgRegisterComputeNode,
    UpdateComputeNode => comrade_consensus::compute::MsgUpdateComputeNode,
    UnbondComputeNode => comrade_consensus::compute::MsgUnbondComputeNode,
    RevealKey => comrade_consensus::compute::MsgRevealKey,
    CommitCapacity => comrade_consensus::compute::MsgCommitCapacity,
    RevealCapacity => comrade_consensus::compute::MsgRevealCapacity,
    CommitReceipts => comrade_consensus::compute::MsgCommitReceipts,
    OpenReceipt => comrade_consensus::compute::MsgOpenReceipt,
    SubmitAudit => comrade_consensus::compute::MsgSubmitAudit,
    RedeemDeposit => comrade_bridge::MsgRedeemDeposit,
    SubmitGovernanceVaa => comrade_bridge::MsgSubmitGovernanceVaa,
}

// The components in hook order (`init_chain`, `begin_block`, `end_block`),
// each with the name of its genesis section.
components! {
    auth => comrade_bank::auth::Auth,
    bank => comrade_bank::bank::Bank,
    staking => comrade_consensus::staking::Staking,
    compute => comrade_consensus::compute::Compute,
    fees => crate::fees::Fees,
    // Last: its end-block supply invariant sees every other hook's effects.
    bridge => comrade_bridge::Bridge,
}

// The query services, tried in order for a path's service name.
queries! {
    comrade_bank::auth::query::AuthQuery,
    comrade_bank::auth::cosmos_query::CosmosAuthQuery,
    comrade_bank::bank::query::BankQuery,
    comrade_bank::bank::cosmos_query::CosmosBankQuery,
    crate::query::ParamsQuery,
    crate::validators::query::ValidatorsQuery,
    comrade_consensus::staking::query::StakingQuery,
    comrade_consensus::compute::query::ComputeQuery,
    comrade_bridge::BridgeQuery,
}

// Every module's error codes.
codes! {
    comrade_bank::auth::AuthError,
    comrade_bank::bank::BankError,
    crate::fees::FeeError,
    comrade_consensus::staking::StakingError,
    comrade_consensus::compute::ComputeError,
    comrade_bridge::BridgeError,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_type_urls_are_unique_and_unknown_ones_are_rejected() {
        let mut urls = TYPE_URLS.to_vec();
        urls.sort_unstable();
        urls.dedup();
        assert_eq!(urls.len(), TYPE_URLS.len(), "duplicate type URL");
        let e = Action::decode("/cosmos.gov.v1.MsgVote", &[]).unwrap_err();
        assert_eq!(e.code, comrade_primitives::ResultCode::UnknownMessageType);
        assert!(TYPE_URLS.contains(&"/cosmos.bank.v1beta1.MsgSend"));
    }

    #[test]
    fn hooks_run_in_list_order() {
        assert_eq!(
            COMPONENTS,
            ["auth", "bank", "staking", "compute", "fees", "bridge"]
        );
    }

    /// Every code is in its module's range, module ranges do not overlap, a
    /// value shared by modules of the envelope range means one thing, and it
    /// is the envelope's pinned value.
    #[test]
    fn codes_are_in_range_unique_and_pinned() {
        let mut by_value = std::collections::BTreeMap::<u32, Vec<&str>>::new();
        for (range, codes) in MODULE_CODES {
            for (name, value) in *codes {
                assert!(
                    *value == 0 || range.contains(*value),
                    "{name} = {value} outside {range:?}"
                );
                by_value.entry(*value).or_default().push(name);
            }
        }
        let ranges: Vec<_> = MODULE_CODES.iter().map(|(r, _)| *r).collect();
        for (i, a) in ranges.iter().enumerate() {
            for b in &ranges[i + 1..] {
                assert!(a == b || !a.overlaps(b), "{a:?} overlaps {b:?}");
            }
        }
        // A value used by several envelope-range modules names one condition.
        let suffix = |n: &str| n.rsplit('.').next().unwrap_or(n).to_string();
        for (value, names) in &by_value {
            let mut kinds: Vec<String> = names.iter().map(|n| suffix(n)).collect();
            kinds.sort();
            kinds.dedup();
            let allowed = kinds.len() == 1
                || (*value == 12 && kinds.iter().all(|k| k == "amount_overflow"))
                || (*value == 99 && kinds.iter().all(|k| k == "internal"));
            assert!(allowed, "code {value} means different things: {names:?}");
        }
        // A module code of a kind the envelope also has (e.g.
        // `bank.insufficient_funds`) has the envelope's value, which
        // `comrade_primitives::code`'s tests pin.
        let envelope: std::collections::BTreeMap<String, u32> = comrade_primitives::ResultCode::ALL
            .iter()
            .chain(comrade_primitives::QueryCode::ALL)
            .map(|(n, v)| (suffix(n), *v))
            .collect();
        for (range, codes) in MODULE_CODES {
            if *range != comrade_primitives::code::ENVELOPE_RANGE {
                continue;
            }
            for (name, value) in *codes {
                if let Some(pinned) = envelope.get(&suffix(name)) {
                    assert_eq!(
                        pinned, value,
                        "{name} = {value}, the envelope's is {pinned}"
                    );
                }
            }
        }
    }
}
