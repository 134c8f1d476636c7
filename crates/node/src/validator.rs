//! The validator's judgement of one window: fetch every submission within the caps, check its
//! envelope and timing, decode it, measure it against the base master, score it, and fold the
//! best into the next master.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use gradient_chain::{AccountId, Uid};
use gradient_codec::Delta;
use gradient_data::Split;
use gradient_data::pages::{evaluation_pages, judged_own_pages};
use gradient_model::{Batch, Model};
use gradient_protocol::Timing;
use gradient_protocol::aggregate::{divide_by_support, norm, outer_step};
use gradient_protocol::config::{Average, EvalSplit};
use gradient_protocol::judging::{self, Decision, Gram, Plan, Planned, Submission};
use gradient_protocol::scoring::{self, Control, Measurement, PageLoss, Rejection};
use gradient_store::{Expect, Kind, Store, StoreError, layout};
use serde::{Deserialize, Serialize};

use crate::context::{RunContext, mean};
use crate::error::NodeError;
use crate::master::Master;
use crate::miner::pages_for;

/// A miner whose submission is to be judged, and where to read it.
pub struct Candidate {
    pub uid: Uid,
    pub hotkey: AccountId,
    pub store: Store,
}

/// A verified submission, not yet decoded.
pub struct Fetched {
    pub payload: Bytes,
    pub bytes: u64,
}

/// Fetches a submission and checks everything short of its contents: that it exists, its
/// timing as this validator observed it (see [`crate::watch`]; never the Last-Modified its
/// miner's server writes), size cap, signature, run, window, kind, base master (one of
/// `bases`, the hashes of [`gradient_protocol::Windows::accepted_bases`]) and payload hash.
pub async fn fetch(
    ctx: &RunContext,
    candidate: &Candidate,
    window: u64,
    bases: &[[u8; 32]],
    observed: Timing,
) -> Result<Fetched, Rejection> {
    let key = layout::submission(&ctx.id, window, &candidate.hotkey);
    let stat = candidate
        .store
        .stat(&key)
        .await
        .map_err(|e| Rejection::BadEnvelope {
            detail: e.to_string(),
        })?;
    let Some((size, _)) = stat else {
        return Err(Rejection::Missing);
    };
    match observed {
        Timing::OnTime => {}
        Timing::Unwatched => tracing::warn!(
            window,
            miner = %candidate.hotkey,
            "this validator was not watching at the deadline; the upload is taken as on time"
        ),
        Timing::Early => return Err(Rejection::Early),
        Timing::Late => return Err(Rejection::Late),
    }
    let expect = Expect {
        kind: Some(Kind::Submission),
        run: Some(ctx.id),
        window: Some(window),
        base: None,
        signer: Some(candidate.hotkey),
    };
    let opened = candidate
        .store
        .get_envelope(&key, &expect, ctx.run.limits.max_submission_bytes)
        .await
        .map_err(|e| match e {
            StoreError::TooLarge { .. } => Rejection::TooLarge,
            StoreError::NotFound { .. } => Rejection::Missing,
            other => Rejection::BadEnvelope {
                detail: other.to_string(),
            },
        })?;
    if !bases.contains(&opened.header.base) {
        return Err(Rejection::WrongBase);
    }
    Ok(Fetched {
        payload: opened.payload,
        bytes: size,
    })
}

/// The seed of a window's evaluation pages: fixed by a block hash the chain produced only after
/// the window's deadline, so no miner could know the pages while training.
pub fn eval_seed(run: &[u8; 32], window: u64, block_hash: &[u8; 32]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new_derive_key("gradient eval seed v1");
    hasher.update(run);
    hasher.update(&window.to_le_bytes());
    hasher.update(block_hash);
    *hasher.finalize().as_bytes()
}

/// What stays the same for every submission of a window: the master the deltas are measured on
/// (the one they will be added to), the evaluation pages and that master's loss on them.
pub struct Judge<'a> {
    ctx: &'a RunContext,
    master: &'a Master,
    master_model: Model,
    window: u64,
    seed: [u8; 32],
    eval: Pages,
    /// Training pages a miner was assigned are left out of its evaluation pages.
    eval_from_training: bool,
    /// The master's mean loss on all the evaluation pages.
    pub eval_before: f64,
}

/// Pages a delta is measured on, and the base master's loss on each.
struct Pages {
    numbers: Vec<u64>,
    batches: Vec<Batch>,
    before: Vec<f64>,
}

