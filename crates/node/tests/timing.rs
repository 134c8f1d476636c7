//! Upload times come from what the validator saw while polling, not from the Last-Modified a
//! miner's bucket serves: a miner's server can write any time it likes. Here one miner uploads
//! on time and stamps its object far in the future; another uploads after the deadline and
//! stamps its object inside the window. The validator's polls decide both.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use gradient_chain::{Chain, EmbeddedChain, Keypair};
use gradient_codec::ErrorFeedback;
use gradient_model::Device;
use gradient_node::validator_node::ValidatorNode;
use gradient_node::{RunContext, miner, owner};
use gradient_protocol::RunConfig;
use gradient_protocol::scoring::Rejection;
use gradient_store::layout;

mod common;
use common::{BLOCK_MS, bucket, manual_chain, peer};

/// Sets the Last-Modified a file bucket serves for `key`, as a miner's own server would.
fn forge_last_modified(bucket_dir: &std::path::Path, key: &str, at: SystemTime) {
    let file = std::fs::File::options()
        .write(true)
        .open(bucket_dir.join(key))
        .unwrap();
    file.set_modified(at).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_timed_by_the_validators_polls_not_the_miners_headers() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    unsafe { std::env::set_var("GRADIENT_CACHE", dir.join("cache")) };
    let (clock, params, local) = manual_chain(dir);
    let owner_key = Keypair::dev("owner");
    let run = RunConfig::devnet(EmbeddedChain::head(&local).unwrap().block + 1);
    owner::init(&bucket(&dir.join("owner")).0, &run, &owner_key)
        .await
        .unwrap();
    let ctx = Arc::new(RunContext::new(run, Device::flex()).unwrap());
    local
        .set_stake(&Keypair::dev("val").account(), 1_000_000_000_000)
        .unwrap();
    let chain: Arc<dyn Chain> = Arc::new(local);
    let validator = ValidatorNode::new(peer(dir, "val", &ctx, &chain, &owner_key)).unwrap();
    let punctual = peer(dir, "punctual", &ctx, &chain, &owner_key);
    let tardy = peer(dir, "tardy", &ctx, &chain, &owner_key);
    for p in [&validator.peer, &punctual, &tardy] {
        p.join().await.unwrap();
    }
    clock.advance(BLOCK_MS * (params.tempo + 2));

    let genesis = gradient_node::network::read_master(
        &ctx,
        &validator.peer.owner_store,
        0,
        owner_key.account(),
    )
    .await
    .unwrap()
    .unwrap();
    let zeros: Vec<Vec<f32>> = genesis
        .master
        .params
        .iter()
        .map(|p| vec![0.0; p.len()])
        .collect();
    let payload = || {
        let mut feedback = ErrorFeedback::new(&ctx.codec, miner::FEEDBACK_BETA);
        miner::compress(&ctx, &mut feedback, &zeros).unwrap()
    };
    let key = |p: &gradient_node::Peer| layout::submission(&ctx.id, 0, &p.key.account());
    let far_future = SystemTime::now() + Duration::from_secs(100 * 365 * 24 * 3600);

    // In the upload blocks: the punctual miner uploads (and claims a time in the next century);
    // the validator's poll finds it.
    let windows = ctx.windows;
    clock.set(params.timestamp_of(windows.end(0)) + 10);
    miner::submit(
        &punctual.store,
        &ctx,
        &punctual.key,
        0,
        genesis.hash,
        payload(),
    )
    .await
    .unwrap();
    forge_last_modified(&dir.join("buckets/punctual"), &key(&punctual), far_future);
    validator.watcher().poll().await.unwrap();
    // The poll at the deadline block: the tardy miner has not uploaded yet.
    clock.set(params.timestamp_of(windows.deadline(0)) + 10);
    validator.watcher().poll().await.unwrap();
    // After it, the tardy miner uploads and stamps its object inside the window.
    clock.set(params.timestamp_of(windows.deadline(0) + 1) + 10);
    miner::submit(&tardy.store, &ctx, &tardy.key, 0, genesis.hash, payload())
        .await
        .unwrap();
    let inside =
        SystemTime::UNIX_EPOCH + Duration::from_millis(params.timestamp_of(windows.start(0) + 2));
    forge_last_modified(&dir.join("buckets/tardy"), &key(&tardy), inside);
    validator.watcher().poll().await.unwrap();

    let judged = validator.judge_once().await.unwrap();
    let verdict = |p: &gradient_node::Peer| {
        judged
            .miners
            .iter()
            .find(|m| m.hotkey == p.key.account())
            .unwrap()
            .rejection
            .clone()
    };
    // On time (and then refused for its zero delta, which is judged only once on time).
    assert_eq!(
        verdict(&punctual),
        Some(Rejection::NotTrained),
        "{judged:#?}"
    );
    assert_eq!(verdict(&tardy), Some(Rejection::Late), "{judged:#?}");

    // What was seen survives a restart: a new validator on the same state judges the same.
    let restarted = ValidatorNode::new(peer(dir, "val", &ctx, &chain, &owner_key)).unwrap();
    let sightings = restarted.watcher().sightings.lock().unwrap().clone();
    assert_eq!(
        sightings.timing(&ctx, 0, &tardy.key.account()),
        gradient_protocol::Timing::Late
    );
}
