//! Where a node finds things on the network: buckets from chain commitments, masters from the
//! publishing validator (or, for the genesis, the owner), all verified.

use std::collections::HashMap;
use std::sync::Mutex;

use gradient_chain::{AccountId, Chain, Metagraph};
use gradient_store::{BucketCommitment, Expect, Kind, Reach, Store, StoreConfig, layout};

use crate::context::RunContext;
use crate::error::NodeError;
use crate::master::{Master, master_hash};

/// Stores opened from chain commitments, cached by commitment bytes; only commitments the
/// node's [`Reach`] allows are opened.
#[derive(Default)]
pub struct Buckets {
    reach: Reach,
    open: Mutex<HashMap<Vec<u8>, Store>>,
}

impl Buckets {
    pub fn new(reach: Reach) -> Self {
        Self {
            reach,
            open: Mutex::default(),
        }
    }

    /// The store a hotkey committed, if it committed one that parses.
    pub async fn of(
        &self,
        chain: &dyn Chain,
        hotkey: &AccountId,
    ) -> Result<Option<Store>, NodeError> {
        let Some(commitment) = chain.commitment(hotkey).await? else {
            return Ok(None);
        };
        self.open(&commitment.data).await.map(Some)
    }

    pub async fn open(&self, bytes: &[u8]) -> Result<Store, NodeError> {
        if let Some(store) = self
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(bytes)
        {
            return Ok(store.clone());
        }
        // Checked before a pointer is followed and again on what it points to.
        let commitment = BucketCommitment::decode(bytes)?;
        self.reach.check(&commitment)?;
        let commitment = commitment.resolve().await?;
        self.reach.check(&commitment)?;
        let location = commitment.location()?;
        let store = Store::open(&location, StoreConfig::default())?;
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(bytes.to_vec(), store.clone());
        Ok(store)
    }
}

/// The validator whose masters everyone follows: the permitted one with the most stake (the
/// lowest uid among equals).
pub fn publisher(graph: &Metagraph) -> Option<AccountId> {
    graph
        .neurons
        .iter()
        .filter(|n| n.is_validator())
        .max_by(|a, b| a.stake.cmp(&b.stake).then(b.uid.cmp(&a.uid)))
        .map(|n| n.hotkey)
}

/// A verified master and the hash submissions name it by.
#[derive(Clone)]
pub struct Fetched {
    pub master: Master,
    pub hash: [u8; 32],
}

/// Reads master `index` from `store`, signed by `signer`.
pub async fn read_master(
    ctx: &RunContext,
    store: &Store,
    index: u64,
    signer: AccountId,
) -> Result<Option<Fetched>, NodeError> {
    let key = layout::master(&ctx.id, index);
    if store.size(&key).await?.is_none() {
        return Ok(None);
    }
    let expect = Expect {
        kind: Some(Kind::Master),
        run: Some(ctx.id),
        window: Some(index),
        signer: Some(signer),
        base: None,
    };
    let opened = store
        .get_envelope(&key, &expect, ctx.run.limits.max_master_bytes)
        .await?;
    let master = Master::from_bytes(&key, &opened.payload, &ctx.specs)?;
    Ok(Some(Fetched {
        master,
        hash: master_hash(&opened.payload),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_file_commitment_is_refused_off_a_local_network_and_nothing_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("validator-disk").join("made-by-a-miner");
        let commitment = BucketCommitment::File {
            path: target.to_string_lossy().into_owned(),
        }
        .encode()
        .unwrap();
        let Err(err) = Buckets::new(Reach::Public).open(&commitment).await else {
            panic!("a file commitment opened on a public network");
        };
        let err = err.to_string();
        assert!(
            err.contains("local path") && err.contains("--local-network"),
            "{err}"
        );
        assert!(!dir.path().join("validator-disk").exists());
        // The default is the public network's rule.
        assert!(Buckets::default().open(&commitment).await.is_err());
        assert!(!dir.path().join("validator-disk").exists());
        // A devnet on one machine opens it.
        Buckets::new(Reach::Local).open(&commitment).await.unwrap();
        assert!(target.exists());
    }
}
