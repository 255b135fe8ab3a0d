//! The macros behind [`crate::modules`]: from one list of modules they
//! generate the action registry (type URL → decode, stateless check,
//! prefetch keys, execution), the ordered component hooks with their typed
//! genesis sections, and the query router.

/// Generates [`Action`](crate::modules::Action): one variant per message
/// type, dispatching to its [`ActionHandler`](comrade_primitives::component::ActionHandler).
macro_rules! actions {
    ($($variant:ident => $ty:ty),* $(,)?) => {
        /// A decoded message: one variant per registered action.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Action {
            $(
                #[doc = concat!("`", stringify!($ty), "`.")]
                $variant($ty),
            )*
        }

        /// Every registered type URL, in registry order.
        pub const TYPE_URLS: &[&str] = &[
            $(<$ty as comrade_primitives::component::ActionHandler>::TYPE_URL,)*
        ];

        impl Action {
            /// Decodes an `Any` by its type URL. An unregistered URL is
            /// `UnknownMessageType`.
            pub fn decode(
                type_url: &str,
                value: &[u8],
            ) -> Result<Self, comrade_primitives::TxError> {
                use comrade_primitives::component::ActionHandler as _;
                $(
                    if type_url == <$ty>::TYPE_URL {
                        return <$ty>::decode(value).map(Action::$variant);
                    }
                )*
                Err(comrade_primitives::TxError::new(
                    comrade_primitives::ResultCode::UnknownMessageType,
                    format!("unknown message type {type_url:?}"),
                ))
            }

            /// The message's type URL (the SDK's `message.action`).
            pub fn type_url(&self) -> &'static str {
                use comrade_primitives::component::ActionHandler as _;
                match self {
                    $(Action::$variant(_) => <$ty>::TYPE_URL,)*
                }
            }

            /// The module that owns the message (the SDK's `message.module`).
            pub fn module(&self) -> &'static str {
                use comrade_primitives::component::ActionHandler as _;
                match self {
                    $(Action::$variant(_) => <$ty>::MODULE,)*
                }
            }

            /// The account that must have signed the tx.
            pub fn signer(&self) -> comrade_primitives::Address {
                use comrade_primitives::component::ActionHandler as _;
                match self {
                    $(Action::$variant(m) => m.signer(),)*
                }
            }

            /// Checks that need no state.
            pub fn check_stateless(&self) -> Result<(), comrade_primitives::TxError> {
                use comrade_primitives::component::ActionHandler as _;
                match self {
                    $(Action::$variant(m) => m.check_stateless(),)*
                }
            }

            /// Keys execution will read, for the prefetch.
            pub fn read_keys(&self) -> Vec<String> {
                use comrade_primitives::component::ActionHandler as _;
                match self {
                    $(Action::$variant(m) => m.read_keys(),)*
                }
            }

            /// Checks against state and applies the action.
            pub async fn check_and_execute<S: cnidarium::StateWrite>(
                &self,
                state: &mut S,
                ctx: &comrade_primitives::component::BlockContext,
            ) -> Result<(), comrade_primitives::ExecError> {
                use comrade_primitives::component::ActionHandler as _;
                match self {
                    $(Action::$variant(m) => m.check_and_execute(state, ctx).await,)*
                }
            }
        }
    };
}

/// Generates [`GenesisSections`](crate::modules::GenesisSections) and the
/// hooks that call every component in list order.
macro_rules! components {
    ($($section:ident => $ty:ty),* $(,)?) => {
        /// Every component's typed genesis section.
        #[derive(Debug, Clone)]
        pub struct GenesisSections {
            $(
                #[doc = concat!("`", stringify!($ty), "`'s section.")]
                pub $section: <$ty as comrade_primitives::component::Component>::Genesis,
            )*
        }

        /// Every component's `init_chain`, in list order.
        pub async fn init_chain<S: cnidarium::StateWrite>(
            state: &mut S,
            genesis: &GenesisSections,
        ) -> Result<(), comrade_primitives::ExecError> {
            use comrade_primitives::component::Component as _;
            $(<$ty>::init_chain(state, &genesis.$section).await?;)*
            Ok(())
        }

        /// Every component's `begin_block`, in list order.
        pub async fn begin_block<S: cnidarium::StateWrite>(
            state: &mut S,
            ctx: &comrade_primitives::component::BlockContext,
        ) -> Result<(), comrade_primitives::ExecError> {
            use comrade_primitives::component::Component as _;
            $(<$ty>::begin_block(state, ctx).await?;)*
            Ok(())
        }

        /// Every component's `end_block`, in list order.
        pub async fn end_block<S: cnidarium::StateWrite>(
            state: &mut S,
            ctx: &comrade_primitives::component::BlockContext,
        ) -> Result<(), comrade_primitives::ExecError> {
            use comrade_primitives::component::Component as _;
            $(<$ty>::end_block(state, ctx).await?;)*
            Ok(())
        }

        /// The components in hook order (for docs and tests).
        pub const COMPONENTS: &[&str] = &[$(stringify!($section),)*];
    };
}

/// Generates the query router over every [`QueryService`](comrade_primitives::component::QueryService).
macro_rules! queries {
    ($($ty:ty),* $(,)?) => {
        /// Routes `/<service>/<method>` to the first registered service of
        /// that name that knows the method; `Ok(None)` if none does.
        pub async fn route_query<S: cnidarium::StateRead>(
            state: &S,
            path: &str,
            data: &[u8],
        ) -> Result<Option<comrade_primitives::component::QueryAnswer>, comrade_primitives::ExecError> {
            use comrade_primitives::component::QueryService as _;
            let Some((service, method)) = path.strip_prefix('/').and_then(|p| p.rsplit_once('/')) else {
                return Ok(None);
            };
            $(
                if service == <$ty>::SERVICE {
                    if let Some(answer) = <$ty>::query(state, method, data).await? {
                        return Ok(Some(answer));
                    }
                }
            )*
            Ok(None)
        }
    };
}

