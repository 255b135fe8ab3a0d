//! Building and signing transactions (SIGN_MODE_DIRECT), for the CLI, load
//! generators and tests. Not used by the state machine itself.

use cosmrs::Any;
use cosmrs::proto::cosmos::{
    bank::v1beta1::MsgSend,
    base::v1beta1::Coin,
    crypto::secp256k1::PubKey,
    tx::signing::v1beta1::SignMode,
    tx::v1beta1::{AuthInfo, Fee, ModeInfo, SignDoc, SignerInfo, TxBody, TxRaw, mode_info},
};
use k256::ecdsa::SigningKey;
use prost::Message;

use crate::tx::{MSG_SEND_TYPE_URL, SECP256K1_PUBKEY_TYPE_URL, pubkey_address};

/// Default gas limit written into txs (gas is not metered; fees are by size).
pub const DEFAULT_GAS_LIMIT: u64 = 200_000;

/// A `MsgSend` packed as `Any`.
pub fn msg_send(from: &str, to: &str, denom: &str, amount: &str) -> Any {
    Any {
        type_url: MSG_SEND_TYPE_URL.to_string(),
        value: MsgSend {
            from_address: from.to_string(),
            to_address: to.to_string(),
            amount: vec![Coin {
                denom: denom.to_string(),
                amount: amount.to_string(),
            }],
        }
        .encode_to_vec(),
    }
}

/// Any message packed as `Any` under `type_url` (e.g. a staking message
/// with its handler's `TYPE_URL`).
pub fn pack(type_url: &str, msg: &impl Message) -> Any {
    Any {
        type_url: type_url.to_string(),
        value: msg.encode_to_vec(),
    }
}

/// The compressed public key of `key`.
pub fn public_key_bytes(key: &SigningKey) -> Vec<u8> {
    key.verifying_key()
        .to_encoded_point(true)
        .as_bytes()
        .to_vec()
}

/// The `comrade1…` address of `key`.
pub fn address_of(key: &SigningKey) -> comrade_primitives::Address {
    pubkey_address(&public_key_bytes(key)).expect("a signing key has a valid public key")
}

/// Everything needed to sign a tx besides its messages.
#[derive(Debug, Clone)]
pub struct SignOptions<'a> {
    /// Chain id.
    pub chain_id: &'a str,
    /// The signer's account number.
    pub account_number: u64,
    /// The signer's next sequence.
    pub sequence: u64,
    /// Fee amount (decimal string) and denom.
    pub fee: (&'a str, &'a str),
    /// Memo.
    pub memo: &'a str,
    /// Timeout height (0 = none).
    pub timeout_height: u64,
}

/// Builds and signs a tx; returns the `TxRaw` bytes.
pub fn sign_tx(key: &SigningKey, messages: Vec<Any>, o: &SignOptions<'_>) -> Vec<u8> {
    let body = TxBody {
        messages,
        memo: o.memo.to_string(),
        timeout_height: o.timeout_height,
        ..Default::default()
    };
    let auth = AuthInfo {
        signer_infos: vec![SignerInfo {
            public_key: Some(Any {
                type_url: SECP256K1_PUBKEY_TYPE_URL.to_string(),
                value: PubKey {
                    key: public_key_bytes(key),
                }
                .encode_to_vec(),
            }),
            mode_info: Some(ModeInfo {
                sum: Some(mode_info::Sum::Single(mode_info::Single {
                    mode: SignMode::Direct as i32,
                })),
            }),
            sequence: o.sequence,
        }],
        fee: Some(Fee {
            amount: vec![Coin {
                denom: o.fee.1.to_string(),
                amount: o.fee.0.to_string(),
            }],
            gas_limit: DEFAULT_GAS_LIMIT,
            payer: String::new(),
            granter: String::new(),
        }),
        ..Default::default()
    };
    sign_parts(
        key,
        body.encode_to_vec(),
        auth.encode_to_vec(),
        o.chain_id,
        o.account_number,
    )
}

/// Signs already-encoded body and auth-info bytes.
pub fn sign_parts(
    key: &SigningKey,
    body_bytes: Vec<u8>,
    auth_info_bytes: Vec<u8>,
    chain_id: &str,
    account_number: u64,
) -> Vec<u8> {
    use k256::ecdsa::{Signature, signature::Signer};
    let doc = SignDoc {
        body_bytes: body_bytes.clone(),
        auth_info_bytes: auth_info_bytes.clone(),
        chain_id: chain_id.to_string(),
        account_number,
    }
    .encode_to_vec();
    let sig: Signature = key.sign(&doc);
    TxRaw {
        body_bytes,
        auth_info_bytes,
        signatures: vec![sig.to_bytes().to_vec()],
    }
    .encode_to_vec()
}
