#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("invalid run config: {0}")]
    Config(String),
    #[error("deltas differ in length: {0} and {1}")]
    Shape(usize, usize),
}
