//! The miner's work for one window: train the inner steps from the window's base master on the
//! pages assigned to this hotkey, take the change (the delta), compress it with error feedback,
//! and publish it signed.

use std::time::Instant;

use bytes::Bytes;
use gradient_chain::{AccountId, Keypair};
use gradient_codec::ErrorFeedback;
use gradient_data::Split;
use gradient_data::pages::assigned_pages;
use gradient_model::{AdamState, Batch, Schedule, TrainConfig, Trainer};
use gradient_store::{Header, Kind, Store, layout};

use crate::context::RunContext;
use crate::error::NodeError;
use crate::master::Master;

/// Error feedback keeps this much of what was not sent; the rest decays. Not 1: a residual from
/// older windows' pages must not drown this window's work, which validators check was done on
/// this window's pages; 0.9 keeps more of the work than 0.5 did (quality benchmark 5.523
/// against 5.548) and honest miners still pass that check.
pub const FEEDBACK_BETA: f32 = 0.9;

/// What training one window did.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainReport {
    pub steps: u64,
    pub tokens: usize,
    pub seconds: f64,
    pub first_loss: f64,
    pub last_loss: f64,
    /// The steps done when training moved onto the newer master, if it did.
    pub rebased_at: Option<u64>,
}

/// The pages `hotkey` must train on in `window`; validators recompute the same.
pub fn pages_for(ctx: &RunContext, window: u64, hotkey: &AccountId) -> Result<Vec<u64>, NodeError> {
    Ok(assigned_pages(
        ctx.run.seed,
        window,
        &hotkey.to_ss58(),
        ctx.run.miner.pages_per_window,
        ctx.corpus.num_pages(Split::Train),
    )?)
}

/// The inner optimizer for one window: AdamW, warmup, then the window's constant rate (the
/// run's schedule over windows). The window's length in time, not a step count, ends
/// training, so no decay within it is planned.
pub fn inner_config(ctx: &RunContext, window: u64) -> TrainConfig {
    let m = &ctx.run.miner;
    TrainConfig {
        lr: m.lr_in_window(window),
        warmup_steps: m.warmup_steps,
        total_steps: m.inner_steps,
        schedule: Schedule::Wsd {
            decay_fraction: 0.0,
        },
        weight_decay: m.weight_decay,
        grad_clip: m.grad_clip,
        ..TrainConfig::default()
    }
}

/// Trains from `base` over `pages`' batches, round and round, until `enough` says so (it is
/// asked after every step; the window is ending) or `inner_steps` are done. Returns the delta
/// (trained minus base).
pub fn train_window(
    ctx: &RunContext,
    window: u64,
    base: &Master,
    pages: &[u64],
    enough: &dyn Fn(&TrainReport) -> bool,
) -> Result<(Vec<Vec<f32>>, TrainReport), NodeError> {
    let trained = train_window_from(ctx, window, base, pages, None, enough, &|_| None)?;
    Ok((trained.delta, trained.report))
}

/// A window's training: the delta, what it did, and the inner optimizer's state at its end.
pub struct WindowTraining {
    pub delta: Vec<Vec<f32>>,
    pub report: TrainReport,
    pub optimizer: AdamState,
}

/// [`train_window`], optionally carrying the inner optimizer's moments (and its place in the
/// schedule) over from the previous window instead of starting them from zero, and moving
/// onto a newer master when `newer` hands one over (see [`train_on`]).
pub fn train_window_from(
    ctx: &RunContext,
    window: u64,
    base: &Master,
    pages: &[u64],
    optimizer: Option<AdamState>,
    enough: &dyn Fn(&TrainReport) -> bool,
    newer: &dyn Fn(&TrainReport) -> Option<Master>,
) -> Result<WindowTraining, NodeError> {
    let batches = ctx
        .corpus
        .training_batches(pages, ctx.run.miner.batch_size)?;
    train_on(ctx, window, base, &batches, optimizer, enough, newer)
}

