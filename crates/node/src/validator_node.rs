//! The validator's loop: when a window is past its deadline, judge every submission, publish
//! the next master and the aggregate that made it, smooth the scores and set weights on chain
//! at its rate limit. Progress is saved after every window, so a restart judges nothing twice
//! and skips nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use gradient_chain::{AccountId, Metagraph, Uid};
use gradient_data::Split;
use gradient_data::pages::evaluation_pages;
use gradient_model::checkpoint::write_atomic;
use gradient_protocol::judging;
use gradient_protocol::scoring::{Rejection, smooth, weights};
use gradient_store::{Kind, StoreError, layout};
use serde::{Deserialize, Serialize};

use crate::error::NodeError;
use crate::master::{Master, master_hash};
use crate::network::{self, Buckets};
use crate::peer::Peer;
use crate::replay;
use crate::validator::{self, Candidate, Earlier, Judge, Received, ReceivedDelta};
use crate::watch::{Sightings, Watcher};

/// One miner's result in one window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MinerResult {
    pub uid: Uid,
    pub hotkey: AccountId,
    pub score: f64,
    pub rejection: Option<Rejection>,
    pub bytes: u64,
    pub aggregated: bool,
    pub measurement: Option<gradient_protocol::Measurement>,
}

/// What judging one window did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowSummary {
    pub window: u64,
    pub miners: Vec<MinerResult>,
    /// Mean loss of the new master on the report pages (fixed validation pages).
    pub master_loss: f64,
    pub master_hash: String,
    pub judge_seconds: f64,
    /// For a validator that does not publish: whether the publisher's aggregate names the same
    /// next master (`None` when this validator publishes, or the publisher's did not appear).
    pub publisher_agrees: Option<bool>,
}

/// What every node can check about a master: the submissions and weights that made it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AggregateRecord {
    pub window: u64,
    pub base_master: String,
    pub previous_master: String,
    pub next_master: String,
    /// (hotkey, payload blake3, weight) in the order they were summed.
    pub entries: Vec<(AccountId, String, f32)>,
}

#[derive(Default, Serialize, Deserialize)]
struct ValidatorState {
    next_window: u64,
    scores: BTreeMap<AccountId, f64>,
    history: Vec<WindowSummary>,
    /// Miners whose delta passed the rank test in the window before `vouched_for`
    /// (`Decision::vouches`), and so get the looser allowance in that window only.
    #[serde(default)]
    vouched: BTreeSet<AccountId>,
    #[serde(default)]
    vouched_for: u64,
}

impl ValidatorState {
    /// Who is vouched for in `window`: nobody where the window before it was not judged.
    fn vouched_in(&self, window: u64) -> BTreeSet<AccountId> {
        if self.vouched_for == window {
            self.vouched.clone()
        } else {
            BTreeSet::new()
        }
    }
}

/// An aggregate record lists at most `top_k` entries; anything bigger is not one.
pub(crate) const MAX_AGGREGATE_BYTES: u64 = 1 << 20;

/// The validator's sightings file, in its state directory.
const SIGHTINGS: &str = "sightings.json";

/// Stops the polling task when the loop ends, however it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Validation pages every master is reported on.
const REPORT_PAGES: usize = 4;

pub struct ValidatorNode {
    pub peer: Peer,
    buckets: Arc<Buckets>,
    /// When this validator first saw each submission (see [`crate::watch`]).
    sightings: Arc<Mutex<Sightings>>,
    /// The last aggregate's members, which the next window's submissions are compared with
    /// (not kept across a restart: the first window judged after one compares within itself).
    previous_members: std::sync::Mutex<Vec<(AccountId, Bytes)>>,
}

impl ValidatorNode {
    /// A validator for `peer`, with what it saw before a restart.
    pub fn new(peer: Peer) -> Result<Self, NodeError> {
        let sightings = Watcher::load(&peer.state_dir.join(SIGHTINGS))?;
        Ok(Self {
            buckets: Arc::new(Buckets::new(peer.reach)),
            peer,
            sightings: Arc::new(Mutex::new(sightings)),
            previous_members: Default::default(),
        })
    }

    fn lock_sightings(&self) -> std::sync::MutexGuard<'_, Sightings> {
        self.sightings.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What polls the miners' buckets while windows are open; [`ValidatorNode::run`] runs it
    /// beside judging.
    pub fn watcher(&self) -> Watcher {
        Watcher {
            ctx: self.peer.ctx.clone(),
            chain: self.peer.chain.clone(),
            buckets: self.buckets.clone(),
            me: self.peer.key.account(),
            path: self.peer.state_dir.join(SIGHTINGS),
            sightings: self.sightings.clone(),
        }
    }

