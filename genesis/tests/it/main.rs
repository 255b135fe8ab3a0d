//! Integration tests of comrade-genesis: the builder, validation of bad
//! files, JSON round trips, the CLI and (when installed) CometBFT itself.

// Test helpers outside `#[test]` functions unwrap too.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use base64::Engine as _;
use comrade_app::genesis::{GenesisError, GenesisValidator, crowdfunding_share, module_accounts};
use comrade_genesis::builder::{self, BuildError, Contributor, InitOptions, Source};
use comrade_genesis::cli::{self, GenesisCommand};
use comrade_genesis::file::{GenesisFile, GenesisFileError};
use comrade_primitives::{Address, Amount, parse_amount};
use proptest::prelude::*;

const TIME: &str = "2026-12-01T00:00:00Z";

fn addr(i: u8) -> Address {
    Address([i; 20])
}

fn ed25519_pub(seed: u8) -> String {
    let sk = ed25519_consensus::SigningKey::from([seed; 32]);
    base64::engine::general_purpose::STANDARD.encode(sk.verification_key().to_bytes())
}

fn validator(name: &str, seed: u8) -> GenesisValidator {
    GenesisValidator {
        name: name.to_string(),
        pub_key: ed25519_pub(seed),
        power: 10,
        operator: addr(200u8.wrapping_add(seed)).to_string(),
    }
}

/// `builder::add_validator` after funding the operator with its
/// self-stake, which InitChain bonds: the tests' supplies are small, so one
/// unit of power is one base unit here; the stake comes from the treasury
/// when it can pay, else it is minted.
fn add_validator(g: &GenesisFile, v: GenesisValidator) -> Result<GenesisFile, builder::BuildError> {
    let mut g = g.clone();
    g.app_state.staking.power_reduction = 1;
    g.app_state.staking.min_self_stake = 1;
    if let (Ok(op), Ok(stake)) = (v.operator.parse::<Address>(), u128::try_from(v.power))
        && stake > 0
        && balance(&g, op) == 0
    {
        g = match builder::add_account_from(&g, op, stake, builder::Source::Treasury) {
            Ok(g) => g,
            Err(_) => builder::add_account(&g, op, stake)?.0,
        };
    }
    builder::add_validator(&g, v)
}

fn opts() -> InitOptions {
    InitOptions {
        contributors: vec![
            Contributor {
                address: addr(1),
                weight: 1,
            },
            Contributor {
                address: addr(2),
                weight: 2,
            },
            Contributor {
                address: addr(3),
                weight: 4,
            },
        ],
        reserve: Some(addr(100)),
        ..InitOptions::default()
    }
}

/// A valid genesis: default distribution plus one validator.
fn valid() -> GenesisFile {
    let g = builder::init("comrade-test", TIME, &opts()).unwrap();
    add_validator(&g, validator("v0", 1)).unwrap()
}

/// The sum of the file's balances.
fn supply(g: &GenesisFile) -> Amount {
    g.app_state
        .bank
        .balances
        .iter()
        .map(|b| parse_amount(&b.amount).unwrap())
        .sum()
}

fn balance(g: &GenesisFile, a: Address) -> Amount {
    g.app_state
        .bank
        .balances
        .iter()
        .find(|b| b.address == a.to_string())
        .map(|b| parse_amount(&b.amount).unwrap())
        .unwrap_or(0)
}

fn app_err(g: &GenesisFile) -> GenesisError {
    match g.validate() {
        Err(GenesisFileError::App(e)) => e,
        other => panic!("expected an app_state error, got {other:?}"),
    }
}

mod builder_output {
    use super::*;

