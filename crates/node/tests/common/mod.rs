//! What the node tests share: file buckets, and peers on one chain.

use std::path::Path;
use std::sync::Arc;

use gradient_chain::{Chain, Keypair, LocalChain, ManualClock, SubnetParams};
use gradient_node::{Peer, RunContext};
use gradient_store::{BucketCommitment, Location, Reach, S3Credentials, Store, StoreConfig};

pub const BLOCK_MS: u64 = 1000;

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

pub fn bucket(root: &Path) -> (Store, Vec<u8>) {
    let location = Location::File {
        root: root.to_path_buf(),
    };
    let store = Store::open(&location, StoreConfig::default()).unwrap();
    let commitment = BucketCommitment::of(&location, &S3Credentials::default())
        .unwrap()
        .encode()
        .unwrap();
    (store, commitment)
}

pub fn peer(
    dir: &Path,
    name: &str,
    ctx: &Arc<RunContext>,
    chain: &Arc<dyn Chain>,
    owner: &Keypair,
) -> Peer {
    let (store, commitment) = bucket(&dir.join("buckets").join(name));
    Peer {
        ctx: ctx.clone(),
        key: Keypair::dev(name),
        coldkey: Keypair::dev(&format!("{name}-cold")).account(),
        chain: chain.clone(),
        store,
        commitment,
        owner_store: bucket(&dir.join("owner")).0,
        owner: owner.account(),
        state_dir: dir.join("state").join(name),
        last_window: None,
        reach: Reach::Local,
    }
}

/// An embedded chain whose clock the test sets by hand, starting from the real time (uploads
/// carry real timestamps), with `BLOCK_MS` blocks.
pub fn manual_chain(dir: &Path) -> (Arc<ManualClock>, SubnetParams, LocalChain) {
    let clock = Arc::new(ManualClock::new(now_ms()));
    let params = SubnetParams {
        block_time_ms: BLOCK_MS,
        ..SubnetParams::devnet(now_ms())
    };
    let local =
        LocalChain::open_with(&dir.join("chain.sqlite"), Some(&params), clock.clone()).unwrap();
    (clock, params, local)
}