impl Pages {
    fn load(
        ctx: &RunContext,
        model: &Model,
        split: Split,
        numbers: Vec<u64>,
    ) -> Result<Self, NodeError> {
        let batches = ctx.corpus.page_batches(split, &numbers)?;
        let before = ctx.page_losses(model, &batches)?;
        Ok(Pages {
            numbers,
            batches,
            before,
        })
    }

    /// Each page's loss before and under `model`, less the pages in `skip`.
    fn measure(
        &self,
        ctx: &RunContext,
        model: &Model,
        skip: &[u64],
    ) -> Result<Vec<PageLoss>, NodeError> {
        let mut losses = Vec::with_capacity(self.batches.len());
        for ((number, batch), &before) in self.numbers.iter().zip(&self.batches).zip(&self.before) {
            if !skip.contains(number) {
                let after = ctx.page_losses(model, std::slice::from_ref(batch))?[0];
                losses.push(PageLoss { before, after });
            }
        }
        Ok(losses)
    }
}

impl<'a> Judge<'a> {
    pub fn new(
        ctx: &'a RunContext,
        master: &'a Master,
        window: u64,
        seed: [u8; 32],
    ) -> Result<Self, NodeError> {
        let master_model = ctx.model_from(&master.params)?;
        let scoring = &ctx.run.scoring;
        let split = match scoring.eval_split {
            EvalSplit::Validation => Split::Validation,
            EvalSplit::Training => Split::Train,
        };
        let pages = evaluation_pages(&seed, scoring.eval_pages, ctx.corpus.num_pages(split))?;
        let eval = Pages::load(ctx, &master_model, split, pages)?;
        let eval_before = mean(&eval.before);
        Ok(Judge {
            ctx,
            master,
            master_model,
            window,
            seed,
            eval,
            eval_from_training: split == Split::Train,
            eval_before,
        })
    }

    /// The mean loss of `params` on all the evaluation pages (what `eval_before` is for the
    /// master).
    pub fn eval_loss(&self, params: &[Vec<f32>]) -> Result<f64, NodeError> {
        let model = self.ctx.model_from(params)?;
        self.ctx.mean_loss(&model, &self.eval.batches)
    }

    /// Decodes a payload strictly for this run's model and codec.
    pub fn decode(&self, payload: &[u8]) -> Result<Delta, Rejection> {
        self.ctx
            .codec
            .decode(payload)
            .map_err(|e| Rejection::Undecodable {
                detail: e.to_string(),
            })
    }

    /// The delta as dense tensors (for norms, copy detection and measuring).
    pub fn dense(&self, delta: &Delta) -> Result<Vec<Vec<f32>>, NodeError> {
        self.ctx.dense(delta)
    }

    /// The window's seed (evaluation pages, own pages, controls).
    pub fn seed(&self) -> &[u8; 32] {
        &self.seed
    }

    /// Losses of the master and of master + `delta_weight` x delta on the evaluation pages
    /// (less those the miner was assigned in this window or the two before, when they are
    /// training pages: there its own work is no reference) and on `own_pages` of its assigned
    /// pages (of the first `own_pages_among`, where set), picked by the window's seed (so a
    /// miner must train all of those). No controls: [`judge_window`] adds them.
    pub fn measure(
        &self,
        hotkey: &AccountId,
        dense: &[Vec<f32>],
    ) -> Result<Measurement, NodeError> {
        let model = self.model_with(dense)?;
        let skip = self.eval_skip(hotkey)?;
        Ok(Measurement {
            eval: self.eval.measure(self.ctx, &model, &skip)?,
            own: self.own_pages(hotkey)?.measure(self.ctx, &model, &[])?,
            controls: Vec::new(),
        })
    }

    /// The miner's own pages the window's seed picks, with the master's loss on each.
    fn own_pages(&self, hotkey: &AccountId) -> Result<Pages, NodeError> {
        let ctx = self.ctx;
        let assigned = pages_for(ctx, self.window, hotkey)?;
        let among = match ctx.run.scoring.own_pages_among {
            0 => assigned.len(),
            n => n.min(assigned.len()),
        };
        let own: Vec<u64> =
            judged_own_pages(&self.seed, &hotkey.0, ctx.run.scoring.own_pages, among)?
                .into_iter()
                .map(|i| assigned[i])
                .collect();
        Pages::load(ctx, &self.master_model, Split::Train, own)
    }

