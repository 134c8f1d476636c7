//! The miner's loop: every window, train from the window's base master on the assigned pages,
//! compress with error feedback, and publish before the deadline. Training for the next window
//! never waits on validators: its base master was published a window earlier. Once the master
//! the window's delta is applied to comes out, training moves onto it, so the window's later
//! steps are not a master behind. State (the last window done and the error-feedback residual)
//! is saved after every submission, so a restarted miner carries on where it stopped.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gradient_chain::{Clock, SystemClock};
use gradient_codec::ErrorFeedback;
use gradient_model::checkpoint::{tensors_from_bytes, tensors_to_bytes, write_atomic};
use gradient_model::{AdamState, ParamSpec};
use serde::{Deserialize, Serialize};

use crate::error::NodeError;
use crate::master::Master;
use crate::miner::{self, FEEDBACK_BETA, StopPlan, TrainReport};
use crate::network::Buckets;
use crate::peer::{Held, Peer, Synced};
use gradient_store::StoreError;

/// Something a miner did, for progress displays and logs.
#[derive(Clone, Debug)]
pub enum MinerEvent {
    Registered {
        uid: u16,
    },
    Training {
        window: u64,
        base: u64,
        /// How the miner came by the base master.
        synced: Synced,
        /// Whether it starts from the base plus its previous window's delta.
        eager: bool,
        /// Seconds until the window ends, when training stops.
        seconds: f64,
    },
    /// After every inner step.
    Step {
        window: u64,
        report: TrainReport,
        seconds_left: f64,
    },
    Submitted {
        window: u64,
        bytes: usize,
        report: TrainReport,
        /// Seconds compressing took, and uploading.
        compress_seconds: f64,
        upload_seconds: f64,
        /// Seconds spent training over seconds since training first started.
        utilisation: f64,
    },
    Skipped {
        window: u64,
        why: String,
    },
}

/// Where progress goes; called from the training thread too.
pub type OnEvent = std::sync::Arc<dyn Fn(MinerEvent) + Send + Sync>;

/// A trained and compressed window, waiting to be uploaded.
struct Trained {
    window: u64,
    base_hash: [u8; 32],
    payload: Vec<u8>,
    /// The error-feedback residual after this window's compression, serialised; saved once the
    /// submission is up, so a restart resumes from the last window actually submitted.
    residual: Vec<u8>,
    report: TrainReport,
    compress_seconds: f64,
    /// Of the miner since it first started training, up to the end of this window's.
    utilisation: f64,
}

/// What the training thread hands back: the compressed window with its residual, the feedback
/// it updated, and the uncompressed delta for the next window's eager start.
struct Done {
    delta: Vec<Vec<f32>>,
    optimizer: AdamState,
    report: TrainReport,
    payload: Vec<u8>,
    residual: Vec<u8>,
    feedback: ErrorFeedback,
    compress: Duration,
}

/// What one window's training thread needs: it trains, then compresses with error feedback
/// and writes the residual that goes with the payload.
struct TrainingJob {
    ctx: Arc<crate::context::RunContext>,
    window: u64,
    start: Master,
    pages: Vec<u64>,
    optimizer: Option<AdamState>,
    feedback: ErrorFeedback,
    feedback_path: PathBuf,
    stop: Arc<StopAt>,
}

/// When the training thread stops; the loop that watches the chain moves it as blocks come.
struct StopAt(Mutex<std::time::Instant>);

impl StopAt {
    fn in_ms(ms: u64) -> Self {
        StopAt(Mutex::new(
            std::time::Instant::now() + Duration::from_millis(ms),
        ))
    }

    fn get(&self) -> std::time::Instant {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_in_ms(&self, ms: u64) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) =
            std::time::Instant::now() + Duration::from_millis(ms);
    }
}

