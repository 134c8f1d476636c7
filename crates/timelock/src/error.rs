use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum TimelockError {
    /// Bytes that are not a timelock ciphertext, key or signature of the expected shape.
    #[error("malformed timelock {what}: {why}")]
    Malformed { what: &'static str, why: String },
    /// The signature does not open this ciphertext: it is for another round, or not drand's.
    #[error(
        "the signature does not open this ciphertext: it was encrypted for another round, or the signature is not that round's"
    )]
    WrongRound,
    /// The key opened the header but the body failed its authentication tag.
    #[error("the ciphertext's body failed AES-GCM authentication: it was altered")]
    Tampered,
}

pub(crate) fn malformed(what: &'static str, why: impl Into<String>) -> TimelockError {
    TimelockError::Malformed {
        what,
        why: why.into(),
    }
}