    /// Evaluation pages that are no reference for this miner.
    fn eval_skip(&self, hotkey: &AccountId) -> Result<Vec<u64>, NodeError> {
        let mut skip = Vec::new();
        if self.eval_from_training {
            // Its pages of the two windows before are still in its delta (it starts from its
            // last delta, and error feedback carries what was not sent): on those the delta
            // gains as on its own, so they are no reference either.
            for earlier in self.window.saturating_sub(RECENT_WINDOWS)..=self.window {
                skip.extend(pages_for(self.ctx, earlier, hotkey)?);
            }
        }
        Ok(skip)
    }

    /// The master with `delta_weight` x `dense` added.
    fn model_with(&self, dense: &[Vec<f32>]) -> Result<Model, NodeError> {
        let weight = self.ctx.run.scoring.delta_weight as f32;
        let after: Vec<Vec<f32>> = self
            .master
            .params
            .iter()
            .zip(dense)
            .map(|(p, d)| p.iter().zip(d).map(|(x, y)| x + weight * y).collect())
            .collect();
        self.ctx.model_from(&after)
    }
}

/// Windows before the judged one whose assigned pages are left out of a miner's evaluation
/// pages.
const RECENT_WINDOWS: u64 = 2;

/// One miner's outcome for a window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Judged {
    pub uid: Uid,
    pub hotkey: AccountId,
    pub outcome: Result<f64, Rejection>,
    pub measurement: Option<Measurement>,
    pub bytes: u64,
}

/// `latest` after window `window`'s outer step on the deltas summed with the weights given, in
/// order (and divided by their support where the run says so): the part of the validator's
/// window that anyone holding an aggregate record can replay (`replay::rebuild`).
pub fn apply_aggregate(
    ctx: &RunContext,
    window: u64,
    latest: &Master,
    weighted: &[(&Delta, f32)],
) -> Result<Master, NodeError> {
    let mut update: Vec<Vec<f32>> = latest.params.iter().map(|p| vec![0.0; p.len()]).collect();
    ctx.codec.apply(weighted, &mut update)?;
    if ctx.run.aggregation.average == Average::Support && weighted.len() > 1 {
        let dense: Vec<Vec<Vec<f32>>> = weighted
            .iter()
            .map(|c| ctx.dense(c.0))
            .collect::<Result<_, _>>()?;
        for (t, u) in update.iter_mut().enumerate() {
            let views: Vec<&[f32]> = dense.iter().map(|d| d[t].as_slice()).collect();
            divide_by_support(u, &views)?;
        }
    }
    let mut next = latest.clone();
    let a = &ctx.run.aggregation;
    for ((p, m), u) in next
        .params
        .iter_mut()
        .zip(next.momentum.iter_mut())
        .zip(&update)
    {
        outer_step(p, m, u, a.outer_lr_at(window), a.outer_momentum)?;
    }
    Ok(next)
}

/// L2 norm of a dense delta over all tensors.
pub fn delta_norm(dense: &[Vec<f32>]) -> f64 {
    dense.iter().map(|t| norm(t).powi(2)).sum::<f64>().sqrt()
}

/// Score or rejection from a measurement.
pub fn score(ctx: &RunContext, m: &Measurement) -> Result<f64, Rejection> {
    scoring::score(m, &ctx.run.scoring, false)
}

/// A submission as fetched for judging: decoded, or why not.
pub struct Received {
    pub hotkey: AccountId,
    /// When this validator first saw it: the upload order.
    pub first_seen_ms: u64,
    pub got: Result<ReceivedDelta, Rejection>,
}

/// A decoded submission.
pub struct ReceivedDelta {
    pub fetched: Fetched,
    pub delta: Delta,
    pub dense: Vec<Vec<f32>>,
}

impl ReceivedDelta {
    /// Decodes a fetched payload strictly and expands it: the rejection when it is not a valid
    /// delta for the run, an error only when expanding a valid one fails.
    pub fn decode(judge: &Judge, fetched: Fetched) -> Result<Result<Self, Rejection>, NodeError> {
        let delta = match judge.decode(&fetched.payload) {
            Ok(delta) => delta,
            Err(why) => return Ok(Err(why)),
        };
        let dense = judge.dense(&delta)?;
        Ok(Ok(ReceivedDelta {
            fetched,
            delta,
            dense,
        }))
    }
}

/// A member of the previous aggregate, which this window's submissions are compared with.
pub struct Earlier {
    pub hotkey: AccountId,
    pub dense: Vec<Vec<f32>>,
}

/// A window judged: the protocol's plan and decision, and what was measured.
pub struct Judgement {
    pub planned: Planned,
    pub measured: Vec<Option<Measurement>>,
    pub decision: Decision,
}

