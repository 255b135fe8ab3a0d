//! `comrade keys …`: manage the encrypted file keyring (see [`crate::keyring`]).
//!
//! The passphrase comes from the environment variable
//! `COMRADE_KEYRING_PASSPHRASE` when it is set (for scripts), otherwise from a
//! hidden prompt on the terminal (asked twice when a key is created). Secrets
//! are printed only by `add` (the new mnemonic, once) and `export`.

use std::io::{BufRead as _, IsTerminal as _, Read as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use crate::keyring::{KeyInfo, Keyring, PASSPHRASE_ENV};

/// Key management commands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum KeysCommand {
    /// Create a new key from a fresh 24-word BIP39 mnemonic, or recover one
    /// with --recover.
    ///
    /// Keys are secp256k1 on the Cosmos HD path m/44'/118'/0'/0/0; addresses
    /// are bech32 `comrade1…`. The key is stored encrypted (Argon2id +
    /// XChaCha20-Poly1305) in the keyring/ directory of the home directory. The new mnemonic is
    /// printed once: write it down, it is the only way to recover the key
    /// without the keyring file and passphrase.
    Add {
        /// Key name: 1-64 characters from a-z, A-Z, 0-9, '_' and '-'.
        name: String,
        /// Recover the key from an existing mnemonic instead of generating
        /// one; the mnemonic is read from stdin when it is not a terminal,
        /// otherwise from a hidden prompt.
        #[arg(long)]
        recover: bool,
    },
    /// List all keys (name, address, public key), sorted by name.
    List,
    /// Show one key's address and public key (no passphrase needed).
    Show {
        /// Key name.
        name: String,
        /// Print only the bech32 address.
        #[arg(long, short = 'a')]
        address: bool,
    },
    /// Delete a key file. Without its mnemonic the key is lost for good.
    Delete {
        /// Key name.
        name: String,
        /// Do not ask for confirmation (required when stdin is not a terminal).
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Print a key's secret for backup: its mnemonic, or the hex private key
    /// if it was imported from one. Needs the passphrase.
    Export {
        /// Key name.
        name: String,
    },
    /// Import a key from a BIP39 mnemonic or a 64-hex-character private key
    /// (what `export` prints).
    ///
    /// The secret is read from --file, else from stdin when it is not a
    /// terminal, else from a hidden prompt.
    Import {
        /// Key name for the imported key.
        name: String,
        /// File holding the mnemonic or hex private key.
        #[arg(long, visible_alias = "mnemonic-file", value_name = "PATH")]
        file: Option<PathBuf>,
    },
}

/// Runs a `keys` subcommand against the keyring in `<home>/keyring`.
/// With `json`, results are printed as JSON objects (or an array for `list`).
pub(crate) fn run(cmd: KeysCommand, home: &Path, json: bool) -> anyhow::Result<()> {
    let keyring = Keyring::open(home)?;
    match cmd {
        KeysCommand::Add { name, recover } => {
            crate::keyring::validate_name(&name)?;
            if keyring.show(&name).is_ok() {
                bail!("key {name:?} already exists; delete it first or choose another name");
            }
            if recover {
                let mnemonic = read_secret("Enter your BIP39 mnemonic: ", None)?;
                let pass = new_passphrase()?;
                let info = keyring.import_mnemonic(&name, &mnemonic, &pass)?;
                print_info(&info, json)?;
            } else {
                let pass = new_passphrase()?;
                let (info, mnemonic) = keyring.add(&name, &pass)?;
                if json {
                    let mut v = serde_json::to_value(&info)?;
                    v["mnemonic"] = serde_json::Value::String(mnemonic);
                    println!("{}", serde_json::to_string_pretty(&v)?);
                } else {
                    print_info(&info, false)?;
                    println!();
                    println!(
                        "**Important** write this mnemonic phrase in a safe place.\n\
                         It is the only way to recover your account if you ever forget your \
                         passphrase or lose the keyring file.\n"
                    );
                    println!("{mnemonic}");
                }
            }
        }
        KeysCommand::List => {
            let keys = keyring.list()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&keys)?);
            } else if keys.is_empty() {
                eprintln!("no keys in {}", keyring.dir().display());
            } else {
                let width = keys.iter().map(|k| k.name.len()).max().unwrap_or(0);
                for k in keys {
                    println!("{:width$}  {}  {}", k.name, k.address, k.pub_key_hex);
                }
            }
        }
        KeysCommand::Show { name, address } => {
            let info = keyring.show(&name)?;
            if address {
                if json {
                    println!("{}", serde_json::json!({ "address": info.address }));
                } else {
                    println!("{}", info.address);
                }
            } else {
                print_info(&info, json)?;
            }
        }
        KeysCommand::Delete { name, yes } => {
            let info = keyring.show(&name)?;
            if !yes {
                if !std::io::stdin().is_terminal() {
                    bail!("refusing to delete key {name:?} without confirmation: pass --yes");
                }
                eprint!(
                    "Delete key {name:?} ({})? Without its mnemonic it cannot be recovered. [y/N] ",
                    info.address
                );
                std::io::stderr().flush()?;
                let mut answer = String::new();
                std::io::stdin().lock().read_line(&mut answer)?;
                if !matches!(answer.trim(), "y" | "Y" | "yes") {
                    bail!("aborted: key {name:?} was not deleted");
                }
            }
            keyring.delete(&name)?;
            if json {
                println!("{}", serde_json::json!({ "deleted": name }));
            } else {
                println!("deleted key {name:?} ({})", info.address);
            }
        }
        KeysCommand::Export { name } => {
            keyring.show(&name)?;
            let pass = passphrase(&format!("Passphrase for key {name:?}: "), false)?;
            let secret = keyring.export(&name, &pass)?;
            eprintln!("**Warning** anyone who sees the following secret controls this account.");
            if json {
                println!("{}", serde_json::json!({ "name": name, "secret": secret }));
            } else {
                println!("{secret}");
            }
        }
        KeysCommand::Import { name, file } => {
            crate::keyring::validate_name(&name)?;
            if keyring.show(&name).is_ok() {
                bail!("key {name:?} already exists; delete it first or choose another name");
            }
            let secret = read_secret("Enter the mnemonic or hex private key: ", file.as_deref())?;
            let pass = new_passphrase()?;
            let is_hex_key = secret.len() == 64 && secret.bytes().all(|b| b.is_ascii_hexdigit());
            let info = if is_hex_key {
                keyring.import_private_key(&name, &secret, &pass)?
            } else {
                keyring.import_mnemonic(&name, &secret, &pass)?
            };
            print_info(&info, json)?;
        }
    }
    Ok(())
}

