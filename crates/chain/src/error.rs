//! Errors: what went wrong, with the file, key or call it concerns, and what to do.

use std::path::PathBuf;

/// A call the chain refused, or a chain it could not reach. Refusals leave state unchanged.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("hotkey {0} is not registered on this subnet; run the node once to register it")]
    NotRegistered(String),
    #[error("hotkey {0} has no validator permit (permits go to the top stakes at each epoch)")]
    NoPermit(String),
    #[error("weights rejected: {0}")]
    InvalidWeights(String),
    #[error(
        "weights rate limited: {hotkey} last set weights at block {last}, next allowed at block {next}"
    )]
    RateLimited {
        hotkey: String,
        last: u64,
        next: u64,
    },
    #[error("weights version key {got} is older than the subnet's {need}; update the validator")]
    Version { got: u64, need: u64 },
    #[error("commitment of {0} bytes is over the 128-byte limit")]
    CommitmentTooLarge(usize),
    #[error(
        "subnet full: all {0} neurons are inside their immunity period; try again after block {1}"
    )]
    SubnetFull(usize, u64),
    #[error("bad signature on a call from {0}")]
    BadSignature(String),
    #[error("replayed call from {hotkey}: nonce {nonce} is not above the last used {last}")]
    Replay {
        hotkey: String,
        nonce: u64,
        last: u64,
    },
    #[error("call is for chain {got}, this chain is {want}")]
    WrongChain { got: String, want: String },
    #[error("malformed call: {0}")]
    Malformed(String),
    #[error("{0}")]
    Invalid(String),
    #[error("chain database {path}: {source}")]
    Db {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("chain at {url}: {why}")]
    Remote { url: String, why: String },
    #[error("chain at {url} refused the call: {message}")]
    Refused {
        url: String,
        /// A stable name for the refusal, such as `rate_limited` or `replay`.
        kind: String,
        message: String,
    },
}

impl ChainError {
    /// A nonce already used, locally or as a remote chain reports it.
    pub fn is_replay(&self) -> bool {
        match self {
            ChainError::Replay { .. } => true,
            ChainError::Refused { kind, .. } => kind == "replay",
            _ => false,
        }
    }

    /// Refused for the weights rate limit, locally or remotely.
    pub fn is_rate_limited(&self) -> bool {
        match self {
            ChainError::RateLimited { .. } => true,
            ChainError::Refused { kind, .. } => kind == "rate_limited",
            _ => false,
        }
    }
}
