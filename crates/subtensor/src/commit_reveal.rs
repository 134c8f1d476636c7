//! Commit-reveal of weights (`commit_timelocked_weights`): the weights are sealed to a drand
//! round with [`gradient_timelock`] and the chain opens them itself when that round's pulse
//! arrives; there is no reveal call.
//!
//! The pure parts are here so they can be checked offline: the plain text ([`WeightsPayload`],
//! subtensor's `WeightsTlockPayload` in SCALE), the round to seal to ([`RevealTiming`]), and
//! the call ([`commit_call`]) whose shape the node's metadata checks.

use std::sync::Arc;

use gradient_chain::Keypair;
use gradient_timelock::{PublicKey, Randomness, Round, encrypt};
use subxt::config::substrate::SpecVersionForRange;
use subxt::dynamic::{self, Value};
use subxt::ext::codec::{Compact, Encode};
use subxt::ext::scale_value::Composite;

use crate::client::Subtensor;
use crate::error::SubtensorError;
use crate::subnet::{MODULE, Weight};
use crate::value;

fn netuid_value(n: u16) -> Value {
    Value::u128(n.into())
}

/// Rounds the reveal is sealed ahead of the reveal epoch's first block, as the bittensor SDK
/// does: the chain stores drand pulses with a delay, and a commit whose round it has no pulse
/// for yet is revealed only later.
pub const PULSE_DELAY_ROUNDS: u64 = 24;

/// subtensor's `WeightsTlockPayload`: what a timelocked commit decrypts to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeightsPayload {
    /// The committing hotkey's public key.
    pub hotkey: [u8; 32],
    pub uids: Vec<u16>,
    pub values: Vec<u16>,
    pub version_key: u64,
}

impl WeightsPayload {
    /// SCALE: `hotkey: Vec<u8>`, `uids: Vec<u16>`, `values: Vec<u16>`, `version_key: u64`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(48 + 4 * self.uids.len());
        Compact(self.hotkey.len() as u32).encode_to(&mut out);
        out.extend_from_slice(&self.hotkey);
        self.uids.encode_to(&mut out);
        self.values.encode_to(&mut out);
        self.version_key.encode_to(&mut out);
        out
    }
}

/// Where the chain stands when a validator commits, to pick the round to seal to.
#[derive(Clone, Copy, Debug)]
pub struct RevealTiming {
    /// The head block's number and time (`Timestamp.Now`, in milliseconds).
    pub block: u64,
    pub now_ms: u64,
    pub netuid: u16,
    /// `Tempo`: an epoch is `tempo + 1` blocks.
    pub tempo: u64,
    /// `RevealPeriodEpochs`: the weights are revealed this many epochs after the commit's.
    pub reveal_period_epochs: u64,
    /// Milliseconds per block, from the runtime ([`block_ms`]; 12 000 on finney).
    pub block_ms: u64,
}

impl RevealTiming {
    /// The drand round for a commit made now: the round published [`PULSE_DELAY_ROUNDS`]
    /// before the first block of the reveal epoch. Subtensor's epochs for `netuid` end where
    /// `(block + netuid + 1) % (tempo + 1) == 0`.
    pub fn reveal_round(&self) -> Round {
        let epoch_len = self.tempo + 1;
        let offset = self.netuid as u64 + 1;
        let epoch = (self.block + offset) / epoch_len;
        let first_reveal_block = (epoch + self.reveal_period_epochs) * epoch_len - offset;
        let reveal_ms = self.now_ms + first_reveal_block.saturating_sub(self.block) * self.block_ms;
        let round = Round::at_or_after(reveal_ms.div_ceil(1000)).0;
        Round(round.saturating_sub(PULSE_DELAY_ROUNDS).max(1))
    }
}

/// Milliseconds per block in a runtime: twice `Timestamp.MinimumPeriod`, which Aura chains
/// set to half the slot (finney: 6 000, so 12 s blocks). Read from the runtime rather than
/// assumed, so that a fast-block local chain seals to the right round too.
pub fn block_ms(metadata: &subxt::Metadata) -> Result<u64, SubtensorError> {
    let bytes = metadata
        .pallet_by_name("Timestamp")
        .and_then(|p| p.constant_by_name("MinimumPeriod"))
        .ok_or_else(|| {
            SubtensorError::shape(
                "Timestamp.MinimumPeriod",
                "no such constant in this runtime",
            )
        })?
        .value();
    let period = <u64 as subxt::ext::codec::Decode>::decode(&mut &bytes[..])
        .map_err(|e| SubtensorError::shape("Timestamp.MinimumPeriod", e))?;
    match period.checked_mul(2) {
        Some(ms) if ms > 0 => Ok(ms),
        _ => Err(SubtensorError::shape(
            "Timestamp.MinimumPeriod",
            format!("{period} ms is no block time"),
        )),
    }
}

