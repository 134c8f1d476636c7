//! The quality benchmark: how much of the miners' work reaches the master. The protocol's own
//! steps (train a window from the base master, compress with error feedback, judge, keep the
//! best, aggregate, outer step) run in one process with a fixed number of inner steps per
//! window, so the result does not depend on how busy the machine is; one machine trains the
//! same model on the same tokens (the miners' pages, batch = miners x miner batch), and both
//! are evaluated on the same held-out pages.
//!
//! Every knob the ablation needs is a field of [`QualitySetup`]; the run config carries the
//! rest (codec, aggregation, inner optimizer), exactly as a network would.

use std::collections::BTreeSet;

use bytes::Bytes;
use gradient_chain::{AccountId, Keypair};
use gradient_codec::{Delta, ErrorFeedback, LowRank};
use gradient_data::Split;
use gradient_data::pages::evaluation_pages;
use gradient_model::{AdamState, Batch, Model, TrainConfig, Trainer};
use serde::Serialize;

use crate::context::RunContext;
use crate::error::NodeError;
use crate::master::Master;
use crate::miner::{pages_for, train_window_from};
use crate::validator::{
    Fetched, Judge, Received, ReceivedDelta, apply_aggregate, judge_window, last_step_norm,
    vouched_next,
};

/// What to simulate besides the run config.
#[derive(Clone, Debug)]
pub struct QualitySetup {
    pub miners: usize,
    pub windows: u64,
    /// Inner steps every miner takes per window (the run's `inner_steps` is set to it).
    pub steps_per_window: u64,
    /// The protocol's pipelining: window `w` trains from master `w-1`. Off, it trains from
    /// master `w` (as if miners waited for the validator).
    pub stale: bool,
    /// With `stale`: each miner starts from the base master plus its own previous window's
    /// uncompressed delta, its best guess at the master that is still being made.
    pub eager: bool,
    /// The eager start adds the delta as sent (compressed) rather than as trained.
    pub eager_sent: bool,
    /// With `stale`: after this many inner steps the miners move onto master `w` (the one
    /// their deltas are applied to), as a miner does once that master is published.
    pub rebase_after: Option<u64>,
    /// Miners keep their AdamW moments and schedule position across windows.
    pub keep_optimizer: bool,
    /// Error feedback's decay of what was not sent.
    pub feedback_beta: f32,
    /// Also measure master `w` plus the mean delta with every matrix cut to this rank (vectors
    /// kept whole): how much of a window's work a low-rank codec could carry.
    pub probe_rank: Option<usize>,
    /// Validation pages both models are evaluated on.
    pub report_pages: usize,
    /// Measure the loss after each stage (uncompressed, sent, ...), not only the masters'.
    pub stages: bool,
    /// Also train the one-machine baseline (off for ablation rows that share one).
    pub baseline: bool,
    /// The one machine's peak rate when it differs from the miners' (`None`: the run's).
    pub single_lr: Option<f64>,
}

