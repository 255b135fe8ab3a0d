//! Every module of the state machine, in one place. Adding a module is one
//! line in each list below (plus its genesis section in
//! [`crate::genesis`]); see `docs/architecture.md`.

use crate::registry::{actions, codes, components, queries};

// The action registry: type URL → message, one line per message type.
actions! {
    Send => comrade_bank::bank::MsgSend,
}

// The components in hook order (`init_chain`, `begin_block`, `end_block`),
// each with the name of its genesis section.
components! {
    auth => comrade_bank::auth::Auth,
    bank => comrade_bank::bank::Bank,
    validators => crate::validators::Validators,
    fees => crate::fees::Fees,
}

// The query services, tried in order for a path's service name.
queries! {
    comrade_bank::auth::query::AuthQuery,
    comrade_bank::bank::query::BankQuery,
    crate::query::ParamsQuery,
    crate::validators::query::ValidatorsQuery,
}

// Every module's error codes.
codes! {
    comrade_bank::bank::BankError,
    crate::fees::FeeError,
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
        assert_eq!(COMPONENTS, ["auth", "bank", "validators", "fees"]);
    }

    /// Every code is in its module's range, module ranges do not overlap,
    /// codes are unique across the chain (a code shared by two modules of
    /// the envelope range must mean the same thing), and every published
    /// code keeps its value.
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
        // Pinned: changing any published value fails here.
        let pinned: &[(&str, u32)] = &[
            ("tx_too_large", 1),
            ("tx_malformed", 2),
            ("invalid_message", 3),
            ("unknown_message_type", 4),
            ("invalid_signer", 5),
            ("signature_invalid", 6),
            ("account_not_found", 7),
            ("wrong_sequence", 8),
            ("fee_too_low", 9),
            ("unknown_denom", 10),
            ("insufficient_funds", 11),
            ("amount_overflow", 12),
            ("invalid_address", 13),
            ("memo_too_long", 14),
            ("tx_timed_out", 15),
            ("injected_tx_invalid", 16),
            ("invalid_fee", 17),
            ("query.unknown_path", 50),
            ("query.bad_request", 51),
            ("query.height_unavailable", 52),
            ("query.not_found", 53),
            ("internal", 99),
        ];
        for (name, value) in pinned {
            let found = by_value
                .get(value)
                .is_some_and(|names| names.iter().any(|n| n == name));
            assert!(found, "{name} is no longer code {value}");
        }
        for (value, names) in &by_value {
            for n in names {
                let kind = suffix(n);
                let pinned_value = pinned
                    .iter()
                    .find(|(p, _)| suffix(p) == kind || p == n)
                    .map(|(_, v)| *v);
                assert!(
                    pinned_value.is_none_or(|p| p == *value),
                    "{n} = {value} but {kind} is pinned at {pinned_value:?}"
                );
            }
        }
    }
}