    #[test]
    fn default_distribution_encodes_the_whitepaper() {
        // The distribution itself, before a validator's self-stake moves.
        let g = builder::init("comrade-test", TIME, &opts()).unwrap();
        assert!(
            builder::validate_allowing_no_validators(&g)
                .unwrap()
                .is_none()
        );
        let total: Amount = 1_000_000_000 * 1_000_000;
        assert_eq!(supply(&g), total);
        assert_eq!(g.app_state.params.denom, "ucomrade");
        assert_eq!(g.app_state.params.decimals, 6);
        let d = &g.app_state.distribution;
        assert_eq!(d.crowdfunding_bps, 700);
        let crowd: Amount = d
            .crowdfunding
            .iter()
            .map(|c| parse_amount(&c.amount).unwrap())
            .sum();
        assert_eq!(crowd, crowdfunding_share(total, 700));
        assert_eq!(crowd, total / 100 * 7);
        // 1:2:4 of 70_000_000_000_000 = 10, 20, 40 million COMRADE
        assert_eq!(balance(&g, addr(1)), 10_000_000_000_000);
        assert_eq!(balance(&g, addr(2)), 20_000_000_000_000);
        assert_eq!(balance(&g, addr(3)), 40_000_000_000_000);
        let treasury = Address::module(module_accounts::TREASURY);
        let pool = Address::module(module_accounts::FREE_ACCESS_POOL);
        assert_eq!(balance(&g, treasury), total / 10);
        assert_eq!(balance(&g, pool), total / 100 * 3);
        assert_eq!(balance(&g, addr(100)), total / 10 * 8);
        assert_eq!(d.treasury, (total / 10).to_string());
        assert_eq!(d.free_access_pool, (total / 100 * 3).to_string());
        // CometBFT part
        assert_eq!(g.initial_height, 1);
        assert_eq!(g.consensus_params.abci.vote_extensions_enable_height, 1);
        assert!(g.validators.is_empty());
        assert_eq!(g.app_hash, "");
        assert_eq!(g.genesis_time, TIME);
    }

    #[test]
    fn rounding_remainders_go_to_the_reserve_or_treasury() {
        let o = InitOptions {
            total_supply: 1_000_003,
            decimals: 0,
            reserve: None,
            ..opts()
        };
        let g = builder::init("c", TIME, &o).unwrap();
        assert!(
            builder::validate_allowing_no_validators(&g)
                .unwrap()
                .is_none()
        );
        assert_eq!(supply(&g), 1_000_003);
        // 7% = 70000 (floor of 70000.21), split 1:2:4 = 10000, 20000, 40000
        assert_eq!(balance(&g, addr(3)), 40_000);
        // treasury: 10% (100000) + rest (1000003 - 70000 - 100000 - 30000)
        let treasury = Address::module(module_accounts::TREASURY);
        assert_eq!(balance(&g, treasury), 100_000 + 800_003);
        assert_eq!(g.app_state.distribution.treasury, "900003");
    }