/// One window of the simulated network, with the loss after each stage on the report pages.
#[derive(Clone, Debug, Serialize)]
pub struct WindowQuality {
    pub window: u64,
    /// Master `w`, which this window's deltas are applied to.
    pub latest: f64,
    /// Master `w` plus the mean of the miners' deltas, uncompressed.
    pub plus_dense: f64,
    /// The same with only the token embedding's delta, and with all but it.
    pub plus_dense_embedding: f64,
    pub plus_dense_blocks: f64,
    /// With [`QualitySetup::probe_rank`]: the mean delta at that rank (NaN without).
    pub plus_low_rank: f64,
    /// Master `w` plus the mean of what the miners sent (after compression and feedback).
    pub plus_sent: f64,
    /// Master `w` plus the mean of the sent token embeddings and the uncompressed rest: what
    /// compressing the embedding alone costs.
    pub plus_sent_embedding: f64,
    /// The next master, as the protocol makes it.
    pub next: f64,
    pub scored: usize,
    pub aggregated: usize,
    pub rejected: Vec<String>,
    /// Per miner, the losses its sent delta was judged on.
    pub measurements: Vec<gradient_protocol::Measurement>,
    /// Mean inner training loss of the miners at the window's last step.
    pub inner_loss: f64,
    /// The largest cosine between two miners' sent deltas of this window, and between one of
    /// them and a sent delta of the previous window: how much honest work overlaps, against
    /// which a submission holding another's delta must stand out.
    pub max_cosine: f64,
    pub max_cosine_previous: f64,
    /// L2 norms of the miners' sent deltas.
    pub norms: Vec<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct QualityReport {
    pub genesis_loss: f64,
    pub network_loss: f64,
    pub single_loss: f64,
    /// `network_loss / single_loss`.
    pub ratio: f64,
    pub network_tokens: usize,
    pub single_tokens: usize,
    pub bytes_per_submission: f64,
    pub dense_bytes: usize,
    pub windows: Vec<WindowQuality>,
}

/// A simulated miner: a hotkey, its error feedback and (optionally) its inner optimizer.
struct SimMiner {
    hotkey: AccountId,
    feedback: ErrorFeedback,
    optimizer: Option<AdamState>,
    /// Its previous window's delta, uncompressed, for an eager start.
    previous: Option<Vec<Vec<f32>>>,
}

/// Mean loss on the report pages.
fn loss_on(ctx: &RunContext, params: &[Vec<f32>], pages: &[Batch]) -> Result<f64, NodeError> {
    ctx.mean_loss(&ctx.model_from(params)?, pages)
}

fn plus_mean(params: &[Vec<f32>], deltas: &[Vec<Vec<f32>>]) -> Vec<Vec<f32>> {
    let n = deltas.len().max(1) as f32;
    params
        .iter()
        .enumerate()
        .map(|(t, p)| {
            let mut out = p.clone();
            for d in deltas {
                for (o, x) in out.iter_mut().zip(&d[t]) {
                    *o += x / n;
                }
            }
            out
        })
        .collect()
}

/// The deltas with every tensor but those `keep` names zeroed.
fn only(deltas: &[Vec<Vec<f32>>], keep: impl Fn(usize) -> bool) -> Vec<Vec<Vec<f32>>> {
    deltas
        .iter()
        .map(|d| {
            d.iter()
                .enumerate()
                .map(|(t, x)| {
                    if keep(t) {
                        x.clone()
                    } else {
                        vec![0.0; x.len()]
                    }
                })
                .collect()
        })
        .collect()
}

/// Each delta's token embedding (tensor 0) from `embedding`, the rest from `rest`.
fn mixed(embedding: &[Vec<Vec<f32>>], rest: &[Vec<Vec<f32>>]) -> Vec<Vec<Vec<f32>>> {
    embedding
        .iter()
        .zip(rest)
        .map(|(e, r)| {
            let mut out = r.clone();
            out[0] = e[0].clone();
            out
        })
        .collect()
}

/// `base` plus (`after` - `base`) with every matrix cut to `rank`.
fn low_rank(ctx: &RunContext, after: &[Vec<f32>], base: &[Vec<f32>], rank: usize) -> Vec<Vec<f32>> {
    after
        .iter()
        .zip(base)
        .zip(&ctx.specs)
        .map(|((a, b), spec)| {
            let delta: Vec<f32> = a.iter().zip(b).map(|(x, y)| x - y).collect();
            let delta = match spec.shape.as_slice() {
                &[rows, cols] => LowRank::factor(&delta, rows, cols, rank, 3).expand(),
                _ => delta,
            };
            b.iter().zip(&delta).map(|(x, d)| x + d).collect()
        })
        .collect()
}

/// Runs the network and the one-machine baseline; `progress` hears about each window.
pub fn run(
    ctx: &RunContext,
    setup: &QualitySetup,
    progress: &dyn Fn(&WindowQuality),
) -> Result<QualityReport, NodeError> {
    let report_pages = evaluation_pages(
        blake3::hash(b"gradient quality bench pages").as_bytes(),
        setup.report_pages,
        ctx.corpus.num_pages(Split::Validation),
    )?;
    let report_pages = ctx.corpus.page_batches(Split::Validation, &report_pages)?;
    let genesis = crate::owner::genesis_master(&ctx.run)?;
    let genesis_loss = loss_on(ctx, &genesis.params, &report_pages)?;
    let mut miners: Vec<SimMiner> = (0..setup.miners)
        .map(|i| SimMiner {
            hotkey: Keypair::dev(&format!("devnet miner-{}", i + 1)).account(),
            feedback: ErrorFeedback::new(&ctx.codec, setup.feedback_beta),
            optimizer: None,
            previous: None,
        })
        .collect();
    let mut masters = vec![genesis];
    let mut windows = Vec::new();
    let (mut network_tokens, mut bytes, mut submissions) = (0usize, 0usize, 0usize);
    let mut all_pages = Vec::new();
    // Miners vouched for by a pass in the window before (`Decision::vouches`).
    let mut vouched = BTreeSet::new();
    let mut previous_sent: Vec<Vec<f32>> = Vec::new();
    for w in 0..setup.windows {
        let base_index = if setup.stale {
            ctx.windows.base_master(w)
        } else {
            w
        };
        let base = masters[base_index as usize].clone();
        let latest = masters[w as usize].clone();
        let mut dense_deltas = Vec::new();
        let mut sent = Vec::new();
        let mut payloads = Vec::new();
        let mut inner_loss = 0.0;
        for miner in &mut miners {
            let pages = pages_for(ctx, w, &miner.hotkey)?;
            all_pages.push(pages.clone());
            let optimizer = if setup.keep_optimizer {
                miner.optimizer.take()
            } else {
                None
            };
            let start = match miner.previous.take() {
                Some(previous) if setup.stale && setup.eager => {
                    crate::miner::eager_start(&base, &previous)
                }
                _ => base.clone(),
            };
            let rebase = |report: &crate::miner::TrainReport| {
                (setup.stale && Some(report.steps) == setup.rebase_after).then(|| latest.clone())
            };
            let trained =
                train_window_from(ctx, w, &start, &pages, optimizer, &|_| false, &rebase)?;
            network_tokens += trained.report.tokens;
            inner_loss += trained.report.last_loss / setup.miners as f64;
            miner.optimizer = Some(trained.optimizer);
            let views: Vec<&[f32]> = trained.delta.iter().map(Vec::as_slice).collect();
            let payload = miner.feedback.compress(&ctx.codec, &views)?;
            bytes += payload.len();
            submissions += 1;
            let decoded = ctx.codec.decode(&payload)?;
            miner.previous = Some(if setup.eager_sent {
                ctx.dense(&decoded)?
            } else {
                trained.delta.clone()
            });
            sent.push(decoded);
            payloads.push(Bytes::from(payload));
            dense_deltas.push(trained.delta);
        }
        let flat: Vec<Vec<f32>> = sent
            .iter()
            .map(|d| ctx.dense(d).map(|t| t.concat()))
            .collect::<Result<_, _>>()?;
        let (max_cosine, max_cosine_previous) = overlaps(&flat, &previous_sent);
        let norms = flat
            .iter()
            .map(|d| gradient_protocol::aggregate::norm(d))
            .collect();
        previous_sent = flat;
        // The window's seed (a block hash in a network): evaluation pages and controls.
        let mut seed = blake3::Hasher::new();
        seed.update(&ctx.run.seed.to_le_bytes())
            .update(&w.to_le_bytes());
        let seed = *seed.finalize().as_bytes();
        let (next, judged) = judge_and_aggregate(
            ctx,
            (&base, &latest),
            w,
            seed,
            &miners,
            &payloads,
            &mut vouched,
        )?;
        let stages = if setup.stages {
            stage_losses(ctx, setup, &latest, &dense_deltas, &sent, &report_pages)?
        } else {
            Stages::default()
        };
        let quality = WindowQuality {
            window: w,
            latest: loss_on(ctx, &latest.params, &report_pages)?,
            plus_dense: stages.plus_dense,
            plus_dense_embedding: stages.plus_dense_embedding,
            plus_dense_blocks: stages.plus_dense_blocks,
            plus_low_rank: stages.plus_low_rank,
            plus_sent: stages.plus_sent,
            plus_sent_embedding: stages.plus_sent_embedding,
            next: loss_on(ctx, &next.params, &report_pages)?,
            scored: judged.scored,
            aggregated: judged.aggregated,
            rejected: judged.rejected,
            measurements: judged.measurements,
            inner_loss,
            max_cosine,
            max_cosine_previous,
            norms,
        };
        progress(&quality);
        windows.push(quality);
        masters.push(next);
    }
    let network_loss = windows.last().map_or(genesis_loss, |w| w.next);
    let (single_loss, single_tokens) = if setup.baseline {
        one_machine(ctx, setup, &all_pages, &report_pages)?
    } else {
        (f64::NAN, 0)
    };
    Ok(QualityReport {
        genesis_loss,
        network_loss,
        single_loss,
        ratio: network_loss / single_loss,
        network_tokens,
        single_tokens,
        bytes_per_submission: bytes as f64 / submissions.max(1) as f64,
        dense_bytes: ctx.codec.dense_bytes(),
        windows,
    })
}

/// The largest cosine between two of `now`, and between one of `now` and one of `before`
/// (NaN where there is no pair).
fn overlaps(now: &[Vec<f32>], before: &[Vec<f32>]) -> (f64, f64) {
    let mut same = f64::NAN;
    let mut previous = f64::NAN;
    for (i, a) in now.iter().enumerate() {
        for b in &now[..i] {
            same = same.max(gradient_protocol::scoring::cosine(a, b));
        }
        for b in before {
            previous = previous.max(gradient_protocol::scoring::cosine(a, b));
        }
    }
    (same, previous)
}

/// Losses of master `w` plus each stage's mean delta (NaN where not measured).
struct Stages {
    plus_dense: f64,
    plus_dense_embedding: f64,
    plus_dense_blocks: f64,
    plus_low_rank: f64,
    plus_sent: f64,
    plus_sent_embedding: f64,
}

impl Default for Stages {
    fn default() -> Self {
        Stages {
            plus_dense: f64::NAN,
            plus_dense_embedding: f64::NAN,
            plus_dense_blocks: f64::NAN,
            plus_low_rank: f64::NAN,
            plus_sent: f64::NAN,
            plus_sent_embedding: f64::NAN,
        }
    }
}

fn stage_losses(
    ctx: &RunContext,
    setup: &QualitySetup,
    latest: &Master,
    dense_deltas: &[Vec<Vec<f32>>],
    sent: &[Delta],
    report_pages: &[Batch],
) -> Result<Stages, NodeError> {
    let sent_dense: Vec<Vec<Vec<f32>>> = sent
        .iter()
        .map(|d| ctx.dense(d))
        .collect::<Result<_, _>>()?;
    let plus =
        |deltas: &[Vec<Vec<f32>>]| loss_on(ctx, &plus_mean(&latest.params, deltas), report_pages);
    Ok(Stages {
        plus_dense: plus(dense_deltas)?,
        plus_dense_embedding: plus(&only(dense_deltas, |t| t == 0))?,
        plus_dense_blocks: plus(&only(dense_deltas, |t| t != 0))?,
        plus_low_rank: match setup.probe_rank {
            Some(rank) => loss_on(
                ctx,
                &low_rank(
                    ctx,
                    &plus_mean(&latest.params, dense_deltas),
                    &latest.params,
                    rank,
                ),
                report_pages,
            )?,
            None => f64::NAN,
        },
        plus_sent: plus(&sent_dense)?,
        plus_sent_embedding: plus(&mixed(&sent_dense, dense_deltas))?,
    })
}

struct Judged {
    scored: usize,
    aggregated: usize,
    rejected: Vec<String>,
    measurements: Vec<gradient_protocol::Measurement>,
}

/// The validator's part: measure every submission on `latest`, score it, keep the best, make
/// the next master from `latest`. `vouched`: the miners vouched for in this window, replaced
/// by those vouched for in the next.
fn judge_and_aggregate(
    ctx: &RunContext,
    masters: (&Master, &Master),
    window: u64,
    seed: [u8; 32],
    miners: &[SimMiner],
    payloads: &[Bytes],
    vouched: &mut BTreeSet<AccountId>,
) -> Result<(Master, Judged), NodeError> {
    let (base, latest) = masters;
    let judge = Judge::new(ctx, latest, window, seed)?;
    let received: Vec<Received> = miners
        .iter()
        .zip(payloads)
        .map(|(miner, payload)| {
            let fetched = Fetched {
                bytes: payload.len() as u64,
                payload: payload.clone(),
            };
            let got = ReceivedDelta::decode(&judge, fetched)?.map_err(|why| {
                NodeError::Invalid(format!("an honest submission did not decode: {why:?}"))
            })?;
            Ok(Received {
                hotkey: miner.hotkey,
                first_seen_ms: 0,
                got: Ok(got),
            })
        })
        .collect::<Result<_, NodeError>>()?;
    let step = gradient_protocol::judging::measuring_norm(
        window,
        last_step_norm(latest, base),
        &ctx.run.aggregation,
    );
    let judged = judge_window(ctx, &judge, &received, &[], step, vouched)?;
    let decision = &judged.decision;
    *vouched = vouched_next(&received, decision);
    let measurements = judged.measured.iter().flatten().cloned().collect();
    let rejected = decision
        .outcomes
        .iter()
        .filter_map(|o| o.as_ref().err().map(|why| format!("{why:?}")))
        .collect();
    let weighted: Vec<(&Delta, f32)> = decision
        .members
        .iter()
        .zip(&decision.weights)
        .map(|(&i, &w)| (&received[i].got.as_ref().expect("members decode").delta, w))
        .collect();
    let next = apply_aggregate(ctx, window, latest, &weighted)?;
    Ok((
        next,
        Judged {
            scored: decision
                .outcomes
                .iter()
                .filter(|o| matches!(o, Ok(s) if *s > 0.0))
                .count(),
            aggregated: decision.members.len(),
            rejected,
            measurements,
        },
    ))
}

/// One machine on the same pages: every window's pages of every miner, in order, at a batch of
/// miners x the miner's batch, with `gradient train`'s schedule (warmup, cosine over the run).
fn one_machine(
    ctx: &RunContext,
    setup: &QualitySetup,
    pages: &[Vec<u64>],
    report_pages: &[Batch],
) -> Result<(f64, usize), NodeError> {
    let batch = ctx.run.miner.batch_size * setup.miners;
    let steps = setup.windows * setup.steps_per_window;
    let flat: Vec<u64> = pages.iter().flatten().copied().collect();
    let batches = ctx.corpus.training_batches(&flat, batch)?;
    let genesis = crate::owner::genesis_master(&ctx.run)?;
    let model: Model = ctx.model_from(&genesis.params)?;
    let config = TrainConfig {
        lr: setup.single_lr.unwrap_or(ctx.run.miner.lr),
        total_steps: steps,
        weight_decay: ctx.run.miner.weight_decay,
        grad_clip: ctx.run.miner.grad_clip,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(model, config)?;
    let mut tokens = 0;
    for step in 0..steps {
        let stats = trainer.step(std::slice::from_ref(
            &batches[step as usize % batches.len()],
        ))?;
        tokens += stats.tokens;
    }
    Ok((ctx.mean_loss(trainer.model(), report_pages)?, tokens))
}