/// The inner loop of [`train_window_from`] over any batches, round and round.
///
/// `newer` is asked after every step whether the master this window's delta will be applied
/// to has arrived. When it hands one over, training moves onto it: the parameters shift by
/// the difference between it and where training started, and the delta is taken against it
/// from then on. The steps before the move were taken one master behind; the ones after are
/// not, so less of the window's work goes stale.
pub fn train_on(
    ctx: &RunContext,
    window: u64,
    base: &Master,
    batches: &[Batch],
    optimizer: Option<AdamState>,
    enough: &dyn Fn(&TrainReport) -> bool,
    newer: &dyn Fn(&TrainReport) -> Option<Master>,
) -> Result<WindowTraining, NodeError> {
    let start = Instant::now();
    let mut reference = base.params.clone();
    let model = ctx.model_from(&base.params)?;
    let mut trainer = match optimizer {
        Some(state) => Trainer::with_state(model, inner_config(ctx, window), state)?,
        None => Trainer::new(model, inner_config(ctx, window))?,
    };
    let mut report = TrainReport {
        steps: 0,
        tokens: 0,
        seconds: 0.0,
        first_loss: f64::NAN,
        last_loss: f64::NAN,
        rebased_at: None,
    };
    for step in 0..ctx.run.miner.inner_steps {
        let batch = &batches[step as usize % batches.len()];
        let stats = trainer.step(std::slice::from_ref(batch))?;
        if step == 0 {
            report.first_loss = stats.loss;
        }
        report.last_loss = stats.loss;
        report.tokens += stats.tokens;
        report.steps += 1;
        report.seconds = start.elapsed().as_secs_f64();
        if enough(&report) {
            break;
        }
        if report.rebased_at.is_none()
            && let Some(to) = newer(&report)
        {
            rebase(trainer.model_mut(), &mut reference, to.params)?;
            report.rebased_at = Some(report.steps);
        }
    }
    let trained = trainer.model().read_params()?;
    let delta = trained
        .into_iter()
        .zip(&reference)
        .map(|(t, b)| t.values.iter().zip(b).map(|(x, y)| x - y).collect())
        .collect();
    report.seconds = start.elapsed().as_secs_f64();
    let (_, optimizer) = trainer.into_parts();
    Ok(WindowTraining {
        delta,
        report,
        optimizer,
    })
}

/// Moves a model in training from `reference` onto `to`: every parameter shifts by
/// `to - reference`, keeping what the steps so far changed, and `to` becomes the reference the
/// delta is taken against. The optimizer's moments stay: they describe the same loss surface.
fn rebase(
    model: &mut gradient_model::Model,
    reference: &mut Vec<Vec<f32>>,
    to: Vec<Vec<f32>>,
) -> Result<(), NodeError> {
    if to.len() != reference.len()
        || to
            .iter()
            .zip(reference.iter())
            .any(|(a, b)| a.len() != b.len())
    {
        return Err(NodeError::Invalid(
            "the newer master does not have the model's shapes".into(),
        ));
    }
    let mut params = model.read_params()?;
    for ((p, r), t) in params.iter_mut().zip(reference.iter()).zip(&to) {
        for ((x, old), new) in p.values.iter_mut().zip(r).zip(t) {
            *x += new - old;
        }
    }
    model.write_params(params)?;
    *reference = to;
    Ok(())
}

/// When a miner stops training a window, in the chain's milliseconds: at the window's end, or
/// earlier where compressing and uploading (`finish_ms`, as last measured; counted twice, for a
/// machine that got busier) and one block of slack would not end before the deadline block.
pub fn training_stop_ms(end_ms: u64, deadline_ms: u64, finish_ms: u64, block_ms: u64) -> u64 {
    end_ms.min(deadline_ms.saturating_sub(2 * finish_ms + block_ms))
}

/// When a window's training stops, reckoned again at every head block the miner sees: from
/// the blocks left, not from the chain's timestamps against this machine's clock, so neither a
/// clock that disagrees with the chain's nor a block time misjudged (a young chain, a chain
/// that stalled while it was measured) can carry training past the deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StopPlan {
    /// The window's last block and its deadline block.
    pub end: u64,
    pub deadline: u64,
    /// Compressing plus uploading, as last measured.
    pub finish_ms: u64,
    /// Milliseconds per block as the chain reports it.
    pub block_ms: u64,
}

impl StopPlan {
    /// The head block at which training stops whatever the time says: the window's end, or
    /// earlier by as many blocks as finishing needs ([`training_stop_ms`] in blocks).
    pub fn last_block(&self) -> u64 {
        let block_ms = self.block_ms.max(1);
        let finish_blocks = (2 * self.finish_ms + block_ms).div_ceil(block_ms);
        self.end.min(self.deadline.saturating_sub(finish_blocks))
    }

