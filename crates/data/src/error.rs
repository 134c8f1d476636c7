use std::path::PathBuf;

/// Everything that can go wrong reading, tokenizing, sharding or paging data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("tokenizer: {why}")]
    Tokenizer { why: String },

    #[error("{}: {why}", path.display())]
    Shard { path: PathBuf, why: String },

    #[error("{}: {why}", path.display())]
    Input { path: PathBuf, why: String },

    #[error("pages: {why}")]
    Pages { why: String },

    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl DataError {
    pub(crate) fn shard(path: impl Into<PathBuf>, why: impl Into<String>) -> Self {
        Self::Shard {
            path: path.into(),
            why: why.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
