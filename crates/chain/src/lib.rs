//! Identity and chain for Gradient.
//!
//! - [`Keypair`] and [`AccountId`]: sr25519 keys with Bittensor's conventions; [`Wallet`] reads
//!   and writes `btcli` wallet files (hotkeys in clear, coldkeys `$NACL`-encrypted).
//! - [`Chain`]: the subnet's view of a chain: blocks, the [`Metagraph`], commitments, weights
//!   and epoch results. State changes are [`SignedCall`]s, signed by the hotkey they act for.
//! - [`LocalChain`]: the embedded chain, one SQLite file shared by every process of a devnet;
//!   its epochs run [`yuma`] consensus in subtensor's fixed-point arithmetic.
//! - [`serve`] and [`RemoteChain`]: the same chain over HTTP for devnets that span hosts.
//!
//! ```no_run
//! use gradient_chain::{Chain, Keypair, LocalChain, SubnetParams};
//! # fn main() -> Result<(), gradient_chain::ChainError> {
//! let chain = LocalChain::open_or_create("devnet/chain.sqlite".as_ref(), &SubnetParams::devnet(0))?;
//! let hotkey = Keypair::dev("miner-1");
//! let uid = chain.register(&hotkey, Keypair::dev("owner").account())?;
//! chain.commit(&hotkey, b"file:///tmp/bucket")?;
//! println!("uid {uid} at block {}", chain.head()?.block);
//! # Ok(()) }
//! ```
pub mod call;
pub mod chain;
pub mod clock;
pub mod error;
pub mod fixed;
pub mod http;
pub mod keys;
pub mod local;
mod nacl;
pub mod types;
pub mod wallet;
pub mod yuma;

pub use call::{Call, SignedCall, weights_to_u16};
pub use chain::{Chain, connect};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{ChainError, KeyError, WalletError};
pub use http::{ChainServer, RemoteChain, serve};
pub use keys::{AccountId, Keypair, Signature};
pub use local::LocalChain;
pub use types::{
    Commitment, EpochNeuron, EpochRecord, Head, MAX_COMMITMENT, Metagraph, Neuron, Receipt,
    SubnetParams, Uid,
};
pub use wallet::{Wallet, default_wallet_path, list_wallets};
