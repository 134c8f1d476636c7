//! What a chain holds for one subnet, shaped like subtensor's storage: parameters, neurons,
//! weights, bonds, commitments and the results of each epoch.

use serde::{Deserialize, Serialize};

use crate::keys::AccountId;

/// A neuron's position on the subnet.
pub type Uid = u16;

/// The newest block and when it was produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub block: u64,
    /// Unix time of the block in milliseconds: the clock validators judge deadlines by.
    pub timestamp_ms: u64,
}

/// A subnet's hyperparameters, fixed when the embedded chain is created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubnetParams {
    pub netuid: u16,
    /// Unix time of block 0 in milliseconds.
    pub genesis_ms: u64,
    pub block_time_ms: u64,
    /// Blocks between epochs (subtensor: 360).
    pub tempo: u64,
    pub max_uids: u16,
    pub max_allowed_validators: u16,
    /// Blocks after registration during which a neuron cannot be replaced (subtensor: 4096).
    pub immunity_period: u64,
    /// Blocks between two `set_weights` of one hotkey (subtensor: 100).
    pub weights_rate_limit: u64,
    /// The smallest version key `set_weights` accepts.
    pub weights_version_key: u64,
    /// A validator whose weights are older than this many blocks is inactive (subtensor: 5000).
    pub activity_cutoff: u64,
    /// Consensus quantile, as a u16 fraction (subtensor: 32767, about 0.5).
    pub kappa: u16,
    /// Bonds penalty, as a u16 fraction (subtensor: 65535 = 1.0).
    pub bonds_penalty: u16,
    /// Bonds moving average in millionths (subtensor: 900000, so each epoch adds 10% new bonds).
    pub bonds_moving_average: u64,
    /// Emission per block in rao (1 TAO = 1e9 rao).
    pub emission_per_block: u64,
    /// The subnet owner's share of emission, as a u16 fraction (subtensor: 11796, 18%).
    pub owner_cut: u16,
}

impl SubnetParams {
    /// Subtensor's defaults at its 12 s block time.
    pub fn bittensor(genesis_ms: u64) -> Self {
        SubnetParams {
            netuid: 1,
            genesis_ms,
            block_time_ms: 12_000,
            tempo: 360,
            max_uids: 256,
            max_allowed_validators: 64,
            immunity_period: 4096,
            weights_rate_limit: 100,
            weights_version_key: 0,
            activity_cutoff: 5000,
            kappa: 32767,
            bonds_penalty: 65535,
            bonds_moving_average: 900_000,
            emission_per_block: 1_000_000_000,
            owner_cut: 11796,
        }
    }

    /// Short blocks and epochs for a devnet on one machine.
    pub fn devnet(genesis_ms: u64) -> Self {
        SubnetParams {
            block_time_ms: 1000,
            tempo: 10,
            immunity_period: 100,
            weights_rate_limit: 5,
            activity_cutoff: 1000,
            ..Self::bittensor(genesis_ms)
        }
    }

    pub fn check(&self) -> Result<(), String> {
        if self.block_time_ms == 0 {
            return Err("block_time_ms must be positive".into());
        }
        if self.tempo == 0 {
            return Err("tempo must be positive".into());
        }
        if self.max_uids == 0 {
            return Err("max_uids must be positive".into());
        }
        if self.bonds_moving_average > 1_000_000 {
            return Err("bonds_moving_average is in millionths, at most 1000000".into());
        }
        Ok(())
    }

    /// The block produced at `now_ms` (block 0 before genesis).
    pub fn block_at(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.genesis_ms) / self.block_time_ms
    }

    pub fn timestamp_of(&self, block: u64) -> u64 {
        self.genesis_ms + block * self.block_time_ms
    }
}

/// One neuron as the metagraph shows it. Fractions are u16 (65535 = 1.0) as on chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Neuron {
    pub uid: Uid,
    pub hotkey: AccountId,
    pub coldkey: AccountId,
    /// Stake in rao.
    pub stake: u64,
    pub validator_permit: bool,
    pub last_update: u64,
    pub registered_at: u64,
    /// The share of this neuron's stake-weighted support that survived clipping to consensus.
    pub trust: u16,
    pub validator_trust: u16,
    pub consensus: u16,
    pub incentive: u16,
    pub dividends: u16,
    /// Rao emitted to this neuron at the last epoch.
    pub emission: u64,
    /// Rao emitted to this neuron since it registered.
    pub total_emission: u64,
    /// The neuron's weights row, sparse.
    pub weights: Vec<(Uid, u16)>,
    /// The neuron's bonds row, sparse.
    pub bonds: Vec<(Uid, u16)>,
}

impl Neuron {
    /// Whether this neuron acts as a validator: permitted, and with stake. Subtensor hands
    /// permits to the top stakes up to `max_allowed_validators` (64), so on a small subnet
    /// miners hold permits too (spec 218 hands one to every neuron); a permit alone does not
    /// make a validator.
    pub fn is_validator(&self) -> bool {
        self.validator_permit && self.stake > 0
    }
}

/// Every neuron of the subnet at one block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metagraph {
    pub netuid: u16,
    pub head: Head,
    pub neurons: Vec<Neuron>,
}

impl Metagraph {
    pub fn uid_of(&self, hotkey: &AccountId) -> Option<Uid> {
        self.neurons
            .iter()
            .find(|n| &n.hotkey == hotkey)
            .map(|n| n.uid)
    }

    pub fn neuron(&self, uid: Uid) -> Option<&Neuron> {
        self.neurons.iter().find(|n| n.uid == uid)
    }
}

/// Raw bytes a hotkey published on chain (a bucket location, say), and the block it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commitment {
    pub hotkey: AccountId,
    pub block: u64,
    #[serde(with = "hex_bytes")]
    pub data: Vec<u8>,
}

/// The most bytes one commitment holds, as subtensor's Raw field.
pub const MAX_COMMITMENT: usize = 128;

/// What one epoch gave one neuron.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochNeuron {
    pub uid: Uid,
    pub hotkey: AccountId,
    pub stake: u64,
    /// The share of this neuron's stake-weighted support that survived clipping to consensus.
    pub trust: u16,
    pub validator_trust: u16,
    pub consensus: u16,
    pub incentive: u16,
    pub dividends: u16,
    pub emission: u64,
}

/// The results of one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub block: u64,
    pub neurons: Vec<EpochNeuron>,
}

/// What the chain answers to an accepted call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub block: u64,
    /// The caller's uid after the call.
    pub uid: Option<Uid>,
}

pub(crate) mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        hex::decode(text).map_err(serde::de::Error::custom)
    }
}