    #[test]
    fn init_without_validators_is_valid_but_for_the_validator_set() {
        let g = builder::init("comrade-test", TIME, &opts()).unwrap();
        assert_eq!(app_err(&g), GenesisError::EmptyValidatorSet);
        assert!(
            builder::validate_allowing_no_validators(&g)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn init_rejects_bad_options() {
        let no_contrib = InitOptions::default();
        assert!(matches!(
            builder::init("c", TIME, &no_contrib),
            Err(BuildError::NoContributors { bps: 700, .. })
        ));
        let zero_crowd = InitOptions {
            crowdfunding_bps: 0,
            ..InitOptions::default()
        };
        let g = builder::init("c", TIME, &zero_crowd).unwrap();
        assert!(g.app_state.distribution.crowdfunding.is_empty());

        let too_much = InitOptions {
            treasury_bps: 9_500,
            ..opts()
        };
        assert!(matches!(
            builder::init("c", TIME, &too_much),
            Err(BuildError::SharesExceedTotal { .. })
        ));
        let mut dup = opts();
        dup.contributors.push(Contributor {
            address: addr(2),
            weight: 9,
        });
        assert!(matches!(
            builder::init("c", TIME, &dup),
            Err(BuildError::DuplicateContributor(a)) if a == addr(2)
        ));
        let bad_denom = InitOptions {
            denom: "Bad-Denom".into(),
            ..opts()
        };
        assert!(matches!(
            builder::init("c", TIME, &bad_denom),
            Err(BuildError::Invalid(GenesisFileError::App(
                GenesisError::BadParams(_)
            )))
        ));
        assert!(matches!(
            builder::init("", TIME, &opts()),
            Err(BuildError::Invalid(GenesisFileError::BadChainId(_)))
        ));
        assert!(matches!(
            builder::init("c", "yesterday", &opts()),
            Err(BuildError::Invalid(GenesisFileError::BadGenesisTime(_)))
        ));
    }

    #[test]
    fn weights_equal_to_the_share_are_exact_amounts() {
        let o = InitOptions {
            total_supply: 1_000_000,
            decimals: 0,
            contributors: vec![
                Contributor {
                    address: addr(1),
                    weight: 69_999,
                },
                Contributor {
                    address: addr(2),
                    weight: 1,
                },
            ],
            ..opts()
        };
        let g = builder::init("c", TIME, &o).unwrap();
        assert_eq!(balance(&g, addr(1)), 69_999);
        assert_eq!(balance(&g, addr(2)), 1);
    }

    #[test]
    fn add_account_mints_and_keeps_crowdfunding_exact() {
        let g = valid();
        let before = g.validate().unwrap().total_supply;
        let (g2, o) = builder::add_account(&g, addr(50), 123_456_789).unwrap();
        let v = g2.validate().unwrap();
        assert_eq!(balance(&g2, addr(50)), 123_456_789);
        assert_eq!(v.total_supply, before + 123_456_789 + o.crowdfunding_top_up);
        assert_eq!(o.total_supply, v.total_supply);
        // 7/93 of the minted amount, rounded down
        assert_eq!(o.crowdfunding_top_up, 123_456_789 * 7 / 93);
        assert!(matches!(
            builder::add_account(&g2, addr(50), 1),
            Err(BuildError::AccountExists(a)) if a == addr(50)
        ));
        assert!(matches!(
            builder::add_account(&g2, addr(1), 1),
            Err(BuildError::AccountExists(_))
        ));
        assert!(matches!(
            builder::add_account(&g2, addr(51), u128::MAX),
            Err(BuildError::SupplyOverflow)
        ));
    }

    #[test]
    fn add_account_from_moves_funds() {
        let g = valid();
        let total = g.validate().unwrap().total_supply;
        let treasury = Address::module(module_accounts::TREASURY);
        let t0 = balance(&g, treasury);
        let g2 = builder::add_account_from(&g, addr(60), 1_000, Source::Treasury).unwrap();
        assert_eq!(g2.validate().unwrap().total_supply, total);
        assert_eq!(balance(&g2, treasury), t0 - 1_000);
        assert_eq!(g2.app_state.distribution.treasury, (t0 - 1_000).to_string());
        let g3 = builder::add_account_from(&g2, addr(61), 5, Source::Account(addr(100))).unwrap();
        g3.validate().unwrap();
        // a contributor cannot go below their allocation
        let err = builder::add_account_from(&g3, addr(62), 1, Source::Account(addr(1)));
        assert!(matches!(
            err,
            Err(BuildError::Invalid(GenesisFileError::App(
                GenesisError::AllocationNotFunded { .. }
            )))
        ));
        assert!(matches!(
            builder::add_account_from(&g3, addr(63), u128::MAX, Source::FreeAccessPool),
            Err(BuildError::InsufficientFunds { .. })
        ));
    }

    #[test]
    fn add_validator_checks_the_entry() {
        let g = valid();
        let g2 = add_validator(&g, validator("v1", 2)).unwrap();
        assert_eq!(g2.validate().unwrap().validators.len(), 2);
        for bad in [
            validator("v0", 3), // duplicate name
            validator("v9", 1), // duplicate key
            GenesisValidator {
                power: 0,
                ..validator("v9", 3)
            },
            GenesisValidator {
                pub_key: "AAAA".into(),
                ..validator("v9", 3)
            },
        ] {
            assert!(matches!(
                add_validator(&g2, bad),
                Err(BuildError::Invalid(GenesisFileError::App(
                    GenesisError::BadValidator { .. }
                )))
            ));
        }
        let bad_op = GenesisValidator {
            operator: "cosmos1xyz".into(),
            ..validator("v9", 3)
        };
        assert!(matches!(
            add_validator(&g2, bad_op),
            Err(BuildError::Invalid(GenesisFileError::App(
                GenesisError::BadAddress { .. }
            )))
        ));
    }
}

/// Each rejection the issue names yields its own error.
mod rejections {
    use super::*;

    #[test]
    fn duplicate_accounts() {
        let mut g = valid();
        let first = g.app_state.bank.balances[0].clone();
        g.app_state.bank.balances.push(first.clone());
        assert_eq!(app_err(&g), GenesisError::DuplicateAccount(first.address));
    }

    #[test]
    fn bad_addresses() {
        let mut g = valid();
        g.app_state.bank.balances[0].address = "comrade1notanaddress".into();
        assert!(matches!(app_err(&g), GenesisError::BadAddress { .. }));
        let mut g = valid();
        g.app_state.distribution.crowdfunding[0].address =
            "cosmos19rl4cm2hmr8afy4kldpxz3fka4jguq0auqdal4".into();
        assert!(matches!(app_err(&g), GenesisError::BadAddress { .. }));
    }

    #[test]
    fn supply_overflow() {
        let mut g = valid();
        g.app_state.bank.balances[0].amount = u128::MAX.to_string();
        assert_eq!(app_err(&g), GenesisError::SupplyOverflow);
    }

    #[test]
    fn allocations_that_do_not_add_up() {
        // balances vs declared total
        let mut g = valid();
        g.app_state.distribution.total_supply = "1".into();
        assert!(matches!(
            app_err(&g),
            GenesisError::SupplyMismatch { declared: 1, .. }
        ));
        // the vault amount locked at launch vs the supply
        let mut g = valid();
        g.app_state.bridge.locked = "1".into();
        assert!(matches!(
            app_err(&g),
            GenesisError::LockedMismatch { locked: 1, .. }
        ));
        // crowdfunding allocations vs 7%
        let mut g = valid();
        g.app_state.distribution.crowdfunding.pop();
        assert!(matches!(
            app_err(&g),
            GenesisError::CrowdfundingMismatch { bps: 700, .. }
        ));
        // treasury figure vs treasury balance
        let mut g = valid();
        g.app_state.distribution.treasury = "0".into();
        assert!(matches!(
            app_err(&g),
            GenesisError::AllocationNotFunded { .. }
        ));
    }

    #[test]
    fn unknown_denom() {
        let mut g = valid();
        g.app_state.bank.balances[1].denom = "uatom".into();
        assert!(matches!(
            app_err(&g),
            GenesisError::UnknownDenom { ref denom, ref expected, .. }
                if denom == "uatom" && expected == "ucomrade"
        ));
    }

    #[test]
    fn empty_validator_set() {
        let mut g = valid();
        g.app_state.validators.clear();
        assert_eq!(app_err(&g), GenesisError::EmptyValidatorSet);
    }

    #[test]
    fn cometbft_level_problems() {
        let mut g = valid();
        g.chain_id = "x".repeat(51);
        assert!(matches!(g.validate(), Err(GenesisFileError::BadChainId(_))));
        let mut g = valid();
        g.consensus_params.abci.vote_extensions_enable_height = 0;
        assert!(matches!(
            g.validate(),
            Err(GenesisFileError::VoteExtensionsDisabled(0))
        ));
        let mut g = valid();
        g.initial_height = 5;
        assert!(matches!(
            g.validate(),
            Err(GenesisFileError::BadInitialHeight(5))
        ));
        let mut g = valid();
        g.consensus_params.block.max_bytes = 1000;
        assert!(matches!(
            g.validate(),
            Err(GenesisFileError::BadConsensusParams(_))
        ));
        let mut g = valid();
        g.validators.push(serde_json::from_value(serde_json::json!({
            "address": "", "pub_key": {"type": "tendermint/PubKeyEd25519", "value": ed25519_pub(1)},
            "power": "10", "name": "x"
        })).unwrap());
        assert!(matches!(
            g.validate(),
            Err(GenesisFileError::CometValidatorsNotEmpty(1))
        ));
    }

    #[test]
    fn every_message_is_one_line() {
        let mut g = valid();
        g.consensus_params.abci.vote_extensions_enable_height = 0;
        let msg = g.validate().unwrap_err().to_string();
        assert!(!msg.contains('\n'), "{msg}");
    }
}

mod json {
    use super::*;

    #[test]
    fn round_trip_through_text_and_disk() {
        let g = valid();
        let text = g.to_json_pretty();
        let back = GenesisFile::from_json(text.as_bytes(), Path::new("mem")).unwrap();
        assert_eq!(back, g);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config/genesis.json");
        g.save(&path).unwrap();
        assert_eq!(GenesisFile::load(&path).unwrap(), g);
        // overwrite atomically, no temp files left
        g.save(&path).unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path().join("config"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["genesis.json"]);
    }

    #[test]
    fn uses_cometbft_encodings() {
        let v: serde_json::Value = serde_json::to_value(valid()).unwrap();
        assert_eq!(v["initial_height"], "1");
        assert_eq!(
            v["consensus_params"]["abci"]["vote_extensions_enable_height"],
            "1"
        );
        assert_eq!(v["consensus_params"]["block"]["max_bytes"], "4194304");
        assert_eq!(v["validators"], serde_json::json!([]));
        assert_eq!(v["app_hash"], "");
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        for k in [
            "genesis_time",
            "chain_id",
            "initial_height",
            "consensus_params",
            "validators",
            "app_hash",
            "app_state",
        ] {
            assert!(keys.contains(&k.to_string()), "{k}");
        }
    }

    #[test]
    fn unknown_fields_and_garbage_are_rejected_with_the_path() {
        let mut v = serde_json::to_value(valid()).unwrap();
        v["chain-id"] = "typo".into();
        let err = GenesisFile::from_json(v.to_string().as_bytes(), Path::new("g.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("g.json") && err.contains("chain-id"), "{err}");
        assert!(GenesisFile::from_json(b"{", Path::new("g.json")).is_err());
    }

    proptest! {
        #[test]
        fn round_trip_of_random_builds(
            total in 0u128..u128::MAX / 2,
            weights in proptest::collection::vec(1u128..1_000_000_000_000, 1..20),
            bps in (0u32..=3_000, 0u32..=3_000, 0u32..=3_000),
        ) {
            let o = InitOptions {
                total_supply: total,
                decimals: 0,
                crowdfunding_bps: bps.0,
                treasury_bps: bps.1,
                free_access_pool_bps: bps.2,
                contributors: weights.iter().enumerate().map(|(i, w)| Contributor {
                    address: addr(u8::try_from(i).unwrap() + 1),
                    weight: *w,
                }).collect(),
                reserve: Some(addr(99)),
                ..InitOptions::default()
            };
            let g = builder::init("comrade-prop", TIME, &o).unwrap();
            prop_assert_eq!(supply(&g), total);
            // The distribution as built, before a validator's stake may be
            // minted into it.
            let crowd = g.app_state.distribution.crowdfunding.iter()
                .map(|c| parse_amount(&c.amount).unwrap())
                .fold(0u128, |s, x| s.checked_add(x).unwrap());
            prop_assert_eq!(crowd, crowdfunding_share(total, bps.0));
            // (a supply too small to pay the validator's stake from the
            // treasury gets it minted: the file's supply is then larger,
            // and the mint is shared out like the rest)
            let g = add_validator(&g, validator("v", 7)).unwrap();
            let v = g.validate().unwrap();
            prop_assert_eq!(v.total_supply, supply(&g));
            let back = GenesisFile::from_json(g.to_json_pretty().as_bytes(), Path::new("m")).unwrap();
            prop_assert_eq!(back, g);
        }

        #[test]
        fn minting_keeps_the_file_valid(
            total in 1_000u128..1_000_000_000_000_000_000,
            extra in 0u128..1_000_000_000_000_000,
            bps in 1u32..9_000,
        ) {
            let o = InitOptions {
                total_supply: total,
                decimals: 0,
                crowdfunding_bps: bps,
                treasury_bps: 0,
                free_access_pool_bps: 0,
                ..opts()
            };
            let g = builder::init("c", TIME, &o).unwrap();
            let g = add_validator(&g, validator("v", 7)).unwrap();
            let (g2, out) = builder::add_account(&g, addr(77), extra).unwrap();
            let v = g2.validate().unwrap();
            prop_assert_eq!(v.total_supply, out.total_supply);
        }
    }
}

mod command_line {
    use super::*;
    use clap::Parser as _;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: GenesisCommand,
    }

    fn run(home: &Path, args: &[&str]) -> anyhow::Result<()> {
        let mut argv = vec!["genesis"];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv)?;
        cli::run(cli.cmd, home)
    }

    fn write_contributors(dir: &Path) -> PathBuf {
        let p = dir.join("contributors.csv");
        let text = format!(
            "# test contributors\naddress,weight\n{},1\n{},3\n",
            addr(1),
            addr(2)
        );
        std::fs::write(&p, text).unwrap();
        p
    }

    /// The `comrade` binary's global flags, which must not clash with ours.
    #[derive(clap::Parser)]
    struct WithGlobals {
        #[arg(long, global = true, default_value = ".")]
        home: PathBuf,
        #[arg(long, global = true, default_value = "http://127.0.0.1:26657")]
        node: String,
        #[arg(long, global = true)]
        chain_id: Option<String>,
        #[arg(long, global = true, default_value = "text")]
        output: String,
        #[command(subcommand)]
        cmd: GenesisCommand,
    }

    #[test]
    fn embeds_under_the_binarys_global_flags() {
        use clap::CommandFactory as _;
        use clap::Parser as _;
        WithGlobals::command().debug_assert();
        let w = WithGlobals::try_parse_from(["comrade", "init", "--chain-id", "c-1"]).unwrap();
        let GenesisCommand::Init(args) = w.cmd else {
            panic!("not init")
        };
        assert_eq!(args.chain_id, "c-1");
        // validate has no --chain-id of its own: the global one is accepted and ignored
        let w = WithGlobals::try_parse_from(["comrade", "validate", "--output", "json"]).unwrap();
        assert!(matches!(w.cmd, GenesisCommand::Validate(_)));
    }

    #[test]
    fn help_is_documented() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
        let mut cmd = Cli::command();
        let help = cmd
            .find_subcommand_mut("init")
            .unwrap()
            .render_long_help()
            .to_string();
        assert!(
            help.contains("--contributors") && help.contains("7%"),
            "{help}"
        );
        // `PRINT_HELP=1 cargo test -p comrade-genesis help -- --nocapture`
        if std::env::var_os("PRINT_HELP").is_some() {
            for s in ["init", "add-account", "add-validator", "validate", "show"] {
                let h = cmd.find_subcommand_mut(s).unwrap().render_long_help();
                eprintln!("=== {s}\n{h}");
            }
        }
    }

    #[test]
    fn init_add_validate_show() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path();
        let contributors = write_contributors(h);
        let c = contributors.to_str().unwrap();
        // the crowdfunding share needs contributors
        let err = run(h, &["init", "--chain-id", "comrade-t"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("no contributors"), "{err}");
        run(
            h,
            &[
                "init",
                "--chain-id",
                "comrade-t",
                "--contributors",
                c,
                "--genesis-time",
                TIME,
            ],
        )
        .unwrap();
        let path = h.join("config/genesis.json");
        assert!(path.is_file());
        // no silent overwrite
        let err = run(h, &["init", "--chain-id", "x", "--contributors", c]).unwrap_err();
        assert!(err.to_string().contains("--force"), "{err}");
        run(
            h,
            &[
                "init",
                "--chain-id",
                "comrade-t",
                "--contributors",
                c,
                "--force",
            ],
        )
        .unwrap();

        let err = run(h, &["validate"]).unwrap_err().to_string();
        assert!(
            err.contains("is invalid") && err.contains("validator set is empty"),
            "{err}"
        );

        // a priv_validator_key.json as cometbft writes it
        let key_file = h.join("priv_validator_key.json");
        let key = serde_json::json!({
            "address": "",
            "pub_key": {"type": "tendermint/PubKeyEd25519", "value": ed25519_pub(9)},
            "priv_key": {"type": "tendermint/PrivKeyEd25519", "value": ""}
        });
        std::fs::write(&key_file, key.to_string()).unwrap();
        // Each validator's operator holds its self-stake (power × 10^6).
        let op = addr(200).to_string();
        let op1 = addr(201).to_string();
        run(h, &["add-account", &op, "10000000", "--from", "treasury"]).unwrap();
        run(h, &["add-account", &op1, "5000000", "--from", "treasury"]).unwrap();
        run(
            h,
            &[
                "add-validator",
                "--name",
                "v0",
                "--pub-key",
                key_file.to_str().unwrap(),
                "--operator",
                &op,
            ],
        )
        .unwrap();
        let b64 = ed25519_pub(10);
        run(
            h,
            &[
                "add-validator",
                "--name",
                "v1",
                "--pub-key",
                &b64,
                "--power",
                "5",
                "--operator",
                &op1,
            ],
        )
        .unwrap();
        assert!(
            run(
                h,
                &[
                    "add-validator",
                    "--name",
                    "v2",
                    "--pub-key",
                    "nope",
                    "--operator",
                    &op
                ]
            )
            .is_err()
        );
        run(h, &["validate"]).unwrap();

        let a = addr(42).to_string();
        run(h, &["add-account", &a, "1000000"]).unwrap();
        assert!(run(h, &["add-account", &a, "1"]).is_err());
        let b = addr(43).to_string();
        run(h, &["add-account", &b, "500", "--from", "treasury"]).unwrap();
        run(
            h,
            &[
                "add-account",
                &addr(44).to_string(),
                "500",
                "--from",
                "free-access-pool",
            ],
        )
        .unwrap();
        assert!(run(h, &["add-account", "comrade1bad", "1"]).is_err());
        assert!(run(h, &["add-account", &addr(45).to_string(), "-1"]).is_err());
        run(h, &["validate"]).unwrap();
        run(h, &["show", "--summary"]).unwrap();
        run(h, &["show", "--summary", "--format", "json"]).unwrap();
        run(h, &["show"]).unwrap();

        let g = GenesisFile::load(&path).unwrap();
        let v = g.validate().unwrap();
        assert_eq!(v.validators.len(), 2);
        assert_eq!(g.chain_id, "comrade-t");
        assert_eq!(balance(&g, addr(42)), 1_000_000);
        assert_eq!(balance(&g, addr(43)), 500);

        // --genesis overrides the location
        let other = h.join("elsewhere.json");
        run(
            h,
            &[
                "init",
                "--chain-id",
                "c2",
                "--crowdfunding-bps",
                "0",
                "--denom",
                "uabc",
                "--decimals",
                "9",
                "--total-supply",
                "21000000",
                "--genesis",
                other.to_str().unwrap(),
            ],
        )
        .unwrap();
        let g2 = GenesisFile::load(&other).unwrap();
        assert_eq!(g2.app_state.distribution.total_supply, "21000000000000000");
        assert_eq!(g2.app_state.params.denom, "uabc");
        // the default genesis time is now-ish and parses
        assert!(tendermint::Time::parse_from_rfc3339(&g2.genesis_time).is_ok());
        // init locks the whole supply in the (development) bridge section
        assert_eq!(g2.app_state.bridge.locked, "21000000000000000");

        // set-bridge replaces the guardian set, lockbox and mint, keeps locked
        let set = h.join("set.json");
        std::fs::write(
            &set,
            r#"{"index": 4, "keys": ["0x58CC3AE5C097b213cE3c81979e1B9f9570746AA5", "0xfF6CB952589BDE862c25Ef4392132fb9D4A42157"]}"#,
        )
        .unwrap();
        let mint = "So11111111111111111111111111111111111111112";
        let args = |emitter: &str| {
            vec![
                "set-bridge".to_string(),
                "--guardian-set".into(),
                set.to_str().unwrap().into(),
                "--lockbox-emitter".into(),
                emitter.into(),
                "--mint".into(),
                mint.into(),
                "--genesis".into(),
                other.to_str().unwrap().into(),
            ]
        };
        let emitter = format!("0x{}", "ab".repeat(32));
        let a = args(&emitter);
        run(h, &a.iter().map(String::as_str).collect::<Vec<_>>()).unwrap();
        let g3 = GenesisFile::load(&other).unwrap();
        let v = g3.validate().unwrap_err().to_string();
        assert!(
            v.contains("validator"),
            "only the validators are missing: {v}"
        );
        assert_eq!(g3.app_state.bridge.guardian_set.index, 4);
        assert_eq!(g3.app_state.bridge.mint, mint);
        assert_eq!(g3.app_state.bridge.lockbox_emitter, emitter);
        assert_eq!(g3.app_state.bridge.locked, "21000000000000000");
        // a 31-byte emitter is refused and the file is left as it was
        let bad = args(&format!("0x{}", "ab".repeat(31)));
        let err = run(h, &bad.iter().map(String::as_str).collect::<Vec<_>>())
            .unwrap_err()
            .to_string();
        assert!(err.contains("lockbox_emitter"), "{err}");
        assert_eq!(GenesisFile::load(&other).unwrap(), g3);
    }

    #[test]
    fn validate_reports_one_line_for_broken_files() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path();
        let err = run(h, &["validate"]).unwrap_err().to_string();
        assert!(err.contains("no genesis file"), "{err}");
        std::fs::create_dir_all(h.join("config")).unwrap();
        std::fs::write(h.join("config/genesis.json"), "{\"chain_id\": 5}").unwrap();
        let err = run(h, &["validate"]).unwrap_err();
        assert_eq!(err.chain().count(), 1);
        assert!(!err.to_string().contains('\n'));
        let mut g = valid();
        g.app_state.bank.balances[0].denom = "uatom".into();
        g.save(&h.join("config/genesis.json")).unwrap();
        let err = run(h, &["validate"]).unwrap_err().to_string();
        assert!(err.contains("unknown denom \"uatom\""), "{err}");
    }
}