/// `SubtensorModule.commit_timelocked_weights(netuid, commit, reveal_round,
/// commit_reveal_version)`.
pub fn commit_call(
    netuid: u16,
    commit: &[u8],
    reveal_round: Round,
    version: u16,
) -> subxt::transactions::DynamicPayload<Composite<()>> {
    dynamic::tx(
        "SubtensorModule",
        "commit_timelocked_weights",
        Composite::named([
            ("netuid".to_string(), Value::u128(netuid.into())),
            ("commit".to_string(), Value::from_bytes(commit)),
            (
                "reveal_round".to_string(),
                Value::u128(reveal_round.0.into()),
            ),
            (
                "commit_reveal_version".to_string(),
                Value::u128(version.into()),
            ),
        ]),
    )
}

/// Fresh randomness for one encryption from the operating system's generator.
pub fn os_randomness() -> Result<Randomness, SubtensorError> {
    let mut r = Randomness {
        scalar: [0; 64],
        key: [0; 32],
        nonce: [0; 12],
    };
    for buf in [&mut r.scalar[..], &mut r.key[..], &mut r.nonce[..]] {
        getrandom::fill(buf)
            .map_err(|e| SubtensorError::Config(format!("no randomness from the system: {e}")))?;
    }
    Ok(r)
}

/// A call's bytes (pallet index, call index, arguments) against runtime metadata given as
/// bytes, with no node: to check a call's shape against another network's runtime.
pub fn call_data_offline(
    metadata: &[u8],
    call: &subxt::transactions::DynamicPayload<Composite<()>>,
) -> Result<Vec<u8>, SubtensorError> {
    let metadata = subxt::Metadata::decode_from(metadata)
        .map_err(|e| SubtensorError::shape("runtime metadata", e))?;
    let config = subxt::config::SubstrateConfig::builder()
        .set_metadata_for_spec_versions([(0, Arc::new(metadata))])
        .set_spec_version_for_block_ranges([SpecVersionForRange {
            block_range: 0..u64::MAX,
            spec_version: 0,
            transaction_version: 0,
        }])
        .build();
    let client = subxt::client::OfflineClient::new_with_config(config);
    let at = client
        .at_block(0u64)
        .map_err(|e| SubtensorError::shape("an offline client", e))?;
    at.tx()
        .call_data(call)
        .map_err(|e| SubtensorError::shape(call_name(call), e))
}

fn call_name(call: &subxt::transactions::DynamicPayload<Composite<()>>) -> String {
    format!("{}.{}", call.pallet_name(), call.call_name())
}

impl Subtensor {
    /// Milliseconds per block in the runtime the node runs ([`block_ms`]).
    pub async fn block_ms(&self) -> Result<u64, SubtensorError> {
        block_ms(&self.at(None).await?.metadata())
    }

    /// Whether `netuid` takes weights only through commit-reveal.
    pub async fn commit_reveal_enabled(&self, netuid: u16) -> Result<bool, SubtensorError> {
        let on = self
            .storage_or_default(
                MODULE,
                "CommitRevealWeightsEnabled",
                vec![netuid_value(netuid)],
            )
            .await?;
        value::boolean(&on)
    }

    /// Seals `uids`/`weights` to the drand round of `netuid`'s reveal epoch and commits them
    /// with `commit_timelocked_weights`; answers the round. `entropy` must come from the
    /// operating system's generator.
    pub async fn commit_timelocked_weights(
        &self,
        hotkey: &Keypair,
        netuid: u16,
        weights: &[Weight],
        version_key: u64,
        entropy: Randomness,
    ) -> Result<Round, SubtensorError> {
        if self
            .call_fields(MODULE, "commit_timelocked_weights")
            .await
            .is_err()
        {
            return Err(SubtensorError::Config(format!(
                "the runtime at {} (spec {}) has no timelocked weight commits: set weights with set_weights",
                self.url(),
                self.spec_version().await?
            )));
        }
        let number = |entry: &'static str| async move {
            let v = self
                .storage_or_default(MODULE, entry, vec![netuid_value(netuid)])
                .await?;
            value::number(&v)
        };
        let head = self.block(None).await?;
        let timing = RevealTiming {
            block: head.number,
            now_ms: head.timestamp_ms,
            netuid,
            tempo: number("Tempo").await? as u64,
            reveal_period_epochs: number("RevealPeriodEpochs").await? as u64,
            block_ms: self.block_ms().await?,
        };
        let version = value::number(
            &self
                .storage_or_default(MODULE, "CommitRevealWeightsVersion", vec![])
                .await?,
        )? as u16;
        let round = timing.reveal_round();
        let payload = WeightsPayload {
            hotkey: hotkey.account().0,
            uids: weights.iter().map(|w| w.uid).collect(),
            values: weights.iter().map(|w| w.weight).collect(),
            version_key,
        };
        let sealed = encrypt(&PublicKey::quicknet(), round, &payload.encode(), &entropy);
        let call = commit_call(netuid, &sealed.to_bytes(), round, version);
        let args = call.call_data().clone();
        self.submit(hotkey, MODULE, "commit_timelocked_weights", args)
            .await?;
        Ok(round)
    }
}
