//! Two validators judge the same window from the same submissions: they must agree on every
//! measurement and score and on the next master, bit for bit. The one with less stake checks
//! the publisher's aggregate and says so; a publisher whose aggregate differs is reported. A
//! miner replays the published aggregate into the published master, and refuses an altered one.

use std::sync::Arc;

use bytes::Bytes;
use gradient_chain::{Chain, EmbeddedChain, Keypair};
use gradient_codec::ErrorFeedback;
use gradient_model::Device;
use gradient_node::network::Buckets;
use gradient_node::peer::{Held, Synced};
use gradient_node::validator_node::{AggregateRecord, ValidatorNode};
use gradient_node::{Peer, RunContext, miner, owner, replay};
use gradient_protocol::RunConfig;
use gradient_store::{Kind, Reach, layout};

mod common;
use common::{BLOCK_MS, bucket, manual_chain, now_ms, peer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_validators_agree_bit_for_bit_and_a_wrong_publisher_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    unsafe { std::env::set_var("GRADIENT_CACHE", dir.join("cache")) };
    // The chain's clock is set by hand, from the real time: uploads carry real timestamps.
    let (clock, params, local) = manual_chain(dir);
    let owner_key = Keypair::dev("owner");
    // Long windows, so training in a debug build is never late.
    let mut run = RunConfig::devnet(EmbeddedChain::head(&local).unwrap().block + 1);
    run.windows.blocks_per_window = 600;
    // A run whose window 0 steps at its own rate, so that replaying a window's aggregate as
    // another window's is seen to differ.
    run.aggregation.outer_lr = 1.25;
    run.aggregation.first_outer_lr = Some(1.0);
    owner::init(&bucket(&dir.join("owner")).0, &run, &owner_key)
        .await
        .unwrap();
    let ctx = Arc::new(RunContext::new(run, Device::flex()).unwrap());
    local
        .set_stake(&Keypair::dev("val-a").account(), 2_000_000_000_000)
        .unwrap();
    local
        .set_stake(&Keypair::dev("val-b").account(), 1_000_000_000_000)
        .unwrap();
    let chain: Arc<dyn Chain> = Arc::new(local);

    let a = ValidatorNode::new(peer(dir, "val-a", &ctx, &chain, &owner_key)).unwrap();
    let b = ValidatorNode::new(peer(dir, "val-b", &ctx, &chain, &owner_key)).unwrap();
    let miners: Vec<Peer> = ["m1", "m2", "m3"]
        .iter()
        .map(|n| peer(dir, n, &ctx, &chain, &owner_key))
        .collect();
    for p in [&a.peer, &b.peer].into_iter().chain(&miners) {
        p.join().await.unwrap();
    }
    // An epoch hands out validator permits by stake.
    clock.advance(BLOCK_MS * (params.tempo + 2));
    let graph = chain.metagraph().await.unwrap();
    assert_eq!(
        gradient_node::network::publisher(&graph),
        Some(a.peer.key.account())
    );

    // Window 0: two miners train from the genesis, a third uploads a copy of the first.
    clock.set(params.timestamp_of(ctx.windows.start(0)) + 10);
    let genesis =
        gradient_node::network::read_master(&ctx, &a.peer.owner_store, 0, owner_key.account())
            .await
            .unwrap()
            .unwrap();
    let mut first = Vec::new();
    for (i, m) in miners.iter().enumerate() {
        let payload = if i < 2 {
            let pages = miner::pages_for(&ctx, 0, &m.key.account()).unwrap();
            let (delta, _) =
                miner::train_window(&ctx, 0, &genesis.master, &pages, &|r| r.steps >= 8).unwrap();
            let mut feedback = ErrorFeedback::new(&ctx.codec, miner::FEEDBACK_BETA);
            miner::compress(&ctx, &mut feedback, &delta).unwrap()
        } else {
            first.clone()
        };
        if i == 0 {
            first = payload.clone();
        }
        miner::submit(&m.store, &ctx, &m.key, 0, genesis.hash, payload)
            .await
            .unwrap();
    }
    clock.set(params.timestamp_of(ctx.windows.deadline(0)).max(now_ms()) + BLOCK_MS);

    let judged_a = a.judge_once().await.unwrap();
    let judged_b = b.judge_once().await.unwrap();
    println!("{judged_a:#?}");
    assert_eq!(judged_a.window, 0);
    assert_eq!(judged_a.miners.len(), 3);
    assert_eq!(judged_a.miners, judged_b.miners, "scores differ");
    assert_eq!(
        judged_a.master_hash, judged_b.master_hash,
        "next masters differ"
    );
    assert_eq!(
        judged_a.publisher_agrees, None,
        "the publisher checks no one"
    );
    assert_eq!(judged_b.publisher_agrees, Some(true));
    // The copy earns nothing. The own-page check refuses an honest miner by chance now and
    // then (the evaluation pages come from the chain's block hash, which differs run to run;
    // docs/protocol.md), so at least one of the two honest miners is paid, never the copy.
    assert!(
        matches!(
            judged_a.miners[2].rejection,
            Some(gradient_protocol::Rejection::Copy { .. })
        ),
        "{judged_a:#?}"
    );
    let scored = judged_a.miners[..2]
        .iter()
        .filter(|m| m.score > 0.0)
        .count();
    assert!(scored >= 1, "{judged_a:#?}");

    replayed_aggregates_give_the_published_master(&ctx, &chain, &miners[0], &a, &genesis).await;

    // A publisher whose aggregate for window 1 names another master is caught by the other.
    let bogus = AggregateRecord {
        window: 1,
        base_master: hex::encode(genesis.hash),
        previous_master: judged_a.master_hash.clone(),
        next_master: "00".repeat(32),
        entries: vec![],
    };
    a.peer
        .store
        .put_envelope(
            &layout::aggregate(&ctx.id, 1),
            &a.peer.key,
            Kind::Aggregate,
            ctx.id,
            1,
            hex::decode(&judged_a.master_hash)
                .unwrap()
                .try_into()
                .unwrap(),
            Bytes::from(serde_json::to_vec(&bogus).unwrap()),
            true,
        )
        .await
        .unwrap();
    clock.set(params.timestamp_of(ctx.windows.deadline(1)).max(now_ms()) + BLOCK_MS);
    let judged_b = b.judge_once().await.unwrap();
    assert_eq!(judged_b.publisher_agrees, Some(false));
    // A miner holding master 1 does not take master 2 from that record: the replay fails its
    // hash check, and no master 2 was published to download instead.
    let buckets = Buckets::new(Reach::Local);
    let master_1 = miners[0]
        .master(&buckets, &chain.metagraph().await.unwrap(), 1)
        .await
        .unwrap()
        .unwrap();
    let held = Held {
        index: 1,
        fetched: master_1,
    };
    let followed = miners[0]
        .follow(&buckets, &chain.metagraph().await.unwrap(), 2, Some(&held))
        .await
        .unwrap();
    assert!(followed.is_none());
    // And the publisher itself refuses to leave it as if it were its own work.
    let refused = a.judge_once().await.unwrap_err().to_string();
    assert!(
        refused.contains("already holds something other"),
        "{refused}"
    );
}