/// Measures each planned vector on the evaluation pages and its miner's own pages; then, for
/// the miners `pick_controls` gives controls from those raw measurements, each control's
/// vector on their own pages too, and puts each miner's [`Measurement`] together with its
/// controls' gains on the same pages.
fn measure_planned(
    judge: &Judge,
    received: &[Received],
    planned: &Planned,
    vectors: &[Option<&[Vec<f32>]>],
    pick_controls: impl FnOnce(&[Option<Measurement>]) -> Vec<Vec<usize>>,
) -> Result<Vec<Option<Measurement>>, NodeError> {
    let n = received.len();
    // Per measured miner: its own pages, and the evaluation pages it recently trained.
    let mut own_pages = Vec::with_capacity(n);
    let mut trained = Vec::with_capacity(n);
    for (r, plan) in received.iter().zip(&planned.plans) {
        let measured = matches!(plan, Plan::Measure { .. });
        own_pages.push(measured.then(|| judge.own_pages(&r.hotkey)).transpose()?);
        trained.push(if measured {
            judge.eval_skip(&r.hotkey)?
        } else {
            Vec::new()
        });
    }
    // eval[i]: vector i on every evaluation page; own[j][i]: vector i on miner j's own pages.
    let mut eval: Vec<Option<Vec<PageLoss>>> = vec![None; n];
    let mut own: Vec<BTreeMap<usize, Vec<PageLoss>>> = vec![BTreeMap::new(); n];
    for i in 0..n {
        let Some(vector) = planned_vector(&planned.plans[i], &received[i], vectors) else {
            continue;
        };
        let model = judge.model_with(&vector)?;
        eval[i] = Some(judge.eval.measure(judge.ctx, &model, &[])?);
        let pages = own_pages[i]
            .as_ref()
            .expect("a measured miner has own pages");
        own[i].insert(i, pages.measure(judge.ctx, &model, &[])?);
    }
    let pages = MeasuredPages {
        judge,
        own_pages: &own_pages,
        trained: &trained,
        eval: &eval,
    };
    let no_controls = vec![Vec::new(); n];
    let controls = pick_controls(&pages.assemble(&own, &no_controls));
    // Only the controls' own-page losses are new: their evaluation pages are measured above.
    for (i, (plan, r)) in planned.plans.iter().zip(received).enumerate() {
        let judged: Vec<usize> = (0..n).filter(|&j| controls[j].contains(&i)).collect();
        if judged.is_empty() {
            continue;
        }
        let vector = planned_vector(plan, r, vectors).expect("a control is measured");
        let model = judge.model_with(&vector)?;
        for j in judged {
            let pages = own_pages[j].as_ref().expect("a judged miner has own pages");
            own[j].insert(i, pages.measure(judge.ctx, &model, &[])?);
        }
    }
    Ok(pages.assemble(&own, &controls))
}

/// What [`measure_planned`] measured, before the measurements are put together.
struct MeasuredPages<'a> {
    judge: &'a Judge<'a>,
    own_pages: &'a [Option<Pages>],
    trained: &'a [Vec<u64>],
    eval: &'a [Option<Vec<PageLoss>>],
}

impl MeasuredPages<'_> {
    /// Each measured miner's [`Measurement`], with the gains of `controls[j]` on its pages.
    fn assemble(
        &self,
        own: &[BTreeMap<usize, Vec<PageLoss>>],
        controls: &[Vec<usize>],
    ) -> Vec<Option<Measurement>> {
        let (judge, trained) = (self.judge, self.trained);
        let mut measured = Vec::with_capacity(own.len());
        for j in 0..own.len() {
            let (Some(eval_j), Some(own_j)) = (&self.eval[j], own[j].get(&j)) else {
                measured.push(None);
                continue;
            };
            let kept: Vec<usize> = (0..judge.eval.numbers.len())
                .filter(|&p| !trained[j].contains(&judge.eval.numbers[p]))
                .collect();
            let own_numbers = &self.own_pages[j].as_ref().expect("measured").numbers;
            let mut with_controls = Vec::with_capacity(controls[j].len());
            for &c in &controls[j] {
                // A control's recent pages are in its delta: no reference on those.
                let gain = |number: u64, loss: &PageLoss| {
                    (!trained[c].contains(&number)).then(|| loss.gain())
                };
                let eval_c = self.eval[c].as_ref().expect("a control is measured");
                with_controls.push(Control {
                    eval: kept
                        .iter()
                        .map(|&p| gain(judge.eval.numbers[p], &eval_c[p]))
                        .collect(),
                    own: own_numbers
                        .iter()
                        .zip(&own[j][&c])
                        .map(|(&n, l)| gain(n, l))
                        .collect(),
                });
            }
            measured.push(Some(Measurement {
                eval: kept.iter().map(|&p| eval_j[p]).collect(),
                own: own_j.clone(),
                controls: with_controls,
            }));
        }
        measured
    }
}

