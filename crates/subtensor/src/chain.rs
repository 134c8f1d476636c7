//! [`SubtensorChain`]: the nodes' [`Chain`] on a real subtensor, one subnet of it.
//!
//! Reads go through the connection and, where it dropped, through a new one opened with
//! backoff ([`RECONNECTS`]); writes are not repeated on their own, since a call that timed out
//! may still land. A hotkey is never registered here: on subtensor the coldkey pays the burn,
//! so `gradient subnet register` does it, with the cost shown first.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use gradient_chain::{
    AccountId, Chain, ChainError, Commitment, EpochNeuron, EpochRecord, Head, Keypair,
    MAX_COMMITMENT, Metagraph, Neuron, Receipt, SubnetParams, Uid, weights_to_u16,
};
use subxt::dynamic::Value;

use crate::client::{Block, Subtensor, Timeouts};
use crate::commit_reveal::os_randomness;
use crate::error::SubtensorError;
use crate::network::Endpoint;
use crate::subnet::{MODULE, NeuronLite, Weight};
use crate::value;

/// How often a read opens a new connection after the old one failed, and the first wait (it
/// doubles each time).
pub const RECONNECTS: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// Hyperparameters change only by the owner's calls; reading them again each minute keeps the
/// eleven storage reads off every poll.
const PARAMS_FOR: Duration = Duration::from_secs(60);

pub struct SubtensorChain {
    endpoint: Endpoint,
    timeouts: Timeouts,
    netuid: u16,
    client: Mutex<Subtensor>,
    params: Mutex<Option<(Instant, SubnetParams)>>,
    /// The last metagraph read, for the block it was read at. Nodes ask for it several times a
    /// second (a training miner watching for the next master), and each read runs the
    /// runtime's `get_neurons_lite` plus a storage read per neuron; within one block the answer
    /// cannot change. Under chopsticks, which builds blocks on the same thread that answers,
    /// reading it afresh every time starved block production on a 2-core machine.
    metagraph: Mutex<Option<Metagraph>>,
}

impl SubtensorChain {
    /// Connects and checks that subnet `netuid` exists.
    pub async fn connect(
        endpoint: &Endpoint,
        netuid: u16,
        timeouts: Timeouts,
    ) -> Result<Self, SubtensorError> {
        let client = Subtensor::connect(endpoint, timeouts).await?;
        client.check_subnet(netuid).await?;
        Ok(SubtensorChain {
            endpoint: endpoint.clone(),
            timeouts,
            netuid,
            client: Mutex::new(client),
            params: Mutex::new(None),
            metagraph: Mutex::new(None),
        })
    }

    pub fn netuid(&self) -> u16 {
        self.netuid
    }

    /// Whether the subnet takes weights only timelocked; `set_weights` seals them then.
    pub async fn commit_reveal_enabled(&self) -> Result<bool, ChainError> {
        let netuid = self.netuid;
        self.read(|c| async move { c.commit_reveal_enabled(netuid).await })
            .await
    }

    /// The connection, for calls the `Chain` trait does not make (an owner's settings).
    pub fn client(&self) -> Subtensor {
        self.client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Runs a read, opening a new connection with backoff where the transport failed.
    async fn read<T, F, Fut>(&self, read: F) -> Result<T, ChainError>
    where
        F: Fn(Subtensor) -> Fut,
        Fut: Future<Output = Result<T, SubtensorError>>,
    {
        let mut wait = FIRST_BACKOFF;
        let mut attempt = 0;
        loop {
            match read(self.client()).await {
                Err(e) if is_transport(&e) && attempt < RECONNECTS => {
                    attempt += 1;
                    tracing::warn!(
                        "subtensor at {}: {e}; reconnecting in {wait:?} ({attempt} of {RECONNECTS})",
                        self.endpoint.url
                    );
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                    if let Ok(fresh) = Subtensor::connect(&self.endpoint, self.timeouts).await {
                        *self.client.lock().unwrap_or_else(|e| e.into_inner()) = fresh;
                    }
                }
                other => return other.map_err(|e| chain_error(&self.endpoint.url, e)),
            }
        }
    }

    async fn uid(&self, hotkey: &AccountId) -> Result<Option<Uid>, ChainError> {
        let (netuid, hotkey) = (self.netuid, *hotkey);
        self.read(|c| async move { c.uid(netuid, &hotkey).await })
            .await
    }

    async fn receipt(&self, hotkey: &AccountId) -> Result<Receipt, ChainError> {
        let block = self.head().await?.block;
        let uid = self.uid(hotkey).await?;
        Ok(Receipt { block, uid })
    }

    async fn read_params(&self) -> Result<SubnetParams, ChainError> {
        let netuid = self.netuid;
        self.read(|c| async move { hyperparams(&c, netuid).await })
            .await
    }
}

/// The subnet's hyperparameters as [`SubnetParams`]. `BondsPenalty` is missing from older
/// runtimes (spec 218) and reads as subtensor's default there.
async fn hyperparams(c: &Subtensor, netuid: u16) -> Result<SubnetParams, SubtensorError> {
    let key = || vec![Value::u128(netuid.into())];
    let number = |entry: &'static str, keys: Vec<Value>| async move {
        value::number(&c.storage_or_default(MODULE, entry, keys).await?)
    };
    let head = c.block(None).await?;
    let block_ms = block_time(c, &head).await?;
    let bonds_penalty = number("BondsPenalty", key()).await.unwrap_or(65535);
    let params = SubnetParams {
        netuid,
        // Only the embedded chain computes times from it; here it is where block 0 would be.
        genesis_ms: head.timestamp_ms.saturating_sub(head.number * block_ms),
        block_time_ms: block_ms,
        tempo: number("Tempo", key()).await? as u64,
        max_uids: number("MaxAllowedUids", key()).await? as u16,
        max_allowed_validators: number("MaxAllowedValidators", key()).await? as u16,
        immunity_period: number("ImmunityPeriod", key()).await? as u64,
        weights_rate_limit: number("WeightsSetRateLimit", key()).await? as u64,
        weights_version_key: number("WeightsVersionKey", key()).await? as u64,
        activity_cutoff: number("ActivityCutoff", key()).await? as u64,
        kappa: number("Kappa", key()).await? as u16,
        bonds_penalty: bonds_penalty as u16,
        bonds_moving_average: number("BondsMovingAverage", key()).await? as u64,
        emission_per_block: number("BlockEmission", vec![]).await? as u64,
        owner_cut: number("SubnetOwnerCut", vec![]).await? as u16,
    };
    params
        .check()
        .map_err(|why| SubtensorError::shape("hyperparameters", why))?;
    Ok(params)
}

