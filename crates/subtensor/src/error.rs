use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SubtensorError {
    #[error("{0}")]
    Config(String),
    #[error("cannot reach subtensor at {url}: {why}; check the endpoint, or that the node is up")]
    Connect { url: String, why: String },
    #[error("subtensor did not answer {what} within {after:?}; the connection may be down")]
    Timeout { what: String, after: Duration },
    #[error("subtensor {what}: {why}")]
    Rpc { what: String, why: String },
    /// The chain ran the call and refused it; `error` is the pallet's error by name.
    #[error("{call} was refused by the chain: {error}{hint}")]
    Refused {
        call: String,
        error: String,
        hint: String,
    },
    #[error("{call} was not included in a finalized block within {after:?}")]
    NotIncluded { call: String, after: Duration },
    #[error("the chain's {what} is not what this client reads: {why}")]
    Shape { what: String, why: String },
    #[error("{0}")]
    Invalid(String),
}

impl SubtensorError {
    pub fn rpc(what: impl Into<String>, why: impl std::fmt::Display) -> SubtensorError {
        SubtensorError::Rpc {
            what: what.into(),
            why: why.to_string(),
        }
    }

    pub fn shape(what: impl Into<String>, why: impl std::fmt::Display) -> SubtensorError {
        SubtensorError::Shape {
            what: what.into(),
            why: why.to_string(),
        }
    }

    /// The pallet error's name, when the chain refused a call.
    pub fn pallet_error(&self) -> Option<&str> {
        match self {
            SubtensorError::Refused { error, .. } => Some(error),
            _ => None,
        }
    }
}
