//! What a miner is paid cannot be raised by resizing its delta or by mixing in another miner's:
//! two honest miners train a real window, and the validator's judging (the protocol's rules)
//! scores variants of the first one's upload against the second's.

use std::collections::BTreeSet;

use bytes::Bytes;
use gradient_chain::Keypair;
use gradient_codec::ErrorFeedback;
use gradient_model::Device;
use gradient_node::validator::{self, Fetched, Judge, Received, ReceivedDelta};
use gradient_node::{RunContext, miner, owner};
use gradient_protocol::RunConfig;

/// A miner's upload of `dense`, compressed as the miner compresses, as the validator decodes it.
fn received(
    ctx: &RunContext,
    judge: &Judge,
    key: &Keypair,
    seen: u64,
    dense: &[Vec<f32>],
) -> Received {
    let mut feedback = ErrorFeedback::new(&ctx.codec, miner::FEEDBACK_BETA);
    let payload = Bytes::from(miner::compress(ctx, &mut feedback, dense).unwrap());
    let fetched = Fetched {
        bytes: payload.len() as u64,
        payload,
    };
    Received {
        hotkey: key.account(),
        first_seen_ms: seen,
        got: Ok(ReceivedDelta::decode(judge, fetched).unwrap().unwrap()),
    }
}

fn combine(a: f32, x: &[Vec<f32>], b: f32, y: &[Vec<f32>]) -> Vec<Vec<f32>> {
    x.iter()
        .zip(y)
        .map(|(x, y)| x.iter().zip(y).map(|(x, y)| a * x + b * y).collect())
        .collect()
}

/// The second submission's score and its share of the window's scores, when `other` was
/// uploaded first.
struct Paid {
    score: f64,
    share: f64,
}

fn paid(ctx: &RunContext, judge: &Judge, other: Received, own: Received, step: f64) -> Paid {
    let judged =
        validator::judge_window(ctx, judge, &[other, own], &[], step, &BTreeSet::new()).unwrap();
    let scores: Vec<f64> = judged
        .decision
        .outcomes
        .iter()
        .map(|o| *o.as_ref().unwrap_or(&0.0))
        .collect();
    let total: f64 = scores.iter().sum();
    Paid {
        score: scores[1],
        share: if total > 0.0 { scores[1] / total } else { 0.0 },
    }
}

#[test]
fn neither_scaling_nor_mixing_in_another_delta_raises_the_payment() {
    let dir = tempfile::tempdir().unwrap();
    unsafe { std::env::set_var("GRADIENT_CACHE", dir.path().join("cache")) };
    let mut run = RunConfig::devnet(0);
    run.miner.inner_steps = 16;
    let base = owner::genesis_master(&run).unwrap();
    let ctx = RunContext::new(run, Device::flex()).unwrap();
    let (a, b) = (Keypair::dev("honest-a"), Keypair::dev("honest-b"));
    let trained: Vec<Vec<Vec<f32>>> = [&a, &b]
        .iter()
        .map(|key| {
            let pages = miner::pages_for(&ctx, 0, &key.account()).unwrap();
            miner::train_window(&ctx, 0, &base, &pages, &|_| false)
                .unwrap()
                .0
        })
        .collect();
    let seed = validator::eval_seed(&ctx.id, 0, &[9; 32]);
    let judge = Judge::new(&ctx, &base, 0, seed).unwrap();
    // Deltas are measured at the last outer step's length; past the first window that is a
    // fact of the chain of masters that no miner's upload moves (the first window's median
    // is moved by one miner only between its neighbours').
    let step = validator::delta_norm(&trained[0]);
    let honest = paid(
        &ctx,
        &judge,
        received(&ctx, &judge, &b, 0, &trained[1]),
        received(&ctx, &judge, &a, 1, &trained[0]),
        step,
    );
    println!(
        "honest: score {:.5}, share {:.4}",
        honest.score, honest.share
    );
    assert!(honest.score > 0.0, "the honest delta earned nothing");
    let variants = [
        ("x0.5", 0.5, 0.0),
        ("x2", 2.0, 0.0),
        ("x10", 10.0, 0.0),
        ("own + other", 1.0, 1.0),
        ("own + other/2", 1.0, 0.5),
        ("own/2 + other", 0.5, 1.0),
    ];
    for (name, own, other) in variants {
        let dense = combine(own, &trained[0], other, &trained[1]);
        let got = paid(
            &ctx,
            &judge,
            received(&ctx, &judge, &b, 0, &trained[1]),
            received(&ctx, &judge, &a, 1, &dense),
            step,
        );
        println!("{name}: score {:.5}, share {:.4}", got.score, got.share);
        // Rescaling rounds differently in the last bits of f32, never by more.
        let slack = 1e-5 * honest.score.abs();
        assert!(
            got.score <= honest.score + slack,
            "{name} scored {} against the honest delta's {}",
            got.score,
            honest.score
        );
        assert!(
            got.share <= honest.share + 1e-5,
            "{name} took a share of {} against the honest delta's {}",
            got.share,
            honest.share
        );
    }
}
