use std::path::PathBuf;

/// Everything that can go wrong building, training, saving or loading a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("unknown model preset `{name}`; choose one of tiny, small, 150m, 1b")]
    UnknownPreset { name: String },

    #[error("invalid model config: {why}")]
    InvalidConfig { why: String },

    #[error("device `{spec}`: {why}")]
    Device { spec: String, why: String },

    #[error("parameter `{name}`: {why}")]
    Param { name: String, why: String },

    #[error("batch: {why}")]
    Batch { why: String },

    #[error(
        "training diverged at step {step}: {why}; lower the learning rate or resume from the last checkpoint"
    )]
    Diverged { step: u64, why: String },

    #[error("checkpoint {}: {why}", path.display())]
    Checkpoint { path: PathBuf, why: String },

    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl ModelError {
    pub(crate) fn checkpoint(path: impl Into<PathBuf>, why: impl Into<String>) -> Self {
        Self::Checkpoint {
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
