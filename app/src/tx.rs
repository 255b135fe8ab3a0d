//! Tx decoding and stateless checks (the first half of the pipeline).
//!
//! The envelope is the Cosmos SDK `TxRaw` with `SIGN_MODE_DIRECT`, exactly one
//! signer with a secp256k1 key, and the fee in a single coin.

use comrade_primitives::{Address, Amount, ResultCode, parse_amount};
use cosmrs::proto::cosmos::{
    crypto::secp256k1::PubKey,
    tx::signing::v1beta1::SignMode,
    tx::v1beta1::{AuthInfo, SignDoc, TxBody, TxRaw, mode_info},
};
use prost::Message;
use sha2::{Digest, Sha256};

use comrade_primitives::component::ActionHandler as _;

use crate::{error::TxError, metrics::Metrics, modules::Action};

/// Type URL of the bank send message.
pub const MSG_SEND_TYPE_URL: &str = comrade_bank::bank::MsgSend::TYPE_URL;
/// Type URL of a secp256k1 public key.
pub const SECP256K1_PUBKEY_TYPE_URL: &str = "/cosmos.crypto.secp256k1.PubKey";

/// A tx that passed decoding and stateless checks.
#[derive(Debug, Clone)]
pub struct DecodedTx {
    /// sha256 of the raw bytes (the CometBFT tx hash).
    pub hash: [u8; 32],
    /// Size of the raw bytes.
    pub size: usize,
    /// The signer's address (derived from its public key).
    pub signer: Address,
    /// Compressed secp256k1 public key.
    pub pub_key: Vec<u8>,
    /// The sequence the signer signed.
    pub sequence: u64,
    /// Fee denom.
    pub fee_denom: String,
    /// Fee amount.
    pub fee_amount: Amount,
    /// Messages in order.
    pub msgs: Vec<Action>,
    /// Memo length in bytes.
    pub memo_len: usize,
    /// Timeout height (0 = none).
    pub timeout_height: u64,
    /// `body_bytes`, needed for the sign doc.
    body_bytes: Vec<u8>,
    /// `auth_info_bytes`, needed for the sign doc.
    auth_info_bytes: Vec<u8>,
    /// 64-byte compact signature.
    signature: Vec<u8>,
    /// `pub_key`, parsed once.
    verifying_key: secp256k1::PublicKey,
}

fn err(code: ResultCode, msg: impl Into<String>) -> TxError {
    TxError::new(code, msg)
}

/// Decodes `bytes` and runs every check that needs no state. `max_tx_bytes`
/// comes from params; `keys` memoizes public-key parsing.
pub fn decode(bytes: &[u8], max_tx_bytes: u64, keys: &KeyCache) -> Result<DecodedTx, TxError> {
    if bytes.len() as u64 > max_tx_bytes {
        return Err(err(
            ResultCode::TxTooLarge,
            format!(
                "tx is {} bytes, max_tx_bytes is {max_tx_bytes}",
                bytes.len()
            ),
        ));
    }
    let malformed = |what: &str, e: prost::DecodeError| {
        err(
            ResultCode::TxMalformed,
            format!("cannot decode {what}: {e}"),
        )
    };
    let raw = TxRaw::decode(bytes).map_err(|e| malformed("TxRaw", e))?;
    let body = TxBody::decode(raw.body_bytes.as_slice()).map_err(|e| malformed("TxBody", e))?;
    let auth =
        AuthInfo::decode(raw.auth_info_bytes.as_slice()).map_err(|e| malformed("AuthInfo", e))?;
    // Reject bytes that do not re-encode identically: otherwise the same signed
    // tx could be relayed under several hashes.
    if raw.encode_to_vec() != bytes {
        return Err(err(
            ResultCode::TxMalformed,
            "tx bytes are not canonical protobuf",
        ));
    }
    if !body.extension_options.is_empty() || !body.non_critical_extension_options.is_empty() {
        return Err(err(
            ResultCode::TxMalformed,
            "extension options are not supported",
        ));
    }

    // Signer.
    let [signer_info] = auth.signer_infos.as_slice() else {
        return Err(err(
            ResultCode::InvalidSigner,
            format!("expected exactly 1 signer, got {}", auth.signer_infos.len()),
        ));
    };
    let [signature] = raw.signatures.as_slice() else {
        return Err(err(
            ResultCode::InvalidSigner,
            format!("expected exactly 1 signature, got {}", raw.signatures.len()),
        ));
    };
    if signature.len() != 64 {
        return Err(err(
            ResultCode::SignatureInvalid,
            format!("signature is {} bytes, expected 64", signature.len()),
        ));
    }
    let mode = signer_info.mode_info.as_ref().and_then(|m| m.sum.as_ref());
    match mode {
        Some(mode_info::Sum::Single(s)) if s.mode == SignMode::Direct as i32 => {}
        _ => {
            return Err(err(
                ResultCode::InvalidSigner,
                "only single-signer SIGN_MODE_DIRECT is supported",
            ));
        }
    }
    let pk_any = signer_info
        .public_key
        .as_ref()
        .ok_or_else(|| err(ResultCode::InvalidSigner, "signer info has no public key"))?;
    if pk_any.type_url != SECP256K1_PUBKEY_TYPE_URL {
        return Err(err(
            ResultCode::InvalidSigner,
            format!("unsupported public key type {:?}", pk_any.type_url),
        ));
    }
    let pk = PubKey::decode(pk_any.value.as_slice())
        .map_err(|e| err(ResultCode::InvalidSigner, format!("bad public key: {e}")))?;
    let (verifying_key, signer) = keys.parse(&pk.key).ok_or_else(|| {
        err(
            ResultCode::InvalidSigner,
            "public key is not a compressed secp256k1 point",
        )
    })?;

    // Fee.
    let fee = auth
        .fee
        .as_ref()
        .ok_or_else(|| err(ResultCode::InvalidFee, "tx has no fee"))?;
    let [coin] = fee.amount.as_slice() else {
        return Err(err(
            ResultCode::InvalidFee,
            format!("fee must be exactly one coin, got {}", fee.amount.len()),
        ));
    };
    if !fee.payer.is_empty() || !fee.granter.is_empty() {
        return Err(err(
            ResultCode::InvalidFee,
            "fee payer and granter are not supported",
        ));
    }
    let fee_amount = parse_amount(&coin.amount)
        .map_err(|e| err(ResultCode::AmountOverflow, format!("fee: {e}")))?;

    // Messages.
    if body.messages.is_empty() {
        return Err(err(ResultCode::InvalidMessage, "tx has no messages"));
    }
    let mut msgs = Vec::with_capacity(body.messages.len());
    for (i, any) in body.messages.iter().enumerate() {
        let action = Action::decode(&any.type_url, &any.value)
            .map_err(|e| e.prefixed(format_args!("message {i}")))?;
        let sender = action.signer();
        if sender != signer {
            return Err(err(
                ResultCode::InvalidSigner,
                format!("message {i}: sender {sender} is not the signer {signer}"),
            ));
        }
        action
            .check_stateless()
            .map_err(|e| e.prefixed(format_args!("message {i}")))?;
        msgs.push(action);
    }

    Ok(DecodedTx {
        hash: Sha256::digest(bytes).into(),
        size: bytes.len(),
        signer,
        pub_key: pk.key,
        sequence: signer_info.sequence,
        fee_denom: coin.denom.clone(),
        fee_amount,
        msgs,
        memo_len: body.memo.len(),
        timeout_height: body.timeout_height,
        body_bytes: raw.body_bytes,
        auth_info_bytes: raw.auth_info_bytes,
        signature: signature.clone(),
        verifying_key,
    })
}

