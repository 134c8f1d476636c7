//! The `Chain` trait: a subnet's view of a chain, implemented by the embedded SQLite chain and
//! by its HTTP client, and later by subtensor.

use crate::call::{Call, SignedCall, weights_to_u16};
use crate::error::ChainError;
use crate::keys::{AccountId, Keypair};
use crate::types::{Commitment, EpochRecord, Head, Metagraph, Receipt, SubnetParams, Uid};

pub trait Chain: Send + Sync {
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
