//! `MsgSend`: a transfer of the native denom, in three phases: decode and
//! stateless checks, then (stateful) the denom and the sender's balance,
//! then the transfer and its event.

use async_trait::async_trait;
use cnidarium::StateWrite;
use comrade_primitives::{
    Address, Amount, ExecError, TxError,
    component::{ActionHandler, BlockContext},
    parse_amount,
};
use cosmrs::proto::cosmos::bank::v1beta1::MsgSend as ProtoMsgSend;
use prost::Message as _;

use super::{BankError, BankRead as _, BankWrite as _, state_key};
use crate::auth::state_key as auth_key;

/// `/cosmos.bank.v1beta1.MsgSend` with exactly one coin, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsgSend {
    /// Sender (must be the signer).
    pub from: Address,
    /// Recipient.
    pub to: Address,
    /// Denom as given (must be the native denom).
    pub denom: String,
    /// Amount in base units.
    pub amount: Amount,
}

fn parse_address(s: &str) -> Result<Address, TxError> {
    s.parse::<Address>()
        .map_err(|e| BankError::InvalidAddress(e.to_string()).into())
}

#[async_trait]
impl ActionHandler for MsgSend {
    const TYPE_URL: &'static str = "/cosmos.bank.v1beta1.MsgSend";
    const MODULE: &'static str = "bank";

    fn decode(value: &[u8]) -> Result<Self, TxError> {
        let m = ProtoMsgSend::decode(value)
            .map_err(|e| BankError::InvalidMessage(format!("bad MsgSend: {e}")))?;
        let from = parse_address(&m.from_address)?;
        let to = parse_address(&m.to_address)?;
        let [c] = m.amount.as_slice() else {
            return Err(
                BankError::InvalidMessage("MsgSend must carry exactly one coin".into()).into(),
            );
        };
        let amount = parse_amount(&c.amount).map_err(|e| BankError::BadAmount(e.to_string()))?;
        Ok(MsgSend {
            from,
            to,
            denom: c.denom.clone(),
            amount,
        })
    }

    fn signer(&self) -> Address {
        self.from
    }

    fn check_stateless(&self) -> Result<(), TxError> {
        if self.amount == 0 {
            return Err(BankError::InvalidMessage("amount must be positive".into()).into());
        }
        Ok(())
    }

    fn read_keys(&self) -> Vec<String> {
        vec![state_key::balance(&self.to), auth_key::account(&self.to)]
    }

    async fn check_and_execute<S: StateWrite>(
        &self,
        state: &mut S,
        _ctx: &BlockContext,
    ) -> Result<(), ExecError> {
        let params = state.bank_params()?;
        if self.denom != params.denom() {
            return Err(BankError::UnknownDenom {
                denom: self.denom.clone(),
                expected: params.denom().to_string(),
            }
            .into());
        }
        // The bank emits `coin_spent`, `coin_received` and `transfer`.
        state.transfer(&self.from, &self.to, self.amount).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::bank::{BankParams, state::load_params};
    use cnidarium::{StateDelta, TempStorage};
    use comrade_primitives::ResultCode;
    use cosmrs::proto::cosmos::base::v1beta1::Coin;

    fn encoded(from: &Address, to: &str, coins: &[(&str, &str)]) -> Vec<u8> {
        ProtoMsgSend {
            from_address: from.to_string(),
            to_address: to.to_string(),
            amount: coins
                .iter()
                .map(|(d, a)| Coin {
                    denom: d.to_string(),
                    amount: a.to_string(),
                })
                .collect(),
        }
        .encode_to_vec()
    }

    #[test]
    fn msg_send_decode_rejects_junk_bad_addresses_and_coin_counts() {
        let a = Address([1; 20]);
        let b = Address([2; 20]).to_string();
        let code = |r: Result<MsgSend, TxError>| r.unwrap_err().code.value();
        assert_eq!(
            code(MsgSend::decode(&[0xff; 3])),
            ResultCode::InvalidMessage.value()
        );
        assert_eq!(
            code(MsgSend::decode(&encoded(&a, "nope", &[("ucomrade", "1")]))),
            ResultCode::InvalidAddress.value()
        );
        assert_eq!(
            code(MsgSend::decode(&encoded(&a, &b, &[]))),
            ResultCode::InvalidMessage.value()
        );
        assert_eq!(
            code(MsgSend::decode(&encoded(&a, &b, &[("ucomrade", "1e3")]))),
            ResultCode::AmountOverflow.value()
        );
        let m = MsgSend::decode(&encoded(&a, &b, &[("ucomrade", "0")])).unwrap();
        assert_eq!(m.signer(), a);
        assert_eq!(
            m.check_stateless().unwrap_err().code.value(),
            ResultCode::InvalidMessage.value()
        );
    }

    #[tokio::test]
    async fn msg_send_rejects_unknown_denom_and_moves_funds_with_an_event() {
        let storage = TempStorage::new().await.unwrap();
        let mut state = StateDelta::new(storage.latest_snapshot());
        load_params(&mut state, BankParams::new("ucomrade", 6).unwrap());
        let (a, b) = (Address([1; 20]), Address([2; 20]));
        state.mint(&a, 100).await.unwrap();
        let ctx = BlockContext::mempool("test", 1);
        let send = |denom: &str| MsgSend {
            from: a,
            to: b,
            denom: denom.to_string(),
            amount: 30,
        };
        let e = send("uatom")
            .check_and_execute(&mut state, &ctx)
            .await
            .unwrap_err();
        assert!(matches!(e, ExecError::Tx(t) if t.code == ResultCode::UnknownDenom));
        let mut fork = StateDelta::new(&mut state);
        send("ucomrade")
            .check_and_execute(&mut fork, &ctx)
            .await
            .unwrap();
        let (_, events) = fork.apply();
        assert_eq!(state.balance(&b).await.unwrap(), 30);
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["coin_spent", "coin_received", "transfer"]);
    }
}
