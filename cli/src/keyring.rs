//! The encrypted file keyring behind `comrade keys …`.
//!
//! Keys are secp256k1, derived from a BIP39 mnemonic along the Cosmos HD path
//! [`HD_PATH`] (`m/44'/118'/0'/0/0`), so the same mnemonic gives the same
//! account in `gaiad`, Keplr or cosmjs (with prefix `comrade`). Addresses are
//! bech32 `comrade1…` (`ripemd160(sha256(compressed pubkey))`).
//!
//! # Storage
//!
//! One JSON file per key, `<home>/keyring/<name>.json`, mode `0600`, in a
//! directory with mode `0700`. The public part (name, address, compressed
//! public key) is stored in the clear so `list`/`show` need no passphrase. The
//! secret (the 32-byte private key and, when known, the mnemonic) is encrypted
//! with XChaCha20-Poly1305 under a 32-byte key derived from the passphrase by
//! Argon2id with a random 16-byte salt; the public fields are bound to the
//! ciphertext as associated data, so editing them makes decryption fail. See
//! [`KeyFile`] for the exact layout.
//!
//! Files are written to a temporary file and then linked into place, so a key
//! file is either complete or absent, and an existing key is never replaced.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use argon2::Argon2;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use cosmrs::bip32::{DerivationPath, XPrv};
use cosmrs::crypto::secp256k1::SigningKey;
use rand::RngCore as _;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize as _, Zeroizing};

/// The Cosmos HD derivation path (coin type 118), account 0, index 0.
pub(crate) const HD_PATH: &str = "m/44'/118'/0'/0/0";

/// The bech32 prefix of account addresses.
pub(crate) const ADDRESS_PREFIX: &str = comrade_primitives::BECH32_PREFIX;

/// Environment variable that supplies the keyring passphrase non-interactively.
pub(crate) const PASSPHRASE_ENV: &str = "COMRADE_KEYRING_PASSPHRASE";

/// Version of the key file format written by this code.
pub(crate) const KEY_FILE_VERSION: u32 = 1;

/// Largest Argon2id memory cost accepted from a key file (4 GiB).
const MAX_KDF_MEMORY_KIB: u32 = 4 * 1024 * 1024;
/// Largest Argon2id pass count accepted from a key file.
const MAX_KDF_PASSES: u32 = 64;

/// Words in a newly generated mnemonic (256 bits of entropy).
pub(crate) const MNEMONIC_WORDS: usize = 24;

/// Errors of the keyring.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KeyringError {
    /// The key name is not 1–64 characters of `[a-zA-Z0-9_-]`.
    #[error("invalid key name {0:?}: use 1-64 characters from a-z, A-Z, 0-9, '_' and '-'")]
    InvalidName(String),
    /// A key with this name already exists.
    #[error("key {0:?} already exists; delete it first or choose another name")]
    AlreadyExists(String),
    /// No key with this name.
    #[error("key {0:?} not found")]
    NotFound(String),
    /// The passphrase is empty.
    #[error("empty passphrase: the keyring needs a non-empty passphrase")]
    EmptyPassphrase,
    /// Decryption failed: the passphrase is wrong (or the file was modified).
    #[error("wrong passphrase for key {0:?} (or its key file was modified)")]
    WrongPassphrase(String),
    /// The mnemonic is not a valid English BIP39 phrase.
    #[error("invalid mnemonic: {0}")]
    InvalidMnemonic(String),
    /// The private key is not a valid secp256k1 scalar.
    #[error("invalid private key: {0}")]
    InvalidPrivateKey(String),
    /// A key file is unreadable, of an unknown version or inconsistent.
    #[error("key file {path}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A cryptographic primitive failed unexpectedly.
    #[error("crypto error: {0}")]
    Crypto(String),
    /// Filesystem error.
    #[error("{what} {path}: {source}")]
    Io {
        /// The operation.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

type Result<T, E = KeyringError> = std::result::Result<T, E>;

/// The public description of a key; safe to print.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct KeyInfo {
    /// The key's name in the keyring.
    pub name: String,
    /// Bech32 account address (`comrade1…`).
    pub address: String,
    /// Compressed secp256k1 public key, hex (33 bytes).
    pub pub_key_hex: String,
}

