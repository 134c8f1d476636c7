//! A validator's own record of when submissions appeared. A miner controls its bucket's server
//! and every header it writes (Last-Modified included), so upload times come from here: while
//! a window's upload blocks run, the validator polls every miner's submission key and notes the
//! head block at which it first found each one, and the last head block it polled at.
//! [`Windows::observed`](gradient_protocol::Windows::observed) turns that into on time, early
//! or late. The record is saved on every change, so a restart keeps what was seen.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gradient_chain::{AccountId, Chain};
use gradient_model::checkpoint::write_atomic;
use gradient_protocol::Timing;
use gradient_store::layout;
use serde::{Deserialize, Serialize};

use crate::context::RunContext;
use crate::error::NodeError;
use crate::network::Buckets;

/// When this validator first found a submission.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sighting {
    /// The chain's head block at the poll that found it.
    pub block: u64,
    /// This validator's clock then (orders uploads within a block).
    pub ms: u64,
}

/// What was seen, per window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sightings {
    seen: BTreeMap<u64, BTreeMap<AccountId, Sighting>>,
    /// The head block of the last complete poll of each window.
    watched_through: BTreeMap<u64, u64>,
}

impl Sightings {
    pub fn sighting(&self, window: u64, hotkey: &AccountId) -> Option<Sighting> {
        self.seen.get(&window)?.get(hotkey).copied()
    }

    /// The submission's timing by these observations.
    pub fn timing(&self, ctx: &RunContext, window: u64, hotkey: &AccountId) -> Timing {
        ctx.windows.observed(
            window,
            self.sighting(window, hotkey).map(|s| s.block),
            self.watched_through.get(&window).copied(),
        )
    }

    /// Upload order: this validator's clock when it first found the submission (never seen:
    /// last).
    pub fn order_key(&self, window: u64, hotkey: &AccountId) -> u64 {
        self.sighting(window, hotkey).map_or(u64::MAX, |s| s.ms)
    }

    /// Drops windows before `window` (judged, never needed again).
    pub fn forget_before(&mut self, window: u64) {
        self.seen = self.seen.split_off(&window);
        self.watched_through = self.watched_through.split_off(&window);
    }
}

/// Polls miners' buckets for the windows whose upload blocks are running.
#[derive(Clone)]
pub struct Watcher {
    pub ctx: Arc<RunContext>,
    pub chain: Arc<dyn Chain>,
    pub buckets: Arc<Buckets>,
    /// This validator (not polled).
    pub me: AccountId,
    /// Where the sightings are saved.
    pub path: PathBuf,
    pub sightings: Arc<Mutex<Sightings>>,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Watcher {
    /// Loads what was seen before a restart (nothing if there is no file yet).
    pub fn load(path: &std::path::Path) -> Result<Sightings, NodeError> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| NodeError::Invalid(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Sightings::default()),
            Err(e) => Err(NodeError::Invalid(format!("{}: {e}", path.display()))),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sightings> {
        self.sightings.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn save(&self) -> Result<(), NodeError> {
        let bytes = serde_json::to_vec(&*self.lock()).expect("serialises");
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| NodeError::Invalid(format!("{}: {e}", dir.display())))?;
        }
        write_atomic(&self.path, &bytes)?;
        Ok(())
    }

    /// One poll of every miner's submission for every window being watched at the head.
    pub async fn poll(&self) -> Result<(), NodeError> {
        let head = self.chain.head().await?.block;
        let Some(current) = self.ctx.windows.window_at(head + 1) else {
            return Ok(());
        };
        let windows: Vec<u64> = (current.saturating_sub(2)..=current)
            .filter(|&w| self.ctx.windows.watching(w, head))
            .collect();
        if windows.is_empty() {
            return Ok(());
        }
        let graph = self.chain.metagraph().await?;
        // Every bucket at once, each within a block: a miner whose server is slow to answer
        // (or never does) must not delay the sightings of the others, which are placed at the
        // head read right after their own answer. Watched through the head at the round's
        // start, when every key was still to be read.
        let limit = Duration::from_millis(self.chain.params().await?.block_time_ms.max(100));
        let watched = windows.as_slice();
        let polls = graph
            .neurons
            .iter()
            .filter(|n| n.hotkey != self.me && !n.is_validator())
            .map(|n| async move {
                tokio::time::timeout(limit, self.poll_miner(n.hotkey, watched))
                    .await
                    .unwrap_or_default()
            });
        let found: Vec<(u64, AccountId, Sighting)> = futures::future::join_all(polls)
            .await
            .into_iter()
            .flatten()
            .collect();
        let mut sightings = self.lock();
        for (w, hotkey, sighting) in found {
            sightings
                .seen
                .entry(w)
                .or_default()
                .insert(hotkey, sighting);
        }
        for w in windows {
            sightings.watched_through.insert(w, head);
        }
        drop(sightings);
        self.save()
    }

    /// `hotkey`'s submissions for `windows` not seen yet, each placed at the head block read
    /// right after the answer that found it (never earlier than it may have come). A bucket
    /// that fails to answer is tried again at the next poll.
    async fn poll_miner(
        &self,
        hotkey: AccountId,
        windows: &[u64],
    ) -> Vec<(u64, AccountId, Sighting)> {
        let mut found = Vec::new();
        let Ok(Some(store)) = self.buckets.of(self.chain.as_ref(), &hotkey).await else {
            return found;
        };
        for &w in windows {
            if self.lock().sighting(w, &hotkey).is_some() {
                continue;
            }
            let key = layout::submission(&self.ctx.id, w, &hotkey);
            if let Ok(Some(_)) = store.size(&key).await
                && let Ok(head) = self.chain.head().await
            {
                let sighting = Sighting {
                    block: head.block,
                    ms: now_ms(),
                };
                found.push((w, hotkey, sighting));
            }
        }
        found
    }

    /// Polls every `interval` until the task is dropped; a failed poll is logged and retried.
    pub async fn run(self, interval: Duration) {
        loop {
            if let Err(e) = self.poll().await {
                tracing::warn!(error = %e, "polling miners' buckets failed; trying again");
            }
            tokio::time::sleep(interval).await;
        }
    }
}
