//! A miner moves its window's training onto the newer master once it is published: the steps
//! so far are kept, shifted onto that master, and the delta is taken against it.

use gradient_model::Device;
use gradient_node::{Master, RunContext, miner, owner};
use gradient_protocol::RunConfig;

fn context(dir: &std::path::Path) -> RunContext {
    // The tokenized corpus goes to a cache of this test's own.
    unsafe { std::env::set_var("GRADIENT_CACHE", dir.join("cache")) };
    let mut run = RunConfig::devnet(0);
    run.miner.inner_steps = 3;
    RunContext::new(run, Device::flex()).unwrap()
}

/// `base` moved by `by` times a fixed pattern, as a master made from other miners' deltas.
fn shifted(base: &Master, by: f32) -> Master {
    Master {
        params: base
            .params
            .iter()
            .map(|p| {
                p.iter()
                    .enumerate()
                    .map(|(i, x)| x + by * (((i % 7) as f32) - 3.0))
                    .collect()
            })
            .collect(),
        momentum: Vec::new(),
    }
}

#[test]
fn training_moves_onto_the_newer_master_and_takes_the_delta_against_it() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(dir.path());
    let base = owner::genesis_master(&ctx.run).unwrap();
    let newer = shifted(&base, 1e-3);
    let account = gradient_chain::Keypair::dev("rebase miner").account();
    let pages = miner::pages_for(&ctx, 1, &account).unwrap();

    // Moved onto `newer` after two of three steps.
    let handed = std::cell::Cell::new(Some(newer.clone()));
    let moved = miner::train_window_from(&ctx, 1, &base, &pages, None, &|_| false, &|r| {
        (r.steps == 2).then(|| handed.take()).flatten()
    })
    .unwrap();
    assert_eq!(moved.report.rebased_at, Some(2));
    assert_eq!(moved.report.steps, 3);

    // The same by hand: two steps from the base, then the third from where they ended,
    // shifted by `newer - base`, with the optimizer state the two steps left.
    let first =
        miner::train_window_from(&ctx, 1, &base, &pages, None, &|r| r.steps == 2, &|_| None)
            .unwrap();
    let resumed = Master {
        params: base
            .params
            .iter()
            .zip(&first.delta)
            .zip(&newer.params)
            .map(|((b, d), n)| {
                b.iter()
                    .zip(d)
                    .zip(n)
                    .map(|((b, d), n)| (b + d) + (n - b))
                    .collect()
            })
            .collect(),
        momentum: Vec::new(),
    };
    // The third step sees the third batch, as the moved run did.
    let batches = ctx
        .corpus
        .training_batches(&pages, ctx.run.miner.batch_size)
        .unwrap();
    let rotated: Vec<_> = batches
        .iter()
        .cycle()
        .skip(2)
        .take(batches.len())
        .cloned()
        .collect();
    let third = miner::train_on(
        &ctx,
        1,
        &resumed,
        &rotated,
        Some(first.optimizer),
        &|r| r.steps == 1,
        &|_| None,
    )
    .unwrap();
    let mut largest = 0.0f32;
    let mut worst = 0.0f32;
    for (((m, r), t), n) in moved
        .delta
        .iter()
        .zip(&resumed.params)
        .zip(&third.delta)
        .zip(&newer.params)
    {
        for (((m, r), t), n) in m.iter().zip(r).zip(t).zip(n) {
            // Where the moved run ended, against the newer master.
            let expected = (r + t) - n;
            worst = worst.max((m - expected).abs());
            largest = largest.max(m.abs());
        }
    }
    assert!(
        largest > 1e-4,
        "the delta is the window's training: {largest}"
    );
    assert!(
        worst <= 1e-5,
        "the moved run's delta is not the by-hand one against the newer master: {worst}"
    );
    // Against the old base it would carry the shift too: the delta is not that.
    let shift_max = newer.params[0]
        .iter()
        .zip(&base.params[0])
        .map(|(n, b)| (n - b).abs())
        .fold(0.0f32, f32::max);
    assert!(shift_max > 10.0 * worst);
}

#[test]
fn a_newer_master_of_the_wrong_shape_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(dir.path());
    let base = owner::genesis_master(&ctx.run).unwrap();
    let mut wrong = base.clone();
    wrong.params.pop();
    let account = gradient_chain::Keypair::dev("rebase miner").account();
    let pages = miner::pages_for(&ctx, 1, &account).unwrap();
    let handed = std::cell::Cell::new(Some(wrong));
    let err = match miner::train_window_from(&ctx, 1, &base, &pages, None, &|_| false, &|_| {
        handed.take()
    }) {
        Ok(_) => panic!("a master of the wrong shape was trained onto"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("shapes"), "{err}");
}
