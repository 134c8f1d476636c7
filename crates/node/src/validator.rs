//! The validator's judgement of one window: fetch every submission within the caps, check its
//! envelope and timing, decode it, measure it against the base master, score it, and fold the
//! best into the next master.

use bytes::Bytes;
use gradient_chain::{AccountId, Uid};
use gradient_codec::Delta;
use gradient_data::Split;
use gradient_data::pages::evaluation_pages;
use gradient_model::{Batch, Model};
use gradient_protocol::Timing;
use gradient_protocol::aggregate::{
    clipped_weights, divide_by_support, norm, outer_step, top_k, top_k_of,
};
use gradient_protocol::config::{Average, Include};
use gradient_protocol::scoring::{self, Measurement, Rejection};
use gradient_store::{Expect, Kind, Store, StoreError, layout};
use serde::{Deserialize, Serialize};

use crate::context::RunContext;
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
    pub uploaded_ms: u64,
    pub bytes: u64,
}

/// Fetches a submission and checks everything short of its contents: size cap, signature, run,
/// window, kind, base master and payload hash, then its upload time against the timestamps of
/// the window's first block and of its deadline block.
pub async fn fetch(
    ctx: &RunContext,
    candidate: &Candidate,
    window: u64,
    base: [u8; 32],
    start_ms: u64,
    deadline_ms: u64,
) -> Result<Fetched, Rejection> {
    let key = layout::submission(&ctx.id, window, &candidate.hotkey);
    let stat = candidate
        .store
        .stat(&key)
        .await
        .map_err(|e| Rejection::BadEnvelope {
            detail: e.to_string(),
        })?;
    let Some((size, uploaded_ms)) = stat else {
        return Err(Rejection::Missing);
    };
    match ctx.windows.timing(uploaded_ms, start_ms, deadline_ms) {
        Timing::OnTime => {}
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
    if opened.header.base != base {
        return Err(Rejection::WrongBase);
    }
    Ok(Fetched {
        payload: opened.payload,
        uploaded_ms,
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
    eval: Vec<Batch>,
    pub eval_before: f64,
}

impl<'a> Judge<'a> {
    pub fn new(
        ctx: &'a RunContext,
        master: &'a Master,
        window: u64,
        seed: [u8; 32],
    ) -> Result<Self, NodeError> {
        let master_model = ctx.model_from(&master.params)?;
        let pages = evaluation_pages(
            &seed,
            ctx.run.scoring.eval_pages,
            ctx.corpus.num_pages(Split::Validation),
        )?;
        let eval = ctx.corpus.page_batches(Split::Validation, &pages)?;
        let eval_before = ctx.mean_loss(&master_model, &eval)?;
        Ok(Judge {
            ctx,
            master,
            master_model,
            window,
            seed,
            eval,
            eval_before,
        })
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

    /// Losses of the master and of master + `delta_weight` x delta on the evaluation pages and on `own_pages` of the
    /// miner's assigned pages (of the first `own_pages_among`, where set), picked by the window's
    /// seed (so a miner must train all of those).
    pub fn measure(
        &self,
        hotkey: &AccountId,
        dense: &[Vec<f32>],
    ) -> Result<Measurement, NodeError> {
        let ctx = self.ctx;
        let assigned = pages_for(ctx, self.window, hotkey)?;
        let mut key = self.seed.to_vec();
        key.extend_from_slice(&hotkey.0);
        let among = match ctx.run.scoring.own_pages_among {
            0 => assigned.len(),
            n => n.min(assigned.len()),
        };
        let own: Vec<u64> = evaluation_pages(
            blake3::hash(&key).as_bytes(),
            ctx.run.scoring.own_pages.min(among),
            among as u64,
        )?
        .into_iter()
        .map(|i| assigned[i as usize])
        .collect();
        let own = ctx.corpus.page_batches(Split::Train, &own)?;
        let weight = ctx.run.scoring.delta_weight as f32;
        let after: Vec<Vec<f32>> = self
            .master
            .params
            .iter()
            .zip(dense)
            .map(|(p, d)| p.iter().zip(d).map(|(x, y)| x + weight * y).collect())
            .collect();
        let model = ctx.model_from(&after)?;
        Ok(Measurement {
            eval_before: self.eval_before,
            eval_after: ctx.mean_loss(&model, &self.eval)?,
            own_before: ctx.mean_loss(&self.master_model, &own)?,
            own_after: ctx.mean_loss(&model, &own)?,
        })
    }
}

/// One miner's outcome for a window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Judged {
    pub uid: Uid,
    pub hotkey: AccountId,
    pub outcome: Result<f64, Rejection>,
    pub measurement: Option<Measurement>,
    pub bytes: u64,
}

/// The submissions the next master is made of, best first: the run's `top_k` among those with
/// a positive score, or among all that passed the checks (`accepted`).
pub fn choose(
    ctx: &RunContext,
    scores: &[f64],
    accepted: &[bool],
    keys: &[[u8; 32]],
) -> Vec<usize> {
    let k = ctx.run.aggregation.top_k;
    match ctx.run.aggregation.include {
        Include::Positive => top_k(scores, keys, k),
        Include::Accepted => top_k_of(scores, accepted, keys, k),
    }
}

/// The weight each chosen delta is summed with, as the aggregate record lists it: `1/n` and
/// the median-norm clip, or the clip alone where the support count divides afterwards.
pub fn aggregation_weights(ctx: &RunContext, norms: &[f64]) -> Vec<f32> {
    let mut weights = clipped_weights(norms);
    if ctx.run.aggregation.average == Average::Support {
        let n = weights.len() as f32;
        weights.iter_mut().for_each(|w| *w *= n);
    }
    weights
}

/// The next master: the chosen deltas, each weighted `1/n` and clipped to the median norm,
/// summed in the order given, then the outer Nesterov step on `latest`.
pub fn next_master(
    ctx: &RunContext,
    latest: &Master,
    chosen: &[(&Delta, f64)],
) -> Result<Master, NodeError> {
    let norms: Vec<f64> = chosen.iter().map(|c| c.1).collect();
    let weights = aggregation_weights(ctx, &norms);
    let weighted: Vec<(&Delta, f32)> = chosen
        .iter()
        .zip(&weights)
        .map(|(c, &w)| (c.0, w))
        .collect();
    apply_aggregate(ctx, latest, &weighted)
}

/// `latest` after the outer step on the deltas summed with the weights given, in order (and
/// divided by their support where the run says so): the part of [`next_master`] that anyone
/// holding an aggregate record can replay.
pub fn apply_aggregate(
    ctx: &RunContext,
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
        outer_step(p, m, u, a.outer_lr, a.outer_momentum)?;
    }
    Ok(next)
}

/// L2 norm of a dense delta over all tensors.
pub fn delta_norm(dense: &[Vec<f32>]) -> f64 {
    dense.iter().map(|t| norm(t).powi(2)).sum::<f64>().sqrt()
}

/// Score or rejection from a measurement.
pub fn score(ctx: &RunContext, m: &Measurement) -> Result<f64, Rejection> {
    scoring::score(m, &ctx.run.scoring)
}
