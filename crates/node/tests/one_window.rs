//! One window end to end, in one process: the owner publishes a run, two honest miners train
//! and submit, three hostile ones submit noise, nothing, and a copy; the validator verifies,
//! measures and scores them all and makes the next master from the best.

use std::collections::BTreeSet;

use bytes::Bytes;
use gradient_chain::Keypair;
use gradient_codec::ErrorFeedback;
use gradient_model::Device;
use gradient_node::master::master_hash;
use gradient_node::validator::{self, Candidate, Judge, Received, ReceivedDelta};
use gradient_node::{Master, RunContext, miner, owner};
use gradient_protocol::scoring::Rejection;
use gradient_protocol::{RunConfig, Timing};
use gradient_store::{Expect, Kind, Location, Store, StoreConfig, layout};

fn store(root: &std::path::Path) -> Store {
    Store::open(
        &Location::File {
            root: root.to_path_buf(),
        },
        StoreConfig::default(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_window_rewards_honest_work_and_lowers_the_loss() {
    let t0 = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    // The tokenized corpus goes to a cache of this test's own.
    unsafe { std::env::set_var("GRADIENT_CACHE", dir.path().join("cache")) };
    let owner_key = Keypair::dev("owner");
    let owner_store = store(&dir.path().join("owner"));
    let mut run = RunConfig::devnet(0);
    run.miner.inner_steps = 12;
    owner::init(&owner_store, &run, &owner_key).await.unwrap();
    let loaded = owner::load_run(&owner_store, Some(owner_key.account()))
        .await
        .unwrap();
    assert_eq!(loaded, run);
    let ctx = RunContext::new(loaded, Device::flex()).unwrap();
    println!(
        "{:.1}s: run published and loaded",
        t0.elapsed().as_secs_f64()
    );

    let genesis = owner_store
        .get_envelope(
            &layout::master(&ctx.id, 0),
            &Expect {
                kind: Some(Kind::Master),
                signer: Some(owner_key.account()),
                ..Default::default()
            },
            ctx.run.limits.max_master_bytes,
        )
        .await
        .unwrap();
    let base_hash = master_hash(&genesis.payload);
    let base = Master::from_bytes("genesis", &genesis.payload, &ctx.specs).unwrap();

    // Miners: two honest, then noise, a zero delta, and a copy of the first honest one.
    let names = ["honest-a", "honest-b", "noise", "lazy", "copy"];
    let keys: Vec<Keypair> = names.iter().map(|n| Keypair::dev(n)).collect();
    let stores: Vec<Store> = names.iter().map(|n| store(&dir.path().join(n))).collect();
    let mut honest_payload = Vec::new();
    for i in 0..2 {
        let pages = miner::pages_for(&ctx, 0, &keys[i].account()).unwrap();
        let (delta, report) = miner::train_window(&ctx, 0, &base, &pages, &|_| false).unwrap();
        assert!(report.last_loss < report.first_loss, "{report:?}");
        let mut feedback = ErrorFeedback::new(&ctx.codec, miner::FEEDBACK_BETA);
        let payload = miner::compress(&ctx, &mut feedback, &delta).unwrap();
        assert!(payload.len() < ctx.codec.dense_bytes() / 100);
        honest_payload.push(payload.clone());
        miner::submit(&stores[i], &ctx, &keys[i], 0, base_hash, payload)
            .await
            .unwrap();
    }
    println!(
        "{:.1}s: honest miners trained and submitted",
        t0.elapsed().as_secs_f64()
    );
    let noise: Vec<Vec<f32>> = base
        .params
        .iter()
        .enumerate()
        .map(|(t, p)| {
            (0..p.len())
                .map(|j| (((j * 7919 + t * 31) % 1000) as f32 / 1000.0 - 0.5) * 0.02)
                .collect()
        })
        .collect();
    let mut feedback = ErrorFeedback::new(&ctx.codec, miner::FEEDBACK_BETA);
    let noise = miner::compress(&ctx, &mut feedback, &noise).unwrap();
    miner::submit(&stores[2], &ctx, &keys[2], 0, base_hash, noise)
        .await
        .unwrap();
    let zeros: Vec<Vec<f32>> = base.params.iter().map(|p| vec![0.0; p.len()]).collect();
    let mut feedback = ErrorFeedback::new(&ctx.codec, miner::FEEDBACK_BETA);
    let zeros = miner::compress(&ctx, &mut feedback, &zeros).unwrap();
    miner::submit(&stores[3], &ctx, &keys[3], 0, base_hash, zeros)
        .await
        .unwrap();
    miner::submit(
        &stores[4],
        &ctx,
        &keys[4],
        0,
        base_hash,
        honest_payload[0].clone(),
    )
    .await
    .unwrap();
    // A submission signed by someone else in the copier's bucket is refused unread.
    let eve = Keypair::dev("eve");
    stores[4]
        .put_envelope(
            &layout::submission(&ctx.id, 1, &keys[4].account()),
            &eve,
            Kind::Submission,
            ctx.id,
            1,
            base_hash,
            Bytes::from_static(b"x"),
            true,
        )
        .await
        .unwrap();

    // The validator.
    let seed = validator::eval_seed(&ctx.id, 0, &[9; 32]);
    let judge = Judge::new(&ctx, &base, 0, seed).unwrap();
    let mut fetched = Vec::new();
    for (uid, (key, store)) in keys.iter().zip(&stores).enumerate() {
        let candidate = Candidate {
            uid: uid as u16,
            hotkey: key.account(),
            store: store.clone(),
        };
        // Either accepted base will do (the miner may have moved onto the newer master); a
        // submission naming neither is refused.
        let got = validator::fetch(&ctx, &candidate, 0, &[[7; 32], base_hash], Timing::OnTime)
            .await
            .unwrap();
        fetched.push(got);
        let other = validator::fetch(&ctx, &candidate, 0, &[[7; 32]], Timing::OnTime).await;
        assert!(
            matches!(other, Err(Rejection::WrongBase)),
            "{:?}",
            other.err()
        );
    }
    let wrong = Candidate {
        uid: 4,
        hotkey: keys[4].account(),
        store: stores[4].clone(),
    };
    let refused = validator::fetch(&ctx, &wrong, 1, &[base_hash], Timing::OnTime).await;
    assert!(
        matches!(refused, Err(Rejection::BadEnvelope { .. })),
        "{:?}",
        refused.err()
    );
    let late = validator::fetch(
        &ctx,
        &Candidate {
            uid: 0,
            hotkey: keys[0].account(),
            store: stores[0].clone(),
        },
        0,
        &[base_hash],
        Timing::Late,
    )
    .await;
    assert!(matches!(late, Err(Rejection::Late)));

    println!("{:.1}s: fetched", t0.elapsed().as_secs_f64());
    // The validator's own judging (the protocol's rules), in upload order: the copy came last.
    let received: Vec<Received> = keys
        .iter()
        .zip(fetched)
        .enumerate()
        .map(|(i, (key, f))| Received {
            hotkey: key.account(),
            first_seen_ms: i as u64,
            got: Ok(ReceivedDelta::decode(&judge, f).unwrap().unwrap()),
        })
        .collect();
    let judged =
        validator::judge_window(&ctx, &judge, &received, &[], 0.0, &BTreeSet::new()).unwrap();
    println!("{:.1}s: measured", t0.elapsed().as_secs_f64());
    let outcomes = &judged.decision.outcomes;
    for (name, (outcome, m)) in names.iter().zip(outcomes.iter().zip(&judged.measured)) {
        println!("{name}: {m:?} -> {outcome:?}");
    }
    assert!(
        matches!(outcomes[4], Err(Rejection::Copy { ref of }) if *of == keys[0].account().to_ss58()),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[3], Err(Rejection::NotTrained), "the zero delta");
    let scores: Vec<f64> = outcomes
        .iter()
        .map(|o| *o.as_ref().unwrap_or(&0.0))
        .collect();
    assert!(scores[0] > 0.0 && scores[1] > 0.0, "{scores:?}");
    assert_eq!(
        &scores[2..],
        &[0.0, 0.0, 0.0],
        "hostile miners earned something"
    );
    assert_eq!(judged.decision.members.len(), 2, "{:?}", judged.decision);
    assert!(judged.decision.members.iter().all(|&i| i < 2));

    let weighted: Vec<_> = judged
        .decision
        .members
        .iter()
        .zip(&judged.decision.weights)
        .map(|(&i, &w)| (&received[i].got.as_ref().unwrap().delta, w))
        .collect();
    let next = validator::apply_aggregate(&ctx, 0, &base, &weighted).unwrap();
    let before = judge.eval_before;
    let after = judge.eval_loss(&next.params).unwrap();
    println!("master loss {before} -> {after}");
    assert!(after < before, "{before} -> {after}");
    // Judging again gives the same verdicts, and the master the same bits.
    let again =
        validator::judge_window(&ctx, &judge, &received, &[], 0.0, &BTreeSet::new()).unwrap();
    assert_eq!(again.decision, judged.decision);
    let again = validator::apply_aggregate(&ctx, 0, &base, &weighted).unwrap();
    assert_eq!(
        master_hash(&again.to_bytes(&ctx.specs).unwrap()),
        master_hash(&next.to_bytes(&ctx.specs).unwrap())
    );
}
