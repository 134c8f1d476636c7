//! The chain for Gradient: what a subnet reads and writes, and the embedded chain devnets run.
//!
//! - [`Chain`]: the subnet's view of a chain as nodes use it, async: blocks and their hashes,
//!   the [`Metagraph`], commitments, weights and epoch results. Implemented here by the
//!   embedded chain and by subtensor in `gradient-subtensor`.
//! - [`EmbeddedChain`]: the embedded chain's blocking interface. State changes are
//!   [`SignedCall`]s with a nonce, signed by the hotkey they act for.
//! - [`LocalChain`]: the embedded chain, one SQLite file shared by every process of a devnet;
//!   its epochs run [`yuma`] consensus in subtensor's fixed-point arithmetic.
//! - [`serve`] and [`RemoteChain`]: the same chain over HTTP for devnets that span hosts.
//! - Keys and wallets are `gradient-identity`'s, re-exported here ([`Keypair`], [`Wallet`]).
//!
//! ```no_run
//! use gradient_chain::{EmbeddedChain, Keypair, LocalChain, SubnetParams};
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
pub mod local;
pub mod types;
pub mod yuma;

pub use call::{Call, SignedCall, weights_to_u16};
pub use chain::{Chain, EmbeddedChain, connect, connect_embedded};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::ChainError;
pub use gradient_identity::{
    AccountId, KeyError, Keypair, Signature, Wallet, WalletError, default_wallet_path, keys,
    list_wallets, wallet,
};
pub use http::{ChainServer, RemoteChain, serve};
pub use local::LocalChain;
pub use types::{
    Commitment, EpochNeuron, EpochRecord, Head, MAX_COMMITMENT, Metagraph, Neuron, Receipt,
    SubnetParams, Uid,
};
