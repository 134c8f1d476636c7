//! The `Chain` trait: a subnet's view of a chain, as the nodes use it. It is async because a
//! real chain is remote (subtensor over a websocket); the embedded SQLite chain and its HTTP
//! client implement it through [`EmbeddedChain`], their blocking interface with the embedded
//! chain's own nonces and signed calls, which no other chain shares.

use async_trait::async_trait;

use crate::call::{Call, SignedCall, weights_to_u16};
use crate::error::ChainError;
use crate::keys::{AccountId, Keypair};
use crate::types::{Commitment, EpochRecord, Head, Metagraph, Receipt, SubnetParams, Uid};

/// What a node reads from and writes to the chain. Every implementation bounds each call in
/// time; none blocks the async runtime's worker it is called on.
#[async_trait]
pub trait Chain: Send + Sync {
    /// A stable id for this chain (its genesis hash).
    async fn chain_id(&self) -> Result<String, ChainError>;
    async fn params(&self) -> Result<SubnetParams, ChainError>;
    /// The newest block and its timestamp as the chain recorded it.
    async fn head(&self) -> Result<Head, ChainError>;
    async fn metagraph(&self) -> Result<Metagraph, ChainError>;
    async fn commitment(&self, hotkey: &AccountId) -> Result<Option<Commitment>, ChainError>;
    /// The commitments of every registered hotkey.
    async fn commitments(&self) -> Result<Vec<Commitment>, ChainError>;
    /// Epochs run at a block at or after `since_block`, oldest first (a chain that keeps only
    /// the last epoch's results answers that one).
    async fn epochs(&self, since_block: u64) -> Result<Vec<EpochRecord>, ChainError>;
    /// The hash of a block already produced: randomness nobody knew before that block, such as
    /// the seed of a window's evaluation pages.
    async fn block_hash(&self, block: u64) -> Result<[u8; 32], ChainError>;
    /// The uid of `hotkey`. The embedded chain registers it under `coldkey` if it is not yet;
    /// a chain where registering costs the coldkey (subtensor) answers
    /// [`ChainError::NotRegistered`] with the command that registers it.
    async fn register(&self, hotkey: &Keypair, coldkey: AccountId) -> Result<Uid, ChainError>;
    /// Sets weights from floats, which are checked and scaled to u16 first.
    async fn set_weights(
        &self,
        hotkey: &Keypair,
        uids: &[Uid],
        weights: &[f32],
        version_key: u64,
    ) -> Result<Receipt, ChainError>;
    /// Publishes `data` (at most [`crate::MAX_COMMITMENT`] bytes) as `hotkey`'s commitment.
    async fn commit(&self, hotkey: &Keypair, data: &[u8]) -> Result<Receipt, ChainError>;
}

/// The embedded chain's blocking interface: its reads, its nonces and its [`SignedCall`]s.
/// [`crate::LocalChain`] (the SQLite file) and [`crate::RemoteChain`] (the same over HTTP)
/// implement it, and [`Chain`] through it.
pub trait EmbeddedChain: Send + Sync {
    /// A stable id for this chain (its genesis hash); signed calls name it.
    fn chain_id(&self) -> Result<String, ChainError>;
    fn params(&self) -> Result<SubnetParams, ChainError>;
    fn head(&self) -> Result<Head, ChainError>;
    fn metagraph(&self) -> Result<Metagraph, ChainError>;
    fn commitment(&self, hotkey: &AccountId) -> Result<Option<Commitment>, ChainError>;
    /// The commitments of every registered hotkey.
    fn commitments(&self) -> Result<Vec<Commitment>, ChainError>;
    /// Epochs run at a block at or after `since_block`, oldest first.
    fn epochs(&self, since_block: u64) -> Result<Vec<EpochRecord>, ChainError>;
    /// The hash of a block already produced: randomness nobody knew before that block, such as
    /// the seed of a window's evaluation pages.
    fn block_hash(&self, block: u64) -> Result<[u8; 32], ChainError>;
    /// The last nonce `hotkey` used (0 if none).
    fn nonce(&self, hotkey: &AccountId) -> Result<u64, ChainError>;
    /// Applies a signed call, or refuses it and changes nothing.
    fn submit(&self, call: &SignedCall) -> Result<Receipt, ChainError>;

    /// Signs `call` with the next nonce and submits it. A concurrent call by the same hotkey
    /// can take the nonce first; that is retried a few times.
    fn sign_and_submit(&self, signer: &Keypair, call: Call) -> Result<Receipt, ChainError> {
        let chain = self.chain_id()?;
        let mut attempt = 0;
        loop {
            let nonce = self.nonce(&signer.account())? + 1;
            let signed = SignedCall::sign(signer, &chain, nonce, call.clone());
            match self.submit(&signed) {
                Err(e) if e.is_replay() && attempt < 4 => attempt += 1,
                other => return other,
            }
        }
    }