/// How many recent blocks the block time is measured over.
pub const BLOCK_TIME_OVER: u64 = 32;

/// Milliseconds per block as the chain's own timestamps show it over the last
/// [`BLOCK_TIME_OVER`] blocks: what nodes need to foresee when a block comes, whatever the
/// runtime's nominal slot (a local chain may build blocks faster or slower). The runtime's
/// nominal time where the chain is too young to measure (under five blocks past genesis).
pub async fn block_time(c: &Subtensor, head: &Block) -> Result<u64, SubtensorError> {
    // Block 0 carries the chain spec's timestamp, not one of a produced block: leave it out.
    let span = head.number.saturating_sub(1).min(BLOCK_TIME_OVER);
    if span < 4 {
        return c.block_ms().await;
    }
    let past = c.block(Some(head.number - span)).await?;
    match head.timestamp_ms.saturating_sub(past.timestamp_ms) / span {
        0 => c.block_ms().await,
        ms => Ok(ms),
    }
}

fn neuron(n: &NeuronLite) -> Neuron {
    Neuron {
        uid: n.uid,
        hotkey: n.hotkey,
        coldkey: n.coldkey,
        stake: n.stake,
        validator_permit: n.validator_permit,
        last_update: n.last_update,
        // `get_neurons_lite` carries neither; nodes do not read them.
        registered_at: 0,
        trust: n.trust,
        validator_trust: n.validator_trust,
        consensus: n.consensus,
        incentive: n.incentive,
        dividends: n.dividends,
        emission: n.emission,
        total_emission: 0,
        // The lite view leaves weights and bonds out; `Subtensor::weights` reads a row.
        weights: Vec::new(),
        bonds: Vec::new(),
    }
}

/// A connection that failed, rather than a chain that answered no.
fn is_transport(e: &SubtensorError) -> bool {
    matches!(
        e,
        SubtensorError::Connect { .. }
            | SubtensorError::Timeout { .. }
            | SubtensorError::Rpc { .. }
    )
}

/// A subtensor error in the nodes' terms: refusals keep the pallet error's name as their kind
/// where nodes act on it (`rate_limited`), everything else names the endpoint.
pub fn chain_error(url: &str, e: SubtensorError) -> ChainError {
    match &e {
        SubtensorError::Refused { error, .. } => {
            let kind = match error.as_str() {
                x if x.contains("SettingWeightsTooFast") => "rate_limited",
                x if x.contains("HotKeyNotRegisteredInSubNet") => "not_registered",
                x if x.contains("CommitmentSetRateLimitExceeded") => "commitment_rate_limited",
                _ => "refused",
            };
            ChainError::Refused {
                url: url.to_string(),
                kind: kind.to_string(),
                message: e.to_string(),
            }
        }
        _ => ChainError::Remote {
            url: url.to_string(),
            why: e.to_string(),
        },
    }
}

#[async_trait]
impl Chain for SubtensorChain {
    async fn chain_id(&self) -> Result<String, ChainError> {
        Ok(hex::encode(self.client().genesis_hash()))
    }

    async fn params(&self) -> Result<SubnetParams, ChainError> {
        let cached = self
            .params
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some((at, params)) = cached
            && at.elapsed() < PARAMS_FOR
        {
            return Ok(params);
        }
        let params = self.read_params().await?;
        *self.params.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((Instant::now(), params.clone()));
        Ok(params)
    }

    async fn head(&self) -> Result<Head, ChainError> {
        let block = self.read(|c| async move { c.block(None).await }).await?;
        Ok(Head {
            block: block.number,
            timestamp_ms: block.timestamp_ms,
        })
    }