/// The Cosmos address of a compressed secp256k1 key: `ripemd160(sha256(key))`.
/// `None` if the bytes are not a valid point.
pub fn pubkey_address(key: &[u8]) -> Option<Address> {
    parse_pubkey(key).map(|(_, address)| address)
}

/// A compressed secp256k1 key (33 bytes, a point on the curve) and its
/// address.
fn parse_pubkey(key: &[u8]) -> Option<(secp256k1::PublicKey, Address)> {
    use ripemd::Ripemd160;
    if key.len() != 33 {
        return None;
    }
    let vk = secp256k1::PublicKey::from_slice(key).ok()?;
    let hash = Ripemd160::digest(Sha256::digest(key));
    Some((vk, Address::from_bytes(&hash).ok()?))
}

/// Keys parsed recently: decompressing a point (a field square root) is a
/// large part of decoding a tx, and the same few signers send most txs (and
/// every pending tx is decoded again on each recheck). A memo of a pure
/// function, owned by the app: it cannot change any outcome.
#[derive(Debug, Default)]
pub struct KeyCache {
    map: std::sync::Mutex<std::collections::BTreeMap<[u8; 33], (secp256k1::PublicKey, Address)>>,
}

impl KeyCache {
    /// Entries held before the cache starts over.
    const MAX: usize = 65_536;

    /// The parsed key and its address, from the memo or parsed now.
    pub fn parse(&self, key: &[u8]) -> Option<(secp256k1::PublicKey, Address)> {
        let key: [u8; 33] = key.try_into().ok()?;
        if let Some(hit) = self.map.lock().ok().and_then(|m| m.get(&key).copied()) {
            return Some(hit);
        }
        let parsed = parse_pubkey(&key)?;
        if let Ok(mut m) = self.map.lock() {
            if m.len() >= Self::MAX {
                m.clear();
            }
            m.insert(key, parsed);
        }
        Some(parsed)
    }
}

impl DecodedTx {
    /// The signature in base64, as the SDK's `tx.signature` event has it.
    pub fn signature_base64(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(&self.signature)
    }

    /// Verifies the signature over the SIGN_MODE_DIRECT sign doc for this
    /// chain id and account number: ECDSA over SHA-256 of the doc, with the
    /// signature in compact `r || s` form and low `s` only (as the Cosmos SDK
    /// and k256 require). Uses libsecp256k1, about twice as fast as k256.
    pub fn verify_signature(
        &self,
        chain_id: &str,
        account_number: u64,
        metrics: &Metrics,
    ) -> Result<(), TxError> {
        metrics.count_signature_check();
        let doc = SignDoc {
            body_bytes: self.body_bytes.clone(),
            auth_info_bytes: self.auth_info_bytes.clone(),
            chain_id: chain_id.to_string(),
            account_number,
        }
        .encode_to_vec();
        let fail = || {
            err(
                ResultCode::SignatureInvalid,
                format!(
                    "signature verification failed for {}: check chain id (this chain is \
                     {chain_id:?}), account number ({account_number}) and sequence ({})",
                    self.signer, self.sequence
                ),
            )
        };
        let digest: [u8; 32] = Sha256::digest(&doc).into();
        let msg = secp256k1::Message::from_slice(&digest).map_err(|_| fail())?;
        let sig = secp256k1::ecdsa::Signature::from_compact(&self.signature).map_err(|_| fail())?;
        secp256k1::SECP256K1
            .verify_ecdsa(&msg, &sig, &self.verifying_key)
            .map_err(|_| fail())
    }
}
