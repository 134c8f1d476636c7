//! Hostile miners, for devnets and tests, kept out of the production miner. Each [`Kind`] is a
//! different way to try to be paid without training one's own pages; a [`HostileMiner`] runs
//! one of them in a node's loop against a real validator, so the end-to-end tests show each
//! earns nothing. docs/protocol.md has the threat table: each kind, the rule that defeats it,
//! and the test.
//!
//! ```no_run
//! # async fn demo(peer: gradient_node::Peer) -> Result<(), gradient_node::NodeError> {
//! use gradient_adversary::{HostileMiner, Kind};
//! let miner = HostileMiner { peer, kind: "inflate".parse::<Kind>().unwrap() };
//! miner.run(std::sync::Arc::new(|event| println!("{event:?}"))).await
//! # }
//! ```

pub mod craft;
mod hostile;
mod kind;

pub use hostile::HostileMiner;
pub use kind::Kind;