/// Trains `job` on a blocking thread, reporting each step, until its stop; takes the newer
/// master from `slot` once [`MinerNode::supervise`] puts it there.
fn spawn_training(
    job: TrainingJob,
    progress: OnEvent,
    slot: Arc<Mutex<Option<Master>>>,
) -> tokio::task::JoinHandle<Result<Done, NodeError>> {
    tokio::task::spawn_blocking(move || {
        let TrainingJob {
            ctx,
            window,
            start,
            pages,
            optimizer,
            mut feedback,
            feedback_path,
            stop,
        } = job;
        // A step is not started that would end after the stop: on a loaded machine one step
        // took 2.5 s, and finishing it past the stop made an upload a block late.
        let stepped = std::cell::Cell::new(std::time::Instant::now());
        let enough = |report: &TrainReport| {
            let now = std::time::Instant::now();
            let step = now.saturating_duration_since(stepped.replace(now));
            let stop_at = stop.get();
            progress(MinerEvent::Step {
                window,
                report: report.clone(),
                seconds_left: stop_at.saturating_duration_since(now).as_secs_f64(),
            });
            now + step >= stop_at
        };
        let newer = |_: &TrainReport| slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        let trained =
            miner::train_window_from(&ctx, window, &start, &pages, optimizer, &enough, &newer)?;
        let started = std::time::Instant::now();
        let payload = miner::compress(&ctx, &mut feedback, &trained.delta)?;
        let residual = residual_bytes(&ctx, &feedback_path, &feedback)?;
        Ok(Done {
            delta: trained.delta,
            optimizer: trained.optimizer,
            report: trained.report,
            payload,
            residual,
            feedback,
            compress: started.elapsed(),
        })
    })
}

pub struct MinerNode {
    pub peer: Peer,
}

#[derive(Default, Serialize, Deserialize)]
struct MinerState {
    last_submitted: Option<u64>,
}

/// The window a miner trained last, which the next one continues: from the master plus this
/// delta, with the inner optimizer's moments and place in the schedule where they ended (fresh
/// moments every window cost 0.16 of loss in `gradient bench quality --keep-optimizer`).
struct Previous {
    window: u64,
    delta: Vec<Vec<f32>>,
    optimizer: AdamState,
}

/// What the loop carries from window to window.
struct Progress {
    state: MinerState,
    /// `None` while a training thread holds it.
    feedback: Option<ErrorFeedback>,
    pending: Option<Trained>,
    /// The master last followed, to replay the next one from.
    held: Option<Held>,
    /// The last window trained and its delta, for the next window's eager start. Not saved:
    /// after a restart the miner starts once from the base master alone.
    previous: Option<Previous>,
    /// How long compressing and uploading took last time: training stops early enough for
    /// both (twice over) before the deadline.
    compress: Duration,
    upload: Duration,
    busy: f64,
    first_start: Option<std::time::Instant>,
}

impl MinerNode {
    fn state_path(&self) -> PathBuf {
        self.peer.state_dir.join("miner.json")
    }

    fn feedback_path(&self) -> PathBuf {
        self.peer.state_dir.join("feedback.safetensors")
    }

