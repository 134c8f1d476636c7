//! Following the master without downloading it: master `i` is master `i-1` after the outer
//! step on the submissions the aggregate record of window `i-1` names, each by hotkey, payload
//! hash and weight. A node that holds master `i-1` fetches those few submissions (a few
//! hundred kilobytes instead of the whole master and its momentum), recomputes master `i` as
//! the validator did, and accepts it only when its hash is the one the record names; anything
//! else (a missing or altered submission, a record for another master) is an error, and the
//! caller downloads the master instead.

use bytes::Bytes;
use gradient_chain::AccountId;
use gradient_store::{Expect, Kind, Store, layout};

use crate::context::RunContext;
use crate::error::NodeError;
use crate::master::master_hash;
use crate::network::{Buckets, Fetched};
use crate::validator::apply_aggregate;
use crate::validator_node::{AggregateRecord, MAX_AGGREGATE_BYTES};

/// Reads the publisher's aggregate record of `window`, signed by it.
pub async fn read_record(
    ctx: &RunContext,
    store: &Store,
    window: u64,
    publisher: AccountId,
) -> Result<AggregateRecord, NodeError> {
    let key = layout::aggregate(&ctx.id, window);
    let expect = Expect {
        kind: Some(Kind::Aggregate),
        run: Some(ctx.id),
        window: Some(window),
        signer: Some(publisher),
        base: None,
    };
    let opened = store
        .get_envelope(&key, &expect, MAX_AGGREGATE_BYTES)
        .await?;
    let record: AggregateRecord = serde_json::from_slice(&opened.payload)
        .map_err(|e| NodeError::Invalid(format!("aggregate record {key} is malformed: {e}")))?;
    // The outer step's rate depends on the window: replaying under another would fail late.
    if record.window != window {
        return Err(NodeError::Invalid(format!(
            "aggregate record {key} is for window {}, not {window}",
            record.window
        )));
    }
    Ok(record)
}

/// Fetches every submission `record` names from its miner's bucket (signed by that miner, for
/// the record's window, within the run's size cap), in the record's order.
pub async fn fetch_submissions(
    ctx: &RunContext,
    chain: &dyn gradient_chain::Chain,
    buckets: &Buckets,
    record: &AggregateRecord,
) -> Result<Vec<Bytes>, NodeError> {
    // Each entry is a download of up to the submission cap: no more than an aggregate holds.
    let most = ctx.run.aggregation.top_k;
    if record.entries.len() > most {
        return Err(NodeError::Invalid(format!(
            "aggregate {} names {} submissions; the run aggregates at most {most}",
            record.window,
            record.entries.len()
        )));
    }
    let mut payloads = Vec::with_capacity(record.entries.len());
    for (hotkey, _, _) in &record.entries {
        let store = buckets.of(chain, hotkey).await?.ok_or_else(|| {
            NodeError::Invalid(format!(
                "aggregate {}: miner {hotkey} has no bucket on chain",
                record.window
            ))
        })?;
        let expect = Expect {
            kind: Some(Kind::Submission),
            run: Some(ctx.id),
            window: Some(record.window),
            signer: Some(*hotkey),
            base: None,
        };
        let key = layout::submission(&ctx.id, record.window, hotkey);
        let opened = store
            .get_envelope(&key, &expect, ctx.run.limits.max_submission_bytes)
            .await?;
        payloads.push(opened.payload);
    }
    Ok(payloads)
}

/// Master `record.window + 1` from `previous` (master `record.window`) and the payloads of the
/// record's entries, in its order: each payload must have the hash the record names, and the
/// result the record's next-master hash.
pub fn rebuild(
    ctx: &RunContext,
    previous: &Fetched,
    record: &AggregateRecord,
    payloads: &[Bytes],
) -> Result<Fetched, NodeError> {
    let refuse = |why: String| NodeError::Invalid(format!("aggregate {}: {why}", record.window));
    if record.previous_master != hex::encode(previous.hash) {
        return Err(refuse(format!(
            "it builds on master {}, not on the one held ({})",
            record.previous_master,
            hex::encode(previous.hash)
        )));
    }
    if payloads.len() != record.entries.len() {
        return Err(refuse(format!(
            "{} payloads for {} entries",
            payloads.len(),
            record.entries.len()
        )));
    }
    let mut deltas = Vec::with_capacity(payloads.len());
    for ((hotkey, hash, weight), payload) in record.entries.iter().zip(payloads) {
        let got = blake3::hash(payload).to_hex();
        if got.as_str() != hash {
            return Err(refuse(format!(
                "{hotkey}'s submission hashes to {got}, the record names {hash}"
            )));
        }
        if !weight.is_finite() {
            return Err(refuse(format!("{hotkey}'s weight {weight} is not finite")));
        }
        let delta = ctx
            .codec
            .decode(payload)
            .map_err(|e| refuse(format!("{hotkey}'s submission does not decode: {e}")))?;
        deltas.push((delta, *weight));
    }
    let weighted: Vec<_> = deltas.iter().map(|(d, w)| (d, *w)).collect();
    let master = apply_aggregate(ctx, record.window, &previous.master, &weighted)?;
    let hash = master_hash(&master.to_bytes(&ctx.specs)?);
    if hex::encode(hash) != record.next_master {
        return Err(refuse(format!(
            "the replayed master hashes to {}, the record names {}",
            hex::encode(hash),
            record.next_master
        )));
    }
    Ok(Fetched { master, hash })
}