fn print_info(info: &KeyInfo, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(info)?);
    } else {
        println!("name:    {}", info.name);
        println!("address: {}", info.address);
        println!("pubkey:  {}", info.pub_key_hex);
    }
    Ok(())
}

/// The keyring passphrase: `COMRADE_KEYRING_PASSPHRASE` if set, else a hidden
/// prompt on the terminal (twice when `confirm`). Empty passphrases are
/// rejected.
pub(crate) fn passphrase(prompt: &str, confirm: bool) -> anyhow::Result<String> {
    if let Ok(p) = std::env::var(PASSPHRASE_ENV) {
        if p.is_empty() {
            bail!("{PASSPHRASE_ENV} is set but empty: the keyring needs a non-empty passphrase");
        }
        return Ok(p);
    }
    let hint =
        || format!("cannot read the passphrase (set {PASSPHRASE_ENV} when not on a terminal)");
    let p = rpassword::prompt_password(prompt).with_context(hint)?;
    if p.is_empty() {
        bail!("empty passphrase: the keyring needs a non-empty passphrase");
    }
    if confirm {
        let again = rpassword::prompt_password("Repeat the passphrase: ").with_context(hint)?;
        if again != p {
            bail!("the passphrases do not match");
        }
    }
    Ok(p)
}

fn new_passphrase() -> anyhow::Result<String> {
    passphrase("Enter a passphrase to encrypt the key: ", true)
}

/// Reads a secret from `file`, else from stdin when it is not a terminal,
/// else from a hidden prompt; surrounding whitespace is trimmed.
fn read_secret(prompt: &str, file: Option<&Path>) -> anyhow::Result<String> {
    let raw = if let Some(path) = file {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?
    } else if !std::io::stdin().is_terminal() {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("cannot read the secret from stdin")?;
        s
    } else {
        rpassword::prompt_password(prompt).context("cannot read the secret")?
    };
    let secret = raw.trim().to_string();
    if secret.is_empty() {
        bail!("no mnemonic or key given");
    }
    Ok(secret)
}