/// Argon2id cost parameters, stored in every key file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct KdfParams {
    /// Memory cost in KiB.
    pub m_cost_kib: u32,
    /// Number of passes.
    pub t_cost: u32,
    /// Degree of parallelism.
    pub p_cost: u32,
}

impl Default for KdfParams {
    /// 64 MiB, 3 passes, 1 lane: well above OWASP's minimum for Argon2id and
    /// about a quarter of a second on a laptop.
    fn default() -> Self {
        KdfParams {
            m_cost_kib: 64 * 1024,
            t_cost: 3,
            p_cost: 1,
        }
    }
}

impl KdfParams {
    /// Cheap parameters for tests and throwaway local networks only.
    #[allow(dead_code)] // API for tests and local-network tooling
    pub(crate) const INSECURE_FAST: KdfParams = KdfParams {
        m_cost_kib: 64,
        t_cost: 1,
        p_cost: 1,
    };
}

/// The on-disk JSON layout of `<home>/keyring/<name>.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyFile {
    /// Format version ([`KEY_FILE_VERSION`]).
    pub version: u32,
    /// Key name; equals the file stem.
    pub name: String,
    /// Bech32 address.
    pub address: String,
    /// Compressed public key, hex.
    pub pub_key: String,
    /// Key derivation: always `"argon2id"`.
    pub kdf: String,
    /// Argon2id parameters.
    pub kdf_params: KdfParams,
    /// Argon2id salt, hex (16 bytes).
    pub salt: String,
    /// Cipher: always `"xchacha20poly1305"`.
    pub cipher: String,
    /// XChaCha20 nonce, hex (24 bytes).
    pub nonce: String,
    /// Base64 ciphertext (with the Poly1305 tag) of the JSON secret
    /// `{"private_key": hex, "mnemonic": string | null}`; the associated data
    /// is `comrade-keyring-v1\0<name>\0<address>\0<pub_key>`.
    pub ciphertext: String,
}

/// The encrypted part of a key file; wiped from memory on drop.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Secret {
    private_key: String,
    mnemonic: Option<String>,
}

// A hand-written `Drop` because the workspace's `zeroize` is built without its
// `derive` feature (no `ZeroizeOnDrop`).
impl Drop for Secret {
    fn drop(&mut self) {
        self.private_key.zeroize();
        self.mnemonic.zeroize();
    }
}

/// A 32-byte private key that is wiped from memory on drop.
type PrivateKey = Zeroizing<[u8; 32]>;

/// An encrypted file keyring rooted at `<home>/keyring`.
#[derive(Debug, Clone)]
pub(crate) struct Keyring {
    dir: PathBuf,
    kdf: KdfParams,
}

/// Checks a key name: 1–64 characters of `[a-zA-Z0-9_-]`.
pub(crate) fn validate_name(name: &str) -> Result<()> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(KeyringError::InvalidName(name.to_string()))
    }
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> KeyringError {
    let path = path.to_path_buf();
    move |source| KeyringError::Io { what, path, source }
}

/// Derives the private key at [`HD_PATH`] from a mnemonic (empty BIP39
/// passphrase).
fn derive_private_key(mnemonic: &bip39::Mnemonic) -> Result<PrivateKey> {
    let seed = Zeroizing::new(mnemonic.to_seed(""));
    let path: DerivationPath = HD_PATH
        .parse()
        .map_err(|e| KeyringError::Crypto(format!("hd path: {e}")))?;
    let xprv = XPrv::derive_from_path(seed.as_slice(), &path)
        .map_err(|e| KeyringError::Crypto(format!("bip32 derivation: {e}")))?;
    Ok(Zeroizing::new(xprv.private_key().to_bytes().into()))
}

/// Parses a mnemonic (whitespace-normalised, English word list).
pub(crate) fn parse_mnemonic(phrase: &str) -> Result<bip39::Mnemonic> {
    let normalized = phrase.split_whitespace().collect::<Vec<_>>().join(" ");
    bip39::Mnemonic::parse_in_normalized(bip39::Language::English, &normalized)
        .map_err(|e| KeyringError::InvalidMnemonic(e.to_string()))
}