/// The app's `InitChain` accepts what the builder writes, and returns the
/// validator set from `app_state` (CometBFT's own list being empty).
mod init_chain {
    use super::*;
    use tendermint_proto::v0_38::abci::RequestInitChain;
    use tendermint_proto::v0_38::types::{AbciParams, ConsensusParams};

    fn request(g: &GenesisFile) -> RequestInitChain {
        RequestInitChain {
            chain_id: g.chain_id.clone(),
            initial_height: g.initial_height,
            consensus_params: Some(ConsensusParams {
                abci: Some(AbciParams {
                    vote_extensions_enable_height: g
                        .consensus_params
                        .abci
                        .vote_extensions_enable_height,
                }),
                ..Default::default()
            }),
            app_state_bytes: serde_json::to_vec(&g.app_state).unwrap().into(),
            ..Default::default()
        }
    }

    #[test]
    fn app_accepts_the_builders_file() {
        let dir = tempfile::tempdir().unwrap();
        let g = add_validator(&valid(), validator("v1", 2)).unwrap();
        let (g, _) = builder::add_account(&g, addr(70), 1_000).unwrap();
        // through the file format, as CometBFT would read it
        let g = GenesisFile::from_json(g.to_json_pretty().as_bytes(), Path::new("m")).unwrap();
        let app = comrade_app::App::open(&dir.path().join("db")).unwrap();
        let resp = app.init_chain(request(&g)).unwrap();
        assert_eq!(resp.validators.len(), 2);
        assert!(!resp.app_hash.is_empty());
    }

