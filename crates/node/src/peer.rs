//! What every network node is: a hotkey on a chain with a bucket, following one run.

use std::path::PathBuf;
use std::sync::Arc;

use gradient_chain::{AccountId, Chain, Keypair, Metagraph, Uid};
use gradient_store::{Reach, Store};

use crate::context::RunContext;
use crate::error::NodeError;
use crate::network::{self, Buckets, Fetched};
use crate::replay;
use gradient_store::StoreError;

/// How a node came by the master it follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Synced {
    /// It already held it.
    Held,
    /// From the one before and the published aggregate's submissions, hash checked.
    Replayed,
    /// The whole master, from the publisher.
    Downloaded,
}

/// A master a node holds, by index.
#[derive(Clone)]
pub struct Held {
    pub index: u64,
    pub fetched: Fetched,
}

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
    /// Which other nodes' commitments this node follows (`file://` only on a local network).
    pub reach: Reach,
}

impl Peer {
    /// Registers the hotkey if needed and commits the bucket if the chain holds another one.
    pub async fn join(&self) -> Result<Uid, NodeError> {
        let uid = self.chain.register(&self.key, self.coldkey).await?;
        let committed = self.chain.commitment(&self.key.account()).await?;
        if committed.map(|c| c.data) != Some(self.commitment.clone()) {
            self.chain.commit(&self.key, &self.commitment).await?;
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

    /// Master `index`, the cheapest way: the one held if it is that one; replayed from the one
    /// held if that is master `index - 1` (see [`replay`]); downloaded otherwise, or when the
    /// replay fails (logged). `None` until the publisher has published it.
    pub async fn follow(
        &self,
        buckets: &Buckets,
        graph: &Metagraph,
        index: u64,
        held: Option<&Held>,
    ) -> Result<Option<(Fetched, Synced)>, NodeError> {
        match held {
            Some(h) if h.index == index => return Ok(Some((h.fetched.clone(), Synced::Held))),
            Some(h) if h.index + 1 == index => {
                match self.replay(buckets, graph, &h.fetched, index).await {
                    Ok(Some(fetched)) => return Ok(Some((fetched, Synced::Replayed))),
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(index, "replaying the master failed, downloading it: {e}")
                    }
                }
            }
            _ => {}
        }
        Ok(self
            .master(buckets, graph, index)
            .await?
            .map(|f| (f, Synced::Downloaded)))
    }

    /// Master `index` from master `index - 1` and the publisher's aggregate of window
    /// `index - 1`; `None` while that aggregate is not published.
    async fn replay(
        &self,
        buckets: &Buckets,
        graph: &Metagraph,
        previous: &Fetched,
        index: u64,
    ) -> Result<Option<Fetched>, NodeError> {
        let Some(publisher) = network::publisher(graph) else {
            return Ok(None);
        };
        let store = if publisher == self.key.account() {
            self.store.clone()
        } else {
            match buckets.of(self.chain.as_ref(), &publisher).await? {
                Some(store) => store,
                None => return Ok(None),
            }
        };
        let record = match replay::read_record(&self.ctx, &store, index - 1, publisher).await {
            Ok(record) => record,
            Err(NodeError::Store(StoreError::NotFound { .. })) => return Ok(None),
            Err(e) => return Err(e),
        };
        let payloads =
            replay::fetch_submissions(&self.ctx, self.chain.as_ref(), buckets, &record).await?;
        let ctx = self.ctx.clone();
        let previous = previous.clone();
        tokio::task::spawn_blocking(move || replay::rebuild(&ctx, &previous, &record, &payloads))
            .await
            .map_err(|e| NodeError::Invalid(format!("replay thread: {e}")))?
            .map(Some)
    }
}