/// The vector a plan measures: `scale x (delta - sum c_k delta_k)`; `None` for a refusal.
fn planned_vector(
    plan: &Plan,
    received: &Received,
    vectors: &[Option<&[Vec<f32>]>],
) -> Option<Vec<Vec<f32>>> {
    let Plan::Measure { scale, residual } = plan else {
        return None;
    };
    let own = received.got.as_ref().expect("planned means decoded");
    let mut vector: Vec<Vec<f32>> = own
        .dense
        .iter()
        .map(|t| t.iter().map(|&x| (*scale * x as f64) as f32).collect())
        .collect();
    for &(k, c) in residual {
        let other = vectors[k].expect("overlaps are decoded");
        let c = (scale * c) as f32;
        for (v, o) in vector.iter_mut().zip(other) {
            v.iter_mut().zip(o).for_each(|(x, &y)| *x -= c * y);
        }
    }
    Some(vector)
}

/// The norm of the last outer step, `latest - base` (0 when they are the same master): the
/// length every delta of the window is measured at, past window 1
/// (`judging::measuring_norm`).
pub fn last_step_norm(latest: &Master, base: &Master) -> f64 {
    latest
        .params
        .iter()
        .zip(&base.params)
        .flat_map(|(l, b)| l.iter().zip(b))
        .map(|(&l, &b)| ((l - b) as f64).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// The miners a window's judgement vouches for in the next window (`Decision::vouches`).
pub fn vouched_next(received: &[Received], decision: &Decision) -> BTreeSet<AccountId> {
    received
        .iter()
        .zip(&decision.vouches)
        .filter(|(_, vouched)| **vouched)
        .map(|(r, _)| r.hotkey)
        .collect()
}

/// Judges a window with the protocol's rules ([`judging`]): plans, measures each planned
/// vector on `judge`'s master, decides. `earlier` are the previous aggregate's members
/// (hotkey, dense delta), compared with for overlap; `last_step_norm`, the length deltas are
/// measured at (`judging::measuring_norm`; 0: the window's median norm); `vouched`, the
/// miners whose delta passed the rank test in the previous window (its `Decision::vouches`).
pub fn judge_window(
    ctx: &RunContext,
    judge: &Judge,
    received: &[Received],
    earlier: &[Earlier],
    last_step_norm: f64,
    vouched: &BTreeSet<AccountId>,
) -> Result<Judgement, NodeError> {
    let submissions: Vec<Submission> = received
        .iter()
        .map(|r| Submission {
            hotkey: r.hotkey.0,
            name: r.hotkey.to_ss58(),
            first_seen_ms: r.first_seen_ms,
            checked: match &r.got {
                Ok(d) => Ok(delta_norm(&d.dense)),
                Err(why) => Err(why.clone()),
            },
            vouched: vouched.contains(&r.hotkey),
        })
        .collect();
    let vectors: Vec<Option<&[Vec<f32>]>> = earlier
        .iter()
        .map(|e| Some(e.dense.as_slice()))
        .chain(
            received
                .iter()
                .map(|r| r.got.as_ref().ok().map(|d| d.dense.as_slice())),
        )
        .collect();
    let gram = Gram::of(earlier.len(), &vectors);
    let earlier_keys: Vec<[u8; 32]> = earlier.iter().map(|e| e.hotkey.0).collect();
    let planned = judging::plan(
        &submissions,
        &earlier_keys,
        &gram,
        last_step_norm,
        &ctx.run.scoring,
    );
    // Controls only where the raw gains do not show the work: a page's own part can hide it.
    let measured = measure_planned(judge, received, &planned, &vectors, |raw| {
        let needed = judging::needs_controls(&submissions, &planned, raw, &ctx.run.scoring);
        judging::controls(
            &submissions,
            &planned,
            judge.seed(),
            ctx.run.scoring.own_page_controls,
            &needed,
        )
    })?;
    let decision = judging::decide(
        &submissions,
        &planned,
        &measured,
        &ctx.run.scoring,
        &ctx.run.aggregation,
    );
    Ok(Judgement {
        planned,
        measured,
        decision,
    })
}