    #[test]
    fn app_rejects_what_validate_rejects() {
        let dir = tempfile::tempdir().unwrap();
        let mut g = valid();
        g.app_state.validators.clear();
        assert!(g.validate().is_err());
        let app = comrade_app::App::open(&dir.path().join("db")).unwrap();
        assert!(app.init_chain(request(&g)).is_err());
    }
}

/// Checks our file with CometBFT itself when it is installed: `cometbft
/// inspect` parses and validates the genesis document (`GenesisDocFromFile`
/// → `ValidateAndComplete`) before serving, and exits at once if it is bad.
mod cometbft {
    use super::*;
    use std::process::{Command, Stdio};

    fn cometbft() -> Option<PathBuf> {
        let p = std::env::var_os("COMETBFT_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/root/.cache/comrade/bin/cometbft"));
        p.is_file().then_some(p)
    }

    /// `Ok(())` if inspect is still running after a moment, else its output.
    fn inspect(bin: &Path, home: &Path) -> Result<(), String> {
        let mut child = Command::new(bin)
            .args(["inspect", "--home"])
            .arg(home)
            .args(["--rpc.laddr", "tcp://127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        for _ in 0..30 {
            std::thread::sleep(std::time::Duration::from_millis(100));
            if child.try_wait().unwrap().is_some() {
                let out = child.wait_with_output().unwrap();
                return Err(format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        Ok(())
    }

    #[test]
    fn cometbft_accepts_our_genesis() {
        let Some(bin) = cometbft() else {
            eprintln!("skipping: cometbft not installed (set COMETBFT_BIN)");
            return;
        };
        let home = tempfile::tempdir().unwrap();
        let h = home.path();
        let status = Command::new(&bin)
            .args(["init", "--home"])
            .arg(h)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        let key = h.join("config/priv_validator_key.json");
        let g = builder::init("comrade-e2e", TIME, &opts()).unwrap();
        let g = add_validator(
            &g,
            GenesisValidator {
                pub_key: cli::resolve_pub_key(key.to_str().unwrap()).unwrap(),
                ..validator("node0", 0)
            },
        )
        .unwrap();
        g.validate().unwrap();
        let path = h.join("config/genesis.json");
        g.save(&path).unwrap();
        inspect(&bin, h).unwrap_or_else(|out| panic!("cometbft rejected our genesis:\n{out}"));

        // control: cometbft does reject a broken file
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            &path,
            text.replace("\"max_gas\": \"-1\"", "\"max_gas\": \"-2\""),
        )
        .unwrap();
        let out = inspect(&bin, h).expect_err("cometbft accepted max_gas -2");
        assert!(
            out.contains("genesis") || out.contains("GenesisDoc"),
            "{out}"
        );
    }
}