    /// Milliseconds of training left with `head` the chain's head block, seen `age_ms` after
    /// it was stamped. The age counts for at most one block: a head older than that says the
    /// clocks disagree, not that the block is late.
    pub fn left_ms(&self, head: u64, age_ms: u64) -> u64 {
        if head >= self.last_block() {
            return 0;
        }
        let after = |block: u64| block.saturating_sub(head) * self.block_ms;
        training_stop_ms(
            after(self.end),
            after(self.deadline),
            self.finish_ms,
            self.block_ms,
        )
        .saturating_sub(age_ms.min(self.block_ms))
    }
}

/// Where a miner starts a window when its base master is one window old: the base plus its own
/// delta of the previous window, which the master being made meanwhile will mostly contain.
/// Training from there instead of from the base takes most of the staleness out of the next
/// delta, which validators apply to that newer master; the delta stays relative to this start.
pub fn eager_start(base: &Master, previous: &[Vec<f32>]) -> Master {
    Master {
        params: base
            .params
            .iter()
            .zip(previous)
            .map(|(p, d)| p.iter().zip(d).map(|(x, y)| x + y).collect())
            .collect(),
        momentum: Vec::new(),
    }
}

/// Compresses a delta with error feedback: what is not sent now is carried to later windows.
pub fn compress(
    ctx: &RunContext,
    feedback: &mut ErrorFeedback,
    delta: &[Vec<f32>],
) -> Result<Vec<u8>, NodeError> {
    let views: Vec<&[f32]> = delta.iter().map(Vec::as_slice).collect();
    Ok(feedback.compress(&ctx.codec, &views)?)
}

/// Publishes a compressed delta for `window`, built on the master whose payload hash is `base`.
pub async fn submit(
    store: &Store,
    ctx: &RunContext,
    key: &Keypair,
    window: u64,
    base: [u8; 32],
    payload: Vec<u8>,
) -> Result<Header, NodeError> {
    Ok(store
        .put_envelope(
            &layout::submission(&ctx.id, window, &key.account()),
            key,
            Kind::Submission,
            ctx.id,
            window,
            base,
            Bytes::from(payload),
            true,
        )
        .await?)
}

#[cfg(test)]
mod tests {
    use super::{StopPlan, training_stop_ms};

    #[test]
    fn training_leaves_time_to_finish_before_the_deadline() {
        // Window ends at 24 s, deadline 28 s, 1 s blocks.
        assert_eq!(training_stop_ms(24_000, 28_000, 500, 1_000), 24_000);
        assert_eq!(training_stop_ms(24_000, 28_000, 1_500, 1_000), 24_000);
        // Compressing took 3 s last time: stop at 28 - 6 - 1 = 21 s.
        assert_eq!(training_stop_ms(24_000, 28_000, 3_000, 1_000), 21_000);
        // Never before time zero.
        assert_eq!(training_stop_ms(24_000, 28_000, 60_000, 1_000), 0);
    }

    #[test]
    fn training_stops_by_the_blocks_left_whatever_the_block_time_says() {
        // Window ends at block 24, deadline 28; the chain says 12 s blocks.
        let plan = StopPlan {
            end: 24,
            deadline: 28,
            finish_ms: 500,
            block_ms: 12_000,
        };
        assert_eq!(plan.last_block(), 24);
        // Seen at block 20, 3 s after its stamp: four blocks left, less the age.
        assert_eq!(plan.left_ms(20, 3_000), 45_000);
        // A head stamped far in the future or the past moves the stop by at most one block.
        assert_eq!(plan.left_ms(20, 0), 48_000);
        assert_eq!(plan.left_ms(20, 900_000), 36_000);
        // Blocks came faster than the chain said: at the window's end training stops at once.
        assert_eq!(plan.left_ms(24, 0), 0);
        assert_eq!(plan.left_ms(30, 0), 0);
        // Finishing took 3 s of 1 s blocks: stop by block 21 (28 - 7 blocks).
        let slow = StopPlan {
            finish_ms: 3_000,
            block_ms: 1_000,
            ..plan
        };
        assert_eq!(slow.last_block(), 21);
        assert_eq!(slow.left_ms(20, 0), 1_000);
        assert_eq!(slow.left_ms(21, 0), 0);
    }
}
