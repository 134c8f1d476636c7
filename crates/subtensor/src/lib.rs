//! The real Bittensor chain for Gradient: a subtensor client on subxt's dynamic API.
//!
//! - [`Endpoint`]: which node, from `--subtensor.network` / `--subtensor.chain_endpoint`.
//! - [`Subtensor`]: one connection; every answer bounded in time ([`Timeouts`]), every call
//!   waited for until finalized, a refusal decoded to the pallet's error by name
//!   ([`SubtensorError::Refused`]). Call and storage shapes come from the metadata the node
//!   serves, so one client reads spec 218 and later runtimes. The head is read once per
//!   block, and each block's runtime version comes from the node's cache ([`config`]), not
//!   from a runtime call: nodes poll the head several times a second.
//! - Subnet calls on it: `register_network`, `burned_register`, `set_commitment` /
//!   `commitment` (our bucket commitment in one `Raw` field), `set_weights`, `neurons`
//!   ([`NeuronLite`]), and `sudo` for test chains.
//! - [`Hyperparam`]: the subnet owner's `AdminUtils` settings ([`Subtensor::set_hyperparam`]).
//! - Commit-reveal: [`Subtensor::commit_timelocked_weights`] seals weights to a drand round
//!   ([`commit_reveal`], [`gradient_timelock`]); the chain opens them itself.
//! - [`SubtensorChain`]: the nodes' `gradient_chain::Chain` on one subnet of it: metagraph,
//!   commitments, weights (sealed where commit-reveal is on), block hashes and timestamps from
//!   the chain, reads that reconnect with backoff.
//! - Keys are the wallets' own sr25519 [`gradient_chain::Keypair`]s ([`signer::Signer`]).
//!
//! ```no_run
//! use gradient_chain::Keypair;
//! use gradient_subtensor::{Endpoint, Subtensor, Timeouts};
//! # async fn run() -> Result<(), gradient_subtensor::SubtensorError> {
//! let endpoint = Endpoint::from_flags(Some("local"), None)?.expect("a network was named");
//! let chain = Subtensor::connect(&endpoint, Timeouts::default()).await?;
//! let head = chain.block(None).await?;
//! let hotkey = Keypair::dev("miner-1");
//! let uid = chain.uid(1, &hotkey.account()).await?;
//! println!("block {} at {} ms: uid {uid:?}", head.number, head.timestamp_ms);
//! # Ok(()) }
//! ```
pub mod chain;
pub mod client;
pub mod commit_reveal;
pub mod config;
pub mod error;
pub mod hyperparams;
pub mod network;
pub mod neuron;
pub mod signer;
pub mod subnet;
pub mod value;

pub use chain::SubtensorChain;
pub use client::{Block, CommittedData, Events, Subtensor, Timeouts};
pub use commit_reveal::{RevealTiming, WeightsPayload};
pub use error::SubtensorError;
pub use hyperparams::Hyperparam;
pub use network::Endpoint;
pub use subnet::{Mechanism, NeuronLite, Weight};