/// The public key (compressed, hex) and bech32 address of a private key.
fn public_parts(private_key: &[u8; 32]) -> Result<(SigningKey, String, String)> {
    let sk = SigningKey::from_slice(private_key)
        .map_err(|e| KeyringError::InvalidPrivateKey(e.to_string()))?;
    let pk = sk.public_key();
    let address = pk
        .account_id(ADDRESS_PREFIX)
        .map_err(|e| KeyringError::Crypto(format!("address: {e}")))?
        .to_string();
    Ok((sk, address, hex::encode(pk.to_bytes())))
}

/// The account address of the key a mnemonic derives, without storing it.
#[allow(dead_code)] // API for tests and local-network tooling
pub(crate) fn address_from_mnemonic(phrase: &str) -> Result<String> {
    let m = parse_mnemonic(phrase)?;
    let key = derive_private_key(&m)?;
    let (_, address, _) = public_parts(&key)?;
    Ok(address)
}

fn aad(name: &str, address: &str, pub_key: &str) -> Vec<u8> {
    format!("comrade-keyring-v1\0{name}\0{address}\0{pub_key}").into_bytes()
}

fn derive_cipher(passphrase: &str, salt: &[u8], p: KdfParams) -> Result<XChaCha20Poly1305> {
    let params = argon2::Params::new(p.m_cost_kib, p.t_cost, p.p_cost, Some(32))
        .map_err(|e| KeyringError::Crypto(format!("argon2 params: {e}")))?;
    let argon = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut key = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(passphrase.as_bytes(), salt, key.as_mut_slice())
        .map_err(|e| KeyringError::Crypto(format!("argon2: {e}")))?;
    XChaCha20Poly1305::new_from_slice(key.as_slice())
        .map_err(|e| KeyringError::Crypto(format!("cipher key: {e}")))
}

fn check_passphrase(passphrase: &str) -> Result<()> {
    if passphrase.is_empty() {
        Err(KeyringError::EmptyPassphrase)
    } else {
        Ok(())
    }
}

