//! Wormhole VAA v1: parsing, serialization and verification against a
//! guardian set.
//!
//! Layout (big-endian): `version u8 = 1 | guardian_set_index u32 |
//! n u8 | n × (guardian_index u8, r‖s 64, recovery_id u8) | body`, where
//! the body is `timestamp u32 | nonce u32 | emitter_chain u16 |
//! emitter_address 32 | sequence u64 | consistency_level u8 | payload`.
//! Guardians sign `keccak256(keccak256(body))`.
//!
//! Deterministic: integer arithmetic, `k256` public-key recovery and
//! `sha3`'s keccak only.

use k256::ecdsa::{RecoveryId, Signature as EcdsaSignature, VerifyingKey};
use sha3::{Digest as _, Keccak256};

use crate::BridgeError;

/// Bytes of one signature entry: index, r‖s, recovery id.
const SIG_LEN: usize = 66;
/// Bytes of a body before its payload.
const BODY_HEADER_LEN: usize = 51;
/// Bytes before the signatures.
const HEADER_LEN: usize = 6;

/// keccak256.
pub fn keccak256(data: &[u8]) -> [u8; 32] {
    Keccak256::digest(data).into()
}

/// A 20-byte Ethereum-style address: the last 20 bytes of keccak256 of the
/// uncompressed public key without its `0x04` prefix.
pub type GuardianAddress = [u8; 20];

/// The address of a public key.
pub fn guardian_address(key: &VerifyingKey) -> GuardianAddress {
    let point = key.to_encoded_point(false);
    let hash = keccak256(&point.as_bytes()[1..]);
    let mut out = [0u8; 20];
    out.copy_from_slice(&hash[12..]);
    out
}

/// One guardian's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardianSignature {
    /// Index of the guardian in its set.
    pub guardian_index: u8,
    /// `r ‖ s`.
    pub rs: [u8; 64],
    /// Recovery id (0 or 1).
    pub recovery_id: u8,
}

/// A parsed VAA v1. The body is kept as its raw bytes: the digest is over
/// exactly what was received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vaa {
    /// Index of the guardian set that signed.
    pub guardian_set_index: u32,
    /// Signatures, in the order received.
    pub signatures: Vec<GuardianSignature>,
    /// Observation time (unix seconds, as the emitter chain saw it).
    pub timestamp: u32,
    /// Emitter-chosen nonce.
    pub nonce: u32,
    /// Wormhole chain id of the emitter.
    pub emitter_chain: u16,
    /// Emitter address (32 bytes).
    pub emitter_address: [u8; 32],
    /// The emitter's sequence number.
    pub sequence: u64,
    /// The emitter's consistency (finality) level.
    pub consistency_level: u8,
    /// The signed body (timestamp … payload).
    pub body: Vec<u8>,
}

fn be_u16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}
fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}
fn be_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

impl Vaa {
    /// Parses VAA v1 bytes. Fails on another version, a truncated header,
    /// signature list or body.
    pub fn parse(bytes: &[u8]) -> Result<Vaa, BridgeError> {
        let malformed = |why: String| BridgeError::MalformedVaa(why);
        if bytes.len() < HEADER_LEN {
            return Err(malformed(format!(
                "{} bytes: shorter than the {HEADER_LEN}-byte header",
                bytes.len()
            )));
        }
        if bytes[0] != 1 {
            return Err(BridgeError::UnsupportedVersion(bytes[0]));
        }
        let guardian_set_index = be_u32(&bytes[1..5]);
        let n = usize::from(bytes[5]);
        let sig_end = HEADER_LEN + n * SIG_LEN;
        if bytes.len() < sig_end {
            return Err(malformed(format!(
                "{} signatures need {sig_end} bytes, got {}",
                n,
                bytes.len()
            )));
        }
        let signatures = bytes[HEADER_LEN..sig_end]
            .chunks_exact(SIG_LEN)
            .map(|c| {
                let mut rs = [0u8; 64];
                rs.copy_from_slice(&c[1..65]);
                GuardianSignature {
                    guardian_index: c[0],
                    rs,
                    recovery_id: c[65],
                }
            })
            .collect();
        let body = &bytes[sig_end..];
        if body.len() < BODY_HEADER_LEN {
            return Err(malformed(format!(
                "body of {} bytes: shorter than the {BODY_HEADER_LEN}-byte body header",
                body.len()
            )));
        }
        let mut emitter_address = [0u8; 32];
        emitter_address.copy_from_slice(&body[10..42]);
        Ok(Vaa {
            guardian_set_index,
            signatures,
            timestamp: be_u32(&body[0..4]),
            nonce: be_u32(&body[4..8]),
            emitter_chain: be_u16(&body[8..10]),
            emitter_address,
            sequence: be_u64(&body[42..50]),
            consistency_level: body[50],
            body: body.to_vec(),
        })
    }

    /// The VAA's bytes (`parse ∘ serialize = id`).
    pub fn serialize(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(HEADER_LEN + self.signatures.len() * SIG_LEN + self.body.len());
        out.push(1);
        out.extend_from_slice(&self.guardian_set_index.to_be_bytes());
        // At most 255 signatures: `parse` read the count from one byte and
        // `Vaa::sign` refuses more.
        out.push(u8::try_from(self.signatures.len()).unwrap_or(u8::MAX));
        for s in &self.signatures {
            out.push(s.guardian_index);
            out.extend_from_slice(&s.rs);
            out.push(s.recovery_id);
        }
        out.extend_from_slice(&self.body);
        out
    }

