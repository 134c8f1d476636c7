//! Node errors: what failed, on which window or object, and what to do.

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Model(#[from] gradient_model::ModelError),
    #[error(transparent)]
    Data(#[from] gradient_data::DataError),
    #[error(transparent)]
    Codec(#[from] gradient_codec::CodecError),
    #[error(transparent)]
    Store(#[from] gradient_store::StoreError),
    #[error(transparent)]
    Chain(#[from] gradient_chain::ChainError),
    #[error(transparent)]
    Protocol(#[from] gradient_protocol::ProtocolError),
    #[error("{0}")]
    Invalid(String),
}
