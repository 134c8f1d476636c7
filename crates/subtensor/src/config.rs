//! [`ChainConfig`]: subxt's [`SubstrateConfig`] told each block's runtime version before subxt
//! works at that block.
//!
//! Left to itself, subxt learns a block's version by running the runtime's `Core_version` at
//! every block it is asked about. Nodes ask about the head several times a second; under
//! chopsticks a runtime call costs about 100 ms of its one thread, and the nodes' calls
//! starved block production (a block every 30 s instead of every second, in the subtensor
//! devnet test). `state_getRuntimeVersion` answers the same from the node's cache (1 ms
//! under chopsticks; a real node caches it per runtime too), and [`crate::Subtensor`] asks it
//! once per new head block and hands the answer over here.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use subxt::config::substrate::{DynamicHasher256, SubstrateExtrinsicParams, SubstrateHeader};
use subxt::config::{Config, HashFor, Hasher, SubstrateConfig};
use subxt::metadata::ArcMetadata;
use subxt::utils::{AccountId32, MultiAddress, MultiSignature};

/// How many blocks below the newest one a remembered version is kept: enough for the reads
/// of a few blocks back that nodes make (the block time over 32 blocks).
const KEEP_BLOCKS: u64 = 256;

/// A block's runtime version: which metadata reads it, which version its transactions sign.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuntimeVersion {
    pub spec_version: u32,
    pub transaction_version: u32,
}

/// [`SubstrateConfig`] plus the runtime versions of the blocks [`ChainConfig::remember`] was
/// told about; blocks it was not told about go to the runtime as before.
#[derive(Clone, Debug, Default)]
pub struct ChainConfig {
    base: SubstrateConfig,
    versions: Arc<RwLock<BTreeMap<u64, RuntimeVersion>>>,
}

impl ChainConfig {
    /// Block `number` (finalized, so one block per number) runs `version`.
    pub fn remember(&self, number: u64, version: RuntimeVersion) {
        let mut versions = self.versions.write().unwrap_or_else(|e| e.into_inner());
        versions.insert(number, version);
        let newest = versions.keys().next_back().copied().unwrap_or(number);
        versions.retain(|&n, _| n + KEEP_BLOCKS >= newest);
    }

    pub fn known(&self, number: u64) -> Option<RuntimeVersion> {
        self.versions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&number)
            .copied()
    }
}

impl Config for ChainConfig {
    type AccountId = AccountId32;
    type Address = MultiAddress<Self::AccountId, u32>;
    type Signature = MultiSignature;
    type Hasher = DynamicHasher256;
    type Header = SubstrateHeader<<Self::Hasher as Hasher>::Hash>;
    type TransactionExtensions = SubstrateExtrinsicParams<Self>;
    type AssetId = u32;

    fn spec_and_transaction_version_for_block_number(
        &self,
        block_number: u64,
    ) -> Option<(u32, u32)> {
        self.known(block_number)
            .map(|v| (v.spec_version, v.transaction_version))
            .or_else(|| {
                self.base
                    .spec_and_transaction_version_for_block_number(block_number)
            })
    }

    fn metadata_for_spec_version(&self, spec_version: u32) -> Option<ArcMetadata> {
        self.base.metadata_for_spec_version(spec_version)
    }

    fn set_metadata_for_spec_version(&self, spec_version: u32, metadata: ArcMetadata) {
        self.base
            .set_metadata_for_spec_version(spec_version, metadata)
    }

    fn genesis_hash(&self) -> Option<HashFor<Self>> {
        self.base.genesis_hash()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_told_per_block_and_old_ones_forgotten() {
        let config = ChainConfig::default();
        let v218 = RuntimeVersion {
            spec_version: 218,
            transaction_version: 1,
        };
        let v233 = RuntimeVersion {
            spec_version: 233,
            transaction_version: 2,
        };
        assert_eq!(
            config.spec_and_transaction_version_for_block_number(5),
            None
        );
        config.remember(5, v218);
        config.remember(6, v233);
        // A block it was not told about is left to the runtime, even between two it knows.
        assert_eq!(
            config.spec_and_transaction_version_for_block_number(4),
            None
        );
        assert_eq!(
            config.spec_and_transaction_version_for_block_number(5),
            Some((218, 1))
        );
        assert_eq!(
            config.spec_and_transaction_version_for_block_number(6),
            Some((233, 2))
        );
        config.remember(6 + KEEP_BLOCKS, v233);
        assert_eq!(config.known(5), None);
        assert_eq!(config.known(6), Some(v233));
        // Clones share what they were told: the client holds one, the connection another.
        let clone = config.clone();
        clone.remember(7, v218);
        assert_eq!(config.known(7), Some(v218));
    }
}