    fn earlier_members(&self, ctx: &crate::RunContext) -> Result<Vec<Earlier>, NodeError> {
        let members = self
            .previous_members
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        members
            .into_iter()
            .map(|(hotkey, payload)| {
                Ok(Earlier {
                    hotkey,
                    dense: ctx.dense(&ctx.codec.decode(&payload)?)?,
                })
            })
            .collect()
    }

    fn state_path(&self) -> PathBuf {
        self.peer.state_dir.join("validator.json")
    }

    fn load_state(&self) -> Result<ValidatorState, NodeError> {
        match std::fs::read(self.state_path()) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| NodeError::Invalid(format!("{}: {e}", self.state_path().display()))),
            Err(_) => Ok(ValidatorState::default()),
        }
    }

    fn save_state(&self, state: &ValidatorState) -> Result<(), NodeError> {
        std::fs::create_dir_all(&self.peer.state_dir)
            .map_err(|e| NodeError::Invalid(format!("{}: {e}", self.peer.state_dir.display())))?;
        write_atomic(
            &self.state_path(),
            &serde_json::to_vec(state).expect("serialises"),
        )?;
        Ok(())
    }

    /// The windows judged so far.
    pub fn history(&self) -> Result<Vec<WindowSummary>, NodeError> {
        Ok(self.load_state()?.history)
    }

    pub async fn run(&self, on_window: &(dyn Fn(&WindowSummary) + Sync)) -> Result<(), NodeError> {
        self.peer.join().await?;
        let mut state = self.load_state()?;
        let buckets = self.buckets.clone();
        // Polls at most a quarter of a block apart, so every block of the upload window has
        // one (the timing rule's tolerance is one block).
        let block_ms = self.peer.chain.params().await?.block_time_ms;
        let interval = Duration::from_millis((block_ms / 4).clamp(50, 3_000));
        let watching = AbortOnDrop(tokio::spawn(self.watcher().run(interval)));
        loop {
            if let Some(last) = self.peer.last_window
                && state.next_window > last
            {
                return Ok(());
            }
            let head = self.peer.chain.head().await?;
            let ready = self.peer.ctx.windows.judgeable(head.block);
            if ready.is_none_or(|w| w < state.next_window) {
                tokio::time::sleep(Duration::from_millis(250)).await;
                continue;
            }
            let summary = self.judge_next(&buckets, &mut state).await?;
            on_window(&summary);
            self.set_weights(&state).await?;
            if watching.0.is_finished() {
                return Err(NodeError::Invalid(
                    "the task polling miners' buckets stopped".into(),
                ));
            }
        }
    }

    /// Judges the next window not yet judged (it must be past its deadline) and saves the
    /// progress: one step of [`ValidatorNode::run`].
    pub async fn judge_once(&self) -> Result<WindowSummary, NodeError> {
        let mut state = self.load_state()?;
        let buckets = self.buckets.clone();
        self.judge_next(&buckets, &mut state).await
    }

    async fn judge_next(
        &self,
        buckets: &Buckets,
        state: &mut ValidatorState,
    ) -> Result<WindowSummary, NodeError> {
        let window = state.next_window;
        let summary = self.judge(buckets, state, window).await?;
        state.history.push(summary.clone());
        state.next_window = window + 1;
        self.save_state(state)?;
        self.lock_sightings().forget_before(window + 1);
        Ok(summary)
    }

    /// Master `index` as everyone follows it, which must be published by now.
    async fn master(
        &self,
        buckets: &Buckets,
        graph: &Metagraph,
        index: u64,
    ) -> Result<network::Fetched, NodeError> {
        self.peer
            .master(buckets, graph, index)
            .await?
            .ok_or_else(|| {
                NodeError::Invalid(format!(
                    "master {index} is missing: the publishing validator has not published it"
                ))
            })
    }

    /// Waits (at most a window's time) for the publisher's aggregate of `window` and says
    /// whether it names the same submissions, weights and next master as `ours`.
    async fn check_publisher(
        &self,
        buckets: &Buckets,
        publisher: AccountId,
        ours: &AggregateRecord,
    ) -> Result<Option<bool>, NodeError> {
        let ctx = &self.peer.ctx;
        let Some(store) = buckets.of(self.peer.chain.as_ref(), &publisher).await? else {
            return Ok(None);
        };
        let wait = Duration::from_millis(
            self.peer.chain.params().await?.block_time_ms * ctx.windows.blocks_per_window,
        );
        let started = std::time::Instant::now();
        let theirs = loop {
            match replay::read_record(ctx, &store, ours.window, publisher).await {
                Ok(record) => break record,
                Err(NodeError::Store(StoreError::NotFound { .. })) if started.elapsed() < wait => {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(NodeError::Store(StoreError::NotFound { .. })) => {
                    tracing::warn!(window = ours.window, publisher = %publisher,
                        "the publisher has not published its aggregate; nothing to check");
                    return Ok(None);
                }
                Err(e) => return Err(e),
            }
        };
        if &theirs == ours {
            return Ok(Some(true));
        }
        tracing::error!(
            window = ours.window,
            publisher = %publisher,
            ours = %ours.next_master,
            theirs = %theirs.next_master,
            "MISMATCH: the publisher's next master differs from the one this validator computed \
             from the same submissions; miners follow the publisher, so check its version and run"
        );
        eprintln!(
            "MISMATCH in window {}: publisher {} published master {} (entries {:?}); this validator computed {} (entries {:?})",
            ours.window,
            publisher,
            theirs.next_master,
            theirs.entries,
            ours.next_master,
            ours.entries
        );
        Ok(Some(false))
    }

    async fn judge(
        &self,
        buckets: &Buckets,
        state: &mut ValidatorState,
        window: u64,
    ) -> Result<WindowSummary, NodeError> {
        let started = std::time::Instant::now();
        let ctx = &self.peer.ctx;
        let windows = ctx.windows;
        let graph = self.peer.chain.metagraph().await?;
        let publisher = network::publisher(&graph)
            .ok_or_else(|| NodeError::Invalid("no validator with a permit and stake yet".into()))?;
        // A submission names either master as its base; its delta is applied to the latest.
        let [base_index, latest_index] = windows.accepted_bases(window);
        let base = self.master(buckets, &graph, base_index).await?;
        let latest = self.master(buckets, &graph, latest_index).await?;
        let sightings = self.lock_sightings().clone();
        let seed = validator::eval_seed(
            &ctx.id,
            window,
            &self.peer.chain.block_hash(windows.deadline(window)).await?,
        );
        let me = self.peer.key.account();

        // Fetch every miner's submission at once.
        let bases = [base.hash, latest.hash];
        let mut candidates = Vec::new();
        for neuron in graph
            .neurons
            .iter()
            .filter(|n| n.hotkey != me && !n.is_validator())
        {
            if let Ok(Some(store)) = buckets.of(self.peer.chain.as_ref(), &neuron.hotkey).await {
                candidates.push(Candidate {
                    uid: neuron.uid,
                    hotkey: neuron.hotkey,
                    store,
                });
            }
        }
        let fetched = futures::future::join_all(candidates.iter().map(|c| {
            let timing = sightings.timing(ctx, window, &c.hotkey);
            validator::fetch(ctx, c, window, &bases, timing)
        }))
        .await;

        // Deltas are measured on the master they will be added to, not on the one they name as
        // their base: a miner that started from its base plus its own previous delta (see
        // `miner::eager_start`) made a delta for the newer master.
        let judge = tokio::task::block_in_place(|| Judge::new(ctx, &latest.master, window, seed))?;
        let step = judging::measuring_norm(
            window,
            validator::last_step_norm(&latest.master, &base.master),
            &ctx.run.aggregation,
        );
        let mut received = Vec::new();
        for (candidate, got) in candidates.iter().zip(fetched) {
            let got = match got {
                Ok(fetched) => {
                    tokio::task::block_in_place(|| ReceivedDelta::decode(&judge, fetched))?
                }
                Err(why) => Err(why),
            };
            received.push(Received {
                hotkey: candidate.hotkey,
                first_seen_ms: sightings.order_key(window, &candidate.hotkey),
                got,
            });
        }
        let earlier = self.earlier_members(ctx)?;
        let judged = tokio::task::block_in_place(|| {
            validator::judge_window(
                ctx,
                &judge,
                &received,
                &earlier,
                step,
                &state.vouched_in(window),
            )
        })?;
        drop(earlier);
        let decision = &judged.decision;
        let vouched = validator::vouched_next(&received, decision);
        let mut results: Vec<MinerResult> = candidates
            .iter()
            .zip(&received)
            .zip(decision.outcomes.iter().zip(&judged.measured))
            .map(|((c, r), (outcome, measured))| MinerResult {
                uid: c.uid,
                hotkey: c.hotkey,
                score: *outcome.as_ref().unwrap_or(&0.0),
                rejection: outcome.as_ref().err().cloned(),
                bytes: r.got.as_ref().map_or(0, |d| d.fetched.bytes),
                aggregated: false,
                measurement: measured.clone(),
            })
            .collect();

        // The next master from the chosen, in the protocol's order and weights.
        let mut weighted = Vec::new();
        let mut entries = Vec::new();
        let mut members = Vec::new();
        for (&i, &w) in decision.members.iter().zip(&decision.weights) {
            let d = received[i].got.as_ref().expect("members are decoded");
            weighted.push((&d.delta, w));
            entries.push((
                results[i].hotkey,
                blake3::hash(&d.fetched.payload).to_hex().to_string(),
                w,
            ));
            members.push((results[i].hotkey, d.fetched.payload.clone()));
            results[i].aggregated = true;
        }
        let next = tokio::task::block_in_place(|| {
            validator::apply_aggregate(ctx, window, &latest.master, &weighted)
        })?;
        *self
            .previous_members
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = members;
        let next_bytes = Bytes::from(next.to_bytes(&ctx.specs)?);
        let next_hash = master_hash(&next_bytes);
        let record = AggregateRecord {
            window,
            base_master: hex::encode(base.hash),
            previous_master: hex::encode(latest.hash),
            next_master: hex::encode(next_hash),
            entries,
        };
        let publisher_agrees = if publisher == me {
            // The record first: whoever sees the master can then replay it from the record.
            let record_bytes = Bytes::from(serde_json::to_vec(&record).expect("serialises"));
            self.put(
                layout::aggregate(&ctx.id, window),
                Kind::Aggregate,
                window,
                latest.hash,
                record_bytes,
            )
            .await?;
            self.publish(window + 1, latest.hash, next_bytes).await?;
            None
        } else {
            drop(next_bytes);
            self.check_publisher(buckets, publisher, &record).await?
        };

        state.vouched = vouched;
        state.vouched_for = window + 1;
        // Smoothed scores over every miner judged (a missing or rejected one scores zero).
        for result in &results {
            let previous = state.scores.get(&result.hotkey).copied();
            state.scores.insert(
                result.hotkey,
                smooth(previous, result.score, ctx.run.scoring.score_ema),
            );
        }
        let master_loss = tokio::task::block_in_place(|| self.report_loss(&next))?;
        Ok(WindowSummary {
            window,
            miners: results,
            master_loss,
            master_hash: hex::encode(next_hash),
            judge_seconds: started.elapsed().as_secs_f64(),
            publisher_agrees,
        })
    }

    async fn publish(&self, index: u64, previous: [u8; 32], bytes: Bytes) -> Result<(), NodeError> {
        self.put(
            layout::master(&self.peer.ctx.id, index),
            Kind::Master,
            index,
            previous,
            bytes,
        )
        .await
    }

    async fn put(
        &self,
        key: String,
        kind: Kind,
        window: u64,
        base: [u8; 32],
        bytes: Bytes,
    ) -> Result<(), NodeError> {
        // Published before a restart: the same inputs must make the same bytes.
        Ok(self
            .peer
            .store
            .publish_envelope(
                &key,
                &self.peer.key,
                kind,
                self.peer.ctx.id,
                window,
                base,
                bytes,
            )
            .await?)
    }

    /// The master's loss on fixed validation pages, for reports.
    pub fn report_loss(&self, master: &Master) -> Result<f64, NodeError> {
        let ctx = &self.peer.ctx;
        let pages = evaluation_pages(
            blake3::hash(b"gradient report pages").as_bytes(),
            REPORT_PAGES.min(ctx.corpus.num_pages(Split::Validation) as usize),
            ctx.corpus.num_pages(Split::Validation),
        )?;
        let batches = ctx.corpus.page_batches(Split::Validation, &pages)?;
        ctx.mean_loss(&ctx.model_from(&master.params)?, &batches)
    }

    /// Sets weights from the smoothed scores when the chain's rate limit allows.
    async fn set_weights(&self, state: &ValidatorState) -> Result<(), NodeError> {
        let graph = self.peer.chain.metagraph().await?;
        let Some(me) = graph.neuron(graph.uid_of(&self.peer.key.account()).unwrap_or(u16::MAX))
        else {
            return Ok(());
        };
        let params = self.peer.chain.params().await?;
        if !me.validator_permit || graph.head.block < me.last_update + params.weights_rate_limit {
            return Ok(());
        }
        let uids: Vec<Uid> = graph
            .neurons
            .iter()
            .filter(|n| state.scores.contains_key(&n.hotkey))
            .map(|n| n.uid)
            .collect();
        let scores: Vec<f64> = graph
            .neurons
            .iter()
            .filter_map(|n| state.scores.get(&n.hotkey).copied())
            .collect();
        let weights = weights(&scores);
        if weights.iter().all(|w| *w == 0.0) {
            return Ok(());
        }
        match self
            .peer
            .chain
            .set_weights(&self.peer.key, &uids, &weights, params.weights_version_key)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_rate_limited() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