    async fn metagraph(&self) -> Result<Metagraph, ChainError> {
        let head = self.head().await?;
        if let Some(graph) = self
            .metagraph
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .filter(|g| g.head == head)
        {
            return Ok(graph.clone());
        }
        let netuid = self.netuid;
        let mut neurons = self
            .read(|c| async move { c.neurons(netuid).await })
            .await?;
        // Spec 218 reports no alpha stake in the lite view; it is in `TotalHotkeyAlpha`.
        if neurons.iter().all(|n| n.stake == 0) {
            for n in &mut neurons {
                let hotkey = n.hotkey;
                n.stake = self
                    .read(|c| async move { c.alpha_stake(&hotkey, netuid).await })
                    .await?;
            }
        }
        let graph = Metagraph {
            netuid,
            head,
            neurons: neurons.iter().map(neuron).collect(),
        };
        *self.metagraph.lock().unwrap_or_else(|e| e.into_inner()) = Some(graph.clone());
        Ok(graph)
    }

    async fn commitment(&self, hotkey: &AccountId) -> Result<Option<Commitment>, ChainError> {
        let (netuid, hotkey) = (self.netuid, *hotkey);
        let found = self
            .read(|c| async move { c.commitment(netuid, &hotkey).await })
            .await?;
        Ok(found.map(|f| Commitment {
            hotkey,
            block: f.block,
            data: f.data,
        }))
    }

    async fn commitments(&self) -> Result<Vec<Commitment>, ChainError> {
        let mut all = Vec::new();
        for n in self.metagraph().await?.neurons {
            all.extend(self.commitment(&n.hotkey).await?);
        }
        Ok(all)
    }

    /// Subtensor keeps only the last epoch's results: they come back as one record, at the
    /// block the epoch ran (`LastMechansimStepBlock`, spelled as the runtime spells it).
    async fn epochs(&self, since_block: u64) -> Result<Vec<EpochRecord>, ChainError> {
        let netuid = self.netuid;
        let block = self
            .read(|c| async move {
                let key = vec![Value::u128(netuid.into())];
                let v = c
                    .storage_or_default(MODULE, "LastMechansimStepBlock", key)
                    .await?;
                value::number(&v)
            })
            .await? as u64;
        if block < since_block || block == 0 {
            return Ok(Vec::new());
        }
        let graph = self.metagraph().await?;
        let neurons = graph.neurons.iter().map(|n| EpochNeuron {
            uid: n.uid,
            hotkey: n.hotkey,
            stake: n.stake,
            trust: n.trust,
            validator_trust: n.validator_trust,
            consensus: n.consensus,
            incentive: n.incentive,
            dividends: n.dividends,
            emission: n.emission,
        });
        Ok(vec![EpochRecord {
            block,
            neurons: neurons.collect(),
        }])
    }

    async fn block_hash(&self, block: u64) -> Result<[u8; 32], ChainError> {
        let found = self
            .read(|c| async move { c.block(Some(block)).await })
            .await?;
        Ok(found.hash)
    }

    async fn register(&self, hotkey: &Keypair, _coldkey: AccountId) -> Result<Uid, ChainError> {
        let account = hotkey.account();
        match self.uid(&account).await? {
            Some(uid) => Ok(uid),
            None => Err(ChainError::Refused {
                url: self.endpoint.url.clone(),
                kind: "not_registered".into(),
                message: format!(
                    "hotkey {account} is not registered on subnet {}; register it with \
                     `gradient subnet register --netuid {} --wallet.name NAME --wallet.hotkey \
                     HOTKEY` (the coldkey pays the burn, shown before it asks)",
                    self.netuid, self.netuid
                ),
            }),
        }
    }

    async fn set_weights(
        &self,
        hotkey: &Keypair,
        uids: &[Uid],
        weights: &[f32],
        version_key: u64,
    ) -> Result<Receipt, ChainError> {
        let (uids, values) = weights_to_u16(uids, weights)?;
        let client = self.client();
        let url = self.endpoint.url.as_str();
        let sealed = self.commit_reveal_enabled().await?;
        if sealed {
            let weights: Vec<Weight> = uids
                .iter()
                .zip(&values)
                .map(|(&uid, &weight)| Weight { uid, weight })
                .collect();
            let entropy = os_randomness().map_err(|e| chain_error(url, e))?;
            client
                .commit_timelocked_weights(hotkey, self.netuid, &weights, version_key, entropy)
                .await
                .map_err(|e| chain_error(url, e))?;
        } else {
            client
                .set_weights(hotkey, self.netuid, &uids, &values, version_key)
                .await
                .map_err(|e| chain_error(url, e))?;
        }
        self.receipt(&hotkey.account()).await
    }

    async fn commit(&self, hotkey: &Keypair, data: &[u8]) -> Result<Receipt, ChainError> {
        if data.len() > MAX_COMMITMENT {
            return Err(ChainError::CommitmentTooLarge(data.len()));
        }
        self.client()
            .set_commitment(hotkey, self.netuid, data)
            .await
            .map_err(|e| chain_error(&self.endpoint.url, e))?;
        self.receipt(&hotkey.account()).await
    }
}
