//! The hostile miner's loop: for each window, follow the base master as an honest miner does,
//! make what its [`Kind`] submits instead of honest work, and sign and upload it.

use std::time::{Duration, Instant};

use gradient_chain::AccountId;
use gradient_codec::ErrorFeedback;
use gradient_data::Split;
use gradient_node::miner::{self, FEEDBACK_BETA, TrainReport};
use gradient_node::miner_node::{MinerEvent, OnEvent};
use gradient_node::network::{self, Buckets, Fetched};
use gradient_node::{Master, NodeError, Peer, replay};
use gradient_store::{Expect, Kind as ObjectKind, layout};

use crate::kind::Kind;

/// A miner that submits what its kind says instead of its work.
pub struct HostileMiner {
    pub peer: Peer,
    pub kind: Kind,
}

/// What it carries from window to window.
#[derive(Default)]
struct Memory {
    /// The delta of the one window it trained and kept back (what `Resign` submits instead of
    /// training).
    first_delta: Option<Vec<Vec<f32>>>,
}

/// What one window came to.
enum Outcome {
    Submitted { bytes: usize, report: TrainReport },
    Skipped(String),
}

fn idle_report() -> TrainReport {
    TrainReport {
        steps: 0,
        tokens: 0,
        seconds: 0.0,
        first_loss: f64::NAN,
        last_loss: f64::NAN,
        rebased_at: None,
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A small deterministic generator, so a devnet's hostile miners do the same every run.
pub(crate) struct Xorshift(u64);

impl Xorshift {
    pub(crate) fn new(seed: u64) -> Self {
        Xorshift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

impl HostileMiner {
    /// Registers, commits its bucket, and misbehaves window after window until the last.
    pub async fn run(&self, on_event: OnEvent) -> Result<(), NodeError> {
        let uid = self.peer.join().await?;
        on_event(MinerEvent::Registered { uid });
        let buckets = Buckets::new(self.peer.reach);
        let mut memory = Memory::default();
        let mut done: Option<u64> = None;
        loop {
            let head = self.peer.chain.head().await?.block;
            let window = self.peer.ctx.windows.window_at(head);
            if let (Some(w), Some(last)) = (window, self.peer.last_window)
                && w > last
            {
                return Ok(());
            }
            let Some(window) = window.filter(|&w| done.is_none_or(|d| d < w)) else {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            };
            done = Some(window);
            match self.window(&buckets, window, &mut memory).await? {
                Outcome::Submitted { bytes, report } => on_event(MinerEvent::Submitted {
                    window,
                    bytes,
                    report,
                    compress_seconds: 0.0,
                    upload_seconds: 0.0,
                    utilisation: 0.0,
                }),
                Outcome::Skipped(why) => on_event(MinerEvent::Skipped { window, why }),
            }
            if self.peer.last_window == Some(window) {
                return Ok(());
            }
        }
    }

    async fn window(
        &self,
        buckets: &Buckets,
        window: u64,
        memory: &mut Memory,
    ) -> Result<Outcome, NodeError> {
        let ctx = &self.peer.ctx;
        let mut index = ctx.windows.base_master(window);
        if self.kind == Kind::Stale {
            // One master behind, where there is one to be behind on.
            let Some(older) = index.checked_sub(1) else {
                return Ok(Outcome::Skipped("no older master to be stale on".into()));
            };
            index = older;
        }
        let Some(base) = self.wait_for_master(buckets, index, window).await? else {
            return Ok(Outcome::Skipped(format!(
                "master {index} was not published in time"
            )));
        };
        if self.kind == Kind::Replay && window > 0 {
            return self.replay(window).await;
        }
        let Some((payload, report)) = self.craft(buckets, window, &base, memory).await? else {
            return Ok(Outcome::Skipped("nothing to submit".into()));
        };
        let bytes = payload.len();
        miner::submit(
            &self.peer.store,
            ctx,
            &self.peer.key,
            window,
            base.hash,
            payload,
        )
        .await?;
        Ok(Outcome::Submitted { bytes, report })
    }

    /// Master `index`, polled for until the window ends.
    async fn wait_for_master(
        &self,
        buckets: &Buckets,
        index: u64,
        window: u64,
    ) -> Result<Option<Fetched>, NodeError> {
        let end = self.peer.ctx.windows.end(window);
        loop {
            let graph = self.peer.chain.metagraph().await?;
            if let Some((fetched, _)) = self.peer.follow(buckets, &graph, index, None).await? {
                return Ok(Some(fetched));
            }
            if self.peer.chain.head().await?.block + 1 >= end {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Its previous window's object, put again unchanged under this window's key.
    async fn replay(&self, window: u64) -> Result<Outcome, NodeError> {
        let ctx = &self.peer.ctx;
        let me = self.peer.key.account();
        let previous = layout::submission(&ctx.id, window - 1, &me);
        let bytes = self
            .peer
            .store
            .get(&previous, ctx.run.limits.max_submission_bytes)
            .await?;
        let size = bytes.len();
        let key = layout::submission(&ctx.id, window, &me);
        self.peer.store.put(&key, bytes.into(), true).await?;
        Ok(Outcome::Submitted {
            bytes: size,
            report: idle_report(),
        })
    }

    /// What to submit for `window` on `base`, and the training it took (none for most kinds).
    async fn craft(
        &self,
        buckets: &Buckets,
        window: u64,
        base: &Fetched,
        memory: &mut Memory,
    ) -> Result<Option<(Vec<u8>, TrainReport)>, NodeError> {
        let ctx = self.peer.ctx.clone();
        let send = |delta: &[Vec<f32>]| -> Result<Vec<u8>, NodeError> {
            miner::compress(
                &ctx,
                &mut ErrorFeedback::new(&ctx.codec, FEEDBACK_BETA),
                delta,
            )
        };
        let zeros: Vec<Vec<f32>> = base
            .master
            .params
            .iter()
            .map(|p| vec![0.0; p.len()])
            .collect();
        let idle = |payload: Vec<u8>| Ok(Some((payload, idle_report())));
        match self.kind {
            Kind::Noise => idle(send(&crate::craft::noise(&zeros, window))?),
            Kind::Lazy | Kind::Replay => idle(send(&zeros)?),
            Kind::Garbage => idle(crate::craft::garbage(window)),
            Kind::Late => {
                let deadline = ctx.windows.deadline(window);
                while self.peer.chain.head().await?.block <= deadline {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                idle(send(&zeros)?)
            }
            Kind::Copy => match self.someone_elses(buckets, window).await? {
                Some(payload) => idle(payload),
                None => Ok(None),
            },
            Kind::Echo => {
                let step = self.last_outer_step(buckets, window, &base.master).await?;
                idle(send(step.as_deref().unwrap_or(&zeros))?)
            }
            Kind::Previous => match self.previous_member(buckets, window).await? {
                Some(payload) => idle(payload),
                None => idle(send(&zeros)?),
            },
            Kind::Resign if memory.first_delta.is_some() => {
                idle(send(memory.first_delta.as_ref().expect("checked"))?)
            }
            Kind::Stale | Kind::Inflate | Kind::Mix | Kind::Elsewhere | Kind::Resign => {
                let (mut delta, report) = self.train(window, &base.master).await?;
                match self.kind {
                    Kind::Inflate => crate::craft::scale(&mut delta, 100.0),
                    Kind::Mix => {
                        if let Some(other) = self.someone_elses(buckets, window).await? {
                            let other = ctx.dense(&ctx.codec.decode(&other)?)?;
                            // Its own bit as large as the other's, so the sum is not a copy.
                            let factor = crate::craft::norm(&other) / crate::craft::norm(&delta);
                            crate::craft::scale(&mut delta, factor as f32);
                            crate::craft::add(&mut delta, &other);
                        }
                    }
                    Kind::Resign => {
                        // Kept back: sent in its window it would be honest work, paid as such
                        // and then known to the copy check as this miner's own earlier delta.
                        memory.first_delta = Some(delta);
                        return Ok(None);
                    }
                    _ => {}
                }
                Ok(Some((send(&delta)?, report)))
            }
        }
    }

    /// Trains from `base` at an honest miner's pace (until the window ends) on its assigned
    /// pages, or on validation pages for `Elsewhere`; one step only for the kinds that pass a
    /// token of work off as more.
    async fn train(
        &self,
        window: u64,
        base: &Master,
    ) -> Result<(Vec<Vec<f32>>, TrainReport), NodeError> {
        let ctx = self.peer.ctx.clone();
        let batches = if self.kind == Kind::Elsewhere {
            let n = ctx.corpus.num_pages(Split::Validation);
            let pages: Vec<u64> = (0..ctx.run.miner.pages_per_window as u64)
                .map(|i| (window * 7 + i) % n)
                .collect();
            ctx.corpus.page_batches(Split::Validation, &pages)?
        } else {
            let pages = miner::pages_for(&ctx, window, &self.peer.key.account())?;
            ctx.corpus
                .training_batches(&pages, ctx.run.miner.batch_size)?
        };
        let params = self.peer.chain.params().await?;
        let end_ms = params.timestamp_of(ctx.windows.end(window));
        let stop_at = Instant::now() + Duration::from_millis(end_ms.saturating_sub(now_ms()));
        let base = base.clone();
        let token = matches!(self.kind, Kind::Inflate | Kind::Mix);
        tokio::task::spawn_blocking(move || {
            let trained = miner::train_on(
                &ctx,
                window,
                &base,
                &batches,
                None,
                &|_| token || Instant::now() >= stop_at,
                &|_| None,
            )?;
            Ok((trained.delta, trained.report))
        })
        .await
        .map_err(|e| NodeError::Invalid(format!("training thread: {e}")))?
    }

    /// Another miner's submission for `window` that looks like work (decodes, not zero), the
    /// miners with the most incentive first, polled for until just before the deadline.
    async fn someone_elses(
        &self,
        buckets: &Buckets,
        window: u64,
    ) -> Result<Option<Vec<u8>>, NodeError> {
        let ctx = &self.peer.ctx;
        let deadline = ctx.windows.deadline(window);
        while self.peer.chain.head().await?.block + 1 < deadline {
            let graph = self.peer.chain.metagraph().await?;
            let mut others: Vec<_> = graph
                .neurons
                .iter()
                .filter(|n| n.hotkey != self.peer.key.account() && !n.is_validator())
                .collect();
            others.sort_by(|a, b| b.incentive.cmp(&a.incentive).then(a.uid.cmp(&b.uid)));
            for neuron in others {
                if let Some(payload) = self.submission_of(buckets, neuron.hotkey, window).await? {
                    return Ok(Some(payload));
                }
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        Ok(None)
    }

    /// `hotkey`'s submission for `window`, if it is there, verified and not a zero delta.
    async fn submission_of(
        &self,
        buckets: &Buckets,
        hotkey: AccountId,
        window: u64,
    ) -> Result<Option<Vec<u8>>, NodeError> {
        let ctx = &self.peer.ctx;
        let Ok(Some(store)) = buckets.of(self.peer.chain.as_ref(), &hotkey).await else {
            return Ok(None);
        };
        let key = layout::submission(&ctx.id, window, &hotkey);
        let expect = Expect {
            kind: Some(ObjectKind::Submission),
            window: Some(window),
            signer: Some(hotkey),
            ..Default::default()
        };
        let Ok(opened) = store
            .get_envelope(&key, &expect, ctx.run.limits.max_submission_bytes)
            .await
        else {
            return Ok(None);
        };
        let Ok(delta) = ctx.codec.decode(&opened.payload) else {
            return Ok(None);
        };
        let work = ctx.dense(&delta)?.iter().flatten().any(|x| *x != 0.0);
        Ok(work.then(|| opened.payload.to_vec()))
    }

    /// Master `window` minus `base` (master `window - 1`), once master `window` is out.
    async fn last_outer_step(
        &self,
        buckets: &Buckets,
        window: u64,
        base: &Master,
    ) -> Result<Option<Vec<Vec<f32>>>, NodeError> {
        if window == 0 {
            return Ok(None);
        }
        let Some(latest) = self.wait_for_master(buckets, window, window).await? else {
            return Ok(None);
        };
        Ok(Some(
            latest
                .master
                .params
                .iter()
                .zip(&base.params)
                .map(|(l, b)| l.iter().zip(b).map(|(x, y)| x - y).collect())
                .collect(),
        ))
    }

    /// The first member of the previous window's aggregate, as its miner uploaded it.
    async fn previous_member(
        &self,
        buckets: &Buckets,
        window: u64,
    ) -> Result<Option<Vec<u8>>, NodeError> {
        let Some(previous) = window.checked_sub(1) else {
            return Ok(None);
        };
        let graph = self.peer.chain.metagraph().await?;
        let Some(publisher) = network::publisher(&graph) else {
            return Ok(None);
        };
        let Ok(Some(store)) = buckets.of(self.peer.chain.as_ref(), &publisher).await else {
            return Ok(None);
        };
        let end = self.peer.ctx.windows.end(window);
        let record = loop {
            match replay::read_record(&self.peer.ctx, &store, previous, publisher).await {
                Ok(record) => break record,
                Err(_) if self.peer.chain.head().await?.block + 1 < end => {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(_) => return Ok(None),
            }
        };
        let me = self.peer.key.account();
        for (hotkey, _, _) in record.entries.iter().filter(|e| e.0 != me) {
            if let Some(payload) = self.submission_of(buckets, *hotkey, previous).await? {
                return Ok(Some(payload));
            }
        }
        Ok(None)
    }
}