    /// Registers `hotkey` under `coldkey` unless it already is, and answers its uid.
    fn register(&self, hotkey: &Keypair, coldkey: AccountId) -> Result<Uid, ChainError> {
        if let Some(uid) = self.metagraph()?.uid_of(&hotkey.account()) {
            return Ok(uid);
        }
        let receipt = self.sign_and_submit(hotkey, Call::Register { coldkey })?;
        receipt
            .uid
            .ok_or_else(|| ChainError::Invalid("registration answered no uid".into()))
    }

    /// Sets weights from floats, which are checked and scaled to u16 first.
    fn set_weights(
        &self,
        hotkey: &Keypair,
        uids: &[Uid],
        weights: &[f32],
        version_key: u64,
    ) -> Result<Receipt, ChainError> {
        let (uids, weights) = weights_to_u16(uids, weights)?;
        self.sign_and_submit(
            hotkey,
            Call::SetWeights {
                uids,
                weights,
                version_key,
            },
        )
    }

    fn commit(&self, hotkey: &Keypair, data: &[u8]) -> Result<Receipt, ChainError> {
        self.sign_and_submit(
            hotkey,
            Call::Commit {
                data: data.to_vec(),
            },
        )
    }
}

/// Opens the chain a command line names: `http://HOST:PORT` (a `gradient chain serve`) or the
/// path of an embedded chain's SQLite file (optionally written `sqlite://PATH`).
pub fn connect(spec: &str) -> Result<Box<dyn Chain>, ChainError> {
    if spec.starts_with("http://") || spec.starts_with("https://") {
        return Ok(Box::new(crate::http::RemoteChain::connect(spec)?));
    }
    let path = spec.strip_prefix("sqlite://").unwrap_or(spec);
    Ok(Box::new(crate::local::LocalChain::open(path.as_ref())?))
}

/// [`connect`] for callers outside an async runtime (the `gradient chain` commands).
pub fn connect_embedded(spec: &str) -> Result<Box<dyn EmbeddedChain>, ChainError> {
    if spec.starts_with("http://") || spec.starts_with("https://") {
        return Ok(Box::new(crate::http::RemoteChain::connect(spec)?));
    }
    let path = spec.strip_prefix("sqlite://").unwrap_or(spec);
    Ok(Box::new(crate::local::LocalChain::open(path.as_ref())?))
}

/// Runs a blocking call of the embedded chain (SQLite, a blocking HTTP request) without
/// stalling other tasks: on a multi-thread runtime the worker hands its other tasks on while
/// it waits; elsewhere (a current-thread test runtime, no runtime) it runs in place.
pub(crate) fn blocking<T>(call: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(call)
        }
        _ => call(),
    }
}

/// [`Chain`] for an [`EmbeddedChain`], each call through [`blocking`].
macro_rules! embedded_chain {
    ($type:ty) => {
        #[async_trait::async_trait]
        impl $crate::chain::Chain for $type {
            async fn chain_id(&self) -> Result<String, ChainError> {
                blocking(|| EmbeddedChain::chain_id(self))
            }
            async fn params(&self) -> Result<SubnetParams, ChainError> {
                blocking(|| EmbeddedChain::params(self))
            }
            async fn head(&self) -> Result<Head, ChainError> {
                blocking(|| EmbeddedChain::head(self))
            }
            async fn metagraph(&self) -> Result<Metagraph, ChainError> {
                blocking(|| EmbeddedChain::metagraph(self))
            }
            async fn commitment(
                &self,
                hotkey: &AccountId,
            ) -> Result<Option<Commitment>, ChainError> {
                blocking(|| EmbeddedChain::commitment(self, hotkey))
            }
            async fn commitments(&self) -> Result<Vec<Commitment>, ChainError> {
                blocking(|| EmbeddedChain::commitments(self))
            }
            async fn epochs(&self, since_block: u64) -> Result<Vec<EpochRecord>, ChainError> {
                blocking(|| EmbeddedChain::epochs(self, since_block))
            }
            async fn block_hash(&self, block: u64) -> Result<[u8; 32], ChainError> {
                blocking(|| EmbeddedChain::block_hash(self, block))
            }
            async fn register(
                &self,
                hotkey: &Keypair,
                coldkey: AccountId,
            ) -> Result<Uid, ChainError> {
                blocking(|| EmbeddedChain::register(self, hotkey, coldkey))
            }
            async fn set_weights(
                &self,
                hotkey: &Keypair,
                uids: &[Uid],
                weights: &[f32],
                version_key: u64,
            ) -> Result<Receipt, ChainError> {
                blocking(|| EmbeddedChain::set_weights(self, hotkey, uids, weights, version_key))
            }
            async fn commit(&self, hotkey: &Keypair, data: &[u8]) -> Result<Receipt, ChainError> {
                blocking(|| EmbeddedChain::commit(self, hotkey, data))
            }
        }
    };
}

embedded_chain!(crate::local::LocalChain);
embedded_chain!(crate::http::RemoteChain);