impl Keyring {
    /// Opens (creating if needed, mode `0700`) the keyring at `<home>/keyring`.
    pub(crate) fn open(home: &Path) -> Result<Self> {
        let dir = home.join("keyring");
        fs::create_dir_all(&dir).map_err(io("cannot create keyring directory", &dir))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
                .map_err(io("cannot set permissions of", &dir))?;
        }
        Ok(Keyring {
            dir,
            kdf: KdfParams::default(),
        })
    }

    /// Uses these Argon2id parameters for keys written from now on (reading
    /// uses the parameters stored in each file). Lower them only for tests and
    /// throwaway local networks ([`KdfParams::INSECURE_FAST`]).
    #[allow(dead_code)] // API for tests and local-network tooling
    pub(crate) fn with_kdf_params(mut self, kdf: KdfParams) -> Self {
        self.kdf = kdf;
        self
    }

    /// The keyring directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, name: &str) -> Result<PathBuf> {
        validate_name(name)?;
        Ok(self.dir.join(format!("{name}.json")))
    }

    /// Generates a new key from a fresh 24-word mnemonic and stores it.
    /// Returns the key and the mnemonic, which the caller must show the user
    /// once: it is the only way to recover the key without the passphrase.
    pub(crate) fn add(&self, name: &str, passphrase: &str) -> Result<(KeyInfo, String)> {
        self.path(name)?;
        check_passphrase(passphrase)?;
        let mut entropy = Zeroizing::new([0u8; MNEMONIC_WORDS / 3 * 4]);
        OsRng.fill_bytes(entropy.as_mut_slice());
        let mnemonic =
            bip39::Mnemonic::from_entropy_in(bip39::Language::English, entropy.as_slice())
                .map_err(|e| KeyringError::Crypto(format!("mnemonic: {e}")))?;
        let phrase = mnemonic.to_string();
        let key = derive_private_key(&mnemonic)?;
        let info = self.store(name, &key, Some(&phrase), passphrase)?;
        Ok((info, phrase))
    }

    /// Recovers a key from a BIP39 mnemonic and stores it (with the mnemonic).
    pub(crate) fn import_mnemonic(
        &self,
        name: &str,
        mnemonic: &str,
        passphrase: &str,
    ) -> Result<KeyInfo> {
        self.path(name)?;
        check_passphrase(passphrase)?;
        let m = parse_mnemonic(mnemonic)?;
        let phrase = m.to_string();
        let key = derive_private_key(&m)?;
        self.store(name, &key, Some(&phrase), passphrase)
    }

    /// Stores a raw 32-byte secp256k1 private key given as hex (what
    /// [`Keyring::export`] returns for keys without a mnemonic).
    pub(crate) fn import_private_key(
        &self,
        name: &str,
        private_key_hex: &str,
        passphrase: &str,
    ) -> Result<KeyInfo> {
        self.path(name)?;
        check_passphrase(passphrase)?;
        let bytes = Zeroizing::new(
            hex::decode(private_key_hex.trim())
                .map_err(|e| KeyringError::InvalidPrivateKey(format!("not hex: {e}")))?,
        );
        let key: PrivateKey = Zeroizing::new(bytes.as_slice().try_into().map_err(|_| {
            KeyringError::InvalidPrivateKey(format!("{} bytes, expected 32", bytes.len()))
        })?);
        self.store(name, &key, None, passphrase)
    }

    fn store(
        &self,
        name: &str,
        private_key: &[u8; 32],
        mnemonic: Option<&str>,
        passphrase: &str,
    ) -> Result<KeyInfo> {
        let path = self.path(name)?;
        if path.exists() {
            return Err(KeyringError::AlreadyExists(name.to_string()));
        }
        let (_, address, pub_key) = public_parts(private_key)?;
        let mut salt = [0u8; 16];
        let mut nonce = [0u8; 24];
        OsRng.fill_bytes(&mut salt);
        OsRng.fill_bytes(&mut nonce);
        let cipher = derive_cipher(passphrase, &salt, self.kdf)?;
        let secret = Zeroizing::new(
            serde_json::to_vec(&Secret {
                private_key: hex::encode(private_key),
                mnemonic: mnemonic.map(str::to_string),
            })
            .map_err(|e| KeyringError::Crypto(format!("encode secret: {e}")))?,
        );
        let aad = aad(name, &address, &pub_key);
        let ciphertext = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &secret,
                    aad: &aad,
                },
            )
            .map_err(|e| KeyringError::Crypto(format!("encrypt: {e}")))?;
        let file = KeyFile {
            version: KEY_FILE_VERSION,
            name: name.to_string(),
            address: address.clone(),
            pub_key: pub_key.clone(),
            kdf: "argon2id".into(),
            kdf_params: self.kdf,
            salt: hex::encode(salt),
            cipher: "xchacha20poly1305".into(),
            nonce: hex::encode(nonce),
            ciphertext: base64::engine::general_purpose::STANDARD.encode(ciphertext),
        };
        let mut json = serde_json::to_vec_pretty(&file)
            .map_err(|e| KeyringError::Crypto(format!("encode key file: {e}")))?;
        json.push(b'\n');
        self.write_new(&path, &json, name)?;
        Ok(KeyInfo {
            name: name.to_string(),
            address,
            pub_key_hex: pub_key,
        })
    }

    /// Writes `bytes` to a fresh `0600` temp file and hard-links it to `path`,
    /// which fails (without clobbering) if `path` exists.
    fn write_new(&self, path: &Path, bytes: &[u8], name: &str) -> Result<()> {
        let mut suffix = [0u8; 8];
        OsRng.fill_bytes(&mut suffix);
        let tmp = self
            .dir
            .join(format!(".{name}.{}.tmp", hex::encode(suffix)));
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            opts.mode(0o600);
        }
        let result = (|| {
            let mut f = opts.open(&tmp).map_err(io("cannot create", &tmp))?;
            f.write_all(bytes).map_err(io("cannot write", &tmp))?;
            f.sync_all().map_err(io("cannot sync", &tmp))?;
            fs::hard_link(&tmp, path).map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    KeyringError::AlreadyExists(name.to_string())
                } else {
                    io("cannot create", path)(e)
                }
            })
        })();
        let _ = fs::remove_file(&tmp);
        result
    }

    fn load(&self, name: &str) -> Result<(PathBuf, KeyFile)> {
        let path = self.path(name)?;
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(KeyringError::NotFound(name.to_string()));
            }
            Err(e) => return Err(io("cannot read", &path)(e)),
        };
        let corrupt = |reason: String| KeyringError::Corrupt {
            path: path.clone(),
            reason,
        };
        let file: KeyFile = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        if file.version != KEY_FILE_VERSION {
            return Err(corrupt(format!(
                "unsupported version {} (this build reads version {KEY_FILE_VERSION})",
                file.version
            )));
        }
        if file.name != name {
            return Err(corrupt(format!("holds key {:?}, not {name:?}", file.name)));
        }
        if file.kdf != "argon2id" || file.cipher != "xchacha20poly1305" {
            return Err(corrupt(format!(
                "unsupported kdf/cipher {}/{}",
                file.kdf, file.cipher
            )));
        }
        let k = file.kdf_params;
        if k.m_cost_kib > MAX_KDF_MEMORY_KIB || !(1..=MAX_KDF_PASSES).contains(&k.t_cost) {
            return Err(corrupt(format!(
                "kdf parameters out of range: {} KiB, {} passes",
                k.m_cost_kib, k.t_cost
            )));
        }
        Ok((path, file))
    }

    fn decrypt(&self, name: &str, passphrase: &str) -> Result<(SigningKey, PrivateKey, Secret)> {
        let (path, file) = self.load(name)?;
        let corrupt = |reason: String| KeyringError::Corrupt {
            path: path.clone(),
            reason,
        };
        let salt = hex::decode(&file.salt).map_err(|e| corrupt(format!("salt: {e}")))?;
        let nonce = hex::decode(&file.nonce).map_err(|e| corrupt(format!("nonce: {e}")))?;
        if nonce.len() != 24 {
            return Err(corrupt(format!(
                "nonce has {} bytes, expected 24",
                nonce.len()
            )));
        }
        let ciphertext = base64::engine::general_purpose::STANDARD
            .decode(&file.ciphertext)
            .map_err(|e| corrupt(format!("ciphertext: {e}")))?;
        let cipher = derive_cipher(passphrase, &salt, file.kdf_params)?;
        let plain = Zeroizing::new(
            cipher
                .decrypt(
                    XNonce::from_slice(&nonce),
                    Payload {
                        msg: &ciphertext,
                        aad: &aad(&file.name, &file.address, &file.pub_key),
                    },
                )
                .map_err(|_| KeyringError::WrongPassphrase(name.to_string()))?,
        );
        let secret: Secret =
            serde_json::from_slice(&plain).map_err(|e| corrupt(format!("secret: {e}")))?;
        let bytes = Zeroizing::new(hex::decode(&secret.private_key).unwrap_or_default());
        let key: PrivateKey = Zeroizing::new(
            bytes
                .as_slice()
                .try_into()
                .map_err(|_| corrupt("secret: private key is not 32 hex bytes".into()))?,
        );
        let (sk, address, pub_key) = public_parts(&key)?;
        if address != file.address || pub_key != file.pub_key {
            return Err(corrupt(
                "private key does not match the stored address".into(),
            ));
        }
        Ok((sk, key, secret))
    }

    /// All keys, sorted by name. Files that are not key files are skipped;
    /// unreadable key files are an error.
    pub(crate) fn list(&self) -> Result<Vec<KeyInfo>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(io("cannot read", &self.dir))? {
            let entry = entry.map_err(io("cannot read", &self.dir))?;
            let file_name = entry.file_name();
            let Some(stem) = file_name.to_str().and_then(|s| s.strip_suffix(".json")) else {
                continue;
            };
            if validate_name(stem).is_ok() {
                names.push(stem.to_string());
            }
        }
        names.sort();
        names.iter().map(|n| self.show(n)).collect()
    }

    /// The public description of one key (no passphrase needed).
    pub(crate) fn show(&self, name: &str) -> Result<KeyInfo> {
        let (_, file) = self.load(name)?;
        Ok(KeyInfo {
            name: file.name,
            address: file.address,
            pub_key_hex: file.pub_key,
        })
    }

    /// Deletes a key file. Without its mnemonic or an export the key is lost.
    pub(crate) fn delete(&self, name: &str) -> Result<()> {
        let (path, _) = self.load(name)?;
        fs::remove_file(&path).map_err(io("cannot delete", &path))
    }

    /// Decrypts and returns the key's secret for backup: the mnemonic when the
    /// key was created or imported from one, otherwise the 32-byte private
    /// key as 64 hex characters. Either form is accepted by `keys import`.
    pub(crate) fn export(&self, name: &str, passphrase: &str) -> Result<String> {
        let (_, key, secret) = self.decrypt(name, passphrase)?;
        Ok(match &secret.mnemonic {
            Some(m) => m.clone(),
            None => hex::encode(key.as_slice()),
        })
    }

    /// Decrypts the key and returns it ready to sign transactions
    /// (`comrade_app::client::sign_tx` takes this k256 type).
    pub(crate) fn signing_key(
        &self,
        name: &str,
        passphrase: &str,
    ) -> Result<k256::ecdsa::SigningKey> {
        let (_, key, _) = self.decrypt(name, passphrase)?;
        k256::ecdsa::SigningKey::from_slice(key.as_slice())
            .map_err(|e| KeyringError::InvalidPrivateKey(e.to_string()))
    }

    /// Like [`Keyring::signing_key`], as cosmrs' signing key type.
    #[allow(dead_code)] // API for cosmrs-based signing
    pub(crate) fn cosmrs_signing_key(&self, name: &str, passphrase: &str) -> Result<SigningKey> {
        Ok(self.decrypt(name, passphrase)?.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABANDON: &str = "abandon abandon abandon abandon abandon abandon abandon abandon \
                           abandon abandon abandon about";
    /// The well-known Cosmos test vector for [`ABANDON`] at m/44'/118'/0'/0/0.
    const ABANDON_COSMOS: &str = "cosmos19rl4cm2hmr8afy4kldpxz3fka4jguq0auqdal4";

    fn keyring() -> (tempfile::TempDir, Keyring) {
        let dir = tempfile::tempdir().unwrap();
        let kr = Keyring::open(dir.path())
            .unwrap()
            .with_kdf_params(KdfParams::INSECURE_FAST);
        (dir, kr)
    }

    fn same_bytes_as_cosmos(address: &str) {
        let ours: comrade_primitives::Address = address.parse().unwrap();
        let theirs: cosmrs::AccountId = ABANDON_COSMOS.parse().unwrap();
        assert_eq!(theirs.prefix(), "cosmos");
        assert_eq!(ours.as_bytes().as_slice(), theirs.to_bytes().as_slice());
    }

    #[test]
    fn known_mnemonic_gives_the_cosmos_test_vector_address() {
        let (_d, kr) = keyring();
        let info = kr.import_mnemonic("abandon", ABANDON, "pw").unwrap();
        assert!(info.address.starts_with("comrade1"));
        same_bytes_as_cosmos(&info.address);
        // the address also parses as a chain address
        let a: comrade_primitives::Address = info.address.parse().unwrap();
        assert_eq!(a.to_string(), info.address);
        assert_eq!(address_from_mnemonic(ABANDON).unwrap(), info.address);
        // and both signing key types agree
        let sk = kr.cosmrs_signing_key("abandon", "pw").unwrap();
        assert_eq!(
            sk.public_key().account_id("comrade").unwrap().to_string(),
            info.address
        );
        assert_eq!(hex::encode(sk.public_key().to_bytes()), info.pub_key_hex);
        assert_eq!(
            k256_pub_hex(&kr.signing_key("abandon", "pw").unwrap()),
            info.pub_key_hex
        );
    }

    fn k256_pub_hex(k: &k256::ecdsa::SigningKey) -> String {
        hex::encode(k.verifying_key().to_encoded_point(true).as_bytes())
    }

    #[test]
    fn direct_bip32_derivation_agrees() {
        let m = parse_mnemonic(ABANDON).unwrap();
        let xprv = XPrv::derive_from_path(m.to_seed(""), &HD_PATH.parse().unwrap()).unwrap();
        let pk = xprv.private_key().verifying_key().to_encoded_point(true);
        let (_, info_addr, info_pk) = public_parts(&derive_private_key(&m).unwrap()).unwrap();
        assert_eq!(hex::encode(pk.as_bytes()), info_pk);
        same_bytes_as_cosmos(&info_addr);
    }

    #[test]
    fn add_then_signing_key_gives_the_same_address() {
        let (_d, kr) = keyring();
        let (info, mnemonic) = kr.add("alice", "correct horse").unwrap();
        assert_eq!(mnemonic.split_whitespace().count(), MNEMONIC_WORDS);
        let sk = kr.cosmrs_signing_key("alice", "correct horse").unwrap();
        assert_eq!(
            sk.public_key().account_id("comrade").unwrap().to_string(),
            info.address
        );
        let k = kr.signing_key("alice", "correct horse").unwrap();
        assert_eq!(k256_pub_hex(&k), info.pub_key_hex);
        assert_eq!(kr.show("alice").unwrap(), info);
        assert_eq!(address_from_mnemonic(&mnemonic).unwrap(), info.address);
        assert_eq!(kr.export("alice", "correct horse").unwrap(), mnemonic);
        assert!(sk.sign(b"hello").is_ok());
    }

    #[test]
    fn file_is_private_and_holds_no_plaintext_secret() {
        let (_d, kr) = keyring();
        let info = kr.import_mnemonic("bob", ABANDON, "pw").unwrap();
        let path = kr.dir().join("bob.json");
        let text = fs::read_to_string(&path).unwrap();
        assert!(!text.contains("abandon"));
        let key = hex::encode(*derive_private_key(&parse_mnemonic(ABANDON).unwrap()).unwrap());
        assert!(!text.contains(&key));
        assert!(text.contains(&info.address));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            let mode = fs::metadata(kr.dir()).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700);
        }
        // no temp files left behind
        assert_eq!(fs::read_dir(kr.dir()).unwrap().count(), 1);
    }

    #[test]
    fn wrong_passphrase_fails_clearly() {
        let (_d, kr) = keyring();
        kr.add("carol", "right").unwrap();
        let err = kr.signing_key("carol", "wrong").err().unwrap();
        assert!(matches!(err, KeyringError::WrongPassphrase(ref n) if n == "carol"));
        assert!(
            err.to_string()
                .starts_with("wrong passphrase for key \"carol\"")
        );
        assert!(matches!(
            kr.export("carol", "wrong"),
            Err(KeyringError::WrongPassphrase(_))
        ));
    }

    #[test]
    fn tampering_is_detected() {
        let (_d, kr) = keyring();
        let other = kr.import_mnemonic("other", ABANDON, "pw").unwrap();
        kr.add("dave", "pw").unwrap();
        let path = kr.dir().join("dave.json");
        let original: KeyFile = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();

        // flip one ciphertext bit
        let mut f = original.clone();
        let mut ct = base64::engine::general_purpose::STANDARD
            .decode(&f.ciphertext)
            .unwrap();
        ct[0] ^= 1;
        f.ciphertext = base64::engine::general_purpose::STANDARD.encode(ct);
        fs::write(&path, serde_json::to_vec(&f).unwrap()).unwrap();
        assert!(matches!(
            kr.signing_key("dave", "pw"),
            Err(KeyringError::WrongPassphrase(_))
        ));

        // swap in another address (associated data)
        let mut f = original.clone();
        f.address = other.address.clone();
        fs::write(&path, serde_json::to_vec(&f).unwrap()).unwrap();
        assert!(kr.signing_key("dave", "pw").is_err());

        // garbage file
        fs::write(&path, b"{").unwrap();
        assert!(matches!(kr.show("dave"), Err(KeyringError::Corrupt { .. })));

        // restored file works again
        fs::write(&path, serde_json::to_vec(&original).unwrap()).unwrap();
        assert!(kr.signing_key("dave", "pw").is_ok());
    }

    #[test]
    fn list_is_sorted_and_delete_removes() {
        let (_d, kr) = keyring();
        for n in ["zed", "alice", "Mallory", "bob-2", "a_1"] {
            kr.add(n, "pw").unwrap();
        }
        fs::write(kr.dir().join("README.txt"), b"not a key").unwrap();
        let names: Vec<_> = kr.list().unwrap().into_iter().map(|k| k.name).collect();
        assert_eq!(names, ["Mallory", "a_1", "alice", "bob-2", "zed"]);
        kr.delete("alice").unwrap();
        assert!(matches!(kr.show("alice"), Err(KeyringError::NotFound(_))));
        assert!(matches!(kr.delete("alice"), Err(KeyringError::NotFound(_))));
        assert_eq!(kr.list().unwrap().len(), 4);
    }

    #[test]
    fn rejects_bad_names_duplicates_empty_passphrase_and_bad_mnemonics() {
        let (_d, kr) = keyring();
        for bad in ["", "a b", "../x", "x.json", "é", &"a".repeat(65)] {
            assert!(
                matches!(kr.add(bad, "pw"), Err(KeyringError::InvalidName(_))),
                "{bad:?}"
            );
        }
        assert!(kr.add(&"a".repeat(64), "pw").is_ok());
        kr.add("eve", "pw").unwrap();
        assert!(matches!(
            kr.add("eve", "pw"),
            Err(KeyringError::AlreadyExists(_))
        ));
        assert!(matches!(
            kr.import_mnemonic("eve", ABANDON, "pw"),
            Err(KeyringError::AlreadyExists(_))
        ));
        assert!(matches!(
            kr.add("frank", ""),
            Err(KeyringError::EmptyPassphrase)
        ));
        assert!(matches!(
            kr.import_mnemonic("frank", "abandon abandon abandon", "pw"),
            Err(KeyringError::InvalidMnemonic(_))
        ));
        let bad_checksum = ABANDON.replace("about", "abandon");
        assert!(matches!(
            kr.import_mnemonic("frank", &bad_checksum, "pw"),
            Err(KeyringError::InvalidMnemonic(_))
        ));
        assert!(matches!(kr.show("frank"), Err(KeyringError::NotFound(_))));
    }

    #[test]
    fn private_key_export_import_round_trip() {
        let (_d, kr) = keyring();
        let key = hex::encode(*derive_private_key(&parse_mnemonic(ABANDON).unwrap()).unwrap());
        let info = kr.import_private_key("raw", &key, "pw").unwrap();
        same_bytes_as_cosmos(&info.address);
        assert_eq!(kr.export("raw", "pw").unwrap(), key);
        assert!(matches!(
            kr.import_private_key("raw2", "00", "pw"),
            Err(KeyringError::InvalidPrivateKey(_))
        ));
        assert!(matches!(
            kr.import_private_key("raw2", &"00".repeat(32), "pw"),
            Err(KeyringError::InvalidPrivateKey(_))
        ));
    }

    #[test]
    fn private_key_one_gives_hash160_of_the_generator() {
        // hash160(G) = 751e76e8…3bd6, the well-known BIP173 test vector.
        let (_d, kr) = keyring();
        let info = kr
            .import_private_key("one", &format!("{:064x}", 1), "pw")
            .unwrap();
        assert_eq!(
            info.pub_key_hex,
            "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
        );
        let a: comrade_primitives::Address = info.address.parse().unwrap();
        assert_eq!(
            hex::encode(a.as_bytes()),
            "751e76e8199196d454941c45d1b3a323f1433bd6"
        );
    }

    #[test]
    fn mnemonic_whitespace_is_normalised() {
        let messy = format!("  {}\n", ABANDON.replace(' ', "\t "));
        assert_eq!(
            address_from_mnemonic(&messy).unwrap(),
            address_from_mnemonic(ABANDON).unwrap()
        );
    }

    #[test]
    fn default_kdf_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let kr = Keyring::open(dir.path()).unwrap();
        let info = kr.import_mnemonic("slow", ABANDON, "pw").unwrap();
        let sk = kr.signing_key("slow", "pw").unwrap();
        assert_eq!(k256_pub_hex(&sk), info.pub_key_hex);
    }
}
