//! Identity for Gradient: who signs, apart from any chain.
//!
//! - [`Keypair`] and [`AccountId`]: sr25519 keys with Bittensor's conventions (SS58 addresses,
//!   the `substrate` signing context, `//Name` dev keys); [`Signature`] is what they sign.
//! - [`Wallet`]: `btcli` wallet files (hotkeys in clear, coldkeys `$NACL`-encrypted), so one
//!   wallet serves btcli and gradient alike.
//!
//! Stores sign envelopes and chains sign calls with these keys; neither needs the other to do
//! so, which is why identity is its own crate.
//!
//! ```
//! use gradient_identity::Keypair;
//! let hotkey = Keypair::dev("miner-1");
//! let signature = hotkey.sign(b"a submission");
//! assert!(hotkey.account().verify(b"a submission", &signature).is_ok());
//! println!("{}", hotkey.account());
//! ```
pub mod error;
pub mod keys;
mod nacl;
pub mod wallet;

pub use error::{KeyError, WalletError};
pub use keys::{AccountId, Keypair, Signature};
pub use wallet::{Wallet, default_wallet_path, list_wallets};