    /// The payload (the body after its 51-byte header).
    pub fn payload(&self) -> &[u8] {
        self.body.get(BODY_HEADER_LEN..).unwrap_or(&[])
    }

    /// keccak256 of the body.
    pub fn body_hash(&self) -> [u8; 32] {
        keccak256(&self.body)
    }

    /// What the guardians sign, and the replay key: keccak256(keccak256(body)).
    pub fn digest(&self) -> [u8; 32] {
        keccak256(&self.body_hash())
    }

    /// Checks the signatures against `keys` (the set named by
    /// `guardian_set_index`): quorum `floor(2n/3)+1`, indices strictly
    /// ascending and `< n`, each signature low-S with recovery id 0/1 and
    /// recovering to the key at its index, no address counted twice. The
    /// caller checks the set's index and expiry.
    pub fn verify_signatures(&self, keys: &[GuardianAddress]) -> Result<(), BridgeError> {
        let n = keys.len();
        if n == 0 {
            return Err(BridgeError::UnknownGuardianSet(self.guardian_set_index));
        }
        let quorum = quorum(n);
        if self.signatures.len() < quorum {
            return Err(BridgeError::NoQuorum {
                signatures: self.signatures.len(),
                quorum,
                guardians: n,
            });
        }
        let digest = self.digest();
        let mut last: Option<u8> = None;
        let mut counted: Vec<&GuardianAddress> = Vec::with_capacity(self.signatures.len());
        for s in &self.signatures {
            if last.is_some_and(|l| s.guardian_index <= l) {
                return Err(BridgeError::SignersNotAscending(s.guardian_index));
            }
            last = Some(s.guardian_index);
            let Some(expected) = keys.get(usize::from(s.guardian_index)) else {
                return Err(BridgeError::SignerOutOfRange {
                    index: s.guardian_index,
                    guardians: n,
                });
            };
            let bad = |why: &str| BridgeError::BadSignature {
                index: s.guardian_index,
                reason: why.to_string(),
            };
            let rid = match s.recovery_id {
                0 | 1 => RecoveryId::from_byte(s.recovery_id).ok_or_else(|| bad("recovery id"))?,
                r => return Err(bad(&format!("recovery id {r} (must be 0 or 1)"))),
            };
            let sig = EcdsaSignature::from_slice(&s.rs).map_err(|_| bad("r or s out of range"))?;
            if sig.normalize_s().is_some() {
                return Err(bad("high s (not canonical)"));
            }
            let key = VerifyingKey::recover_from_prehash(&digest, &sig, rid)
                .map_err(|_| bad("does not recover to a public key"))?;
            if &guardian_address(&key) != expected {
                return Err(bad("signed by another key than the set's at this index"));
            }
            if counted.contains(&expected) {
                return Err(BridgeError::DuplicateSigner {
                    index: s.guardian_index,
                });
            }
            counted.push(expected);
        }
        Ok(())
    }

    /// A VAA with `body`, signed by `signers` (index, key) of guardian set
    /// `guardian_set_index`, in the order given (RFC 6979, as the guardians
    /// sign). For tests, devnets and the mock guardian.
    pub fn sign(
        guardian_set_index: u32,
        body: Vec<u8>,
        signers: &[(u8, &k256::ecdsa::SigningKey)],
    ) -> Result<Vaa, BridgeError> {
        if signers.len() > usize::from(u8::MAX) {
            return Err(BridgeError::MalformedVaa(format!(
                "{} signatures: at most 255",
                signers.len()
            )));
        }
        let mut vaa = Vaa::parse(&[&[1u8, 0, 0, 0, 0, 0][..], &body].concat())?;
        vaa.guardian_set_index = guardian_set_index;
        let digest = vaa.digest();
        for (index, key) in signers {
            let (sig, rid) = key
                .sign_prehash_recoverable(&digest)
                .map_err(|e| BridgeError::MalformedVaa(format!("signing: {e}")))?;
            let mut rs = [0u8; 64];
            rs.copy_from_slice(&sig.to_bytes());
            vaa.signatures.push(GuardianSignature {
                guardian_index: *index,
                rs,
                recovery_id: rid.to_byte(),
            });
        }
        Ok(vaa)
    }
}

/// Signatures needed from a set of `n`: `floor(2n/3) + 1`.
pub fn quorum(n: usize) -> usize {
    n.saturating_mul(2) / 3 + 1
}

/// A body: header fields and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body<'a> {
    /// Observation time.
    pub timestamp: u32,
    /// Nonce.
    pub nonce: u32,
    /// Emitter chain.
    pub emitter_chain: u16,
    /// Emitter address.
    pub emitter_address: [u8; 32],
    /// Sequence.
    pub sequence: u64,
    /// Consistency level.
    pub consistency_level: u8,
    /// Payload.
    pub payload: &'a [u8],
}

impl Body<'_> {
    /// The body's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(BODY_HEADER_LEN + self.payload.len());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.nonce.to_be_bytes());
        out.extend_from_slice(&self.emitter_chain.to_be_bytes());
        out.extend_from_slice(&self.emitter_address);
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.push(self.consistency_level);
        out.extend_from_slice(self.payload);
        out
    }
}
