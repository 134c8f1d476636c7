/// Why encoding or decoding failed. Decoding errors say what in the input was wrong.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("codec settings: {why}")]
    Settings { why: String },

    #[error("delta does not match the model: {why}")]
    Shape { why: String },

    #[error("malformed delta: {why}")]
    Malformed { why: String },
}

pub(crate) fn malformed(why: impl Into<String>) -> CodecError {
    CodecError::Malformed { why: why.into() }
}
