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