    fn load_state(&self) -> Result<(MinerState, ErrorFeedback), NodeError> {
        let state = match std::fs::read(self.state_path()) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| NodeError::Invalid(format!("{}: {e}", self.state_path().display())))?,
            Err(_) => MinerState::default(),
        };
        let codec = &self.peer.ctx.codec;
        let feedback = match std::fs::read(self.feedback_path()) {
            Ok(bytes) => {
                let residual =
                    tensors_from_bytes(&self.feedback_path(), &bytes, &self.peer.ctx.specs)?;
                ErrorFeedback::from_residual(codec, FEEDBACK_BETA, residual)?
            }
            Err(_) => ErrorFeedback::new(codec, FEEDBACK_BETA),
        };
        Ok((state, feedback))
    }

    /// Saves the state, and the residual that goes with it when there is a new one; the
    /// residual first, so a crash between the two retrains a window rather than lose one.
    fn save_state(&self, state: &MinerState, residual: Option<&[u8]>) -> Result<(), NodeError> {
        std::fs::create_dir_all(&self.peer.state_dir)
            .map_err(|e| NodeError::Invalid(format!("{}: {e}", self.peer.state_dir.display())))?;
        if let Some(bytes) = residual {
            write_atomic(&self.feedback_path(), bytes)?;
        }
        let json = serde_json::to_vec(state).expect("state serialises");
        write_atomic(&self.state_path(), &json)?;
        Ok(())
    }

    /// Registers and commits the bucket if needed, then mines window after window: training
    /// fills each window up to the point where compressing and uploading still end before the
    /// deadline, and a window is uploaded as soon as it is compressed, before the next window's
    /// base is followed (an upload is milliseconds to a second; a replay or a download of the
    /// base can be seconds).
    pub async fn run(&self, on_event: OnEvent) -> Result<(), NodeError> {
        let uid = self.peer.join().await?;
        on_event(MinerEvent::Registered { uid });
        let (state, feedback) = self.load_state()?;
        let mut progress = Progress {
            state,
            compress: calibrate(&self.peer.ctx)?,
            upload: Duration::ZERO,
            feedback: Some(feedback),
            pending: None,
            held: None,
            previous: None,
            busy: 0.0,
            first_start: None,
        };
        let buckets = Buckets::new(self.peer.reach);
        while self.step(&mut progress, &buckets, &on_event).await? {}
        Ok(())
    }

    /// One turn of the loop: upload what is pending, or train the next window, or wait.
    /// Returns false when the last window is done.
    async fn step(
        &self,
        p: &mut Progress,
        buckets: &Buckets,
        on_event: &OnEvent,
    ) -> Result<bool, NodeError> {
        // The last window's upload first: following the next base may replay or download a
        // master (seconds on a loaded machine: an upload that waited on it was a block late),
        // and the deadline does not wait.
        if let Some(trained) = p.pending.take() {
            self.upload(trained, p, on_event).await?;
            return Ok(true);
        }
        let windows = self.peer.ctx.windows;
        let head = self.peer.chain.head().await?;
        let finished = |w: u64| self.peer.last_window.is_some_and(|last| w > last);
        let current = windows.window_at(head.block);
        // The window to train next: the current one, unless it is done.
        let next = current.filter(|&w| p.state.last_submitted.is_none_or(|done| done < w));
        let Some(window) = next.filter(|&w| !finished(w)) else {
            if current.is_some_and(finished)
                || p.state
                    .last_submitted
                    .is_some_and(|done| finished(done + 1))
            {
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            return Ok(true);
        };
        let base_index = windows.base_master(window);
        let graph = self.peer.chain.metagraph().await?;
        let held = p.held.as_ref();
        let Some((base, synced)) = self.peer.follow(buckets, &graph, base_index, held).await?
        else {
            if head.block + 1 >= windows.end(window) {
                on_event(MinerEvent::Skipped {
                    window,
                    why: format!("master {base_index} was not published in time"),
                });
                p.state.last_submitted = Some(window);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
            return Ok(true);
        };
        if synced != Synced::Held {
            p.held = Some(Held {
                index: base_index,
                fetched: base.clone(),
            });
        }
        self.train(p, buckets, window, (base_index, synced), base, on_event)
            .await?;
        Ok(true)
    }

    /// Trains `window` from its base (eagerly moved by the previous window's delta) until
    /// compressing and uploading must start, compresses in the same thread, and meanwhile
    /// follows the master the delta will be applied to, moving training onto it once it is
    /// published (see [`miner::train_on`]). The trained window is left pending; the loop
    /// uploads it before anything else.
    async fn train(
        &self,
        p: &mut Progress,
        buckets: &Buckets,
        window: u64,
        (base_index, synced): (u64, Synced),
        base: crate::network::Fetched,
        on_event: &OnEvent,
    ) -> Result<(), NodeError> {
        let ctx = self.peer.ctx.clone();
        let head = self.peer.chain.head().await?;
        let plan = StopPlan {
            end: ctx.windows.end(window),
            deadline: ctx.windows.deadline(window),
            finish_ms: (p.compress + p.upload).as_millis() as u64,
            block_ms: self.peer.chain.params().await?.block_time_ms,
        };
        let left_ms = plan.left_ms(head.block, head_age_ms(&head));
        let stop = Arc::new(StopAt::in_ms(left_ms));
        let previous = p.previous.take().filter(|done| done.window + 1 == window);
        on_event(MinerEvent::Training {
            window,
            base: base_index,
            synced,
            eager: previous.is_some(),
            seconds: left_ms as f64 / 1000.0,
        });
        p.first_start.get_or_insert_with(std::time::Instant::now);
        let pages = miner::pages_for(&ctx, window, &self.peer.key.account())?;
        let (master, optimizer) = match previous {
            Some(done) => (
                miner::eager_start(&base.master, &done.delta),
                Some(done.optimizer),
            ),
            None => (base.master, None),
        };
        let slot: Arc<Mutex<Option<Master>>> = Arc::default();
        let training = spawn_training(
            TrainingJob {
                ctx,
                window,
                start: master,
                pages,
                optimizer,
                feedback: p.feedback.take().expect("the loop holds the feedback"),
                feedback_path: self.feedback_path(),
                stop: stop.clone(),
            },
            on_event.clone(),
            slot.clone(),
        );
        let watch = Watch {
            slot: &slot,
            stop: &stop,
            plan,
            seen: head.block,
            follow: (window > base_index).then_some(window),
        };
        let (done, latest) = self
            .supervise(buckets, p.held.as_ref(), training, watch)
            .await;
        let done = done.map_err(|e| NodeError::Invalid(format!("training thread: {e}")))??;
        self.record(p, window, base.hash, latest, done);
        Ok(())
    }

    /// Keeps what a window's training left: the submission waiting for its upload (naming the
    /// master its delta was taken against), the newer master if one was followed, the delta
    /// and optimizer state the next window starts from, and the utilisation so far.
    fn record(
        &self,
        p: &mut Progress,
        window: u64,
        base_hash: [u8; 32],
        latest: Option<crate::network::Fetched>,
        done: Done,
    ) {
        let report = done.report;
        let base_hash = match &latest {
            Some(fetched) if report.rebased_at.is_some() => fetched.hash,
            _ => base_hash,
        };
        if let Some(fetched) = latest {
            p.held = Some(Held {
                index: window,
                fetched,
            });
        }
        p.feedback = Some(done.feedback);
        p.busy += report.seconds;
        let wall = p.first_start.map_or(0.0, |t| t.elapsed().as_secs_f64());
        p.pending = Some(Trained {
            window,
            base_hash,
            payload: done.payload,
            residual: done.residual,
            report,
            compress_seconds: done.compress.as_secs_f64(),
            utilisation: if wall > 0.0 {
                (p.busy / wall).min(1.0)
            } else {
                0.0
            },
        });
        p.previous = Some(Previous {
            window,
            delta: done.delta,
            optimizer: done.optimizer,
        });
        p.compress = done.compress;
    }

    /// While training runs: moves its stop at every new head block ([`StopPlan`]), and
    /// follows the master the window's delta is applied to, handing it to the training thread
    /// through the slot once it is published. Answers the training's outcome the moment it
    /// ends, dropping a follow still under way (it only reads), so that the window's upload
    /// never waits on a download. A failure to read the chain or to follow is logged and
    /// retried: training goes on either way, one master behind, and stops by the last stop
    /// reckoned.
    async fn supervise<T>(
        &self,
        buckets: &Buckets,
        held: Option<&Held>,
        mut training: tokio::task::JoinHandle<T>,
        mut watch: Watch<'_>,
    ) -> (
        Result<T, tokio::task::JoinError>,
        Option<crate::network::Fetched>,
    ) {
        let mut latest = None;
        loop {
            tokio::select! {
                done = &mut training => return (done, latest),
                fetched = self.watch_once(buckets, held, &mut watch) => {
                    if let Some(fetched) = fetched {
                        *watch.slot.lock().unwrap_or_else(|e| e.into_inner()) =
                            Some(fetched.master.clone());
                        watch.follow = None;
                        latest = Some(fetched);
                    }
                }
            }
        }
    }

    /// One look at the chain for [`Self::supervise`]: the head, then the followed master;
    /// then a pause.
    async fn watch_once(
        &self,
        buckets: &Buckets,
        held: Option<&Held>,
        watch: &mut Watch<'_>,
    ) -> Option<crate::network::Fetched> {
        match self.peer.chain.head().await {
            Ok(head) => watch.head(&head),
            Err(e) => tracing::warn!("reading the head block while training: {e}"),
        }
        let mut found = None;
        if let Some(index) = watch.follow {
            let followed = match self.peer.chain.metagraph().await {
                Ok(graph) => self.peer.follow(buckets, &graph, index, held).await,
                Err(e) => Err(e.into()),
            };
            match followed {
                Ok(Some((fetched, _))) => found = Some(fetched),
                Ok(None) => {}
                Err(e) => tracing::warn!(index, "following the latest master: {e}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        found
    }

    /// Publishes a compressed window before its deadline, then saves the state that goes with
    /// it.
    async fn upload(
        &self,
        trained: Trained,
        p: &mut Progress,
        on_event: &OnEvent,
    ) -> Result<(), NodeError> {
        let Trained {
            window,
            base_hash,
            payload,
            residual,
            report,
            compress_seconds,
            utilisation,
        } = trained;
        let ctx = &self.peer.ctx;
        let deadline = ctx.windows.deadline(window);
        let now = self.peer.chain.head().await?.block;
        if now >= deadline {
            on_event(MinerEvent::Skipped {
                window,
                why: format!("ready at block {now}, after the deadline {deadline}"),
            });
        } else {
            let bytes = payload.len();
            let started = std::time::Instant::now();
            match miner::submit(
                &self.peer.store,
                ctx,
                &self.peer.key,
                window,
                base_hash,
                payload,
            )
            .await
            {
                // Uploaded before a restart; that one stands.
                Ok(_) | Err(NodeError::Store(StoreError::AlreadyExists { .. })) => {}
                Err(e) => return Err(e),
            }
            p.upload = started.elapsed();
            on_event(MinerEvent::Submitted {
                window,
                bytes,
                report,
                compress_seconds,
                upload_seconds: p.upload.as_secs_f64(),
                utilisation,
            });
        }
        p.state.last_submitted = Some(window);
        self.save_state(&p.state, Some(&residual))
    }
}

/// What [`MinerNode::supervise`] keeps for the training thread: the slot it takes a newer
/// master from, its stop, the last head block the stop was reckoned at, and the master still
/// to follow (none once handed over, or where the base is already the newest).
struct Watch<'a> {
    slot: &'a Mutex<Option<Master>>,
    stop: &'a StopAt,
    plan: StopPlan,
    seen: u64,
    follow: Option<u64>,
}

impl Watch<'_> {
    fn head(&mut self, head: &gradient_chain::Head) {
        if head.block != self.seen {
            self.seen = head.block;
            self.stop
                .set_in_ms(self.plan.left_ms(head.block, head_age_ms(head)));
        }
    }
}

/// How long ago, by this machine's clock, the chain stamped `head`.
fn head_age_ms(head: &gradient_chain::Head) -> u64 {
    SystemClock.now_ms().saturating_sub(head.timestamp_ms)
}

/// The residual as the safetensors file the miner saves.
fn residual_bytes(
    ctx: &crate::context::RunContext,
    path: &std::path::Path,
    feedback: &ErrorFeedback,
) -> Result<Vec<u8>, NodeError> {
    let tensors: Vec<(String, &[usize], &[f32])> = ctx
        .specs
        .iter()
        .zip(feedback.residual())
        .map(|(s, r): (&ParamSpec, &Vec<f32>)| (s.name.clone(), s.shape.as_slice(), r.as_slice()))
        .collect();
    Ok(tensors_to_bytes(path, &tensors)?)
}

/// How long compressing a window takes on this machine now, from one compression of a zero
/// delta: the first window's estimate, before one has been measured.
fn calibrate(ctx: &crate::context::RunContext) -> Result<Duration, NodeError> {
    let zeros: Vec<Vec<f32>> = ctx.specs.iter().map(|s| vec![0.0; s.numel()]).collect();
    let started = std::time::Instant::now();
    miner::compress(
        ctx,
        &mut ErrorFeedback::new(&ctx.codec, FEEDBACK_BETA),
        &zeros,
    )?;
    Ok(started.elapsed())
}
