//! `MsgRedeemDeposit`: anyone relays a lockbox deposit VAA; the chain
//! verifies it and credits the recipient.
//!
//! Stateless: the VAA parses and its payload is a well-formed `DEPOSIT_V1`.
//! Stateful, cheapest first: not already redeemed (by emitter triple and by
//! body digest, never by VAA bytes: the same body can carry another
//! signature subset), emitter = the registered lockbox, finalized, mint,
//! decimals, app-chain id, then the guardian signatures. Execute: mint
//! through the bank capability, add to the locked total, record the replay
//! keys.

use async_trait::async_trait;
use cnidarium::StateWrite;
use comrade_bank::BankWrite as _;
use comrade_primitives::{
    Address, ExecError, TxError,
    component::{ActionHandler, BlockContext, EventExt as _},
    proto::bridge::v1 as pb,
};
use prost::Message as _;

use crate::{
    BridgeError, BridgeRead as _,
    event::EventDepositRedeemed,
    payload::{Deposit, SOLANA_FINALIZED, app_chain_id},
    state::BridgeWrite as _,
    state_key,
    vaa::Vaa,
    verify::verify_vaa,
};

/// A decoded `MsgRedeemDeposit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsgRedeemDeposit {
    /// Whoever relays it (pays the fee).
    pub signer: Address,
    /// The VAA.
    pub vaa: Vaa,
    /// Its payload.
    pub deposit: Deposit,
}

/// The signer and parsed VAA of a bridge message's `(signer, vaa)` fields.
pub(crate) fn signer_and_vaa(signer: &str, vaa: &[u8]) -> Result<(Address, Vaa), TxError> {
    let signer = signer
        .parse()
        .map_err(|e| BridgeError::InvalidMessage(format!("signer {signer:?}: {e}")))?;
    Ok((signer, Vaa::parse(vaa)?))
}

#[async_trait]
impl ActionHandler for MsgRedeemDeposit {
    const TYPE_URL: &'static str = "/comrade.bridge.v1.MsgRedeemDeposit";
    const MODULE: &'static str = "bridge";

    fn decode(value: &[u8]) -> Result<Self, TxError> {
        let m = pb::MsgRedeemDeposit::decode(value)
            .map_err(|e| BridgeError::InvalidMessage(format!("bad MsgRedeemDeposit: {e}")))?;
        let (signer, vaa) = signer_and_vaa(&m.signer, &m.vaa)?;
        let deposit = Deposit::parse(vaa.payload())?;
        Ok(Self {
            signer,
            vaa,
            deposit,
        })
    }

    fn signer(&self) -> Address {
        self.signer
    }

    fn check_stateless(&self) -> Result<(), TxError> {
        Ok(())
    }

    fn read_keys(&self) -> Vec<String> {
        vec![
            state_key::CONFIG.into(),
            state_key::CURRENT_SET.into(),
            state_key::LOCKED.into(),
            state_key::guardian_set(self.vaa.guardian_set_index),
            state_key::redeemed(
                self.vaa.emitter_chain,
                &self.vaa.emitter_address,
                self.vaa.sequence,
            ),
            state_key::consumed(&self.vaa.digest()),
        ]
    }

    async fn check_and_execute<S: StateWrite>(
        &self,
        state: &mut S,
        ctx: &BlockContext,
    ) -> Result<(), ExecError> {
        let v = &self.vaa;
        let d = &self.deposit;
        let digest = v.digest();
        if let Some(r) = state
            .redemption(v.emitter_chain, &v.emitter_address, v.sequence)
            .await?
        {
            return Err(BridgeError::AlreadyRedeemed {
                what: format!(
                    "{}/{}/{}",
                    v.emitter_chain,
                    hex::encode(v.emitter_address),
                    v.sequence
                ),
                height: r.height,
            }
            .into());
        }
        if let Some(height) = state.consumed_at(&digest).await? {
            return Err(BridgeError::AlreadyRedeemed {
                what: format!("with body digest {}", hex::encode(digest)),
                height,
            }
            .into());
        }
        let config = state.bridge_config().await?;
        if u32::from(v.emitter_chain) != config.emitter_chain
            || v.emitter_address.as_slice() != config.lockbox_emitter.as_slice()
        {
            return Err(BridgeError::WrongEmitter {
                chain: v.emitter_chain,
                address: hex::encode(v.emitter_address),
                expected: format!(
                    "the lockbox emitter {}/{}",
                    config.emitter_chain,
                    hex::encode(&config.lockbox_emitter)
                ),
            }
            .into());
        }
        if v.consistency_level != SOLANA_FINALIZED {
            return Err(BridgeError::NotFinalized {
                got: v.consistency_level,
                want: SOLANA_FINALIZED,
            }
            .into());
        }
        if d.mint.as_slice() != config.mint.as_slice() {
            return Err(BridgeError::WrongMint {
                got: bs58::encode(d.mint).into_string(),
                want: bs58::encode(&config.mint).into_string(),
            }
            .into());
        }
        if u32::from(d.decimals) != config.decimals {
            return Err(BridgeError::WrongDecimals {
                got: d.decimals,
                want: config.decimals,
            }
            .into());
        }
        let ours = app_chain_id(&ctx.chain_id);
        if d.app_chain_id != ours {
            return Err(BridgeError::WrongAppChain {
                got: hex::encode(d.app_chain_id),
                want: hex::encode(ours),
            }
            .into());
        }
        verify_vaa(state, v, ctx.time.map(|t| t.seconds)).await?;

        let amount = u128::from(d.amount);
        let locked =
            state.locked().await?.checked_add(amount).ok_or_else(|| {
                BridgeError::AmountOverflow("the locked total would overflow".into())
            })?;
        let recipient = Address(d.recipient);
        state.mint(&recipient, amount).await?;
        state.put_locked(locked);
        state.put_redemption(
            v.emitter_chain,
            &v.emitter_address,
            v.sequence,
            &pb::Redemption {
                height: ctx.height,
                recipient: recipient.to_string(),
                amount: amount.to_string(),
                digest: digest.to_vec(),
            },
        );
        state.put_consumed(&digest, ctx.height);
        state.emit(EventDepositRedeemed {
            recipient,
            amount,
            sender: bs58::encode(d.sender).into_string(),
            emitter_chain: v.emitter_chain,
            emitter: hex::encode(v.emitter_address),
            sequence: v.sequence,
            digest: hex::encode(digest),
            relayer: self.signer,
            locked,
        });
        Ok(())
    }
}
