//! A batch of token sequences: `batch_size` rows of `seq_len + 1` tokens, the last token of
//! each row being only a target.

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::config::ModelConfig;
use crate::error::ModelError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    tokens: Vec<u32>,
    batch_size: usize,
    seq_len: usize,
}

impl Batch {
    /// `tokens` holds `batch_size` rows of `seq_len + 1` token ids each.
    pub fn new(tokens: Vec<u32>, batch_size: usize, seq_len: usize) -> Result<Self, ModelError> {
        let bad = |why: String| Err(ModelError::Batch { why });
        if batch_size == 0 || seq_len == 0 {
            return bad(format!(
                "batch_size {batch_size} and seq_len {seq_len} must be positive"
            ));
        }
        if tokens.len() != batch_size * (seq_len + 1) {
            return bad(format!(
                "{} tokens given; {batch_size} rows of seq_len + 1 = {} need {}",
                tokens.len(),
                seq_len + 1,
                batch_size * (seq_len + 1)
            ));
        }
        Ok(Self {
            tokens,
            batch_size,
            seq_len,
        })
    }

    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    pub fn seq_len(&self) -> usize {
        self.seq_len
    }

    /// Tokens that are predicted: `batch_size * seq_len`.
    pub fn num_targets(&self) -> usize {
        self.batch_size * self.seq_len
    }

    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    /// Checks the batch fits the model: sequence length and every token id.
    pub fn check(&self, config: &ModelConfig) -> Result<(), ModelError> {
        if self.seq_len > config.context_length {
            return Err(ModelError::Batch {
                why: format!(
                    "seq_len {} exceeds the model's context length {}",
                    self.seq_len, config.context_length
                ),
            });
        }
        if let Some(&bad) = self
            .tokens
            .iter()
            .find(|&&t| t as usize >= config.vocab_size)
        {
            return Err(ModelError::Batch {
                why: format!(
                    "token id {bad} is outside the model's vocabulary of {}",
                    config.vocab_size
                ),
            });
        }
        Ok(())
    }

    /// The input tokens `[batch, seq]` on `device`.
    pub(crate) fn inputs(&self, device: &Device) -> Tensor<2, Int> {
        let inputs: Vec<i32> = self
            .tokens
            .chunks_exact(self.seq_len + 1)
            .flat_map(|r| r[..self.seq_len].iter().map(|&t| t as i32))
            .collect();
        Tensor::from_data(
            TensorData::new(inputs, [self.batch_size, self.seq_len]),
            device,
        )
    }

    /// The target of every input position, row by row: `batch * seq` ids.
    pub(crate) fn targets(&self) -> Vec<u32> {
        self.tokens
            .chunks_exact(self.seq_len + 1)
            .flat_map(|r| r[1..].iter().copied())
            .collect()
    }
}
