//! What every network node is: a hotkey on a chain with a bucket, following one run.

use std::path::PathBuf;
use std::sync::Arc;

use gradient_chain::{AccountId, Chain, Keypair, Metagraph, Uid};
use gradient_store::Store;

use crate::context::RunContext;
use crate::error::NodeError;
use crate::network::{self, Buckets, Fetched};

pub struct Peer {
    pub ctx: Arc<RunContext>,
    pub key: Keypair,
    pub coldkey: AccountId,
    pub chain: Arc<dyn Chain>,
    /// The node's own bucket, written with its credentials.
    pub store: Store,
    /// What others need to read that bucket (read-only credentials), as committed on chain.
    pub commitment: Vec<u8>,
    /// The owner's store, for the genesis master.
    pub owner_store: Store,
    pub owner: AccountId,
    /// Where progress is saved between restarts.
    pub state_dir: PathBuf,
    /// Stop after this window (devnets run a fixed number).
    pub last_window: Option<u64>,
}

impl Peer {
    /// Registers the hotkey if needed and commits the bucket if the chain holds another one.
    pub fn join(&self) -> Result<Uid, NodeError> {
        let uid = self.chain.register(&self.key, self.coldkey)?;
        let committed = self.chain.commitment(&self.key.account())?;
        if committed.map(|c| c.data) != Some(self.commitment.clone()) {
            self.chain.commit(&self.key, &self.commitment)?;
        }
        Ok(uid)
    }

    /// Master `index` as every node follows it: the owner's genesis, then the publisher's (the
    /// permitted validator with the most stake in `graph`). `None` until it is published.
    pub async fn master(
        &self,
        buckets: &Buckets,
        graph: &Metagraph,
        index: u64,
    ) -> Result<Option<Fetched>, NodeError> {
        if index == 0 {
            return network::read_master(&self.ctx, &self.owner_store, 0, self.owner).await;
        }
        let Some(publisher) = network::publisher(graph) else {
            return Ok(None);
        };
        let store = if publisher == self.key.account() {
            Some(self.store.clone())
        } else {
            buckets.of(self.chain.as_ref(), &publisher).await?
        };
        match store {
            Some(store) => network::read_master(&self.ctx, &store, index, publisher).await,
            None => Ok(None),
        }
    }
}
