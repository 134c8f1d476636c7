//! Errors of keys and wallet files: what went wrong, with the file or key, and what to do.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("invalid address {address:?}: {why}")]
    Address { address: String, why: String },
    #[error("invalid hex {0:?}...")]
    Hex(String),
    #[error("invalid mnemonic: {0}")]
    Mnemonic(String),
    #[error("no randomness from the operating system: {0}")]
    Random(String),
    #[error("signature does not verify for {signer}")]
    BadSignature { signer: String },
}

#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    #[error("{path}: not found; create it with `gradient wallet create` or `btcli wallet create`")]
    Missing { path: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: malformed key file: {why}")]
    Malformed { path: PathBuf, why: String },
    #[error("{path}: wrong password (the coldkey did not decrypt)")]
    WrongPassword { path: PathBuf },
    #[error(
        "{path}: encrypted with an old format ({format}); convert it with `btcli wallet update`"
    )]
    LegacyEncryption { path: PathBuf, format: &'static str },
    #[error("{path}: already exists; pass --overwrite to replace it")]
    Exists { path: PathBuf },
    #[error(
        "{path}: the coldkey is encrypted and no password was given (set {env} or run interactively)"
    )]
    NoPassword { path: PathBuf, env: String },
    #[error("invalid wallet or hotkey name {0:?}: use letters, digits, '-', '_' or '.'")]
    Name(String),
    #[error("key derivation failed: {0}")]
    Kdf(String),
    #[error(transparent)]
    Key(#[from] KeyError),
}
