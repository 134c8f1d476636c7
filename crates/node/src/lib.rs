//! The nodes of a Gradient network, joining the model, data, codec, store and chain crates.
//!
//! - [`owner`]: publishes the run config and the genesis [`Master`].
//! - [`miner`]: trains a window's inner steps on its assigned pages, compresses the delta with
//!   error feedback, and publishes it signed.
//! - [`validator`]: fetches and verifies every submission, measures it against the base master,
//!   scores it, and makes the next master from the best.
//! - [`RunContext`]: what every node derives from the run config.
pub mod context;
pub mod corpus;
pub mod error;
pub mod master;
pub mod miner;
pub mod miner_node;
pub mod network;
pub mod owner;
pub mod peer;
pub mod quality;
pub mod replay;
pub mod validator;
pub mod validator_node;
pub mod watch;

pub use context::RunContext;
pub use error::NodeError;
pub use master::{Master, master_hash};
pub use peer::Peer;