/// Generates [`MODULE_CODES`](crate::modules::MODULE_CODES) from every
/// module's [`ModuleError`](comrade_primitives::code::ModuleError).
macro_rules! codes {
    ($($ty:ty),* $(,)?) => {
        /// Every module error type's range and codes (the registry test
        /// checks them; the envelope's own and the query codes come first).
        pub const MODULE_CODES: &[(comrade_primitives::code::CodeRange, &[(&str, u32)])] = &[
            (comrade_primitives::code::ENVELOPE_RANGE, comrade_primitives::ResultCode::ALL),
            (comrade_primitives::code::ENVELOPE_RANGE, comrade_primitives::QueryCode::ALL),
            $((
                <$ty as comrade_primitives::code::ModuleError>::RANGE,
                <$ty as comrade_primitives::code::ModuleError>::CODES,
            ),)*
        ];
    };
}

pub(crate) use {actions, codes, components, queries};

#[cfg(test)]
#[allow(unreachable_pub, missing_docs, clippy::unwrap_used)]
mod tests {
    //! Adding a module takes one line per list: a module as small as it
    //! gets (one message, one end-block hook, one genesis section) joins a
    //! copy of the app's lists and is decoded, initialised and hooked.

    use async_trait::async_trait;
    use cnidarium::{StateDelta, StateWrite, TempStorage};
    use comrade_primitives::{
        Address, ExecError, ResultCode, TxError,
        component::{ActionHandler, BlockContext, Component},
        state::{StateReadProto as _, StateWriteProto as _},
    };

    mod empty {
        use super::*;

        /// `/comrade.empty.v1.MsgPing`: its value is the signer's 20 bytes.
        #[derive(Debug, Clone, PartialEq)]
        pub struct MsgPing(pub Address);

        #[async_trait]
        impl ActionHandler for MsgPing {
            const TYPE_URL: &'static str = "/comrade.empty.v1.MsgPing";
            const MODULE: &'static str = "empty";
            fn decode(value: &[u8]) -> Result<Self, TxError> {
                Address::from_bytes(value)
                    .map(MsgPing)
                    .map_err(|e| TxError::new(ResultCode::InvalidMessage, e.to_string()))
            }
            fn signer(&self) -> Address {
                self.0
            }
            fn check_stateless(&self) -> Result<(), TxError> {
                Ok(())
            }
            async fn check_and_execute<S: StateWrite>(
                &self,
                state: &mut S,
                _ctx: &BlockContext,
            ) -> Result<(), ExecError> {
                let n = state.get_u64("empty/pings").await?.unwrap_or(0);
                state.put_u64("empty/pings".into(), n.saturating_add(1));
                Ok(())
            }
        }

        #[derive(Debug)]
        pub struct Empty;

        #[async_trait]
        impl Component for Empty {
            type Genesis = u64;
            async fn init_chain<S: StateWrite>(
                state: &mut S,
                genesis: &u64,
            ) -> Result<(), ExecError> {
                state.put_u64("empty/genesis".into(), *genesis);
                Ok(())
            }
            async fn end_block<S: StateWrite>(
                state: &mut S,
                ctx: &BlockContext,
            ) -> Result<(), ExecError> {
                state.put_u64("empty/last_end_block".into(), ctx.height);
                Ok(())
            }
        }
    }

    #[allow(dead_code)] // only part of the generated API is exercised here
    mod lists {
        // The app's lists (`crate::modules`) plus one line each for `empty`.
        crate::registry::actions! {
            Send => comrade_bank::bank::MsgSend,
            Ping => super::empty::MsgPing,
        }
        crate::registry::components! {
            auth => comrade_bank::auth::Auth,
            bank => comrade_bank::bank::Bank,
            staking => comrade_consensus::staking::Staking,
            fees => crate::fees::Fees,
            empty => super::empty::Empty,
        }
    }

    #[tokio::test]
    async fn a_new_module_is_decoded_initialised_and_hooked_from_one_line_per_list() {
        let ping = lists::Action::decode("/comrade.empty.v1.MsgPing", &[3; 20]).unwrap();
        assert_eq!(ping.signer(), Address([3; 20]));
        assert!(lists::TYPE_URLS.contains(&"/comrade.empty.v1.MsgPing"));
        assert_eq!(lists::COMPONENTS.last(), Some(&"empty"));

        let storage = TempStorage::new().await.unwrap();
        let mut state = StateDelta::new(storage.latest_snapshot());
        let sections = lists::GenesisSections {
            auth: Default::default(),
            bank: Default::default(),
            staking: Default::default(),
            fees: (),
            empty: 7,
        };
        let params = crate::params::ChainParams::try_from(&crate::params::Params::default());
        crate::state::load_params(&mut state, params.unwrap());
        lists::init_chain(&mut state, &sections).await.unwrap();
        let ctx = BlockContext::mempool("c", 5);
        lists::begin_block(&mut state, &ctx).await.unwrap();
        ping.check_stateless().unwrap();
        assert!(ping.read_keys().is_empty());
        ping.check_and_execute(&mut state, &ctx).await.unwrap();
        lists::end_block(&mut state, &ctx).await.unwrap();
        assert_eq!(state.get_u64("empty/genesis").await.unwrap(), Some(7));
        assert_eq!(state.get_u64("empty/pings").await.unwrap(), Some(1));
        assert_eq!(
            state.get_u64("empty/last_end_block").await.unwrap(),
            Some(5)
        );
    }
}
