//! Storage errors: each names the object or bucket and says what to do.

/// A problem with an envelope's bytes, found before its payload is parsed.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("truncated: {got} bytes where {need} were signed for")]
    Truncated { got: u64, need: u64 },
    #[error("not a Gradient envelope (bad magic)")]
    NotAnEnvelope,
    #[error("envelope format version {0} is not supported; upgrade gradient")]
    Version(u16),
    #[error("malformed envelope: {0}")]
    Malformed(String),
    #[error("signature does not verify for the signer it names ({0})")]
    BadSignature(String),
    #[error("{what} is {got}, expected {want}")]
    Mismatch {
        what: String,
        want: String,
        got: String,
    },
    #[error("payload does not match its signed blake3 (tampered or corrupt)")]
    PayloadHash,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid store location {url:?}: {why}")]
    Location { url: String, why: String },
    #[error("{url}: {why}")]
    Config { url: String, why: String },
    #[error("{key}: not found in {store}")]
    NotFound { store: String, key: String },
    #[error("{key} in {store}: {size} bytes is over the limit of {cap}; not downloaded")]
    TooLarge {
        store: String,
        key: String,
        size: u64,
        cap: u64,
    },
    #[error("{key} in {store}: {source}")]
    Envelope {
        store: String,
        key: String,
        source: EnvelopeError,
    },
    #[error("{key} in {store}: already exists (objects are written once)")]
    AlreadyExists { store: String, key: String },
    #[error(
        "{key} in {store} already holds something other than what is published now (another \
         version, or other inputs); it is left as it is"
    )]
    Conflict { store: String, key: String },
    #[error("bucket {bucket} at {endpoint}: {why}")]
    Auth {
        bucket: String,
        endpoint: String,
        why: String,
    },
    #[error("{key} in {store}: {op} timed out after {secs} s")]
    Timeout {
        store: String,
        key: String,
        op: &'static str,
        secs: u64,
    },
    #[error("{key} in {store}: {op} failed: {source}")]
    Backend {
        store: String,
        key: String,
        op: &'static str,
        source: Box<object_store::Error>,
    },
    #[error("invalid commitment: {0}")]
    Commitment(String),
}
