//! Identity and chain for Gradient.
//!
//! - [`Keypair`] and [`AccountId`]: sr25519 keys with Bittensor's conventions.
//! - [`Wallet`]: the `btcli` wallet files (hotkeys in clear, coldkeys `$NACL`-encrypted).
pub mod error;
pub mod keys;
mod nacl;
pub mod wallet;

pub use error::{ChainError, KeyError, WalletError};
pub use keys::{AccountId, Keypair, Signature};
pub use wallet::{Wallet, list_wallets};