/// Master 1 replayed from the genesis and the publisher's aggregate of window 0 is the
/// published master 1, bit for bit; an aggregate with any part altered is refused.
async fn replayed_aggregates_give_the_published_master(
    ctx: &RunContext,
    chain: &Arc<dyn Chain>,
    miner: &Peer,
    publisher: &ValidatorNode,
    genesis: &gradient_node::network::Fetched,
) {
    let buckets = Buckets::new(Reach::Local);
    let graph = chain.metagraph().await.unwrap();
    let held = Held {
        index: 0,
        fetched: genesis.clone(),
    };
    let (replayed, how) = miner
        .follow(&buckets, &graph, 1, Some(&held))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(how, Synced::Replayed);
    let downloaded = miner.master(&buckets, &graph, 1).await.unwrap().unwrap();
    assert_eq!(replayed.hash, downloaded.hash);
    assert_eq!(replayed.master.params, downloaded.master.params);
    let (_, how) = miner
        .follow(
            &buckets,
            &graph,
            1,
            Some(&Held {
                index: 1,
                fetched: replayed,
            }),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(how, Synced::Held);

    let record = replay::read_record(ctx, &publisher.peer.store, 0, publisher.peer.key.account())
        .await
        .unwrap();
    assert!(!record.entries.is_empty());
    let payloads = replay::fetch_submissions(ctx, chain.as_ref(), &buckets, &record)
        .await
        .unwrap();
    assert!(replay::rebuild(ctx, genesis, &record, &payloads).is_ok());
    let refused = |record: &AggregateRecord, payloads: &[Bytes], why: &str| {
        let err = replay::rebuild(ctx, genesis, record, payloads)
            .err()
            .unwrap_or_else(|| panic!("accepted an aggregate with {why}"))
            .to_string();
        assert!(err.contains(why), "{err}");
    };
    let mut heavier = record.clone();
    heavier.entries[0].2 *= 1.01;
    refused(&heavier, &payloads, "the replayed master hashes to");
    // Window 0's step has its own rate: the same deltas replayed as another window's differ.
    let mut other_window = record.clone();
    other_window.window = 1;
    refused(&other_window, &payloads, "the replayed master hashes to");
    let mut other_next = record.clone();
    other_next.next_master = "11".repeat(32);
    refused(&other_next, &payloads, "the replayed master hashes to");
    let mut altered = payloads.clone();
    let mut bytes = altered[0].to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    altered[0] = Bytes::from(bytes);
    refused(&record, &altered, "hashes to");
    let mut elsewhere = record.clone();
    elsewhere.previous_master = "22".repeat(32);
    refused(&elsewhere, &payloads, "builds on master");
    refused(&record, &payloads[..payloads.len() - 1], "payloads for");
}
